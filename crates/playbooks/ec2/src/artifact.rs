//! Unsharing a snapshot or an image GuardDuty's malware scan found
//! malicious files in: who may use it is recorded in a tag on it, then every
//! public and cross-account share is taken away, except the security
//! account's (where evidence goes). `release` puts the recorded shares back.
//!
//! IAM actions: ec2:DescribeSnapshots, DescribeSnapshotAttribute,
//! ModifySnapshotAttribute, DescribeImages, DescribeImageAttribute,
//! ModifyImageAttribute, CreateTags, DeleteTags.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    CreateVolumePermission, CreateVolumePermissionModifications, ImageAttributeName, LaunchPermission,
    LaunchPermissionModifications, PermissionGroup, SnapshotAttributeName,
};
use responder_core::record::{chunk_keys, chunk_tag, join_tag};
use responder_core::target::ArtifactKind;
use responder_core::{Policy, StepStatus, tags};
use serde::{Deserialize, Serialize};

use crate::Cloud;
use crate::ec2::{self, tag_map};
use crate::failure::AwsFailure;
use crate::steps::{Execution, Held, NOT_CONFIRMED, timed};
use crate::verify::Gate;

/// Who may create volumes from a snapshot, or launch an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sharing {
    /// Account ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// `all`: public.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub public: bool,
    /// Organization and organizational unit ARNs (images only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<String>,
}

impl Sharing {
    fn is_empty(&self) -> bool {
        self.accounts.is_empty() && !self.public && self.organizations.is_empty() && self.units.is_empty()
    }

    /// Everything but the security account's share.
    fn beyond(&self, keep: &str) -> Sharing {
        Sharing { accounts: self.accounts.iter().filter(|a| *a != keep).cloned().collect(), ..self.clone() }
    }

    fn describe(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if self.public {
            parts.push("public".into());
        }
        parts.extend(self.accounts.iter().map(|a| format!("account {a}")));
        parts.extend(self.organizations.iter().cloned());
        parts.extend(self.units.iter().cloned());
        if parts.is_empty() { "nobody".into() } else { parts.join(", ") }
    }
}

/// The artifact as EC2 describes it now.
#[derive(Debug, Clone, Serialize)]
pub struct ArtifactView {
    pub id: String,
    pub owner: String,
    pub state: String,
    pub tags: BTreeMap<String, String>,
    pub sharing: Sharing,
}

/// Reads the artifact and who it is shared with; `None` when EC2 does not know it.
pub async fn describe(cloud: &Cloud, kind: ArtifactKind, id: &str) -> Result<Option<ArtifactView>, AwsFailure> {
    let ec2c = &cloud.ec2;
    match kind {
        ArtifactKind::Snapshot => {
            let out = match ec2c.describe_snapshots().snapshot_ids(id).send().await {
                Ok(out) => out,
                Err(e) => {
                    let f = AwsFailure::from(e);
                    return if f.is_code("InvalidSnapshot.NotFound") { Ok(None) } else { Err(f) };
                }
            };
            let Some(snap) = out.snapshots().iter().find(|s| s.snapshot_id() == Some(id)) else { return Ok(None) };
            let attr = ec2c
                .describe_snapshot_attribute()
                .snapshot_id(id)
                .attribute(SnapshotAttributeName::CreateVolumePermission)
                .send()
                .await?;
            let mut sharing = Sharing::default();
            for p in attr.create_volume_permissions() {
                if p.group() == Some(&PermissionGroup::All) {
                    sharing.public = true;
                }
                sharing.accounts.extend(p.user_id().map(str::to_owned));
            }
            Ok(Some(ArtifactView {
                id: id.to_owned(),
                owner: snap.owner_id().unwrap_or_default().to_owned(),
                state: snap.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                tags: tag_map(snap.tags()),
                sharing,
            }))
        }
        ArtifactKind::Image => {
            let out = match ec2c.describe_images().image_ids(id).send().await {
                Ok(out) => out,
                Err(e) => {
                    let f = AwsFailure::from(e);
                    return if f.is_code("InvalidAMIID.NotFound") || f.is_code("InvalidAMIID.Unavailable") {
                        Ok(None)
                    } else {
                        Err(f)
                    };
                }
            };
            let Some(image) = out.images().iter().find(|i| i.image_id() == Some(id)) else { return Ok(None) };
            let attr = ec2c
                .describe_image_attribute()
                .image_id(id)
                .attribute(ImageAttributeName::LaunchPermission)
                .send()
                .await?;
            let mut sharing = Sharing::default();
            for p in attr.launch_permissions() {
                if p.group() == Some(&PermissionGroup::All) {
                    sharing.public = true;
                }
                sharing.accounts.extend(p.user_id().map(str::to_owned));
                sharing.organizations.extend(p.organization_arn().map(str::to_owned));
                sharing.units.extend(p.organizational_unit_arn().map(str::to_owned));
            }
            Ok(Some(ArtifactView {
                id: id.to_owned(),
                owner: image.owner_id().unwrap_or_default().to_owned(),
                state: image.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                tags: tag_map(image.tags()),
                sharing,
            }))
        }
    }
}

