//! # responder-rds
//!
//! The RDS playbooks: [`IsolateDatabase`] (the `isolate-database` function)
//! and [`isolate::release`] (`responder release --database`). The isolation
//! group is `responder-ec2`'s (one per VPC, shared with quarantine).
//!
//! - [`rds`]: service adapter.
//! - [`isolate`]: the playbook and its release.

pub mod isolate;
pub mod rds;

pub(crate) use responder_aws::{failure, steps, verify};

use futures::future::BoxFuture;
use responder_aws::cloud::Clients;
use responder_aws::playbook::not_mine;
use responder_aws::steps::Execution;
use responder_aws::{Job, Playbook};
use responder_core::{Function, Plan};

/// The clients the RDS playbooks call.
#[derive(Debug, Clone)]
pub struct RdsClients {
    pub rds: aws_sdk_rds::Client,
    pub ec2: aws_sdk_ec2::Client,
}

impl Clients for RdsClients {
    fn new(config: &aws_config::SdkConfig) -> Self {
        RdsClients { rds: aws_sdk_rds::Client::new(config), ec2: aws_sdk_ec2::Client::new(config) }
    }
}

/// Clients for one account and region, RDS's and EC2's included.
pub type Cloud = responder_aws::cloud::Cloud<RdsClients>;

/// `isolate-database`.
#[derive(Debug, Clone, Copy, Default)]
pub struct IsolateDatabase;

impl Playbook for IsolateDatabase {
    const FUNCTION: Function = Function::IsolateDatabase;
    type Clients = RdsClients;

    fn run<'a>(&'a self, cloud: &'a Cloud, plan: &'a Plan, job: Job<'a, Self::Clients>) -> BoxFuture<'a, Execution> {
        Box::pin(async move {
            let Plan::IsolateDatabase { instance_id, login_user, .. } = plan else {
                return not_mine(Self::FUNCTION, plan);
            };
            let db_job = isolate::DatabaseJob {
                finding_id: job.finding_id(),
                instance_id,
                policy: &job.settings.policy,
                gate: job.gate.clone(),
            };
            let mut run = isolate::isolate(cloud, &db_job).await;
            if run.skipped.is_none() && !run.log.records.is_empty() {
                let engine = job.event.finding.resource.rds_db_instance_details.as_ref().and_then(|d| d.engine.clone());
                run.notes.push(rotation_note(login_user.as_deref(), engine.as_deref()));
                run.notes.push(format!(
                    "sessions already open to {instance_id} are not cut by a security group change: end them in the engine; `responder release --database {instance_id}` puts its groups and public accessibility back"
                ));
            }
            run
        })
    }
}

/// How to rotate the database user the finding names: it lives inside the
/// engine, where IAM cannot reach it.
fn rotation_note(user: Option<&str>, engine: Option<&str>) -> String {
    let Some(user) = user.filter(|u| !u.is_empty()) else {
        return "the finding names no database user: review the engine's logins and rotate what was used".into();
    };
    let how = match engine.unwrap_or_default() {
        e if e.contains("postgres") => format!(
            "ALTER ROLE \"{user}\" WITH PASSWORD '…'; and SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{user}';"
        ),
        e if e.contains("mysql") || e.contains("maria") => {
            format!("ALTER USER '{user}'@'%' IDENTIFIED BY '…'; and KILL each of its connections (SHOW PROCESSLIST)")
        }
        _ => "change its password in the engine and end its sessions".into(),
    };
    format!(
        "rotate database user {user}: it lives inside the engine, where the responder cannot reach it: {how}; update the secret the applications read"
    )
}
