//! Fault injection between the SDK and the emulator.
//!
//! [`FaultInjector`] wraps the SDK's own HTTP client. Every request passes
//! through it and is recorded (service, API action, which occurrence of that
//! action in the run, attempt, when it started and ended, how it was
//! answered). When armed, it answers one occurrence of one action, and every
//! retry of it, with a fault instead of the emulator's answer:
//!
//! - [`Fault::Throttle`]: the service's throttling error, on every attempt;
//! - [`Fault::ThrottleOnce`]: throttling on the first attempt only (the SDK's
//!   retry must carry the call through);
//! - [`Fault::ServerError`]: an HTTP 500 with the service's internal error;
//! - [`Fault::AccessDenied`]: the service's access-denied error (403);
//! - [`Fault::Timeout`]: the request *reaches the emulator and takes effect*,
//!   but its answer is lost: the connection times out reading it (the
//!   client's read timeout), the worst case for idempotency.
//!
//! Errors are written in each protocol's own shape (EC2 query, AWS query,
//! JSON), so the SDK parses them as it would AWS's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

/// How the armed call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    Throttle,
    ThrottleOnce,
    ServerError,
    AccessDenied,
    Timeout,
}

impl Fault {
    pub const ALL: [Fault; 5] =
        [Fault::Throttle, Fault::ThrottleOnce, Fault::ServerError, Fault::AccessDenied, Fault::Timeout];

    /// Whether the failure is one a later retry of the event can get past.
    pub fn transient(self) -> bool {
        !matches!(self, Fault::AccessDenied)
    }

    /// Whether the SDK's own retries make the call succeed in the end.
    pub fn clears(self) -> bool {
        matches!(self, Fault::ThrottleOnce)
    }
}

/// One request as it passed through.
#[derive(Debug, Clone)]
pub struct Call {
    pub service: String,
    pub action: String,
    /// 1 for the first call of this action in the run, 2 for the second…
    /// (retries of one call share it).
    pub occurrence: usize,
    pub attempt: u32,
    pub body: String,
    pub started: Instant,
    pub ended: Instant,
    pub status: u16,
    pub fault: Option<Fault>,
}

impl Call {
    pub fn ok(&self) -> bool {
        self.fault.is_none() && (200..300).contains(&self.status)
    }

    /// Whether the form-encoded request names `value` (a resource id, a tag key…).
    pub fn mentions(&self, value: &str) -> bool {
        self.body.contains(value)
    }
}

#[derive(Debug, Default)]
struct State {
    armed: Option<(String, usize, Fault)>,
    /// action → invocation ids, in the order first seen
    invocations: HashMap<String, Vec<String>>,
    attempts: HashMap<String, u32>,
    calls: Vec<Call>,
}

/// An HTTP client for `SdkConfig` that records and, when armed, injects faults.
#[derive(Debug, Clone, Default)]
pub struct FaultInjector {
    state: Arc<Mutex<State>>,
}

impl FaultInjector {
    pub fn new() -> Self {
        FaultInjector::default()
    }

    /// An HTTP client that sends through `inner` (the SDK's default client).
    pub fn client(&self, inner: SharedHttpClient) -> SharedHttpClient {
        let injector = self.clone();
        http_client_fn(move |settings, components| {
            SharedHttpConnector::new(Connector {
                inner: inner.http_connector(settings, components),
                injector: injector.clone(),
            })
        })
    }

    /// Fails the `occurrence`-th call of `action` (and its retries) with `fault`.
    pub fn arm(&self, action: &str, occurrence: usize, fault: Fault) {
        self.lock().armed = Some((action.to_owned(), occurrence, fault));
    }

    pub fn disarm(&self) {
        self.lock().armed = None;
    }

    /// Forgets what was recorded, so occurrences count from the next call.
    pub fn reset(&self) {
        let mut state = self.lock();
        state.invocations.clear();
        state.attempts.clear();
        state.calls.clear();
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug)]
struct Connector {
    inner: SharedHttpConnector,
    injector: FaultInjector,
}