/// Adds (`add`) or removes the shares in `sharing`.
async fn modify(cloud: &Cloud, kind: ArtifactKind, id: &str, sharing: &Sharing, add: bool) -> Result<(), AwsFailure> {
    match kind {
        ArtifactKind::Snapshot => {
            let mut perms: Vec<CreateVolumePermission> =
                sharing.accounts.iter().map(|a| CreateVolumePermission::builder().user_id(a).build()).collect();
            if sharing.public {
                perms.push(CreateVolumePermission::builder().group(PermissionGroup::All).build());
            }
            let change = if add {
                CreateVolumePermissionModifications::builder().set_add(Some(perms)).build()
            } else {
                CreateVolumePermissionModifications::builder().set_remove(Some(perms)).build()
            };
            cloud.ec2.modify_snapshot_attribute().snapshot_id(id).create_volume_permission(change).send().await?;
        }
        ArtifactKind::Image => {
            let mut perms: Vec<LaunchPermission> =
                sharing.accounts.iter().map(|a| LaunchPermission::builder().user_id(a).build()).collect();
            if sharing.public {
                perms.push(LaunchPermission::builder().group(PermissionGroup::All).build());
            }
            perms.extend(sharing.organizations.iter().map(|o| LaunchPermission::builder().organization_arn(o).build()));
            perms.extend(sharing.units.iter().map(|u| LaunchPermission::builder().organizational_unit_arn(u).build()));
            let change = if add {
                LaunchPermissionModifications::builder().set_add(Some(perms)).build()
            } else {
                LaunchPermissionModifications::builder().set_remove(Some(perms)).build()
            };
            cloud.ec2.modify_image_attribute().image_id(id).launch_permission(change).send().await?;
        }
    }
    Ok(())
}

/// What the unshare run is asked to do.
#[derive(Debug, Clone)]
pub struct UnshareJob<'a> {
    pub finding_id: &'a str,
    pub account: &'a str,
    pub kind: ArtifactKind,
    pub id: &'a str,
    pub policy: &'a Policy,
    /// The security account, whose share stays.
    pub keep_account: Option<&'a str>,
    pub gate: Gate,
}

