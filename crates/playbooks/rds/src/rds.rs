//! RDS adapter: what isolation reads and changes on an instance or cluster.

use std::collections::BTreeMap;

use aws_sdk_rds::Client;
use aws_sdk_rds::types::Tag;

use crate::failure::{AwsFailure, FailureKind, absent_on};

/// A database instance as the playbook sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstanceView {
    pub arn: String,
    pub groups: Vec<String>,
    pub public: bool,
    pub cluster: Option<String>,
    pub vpc: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// An Aurora cluster: where its members' security groups are set.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClusterView {
    pub arn: String,
    pub groups: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

fn tags_of(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))).collect()
}

/// A database busy with another change (a backup, a modification) answers
/// with an invalid-state error: worth a retry once it is done.
fn busy_is_transient(failure: AwsFailure) -> AwsFailure {
    let busy = ["InvalidDBInstanceState", "InvalidDBInstanceStateFault", "InvalidDBClusterStateFault"];
    if busy.iter().any(|c| failure.is_code(c)) {
        AwsFailure { kind: FailureKind::Transient, ..failure }
    } else {
        failure
    }
}

pub async fn instance(rds: &Client, id: &str) -> Result<Option<InstanceView>, AwsFailure> {
    let out = rds.describe_db_instances().db_instance_identifier(id).send().await;
    let out = absent_on(out, &["DBInstanceNotFound", "DBInstanceNotFoundFault"])?;
    Ok(out.and_then(|out| {
        out.db_instances().first().map(|i| InstanceView {
            arn: i.db_instance_arn().unwrap_or_default().to_owned(),
            groups: i
                .vpc_security_groups()
                .iter()
                .filter_map(|g| g.vpc_security_group_id())
                .map(str::to_owned)
                .collect(),
            public: i.publicly_accessible().unwrap_or(false),
            cluster: i.db_cluster_identifier().filter(|c| !c.is_empty()).map(str::to_owned),
            vpc: i.db_subnet_group().and_then(|g| g.vpc_id()).filter(|v| !v.is_empty()).map(str::to_owned),
            tags: tags_of(i.tag_list()),
        })
    }))
}

pub async fn cluster(rds: &Client, id: &str) -> Result<Option<ClusterView>, AwsFailure> {
    let out =
        absent_on(rds.describe_db_clusters().db_cluster_identifier(id).send().await, &["DBClusterNotFoundFault"])?;
    Ok(out.and_then(|out| {
        out.db_clusters().first().map(|c| ClusterView {
            arn: c.db_cluster_arn().unwrap_or_default().to_owned(),
            groups: c
                .vpc_security_groups()
                .iter()
                .filter_map(|g| g.vpc_security_group_id())
                .map(str::to_owned)
                .collect(),
            tags: tags_of(c.tag_list()),
        })
    }))
}

/// Sets the instance's public accessibility and, when given, its groups.
pub async fn modify_instance(
    rds: &Client,
    id: &str,
    public: bool,
    groups: Option<&[String]>,
) -> Result<(), AwsFailure> {
    rds.modify_db_instance()
        .db_instance_identifier(id)
        .publicly_accessible(public)
        .set_vpc_security_group_ids(groups.map(<[String]>::to_vec))
        .apply_immediately(true)
        .send()
        .await
        .map_err(|e| busy_is_transient(e.into()))?;
    Ok(())
}

pub async fn modify_cluster_groups(rds: &Client, id: &str, groups: &[String]) -> Result<(), AwsFailure> {
    rds.modify_db_cluster()
        .db_cluster_identifier(id)
        .set_vpc_security_group_ids(Some(groups.to_vec()))
        .apply_immediately(true)
        .send()
        .await
        .map_err(|e| busy_is_transient(e.into()))?;
    Ok(())
}

fn rds_tags(pairs: &[(String, String)]) -> Vec<Tag> {
    pairs.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// A snapshot of the instance (or of its cluster, for an Aurora member);
/// `false` when one of that name exists already.
pub async fn snapshot(
    rds: &Client,
    name: &str,
    instance: &str,
    cluster: Option<&str>,
    tags: &[(String, String)],
) -> Result<bool, AwsFailure> {
    let result = match cluster {
        Some(c) => rds
            .create_db_cluster_snapshot()
            .db_cluster_snapshot_identifier(name)
            .db_cluster_identifier(c)
            .set_tags(Some(rds_tags(tags)))
            .send()
            .await
            .map(drop)
            .map_err(AwsFailure::from),
        None => rds
            .create_db_snapshot()
            .db_snapshot_identifier(name)
            .db_instance_identifier(instance)
            .set_tags(Some(rds_tags(tags)))
            .send()
            .await
            .map(drop)
            .map_err(AwsFailure::from),
    };
    match result {
        Ok(()) => Ok(true),
        Err(f) if f.is_code("DBSnapshotAlreadyExists") || f.is_code("DBClusterSnapshotAlreadyExistsFault") => Ok(false),
        Err(f) => Err(busy_is_transient(f)),
    }
}

pub async fn add_tags(rds: &Client, arn: &str, pairs: &[(String, String)]) -> Result<(), AwsFailure> {
    rds.add_tags_to_resource().resource_name(arn).set_tags(Some(rds_tags(pairs))).send().await?;
    Ok(())
}

pub async fn remove_tags(rds: &Client, arn: &str, keys: &[String]) -> Result<(), AwsFailure> {
    if keys.is_empty() {
        return Ok(());
    }
    rds.remove_tags_from_resource().resource_name(arn).set_tag_keys(Some(keys.to_vec())).send().await?;
    Ok(())
}

/// A snapshot name for this finding and database: letters, digits and
/// single hyphens, a letter first, at most 63 characters (the cluster
/// snapshot limit), the same on every delivery of the finding.
pub fn snapshot_name(finding_id: &str, database: &str) -> String {
    let finding: String = finding_id.chars().filter(char::is_ascii_alphanumeric).take(16).collect();
    let finding = if finding.is_empty() { "finding".to_owned() } else { finding.to_ascii_lowercase() };
    let mut name = format!("guardduty-responder-{finding}-{database}");
    name.truncate(63);
    name.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::snapshot_name;

    #[test]
    fn snapshot_names_are_valid_and_stable() {
        assert_eq!(
            snapshot_name("5e9f1a2b3c4d5e6f7a8b9c0d1e2f3a4b", "orders-db"),
            "guardduty-responder-5e9f1a2b3c4d5e6f-orders-db"
        );
        let long = snapshot_name("--", &format!("a{}", "-b".repeat(40)));
        assert!(long.len() <= 63 && !long.ends_with('-') && !long.contains("--"), "{long}");
        assert!(long.starts_with("guardduty-responder-finding-"));
    }
}
