//! quarantine-instance and release, end to end.

use responder_core::report::is_read;
use responder_core::{Function, Outcome, StepStatus};
use responder_e2e::fixture_for_instance;
use responder_e2e::seed::{self, InstanceOptions, Network};
use responder_ec2::Cloud;
use responder_ec2::release::{ReleaseOptions, release};

use crate::{cloud, responder};

const CRYPTO: &str = "ec2-cryptocurrency-bitcointool-high.json";

#[tokio::test]
async fn two_eni_instance_is_quarantined_on_every_eni() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let inst = net.instance(&config, InstanceOptions::default()).await;
    let secondary = inst.secondary_eni.clone().unwrap();
    assert_eq!(seed::eni_groups(&config, &secondary).await.len(), 2);

    let r = responder(&config, &[]).await;
    // The fixture lists one ENI (not even this instance's): the responder
    // must find both by describing the instance.
    let report = r.handle(Function::QuarantineInstance, &fixture_for_instance(CRYPTO, &inst.id), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    assert_eq!(report.steps[0].action, "verify-finding", "{report:#?}");
    assert_eq!(report.steps[0].status, StepStatus::Done, "{report:#?}");

    let isolation = seed::responder_groups(&config, &net.vpc, "isolation").await;
    assert_eq!(isolation.len(), 1);
    let iso = isolation[0].group_id().unwrap().to_owned();
    assert!(isolation[0].ip_permissions().is_empty(), "isolation group allows inbound");
    assert!(isolation[0].ip_permissions_egress().is_empty(), "isolation group allows outbound");
    assert_eq!(seed::eni_groups(&config, &inst.primary_eni).await, vec![iso.clone()]);
    assert_eq!(seed::eni_groups(&config, &secondary).await, vec![iso.clone()]);
    for eni in [&inst.primary_eni, &secondary] {
        let untrack = report.steps.iter().find(|s| s.action == "untrack-eni" && &s.target == eni).unwrap();
        assert_eq!(untrack.status, StepStatus::Done, "two-step isolation on {eni}");
    }

    assert!(seed::termination_protection(&config, &inst.id).await);
    assert_eq!(seed::shutdown_behavior(&config, &inst.id).await, "stop");
    assert_eq!(seed::snapshots_of(&config, &inst.volume).await.len(), 1);
    assert_eq!(seed::profile_of(&config, &inst.id).await, None);
    assert_eq!(seed::asg_of(&config, &inst.id).await, None);
    let tags = seed::instance_tags(&config, &inst.id).await;
    assert_eq!(tags.get("guardduty-responder:status").map(String::as_str), Some("quarantined"));
    assert_eq!(tags.get("guardduty-responder:finding-id").map(String::as_str), Some(report.finding_id.as_str()));
    assert!(tags.contains_key("guardduty-responder:quarantined-at"));
}

#[tokio::test]
async fn a_second_delivery_changes_nothing_and_creates_no_second_group() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let inst = net.instance(&config, InstanceOptions::default()).await;
    let r = responder(&config, &[]).await;
    let event = fixture_for_instance(CRYPTO, &inst.id);
    let first = r.handle(Function::QuarantineInstance, &event, None).await.unwrap();
    assert_eq!(first.outcome, Outcome::Contained, "{first:#?}");
    let second = r.handle(Function::QuarantineInstance, &event, None).await.unwrap();
    assert_eq!(second.outcome, Outcome::Contained, "{second:#?}");
    let changed: Vec<_> = second
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Done && !is_read(&s.action) && s.action != "tag-instance")
        .collect();
    assert!(changed.is_empty(), "second delivery changed things: {changed:#?}");
    assert_eq!(seed::responder_groups(&config, &net.vpc, "isolation").await.len(), 1);
    assert_eq!(seed::responder_groups(&config, &net.vpc, "untrack").await.len(), 1);
    assert_eq!(seed::snapshots_of(&config, &inst.volume).await.len(), 1);

    // The record still holds the original groups, not the isolation group.
    let cloud = Cloud::new(&config);
    let released = release(&cloud, &inst.id, ReleaseOptions::default()).await;
    assert!(released.log.all_held(), "{:#?}", released.log.records);
    assert_eq!(seed::eni_groups(&config, &inst.primary_eni).await, vec![net.web_group.clone()]);
}

