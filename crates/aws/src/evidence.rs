//! The evidence store: an Object Lock bucket in the security account. Each
//! response writes one record there, keyed by finding id and function: the
//! event as received, what the playbook found before it changed anything,
//! and every step it took. Versioning keeps each delivery's record; the
//! bucket's default retention locks every version, so an attacker who owns
//! a member account (or this one, short of the retention) cannot erase the
//! account of what happened.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::failure::AwsFailure;
use crate::steps::Held;

/// Where records and copies go, and the key they are encrypted under.
#[derive(Debug, Clone)]
pub struct EvidenceStore {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub key_arn: Option<String>,
}

/// Path-style addressing: an endpoint override (a VPC endpoint) takes it as
/// given, and bucket names with dots break virtual-hosted TLS.
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(true).build())
}

/// The key of a finding's record for one function.
pub fn record_key(finding_id: &str, function: &str) -> String {
    format!("findings/{finding_id}/{function}.json")
}

/// One response's record.
#[derive(Debug, Serialize)]
pub struct EvidenceRecord<'a> {
    pub finding_id: &'a str,
    pub finding_type: &'a str,
    pub function: &'a str,
    pub account: &'a str,
    pub region: &'a str,
    pub written_at: String,
    /// What the playbook read before it changed anything.
    pub state: &'a serde_json::Map<String, serde_json::Value>,
    pub steps: &'a [responder_core::StepRecord],
    pub notes: &'a [String],
    /// The event exactly as it was delivered.
    pub event: &'a RawValue,
}

impl EvidenceStore {
    /// Writes `record` as a new version of its key; answers with where it is.
    pub async fn put(&self, record: &EvidenceRecord<'_>) -> Result<Held, AwsFailure> {
        let key = record_key(record.finding_id, record.function);
        let body = serde_json::to_vec_pretty(record).map_err(|e| AwsFailure::rejected(e.to_string()))?;
        let out = self.encrypted_put(&key).body(ByteStream::from(body)).content_type("application/json").send().await?;
        let version = out.version_id().map(|v| format!(" (version {v})")).unwrap_or_default();
        Ok(Held::done(format!("s3://{}/{key}{version}", self.bucket)))
    }

    fn encrypted_put(&self, key: &str) -> aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder {
        let put = self.s3.put_object().bucket(&self.bucket).key(key);
        match &self.key_arn {
            Some(arn) => put.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(arn),
            None => put,
        }
    }
}

/// Where a report's OCSF document goes in the SIEM bucket: partitioned by
/// day, as SIEM and Athena crawlers expect, one object per delivery.
pub fn siem_key(report: &responder_core::Report, at: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "ocsf/{}/{}-{}-{}.json",
        at.format("year=%Y/month=%m/day=%d"),
        report.finding_id,
        report.function,
        at.timestamp_millis()
    )
}

/// Writes `value` as a JSON object at `key`.
pub async fn put_json(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    value: &serde_json::Value,
) -> Result<(), AwsFailure> {
    let body = serde_json::to_vec(value).map_err(|e| AwsFailure::rejected(e.to_string()))?;
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .content_type("application/json")
        .send()
        .await?;
    Ok(())
}
