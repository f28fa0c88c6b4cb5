//! Acting in member accounts through the member role, on the emulator's
//! multi-account support (AssumeRole into another account id gives
//! credentials that act in that account's separate state).

use std::time::Duration;

use responder_core::{Function, Outcome};
use responder_e2e::faults::FaultInjector;
use responder_e2e::seed::{self, InstanceOptions, Network};
use responder_e2e::{emulator_endpoint, faulty_sdk_config, fixture_with};

use crate::{cloud, responder};

const HOME: &str = "123456789012";
const MEMBER: &str = "111111111111";
const ROLE: &str = "GuardDutyResponderMember";
const EXTERNAL_ID: &str = "shared-secret-4f1c9a";

fn member_event(file: &str, account: &str, instance: &str) -> Vec<u8> {
    // The finding is about the member account; the envelope's receiving
    // account stays the administrator's.
    let text = String::from_utf8(fixture_with(file, &[("i-0a1b2c3d4e5f67890", instance)])).unwrap();
    let mut event: serde_json::Value = serde_json::from_str(&text).unwrap();
    event["detail"]["accountId"] = serde_json::Value::String(account.to_owned());
    let event = serde_json::to_vec(&event).unwrap();
    responder_e2e::register_finding(&event);
    event
}

#[tokio::test]
async fn a_member_accounts_instance_is_quarantined_through_the_member_role() {
    let home = cloud().await;
    let member = seed::as_account(&home, MEMBER).await;
    let role_arn = seed::member_role(&member, HOME, ROLE, EXTERNAL_ID).await;
    assert_eq!(role_arn, format!("arn:aws:iam::{MEMBER}:role/{ROLE}"));
    let net = Network::create(&member).await;
    let inst =
        net.instance(&member, InstanceOptions { second_eni: true, profile: false, asg: false, exempt: false }).await;
    let other =
        net.instance(&member, InstanceOptions { second_eni: false, profile: false, asg: false, exempt: false }).await;

    // The responder's calls are recorded on their way to the emulator.
    let recorder = FaultInjector::new();
    let recorded = faulty_sdk_config(&emulator_endpoint(), &recorder, Duration::from_secs(60)).await;
    let r = responder(
        &recorded,
        &[("ALLOWED_ACCOUNTS", MEMBER), ("MEMBER_ROLE_NAME", ROLE), ("MEMBER_ROLE_EXTERNAL_ID", EXTERNAL_ID)],
    )
    .await;
    let event = member_event("ec2-cryptocurrency-bitcointool-high.json", MEMBER, &inst.id);
    let report = r.handle(Function::QuarantineInstance, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    assert_eq!(report.account.as_deref(), Some(MEMBER));

    let iso = seed::responder_groups(&member, &net.vpc, "isolation").await;
    assert_eq!(iso.len(), 1, "the isolation group is made in the member account");
    let iso = iso[0].group_id().unwrap().to_owned();
    assert_eq!(seed::eni_groups(&member, &inst.primary_eni).await, vec![iso.clone()]);
    assert_eq!(seed::eni_groups(&member, inst.secondary_eni.as_ref().unwrap()).await, vec![iso.clone()]);
    assert!(seed::responder_groups(&home, &net.vpc, "isolation").await.is_empty(), "nothing is made at home");

    // A second finding, on another instance of the same member and region:
    // the role session is reused.
    let second = member_event("ec2-cryptocurrency-bitcointool-high.json", MEMBER, &other.id);
    let again = r.handle(Function::QuarantineInstance, &second, None).await.unwrap();
    assert_eq!(again.outcome, Outcome::Contained, "{again:#?}");
    assert_eq!(seed::eni_groups(&member, &other.primary_eni).await, vec![iso]);

    let assumed: Vec<_> = recorder.calls().into_iter().filter(|c| c.action == "AssumeRole").collect();
    assert_eq!(assumed.len(), 1, "one AssumeRole per (account, region): {assumed:#?}");
    assert_eq!(assumed[0].param("RoleArn").as_deref(), Some(role_arn.as_str()));
    assert_eq!(assumed[0].param("ExternalId").as_deref(), Some(EXTERNAL_ID));
}

#[tokio::test]
async fn a_wrong_external_id_or_a_missing_member_role_fails_and_changes_nothing() {
    let home = cloud().await;
    let account = "444444444444";
    let member = seed::as_account(&home, account).await;
    seed::member_role(&member, HOME, ROLE, EXTERNAL_ID).await;
    let net = Network::create(&member).await;
    let inst =
        net.instance(&member, InstanceOptions { second_eni: false, profile: false, asg: false, exempt: false }).await;
    let event = member_event("ec2-cryptocurrency-bitcointool-high.json", account, &inst.id);

    for (role, external_id) in [(ROLE, "not-the-shared-secret"), ("NoSuchResponderRole", EXTERNAL_ID)] {
        let r = responder(
            &home,
            &[("ALLOWED_ACCOUNTS", account), ("MEMBER_ROLE_NAME", role), ("MEMBER_ROLE_EXTERNAL_ID", external_id)],
        )
        .await;
        let result = r.handle(Function::QuarantineInstance, &event, None).await;
        let report = responder_aws::report_of(&result).0.expect("a report");
        assert_eq!(report.outcome, Outcome::Failed, "{role}/{external_id}: {report:#?}");
        // The finding itself is confirmed in the administrator account.
        assert_eq!(report.steps[0].action, "verify-finding", "{report:#?}");
        assert_eq!(report.steps[1].action, "assume-member-role", "{report:#?}");
        assert_eq!(report.steps[1].error_code.as_deref(), Some("AccessDenied"), "{report:#?}");
        assert!(report.steps[1].detail.contains(&format!("arn:aws:iam::{account}:role/{role}")), "{report:#?}");
        assert_eq!(report.steps.len(), 2, "nothing after a failed assume: {report:#?}");
    }
    assert_eq!(seed::eni_groups(&member, &inst.primary_eni).await, vec![net.web_group.clone()]);
    assert!(seed::responder_groups(&member, &net.vpc, "isolation").await.is_empty());
}

#[tokio::test]
async fn accounts_outside_the_list_or_without_a_member_role_are_refused() {
    let home = cloud().await;
    let other = "222222222222";
    let member = seed::as_account(&home, other).await;
    let net = Network::create(&member).await;
    let inst =
        net.instance(&member, InstanceOptions { second_eni: false, profile: false, asg: false, exempt: false }).await;
    let event = member_event("ec2-cryptocurrency-bitcointool-high.json", other, &inst.id);

    // Not in ALLOWED_ACCOUNTS (which defaults to the own account): skipped.
    let r = responder(&home, &[("MEMBER_ROLE_NAME", ROLE)]).await;
    let report = r.handle(Function::QuarantineInstance, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Skipped);
    assert!(report.reason.unwrap().contains("ALLOWED_ACCOUNTS"));

    // Allowed, but no member role to act through: a clear failure.
    let r = responder(&home, &[("ALLOWED_ACCOUNTS", other)]).await;
    let report = r.handle(Function::QuarantineInstance, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Failed);
    assert_eq!(report.steps[1].action, "assume-member-role");
    assert!(report.steps[1].detail.contains("MEMBER_ROLE_NAME"));

    assert_eq!(seed::eni_groups(&member, &inst.primary_eni).await, vec![net.web_group.clone()]);
}