#[tokio::test]
async fn two_instances_in_one_vpc_share_one_isolation_group() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let opts = InstanceOptions { second_eni: false, profile: false, asg: false, exempt: false };
    let a = net.instance(&config, opts).await;
    let b = net.instance(&config, opts).await;
    let r = responder(&config, &[]).await;
    let (ea, eb) = (fixture_for_instance(CRYPTO, &a.id), fixture_for_instance("ec2-tor-client.json", &b.id));
    let (ra, rb) = futures::join!(
        r.handle(Function::QuarantineInstance, &ea, None),
        r.handle(Function::QuarantineInstance, &eb, None),
    );
    assert_eq!(ra.unwrap().outcome, Outcome::Contained);
    assert_eq!(rb.unwrap().outcome, Outcome::Contained);
    let isolation = seed::responder_groups(&config, &net.vpc, "isolation").await;
    assert_eq!(isolation.len(), 1, "concurrent quarantines in one VPC made {} groups", isolation.len());
    let iso = isolation[0].group_id().unwrap().to_owned();
    assert_eq!(seed::eni_groups(&config, &a.primary_eni).await, vec![iso.clone()]);
    assert_eq!(seed::eni_groups(&config, &b.primary_eni).await, vec![iso]);
}

/// Skipped findings and dry runs leave every resource as it was.
#[tokio::test]
async fn skipped_and_dry_run_findings_change_nothing() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let plain = InstanceOptions { second_eni: true, profile: true, asg: false, exempt: false };
    let inst = net.instance(&config, plain).await;
    let exempt = net.instance(&config, InstanceOptions { exempt: true, ..plain }).await;
    let r = responder(&config, &[]).await;
    let dry = responder(&config, &[("DRY_RUN", "true")]).await;

    let cases = [
        (&r, "ec2-cryptocurrency-sample-finding.json", &inst, Outcome::Skipped),
        (&r, "ec2-backdoor-spambot-medium.json", &inst, Outcome::Skipped),
        (&r, "ec2-trojan-archived-finding.json", &inst, Outcome::Skipped),
        (&r, "ec2-ssh-bruteforce-target-victim.json", &inst, Outcome::Skipped),
        (&r, "ec2-cryptocurrency-other-account.json", &inst, Outcome::Skipped),
        (&r, CRYPTO, &exempt, Outcome::Skipped),
        (&dry, CRYPTO, &inst, Outcome::DryRun),
    ];
    for (responder, file, target, want) in cases {
        let report = responder
            .handle(Function::QuarantineInstance, &fixture_for_instance(file, &target.id), None)
            .await
            .unwrap();
        assert_eq!(report.outcome, want, "{file}: {report:#?}");
        if want == Outcome::Skipped {
            assert!(report.reason.as_deref().is_some_and(|r| !r.is_empty()), "{file}: a skip needs a reason");
        } else {
            assert!(report.steps.iter().any(|s| s.action == "isolate-eni" && s.status == StepStatus::Planned));
            assert!(report.steps.iter().all(|s| s.status != StepStatus::Done || is_read(&s.action)));
        }
    }
    for i in [&inst, &exempt] {
        assert_eq!(seed::eni_groups(&config, &i.primary_eni).await, vec![net.web_group.clone()]);
        let mut both = vec![net.web_group.clone(), net.admin_group.clone()];
        both.sort();
        assert_eq!(seed::eni_groups(&config, i.secondary_eni.as_ref().unwrap()).await, both);
        assert!(!seed::termination_protection(&config, &i.id).await);
        assert!(seed::profile_of(&config, &i.id).await.is_some());
        assert!(seed::snapshots_of(&config, &i.volume).await.is_empty());
        assert!(!seed::instance_tags(&config, &i.id).await.contains_key("guardduty-responder:status"));
    }
    assert!(seed::responder_groups(&config, &net.vpc, "isolation").await.is_empty());
}

