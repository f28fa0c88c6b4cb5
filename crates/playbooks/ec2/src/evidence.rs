//! Forensic snapshots out of the attacker's reach: each one is shared with
//! the security account (its KMS key granted to that account when it is
//! encrypted) and copied there, re-encrypted under the evidence key and
//! tagged with the finding, instance, volume and source account. An
//! attacker with admin rights in the member account can delete the original,
//! not the copy.
//!
//! Copying is asynchronous: a snapshot still being taken cannot be copied,
//! and a copy takes a while to complete. What is not complete is queued in
//! the security account (an SSM parameter per snapshot under
//! [`QUEUE_PATH`]); the scheduled evidence pass ([`pass`]) finishes each
//! item, verifies the copy completed, and only then takes it off the queue.
//!
//! IAM actions, member account: ec2:DescribeSnapshots,
//! ec2:ModifySnapshotAttribute, kms:DescribeKey, kms:CreateGrant. Security
//! account: ec2:DescribeSnapshots, ec2:CopySnapshot, ec2:CreateTags (on the
//! copy), kms:GenerateDataKeyWithoutPlaintext, kms:ReEncrypt*,
//! kms:CreateGrant, kms:DescribeKey (the evidence key), ssm:PutParameter,
//! ssm:GetParametersByPath, ssm:DeleteParameter (the queue).

use aws_sdk_ec2::types::{
    CreateVolumePermission, CreateVolumePermissionModifications, Filter, ResourceType, SnapshotState, Tag,
    TagSpecification,
};
use aws_sdk_kms::types::{GrantOperation, KeyManagerType};
use responder_core::tags;
use serde::{Deserialize, Serialize};

use crate::Cloud;
use crate::failure::{AwsFailure, FailureKind, absent_on};
use crate::steps::Held;

/// Where the queue of copies still to finish lives, in the security account.
pub const QUEUE_PATH: &str = "/guardduty-responder/pending-evidence";

/// One forensic snapshot to keep out of reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotEvidence {
    pub finding_id: String,
    pub account: String,
    pub region: String,
    pub instance_id: String,
    pub volume_id: String,
    pub snapshot_id: String,
}

/// Where a snapshot's evidence copy stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preserved {
    /// The copy exists in the security account, complete.
    Complete(String),
    /// The copy exists and EBS is still filling it.
    Copying(String),
    /// The snapshot itself is still being taken: nothing to copy yet.
    SourcePending,
}

impl Preserved {
    pub fn held(&self, started_now: bool) -> Held {
        let detail = match self {
            Preserved::Complete(id) => format!("{id} in the security account, complete, under the evidence key"),
            Preserved::Copying(id) => format!("{id} being copied into the security account under the evidence key"),
            Preserved::SourcePending => {
                "queued: the snapshot is still being taken; the evidence pass copies it when it completes".to_owned()
            }
        };
        if started_now || matches!(self, Preserved::SourcePending) { Held::done(detail) } else { Held::already(detail) }
    }
}

/// Shares `item`'s snapshot with the security account and starts its copy
/// there, unless a copy exists. `member` acts in the snapshot's account,
/// `home` in the security account, both in the snapshot's region. Answers
/// where the copy stands and whether this call started it.
pub async fn preserve(
    member: &Cloud,
    home: &Cloud,
    home_account: &str,
    key_arn: &str,
    item: &SnapshotEvidence,
) -> Result<(Preserved, bool), AwsFailure> {
    if let Some(copy) = existing_copy(home, &item.snapshot_id).await? {
        return Ok((copy, false));
    }
    let source = member
        .ec2
        .describe_snapshots()
        .snapshot_ids(&item.snapshot_id)
        .send()
        .await?
        .snapshots()
        .first()
        .cloned()
        .ok_or_else(|| AwsFailure::rejected(format!("{} no longer exists in {}", item.snapshot_id, item.account)))?;
    match source.state() {
        Some(SnapshotState::Completed) => {}
        Some(SnapshotState::Pending) | None => return Ok((Preserved::SourcePending, false)),
        Some(other) => {
            return Err(AwsFailure::rejected(format!(
                "{} is {}: EBS could not take it; take a snapshot of {} by hand",
                item.snapshot_id,
                other.as_str(),
                item.volume_id
            )));
        }
    }
    if item.account != home_account {
        if source.encrypted() == Some(true) {
            let key = source.kms_key_id().unwrap_or_default();
            grant_key(member, key, home_account, &item.snapshot_id).await?;
        }
        share(member, &item.snapshot_id, home_account).await?;
    }
    let copy = start_copy(home, key_arn, item).await?;
    Ok((copy, true))
}

