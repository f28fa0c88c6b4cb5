//! S3 adapter: a bucket's tags and public access block, and nothing else.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{PublicAccessBlockConfiguration, Tag, Tagging};

use std::future::Future;

use crate::failure::{AwsFailure, FailureKind, absent_on};
use crate::steps::{Held, StepResult};

/// The four settings of a public access block, in S3's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl Block {
    /// From the four settings as the API returns them, in S3's order
    /// (an absent one is off).
    pub fn of([acls, ignore, policy, restrict]: [Option<bool>; 4]) -> Block {
        Block {
            block_public_acls: acls.unwrap_or(false),
            ignore_public_acls: ignore.unwrap_or(false),
            block_public_policy: policy.unwrap_or(false),
            restrict_public_buckets: restrict.unwrap_or(false),
        }
    }

    pub const ALL_ON: Block = Block {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };

    /// As a tag value holds it (S3 tag values allow letters, digits,
    /// spaces and `+ - = . _ : / @`).
    pub fn to_record(self) -> String {
        format!(
            "BlockPublicAcls={} IgnorePublicAcls={} BlockPublicPolicy={} RestrictPublicBuckets={}",
            self.block_public_acls, self.ignore_public_acls, self.block_public_policy, self.restrict_public_buckets
        )
    }

    /// Reads [`Block::to_record`]'s text back; `None` for anything else.
    pub fn from_record(text: &str) -> Option<Block> {
        let mut values = BTreeMap::new();
        for part in text.split_whitespace() {
            let (k, v) = part.split_once('=')?;
            let v = match v {
                "true" => true,
                "false" => false,
                _ => return None,
            };
            values.insert(k, v);
        }
        let block = Block {
            block_public_acls: *values.get("BlockPublicAcls")?,
            ignore_public_acls: *values.get("IgnorePublicAcls")?,
            block_public_policy: *values.get("BlockPublicPolicy")?,
            restrict_public_buckets: *values.get("RestrictPublicBuckets")?,
        };
        (values.len() == 4).then_some(block)
    }
}

/// What a bucket had: a public access block, or none at all.
pub const NO_BLOCK: &str = "none";

/// What S3 and S3 Control answer for a bucket or account without a block.
pub const NO_BLOCK_CODE: &str = "NoSuchPublicAccessBlockConfiguration";

/// A block as a record holds it: [`NO_BLOCK`] or the four settings.
pub fn record_of(block: Option<Block>) -> String {
    block.map_or_else(|| NO_BLOCK.to_owned(), Block::to_record)
}

/// A block as a report describes it.
pub fn describe(block: Option<Block>) -> String {
    block.map_or_else(|| "no public access block".to_owned(), Block::to_record)
}

/// Puts back the block `recorded` describes (a bucket's or the account's),
/// from `now`: through `put`, or `delete` when there was none.
pub async fn put_back<P, D>(
    recorded: &str,
    now: Option<Block>,
    put: impl FnOnce(Block) -> P,
    delete: impl FnOnce() -> D,
) -> StepResult
where
    P: Future<Output = Result<(), AwsFailure>>,
    D: Future<Output = Result<(), AwsFailure>>,
{
    if recorded == NO_BLOCK {
        return match now {
            None => Ok(Held::already("no public access block, as before")),
            Some(_) => delete().await.map(|()| Held::done("public access block deleted, as before")),
        };
    }
    match Block::from_record(recorded) {
        None => Err(AwsFailure::rejected(format!(
            "the record {recorded:?} is not one the responder writes; restore by hand"
        ))),
        Some(original) if now == Some(original) => Ok(Held::already(original.to_record())),
        Some(original) => put(original).await.map(|()| Held::done(original.to_record())),
    }
}

/// A bucket that is not there is `NotFound`, whatever the call.
fn missing_bucket(failure: AwsFailure) -> AwsFailure {
    if failure.is_code("NoSuchBucket") { AwsFailure { kind: FailureKind::NotFound, ..failure } } else { failure }
}

