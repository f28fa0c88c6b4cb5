//! The credential playbooks against SDK mocks: each step failing in turn,
//! access denied versus throttling, and the finding's key in the first wave
//! of changes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use aws_sdk_iam::operation::delete_login_profile::{DeleteLoginProfileError, DeleteLoginProfileOutput};
use aws_sdk_iam::operation::get_login_profile::GetLoginProfileOutput;
use aws_sdk_iam::operation::get_role::GetRoleOutput;
use aws_sdk_iam::operation::get_role_policy::GetRolePolicyError;
use aws_sdk_iam::operation::get_user::GetUserOutput;
use aws_sdk_iam::operation::get_user_policy::GetUserPolicyError;
use aws_sdk_iam::operation::list_access_keys::ListAccessKeysOutput;
use aws_sdk_iam::operation::list_role_tags::ListRoleTagsOutput;
use aws_sdk_iam::operation::list_user_tags::ListUserTagsOutput;
use aws_sdk_iam::operation::put_role_policy::{PutRolePolicyError, PutRolePolicyOutput};
use aws_sdk_iam::operation::put_user_policy::{PutUserPolicyError, PutUserPolicyOutput};
use aws_sdk_iam::operation::tag_role::TagRoleOutput;
use aws_sdk_iam::operation::tag_user::{TagUserError, TagUserOutput};
use aws_sdk_iam::operation::update_access_key::{UpdateAccessKeyError, UpdateAccessKeyOutput};
use aws_sdk_iam::types::{AccessKeyMetadata, LoginProfile, Role, StatusType, User};
use aws_smithy_mocks::{Rule, mock};
use aws_smithy_types::DateTime;
use responder_aws::mocks::{self, err_meta};
use responder_aws::verify::open_gate;
use responder_core::settings::KeyScope;
use responder_core::{Outcome, Policy, StepStatus};
use responder_iam::Cloud;
use responder_iam::credentials::{CredentialJob, disable_user, revoke_role_sessions};

type Calls = Arc<Mutex<Vec<String>>>;

fn log(calls: &Calls, what: String) {
    calls.lock().unwrap().push(what);
}

fn user_reads(path: &'static str) -> Vec<Rule> {
    vec![
        mock!(aws_sdk_iam::Client::get_user).then_output(move || {
            GetUserOutput::builder()
                .user(
                    User::builder()
                        .user_name("ci-deployer")
                        .user_id("AIDAEXAMPLE")
                        .arn(format!("arn:aws:iam::123456789012:user{path}ci-deployer"))
                        .path(path)
                        .create_date(DateTime::from_secs(0))
                        .build()
                        .unwrap(),
                )
                .build()
        }),
        mock!(aws_sdk_iam::Client::list_user_tags)
            .then_output(|| ListUserTagsOutput::builder().set_tags(Some(vec![])).build().unwrap()),
        mock!(aws_sdk_iam::Client::list_access_keys).then_output(|| {
            let key = |id: &str| {
                AccessKeyMetadata::builder()
                    .access_key_id(id)
                    .user_name("ci-deployer")
                    .status(StatusType::Active)
                    .build()
            };
            ListAccessKeysOutput::builder()
                .access_key_metadata(key("AKIAFINDINGKEY000001"))
                .access_key_metadata(key("AKIAOTHERKEY00000002"))
                .build()
                .unwrap()
        }),
        mock!(aws_sdk_iam::Client::get_login_profile).then_output(|| {
            GetLoginProfileOutput::builder()
                .login_profile(
                    LoginProfile::builder()
                        .user_name("ci-deployer")
                        .create_date(DateTime::from_secs(0))
                        .build()
                        .unwrap(),
                )
                .build()
        }),
        mock!(aws_sdk_iam::Client::get_user_policy)
            .then_error(|| GetUserPolicyError::generic(err_meta("NoSuchEntity"))),
    ]
}

