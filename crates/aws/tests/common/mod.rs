//! Clients answered by `aws-smithy-mocks` rules, built the way production
//! builds them (one `SdkConfig`), with fast retries so throttling tests stay
//! quick. No `test-util` feature is needed: the mock HTTP client and the
//! interceptor are given to each client's config directly.
#![allow(dead_code)]

use std::time::Duration;

use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use responder_aws::cloud::Cloud;

/// The rules each service's client answers from.
#[derive(Default)]
pub struct Mocks {
    pub ec2: Vec<Rule>,
    pub autoscaling: Vec<Rule>,
    pub iam: Vec<Rule>,
    pub cloudtrail: Vec<Rule>,
}

fn interceptor(rules: &[Rule]) -> MockResponseInterceptor {
    rules.iter().fold(MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny), |i, r| i.with_rule(r))
}

pub fn mock_cloud(mocks: Mocks) -> Cloud {
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
            aws_credential_types::Credentials::new("a", "b", None, None, "mock"),
        ))
        .http_client(create_mock_http_client())
        .retry_config(RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(1)))
        .build();
    let mut cloud = Cloud::new(&sdk);
    cloud.ec2 = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&sdk).interceptor(interceptor(&mocks.ec2)).build(),
    );
    cloud.autoscaling = aws_sdk_autoscaling::Client::from_conf(
        aws_sdk_autoscaling::config::Builder::from(&sdk).interceptor(interceptor(&mocks.autoscaling)).build(),
    );
    cloud.iam = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::from(&sdk).interceptor(interceptor(&mocks.iam)).build(),
    );
    cloud.cloudtrail = aws_sdk_cloudtrail::Client::from_conf(
        aws_sdk_cloudtrail::config::Builder::from(&sdk).interceptor(interceptor(&mocks.cloudtrail)).build(),
    );
    cloud
}

/// An AWS error with this code, as a service would send it.
pub fn err_meta(code: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(format!("mocked {code}")).build()
}
