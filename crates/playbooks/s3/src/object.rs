//! A malicious object version (Malware Protection for S3): copied into the
//! evidence store in the security account, tagged in place with where the
//! copy is, and, when `DELETE_MALICIOUS_OBJECTS` is on, that one version
//! deleted from its bucket once the copy is verified. No other version is
//! ever touched.
//!
//! The copy is made by the member account's session (it can read the
//! object; the evidence bucket's policy lets it write under
//! `malware/<its account>/`), encrypted under the evidence key, and locked
//! by the bucket's default retention.
//!
//! IAM actions, member account: s3:GetObject, s3:GetObjectVersion,
//! s3:GetObjectTagging, s3:GetObjectVersionTagging, s3:PutObjectTagging,
//! s3:PutObjectVersionTagging, s3:GetBucketTagging, s3:DeleteObjectVersion
//! (only when deleting), s3:PutObject (the evidence bucket),
//! kms:GenerateDataKey (the evidence key). Security account: s3:GetObject
//! (reading the copy back).

use std::collections::BTreeMap;

use aws_sdk_s3::types::{MetadataDirective, ServerSideEncryption, Tag, Tagging, TaggingDirective};
use responder_core::target::S3ObjectRef;
use responder_core::{Policy, StepStatus, tags};

use crate::Cloud;
use crate::failure::AwsFailure;
use crate::s3;
use crate::steps::{Execution, Held, NOT_CONFIRMED, timed};
use crate::verify::Gate;

/// What the object run is asked to do.
#[derive(Debug, Clone)]
pub struct ObjectJob<'a> {
    pub finding_id: &'a str,
    pub account: &'a str,
    pub object: &'a S3ObjectRef,
    pub policy: &'a Policy,
    /// The evidence bucket and key; `None`: nothing can be copied.
    pub evidence: Option<(&'a str, Option<&'a str>)>,
    pub delete: bool,
    pub gate: Gate,
}

/// The object version as S3 describes it.
#[derive(Debug, Clone, serde::Serialize)]
struct ObjectView {
    size: Option<i64>,
    e_tag: Option<String>,
    version_id: Option<String>,
    content_type: Option<String>,
    last_modified: Option<String>,
}

/// Where the evidence copy of `object` goes.
pub fn evidence_key(account: &str, object: &S3ObjectRef) -> String {
    format!("malware/{account}/{}/{}/{}", object.bucket, object.version_id.as_deref().unwrap_or("null"), object.key)
}