fn user_changes(calls: &Calls) -> Vec<Rule> {
    let (c1, c2, c3, c4) = (calls.clone(), calls.clone(), calls.clone(), calls.clone());
    vec![
        mock!(aws_sdk_iam::Client::update_access_key).then_compute_output(move |i| {
            log(&c1, format!("UpdateAccessKey {}", i.access_key_id().unwrap_or_default()));
            UpdateAccessKeyOutput::builder().build()
        }),
        mock!(aws_sdk_iam::Client::delete_login_profile).then_compute_output(move |_| {
            log(&c2, "DeleteLoginProfile".into());
            DeleteLoginProfileOutput::builder().build()
        }),
        mock!(aws_sdk_iam::Client::put_user_policy).then_compute_output(move |i| {
            log(&c3, format!("PutUserPolicy {}", i.policy_name().unwrap_or_default()));
            PutUserPolicyOutput::builder().build()
        }),
        mock!(aws_sdk_iam::Client::tag_user).then_compute_output(move |_| {
            log(&c4, "TagUser".into());
            TagUserOutput::builder().build()
        }),
    ]
}

fn job(policy: &Policy) -> CredentialJob<'_> {
    CredentialJob { finding_id: "finding-1", policy, now: chrono::Utc::now(), deadline: None, gate: open_gate() }
}

async fn run_user(failing: Option<Rule>) -> (responder_aws::steps::Execution, Vec<String>) {
    let calls = Calls::default();
    let mut iam = Vec::new();
    iam.extend(failing);
    iam.extend(user_reads("/"));
    iam.extend(user_changes(&calls));
    let cloud = mock_cloud(iam);
    let policy = Policy::default();
    let run = disable_user(&cloud, &job(&policy), "ci-deployer", Some("AKIAFINDINGKEY000001"), KeyScope::AllKeys).await;
    let calls = calls.lock().unwrap().clone();
    (run, calls)
}

#[tokio::test]
async fn a_user_is_disabled_in_one_wave_of_changes() {
    let (run, calls) = run_user(None).await;
    assert!(run.log.all_held(), "{:#?}", run.log.records);
    assert!(calls.contains(&"UpdateAccessKey AKIAFINDINGKEY000001".to_owned()));
    assert!(calls.contains(&"UpdateAccessKey AKIAOTHERKEY00000002".to_owned()));
    assert!(calls.contains(&"DeleteLoginProfile".to_owned()));
    assert!(calls.contains(&"PutUserPolicy AWSRevokeOlderSessions".to_owned()));
    assert!(calls.contains(&"TagUser".to_owned()));
    // The finding's key is the first step reported.
    let first = run.log.records.iter().find(|r| r.action == "deactivate-access-key").unwrap();
    assert_eq!(first.target, "AKIAFINDINGKEY000001");
    // The record is written before any change.
    let at = |c: &str| calls.iter().position(|x| x.starts_with(c)).unwrap();
    for change in ["UpdateAccessKey", "DeleteLoginProfile", "PutUserPolicy"] {
        assert!(at("TagUser") < at(change), "{change} before the record: {calls:?}");
    }
}

#[tokio::test]
async fn a_failed_record_changes_nothing() {
    let rule = mock!(aws_sdk_iam::Client::tag_user).then_error(|| TagUserError::generic(err_meta("AccessDenied")));
    let (run, calls) = run_user(Some(rule)).await;
    assert!(calls.iter().all(|c| c == "TagUser"), "changed without a record: {calls:?}");
    let record = run.log.records.iter().find(|r| r.action == "record-user-state").unwrap();
    assert_eq!(record.status, StepStatus::Failed);
    let changes: Vec<_> = run
        .log
        .records
        .iter()
        .filter(|r| !["record-user-state", "describe-user", "describe-evidence"].contains(&r.action.as_str()))
        .collect();
    assert!(!changes.is_empty() && changes.iter().all(|r| r.status == StepStatus::Skipped), "{changes:#?}");
    assert_ne!(Outcome::of_steps(&run.log.records, false), Outcome::Contained);
}

