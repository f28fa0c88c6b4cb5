//! # responder-ecs
//!
//! The ECS playbooks, the only crate that links the ECS SDK:
//! [`ContainEcsTask`] (the `contain-ecs-task` function) and
//! [`contain::release`] (`responder release --task`). A task's network
//! interface is isolated with `responder-ec2`'s two-step move.
//!
//! - [`tasks`]: service adapter.
//! - [`contain`]: the playbook and its release.

pub mod contain;
pub mod tasks;

pub(crate) use responder_aws::{failure, steps, verify};

use futures::future::BoxFuture;
use responder_aws::cloud::Clients;
use responder_aws::playbook::not_mine;
use responder_aws::steps::Execution;
use responder_aws::{Job, Playbook};
use responder_core::{Function, Plan};

/// The clients the ECS playbooks call.
#[derive(Debug, Clone)]
pub struct EcsClients {
    pub ecs: aws_sdk_ecs::Client,
    pub ec2: aws_sdk_ec2::Client,
}

impl Clients for EcsClients {
    fn new(config: &aws_config::SdkConfig) -> Self {
        EcsClients { ecs: aws_sdk_ecs::Client::new(config), ec2: aws_sdk_ec2::Client::new(config) }
    }
}

/// Clients for one account and region, ECS's and EC2's included.
pub type Cloud = responder_aws::cloud::Cloud<EcsClients>;

/// The cluster a task ARN of the current format names (`task/CLUSTER/ID`).
pub fn cluster_of(task_arn: &str) -> Option<&str> {
    let resource = task_arn.splitn(6, ':').nth(5)?;
    match resource.split('/').collect::<Vec<_>>().as_slice() {
        ["task", cluster, _] => Some(cluster),
        _ => None,
    }
}

/// `contain-ecs-task`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContainEcsTask;

impl Playbook for ContainEcsTask {
    const FUNCTION: Function = Function::ContainEcsTask;
    type Clients = EcsClients;

    fn run<'a>(&'a self, cloud: &'a Cloud, plan: &'a Plan, job: Job<'a, Self::Clients>) -> BoxFuture<'a, Execution> {
        Box::pin(async move {
            let Plan::ContainTask { cluster, task_arn, scale_down_service, .. } = plan else {
                return not_mine(Self::FUNCTION, plan);
            };
            let task_job = contain::TaskJob {
                finding_id: job.finding_id(),
                finding_type: job.event.finding.finding_type.as_str(),
                cluster,
                task_arn,
                scale_down_service: *scale_down_service,
                policy: &job.settings.policy,
                gate: job.gate.clone(),
            };
            let mut run = contain::contain(cloud, &task_job).await;
            if run.log.all_held() && run.skipped.is_none() && !job.settings.policy.dry_run {
                run.notes.push(format!(
                    "rotate every secret the task's role and environment could read; when it is safe, `responder release --task {task_arn}` puts back what was changed (a stopped task stays stopped)"
                ));
            }
            run
        })
    }
}