/// The service (from the signature's credential scope) and the API action.
fn identify(request: &HttpRequest, body: &str) -> (String, String) {
    let service = request
        .headers()
        .get("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|scope| scope.split('/').nth(3))
        .unwrap_or("?")
        .to_owned();
    let action = match request.headers().get("x-amz-target") {
        Some(target) => target.rsplit('.').next().unwrap_or(target).to_owned(),
        None => body.split('&').find_map(|pair| pair.strip_prefix("Action=")).unwrap_or("?").to_owned(),
    };
    (service, action)
}

/// The error a service sends for `fault`, in its protocol's shape.
fn error_response(service: &str, json: bool, fault: Fault) -> HttpResponse {
    let (status, code) = match (service, fault) {
        ("ec2", Fault::Throttle | Fault::ThrottleOnce) => (503, "RequestLimitExceeded"),
        ("ec2", Fault::ServerError) => (500, "InternalError"),
        ("ec2", _) => (403, "UnauthorizedOperation"),
        (_, Fault::Throttle | Fault::ThrottleOnce) if json => (400, "ThrottlingException"),
        (_, Fault::Throttle | Fault::ThrottleOnce) => (400, "Throttling"),
        (_, Fault::ServerError) if json => (500, "InternalFailure"),
        (_, Fault::ServerError) => (500, "ServiceFailure"),
        (_, _) if json => (403, "AccessDeniedException"),
        (_, _) => (403, "AccessDenied"),
    };
    let message = format!("injected fault: {code}");
    let (content_type, body) = if service == "ec2" {
        (
            "text/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>fault</RequestID></Response>"
            ),
        )
    } else if json {
        ("application/x-amz-json-1.1", format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}"))
    } else {
        (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
            ),
        )
    };
    let mut response =
        HttpResponse::new(StatusCode::try_from(status).unwrap_or_else(|_| unreachable!()), SdkBody::from(body));
    response.headers_mut().insert("content-type", content_type);
    if json {
        response.headers_mut().insert("x-amzn-errortype", code);
    }
    response
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request.body().bytes().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
        let (service, action) = identify(&request, &body);
        let json = request.headers().get("x-amz-target").is_some();
        let invocation = request.headers().get("amz-sdk-invocation-id").unwrap_or("").to_owned();
        let (occurrence, attempt, fault) = {
            let mut state = self.injector.lock();
            let seen = state.invocations.entry(action.clone()).or_default();
            let occurrence = match seen.iter().position(|i| *i == invocation) {
                Some(i) => i + 1,
                None => {
                    seen.push(invocation.clone());
                    seen.len()
                }
            };
            let attempt = {
                let n = state.attempts.entry(format!("{action}/{invocation}")).or_insert(0);
                *n += 1;
                *n
            };
            let fault = match &state.armed {
                Some((a, o, f)) if *a == action && *o == occurrence => match f {
                    Fault::ThrottleOnce if attempt > 1 => None,
                    f => Some(*f),
                },
                _ => None,
            };
            (occurrence, attempt, fault)
        };
        let started = Instant::now();
        let injector = self.injector.clone();
        let inner = self.inner.clone();
        let record = move |status: u16| Call {
            service: service.clone(),
            action: action.clone(),
            occurrence,
            attempt,
            body: body.clone(),
            started,
            ended: Instant::now(),
            status,
            fault,
        };
        HttpConnectorFuture::new(async move {
            match fault {
                None => {
                    let response = inner.call(request).await;
                    let status = response.as_ref().map(|r| r.status().as_u16()).unwrap_or(0);
                    injector.lock().calls.push(record(status));
                    response
                }
                Some(Fault::Timeout) => {
                    // The call takes effect; its answer is lost.
                    let response = inner.call(request).await;
                    let status = response.as_ref().map(|r| r.status().as_u16()).unwrap_or(0);
                    injector.lock().calls.push(record(status));
                    Err(ConnectorError::timeout("injected fault: no answer within the read timeout".into()))
                }
                Some(f) => {
                    let response = error_response(&record(0).service, json, f);
                    injector.lock().calls.push(record(response.status().as_u16()));
                    Ok(response)
                }
            }
        })
    }
}
