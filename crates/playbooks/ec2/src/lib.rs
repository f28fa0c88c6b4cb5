//! # responder-ec2
//!
//! The EC2 playbooks, the only crate that links the EC2 and Auto Scaling
//! SDKs (and Elastic Load Balancing's): [`QuarantineInstance`] (the `quarantine-instance` function) and
//! [`release`] (the operator's `responder release --instance`).
//!
//! - [`ec2`], [`autoscaling`], [`elb`]: service adapters.
//! - [`quarantine`]: the playbook, wave by wave.
//! - [`release`]: putting back what quarantine recorded.

pub mod artifact;
pub mod autoscaling;
pub mod ec2;
pub mod elb;
pub mod evidence;
pub mod interface;
pub mod quarantine;
pub mod release;

pub(crate) use responder_aws::{failure, steps, verify};

use futures::future::BoxFuture;
use responder_aws::cloud::Clients;
use responder_aws::playbook::not_mine;
use responder_aws::responder::now_rfc3339;
use responder_aws::steps::Execution;
use responder_aws::{Job, Playbook};
use responder_core::{Function, Plan};

/// The clients the EC2 playbooks call.
#[derive(Debug, Clone)]
pub struct Ec2Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub elb: aws_sdk_elasticloadbalancing::Client,
    pub kms: aws_sdk_kms::Client,
    pub ssm: aws_sdk_ssm::Client,
}

impl Clients for Ec2Clients {
    fn new(config: &aws_config::SdkConfig) -> Self {
        Ec2Clients {
            ec2: aws_sdk_ec2::Client::new(config),
            autoscaling: aws_sdk_autoscaling::Client::new(config),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(config),
            elb: aws_sdk_elasticloadbalancing::Client::new(config),
            kms: aws_sdk_kms::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
        }
    }
}

/// Clients for one account and region, EC2's included.
pub type Cloud = responder_aws::cloud::Cloud<Ec2Clients>;

/// Whether to start a malware scan of the instance this finding
/// quarantines: not when the finding is a malware scan's own result.
fn scans_wanted(settings: &responder_core::Settings, finding: &responder_core::Finding) -> bool {
    settings.evidence.start_malware_scans && !finding.finding_type.as_str().starts_with("Execution:EC2/MaliciousFile")
}

/// When the instance is a container host (its live tags, else the
/// finding's): that isolating it cuts off every workload on it.
fn node_note(run: &Execution, finding: &responder_core::Finding, instance_id: &str) -> Option<String> {
    use responder_core::target::{Node, node_by_tags, node_of};
    let live = run.state.get("instance").and_then(|i| i.get("tags")).and_then(serde_json::Value::as_object);
    let node = live
        .and_then(|tags| node_by_tags(tags.iter().filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))))
        .or_else(|| node_of(finding))?;
    let what = match node {
        Node::Eks(cluster) => format!("a node of EKS cluster {cluster}: every pod on it"),
        Node::Ecs(Some(cluster)) => format!("a container instance of ECS cluster {cluster}: every task on it"),
        Node::Ecs(None) => "an ECS container instance: every task on it".to_owned(),
    };
    let why = if finding.resource.resource_type == "ECSCluster" {
        "contain-ecs-task drains it, so ECS starts its services' tasks elsewhere"
    } else if run.skipped.is_none() && matches!(finding.resource.resource_type.as_str(), "Instance") {
        "the finding names no pod or task for the container functions to contain instead, or ISOLATE_CONTAINER_NODES is on"
    } else {
        "the finding is about the instance"
    };
    Some(format!("instance {instance_id} is {what} is cut off too, not only the workload the finding is about ({why})"))
}

/// `quarantine-instance`.
#[derive(Debug, Clone, Copy, Default)]
pub struct QuarantineInstance;

impl Playbook for QuarantineInstance {
    const FUNCTION: Function = Function::QuarantineInstance;
    type Clients = Ec2Clients;