/// Percent-encodes a key for `x-amz-copy-source` (slashes kept).
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn head(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Result<Option<ObjectView>, AwsFailure> {
    match client.head_object().bucket(bucket).key(key).set_version_id(version.map(str::to_owned)).send().await {
        Ok(out) => Ok(Some(ObjectView {
            size: out.content_length(),
            e_tag: out.e_tag().map(str::to_owned),
            version_id: out.version_id().map(str::to_owned),
            content_type: out.content_type().map(str::to_owned),
            last_modified: out.last_modified().map(|t| t.to_string()),
        })),
        Err(e) => {
            // A HEAD answer has no body: its status is all there is.
            let status = e.raw_response().map(|r| r.status().as_u16());
            let f = AwsFailure::from(e);
            match (status, f.code.as_deref()) {
                (_, Some("NotFound" | "NoSuchKey" | "NoSuchVersion")) | (Some(404), None) => Ok(None),
                (Some(403), None) => Err(AwsFailure {
                    kind: crate::failure::FailureKind::Denied,
                    code: Some("AccessDenied".into()),
                    message: format!(
                        "reading s3://{bucket}/{key}{} was refused (403)",
                        version.map(|v| format!(" version {v}")).unwrap_or_default()
                    ),
                }),
                _ => Err(f),
            }
        }
    }
}

pub async fn quarantine(cloud: &Cloud, home: &Cloud, job: &ObjectJob<'_>) -> Execution {
    let mut run = Execution::default();
    let object = job.object;
    let target = format!("s3://{}/{}", object.bucket, object.key);
    // A scan of the evidence store itself (Malware Protection turned on for
    // it) would copy each copy again, finding after finding: its objects are
    // evidence, kept as they are.
    if job.evidence.is_some_and(|(bucket, _)| bucket == object.bucket) {
        run.skipped = Some(format!(
            "{target} is in the evidence store: evidence is kept as it is, never copied again or deleted"
        ));
        return run;
    }
    let version = object.version_id.as_deref();
    let (source, bucket_tags) =
        futures::join!(head(&cloud.s3, &object.bucket, &object.key, version), s3::tags(&cloud.s3, &object.bucket));
    let bucket_tags = match bucket_tags {
        Ok(tags) => tags,
        Err(f) => {
            run.log.push("describe-object", &target, Err(f));
            return run;
        }
    };
    if job.policy.is_exempt(bucket_tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        run.skipped =
            Some(format!("bucket {} carries the exemption tag {}=true", object.bucket, job.policy.exempt_tag));
        return run;
    }
    let source = match source {
        Ok(view) => view,
        Err(f) => {
            run.log.push("describe-object", &target, Err(f));
            return run;
        }
    };
    let Some((evidence_bucket, key_arn)) = job.evidence else {
        run.log.push(
            "copy-to-evidence",
            &target,
            Err(AwsFailure::rejected("EVIDENCE_BUCKET is not set: the object is neither copied nor deleted")),
        );
        return run;
    };
    let copy_key = evidence_key(job.account, object);
    let copy_target = format!("s3://{evidence_bucket}/{copy_key}");
    let existing = match head(&home.s3, evidence_bucket, &copy_key, None).await {
        Ok(existing) => existing,
        Err(f) => {
            run.log.push("describe-object", &copy_target, Err(f));
            return run;
        }
    };
    let Some(source) = source else {
        // Gone from the bucket: done only if an earlier delivery kept it.
        match existing {
            Some(_) => {
                run.log.push(
                    "copy-to-evidence",
                    &copy_target,
                    Ok(Held::already("copied earlier; the version is gone from its bucket")),
                );
            }
            None => run.log.push(
                "describe-object",
                &target,
                Err(AwsFailure::rejected(format!(
                    "{target} (version {}) is not in its bucket and no evidence copy exists",
                    version.unwrap_or("null")
                ))),
            ),
        }
        return run;
    };
    run.keep("object", &source);
    run.keep("bucket_tags", &bucket_tags);
    run.log.push("describe-object", &target, Ok(Held::done(format!("{} bytes", source.size.unwrap_or_default()))));
    // Deleting needs to know it is this version, and only this one.
    let deletable = version.is_some() || source.version_id.as_deref().is_none_or(|v| v == "null");

    if job.policy.dry_run {
        run.log.push_status(
            "copy-to-evidence",
            &copy_target,
            StepStatus::Planned,
            "copy the version, encrypted and locked",
        );
        run.log.push_status("tag-object", &target, StepStatus::Planned, "tag it with the finding and the copy");
        if job.delete {
            run.log.push_status("delete-object-version", &target, StepStatus::Planned, "delete this version only");
        }
        return run;
    }
    if job.gate.clone().await.is_err() {
        run.log.push_status("copy-to-evidence", &copy_target, StepStatus::Skipped, NOT_CONFIRMED);
        return run;
    }

    let copied = match existing {
        Some(_) => Ok(Held::already("copied by an earlier delivery")).into(),
        None => timed(copy(cloud, home, job, evidence_bucket, key_arn, &copy_key, &source)).await,
    };
    let copy_held = copied.is_ok();
    run.log.push("copy-to-evidence", &copy_target, copied);

    let tagged = timed(tag_source(cloud, job, &copy_target)).await;
    run.log.push("tag-object", &target, tagged);

    if job.delete {
        let result = if !copy_held {
            Ok(Held::skipped("not run: no verified evidence copy"))
        } else if !deletable {
            Ok(Held::skipped(
                "not run: the finding names no version of an object in a versioned bucket; deleting could remove another version",
            ))
        } else {
            let mut delete = cloud.s3.delete_object().bucket(&object.bucket).key(&object.key);
            if let Some(v) = version {
                delete = delete.version_id(v);
            }
            delete
                .send()
                .await
                .map_err(AwsFailure::from)
                .map(|_| Held::done(format!("version {} deleted; other versions untouched", version.unwrap_or("null"))))
        };
        run.log.push("delete-object-version", &target, result);
    }
    run
}

/// Copies the version into the evidence bucket and reads the copy back.
async fn copy(
    cloud: &Cloud,
    home: &Cloud,
    job: &ObjectJob<'_>,
    evidence_bucket: &str,
    key_arn: Option<&str>,
    copy_key: &str,
    source: &ObjectView,
) -> Result<Held, AwsFailure> {
    let object = job.object;
    let mut copy_source = format!("{}/{}", object.bucket, encode_key(&object.key));
    if let Some(v) = &object.version_id {
        copy_source.push_str(&format!("?versionId={}", encode_key(v)));
    }
    let tagging = [(tags::FINDING_ID, job.finding_id), (tags::SOURCE_ACCOUNT, job.account)]
        .iter()
        .map(|(k, v)| format!("{}={}", encode_key(k).replace('/', "%2F"), encode_key(v).replace('/', "%2F")))
        .collect::<Vec<_>>()
        .join("&");
    let mut request = cloud
        .s3
        .copy_object()
        .bucket(evidence_bucket)
        .key(copy_key)
        .copy_source(copy_source)
        .metadata_directive(MetadataDirective::Replace)
        .metadata("source-bucket", &object.bucket)
        .metadata("source-version", object.version_id.as_deref().unwrap_or("null"))
        .metadata("source-account", job.account)
        .metadata("finding-id", job.finding_id)
        .tagging_directive(TaggingDirective::Replace)
        .tagging(tagging);
    if let Some(key) = key_arn {
        request = request.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(key);
    }
    request.send().await?;
    match head(&home.s3, evidence_bucket, copy_key, None).await? {
        Some(copy) if copy.size == source.size => Ok(Held::done(format!(
            "{} bytes kept{}",
            copy.size.unwrap_or_default(),
            copy.version_id.map(|v| format!(", version {v}")).unwrap_or_default()
        ))),
        Some(copy) => Err(AwsFailure::rejected(format!(
            "the copy has {} bytes, the source {}",
            copy.size.unwrap_or_default(),
            source.size.unwrap_or_default()
        ))),
        None => Err(AwsFailure::rejected("the copy cannot be read back from the evidence bucket")),
    }
}

/// Adds the finding id and where the copy is to the version's own tags
/// (kept: a version's tag set is replaced as a whole, so it is read first).
async fn tag_source(cloud: &Cloud, job: &ObjectJob<'_>, copy_target: &str) -> Result<Held, AwsFailure> {
    let object = job.object;
    let current = cloud
        .s3
        .get_object_tagging()
        .bucket(&object.bucket)
        .key(&object.key)
        .set_version_id(object.version_id.clone())
        .send()
        .await?;
    let mut merged: BTreeMap<String, String> =
        current.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
    let wanted = [(tags::FINDING_ID, job.finding_id), (tags::MALWARE_COPY, copy_target)];
    if wanted.iter().all(|(k, v)| merged.get(*k).map(String::as_str) == Some(*v)) {
        return Ok(Held::already("tagged with the finding and the copy"));
    }
    merged.extend(wanted.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    if merged.len() > 10 {
        return Err(AwsFailure::rejected("the version already has 10 tags: it cannot be tagged without losing one"));
    }
    let set: Vec<Tag> = merged.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect();
    let tagging = Tagging::builder().set_tag_set(Some(set)).build().map_err(|e| AwsFailure::rejected(e.to_string()))?;
    cloud
        .s3
        .put_object_tagging()
        .bucket(&object.bucket)
        .key(&object.key)
        .set_version_id(object.version_id.clone())
        .tagging(tagging)
        .send()
        .await?;
    Ok(Held::done("tagged with the finding and the copy; its own tags kept"))
}