pub async fn unshare(cloud: &Cloud, job: &UnshareJob<'_>) -> Execution {
    let mut run = Execution::default();
    let (kind, id) = (job.kind, job.id);
    let started = std::time::Instant::now();
    let described = describe(cloud, kind, id).await;
    let took = Some(started.elapsed());
    let view = match described {
        Ok(Some(view)) => view,
        Ok(None) => {
            let missing = AwsFailure::rejected(format!("{} {id} does not exist in {}", kind.name(), cloud.region));
            run.log.push("describe-artifact", id, Err(missing));
            return run;
        }
        Err(f) => {
            run.log.push("describe-artifact", id, Err(f));
            return run;
        }
    };
    if view.owner != job.account {
        run.skipped = Some(format!(
            "{} {id} belongs to account {}, not {}: only its owner can unshare it",
            kind.name(),
            view.owner,
            job.account
        ));
        return run;
    }
    if job.policy.is_exempt(view.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        run.skipped = Some(format!("{} {id} carries the exemption tag {}=true", kind.name(), job.policy.exempt_tag));
        return run;
    }
    run.keep(kind.name(), &view);
    let keep = job.keep_account.unwrap_or_default();
    let remove = view.sharing.beyond(keep);
    run.log.push(
        "describe-artifact",
        id,
        crate::steps::Timed { result: Ok(Held::done(format!("shared with {}", view.sharing.describe()))), took },
    );
    let recorded = join_tag(tags::ORIGINAL_SHARING, &view.tags);
    if job.policy.dry_run {
        if recorded.is_none() {
            run.log.push_status(
                "record-sharing",
                id,
                StepStatus::Planned,
                format!("record {}", view.sharing.describe()),
            );
        }
        run.log.push_status("unshare", id, StepStatus::Planned, format!("remove {}", remove.describe()));
        return run;
    }
    if job.gate.clone().await.is_err() {
        run.log.push_status("unshare", id, StepStatus::Skipped, NOT_CONFIRMED);
        return run;
    }
    // Record before the change; a record from an earlier delivery is kept
    // (it holds the shares before anything was taken away).
    if recorded.is_none() {
        let text = serde_json::to_string(&view.sharing).unwrap_or_default();
        let mut pairs = chunk_tag(tags::ORIGINAL_SHARING, &text);
        pairs.push((tags::FINDING_ID.to_owned(), job.finding_id.to_owned()));
        let written = timed(async { ec2::create_tags(&cloud.ec2, id, &pairs).await.map(|()| Held::done(text)) }).await;
        let ok = written.is_ok();
        run.log.push("record-sharing", id, written);
        if !ok {
            run.log.push_status("unshare", id, StepStatus::Skipped, "not run: the shares could not be recorded");
            return run;
        }
    } else {
        run.log.push("record-sharing", id, Ok(Held::already("recorded by an earlier delivery; kept")));
    }
    let result = if remove.is_empty() {
        Ok(Held::already(format!(
            "shared with {} only",
            if keep.is_empty() { "nobody" } else { "the security account" }
        )))
        .into()
    } else {
        timed(async {
            modify(cloud, kind, id, &remove, false).await.map(|()| Held::done(format!("removed {}", remove.describe())))
        })
        .await
    };
    run.log.push("unshare", id, result);
    let status = if run.log.all_held() { "unshared" } else { "partial" };
    let tagged = timed(async {
        ec2::create_tags(&cloud.ec2, id, &[(tags::STATUS.to_owned(), status.to_owned())])
            .await
            .map(|()| Held::done(format!("{}={status}", tags::STATUS)))
    })
    .await;
    run.log.push("tag-artifact", id, tagged);
    run
}

/// Shares the artifact again with whoever the record names, then removes
/// the record.
pub async fn release(cloud: &Cloud, kind: ArtifactKind, id: &str) -> Execution {
    let mut run = Execution::default();
    let view = match describe(cloud, kind, id).await {
        Ok(Some(view)) => view,
        Ok(None) => {
            run.log.push("describe-artifact", id, Err(AwsFailure::rejected(format!("{} {id} not found", kind.name()))));
            return run;
        }
        Err(f) => {
            run.log.push("describe-artifact", id, Err(f));
            return run;
        }
    };
    let Some(text) = join_tag(tags::ORIGINAL_SHARING, &view.tags) else {
        run.skipped = Some(format!("{} {id} has no sharing record: nothing to release", kind.name()));
        return run;
    };
    let Ok(original) = serde_json::from_str::<Sharing>(&text) else {
        run.log.push(
            "restore-sharing",
            id,
            Err(AwsFailure::rejected("the sharing record cannot be read; restore by hand")),
        );
        return run;
    };
    let missing = Sharing {
        accounts: original.accounts.iter().filter(|a| !view.sharing.accounts.contains(a)).cloned().collect(),
        public: original.public && !view.sharing.public,
        organizations: original
            .organizations
            .iter()
            .filter(|o| !view.sharing.organizations.contains(o))
            .cloned()
            .collect(),
        units: original.units.iter().filter(|u| !view.sharing.units.contains(u)).cloned().collect(),
    };
    let result = if missing.is_empty() {
        Ok(Held::already(format!("shared with {}", original.describe())))
    } else {
        modify(cloud, kind, id, &missing, true)
            .await
            .map(|()| Held::done(format!("shared again with {}", missing.describe())))
    };
    run.log.push("restore-sharing", id, result);
    if run.log.all_held() {
        let result = async {
            ec2::delete_tags(&cloud.ec2, id, &chunk_keys(tags::ORIGINAL_SHARING, &view.tags)).await?;
            ec2::create_tags(&cloud.ec2, id, &[(tags::STATUS.to_owned(), "released".to_owned())]).await?;
            Ok(Held::done(format!("{}=released", tags::STATUS)))
        }
        .await;
        run.log.push("tag-artifact", id, result);
    }
    run
}