    fn run<'a>(&'a self, cloud: &'a Cloud, plan: &'a Plan, job: Job<'a, Self::Clients>) -> BoxFuture<'a, Execution> {
        Box::pin(async move {
            if let Plan::UnshareArtifact { scope, kind, id } = plan {
                let unshare_job = artifact::UnshareJob {
                    finding_id: job.finding_id(),
                    account: scope.account.as_str(),
                    kind: *kind,
                    id,
                    policy: &job.settings.policy,
                    keep_account: job.settings.policy.home_account.as_ref().map(|a| a.as_str()),
                    gate: job.gate.clone(),
                };
                let mut run = artifact::unshare(cloud, &unshare_job).await;
                if run.log.all_held() && run.skipped.is_none() && !job.settings.policy.dry_run {
                    run.notes.push(format!(
                        "malware was found in {} {id}: find where it came from and what was launched from it; `responder release --{} {id}` shares it again as recorded",
                        kind.name(),
                        kind.name()
                    ));
                }
                return run;
            }
            let Plan::Quarantine { instance_id, scope, .. } = plan else { return not_mine(Self::FUNCTION, plan) };
            let settings = job.settings;
            let evidence = match (&settings.policy.home_account, &settings.evidence.key_arn) {
                (Some(home_account), Some(key_arn)) => {
                    Some(quarantine::EvidenceTarget { home: &job.home, home_account: home_account.as_str(), key_arn })
                }
                _ => None,
            };
            let quarantine_job = quarantine::QuarantineJob {
                finding_id: job.finding_id(),
                account: scope.account.as_str(),
                instance_id: instance_id.as_str(),
                policy: &settings.policy,
                deadline: job.deadline,
                now: now_rfc3339(),
                gate: job.gate.clone(),
                evidence,
                malware_scan: scans_wanted(settings, &job.event.finding).then_some(&job.home.guardduty),
            };
            let mut run = quarantine::quarantine(cloud, &quarantine_job).await;
            if run.skipped.is_none() {
                run.notes.extend(node_note(&run, &job.event.finding, instance_id.as_str()));
            }
            run
        })
    }
}

/// Runs `preserve-evidence`: every invocation (the schedule's event, or any
/// payload) works through the queue of forensic snapshot copies once. An
/// item that fails stays queued and fails the invocation, so the function's
/// error alarm says so.
pub async fn serve_evidence_pass() -> Result<(), lambda_runtime::Error> {
    use lambda_runtime::{LambdaEvent, Runtime, service_fn};
    use responder_aws::HandlerError;
    use responder_aws::cloud::{Clouds, MemberRole, load_sdk_config, own_identity};

    lambda_runtime::tracing::init_default_subscriber();
    let settings = responder_core::Settings::from_env()?;
    let Some(key_arn) = settings.evidence.key_arn.clone() else {
        return Err("setting EVIDENCE_KEY_ARN: preserve-evidence copies snapshots under that key".into());
    };
    let config = load_sdk_config().await;
    let identity = own_identity(&responder_aws::cloud::Cloud::<()>::new(&config)).await.map_err(|e| e.to_string())?;
    let member_role = MemberRole::of(&settings);
    let clouds = Clouds::<Ec2Clients>::with_member_role(config, Some(identity.account.clone()), member_role);
    let shared = std::sync::Arc::new((clouds, identity.account, key_arn));
    let handler = service_fn(move |_event: LambdaEvent<String>| {
        let shared = shared.clone();
        async move {
            let (clouds, account, key_arn) = &*shared;
            let summary = evidence::pass(clouds, account, key_arn).await.map_err(|f| HandlerError {
                error_type: if f.retryable() { HandlerError::RETRYABLE } else { "EvidencePassFailed" },
                message: f.to_string(),
                report: None,
            })?;
            tracing::info!(
                complete = summary.complete.len(),
                copying = summary.copying.len(),
                waiting = summary.waiting.len(),
                failed = summary.failed.len(),
                "evidence pass"
            );
            if !summary.failed.is_empty() {
                return Err(HandlerError {
                    error_type: "EvidenceCopyFailed",
                    message: format!("{} queued copies failed: {}", summary.failed.len(), summary.failed.join("; ")),
                    report: None,
                });
            }
            Ok::<_, HandlerError>(serde_json::to_value(&summary).unwrap_or_default())
        }
    });
    Runtime::new(handler).layer(responder_aws::lambda::RawPayloadLayer).run().await
}
