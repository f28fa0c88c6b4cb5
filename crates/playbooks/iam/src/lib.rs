//! # responder-iam
//!
//! The IAM playbooks, the only crate that links the IAM SDK:
//! [`RevokeRoleSessions`] and [`DisableIamUser`] (the functions of the same
//! names), and their release (`responder release --role / --user`).
//!
//! - [`iam`]: service adapter.
//! - [`credentials`]: the playbooks and their release.

pub mod credentials;
pub mod iam;

pub(crate) use responder_aws::{failure, steps, verify};

use futures::future::BoxFuture;
use responder_aws::cloud::Clients;
use responder_aws::playbook::not_mine;
use responder_aws::steps::Execution;
use responder_aws::{Job, Playbook};
use responder_core::{Function, Plan};

use crate::credentials::{CredentialJob, deny_stolen_session, disable_user, revoke_role_sessions};

/// The clients the IAM playbooks call.
#[derive(Debug, Clone)]
pub struct IamClients {
    pub iam: aws_sdk_iam::Client,
}

impl Clients for IamClients {
    fn new(config: &aws_config::SdkConfig) -> Self {
        IamClients { iam: aws_sdk_iam::Client::new(config) }
    }
}

/// Clients for one account and region, IAM's included.
pub type Cloud = responder_aws::cloud::Cloud<IamClients>;

fn credential_job<'a, C>(job: &'a Job<'a, C>) -> CredentialJob<'a> {
    CredentialJob {
        finding_id: job.finding_id(),
        policy: &job.settings.policy,
        now: chrono::Utc::now(),
        deadline: job.deadline,
        gate: job.gate.clone(),
    }
}

/// `revoke-role-sessions`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RevokeRoleSessions;

impl Playbook for RevokeRoleSessions {
    const FUNCTION: Function = Function::RevokeRoleSessions;
    type Clients = IamClients;

    fn run<'a>(&'a self, cloud: &'a Cloud, plan: &'a Plan, job: Job<'a, Self::Clients>) -> BoxFuture<'a, Execution> {
        Box::pin(async move {
            let Plan::RevokeRoleSessions { role_name, source_instance, stolen_session, .. } = plan else {
                return not_mine(Self::FUNCTION, plan);
            };
            let job = credential_job(&job);
            let mut run = match stolen_session {
                Some(session) => deny_stolen_session(cloud, &job, role_name, session).await,
                None => revoke_role_sessions(cloud, &job, role_name).await,
            };
            if let Some(session) = stolen_session {
                run.notes.push(format!(
                    "only session {session} of {role_name} is denied: the role's other sessions (its other instances) keep working; EXFILTRATION_REVOKE_ALL_SESSIONS=true revokes them all"
                ));
            }
            if let Some(instance) = source_instance {
                run.notes.push(format!(
                    "these are instance {instance}'s role credentials, used elsewhere: quarantine-instance contains that instance from the same finding"
                ));
            }
            run
        })
    }
}

/// `disable-iam-user`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DisableIamUser;

impl Playbook for DisableIamUser {
    const FUNCTION: Function = Function::DisableIamUser;
    type Clients = IamClients;

    fn run<'a>(&'a self, cloud: &'a Cloud, plan: &'a Plan, job: Job<'a, Self::Clients>) -> BoxFuture<'a, Execution> {
        Box::pin(async move {
            let Plan::DisableIamUser { user_name, access_key_id, .. } = plan else {
                return not_mine(Self::FUNCTION, plan);
            };
            let key_scope = job.settings.key_scope;
            let job = credential_job(&job);
            disable_user(cloud, &job, user_name, access_key_id.as_deref(), key_scope).await
        })
    }
}