async fn existing_copy(home: &Cloud, snapshot_id: &str) -> Result<Option<Preserved>, AwsFailure> {
    let filter = Filter::builder().name(format!("tag:{}", tags::SOURCE_SNAPSHOT)).values(snapshot_id).build();
    let out = home.ec2.describe_snapshots().owner_ids("self").filters(filter).send().await?;
    // A failed copy is no copy: the next attempt starts another.
    let copies = out.snapshots().iter().filter(|s| s.state() != Some(&SnapshotState::Error));
    let mut found = None;
    for copy in copies {
        let Some(id) = copy.snapshot_id() else { continue };
        if copy.state() == Some(&SnapshotState::Completed) {
            return Ok(Some(Preserved::Complete(id.to_owned())));
        }
        found = Some(Preserved::Copying(id.to_owned()));
    }
    Ok(found)
}

/// Lets the security account read the snapshot's data key. An AWS managed
/// key (`aws/ebs`) cannot be shared with another account at all.
async fn grant_key(member: &Cloud, key: &str, home_account: &str, snapshot_id: &str) -> Result<(), AwsFailure> {
    let described = member.kms.describe_key().key_id(key).send().await?;
    let manager = described.key_metadata().and_then(|m| m.key_manager());
    if manager == Some(&KeyManagerType::Aws) {
        return Err(AwsFailure {
            kind: FailureKind::Rejected,
            code: None,
            message: format!(
                "{snapshot_id} is encrypted under the AWS managed EBS key, which cannot be shared with another account: \
                 copy it under a customer managed key in its account, then share that copy"
            ),
        });
    }
    let arn = described.key_metadata().map(|m| m.arn().unwrap_or(key)).unwrap_or(key);
    let partition = arn.split(':').nth(1).unwrap_or("aws");
    member
        .kms
        .create_grant()
        .key_id(arn)
        .grantee_principal(format!("arn:{partition}:iam::{home_account}:root"))
        .operations(GrantOperation::Decrypt)
        .operations(GrantOperation::DescribeKey)
        .operations(GrantOperation::CreateGrant)
        .operations(GrantOperation::ReEncryptFrom)
        .operations(GrantOperation::GenerateDataKeyWithoutPlaintext)
        .name(format!("guardduty-responder-{snapshot_id}"))
        .send()
        .await?;
    Ok(())
}

async fn share(member: &Cloud, snapshot_id: &str, home_account: &str) -> Result<(), AwsFailure> {
    let add = CreateVolumePermissionModifications::builder()
        .add(CreateVolumePermission::builder().user_id(home_account).build())
        .build();
    member.ec2.modify_snapshot_attribute().snapshot_id(snapshot_id).create_volume_permission(add).send().await?;
    Ok(())
}

async fn start_copy(home: &Cloud, key_arn: &str, item: &SnapshotEvidence) -> Result<Preserved, AwsFailure> {
    let pairs = [
        (tags::FINDING_ID, item.finding_id.as_str()),
        (tags::SOURCE_INSTANCE, item.instance_id.as_str()),
        (tags::SOURCE_VOLUME, item.volume_id.as_str()),
        (tags::SOURCE_ACCOUNT, item.account.as_str()),
        (tags::SOURCE_SNAPSHOT, item.snapshot_id.as_str()),
    ];
    let spec = TagSpecification::builder()
        .resource_type(ResourceType::Snapshot)
        .set_tags(Some(pairs.iter().map(|(k, v)| Tag::builder().key(*k).value(*v).build()).collect()))
        .build();
    let out = home
        .ec2
        .copy_snapshot()
        .source_snapshot_id(&item.snapshot_id)
        .source_region(&item.region)
        .encrypted(true)
        .kms_key_id(key_arn)
        .description(format!(
            "guardduty-responder evidence: {} of {} in {}, finding {}",
            item.volume_id, item.instance_id, item.account, item.finding_id
        ))
        .tag_specifications(spec)
        .send()
        .await?;
    let id = out.snapshot_id().ok_or_else(|| AwsFailure::rejected("CopySnapshot returned no snapshot id"))?;
    // Read back: a copy EBS finished at once is complete, not pending.
    Ok(existing_copy(home, &item.snapshot_id).await?.unwrap_or_else(|| Preserved::Copying(id.to_owned())))
}

