//! Repeated and concurrent deliveries end in the same state as one.

use responder_core::revocation::POLICY_NAME;
use responder_core::{Function, Outcome};
use responder_e2e::seed::{self, InstanceOptions, Network};
use responder_e2e::{fixture_for_instance, fixture_with};
use responder_ec2::Cloud;
use responder_ec2::release::{ReleaseOptions, release};

use crate::{cloud, responder};

const CRYPTO: &str = "ec2-cryptocurrency-bitcointool-high.json";

/// A delivery either contained the resource, or failed in a way Lambda
/// retries (and its report says what did not hold): never `partial`,
/// `failed` or `skipped` as a final answer.
fn assert_contained_or_retryable(result: &Result<responder_core::Report, responder_aws::HandlerError>) {
    match result {
        Ok(report) => assert_eq!(report.outcome, Outcome::Contained, "{report:#?}"),
        Err(e) => {
            assert_eq!(e.error_type, responder_aws::HandlerError::RETRYABLE, "{e:?}");
            let report = responder_aws::report_of(result).0.expect("a retryable failure carries its report");
            assert_ne!(report.outcome, Outcome::Contained, "retryable yet contained: {report:#?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_deliveries_end_like_one() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let inst =
        net.instance(&config, InstanceOptions { second_eni: true, profile: true, asg: false, exempt: false }).await;
    let before_secondary = seed::eni_groups(&config, inst.secondary_eni.as_ref().unwrap()).await;
    let r = responder(&config, &[]).await;
    let event = fixture_for_instance(CRYPTO, &inst.id);
    let reports =
        futures::future::join_all((0..20).map(|_| r.handle(Function::QuarantineInstance, &event, None))).await;
    for report in &reports {
        // A delivery may see a twin's half-made group and fail a step; it is
        // then retried. Every delivery must end contained or retryable, and
        // none may claim success over a failure.
        assert_contained_or_retryable(report);
    }
    // Whatever each delivery saw, no ENI was left on the allow-all group.
    let untrack: Vec<String> = seed::responder_groups(&config, &net.vpc, "untrack")
        .await
        .iter()
        .filter_map(|g| g.group_id().map(str::to_owned))
        .collect();
    for eni in [Some(&inst.primary_eni), inst.secondary_eni.as_ref()].into_iter().flatten() {
        let groups = seed::eni_groups(&config, eni).await;
        assert!(!groups.iter().any(|g| untrack.contains(g)), "{eni} left on the allow-all group: {groups:?}");
    }
    // One more delivery (the retry) leaves it contained.
    let last = r.handle(Function::QuarantineInstance, &event, None).await.unwrap();
    assert_eq!(last.outcome, Outcome::Contained, "{last:#?}");

    let iso = seed::responder_groups(&config, &net.vpc, "isolation").await;
    assert_eq!(iso.len(), 1, "20 deliveries made {} isolation groups", iso.len());
    assert!(iso[0].ip_permissions().is_empty() && iso[0].ip_permissions_egress().is_empty());
    assert_eq!(seed::responder_groups(&config, &net.vpc, "untrack").await.len(), 1);
    let iso = iso[0].group_id().unwrap().to_owned();
    assert_eq!(seed::eni_groups(&config, &inst.primary_eni).await, vec![iso.clone()]);
    assert_eq!(seed::eni_groups(&config, inst.secondary_eni.as_ref().unwrap()).await, vec![iso]);
    assert!(!seed::snapshots_of(&config, &inst.volume).await.is_empty());

    // The record is the original state, not a twin's view of a half-done quarantine.
    let run = release(&Cloud::new(&config), &inst.id, ReleaseOptions::default()).await;
    assert!(run.log.all_held(), "{:#?}", run.log.records);
    assert_eq!(seed::eni_groups(&config, &inst.primary_eni).await, vec![net.web_group.clone()]);
    assert_eq!(seed::eni_groups(&config, inst.secondary_eni.as_ref().unwrap()).await, before_secondary);
    assert!(!seed::termination_protection(&config, &inst.id).await);
    assert_eq!(seed::shutdown_behavior(&config, &inst.id).await, "terminate");
    assert_eq!(seed::profile_of(&config, &inst.id).await, inst.profile_arn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_instances_in_one_vpc_share_one_isolation_group() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let opts = InstanceOptions { second_eni: false, profile: false, asg: false, exempt: false };
    let instances = futures::future::join_all((0..50).map(|_| net.instance(&config, opts))).await;
    let r = responder(&config, &[]).await;
    let events: Vec<Vec<u8>> = instances.iter().map(|i| fixture_for_instance(CRYPTO, &i.id)).collect();
    let reports =
        futures::future::join_all(events.iter().map(|e| r.handle(Function::QuarantineInstance, e, None))).await;
    let untrack: Vec<String> = seed::responder_groups(&config, &net.vpc, "untrack")
        .await
        .iter()
        .filter_map(|g| g.group_id().map(str::to_owned))
        .collect();
    for i in &instances {
        let groups = seed::eni_groups(&config, &i.primary_eni).await;
        assert!(!groups.iter().any(|g| untrack.contains(g)), "{} left on the allow-all group: {groups:?}", i.id);
    }
    // Retry what a twin's half-made group made fail, as Lambda would.
    for (event, report) in events.iter().zip(reports) {
        assert_contained_or_retryable(&report);
        let contained = matches!(&report, Ok(r) if r.outcome == Outcome::Contained);
        if !contained {
            let again = r.handle(Function::QuarantineInstance, event, None).await.unwrap();
            assert_eq!(again.outcome, Outcome::Contained, "{again:#?}");
        }
    }
    let iso = seed::responder_groups(&config, &net.vpc, "isolation").await;
    assert_eq!(iso.len(), 1, "50 quarantines made {} isolation groups", iso.len());
    let iso = iso[0].group_id().unwrap().to_owned();
    for i in &instances {
        assert_eq!(seed::eni_groups(&config, &i.primary_eni).await, vec![iso.clone()], "{}", i.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_deliveries_racing_on_one_user_end_like_one() {
    let config = cloud().await;
    let (user, keys, _) = seed::iam_user(&config, 2, 0, true).await;
    let r = responder(&config, &[]).await;
    let event = fixture_with(
        "iam-user-malicious-ip-caller.json",
        &[("ci-deployer", &user), ("AKIA2EXAMPLEKEY7QXK3", &keys[0])],
    );
    let (a, b) = futures::join!(
        r.handle(Function::DisableIamUser, &event, None),
        r.handle(Function::DisableIamUser, &event, None)
    );
    for report in [a.unwrap(), b.unwrap()] {
        assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    }
    let states = seed::key_states(&config, &user).await;
    assert!(keys.iter().all(|k| !states[k]), "{states:?}");
    assert!(!seed::has_login_profile(&config, &user).await);
    assert!(seed::user_policy(&config, &user, POLICY_NAME).await.is_some());
    // Release restores both keys: the record holds every key either delivery deactivated.
    let run = responder_iam::credentials::release_user(&responder_iam::Cloud::new(&config), &user).await;
    assert!(run.log.all_held(), "{:#?}", run.log.records);
    let states = seed::key_states(&config, &user).await;
    assert!(keys.iter().all(|k| states[k]), "{states:?}");
}

/// A finding that names an instance of another account acts only in the
/// finding's account, where no such instance exists.
#[tokio::test]
async fn an_instance_of_another_account_is_not_reached() {
    let home = cloud().await;
    let other = seed::as_account(&home, "333333333333").await;
    let net = Network::create(&other).await;
    let inst =
        net.instance(&other, InstanceOptions { second_eni: false, profile: false, asg: false, exempt: false }).await;
    let r = responder(&home, &[]).await;
    // The finding claims the home account.
    let report = r.handle(Function::QuarantineInstance, &fixture_for_instance(CRYPTO, &inst.id), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Failed);
    assert_eq!(seed::eni_groups(&other, &inst.primary_eni).await, vec![net.web_group.clone()]);
}