#[tokio::test]
async fn each_user_step_failing_is_named_and_not_retried() {
    let cases: Vec<(&str, &str, Rule)> = vec![
        (
            "deactivate-access-key",
            "AKIAFINDINGKEY000001",
            mock!(aws_sdk_iam::Client::update_access_key)
                .match_requests(|i| i.access_key_id() == Some("AKIAFINDINGKEY000001"))
                .then_error(|| UpdateAccessKeyError::generic(err_meta("AccessDenied"))),
        ),
        (
            "delete-login-profile",
            "ci-deployer",
            mock!(aws_sdk_iam::Client::delete_login_profile)
                .then_error(|| DeleteLoginProfileError::generic(err_meta("AccessDenied"))),
        ),
        (
            "revoke-older-sessions",
            "ci-deployer",
            mock!(aws_sdk_iam::Client::put_user_policy)
                .then_error(|| PutUserPolicyError::generic(err_meta("AccessDenied"))),
        ),
    ];
    for (action, target, rule) in cases {
        let (run, _) = run_user(Some(rule.clone())).await;
        let failed: Vec<_> = run.log.records.iter().filter(|r| r.status == StepStatus::Failed).collect();
        assert_eq!(failed.len(), 1, "{action}: {:#?}", run.log.records);
        assert_eq!((failed[0].action.as_str(), failed[0].target.as_str()), (action, target));
        assert_eq!(Outcome::of_steps(&run.log.records, false), Outcome::Partial);
        assert!(!run.log.transient, "{action}: AccessDenied is not retryable");
        assert_eq!(rule.num_calls(), 1, "{action}: AccessDenied must not be retried");
    }
}

#[tokio::test]
async fn throttling_on_a_user_step_is_retried_then_retryable() {
    let rule = mock!(aws_sdk_iam::Client::update_access_key)
        .then_error(|| UpdateAccessKeyError::generic(err_meta("Throttling")));
    let (run, _) = run_user(Some(rule.clone())).await;
    assert!(run.log.transient);
    assert_eq!(rule.num_calls(), 6, "two keys, three attempts each");
    assert_eq!(Outcome::of_steps(&run.log.records, false), Outcome::Partial);
}

fn role_reads(path: &'static str) -> Vec<Rule> {
    vec![
        mock!(aws_sdk_iam::Client::get_role).then_output(move || {
            GetRoleOutput::builder()
                .role(
                    Role::builder()
                        .role_name("data-pipeline")
                        .role_id("AROAEXAMPLE")
                        .arn(format!("arn:aws:iam::123456789012:role{path}data-pipeline"))
                        .path(path)
                        .create_date(DateTime::from_secs(0))
                        .build()
                        .unwrap(),
                )
                .build()
        }),
        mock!(aws_sdk_iam::Client::list_role_tags)
            .then_output(|| ListRoleTagsOutput::builder().set_tags(Some(vec![])).build().unwrap()),
        mock!(aws_sdk_iam::Client::get_role_policy)
            .then_error(|| GetRolePolicyError::generic(err_meta("NoSuchEntity"))),
        mock!(aws_sdk_iam::Client::tag_role).then_output(|| TagRoleOutput::builder().build()),
    ]
}

#[tokio::test]
async fn role_revocation_failures_are_named() {
    for (code, transient, calls) in [("AccessDenied", false, 1), ("Throttling", true, 3)] {
        let put =
            mock!(aws_sdk_iam::Client::put_role_policy).then_error(move || PutRolePolicyError::generic(err_meta(code)));
        let mut iam = vec![put.clone()];
        iam.extend(role_reads("/"));
        let cloud = mock_cloud(iam);
        let policy = Policy::default();
        let run = revoke_role_sessions(&cloud, &job(&policy), "data-pipeline").await;
        let failed = run.log.records.iter().find(|r| r.status == StepStatus::Failed).unwrap();
        assert_eq!(failed.action, "revoke-older-sessions");
        assert_eq!(run.log.transient, transient, "{code}");
        assert_eq!(put.num_calls(), calls, "{code}");
        assert_ne!(Outcome::of_steps(&run.log.records, false), Outcome::Contained);
    }
}

