//! # responder-s3
//!
//! The S3 playbooks, the only crate that links the S3 SDK:
//! [`ProtectS3Bucket`] (the `protect-s3-bucket` function) and
//! [`bucket::release`] (`responder release --bucket`).
//!
//! - [`s3`]: service adapter.
//! - [`bucket`]: the playbook and its release.
//! - [`account`]: the account-level block (S3 Control), and its release.

pub mod account;
pub mod bucket;
pub mod object;
pub mod s3;

pub(crate) use responder_aws::{failure, steps, verify};

use futures::future::BoxFuture;
use responder_aws::cloud::Clients;
use responder_aws::playbook::not_mine;
use responder_aws::steps::Execution;
use responder_aws::{Job, Playbook};
use responder_core::{Function, Plan};

/// The clients the S3 playbooks call.
#[derive(Debug, Clone)]
pub struct S3Clients {
    pub s3: aws_sdk_s3::Client,
    pub s3control: aws_sdk_s3control::Client,
    pub ssm: aws_sdk_ssm::Client,
}

impl Clients for S3Clients {
    fn new(config: &aws_config::SdkConfig) -> Self {
        // Path-style addressing: bucket names with dots break virtual-hosted
        // TLS, and an endpoint override (a VPC endpoint) takes it as given.
        let s3 = aws_sdk_s3::config::Builder::from(config).force_path_style(true).build();
        S3Clients {
            s3: aws_sdk_s3::Client::from_conf(s3),
            s3control: aws_sdk_s3control::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
        }
    }
}

/// Clients for one account and region, S3's included.
pub type Cloud = responder_aws::cloud::Cloud<S3Clients>;

/// `protect-s3-bucket`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProtectS3Bucket;

impl Playbook for ProtectS3Bucket {
    const FUNCTION: Function = Function::ProtectS3Bucket;
    type Clients = S3Clients;

    fn run<'a>(&'a self, cloud: &'a Cloud, plan: &'a Plan, job: Job<'a, Self::Clients>) -> BoxFuture<'a, Execution> {
        Box::pin(async move {
            let bucket = match plan {
                Plan::ProtectBucket { bucket, .. } => bucket,
                Plan::ProtectAccount { scope } => {
                    let mut run =
                        account::protect(cloud, scope.account.as_str(), &job.settings.policy, &job.gate).await;
                    if run.log.all_held() {
                        run.notes.push(format!(
                            "public access is blocked account-wide in {}; find who turned it off (the finding's caller) and `responder release --account-public-access` restores the previous block",
                            scope.account
                        ));
                    }
                    return run;
                }
                Plan::QuarantineObject { scope, object } => {
                    let settings = &job.settings.evidence;
                    let object_job = object::ObjectJob {
                        finding_id: job.finding_id(),
                        account: scope.account.as_str(),
                        object,
                        policy: &job.settings.policy,
                        evidence: settings.bucket.as_deref().map(|b| (b, settings.key_arn.as_deref())),
                        delete: settings.delete_malicious_objects,
                        gate: job.gate.clone(),
                    };
                    return object::quarantine(cloud, &job.home, &object_job).await;
                }
                _ => return not_mine(Self::FUNCTION, plan),
            };
            let job = bucket::BucketJob {
                finding_id: job.finding_id(),
                bucket,
                policy: &job.settings.policy,
                gate: job.gate.clone(),
            };
            let mut run = bucket::protect(cloud, &job).await;
            if run.log.all_held() && !run.log.records.is_empty() {
                run.notes.push(format!(
                    "public access to {bucket} is blocked; review its bucket policy and ACLs for what was opened, then `responder release --bucket {bucket}` restores the previous block"
                ));
            }
            run
        })
    }
}
