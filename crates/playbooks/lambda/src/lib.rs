//! # responder-lambda
//!
//! The Lambda playbooks, the only crate that links the Lambda SDK:
//! [`ContainLambdaFunction`] (the `contain-lambda-function` function) and
//! [`contain::release`] (`responder release --function`). The execution
//! role's session denial is `responder-iam`'s.
//!
//! - [`functions`]: service adapter.
//! - [`contain`]: the playbook and its release.

pub mod contain;
pub mod functions;

pub(crate) use responder_aws::{failure, steps, verify};

use futures::future::BoxFuture;
use responder_aws::cloud::Clients;
use responder_aws::playbook::not_mine;
use responder_aws::steps::Execution;
use responder_aws::{Job, Playbook};
use responder_core::{Function, Plan};

/// The clients the Lambda playbooks call.
#[derive(Debug, Clone)]
pub struct LambdaClients {
    pub lambda: aws_sdk_lambda::Client,
    pub iam: aws_sdk_iam::Client,
}

impl Clients for LambdaClients {
    fn new(config: &aws_config::SdkConfig) -> Self {
        LambdaClients { lambda: aws_sdk_lambda::Client::new(config), iam: aws_sdk_iam::Client::new(config) }
    }
}

/// Clients for one account and region, Lambda's and IAM's included.
pub type Cloud = responder_aws::cloud::Cloud<LambdaClients>;

/// `contain-lambda-function`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContainLambdaFunction;

impl Playbook for ContainLambdaFunction {
    const FUNCTION: Function = Function::ContainLambdaFunction;
    type Clients = LambdaClients;

    fn run<'a>(&'a self, cloud: &'a Cloud, plan: &'a Plan, job: Job<'a, Self::Clients>) -> BoxFuture<'a, Execution> {
        Box::pin(async move {
            let Plan::ContainFunction { function_name, .. } = plan else { return not_mine(Self::FUNCTION, plan) };
            let job = contain::FunctionJob {
                finding_id: job.finding_id(),
                function_name,
                policy: &job.settings.policy,
                now: chrono::Utc::now(),
                deadline: job.deadline,
                gate: job.gate.clone(),
            };
            let mut run = contain::contain(cloud, &job).await;
            if run.log.all_held() && run.skipped.is_none() {
                run.notes.push(format!(
                    "{function_name} runs no more; rotate any secret its environment or role could read, review the evidence version's code, then `responder release --function {function_name}`"
                ));
            }
            run
        })
    }
}
