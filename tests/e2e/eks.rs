//! contain-eks-workload against the emulator, on its AWS side: the IAM
//! principal behind a Kubernetes user contained (a user disabled, one role
//! session denied), protected principals left alone, a node's finding
//! handed from quarantine-instance to the container function, and a
//! cluster the function cannot reach reported as failed with nothing
//! changed. The Kubernetes side is tested against a fake API server in
//! `responder-eks`.

use responder_core::revocation::{POLICY_NAME, STOLEN_SESSIONS_POLICY, stolen_sessions_of};
use responder_core::{Function, Outcome, StepStatus};
use responder_e2e::fixture_with;
use responder_e2e::seed;

use crate::{cloud, responder};

/// The malicious-caller finding, at High, naming `username`.
fn caller_event(username: &str) -> Vec<u8> {
    fixture_with(
        "eks-malicious-ip-caller-iam-user.json",
        &[("\"severity\":5", "\"severity\":8"), ("arn:aws:iam::123456789012:user/ci-bot", username)],
    )
}

#[tokio::test]
async fn the_iam_principal_behind_a_kubernetes_user_is_contained() {
    let config = cloud().await;
    let r = responder(&config, &[]).await;

    let (user, _, _) = seed::iam_user(&config, 2, 0, true).await;
    let report = r
        .handle(Function::ContainEksWorkload, &caller_event(&format!("arn:aws:iam::123456789012:user/{user}")), None)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    let keys = seed::key_states(&config, &user).await;
    assert!(!keys.is_empty() && keys.values().all(|active| !active), "{keys:?}");
    assert!(seed::user_policy(&config, &user, POLICY_NAME).await.is_some());
    // No pod and no binding: the cluster is not reached.
    assert!(!report.steps.iter().any(|s| s.action == "connect-cluster"), "{report:#?}");

    // An assumed role: that session alone is denied, not the role's others.
    let role = seed::iam_role(&config, "dev-deployer", "/").await;
    let event = caller_event(&format!("arn:aws:sts::123456789012:assumed-role/{role}/ci-session"));
    let report = r.handle(Function::ContainEksWorkload, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    let denied = seed::role_policy(&config, &role, STOLEN_SESSIONS_POLICY).await.expect("the session deny");
    assert_eq!(stolen_sessions_of(&denied).into_keys().collect::<Vec<_>>(), vec!["ci-session".to_owned()]);
    assert_eq!(seed::role_policy(&config, &role, POLICY_NAME).await, None, "the role's other sessions keep working");

    // A protected principal is left as it is, and the report says why.
    let (kept, _, _) = seed::iam_user(&config, 1, 0, false).await;
    let guarded = responder(&config, &[("PROTECTED_PRINCIPALS", &kept)]).await;
    let event = caller_event(&format!("arn:aws:iam::123456789012:user/{kept}"));
    let report = guarded.handle(Function::ContainEksWorkload, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Skipped, "{report:#?}");
    assert!(report.reason.as_deref().unwrap_or_default().contains("protected"), "{report:#?}");
    assert!(seed::key_states(&config, &kept).await.values().all(|active| *active));
}

#[tokio::test]
async fn a_cluster_the_function_cannot_reach_fails_and_changes_nothing() {
    let config = cloud().await;
    let r = responder(&config, &[]).await;
    // An RBAC finding for a cluster the emulator does not have.
    let event = fixture_with("eks-admin-access-default-service-account.json", &[("prod-eks", "gone-cluster")]);
    let report = r.handle(Function::ContainEksWorkload, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    let actions: Vec<(&str, StepStatus)> = report.steps.iter().map(|s| (s.action.as_str(), s.status)).collect();
    assert_eq!(actions, [("verify-finding", StepStatus::Done), ("connect-cluster", StepStatus::Failed)], "{report:#?}");
    assert!(report.steps[1].detail.contains("gone-cluster"), "{report:#?}");
}

#[tokio::test]
async fn a_nodes_finding_naming_a_container_goes_to_the_container_function() {
    let config = cloud().await;
    let r = responder(&config, &[]).await;
    let net = seed::Network::create(&config).await;
    let node = net
        .instance(&config, seed::InstanceOptions { second_eni: false, profile: false, asg: false, exempt: false })
        .await;
    let event = fixture_with("ec2-runtime-eks-node-cryptocurrency.json", &[("i-05e436246a6be37fc", &node.id)]);
    let report = r.handle(Function::QuarantineInstance, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Skipped, "{report:#?}");
    assert!(report.reason.as_deref().unwrap_or_default().contains("contain-eks-workload"), "{report:#?}");
    let before = seed::eni_groups(&config, &node.primary_eni).await;
    assert_eq!(before, vec![net.web_group.clone()], "the node is not isolated");
    // The whole node only when the setting says so.
    let whole = responder(&config, &[("ISOLATE_CONTAINER_NODES", "true")]).await;
    let report = whole.handle(Function::QuarantineInstance, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    assert!(report.notes.iter().any(|n| n.contains("every pod on it is cut off")), "{:#?}", report.notes);
}
