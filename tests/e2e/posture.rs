//! check-posture on the emulator: a healthy account stays quiet; each decay
//! alerts exactly once, its fix alerts "resolved" once, and a run with nothing
//! changed says nothing. In its own region, so other tests' trails and rules
//! are not part of the posture.

use aws_config::{Region, SdkConfig};
use responder_cloudtrail::posture;
use responder_core::posture::PostureConfig;
use responder_core::settings::NotifyFormat;
use responder_e2e::emulator_endpoint;
use responder_e2e::seed;

use crate::cloud;

const REGION: &str = "ap-southeast-2";

struct World {
    config: SdkConfig,
    trail: String,
    detector: String,
    rule: String,
    topic: String,
    queue: String,
    posture: PostureConfig,
}

async fn healthy_world() -> World {
    let config = cloud().await.to_builder().region(Region::new(REGION)).build();
    let endpoint = emulator_endpoint();
    let ct = aws_sdk_cloudtrail::Client::new(&config);
    let bucket = seed::unique("payroll").to_lowercase();
    seed::bucket(&endpoint, &bucket);
    let trail = seed::unique("org-trail");
    let logs = seed::unique("trail-logs").to_lowercase();
    seed::bucket(&endpoint, &logs);
    ct.create_trail()
        .name(&trail)
        .s3_bucket_name(&logs)
        .is_multi_region_trail(true)
        .enable_log_file_validation(true)
        .send()
        .await
        .expect("CreateTrail");
    ct.put_event_selectors()
        .trail_name(&trail)
        .event_selectors(
            aws_sdk_cloudtrail::types::EventSelector::builder()
                .read_write_type(aws_sdk_cloudtrail::types::ReadWriteType::All)
                .include_management_events(true)
                .data_resources(
                    aws_sdk_cloudtrail::types::DataResource::builder()
                        .r#type("AWS::S3::Object")
                        .values(format!("arn:aws:s3:::{bucket}/"))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("PutEventSelectors");
    ct.put_insight_selectors()
        .trail_name(&trail)
        .insight_selectors(
            aws_sdk_cloudtrail::types::InsightSelector::builder()
                .insight_type(aws_sdk_cloudtrail::types::InsightType::ApiCallRateInsight)
                .build(),
        )
        .send()
        .await
        .expect("PutInsightSelectors");
    ct.start_logging().name(&trail).send().await.expect("StartLogging");

    let gd = aws_sdk_guardduty::Client::new(&config);
    let detector = gd
        .create_detector()
        .enable(true)
        .finding_publishing_frequency(aws_sdk_guardduty::types::FindingPublishingFrequency::FifteenMinutes)
        .send()
        .await
        .expect("CreateDetector")
        .detector_id()
        .unwrap_or_default()
        .to_owned();
    let ev = aws_sdk_eventbridge::Client::new(&config);
    let prefix = seed::unique("gdr");
    let rule = format!("{prefix}-quarantine-instance");
    ev.put_rule().name(&rule).event_pattern(r#"{"source":["aws.guardduty"]}"#).send().await.expect("PutRule");
    // A rule of a like name that is not the responder's stands in for nothing.
    let decoy = format!("{prefix}-quarantine-instance-copy");
    ev.put_rule().name(&decoy).event_pattern(r#"{"source":["aws.guardduty"]}"#).send().await.expect("PutRule");
    let (topic, queue) = seed::topic_with_queue(&config).await;
    let posture =
        PostureConfig { sensitive_buckets: vec![bucket], rules: vec![rule.clone()], ..PostureConfig::default() };
    World { config, trail, detector, rule, topic, queue, posture }
}

impl World {
    async fn run(&self) -> responder_core::Report {
        posture::run(&self.config, "123456789012", &self.topic, &self.posture, NotifyFormat::Text)
            .await
            .expect("posture run")
    }

    /// The alerts that arrived since the last call.
    async fn alerts(&self) -> Vec<serde_json::Value> {
        seed::notifications(&self.config, &self.queue, 0, 2).await
    }
}

/// Runs once and asserts exactly one alert naming `id` as new (or resolved).
async fn expect_one_alert(world: &World, id: &str, resolved: bool) {
    let report = world.run().await;
    assert_eq!(report.notification.as_ref().unwrap().status, "published", "{report:#?}");
    let alerts = world.alerts().await;
    assert_eq!(alerts.len(), 1, "{id}: {alerts:#?}");
    let body = alerts[0]["Message"].as_str().unwrap();
    let word = if resolved { "resolved:" } else { "new problem(s):" };
    assert!(body.contains(word) && body.contains(id), "{id}:\n{body}");
    assert_eq!(alerts[0]["MessageAttributes"]["function"]["Value"], "check-posture");
    // Nothing changed since: quiet.
    let again = world.run().await;
    assert_eq!(again.notification.unwrap().status, "unchanged");
    assert!(world.alerts().await.is_empty());
}

#[tokio::test]
async fn posture_alerts_once_per_change_and_stays_quiet_otherwise() {
    let world = healthy_world().await;
    let report = world.run().await;
    let failing: Vec<_> = report.steps.iter().filter(|s| !s.status.held()).collect();
    assert!(failing.is_empty(), "a healthy account fails: {failing:#?}");
    assert_eq!(report.notification.unwrap().status, "unchanged");
    assert!(world.alerts().await.is_empty(), "a healthy account gives no alert");

    let ct = aws_sdk_cloudtrail::Client::new(&world.config);
    ct.stop_logging().name(&world.trail).send().await.unwrap();
    expect_one_alert(&world, &format!("trail-logging:{}", world.trail), false).await;
    ct.start_logging().name(&world.trail).send().await.unwrap();
    expect_one_alert(&world, &format!("trail-logging:{}", world.trail), true).await;

    let gd = aws_sdk_guardduty::Client::new(&world.config);
    gd.delete_detector().detector_id(&world.detector).send().await.unwrap();
    expect_one_alert(&world, "guardduty-detector", false).await;
    gd.create_detector()
        .enable(true)
        .finding_publishing_frequency(aws_sdk_guardduty::types::FindingPublishingFrequency::FifteenMinutes)
        .send()
        .await
        .unwrap();
    expect_one_alert(&world, "guardduty-detector", true).await;

    let ev = aws_sdk_eventbridge::Client::new(&world.config);
    ev.disable_rule().name(&world.rule).send().await.unwrap();
    expect_one_alert(&world, &format!("responder-rule:{}", world.rule), false).await;
    ev.enable_rule().name(&world.rule).send().await.unwrap();
    expect_one_alert(&world, &format!("responder-rule:{}", world.rule), true).await;

    // Deleted, with a rule of a like name still there: missing all the same.
    ev.delete_rule().name(&world.rule).send().await.unwrap();
    expect_one_alert(&world, &format!("responder-rule:{}", world.rule), false).await;
}
