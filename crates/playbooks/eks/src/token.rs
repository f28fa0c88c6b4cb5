//! The bearer token an EKS cluster accepts for an IAM principal, made as
//! `aws eks get-token` makes it: a presigned STS `GetCallerIdentity` URL
//! that also signs the cluster's name, so the API server (through its IAM
//! authenticator) can ask STS who signed it. No call is made here.
//!
//! The cluster accepts such a token for 15 minutes from its signing time,
//! whatever `X-Amz-Expires` says: make one per invocation, not per process.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use responder_aws::failure::AwsFailure;

/// The token's prefix: its version, as the IAM authenticator expects it.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The signed header that binds a token to one cluster.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";

/// STS's regional endpoint, `.amazonaws.com.cn` in the China regions.
pub fn sts_url(region: &str) -> String {
    let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    format!("https://sts.{region}.{suffix}/?Action=GetCallerIdentity&Version=2011-06-15")
}

/// The bearer token for `cluster` in `region`, signed with `credentials` at `now`.
pub fn eks_token(
    credentials: &Credentials,
    region: &str,
    cluster: &str,
    now: SystemTime,
) -> Result<String, AwsFailure> {
    let url = sts_url(region);
    let identity: Identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(60));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| AwsFailure::rejected(format!("cannot sign the EKS token: {e}")))?
        .into();
    let headers = [(CLUSTER_ID_HEADER, cluster)];
    let signable = SignableRequest::new("GET", url.as_str(), headers.into_iter(), SignableBody::Bytes(&[]))
        .map_err(|e| AwsFailure::rejected(format!("cannot sign the EKS token: {e}")))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| AwsFailure::rejected(format!("cannot sign the EKS token: {e}")))?
        .into_parts();
    let mut request = http::Request::builder()
        .uri(url.as_str())
        .body(())
        .map_err(|e| AwsFailure::rejected(format!("cannot build the EKS token's URL: {e}")))?;
    instructions.apply_to_request_http1x(&mut request);
    Ok(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(request.uri().to_string())))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::UNIX_EPOCH;

    use super::*;

    fn decode(token: &str) -> (String, BTreeMap<String, String>) {
        let encoded = token.strip_prefix(TOKEN_PREFIX).unwrap();
        assert!(!encoded.contains('='), "no padding");
        let url = String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap();
        let (base, query) = url.split_once('?').unwrap();
        let params = form_decode(query);
        (base.to_owned(), params)
    }

    fn form_decode(query: &str) -> BTreeMap<String, String> {
        query
            .split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap();
                (percent_decode(k), percent_decode(v))
            })
            .collect()
    }

    fn percent_decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn token_is_a_presigned_get_caller_identity_for_the_cluster() {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let token = eks_token(&creds, "eu-west-1", "prod", at()).unwrap();
        let (base, q) = decode(&token);
        assert_eq!(base, "https://sts.eu-west-1.amazonaws.com/");
        assert_eq!(q["Action"], "GetCallerIdentity");
        assert_eq!(q["Version"], "2011-06-15");
        assert_eq!(q["X-Amz-Expires"], "60");
        assert_eq!(q["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
        assert_eq!(q["X-Amz-Date"], "20231114T221320Z");
        let signed: Vec<&str> = q["X-Amz-SignedHeaders"].split(';').collect();
        assert!(signed.contains(&"host"), "{signed:?}");
        assert!(signed.contains(&"x-k8s-aws-id"), "{signed:?}");
        assert_eq!(q["X-Amz-Credential"], "AKIDEXAMPLE/20231114/eu-west-1/sts/aws4_request");
        assert_eq!(q["X-Amz-Signature"].len(), 64);
        assert!(!q.contains_key("X-Amz-Security-Token"));
    }

    /// The same token as aws-cli 1.45 (botocore 1.43) `eks get-token` makes
    /// with these credentials, region, cluster and clock.
    #[test]
    fn token_matches_the_aws_cli() {
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("session-token".into()),
            None,
            "test",
        );
        let (base, q) = decode(&eks_token(&creds, "eu-west-1", "prod", at()).unwrap());
        let cli = "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15\
            &X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Feu-west-1%2Fsts%2Faws4_request\
            &X-Amz-Date=20231114T221320Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id\
            &X-Amz-Security-Token=session-token\
            &X-Amz-Signature=e1f676068163ccf4ef22ac1b7f9fe8924514b51ca1fb07432badbdd348e20a94";
        let (cli_base, cli_query) = cli.split_once('?').unwrap();
        assert_eq!(base, cli_base);
        assert_eq!(q, form_decode(cli_query));
    }

    #[test]
    fn session_token_is_carried() {
        let creds = Credentials::new("ASIAEXAMPLE", "secret", Some("the/session+token=".into()), None, "test");
        let (_, q) = decode(&eks_token(&creds, "us-east-1", "c", at()).unwrap());
        assert_eq!(q["X-Amz-Security-Token"], "the/session+token=");
    }

    #[test]
    fn the_signature_covers_the_cluster_name() {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let a = decode(&eks_token(&creds, "us-east-1", "a", at()).unwrap()).1;
        let b = decode(&eks_token(&creds, "us-east-1", "b", at()).unwrap()).1;
        assert_ne!(a["X-Amz-Signature"], b["X-Amz-Signature"]);
        let again = decode(&eks_token(&creds, "us-east-1", "a", at()).unwrap()).1;
        assert_eq!(a["X-Amz-Signature"], again["X-Amz-Signature"]);
    }

    #[test]
    fn china_regions_use_their_suffix() {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let (base, q) = decode(&eks_token(&creds, "cn-north-1", "c", at()).unwrap());
        assert_eq!(base, "https://sts.cn-north-1.amazonaws.com.cn/");
        assert_eq!(q["X-Amz-Credential"], "AKIDEXAMPLE/20231114/cn-north-1/sts/aws4_request");
    }
}