#[tokio::test]
async fn a_vanished_instance_is_a_clear_failure() {
    let config = cloud().await;
    let r = responder(&config, &[]).await;
    let report = r
        .handle(Function::QuarantineInstance, &fixture_for_instance(CRYPTO, "i-0fedcba9876543210"), None)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Failed);
    assert_eq!(report.steps.len(), 2, "{report:#?}");
    assert_eq!(report.steps[0].action, "verify-finding");
    assert_eq!(report.steps[1].action, "describe-instance");
    assert!(report.steps[1].detail.contains("does not exist"), "{:?}", report.steps[1]);
}

#[tokio::test]
async fn release_restores_the_recorded_state_exactly() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let inst = net.instance(&config, InstanceOptions::default()).await;
    let secondary = inst.secondary_eni.clone().unwrap();
    let before_secondary = seed::eni_groups(&config, &secondary).await;
    let r = responder(&config, &[]).await;
    let report = r.handle(Function::QuarantineInstance, &fixture_for_instance(CRYPTO, &inst.id), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");

    let cloud = Cloud::new(&config);
    let run = release(&cloud, &inst.id, ReleaseOptions { reattach_asg: true }).await;
    assert!(run.log.all_held(), "{:#?}", run.log.records);
    assert_eq!(seed::eni_groups(&config, &inst.primary_eni).await, vec![net.web_group.clone()]);
    assert_eq!(seed::eni_groups(&config, &secondary).await, before_secondary);
    assert_eq!(seed::profile_of(&config, &inst.id).await, inst.profile_arn);
    assert!(!seed::termination_protection(&config, &inst.id).await);
    assert_eq!(seed::shutdown_behavior(&config, &inst.id).await, "terminate");
    assert_eq!(seed::asg_of(&config, &inst.id).await, inst.asg);
    let tags = seed::instance_tags(&config, &inst.id).await;
    assert_eq!(tags.get("guardduty-responder:status").map(String::as_str), Some("released"));
    assert!(!tags.contains_key("guardduty-responder:original-state"));
    // Evidence stays.
    assert_eq!(seed::snapshots_of(&config, &inst.volume).await.len(), 1);
    // Releasing again is a clear no-op.
    let again = release(&cloud, &inst.id, ReleaseOptions::default()).await;
    assert!(again.skipped.is_some());
}

#[tokio::test]
async fn reports_are_published_to_the_topic() {
    let config = cloud().await;
    let (topic, queue) = seed::topic_with_queue(&config).await;
    let net = Network::create(&config).await;
    let inst =
        net.instance(&config, InstanceOptions { second_eni: false, profile: false, asg: false, exempt: false }).await;
    let r = responder(&config, &[("NOTIFY_TOPIC_ARN", &topic)]).await;
    let report = r.handle(Function::QuarantineInstance, &fixture_for_instance(CRYPTO, &inst.id), None).await.unwrap();
    let n = report.notification.clone().unwrap();
    assert_eq!(n.status, "published", "{n:?}");
    // "published" is what the topic received, not only what the call said.
    let arrived = seed::notifications(&config, &queue, 1, 10).await;
    assert_eq!(arrived.len(), 1, "{arrived:#?}");
    let body = arrived[0]["Message"].as_str().unwrap();
    assert!(body.contains(&inst.id) && body.contains(&report.finding_id), "{body}");

    // A topic that does not exist: containment still holds, the failure shows.
    let missing = format!("{topic}-missing");
    let inst2 =
        net.instance(&config, InstanceOptions { second_eni: false, profile: false, asg: false, exempt: false }).await;
    let r = responder(&config, &[("NOTIFY_TOPIC_ARN", &missing)]).await;
    let report = r.handle(Function::QuarantineInstance, &fixture_for_instance(CRYPTO, &inst2.id), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained);
    assert_eq!(report.notification.unwrap().status, "failed");
}

