//! protect-s3-bucket: which S3 findings turn a bucket's public access block back on.

use crate::finding::Finding;
use crate::plan::{Plan, Scope, Skip};
use crate::policy::Policy;
use crate::target::Target;

use super::iam::S3_CALLER_TYPES;
use super::{gates, matches_any};

/// Findings that a bucket was opened to the public: its public access block
/// is turned back on, whatever the severity (GuardDuty rates the disabling Low).
const BUCKET_EXPOSURE_TYPES: &[&str] = &[
    "Policy:S3/BucketBlockPublicAccessDisabled",
    "Policy:S3/BucketPublicAccessGranted",
    "Policy:S3/BucketAnonymousAccessGranted",
];

/// The account-level public access block was turned off (GuardDuty sends it
/// as an `AccessKey` finding: the caller, no bucket).
const ACCOUNT_EXPOSURE_TYPES: &[&str] = &["Policy:S3/AccountBlockPublicAccessDisabled"];

/// Attack sequences whose S3 buckets get their public access blocked (the
/// data is what the sequence is after).
const SEQUENCE_BUCKET_TYPES: &[&str] = &["AttackSequence:S3/*"];

/// Malware Protection for S3 found a malicious object: its version is kept
/// as evidence (and deleted from the bucket when the settings say so),
/// whatever the severity: the verdict is the scan's, not a guess.
const MALICIOUS_OBJECT_TYPES: &[&str] = &["Object:S3/MaliciousFile"];

/// protect-s3-bucket.
pub(crate) fn protect_s3_bucket(
    target: Target,
    finding: &Finding,
    policy: &Policy,
    scope: Scope,
) -> Result<Plan, Skip> {
    let finding_type = finding.finding_type.as_str();
    if matches_any(ACCOUNT_EXPOSURE_TYPES, finding_type) {
        gates(finding, policy)?;
        if !policy.protect_account_public_access {
            return Err(Skip::TypeNotHandled(format!(
                "{finding_type}: the account's block is alert-only (PROTECT_ACCOUNT_PUBLIC_ACCESS is false)"
            )));
        }
        return Ok(Plan::ProtectAccount { scope });
    }
    if let Target::S3Objects { objects } = target {
        if !matches_any(MALICIOUS_OBJECT_TYPES, finding_type) {
            return Err(Skip::TypeNotHandled(finding_type.to_owned()));
        }
        gates(finding, policy)?;
        let mut parts: Vec<Plan> =
            objects.into_iter().map(|object| Plan::QuarantineObject { scope: scope.clone(), object }).collect();
        return match parts.len() {
            1 => Ok(parts.remove(0)),
            _ => Ok(Plan::Sequence { scope, parts, left_out: Vec::new() }),
        };
    }
    let Target::S3Buckets { buckets, .. } = target else {
        return Err(Skip::NotForThisFunction(match target {
            Target::Unsupported { reason } => reason,
            _ => "the finding is not about an S3 bucket".into(),
        }));
    };
    let in_sequence = finding.resource.resource_type == "AttackSequence";
    if in_sequence && !matches_any(SEQUENCE_BUCKET_TYPES, finding_type) {
        return Err(Skip::NotForThisFunction(format!(
            "{finding_type}: buckets are protected on S3 attack sequences only"
        )));
    }
    if !in_sequence && !matches_any(BUCKET_EXPOSURE_TYPES, finding_type) {
        if matches_any(S3_CALLER_TYPES, finding_type) {
            return Err(Skip::NotForThisFunction(format!(
                "{finding_type}: the caller is contained by the credential functions; the bucket is left as it is"
            )));
        }
        return Err(Skip::TypeNotHandled(finding_type.to_owned()));
    }
    gates(finding, policy)?;
    let mut parts: Vec<Plan> =
        buckets.into_iter().map(|bucket| Plan::ProtectBucket { scope: scope.clone(), bucket }).collect();
    match parts.len() {
        0 => Err(Skip::Malformed("no bucket in s3BucketDetails".into())),
        1 => Ok(parts.remove(0)),
        _ => Ok(Plan::Sequence { scope, parts, left_out: Vec::new() }),
    }
}
