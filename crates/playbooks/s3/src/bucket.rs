//! The bucket playbook: turn a bucket's public access block back on, and
//! put back what it had on release.
//!
//! 1. **Read** the bucket's tags and public access block (a bucket without
//!    one has none: S3 answers `NoSuchPublicAccessBlockConfiguration`).
//!    Exempt by tag: nothing is changed.
//! 2. **Record** what the bucket had in a tag, with the finding id, unless
//!    an earlier run recorded it (a record is never overwritten: a repeat
//!    delivery would record the protected state). What cannot be recorded
//!    is not changed.
//! 3. **Block**: all four settings on.
//!
//! Release puts the recorded block back (or deletes the block when there
//! was none), then removes the record.
//!
//! IAM actions: s3:GetBucketTagging, s3:PutBucketTagging,
//! s3:GetBucketPublicAccessBlock, s3:PutBucketPublicAccessBlock.

use std::collections::BTreeMap;

use responder_core::{Policy, StepStatus, tags};

use crate::Cloud;
use crate::s3::{self, Block, describe, record_of};
use crate::steps::{Execution, Held, NOT_CONFIRMED, Timed, timed};
use crate::verify::Gate;

/// On a bucket: its public access block before the responder turned it on
/// (`none`, or the four settings).
pub const ORIGINAL_BLOCK: &str = "guardduty-responder:original-public-access-block";

/// What a protect run is asked to do.
#[derive(Debug, Clone)]
pub struct BucketJob<'a> {
    pub finding_id: &'a str,
    pub bucket: &'a str,
    pub policy: &'a Policy,
    /// Opens when GuardDuty has confirmed the finding; no change before.
    pub gate: Gate,
}

pub async fn protect(cloud: &Cloud, job: &BucketJob<'_>) -> Execution {
    let mut run = Execution::default();
    let (s3, bucket) = (&cloud.s3, job.bucket);
    let started = std::time::Instant::now();
    let (tags, block, policy) =
        futures::join!(s3::tags(s3, bucket), s3::public_access_block(s3, bucket), s3::bucket_policy(s3, bucket));
    let took = Some(started.elapsed());
    let (tags_now, block_now) = match (tags, block) {
        (Ok(t), Ok(b)) => (t, b),
        (Err(f), _) | (_, Err(f)) => {
            run.log.push("describe-bucket", bucket, Timed { result: Err(f), took });
            return run;
        }
    };
    let policy = match policy {
        Ok(policy) => policy,
        Err(f) => {
            // Evidence of what made the bucket public: its absence is said.
            run.log.push("describe-bucket-policy", bucket, Err(f));
            None
        }
    };
    run.keep(
        "bucket",
        serde_json::json!({
            "name": bucket,
            "public_access_block": describe(block_now),
            "policy": policy,
            "tags": tags_now,
        }),
    );
    if job.policy.is_exempt(tags_now.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        run.skipped = Some(format!("bucket {bucket} carries the exemption tag {}=true", job.policy.exempt_tag));
        return run;
    }
    let held = Held::done(describe(block_now));
    run.log.push("describe-bucket", bucket, Timed { result: Ok(held), took });

    if block_now == Some(Block::ALL_ON) {
        run.log.push("block-public-access", bucket, Ok(Held::already("all four settings already on")));
        return run;
    }
    let recorded = tags_now.get(ORIGINAL_BLOCK).cloned();
    if job.policy.dry_run {
        if recorded.is_none() {
            run.log.push_status("record-public-access-block", bucket, StepStatus::Planned, describe(block_now));
        }
        run.log.push_status("block-public-access", bucket, StepStatus::Planned, "all four settings on");
        return run;
    }
    if job.gate.clone().await.is_err() {
        for action in ["record-public-access-block", "block-public-access"] {
            run.log.push_status(action, bucket, StepStatus::Skipped, NOT_CONFIRMED);
        }
        return run;
    }
    let record = match recorded {
        Some(earlier) => Ok(Held::already(format!("recorded by an earlier run: {earlier}"))),
        None => {
            let value = record_of(block_now);
            let mut with_record = tags_now.clone();
            with_record.insert(ORIGINAL_BLOCK.to_owned(), value.clone());
            with_record.insert(tags::FINDING_ID.to_owned(), job.finding_id.to_owned());
            timed(async { s3::set_tags(s3, bucket, &with_record).await.map(|()| Held::done(value)) }).await.result
        }
    };
    let recorded_ok = record.is_ok();
    run.log.push("record-public-access-block", bucket, record);
    if !recorded_ok {
        run.log.push_status("block-public-access", bucket, StepStatus::Skipped, "not run: the record was not written");
        return run;
    }
    let blocked = timed(async {
        s3::put_public_access_block(s3, bucket, Block::ALL_ON).await.map(|()| Held::done("all four settings on"))
    })
    .await;
    run.log.push("block-public-access", bucket, blocked);
    run
}

/// Puts back the public access block the bucket had before protect ran,
/// then removes the record; a bucket without a record is left alone.
pub async fn release(cloud: &Cloud, bucket: &str) -> Execution {
    let mut run = Execution::default();
    let s3 = &cloud.s3;
    let (tags_now, block_now) = match futures::join!(s3::tags(s3, bucket), s3::public_access_block(s3, bucket)) {
        (Ok(t), Ok(b)) => (t, b),
        (Err(f), _) | (_, Err(f)) => {
            run.log.push("describe-bucket", bucket, Err(f));
            return run;
        }
    };
    let Some(recorded) = tags_now.get(ORIGINAL_BLOCK).cloned() else {
        run.skipped = Some(format!("bucket {bucket} has no record of the responder's: nothing to release"));
        return run;
    };
    run.log.push("describe-bucket", bucket, Ok(Held::done(describe(block_now))));
    let restored = s3::put_back(
        &recorded,
        block_now,
        |original| s3::put_public_access_block(s3, bucket, original),
        || s3::delete_public_access_block(s3, bucket),
    )
    .await;
    let ok = restored.is_ok();
    run.log.push("restore-public-access-block", bucket, restored);
    if ok {
        let rest: BTreeMap<String, String> =
            tags_now.into_iter().filter(|(k, _)| k != ORIGINAL_BLOCK && k != tags::FINDING_ID).collect();
        let untagged = s3::set_tags(s3, bucket, &rest).await.map(|()| Held::done("record removed"));
        run.log.push("untag-bucket", bucket, untagged);
    }
    run
}
