//! # responder-ec2
//!
//! The EC2 playbooks, the only crate that links the EC2 and Auto Scaling
//! SDKs: [`QuarantineInstance`] (the `quarantine-instance` function) and
//! [`release`] (the operator's `responder release --instance`).
//!
//! - [`ec2`], [`autoscaling`]: service adapters.
//! - [`quarantine`]: the playbook, wave by wave.
//! - [`release`]: putting back what quarantine recorded.

pub mod autoscaling;
pub mod ec2;
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
}

impl Clients for Ec2Clients {
    fn new(config: &aws_config::SdkConfig) -> Self {
        Ec2Clients { ec2: aws_sdk_ec2::Client::new(config), autoscaling: aws_sdk_autoscaling::Client::new(config) }
    }
}

/// Clients for one account and region, EC2's included.
pub type Cloud = responder_aws::cloud::Cloud<Ec2Clients>;

/// `quarantine-instance`.
#[derive(Debug, Clone, Copy, Default)]
pub struct QuarantineInstance;

impl Playbook for QuarantineInstance {
    const FUNCTION: Function = Function::QuarantineInstance;
    type Clients = Ec2Clients;

    fn run<'a>(&'a self, cloud: &'a Cloud, plan: &'a Plan, job: Job<'a>) -> BoxFuture<'a, Execution> {
        Box::pin(async move {
            let Plan::Quarantine { instance_id, .. } = plan else { return not_mine(Self::FUNCTION, plan) };
            let job = quarantine::QuarantineJob {
                finding_id: job.finding_id(),
                instance_id: instance_id.as_str(),
                policy: &job.settings.policy,
                deadline: job.deadline,
                now: now_rfc3339(),
                gate: job.gate.clone(),
            };
            quarantine::quarantine(cloud, &job).await
        })
    }
}