#[tokio::test]
async fn live_paths_and_protected_arns_stop_the_revocation() {
    for (path, protected, want) in [
        ("/aws-service-role/autoscaling.amazonaws.com/", None, "service-linked"),
        ("/aws-reserved/sso.amazonaws.com/", None, "Identity Center"),
        ("/break-glass/", Some("arn:aws:iam::*:role/break-glass/*"), "protected"),
    ] {
        let put = mock!(aws_sdk_iam::Client::put_role_policy).then_output(|| PutRolePolicyOutput::builder().build());
        let mut iam = vec![put.clone()];
        iam.extend(role_reads(path));
        let cloud = mock_cloud(iam);
        let policy = Policy {
            protected_principals: protected.map(responder_core::pattern::Pattern::new).into_iter().collect(),
            ..Policy::default()
        };
        let run = revoke_role_sessions(&cloud, &job(&policy), "data-pipeline").await;
        let reason = run.skipped.unwrap_or_default();
        assert!(reason.contains(want), "{path}: {reason}");
        assert_eq!(put.num_calls(), 0, "{path}: the policy was put");
    }
}

#[tokio::test]
async fn a_close_deadline_starts_no_credential_change() {
    let policy = Policy::default();
    let soon = || Some(std::time::Instant::now() + std::time::Duration::from_millis(500));

    let calls = Calls::default();
    let mut iam = user_reads("/");
    iam.extend(user_changes(&calls));
    let cloud = mock_cloud(iam);
    let user_job = CredentialJob { deadline: soon(), ..job(&policy) };
    let run = disable_user(&cloud, &user_job, "ci-deployer", Some("AKIAFINDINGKEY000001"), KeyScope::AllKeys).await;
    assert!(calls.lock().unwrap().is_empty(), "{:?}", calls.lock().unwrap());
    let key = run.log.records.iter().find(|r| r.action == "deactivate-access-key").unwrap();
    assert_eq!(key.status, StepStatus::Planned);
    // Nothing was changed: the reads alone contain nothing.
    assert_eq!(Outcome::of_steps(&run.log.records, false), Outcome::Failed);

    let put = mock!(aws_sdk_iam::Client::put_role_policy).then_output(|| PutRolePolicyOutput::builder().build());
    let mut iam = vec![put.clone()];
    iam.extend(role_reads("/"));
    let cloud = mock_cloud(iam);
    let role_job = CredentialJob { deadline: soon(), ..job(&policy) };
    let run = revoke_role_sessions(&cloud, &role_job, "data-pipeline").await;
    assert_eq!(put.num_calls(), 0);
    let revoke = run.log.records.iter().find(|r| r.action == "revoke-older-sessions").unwrap();
    assert_eq!(revoke.status, StepStatus::Planned);
    assert_eq!(Outcome::of_steps(&run.log.records, false), Outcome::Failed);
}

/// The reads kept for the evidence record: nothing attached, no inline
/// policy, no group (after each test's own rules, which come first).
fn evidence_reads() -> Vec<Rule> {
    use aws_sdk_iam::operation::{
        list_attached_role_policies::ListAttachedRolePoliciesOutput,
        list_attached_user_policies::ListAttachedUserPoliciesOutput, list_groups_for_user::ListGroupsForUserOutput,
        list_role_policies::ListRolePoliciesOutput, list_user_policies::ListUserPoliciesOutput,
    };
    vec![
        mock!(aws_sdk_iam::Client::list_attached_user_policies)
            .then_output(|| ListAttachedUserPoliciesOutput::builder().build()),
        mock!(aws_sdk_iam::Client::list_user_policies)
            .then_output(|| ListUserPoliciesOutput::builder().set_policy_names(Some(vec![])).build().unwrap()),
        mock!(aws_sdk_iam::Client::list_groups_for_user)
            .then_output(|| ListGroupsForUserOutput::builder().set_groups(Some(vec![])).build().unwrap()),
        mock!(aws_sdk_iam::Client::list_attached_role_policies)
            .then_output(|| ListAttachedRolePoliciesOutput::builder().build()),
        mock!(aws_sdk_iam::Client::list_role_policies)
            .then_output(|| ListRolePoliciesOutput::builder().set_policy_names(Some(vec![])).build().unwrap()),
    ]
}

fn mock_cloud(mut iam: Vec<Rule>) -> Cloud {
    iam.extend(evidence_reads());
    let sdk = mocks::sdk_config();
    let mut cloud = Cloud::new(&sdk);
    cloud.iam = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::from(&sdk).interceptor(mocks::interceptor(&iam)).build(),
    );
    cloud
}
