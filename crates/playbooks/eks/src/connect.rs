//! A Kubernetes client for one EKS cluster: its endpoint and certificate
//! authority from `DescribeCluster`, the IAM bearer token of [`crate::token`].
//!
//! The cluster's endpoint must be reachable from the function: a cluster
//! with a private endpoint only needs the function in its VPC.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kube::config::AuthInfo;
use responder_aws::failure::{AwsFailure, FailureKind};
use secrecy::SecretString;

use crate::failure::kube_failure;
use crate::token::eks_token;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// A client for `cluster`, as `credentials` (the principal an EKS access
/// entry maps to a Kubernetes group). Its token is good for 15 minutes:
/// build one per invocation, not one per process.
pub async fn client(
    eks: &aws_sdk_eks::Client,
    credentials: &Credentials,
    region: &str,
    cluster: &str,
) -> Result<kube::Client, AwsFailure> {
    let out = eks.describe_cluster().name(cluster).send().await?;
    let described = out.cluster();
    let endpoint = described.and_then(|c| c.endpoint()).filter(|e| !e.is_empty()).ok_or_else(|| AwsFailure {
        kind: FailureKind::Rejected,
        code: Some("NoEndpoint".into()),
        message: format!("cluster {cluster} has no API endpoint (status {:?})", described.and_then(|c| c.status())),
    })?;
    let authority = described
        .and_then(|c| c.certificate_authority())
        .and_then(|a| a.data())
        .ok_or_else(|| AwsFailure::rejected(format!("cluster {cluster} has no certificate authority")))?;
    let pem = STANDARD
        .decode(authority.trim())
        .map_err(|e| AwsFailure::rejected(format!("cluster {cluster}'s certificate authority is not base64: {e}")))?;
    let token = eks_token(credentials, region, cluster, SystemTime::now())?;
    client_at(endpoint, Some(token), Some(&pem))
}

/// A client for the API server at `url`, with `token` as its bearer and
/// `root_cert_pem` (PEM, one or more certificates) as the only roots it
/// trusts; without one, the platform's roots. Needs a Tokio runtime.
pub fn client_at(url: &str, token: Option<String>, root_cert_pem: Option<&[u8]>) -> Result<kube::Client, AwsFailure> {
    let uri: http::Uri =
        url.parse().map_err(|e| AwsFailure::rejected(format!("the cluster endpoint {url:?} is not a URL: {e}")))?;
    let mut config = kube::Config::new(uri);
    if let Some(pem) = root_cert_pem {
        config.root_cert = Some(certificates(pem)?);
    }
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    config.write_timeout = Some(WRITE_TIMEOUT);
    // The read timeout counts from the request, not from when a pooled connection went idle.
    config.reset_reader_on_write = true;
    config.auth_info = AuthInfo { token: token.map(SecretString::from), ..AuthInfo::default() };
    kube::Client::try_from(config).map_err(kube_failure)
}

/// The DER certificates of a PEM bundle.
fn certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, AwsFailure> {
    let all = pem::parse_many(pem)
        .map_err(|e| AwsFailure::rejected(format!("the cluster's certificate authority is not PEM: {e}")))?;
    let certs: Vec<Vec<u8>> =
        all.into_iter().filter(|p| p.tag() == "CERTIFICATE").map(pem::Pem::into_contents).collect();
    if certs.is_empty() {
        return Err(AwsFailure::rejected("the cluster's certificate authority holds no certificate"));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_are_read_from_pem() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n\
            -----BEGIN PRIVATE KEY-----\nBAU=\n-----END PRIVATE KEY-----\n";
        assert_eq!(certificates(pem).unwrap(), vec![vec![1, 2, 3]]);
        assert!(certificates(b"-----BEGIN PRIVATE KEY-----\nBAU=\n-----END PRIVATE KEY-----\n").is_err());
        assert!(certificates(b"not pem").is_err());
    }
}
