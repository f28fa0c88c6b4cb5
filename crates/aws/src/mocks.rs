//! For the playbook crates' SDK-mock tests (feature `mocks`): the
//! configuration production builds, answered by `aws-smithy-mocks` rules,
//! with fast retries so throttling tests stay quick. No `test-util` feature
//! is needed: the mock HTTP client and the interceptor are given to each
//! client's config directly.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::retry::RetryConfig;

/// An `SdkConfig` whose clients never reach the network.
pub fn sdk_config() -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
            aws_credential_types::Credentials::new("a", "b", None, None, "mock"),
        ))
        .http_client(create_mock_http_client())
        .retry_config(RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(1)))
        .build()
}

/// An interceptor answering from `rules`, each as often as it matches.
pub fn interceptor(rules: &[Rule]) -> MockResponseInterceptor {
    rules.iter().fold(MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny), |i, r| i.with_rule(r))
}

/// An AWS error with this code, as a service would send it.
pub fn err_meta(code: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(format!("mocked {code}")).build()
}