#[tokio::test]
async fn invalid_events_fail_with_invalid_event() {
    let config = cloud().await;
    let r = responder(&config, &[]).await;
    for payload in [
        &b""[..],
        b"[]",
        b"null",
        b"\"x\"",
        b"{}",
        b"{\"detail-type\":\"GuardDuty Finding\",\"source\":\"aws.guardduty\"}",
    ] {
        let err = r.handle(Function::QuarantineInstance, payload, None).await.unwrap_err();
        assert_eq!(err.error_type, "InvalidEvent", "{}", String::from_utf8_lossy(payload));
    }
    let truncated = std::fs::read(responder_e2e::root().join("events/invalid/truncated-finding.json")).unwrap();
    assert_eq!(r.handle(Function::QuarantineInstance, &truncated, None).await.unwrap_err().error_type, "InvalidEvent");
    // And it keeps serving.
    let ok = r
        .handle(
            Function::QuarantineInstance,
            &fixture_for_instance("ec2-backdoor-spambot-medium.json", "i-0123456789abcdef0"),
            None,
        )
        .await;
    assert_eq!(ok.unwrap().outcome, Outcome::Skipped);
}

#[tokio::test]
async fn quarantine_requires_imdsv2_and_keeps_the_volumes_and_release_puts_them_back() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let inst = net.instance(&config, InstanceOptions::default()).await;
    let before = seed::metadata_and_volumes(&config, &inst.id).await;
    assert_eq!((before.0.as_str(), before.1), ("optional", 2), "{before:?}");
    assert!(before.2.iter().any(|(_, deleted)| *deleted), "the root volume is deleted on termination: {before:?}");

    let r = responder(&config, &[]).await;
    let report = r.handle(Function::QuarantineInstance, &fixture_for_instance(CRYPTO, &inst.id), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    let (tokens, hops, volumes) = seed::metadata_and_volumes(&config, &inst.id).await;
    assert_eq!((tokens.as_str(), hops), ("required", 1));
    assert!(volumes.iter().all(|(_, deleted)| !deleted), "{volumes:?}");

    let run = release(&Cloud::new(&config), &inst.id, ReleaseOptions::default()).await;
    assert!(run.log.all_held(), "{:#?}", run.log.records);
    assert_eq!(seed::metadata_and_volumes(&config, &inst.id).await, before);
}

#[tokio::test]
async fn an_ec2_attack_sequence_quarantines_each_instance_and_denies_the_stolen_session() {
    const SEQUENCE: &str = "ec2-attack-sequence-compromised-instance-group.json";
    let config = cloud().await;
    let net = Network::create(&config).await;
    let a = net.instance(&config, InstanceOptions::default()).await;
    let b = net.instance(&config, InstanceOptions::default()).await;
    let role = seed::iam_role(&config, "web-app-role", "/").await;
    let event = responder_e2e::fixture_with(
        SEQUENCE,
        &[("i-0a1b2c3d4e5f67890", &a.id), ("i-0fedcba9876543210", &b.id), ("web-app-role", &role)],
    );
    let r = responder(&config, &[]).await;
    let report = r.handle(Function::QuarantineInstance, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    let isolation = seed::responder_groups(&config, &net.vpc, "isolation").await[0].group_id().unwrap().to_owned();
    for inst in [&a, &b] {
        assert_eq!(seed::eni_groups(&config, &inst.primary_eni).await, vec![isolation.clone()], "{}", inst.id);
    }
    let revoked = r.handle(Function::RevokeRoleSessions, &event, None).await.unwrap();
    assert_eq!(revoked.outcome, Outcome::Contained, "{revoked:#?}");
    let denied = seed::role_policy(&config, &role, responder_core::revocation::STOLEN_SESSIONS_POLICY).await.unwrap();
    let sessions: Vec<String> = responder_core::revocation::stolen_sessions_of(&denied).into_keys().collect();
    assert_eq!(sessions, vec![a.id.clone()], "only the session the sequence names");
    assert_eq!(seed::role_policy(&config, &role, responder_core::revocation::POLICY_NAME).await, None);
}
