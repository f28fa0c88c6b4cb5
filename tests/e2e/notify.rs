//! Reports and alerts as subscribers receive them, and restore-cloudtrail.

use responder_core::{Function, Outcome, StepStatus};
use responder_e2e::seed::{self, InstanceOptions, Network};
use responder_e2e::{emulator_endpoint, fixture_for_instance, fixture_with};

use crate::{cloud, responder};

fn attribute(envelope: &serde_json::Value, name: &str) -> String {
    envelope["MessageAttributes"][name]["Value"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_remediation_report_arrives_with_subject_body_and_attributes() {
    let config = cloud().await;
    let (topic, queue) = seed::topic_with_queue(&config).await;
    let net = Network::create(&config).await;
    let inst =
        net.instance(&config, InstanceOptions { second_eni: false, profile: false, asg: false, exempt: false }).await;
    let r = responder(&config, &[("NOTIFY_TOPIC_ARN", &topic)]).await;
    let report = r
        .handle(
            Function::QuarantineInstance,
            &fixture_for_instance("ec2-cryptocurrency-bitcointool-high.json", &inst.id),
            None,
        )
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Contained);

    let got = seed::notifications(&config, &queue, 1, 10).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    let n = &got[0];
    let subject = n["Subject"].as_str().unwrap();
    assert!(subject.len() <= 100 && subject.is_ascii(), "{subject}");
    assert!(
        subject.starts_with(&format!("[HIGH] contained {} CryptoCurrency:EC2/BitcoinTool.B!DNS", inst.id)),
        "{subject}"
    );
    let body = n["Message"].as_str().unwrap();
    for part in
        ["What GuardDuty saw", "What was done", "isolate-eni", "Next steps", "Finding: https://", "Report (JSON):"]
    {
        assert!(body.contains(part), "body lacks {part:?}:\n{body}");
    }
    let json = &body[body.find("Report (JSON):").unwrap() + "Report (JSON):".len()..];
    let parsed: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(parsed["outcome"], "contained");
    assert_eq!(attribute(n, "severity"), "8");
    assert_eq!(n["MessageAttributes"]["severity"]["Type"], "Number");
    assert_eq!(attribute(n, "severity_label"), "HIGH");
    assert_eq!(attribute(n, "finding_type"), "CryptoCurrency:EC2/BitcoinTool.B!DNS");
    assert_eq!(attribute(n, "account"), "123456789012");
    assert_eq!(attribute(n, "region"), "us-east-1");
    assert_eq!(attribute(n, "outcome"), "contained");
    assert_eq!(attribute(n, "function"), "quarantine-instance");
}

#[tokio::test]
async fn medium_findings_alert_and_low_ones_do_not() {
    let config = cloud().await;
    let (topic, queue) = seed::topic_with_queue(&config).await;
    let r = responder(&config, &[("NOTIFY_TOPIC_ARN", &topic)]).await;

    let low = r
        .handle(Function::NotifyFinding, &fixture_with("ec2-ssh-bruteforce-target-victim.json", &[]), None)
        .await
        .unwrap();
    assert_eq!(low.outcome, Outcome::Skipped);
    let medium =
        r.handle(Function::NotifyFinding, &fixture_with("ec2-backdoor-spambot-medium.json", &[]), None).await.unwrap();
    assert_eq!(medium.notification.as_ref().unwrap().status, "published");
    // The emulator has no CloudTrail history (LookupEvents is not
    // implemented): the alert goes out without enrichment and says so.
    let lookup = medium.steps.iter().find(|s| s.action == "lookup-cloudtrail").unwrap();
    assert_eq!(lookup.status, StepStatus::Failed);
    assert!(medium.notes.iter().any(|n| n.contains("no activity listing")));
    let publish = medium.steps.iter().find(|s| s.action == "publish-alert").unwrap();
    assert_eq!(publish.status, StepStatus::Done);

    let got = seed::notifications(&config, &queue, 1, 10).await;
    assert_eq!(got.len(), 1, "only the Medium finding alerts: {got:#?}");
    assert_eq!(attribute(&got[0], "function"), "notify-finding");
    assert_eq!(attribute(&got[0], "severity_label"), "MEDIUM");
    assert!(got[0]["Message"].as_str().unwrap().contains(&medium.finding_id), "{got:#?}");
    let subject = got[0]["Subject"].as_str().unwrap();
    assert!(subject.starts_with("[MEDIUM] alert i-0a1b2c3d4e5f67890 Backdoor:EC2/Spambot"), "{subject}");
}

#[tokio::test]
async fn chatbot_format_is_a_custom_notification() {
    let config = cloud().await;
    let (topic, queue) = seed::topic_with_queue(&config).await;
    let r = responder(&config, &[("NOTIFY_TOPIC_ARN", &topic), ("NOTIFY_FORMAT", "chatbot")]).await;
    r.handle(Function::NotifyFinding, &fixture_with("ec2-tor-client.json", &[]), None).await.unwrap();
    let got = seed::notifications(&config, &queue, 1, 10).await;
    let message: serde_json::Value = serde_json::from_str(got[0]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(message["version"], "1.0");
    assert_eq!(message["source"], "custom");
    assert_eq!(message["content"]["textType"], "client-markdown");
    assert!(message["content"]["title"].as_str().unwrap().contains("UnauthorizedAccess:EC2/TorClient"));
    assert!(!message["content"]["nextSteps"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_stopped_trail_is_logging_again_and_a_second_delivery_is_already_done() {
    let config = cloud().await;
    let name = seed::unique("management-events");
    seed::trail(&config, &emulator_endpoint(), &name).await;
    seed::stop_trail(&config, &name).await;
    assert!(!seed::trail_logging(&config, &name).await);

    let r = responder(&config, &[]).await;
    let event = fixture_with("cloudtrail-logging-disabled.json", &[("\"management-events\"", &format!("\"{name}\""))]);
    let report = r.handle(Function::RestoreCloudtrail, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    assert!(seed::trail_logging(&config, &name).await);
    assert!(report.notes.iter().any(|n| n.contains("AKIA2EXAMPLEKEY7QXK3")), "the report names the actor's key");
    let start = report.steps.iter().find(|s| s.action == "start-logging").unwrap();
    assert_eq!((start.target.as_str(), start.status), (name.as_str(), StepStatus::Done));

    let again = r.handle(Function::RestoreCloudtrail, &event, None).await.unwrap();
    assert_eq!(again.outcome, Outcome::Contained);
    let start = again.steps.iter().find(|s| s.action == "start-logging").unwrap();
    assert_eq!(start.status, StepStatus::AlreadyDone);

    // A trail that no longer exists is a clear failure, not a success.
    let gone = fixture_with("cloudtrail-logging-disabled.json", &[("\"management-events\"", "\"deleted-trail\"")]);
    let report = r.handle(Function::RestoreCloudtrail, &gone, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Failed);
}

/// In its own region: every trail of the region is restarted, and other
/// tests' trails live in us-east-1.
#[tokio::test]
async fn without_a_named_trail_every_stopped_trail_restarts() {
    let config = cloud().await.to_builder().region(aws_config::Region::new("eu-west-3")).build();
    let a = seed::unique("trail-a");
    let b = seed::unique("trail-b");
    seed::trail(&config, &emulator_endpoint(), &a).await;
    seed::trail(&config, &emulator_endpoint(), &b).await;
    seed::stop_trail(&config, &b).await;
    let r = responder(&config, &[]).await;
    let event = fixture_with("cloudtrail-logging-disabled-unnamed-trail.json", &[("us-east-1", "eu-west-3")]);
    let report = r.handle(Function::RestoreCloudtrail, &event, None).await.unwrap();
    assert_ne!(report.outcome, Outcome::Failed, "{report:#?}");
    assert!(seed::trail_logging(&config, &a).await);
    assert!(seed::trail_logging(&config, &b).await);
    let b_step = report.steps.iter().find(|s| s.target == b).unwrap();
    assert_eq!(b_step.status, StepStatus::Done);
    let a_step = report.steps.iter().find(|s| s.target == a).unwrap();
    assert_eq!(a_step.status, StepStatus::AlreadyDone);
}
