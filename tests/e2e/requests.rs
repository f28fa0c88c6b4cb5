//! What a response costs in requests: the budget each playbook keeps to
//! containment, counted from the requests the SDK sent.

use std::time::Duration;

use responder_core::{Function, Outcome};
use responder_e2e::faults::{Call, FaultInjector};
use responder_e2e::seed::{self, InstanceOptions, Network};
use responder_e2e::{emulator_endpoint, faulty_sdk_config, fixture_for_instance, fixture_naming_principal};

use crate::{cloud, responder};

/// The calls that started before the last of `containing` ended, as
/// `service:Action`.
fn to_containment(calls: &[Call], containing: &[&str]) -> Vec<String> {
    let contained = calls.iter().filter(|c| containing.contains(&c.action.as_str())).map(|c| c.ended).max();
    let contained = contained.expect("no containing call");
    calls.iter().filter(|c| c.started < contained).map(|c| format!("{}:{}", c.service, c.action)).collect()
}

/// A sandbox's first finding also learns its account (STS, where the
/// invocation does not name it) and its GuardDuty detector (where
/// GUARDDUTY_DETECTOR_ID does not): once, never again.
fn first_only(calls: &[Call]) -> Vec<String> {
    let mut once: Vec<String> = calls
        .iter()
        .filter(|c| matches!(c.action.as_str(), "GetCallerIdentity" | "ListDetectors"))
        .map(|c| c.action.clone())
        .collect();
    once.sort();
    once
}

#[tokio::test]
async fn quarantine_contains_an_instance_in_twelve_requests() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let options = InstanceOptions { profile: false, asg: false, ..InstanceOptions::default() };
    let (first, second) = (net.instance(&config, options).await, net.instance(&config, options).await);
    let recorder = FaultInjector::new();
    let r = responder(&faulty_sdk_config(&emulator_endpoint(), &recorder, Duration::from_secs(60)).await, &[]).await;
    let crypto = "ec2-cryptocurrency-bitcointool-high.json";
    let report = r.handle(Function::QuarantineInstance, &fixture_for_instance(crypto, &first.id), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    assert_eq!(first_only(&recorder.calls()), ["GetCallerIdentity", "ListDetectors"]);

    recorder.reset();
    let report = r.handle(Function::QuarantineInstance, &fixture_for_instance(crypto, &second.id), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    let calls = recorder.calls();
    assert!(first_only(&calls).is_empty(), "learnt twice: {:?}", first_only(&calls));
    let before = to_containment(&calls, &["ModifyNetworkInterfaceAttribute"]);
    // Describe (instance, protection, shutdown, the responder's groups) and
    // GuardDuty's confirmation; one record for both ENIs and the record
    // tag's re-read; two allow-all moves and the instance's record; two
    // isolation moves.
    assert_eq!(before.len(), 12, "{before:#?}");
    for eni in [&second.primary_eni, second.secondary_eni.as_ref().unwrap()] {
        assert_eq!(seed::eni_groups(&config, eni).await.len(), 1, "{eni} isolated");
    }
}

#[tokio::test]
async fn disable_iam_user_contains_a_user_in_nine_requests() {
    let config = cloud().await;
    let recorder = FaultInjector::new();
    let r = responder(&faulty_sdk_config(&emulator_endpoint(), &recorder, Duration::from_secs(60)).await, &[]).await;
    let event = |(user, keys, _): &(String, Vec<String>, Vec<String>)| {
        fixture_naming_principal("iam-user-malicious-ip-caller.json", user, Some(&keys[0]))
    };
    let warm = seed::iam_user(&config, 2, 0, true).await;
    let report = r.handle(Function::DisableIamUser, &event(&warm), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");

    recorder.reset();
    let user = seed::iam_user(&config, 2, 0, true).await;
    let report = r.handle(Function::DisableIamUser, &event(&user), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    let before = to_containment(&recorder.calls(), &["UpdateAccessKey", "DeleteLoginProfile", "PutUserPolicy"]);
    // The user with its tags, its keys and its revocation policy, and
    // GuardDuty's confirmation; the record; two keys, the password (deleting
    // it says whether there was one), the revocation.
    assert_eq!(before.len(), 9, "{before:#?}");
    assert!(!seed::has_login_profile(&config, &user.0).await);
    let tags = seed::user_tags(&config, &user.0).await;
    assert_eq!(tags.get("guardduty-responder:login-profile-deleted").map(String::as_str), Some("true"), "{tags:?}");
    assert!(seed::key_states(&config, &user.0).await.values().all(|active| !active));
}
