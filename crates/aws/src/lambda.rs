//! The Lambda runtime glue every function binary shares.
//!
//! `lambda_runtime` deserializes the payload into the handler's event type
//! before the handler runs, and reports its own error type when that fails.
//! To answer every bad payload with `InvalidEvent`, [`RawPayloadLayer`] turns
//! the raw body into a JSON string before that step, so the handler always
//! receives the payload text and parses it itself.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Instant, SystemTime};

use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{Diagnostic, LambdaEvent, LambdaInvocation, Runtime, service_fn};
use responder_core::{Function, Report};

use crate::playbook::Playbook;
use crate::responder::{HandlerError, Responder};

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        Diagnostic { error_type: e.error_type.to_owned(), error_message: e.message }
    }
}

/// Wraps the raw invocation body into a JSON string literal.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawPayloadLayer;

impl<S> Layer<S> for RawPayloadLayer {
    type Service = RawPayload<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RawPayload { inner }
    }
}

#[derive(Debug, Clone)]
pub struct RawPayload<S> {
    inner: S,
}

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for RawPayload<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        let text = String::from_utf8_lossy(&invocation.body);
        // Serializing a string cannot fail; an empty body stays an empty string.
        let wrapped = serde_json::to_vec(&text).unwrap_or_else(|_| b"\"\"".to_vec());
        invocation.body = wrapped.into();
        self.inner.call(invocation)
    }
}

pub fn deadline_of(event: &LambdaEvent<String>) -> Option<Instant> {
    let left = event.context.deadline().duration_since(SystemTime::now()).ok()?;
    Some(Instant::now() + left)
}

/// Runs `playbook`'s function as a Lambda function until the runtime stops it.
pub async fn serve<P: Playbook>(playbook: P) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let function = P::FUNCTION;
    let responder = match Responder::from_env(playbook).await {
        Ok(r) if function == Function::NotifyFinding && r.settings.notify_topic_arn.is_none() => {
            let message = "setting NOTIFY_TOPIC_ARN: notify-finding needs a topic to alert";
            tracing::error!(error = message, "start-up failed");
            return Err(message.into());
        }
        Ok(r) => Arc::new(r),
        Err(e) => {
            tracing::error!(error = %e, "start-up failed");
            return Err(e.into());
        }
    };
    tracing::info!(
        function = %function,
        dry_run = responder.settings.policy.dry_run,
        "ready"
    );
    let handler = service_fn(move |event: LambdaEvent<String>| {
        let responder = responder.clone();
        async move {
            let deadline = deadline_of(&event);
            responder.learn_account_from(&event.context.invoked_function_arn);
            let started = Instant::now();
            let result = responder.answer(event.payload.as_bytes(), deadline).await;
            match &result {
                Ok(answer) => {
                    for report in answer.reports() {
                        emit_metrics(function.name(), Some(report), None, started);
                    }
                }
                Err(e) => emit_metrics(function.name(), e.report.as_deref(), Some(e.error_type), started),
            }
            result
        }
    });
    Runtime::new(handler).layer(RawPayloadLayer).run().await
}

/// Prints the invocation's CloudWatch Embedded Metric Format lines to
/// stdout, where CloudWatch Logs extracts them.
pub fn emit_metrics(function: &str, report: Option<&Report>, error: Option<&str>, started: Instant) {
    let now = chrono::Utc::now().timestamp_millis();
    for line in responder_core::metrics::emf_lines(function, report, error, started.elapsed(), now) {
        println!("{line}");
    }
}

/// What functions answer with: a report (one per finding when a custom
/// action named several).
pub type Response = crate::responder::Answer;
