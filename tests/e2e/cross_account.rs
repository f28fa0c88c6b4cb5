//! Acting in member accounts through the member role, on the emulator's
//! multi-account support (AssumeRole into another account id gives
//! credentials that act in that account's separate state).

use responder_core::{Function, Outcome};
use responder_e2e::fixture_with;
use responder_e2e::seed::{self, InstanceOptions, Network};

use crate::{cloud, responder};

const MEMBER: &str = "111111111111";
const ROLE: &str = "GuardDutyResponderMember";

fn member_event(file: &str, account: &str, instance: &str) -> Vec<u8> {
    // The finding is about the member account; the envelope's receiving
    // account stays the administrator's.
    let text = String::from_utf8(fixture_with(file, &[("i-0a1b2c3d4e5f67890", instance)])).unwrap();
    let mut event: serde_json::Value = serde_json::from_str(&text).unwrap();
    event["detail"]["accountId"] = serde_json::Value::String(account.to_owned());
    serde_json::to_vec(&event).unwrap()
}

#[tokio::test]
async fn a_member_accounts_instance_is_quarantined_through_the_member_role() {
    let home = cloud().await;
    let member = seed::as_account(&home, MEMBER).await;
    let net = Network::create(&member).await;
    let inst =
        net.instance(&member, InstanceOptions { second_eni: true, profile: false, asg: false, exempt: false }).await;

    let r = responder(
        &home,
        &[("ALLOWED_ACCOUNTS", MEMBER), ("MEMBER_ROLE_NAME", ROLE), ("MEMBER_ROLE_EXTERNAL_ID", "shared-secret")],
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
    assert_eq!(seed::eni_groups(&member, inst.secondary_eni.as_ref().unwrap()).await, vec![iso]);

    // A second finding for the same member reuses the cached role session.
    let again = r.handle(Function::QuarantineInstance, &event, None).await.unwrap();
    assert_eq!(again.outcome, Outcome::Contained);
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
    assert_eq!(report.steps[0].action, "assume-member-role");
    assert!(report.steps[0].detail.contains("MEMBER_ROLE_NAME"));

    assert_eq!(seed::eni_groups(&member, &inst.primary_eni).await, vec![net.web_group.clone()]);
}