fn queue_name(item: &SnapshotEvidence) -> String {
    format!("{QUEUE_PATH}/{}/{}/{}", item.account, item.region, item.snapshot_id)
}

/// Puts `item` on the queue the evidence pass works through.
pub async fn enqueue(home: &Cloud, item: &SnapshotEvidence) -> Result<(), AwsFailure> {
    let value = serde_json::to_string(item).map_err(|e| AwsFailure::rejected(e.to_string()))?;
    home.ssm
        .put_parameter()
        .name(queue_name(item))
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await?;
    Ok(())
}

/// Takes `item` off the queue (gone already counts as done).
pub async fn dequeue(home: &Cloud, item: &SnapshotEvidence) -> Result<(), AwsFailure> {
    absent_on(home.ssm.delete_parameter().name(queue_name(item)).send().await, &["ParameterNotFound"])?;
    Ok(())
}

/// Everything on the queue, in every account and region.
pub async fn queued(home: &Cloud) -> Result<Vec<SnapshotEvidence>, AwsFailure> {
    let mut items = Vec::new();
    let mut pages = home.ssm.get_parameters_by_path().path(QUEUE_PATH).recursive(true).into_paginator().send();
    while let Some(page) = pages.next().await {
        for parameter in page?.parameters() {
            match parameter.value().map(serde_json::from_str::<SnapshotEvidence>) {
                Some(Ok(item)) => items.push(item),
                _ => {
                    tracing::warn!(name = ?parameter.name(), "an evidence queue entry that cannot be read: left as is")
                }
            }
        }
    }
    Ok(items)
}

/// What one evidence pass did.
#[derive(Debug, Default, Serialize)]
pub struct PassSummary {
    /// Copies verified complete and taken off the queue.
    pub complete: Vec<String>,
    /// Copies started or still being filled: checked again next pass.
    pub copying: Vec<String>,
    /// Snapshots still being taken.
    pub waiting: Vec<String>,
    /// Items that failed, with why; they stay on the queue.
    pub failed: Vec<String>,
}

/// Works through the queue once: starts what can start, verifies what
/// completed and takes it off.
pub async fn pass(
    clouds: &responder_aws::cloud::Clouds<crate::Ec2Clients>,
    home_account: &responder_core::AccountId,
    key_arn: &str,
) -> Result<PassSummary, AwsFailure> {
    let mut summary = PassSummary::default();
    let home_here = clouds.home();
    for item in queued(home_here).await? {
        let name = format!("{}/{}/{}", item.account, item.region, item.snapshot_id);
        let result = async {
            let account = responder_core::AccountId::parse(&item.account).map_err(AwsFailure::rejected)?;
            let member = clouds.for_scope(&account, &item.region).await?;
            let home = clouds.for_scope(home_account, &item.region).await?;
            let (state, _) = preserve(&member, &home, home_account.as_str(), key_arn, &item).await?;
            if let Preserved::Complete(_) = state {
                dequeue(home_here, &item).await?;
            }
            Ok::<_, AwsFailure>(state)
        }
        .await;
        match result {
            Ok(Preserved::Complete(copy)) => summary.complete.push(format!("{name} → {copy}")),
            Ok(Preserved::Copying(copy)) => summary.copying.push(format!("{name} → {copy}")),
            Ok(Preserved::SourcePending) => summary.waiting.push(name),
            Err(f) => summary.failed.push(format!("{name}: {f}")),
        }
    }
    Ok(summary)
}
