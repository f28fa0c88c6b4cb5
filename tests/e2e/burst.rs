//! An outbreak: many findings at once, under the account's request rate
//! limits. Every finding ends contained or as a retryable failure (Lambda
//! delivers the event again); none is reported contained while it is not,
//! none is lost.

use std::time::Duration;

use futures::future::join_all;
use responder_aws::HandlerError;
use responder_aws::cloud::{retries, timeouts};
use responder_core::{Function, Outcome};
use responder_e2e::faults::{Fault, FaultInjector};
use responder_e2e::seed::{self, InstanceOptions, Network};
use responder_e2e::{
    Responders, emulator_endpoint, fixture_for_instance, fixture_naming_principal, recorded_by, sdk_config,
};

use crate::responder;

/// How many findings the burst holds in CI: enough that the rate limits
/// below are met many times over.
const FINDINGS: usize = 6;

/// The SDK configuration the functions run with (retries and timeouts),
/// through an injector that meters calls as AWS does.
async fn metered(injector: &FaultInjector) -> aws_config::SdkConfig {
    recorded_by(&sdk_config(&emulator_endpoint()).await, injector)
        .into_builder()
        .retry_config(retries())
        .timeout_config(timeouts())
        .build()
}

/// Handles every event at once; each answer is the report or the error.
async fn burst(r: &Responders, function: Function, events: &[Vec<u8>]) -> Vec<Result<Outcome, HandlerError>> {
    join_all(events.iter().map(|e| async move { r.handle(function, e, None).await.map(|report| report.outcome) })).await
}

/// Each result is contained or retryable, and what a retryable one left
/// undone is done by the redelivery: the outcomes after the first pass and
/// after up to two redeliveries.
async fn settle(
    r: &Responders,
    function: Function,
    events: &[Vec<u8>],
    first: Vec<Result<Outcome, HandlerError>>,
) -> usize {
    let mut retried = 0;
    for (event, result) in events.iter().zip(first) {
        let mut result = result;
        for _ in 0..2 {
            match &result {
                Ok(outcome) => {
                    assert_eq!(*outcome, Outcome::Contained, "a finding neither contained nor retryable");
                    break;
                }
                Err(e) => {
                    assert_eq!(e.error_type, HandlerError::RETRYABLE, "a failure Lambda would not retry: {e}");
                    retried += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    result = r.handle(function, event, None).await.map(|report| report.outcome);
                }
            }
        }
        assert!(matches!(result, Ok(Outcome::Contained)), "not contained after redelivery: {result:?}");
    }
    retried
}

#[tokio::test]
async fn a_burst_of_instance_findings_under_a_sustained_rate_limit_is_contained_and_none_lost() {
    let setup = sdk_config(&emulator_endpoint()).await;
    let net = Network::create(&setup).await;
    let options = InstanceOptions { profile: false, asg: false, ..InstanceOptions::default() };
    let mut instances = Vec::new();
    for _ in 0..FINDINGS {
        instances.push(net.instance(&setup, options).await);
    }
    let events: Vec<Vec<u8>> =
        instances.iter().map(|i| fixture_for_instance("ec2-cryptocurrency-bitcointool-high.json", &i.id)).collect();

    // Two group moves per ENI, two ENIs per instance: 24 calls against a
    // bucket of 3 that refills 3 a second, for as long as the burst lasts.
    let injector = FaultInjector::new();
    injector.rate_limit("ModifyNetworkInterfaceAttribute", 3, 3.0);
    let r = responder(&metered(&injector).await, &[]).await;
    let first = burst(&r, Function::QuarantineInstance, &events).await;

    // Reported contained means contained: read back before any redelivery.
    let isolation = seed::responder_groups(&setup, &net.vpc, "isolation").await;
    assert_eq!(isolation.len(), 1, "one isolation group for the whole burst");
    let isolation = vec![isolation[0].group_id().unwrap().to_owned()];
    for (instance, result) in instances.iter().zip(&first) {
        if matches!(result, Ok(Outcome::Contained)) {
            for eni in [Some(&instance.primary_eni), instance.secondary_eni.as_ref()].into_iter().flatten() {
                assert_eq!(seed::eni_groups(&setup, eni).await, isolation, "{} reported contained", instance.id);
            }
        }
    }
    let throttled = injector.calls().iter().filter(|c| c.fault == Some(Fault::Throttle)).count();
    assert!(throttled > 0, "the burst never met the rate limit: the test proves nothing");
    // The retry configuration carries the burst through the limit: no
    // finding needs a redelivery.
    let retried = settle(&r, Function::QuarantineInstance, &events, first).await;
    assert_eq!(retried, 0, "{throttled} throttled calls; {retried} findings needed a redelivery");
    for instance in &instances {
        for eni in [Some(&instance.primary_eni), instance.secondary_eni.as_ref()].into_iter().flatten() {
            assert_eq!(seed::eni_groups(&setup, eni).await, isolation, "{} not isolated", instance.id);
        }
    }
}

#[tokio::test]
async fn a_burst_of_key_findings_under_throttling_that_outlasts_the_retries_is_retried_never_lost() {
    let setup = sdk_config(&emulator_endpoint()).await;
    let mut users = Vec::new();
    for _ in 0..FINDINGS {
        users.push(seed::iam_user(&setup, 2, 0, true).await);
    }
    let events: Vec<Vec<u8>> = users
        .iter()
        .map(|(user, keys, _)| fixture_naming_principal("iam-user-malicious-ip-caller.json", user, Some(&keys[0])))
        .collect();

    // Far below what the burst needs (two keys each): some findings run out
    // of attempts and must come back as retryable failures.
    let injector = FaultInjector::new();
    injector.rate_limit("UpdateAccessKey", 1, 0.2);
    let r = responder(&metered(&injector).await, &[]).await;
    let first = burst(&r, Function::DisableIamUser, &events).await;
    assert!(first.iter().any(Result::is_err), "the limit never outlasted the retries: {first:?}");
    for ((user, keys, _), result) in users.iter().zip(&first) {
        if matches!(result, Ok(Outcome::Contained)) {
            let states = seed::key_states(&setup, user).await;
            assert!(keys.iter().all(|k| !states[k]), "{user} reported contained with a key active");
        }
    }
    // Lambda's redelivery, with the limit lifted as the burst passes.
    injector.rate_limit("UpdateAccessKey", 1000, 1000.0);
    settle(&r, Function::DisableIamUser, &events, first).await;
    for (user, keys, _) in &users {
        let states = seed::key_states(&setup, user).await;
        assert!(keys.iter().all(|k| !states[k]), "{user}: a key is still active");
        assert!(!seed::has_login_profile(&setup, user).await, "{user}: console login remains");
    }
}