/// The bucket's tags; a bucket without any has an empty map.
pub async fn tags(s3: &Client, bucket: &str) -> Result<BTreeMap<String, String>, AwsFailure> {
    let out = s3.get_bucket_tagging().bucket(bucket).send().await.map_err(|e| missing_bucket(e.into()));
    let out = absent_on(out, &["NoSuchTagSet", "NoSuchTagSetError"])?;
    Ok(out
        .map(|out| out.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect())
        .unwrap_or_default())
}

/// Replaces the bucket's whole tag set (S3 has no per-key tagging); an
/// empty map deletes it.
pub async fn set_tags(s3: &Client, bucket: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsFailure> {
    if tags.is_empty() {
        s3.delete_bucket_tagging().bucket(bucket).send().await?;
        return Ok(());
    }
    let set: Result<Vec<Tag>, _> = tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
    let set = set.map_err(|e| AwsFailure::rejected(e.to_string()))?;
    let tagging = Tagging::builder().set_tag_set(Some(set)).build().map_err(|e| AwsFailure::rejected(e.to_string()))?;
    s3.put_bucket_tagging().bucket(bucket).tagging(tagging).send().await?;
    Ok(())
}

/// The bucket's public access block; `None` when it has none.
pub async fn public_access_block(s3: &Client, bucket: &str) -> Result<Option<Block>, AwsFailure> {
    let out = s3.get_public_access_block().bucket(bucket).send().await.map_err(|e| missing_bucket(e.into()));
    let out = absent_on(out, &[NO_BLOCK_CODE])?;
    Ok(out.map(|out| {
        let c = out.public_access_block_configuration();
        Block::of([
            c.and_then(|c| c.block_public_acls()),
            c.and_then(|c| c.ignore_public_acls()),
            c.and_then(|c| c.block_public_policy()),
            c.and_then(|c| c.restrict_public_buckets()),
        ])
    }))
}

pub async fn put_public_access_block(s3: &Client, bucket: &str, block: Block) -> Result<(), AwsFailure> {
    let config = PublicAccessBlockConfiguration::builder()
        .block_public_acls(block.block_public_acls)
        .ignore_public_acls(block.ignore_public_acls)
        .block_public_policy(block.block_public_policy)
        .restrict_public_buckets(block.restrict_public_buckets)
        .build();
    s3.put_public_access_block().bucket(bucket).public_access_block_configuration(config).send().await?;
    Ok(())
}

pub async fn delete_public_access_block(s3: &Client, bucket: &str) -> Result<(), AwsFailure> {
    s3.delete_public_access_block().bucket(bucket).send().await?;
    Ok(())
}

/// The bucket's policy document, `None` when it has none (for the evidence
/// record: what made it public).
pub async fn bucket_policy(s3: &Client, bucket: &str) -> Result<Option<String>, AwsFailure> {
    let out = absent_on(s3.get_bucket_policy().bucket(bucket).send().await, &["NoSuchBucketPolicy"])?;
    Ok(out.and_then(|o| o.policy().map(str::to_owned)))
}

#[cfg(test)]
mod tests {
    use super::Block;

    #[test]
    fn a_record_reads_back_as_written_and_nothing_else_reads() {
        let b = Block {
            block_public_acls: true,
            ignore_public_acls: false,
            block_public_policy: true,
            restrict_public_buckets: false,
        };
        assert_eq!(Block::from_record(&b.to_record()), Some(b));
        assert_eq!(Block::from_record(&Block::ALL_ON.to_record()), Some(Block::ALL_ON));
        assert_eq!(Block::from_record("none"), None);
        assert_eq!(Block::from_record("BlockPublicAcls=true IgnorePublicAcls=true BlockPublicPolicy=true"), None);
        assert_eq!(
            Block::from_record(
                "BlockPublicAcls=yes IgnorePublicAcls=true BlockPublicPolicy=true RestrictPublicBuckets=true"
            ),
            None
        );
    }
}
