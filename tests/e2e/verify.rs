//! Only findings GuardDuty has are acted on: a made-up event, one that
//! differs from GuardDuty's finding, or one GuardDuty archived since changes
//! nothing, whichever function receives it.

use responder_core::revocation::POLICY_NAME;
use responder_core::{Function, Outcome, Report, StepStatus};
use responder_e2e::seed::{self, InstanceOptions, Network};
use responder_e2e::{emulator_endpoint, fixture_for_instance, forged, register_finding};

use crate::{cloud, responder};

const CRYPTO: &str = "ec2-cryptocurrency-bitcointool-high.json";

/// The report of a refused event: the confirmation failed with `code`, and
/// no step after it changed anything.
fn assert_refused(report: &Report, code: &str) {
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    let verify = &report.steps[0];
    assert_eq!(verify.action, "verify-finding", "{report:#?}");
    assert_eq!(verify.status, StepStatus::Failed, "{report:#?}");
    assert_eq!(verify.error_code.as_deref(), Some(code), "{report:#?}");
    assert!(
        report.steps[1..]
            .iter()
            .all(|s| !matches!(s.status, StepStatus::Done | StepStatus::AlreadyDone)
                || s.action.starts_with("describe-")),
        "a step ran past the closed gate: {report:#?}"
    );
}

#[tokio::test]
async fn a_made_up_finding_changes_nothing_in_any_function() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let inst = net.instance(&config, InstanceOptions::default()).await;
    let (user, keys, _) = seed::iam_user(&config, 2, 0, true).await;
    let role = seed::iam_role(&config, "data-pipeline", "/").await;
    let trail = seed::unique("forged-trail");
    seed::trail(&config, &emulator_endpoint(), &trail).await;
    seed::stop_trail(&config, &trail).await;
    let r = responder(&config, &[]).await;

    let cases = [
        (Function::QuarantineInstance, forged(CRYPTO, &[("i-0a1b2c3d4e5f67890", &inst.id)])),
        (
            Function::DisableIamUser,
            forged("iam-user-malicious-ip-caller.json", &[("ci-deployer", &user), ("AKIA2EXAMPLEKEY7QXK3", &keys[0])]),
        ),
        (Function::RevokeRoleSessions, forged("iam-role-malicious-ip-caller.json", &[("data-pipeline", &role)])),
        (
            Function::RestoreCloudtrail,
            forged("cloudtrail-logging-disabled.json", &[("\"management-events\"", &format!("\"{trail}\""))]),
        ),
    ];
    for (function, event) in cases {
        let report = r.handle(function, &event, None).await.unwrap();
        assert_refused(&report, "FindingNotFound");
        assert!(report.steps[0].detail.contains("possibly forged"), "{function}: {report:#?}");
        // Reported as High, whatever the event claimed.
        assert!(report.severity.unwrap_or_default() >= 7.0, "{function}: {report:#?}");
        assert!(report.notes.iter().any(|n| n.contains("who invoked it")), "{function}: {report:#?}");
    }

    // Read back: nothing was touched.
    assert_eq!(seed::eni_groups(&config, &inst.primary_eni).await, vec![net.web_group.clone()]);
    assert!(!seed::termination_protection(&config, &inst.id).await);
    assert!(seed::responder_groups(&config, &net.vpc, "isolation").await.is_empty());
    assert!(seed::key_states(&config, &user).await.values().all(|active| *active));
    assert!(seed::has_login_profile(&config, &user).await);
    assert_eq!(seed::user_policy(&config, &user, POLICY_NAME).await, None);
    assert_eq!(seed::role_policy(&config, &role, POLICY_NAME).await, None);
    assert!(!seed::trail_logging(&config, &trail).await);
}

#[tokio::test]
async fn an_event_that_differs_from_guardduty_or_that_was_archived_changes_nothing() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let opts = InstanceOptions { second_eni: false, profile: false, asg: false, exempt: false };
    let (named, other) = (net.instance(&config, opts).await, net.instance(&config, opts).await);
    let r = responder(&config, &[]).await;

    // GuardDuty's finding names one instance; the event, another.
    let real = fixture_for_instance(CRYPTO, &named.id);
    let mut event: serde_json::Value = serde_json::from_slice(&real).unwrap();
    event["detail"]["resource"]["instanceDetails"]["instanceId"] = other.id.clone().into();
    let report = r.handle(Function::QuarantineInstance, &serde_json::to_vec(&event).unwrap(), None).await.unwrap();
    assert_refused(&report, "FindingMismatch");
    assert!(report.steps[0].detail.contains(&other.id) && report.steps[0].detail.contains(&named.id), "{report:#?}");

    // The same for a type the event upgrades.
    let mut event: serde_json::Value = serde_json::from_slice(&real).unwrap();
    event["detail"]["type"] = "Backdoor:EC2/C&CActivity.B".into();
    let report = r.handle(Function::QuarantineInstance, &serde_json::to_vec(&event).unwrap(), None).await.unwrap();
    assert_refused(&report, "FindingMismatch");

    // GuardDuty archived it (a person, or a suppression rule) after sending.
    let mut archived: serde_json::Value = serde_json::from_slice(&real).unwrap();
    archived["detail"]["service"]["archived"] = true.into();
    register_finding(&serde_json::to_vec(&archived).unwrap());
    let report = r.handle(Function::QuarantineInstance, &real, None).await.unwrap();
    assert_refused(&report, "FindingArchived");
    assert!(!report.notes.iter().any(|n| n.contains("who invoked it")), "archived is not forged: {report:#?}");

    for inst in [&named, &other] {
        assert_eq!(seed::eni_groups(&config, &inst.primary_eni).await, vec![net.web_group.clone()], "{}", inst.id);
    }
    assert!(seed::responder_groups(&config, &net.vpc, "isolation").await.is_empty());

    // The real event, once GuardDuty has it unarchived again, is contained.
    register_finding(&real);
    let report = r.handle(Function::QuarantineInstance, &real, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
}

#[tokio::test]
async fn without_verification_the_event_is_taken_at_its_word() {
    let config = cloud().await;
    let role = seed::iam_role(&config, "data-pipeline", "/").await;
    let r = responder(&config, &[("VERIFY_FINDINGS", "false")]).await;
    let event = forged("iam-role-malicious-ip-caller.json", &[("data-pipeline", &role)]);
    let report = r.handle(Function::RevokeRoleSessions, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    assert!(report.steps.iter().all(|s| s.action != "verify-finding"), "{report:#?}");
    assert!(seed::role_policy(&config, &role, POLICY_NAME).await.is_some());
}
