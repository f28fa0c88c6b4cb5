//! CloudTrail enrichment and trail restoration against SDK mocks: the
//! emulator has no LookupEvents and no organization trails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_cloudtrail::operation::describe_trails::DescribeTrailsOutput;
use aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusOutput;
use aws_sdk_cloudtrail::operation::lookup_events::{LookupEventsError, LookupEventsInput, LookupEventsOutput};
use aws_sdk_cloudtrail::operation::start_logging::StartLoggingOutput;
use aws_sdk_cloudtrail::types::{Event, LookupAttributeKey, Trail};
use aws_smithy_mocks::Rule;
use aws_smithy_mocks::mock;
use aws_smithy_types::DateTime;
use responder_aws::mocks::{self, err_meta};
use responder_aws::verify::open_gate;
use responder_cloudtrail::Cloud;
use responder_cloudtrail::cloudtrail::{MAX_EVENTS, activity, restore_trail};
use responder_core::finding::Finding;
use responder_core::{AccountId, StepStatus, parse_event};

fn finding(file: &str) -> Finding {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../events").join(file);
    parse_event(&std::fs::read(path).unwrap()).unwrap().finding
}

fn event(id: &str, name: &str, secs: i64, ip: &str) -> Event {
    let raw = serde_json::json!({
        "eventName": name,
        "sourceIPAddress": ip,
        "userIdentity": { "arn": "arn:aws:iam::123456789012:user/mallory" },
        "requestParameters": { "roleArn": "arn:aws:iam::123456789012:role/data-pipeline" }
    });
    Event::builder()
        .event_id(id)
        .event_name(name)
        .event_time(DateTime::from_secs(secs))
        .username("mallory")
        .cloud_trail_event(raw.to_string())
        .build()
}

fn first_attribute(input: &LookupEventsInput) -> (LookupAttributeKey, String) {
    let a = &input.lookup_attributes()[0];
    (a.attribute_key().clone(), a.attribute_value().to_owned())
}

#[tokio::test]
async fn instance_activity_keeps_the_relevant_calls_newest_first() {
    let lookups = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_compute_output(|input| {
        let (key, value) = first_attribute(input);
        assert_eq!(key, LookupAttributeKey::ResourceName);
        if value == "i-0a1b2c3d4e5f67890" {
            LookupEventsOutput::builder()
                .events(event("e1", "RunInstances", 1_000, "198.51.100.1"))
                .events(event("e2", "DescribeInstances", 3_000, "198.51.100.2"))
                .events(event("e3", "ModifyInstanceAttribute", 2_000, "203.0.113.9"))
                .build()
        } else {
            // The ENI and security group look-ups.
            LookupEventsOutput::builder()
                .events(event("e4", "AuthorizeSecurityGroupIngress", 2_500, "203.0.113.9"))
                .build()
        }
    });
    let cloud = mock_cloud(vec![lookups.clone()]);
    let found = activity(&cloud.cloudtrail, &finding("ec2-cryptocurrency-bitcointool-high.json"), 60).await.unwrap();
    let names: Vec<&str> = found.iter().map(|a| a.event_name.as_str()).collect();
    assert_eq!(names[0], "AuthorizeSecurityGroupIngress");
    assert_eq!(names, ["AuthorizeSecurityGroupIngress", "ModifyInstanceAttribute", "RunInstances"]);
    assert_eq!(found[0].source_ip, "203.0.113.9");
    assert_eq!(found[0].actor, "arn:aws:iam::123456789012:user/mallory");
    // Instance, ENI and security group: three look-ups, one after another.
    assert_eq!(lookups.num_calls(), 3);
}

#[tokio::test]
async fn credential_activity_lists_the_keys_calls_and_assume_role_of_the_role() {
    let lookups = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_compute_output(|input| {
        let (key, value) = first_attribute(input);
        match key {
            LookupAttributeKey::AccessKeyId => {
                assert_eq!(value, "ASIA2EXAMPLEPIPE7QX3");
                let mut out = LookupEventsOutput::builder();
                for i in 0..30 {
                    out = out.events(event(&format!("k{i}"), "GetObject", 1_000 + i, "198.51.100.7"));
                }
                out.build()
            }
            LookupAttributeKey::EventName => {
                assert_eq!(value, "AssumeRole");
                LookupEventsOutput::builder().events(event("a1", "AssumeRole", 5_000, "198.51.100.7")).build()
            }
            other => panic!("unexpected look-up {other:?}"),
        }
    });
    let cloud = mock_cloud(vec![lookups]);
    let found = activity(&cloud.cloudtrail, &finding("iam-role-malicious-ip-caller.json"), 60).await.unwrap();
    assert_eq!(found.len(), MAX_EVENTS, "bounded");
    assert_eq!(found[0].event_name, "AssumeRole");
}

#[tokio::test]
async fn lookup_failures_are_returned_for_the_caller_to_degrade() {
    let lookups = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .then_error(|| LookupEventsError::generic(err_meta("AccessDeniedException")));
    let cloud = mock_cloud(vec![lookups]);
    let err = activity(&cloud.cloudtrail, &finding("iam-user-malicious-ip-caller.json"), 60).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("AccessDeniedException"));
}

fn trail(name: &str, owner: &str) -> Trail {
    Trail::builder()
        .name(name)
        .trail_arn(format!("arn:aws:cloudtrail:us-east-1:{owner}:trail/{name}"))
        .home_region("us-east-1")
        .is_organization_trail(owner != "123456789012")
        .build()
}

#[tokio::test]
async fn an_organization_trail_of_another_account_is_reported_not_failed() {
    let describe = mock!(aws_sdk_cloudtrail::Client::describe_trails)
        .then_output(|| DescribeTrailsOutput::builder().trail_list(trail("org-trail", "999988887777")).build());
    let start = mock!(aws_sdk_cloudtrail::Client::start_logging).then_output(|| StartLoggingOutput::builder().build());
    let cloud = mock_cloud(vec![describe, start.clone()]);
    let account = AccountId::parse("123456789012").unwrap();
    let run = restore_trail(&cloud, &account, Some("org-trail"), false, &open_gate()).await;
    let reason = run.skipped.expect("skipped with a reason");
    assert!(reason.contains("999988887777") && reason.contains("organization trail"), "{reason}");
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn dry_run_plans_the_restart() {
    let describe = mock!(aws_sdk_cloudtrail::Client::describe_trails)
        .then_output(|| DescribeTrailsOutput::builder().trail_list(trail("main", "123456789012")).build());
    let status = mock!(aws_sdk_cloudtrail::Client::get_trail_status)
        .then_output(|| GetTrailStatusOutput::builder().is_logging(false).build());
    let start = mock!(aws_sdk_cloudtrail::Client::start_logging).then_output(|| StartLoggingOutput::builder().build());
    let cloud = mock_cloud(vec![describe, status, start.clone()]);
    let account = AccountId::parse("123456789012").unwrap();
    let run = restore_trail(&cloud, &account, Some("main"), true, &open_gate()).await;
    assert!(run.log.records.iter().any(|r| r.action == "start-logging" && r.status == StepStatus::Planned));
    assert_eq!(start.num_calls(), 0);
}

fn mock_cloud(rules: Vec<Rule>) -> Cloud {
    let sdk = mocks::sdk_config();
    let mut cloud = Cloud::new(&sdk);
    cloud.cloudtrail = aws_sdk_cloudtrail::Client::from_conf(
        aws_sdk_cloudtrail::config::Builder::from(&sdk).interceptor(mocks::interceptor(&rules)).build(),
    );
    cloud
}
