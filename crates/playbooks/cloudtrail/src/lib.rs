//! # responder-cloudtrail
//!
//! The CloudTrail playbooks, the only crate that links the CloudTrail SDK:
//! [`RestoreCloudtrail`] (restart logging an attacker stopped),
//! [`NotifyFinding`] (the alert, with the CloudTrail activity around the
//! resource) and [`serve_posture`] (the `check-posture` function: the
//! CloudTrail heartbeat and the monitoring posture).
//!
//! - [`cloudtrail`]: restoring trails and looking up activity.
//! - [`posture`]: gathering the facts the posture checks evaluate.

pub mod cloudtrail;
pub mod posture;

pub(crate) use responder_aws::{failure, notify, steps, verify};

use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use lambda_runtime::{LambdaEvent, Runtime, service_fn};
use responder_aws::cloud::Clients;
use responder_aws::lambda::{RawPayloadLayer, emit_metrics};
use responder_aws::playbook::not_mine;
use responder_aws::steps::{Execution, Held};
use responder_aws::{HandlerError, Job, Playbook, report_of};
use responder_core::{Function, Plan};

/// The clients the CloudTrail playbooks call.
#[derive(Debug, Clone)]
pub struct CloudTrailClients {
    pub cloudtrail: aws_sdk_cloudtrail::Client,
}

impl Clients for CloudTrailClients {
    fn new(config: &aws_config::SdkConfig) -> Self {
        CloudTrailClients { cloudtrail: aws_sdk_cloudtrail::Client::new(config) }
    }
}

/// Clients for one account and region, CloudTrail's included.
pub type Cloud = responder_aws::cloud::Cloud<CloudTrailClients>;

/// `restore-cloudtrail`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RestoreCloudtrail;

impl Playbook for RestoreCloudtrail {
    const FUNCTION: Function = Function::RestoreCloudtrail;
    type Clients = CloudTrailClients;

    fn run<'a>(&'a self, cloud: &'a Cloud, plan: &'a Plan, job: Job<'a, Self::Clients>) -> BoxFuture<'a, Execution> {
        Box::pin(async move {
            let Plan::RestoreTrail { trail, scope } = plan else { return not_mine(Self::FUNCTION, plan) };
            let dry_run = job.settings.policy.dry_run;
            let mut run = cloudtrail::restore_trail(cloud, &scope.account, trail.as_deref(), dry_run, &job.gate).await;
            if let Some(key) = job.event.finding.resource.access_key_details.as_ref() {
                run.notes.push(format!(
                    "logging was stopped with access key {} of {} ({}): treat it as compromised",
                    key.access_key_id.as_deref().unwrap_or("?"),
                    key.user_name.as_deref().unwrap_or("?"),
                    key.user_type.as_deref().unwrap_or("?"),
                ));
            }
            run
        })
    }
}

/// `notify-finding`: looks up the CloudTrail activity around the resource;
/// the responder publishes the alert. A failed look-up is a failed step and
/// a note, never a reason to hold the alert back.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotifyFinding;

impl Playbook for NotifyFinding {
    const FUNCTION: Function = Function::NotifyFinding;
    type Clients = CloudTrailClients;

    fn run<'a>(&'a self, cloud: &'a Cloud, plan: &'a Plan, job: Job<'a, Self::Clients>) -> BoxFuture<'a, Execution> {
        Box::pin(async move {
            if !matches!(plan, Plan::Alert { .. }) {
                return not_mine(Self::FUNCTION, plan);
            }
            let finding = &job.event.finding;
            let minutes = job.settings.enrichment_window_minutes;
            let target = responder_core::target::alert_resource(finding)
                .unwrap_or_else(|| finding.resource.resource_type.clone());
            let mut run = Execution::default();
            if let Some(call) = finding.service.action.as_ref().and_then(|a| a.aws_api_call_action.as_ref()) {
                let key = finding.resource.access_key_details.as_ref();
                let who = key.and_then(|k| k.user_name.as_deref()).unwrap_or("an unnamed caller");
                let ip = call.remote_ip_details.as_ref().and_then(|r| r["ipAddressV4"].as_str()).unwrap_or("-");
                run.notes.push(format!(
                    "the call GuardDuty saw: {} by {who} (access key {}) from {ip}",
                    call.api.as_deref().unwrap_or("?"),
                    key.and_then(|k| k.access_key_id.as_deref()).unwrap_or("?"),
                ));
            }
            match cloudtrail::activity(&cloud.cloudtrail, finding, minutes).await {
                Ok(activity) => {
                    let held = Held::done(format!("{} event(s) within ±{minutes} min", activity.len()));
                    run.activity = activity;
                    run.log.push("lookup-cloudtrail", &target, Ok(held));
                }
                Err(f) => {
                    run.notes.push(format!("CloudTrail look-up failed ({f}): this alert has no activity listing"));
                    run.log.push("lookup-cloudtrail", &target, Err(f));
                }
            }
            run
        })
    }
}

/// Runs check-posture: every invocation (the schedule's event, or any
/// payload) checks the account and region the function runs in.
pub async fn serve_posture() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = responder_core::Settings::from_env()?;
    let Some(topic) = settings.notify_topic_arn.clone() else {
        return Err("setting NOTIFY_TOPIC_ARN: check-posture needs a topic to alert and to keep its state".into());
    };
    let config = responder_aws::cloud::load_sdk_config().await;
    let cloud = responder_aws::cloud::Cloud::<()>::new(&config);
    let identity = responder_aws::cloud::own_identity(&cloud).await.map_err(|e| e.to_string())?;
    let shared = Arc::new((settings, config, topic, identity.account.to_string()));
    let handler = service_fn(move |_event: LambdaEvent<String>| {
        let shared = shared.clone();
        async move {
            let (settings, config, topic, account) = &*shared;
            let started = Instant::now();
            let result =
                posture::run(config, account, topic, &settings.posture, settings.notify_format).await.map_err(|f| {
                    HandlerError {
                        error_type: if f.retryable() { HandlerError::RETRYABLE } else { "PostureCheckFailed" },
                        message: f.to_string(),
                        report: None,
                    }
                });
            let (report, error) = report_of(&result);
            emit_metrics("check-posture", report, error, started);
            result
        }
    });
    Runtime::new(handler).layer(RawPayloadLayer).run().await
}
