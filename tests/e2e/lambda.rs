//! contain-lambda-function against the emulator: the function's state read
//! back after containment and after release, the deny on its role's session
//! alone, repeat and twin deliveries, exemption and dry run.

use responder_core::report::is_read;
use responder_core::revocation::{STOLEN_SESSIONS_POLICY, stolen_sessions_of};
use responder_core::{Function, Outcome, StepStatus};
use responder_e2e::fixture_with;
use responder_e2e::seed::{self, LambdaWorld};
use responder_lambda::Cloud;
use responder_lambda::contain::{
    DISABLED_MAPPINGS, EVIDENCE_VERSION, ORIGINAL_CONCURRENCY, ORIGINAL_URL_AUTH, release,
};

use crate::{cloud, responder};

const FINDING: &str = "lambda-backdoor-c2-activity.json";

fn event(world: &LambdaWorld) -> Vec<u8> {
    fixture_with(FINDING, &[("order-processor", &world.function)])
}

/// The sessions the stolen-sessions policy of `role` denies.
async fn denied_sessions(config: &aws_config::SdkConfig, role: &str) -> Vec<String> {
    seed::role_policy(config, role, STOLEN_SESSIONS_POLICY)
        .await
        .map(|doc| stolen_sessions_of(&doc).into_keys().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_function_is_stopped_recorded_and_released_exactly() {
    let config = cloud().await;
    let r = responder(&config, &[]).await;
    let world = seed::lambda_function(&config, None, true, Some(7)).await;
    // A second function on the same role keeps working.
    let neighbour = seed::lambda_function(&config, Some(&world.role), false, None).await;

    let report = r.handle(Function::ContainLambdaFunction, &event(&world), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    let (concurrency, mappings, url, tags) = seed::lambda_state(&config, &world.function).await;
    assert_eq!(concurrency, Some(0));
    assert_eq!(mappings.get(&world.enabled_mapping).map(String::as_str), Some("Disabled"));
    assert_eq!(mappings.get(&world.disabled_mapping).map(String::as_str), Some("Disabled"));
    assert_eq!(url.as_deref(), Some("AWS_IAM"));
    assert_eq!(tags.get(ORIGINAL_CONCURRENCY).map(String::as_str), Some("7"));
    assert_eq!(tags.get(DISABLED_MAPPINGS), Some(&world.enabled_mapping), "only the mapping the responder turned off");
    assert_eq!(tags.get(ORIGINAL_URL_AUTH).map(String::as_str), Some("NONE"));
    assert!(tags.contains_key(EVIDENCE_VERSION), "{tags:?}");
    assert_eq!(denied_sessions(&config, &world.role).await, vec![world.function.clone()]);
    assert_eq!(seed::lambda_state(&config, &neighbour.function).await.0, None, "the neighbour is not throttled");

    // A repeat delivery changes nothing.
    let again = r.handle(Function::ContainLambdaFunction, &event(&world), None).await.unwrap();
    assert_eq!(again.outcome, Outcome::Contained, "{again:#?}");
    let changed: Vec<_> = again
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Done && !is_read(&s.action) && s.action != "publish-evidence-version")
        .collect();
    assert!(changed.is_empty(), "second delivery changed: {changed:#?}");
    assert_eq!(seed::lambda_state(&config, &world.function).await.3, tags);

    // Release: concurrency, the one mapping, the URL's auth, the role.
    let run = release(&Cloud::new(&config), &world.function).await;
    assert!(run.log.all_held() && run.skipped.is_none(), "{run:#?}");
    let (concurrency, mappings, url, after) = seed::lambda_state(&config, &world.function).await;
    assert_eq!(concurrency, Some(7));
    assert_eq!(mappings.get(&world.enabled_mapping).map(String::as_str), Some("Enabled"));
    assert_eq!(mappings.get(&world.disabled_mapping).map(String::as_str), Some("Disabled"), "its owner's choice stays");
    assert_eq!(url.as_deref(), Some("NONE"));
    assert!(!after.contains_key(ORIGINAL_CONCURRENCY) && !after.contains_key(DISABLED_MAPPINGS), "{after:?}");
    assert_eq!(seed::role_policy(&config, &world.role, STOLEN_SESSIONS_POLICY).await, None);

    let twice = release(&Cloud::new(&config), &world.function).await;
    assert!(twice.skipped.is_some(), "{twice:#?}");
}

#[tokio::test]
async fn releasing_one_function_keeps_its_neighbours_session_denied() {
    let config = cloud().await;
    let r = responder(&config, &[]).await;
    let a = seed::lambda_function(&config, None, false, None).await;
    let b = seed::lambda_function(&config, Some(&a.role), false, None).await;
    for world in [&a, &b] {
        let report = r.handle(Function::ContainLambdaFunction, &event(world), None).await.unwrap();
        assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    }
    let mut both = vec![a.function.clone(), b.function.clone()];
    both.sort();
    assert_eq!(denied_sessions(&config, &a.role).await, both);
    let run = release(&Cloud::new(&config), &a.function).await;
    assert!(run.log.all_held(), "{run:#?}");
    assert_eq!(denied_sessions(&config, &a.role).await, vec![b.function.clone()]);
    assert_eq!(seed::lambda_state(&config, &a.function).await.0, None, "no reservation, as before");
    assert_eq!(seed::lambda_state(&config, &b.function).await.0, Some(0), "the other stays contained");
}

#[tokio::test]
async fn twin_deliveries_converge() {
    let config = cloud().await;
    let r = responder(&config, &[]).await;
    let world = seed::lambda_function(&config, None, true, None).await;
    let (ea, eb) = (event(&world), event(&world));
    let (ra, rb) = futures::join!(
        r.handle(Function::ContainLambdaFunction, &ea, None),
        r.handle(Function::ContainLambdaFunction, &eb, None)
    );
    for report in [ra, rb] {
        match report {
            Ok(report) => assert_eq!(report.outcome, Outcome::Contained, "{report:#?}"),
            Err(e) => assert_eq!(e.error_type, "RetryableAwsError", "{e:#?}"),
        }
    }
    let (concurrency, _, url, tags) = seed::lambda_state(&config, &world.function).await;
    assert_eq!((concurrency, url.as_deref()), (Some(0), Some("AWS_IAM")));
    assert_eq!(tags.get(ORIGINAL_CONCURRENCY).map(String::as_str), Some("none"), "{tags:?}");
    assert_eq!(denied_sessions(&config, &world.role).await, vec![world.function.clone()]);
}

#[tokio::test]
async fn exempt_functions_and_dry_runs_change_nothing() {
    let config = cloud().await;
    let world = seed::lambda_function(&config, None, true, None).await;
    let lambda = aws_sdk_lambda::Client::new(&config);
    let arn = lambda.get_function().function_name(&world.function).send().await.unwrap();
    let arn = arn.configuration().and_then(|c| c.function_arn()).unwrap().to_owned();

    let dry = responder(&config, &[("DRY_RUN", "true")]).await;
    let report = dry.handle(Function::ContainLambdaFunction, &event(&world), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::DryRun, "{report:#?}");
    let (concurrency, mappings, url, tags) = seed::lambda_state(&config, &world.function).await;
    assert_eq!((concurrency, url.as_deref()), (None, Some("NONE")));
    assert_eq!(mappings.get(&world.enabled_mapping).map(String::as_str), Some("Enabled"));
    assert!(!tags.contains_key(ORIGINAL_CONCURRENCY), "{tags:?}");

    lambda.tag_resource().resource(&arn).tags("guardduty-responder:exempt", "true").send().await.unwrap();
    let r = responder(&config, &[]).await;
    let report = r.handle(Function::ContainLambdaFunction, &event(&world), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Skipped, "{report:#?}");
    assert_eq!(seed::lambda_state(&config, &world.function).await.0, None);
    assert!(denied_sessions(&config, &world.role).await.is_empty());
}
