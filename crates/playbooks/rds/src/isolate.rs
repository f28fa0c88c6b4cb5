//! The RDS playbook: cut a database off the network, keep a snapshot, and
//! keep what it had.
//!
//! 1. **Read** the instance (and its Aurora cluster), and the responder's
//!    security groups. The exemption tag on either skips it.
//! 2. **At once**: a snapshot (of the cluster for an Aurora member) named
//!    after the finding, so a repeat finds it; the record, in tags (the
//!    security groups on whichever holds them, instance or cluster; public
//!    accessibility on the instance), never overwritten; the responder's
//!    isolation group of the database's VPC, found by tag or created (a
//!    concurrent twin's is joined).
//! 3. **Isolate**: not publicly accessible, and the isolation group alone
//!    (on the cluster for an Aurora member), applied immediately. Nothing
//!    changes when the record could not be written.
//!
//! Sessions already open are not cut by a security group change: the report
//! says so, and names the login user to rotate.
//!
//! IAM actions: rds:DescribeDBInstances, DescribeDBClusters,
//! CreateDBSnapshot, CreateDBClusterSnapshot, AddTagsToResource,
//! ModifyDBInstance, ModifyDBCluster; ec2:DescribeSecurityGroups,
//! CreateSecurityGroup, CreateTags (on creation), RevokeSecurityGroupEgress,
//! RevokeSecurityGroupIngress.

use std::time::Instant;

use responder_core::{Policy, StepStatus, tags};
use responder_ec2::ec2::{self, GroupRole};

use crate::Cloud;
use crate::failure::{AwsFailure, FailureKind};
use crate::rds::{self, ClusterView, InstanceView};
use crate::steps::{Execution, Held, NOT_CONFIRMED, Timed, timed};
use crate::verify::Gate;

/// On the instance (or the cluster, for an Aurora member): its security
/// groups before isolation, space-separated (RDS tag values allow no comma).
pub const ORIGINAL_GROUPS: &str = tags::ORIGINAL_GROUPS;
/// On the instance: `true` or `false`, its public accessibility before isolation.
pub const ORIGINAL_PUBLIC: &str = "guardduty-responder:original-public";

/// What an isolation run is asked to do.
#[derive(Debug, Clone)]
pub struct DatabaseJob<'a> {
    pub finding_id: &'a str,
    pub instance_id: &'a str,
    pub policy: &'a Policy,
    /// Opens when GuardDuty has confirmed the finding; no change before.
    pub gate: Gate,
}

/// The database: the instance, and its Aurora cluster when it is a member.
#[derive(Debug)]
struct Database {
    instance: InstanceView,
    cluster: Option<(String, ClusterView)>,
}

impl Database {
    /// The groups that decide its network access, and the ARN they are recorded on.
    fn groups(&self) -> (&[String], &str, &std::collections::BTreeMap<String, String>) {
        match &self.cluster {
            Some((_, c)) => (&c.groups, &c.arn, &c.tags),
            None => (&self.instance.groups, &self.instance.arn, &self.instance.tags),
        }
    }
}

/// What isolation reads besides the database: its VPC and the responder's
/// isolation group there, if any.
#[derive(Debug)]
struct Live {
    db: Database,
    vpc: String,
    isolation: Option<ec2::GroupView>,
}

fn missing(what: &str, id: &str) -> AwsFailure {
    AwsFailure { kind: FailureKind::NotFound, code: None, message: format!("{what} {id} not found") }
}

async fn read_database(rds: &aws_sdk_rds::Client, id: &str) -> Result<Database, AwsFailure> {
    let instance = rds::instance(rds, id).await?.ok_or_else(|| missing("database instance", id))?;
    let cluster = match &instance.cluster {
        Some(c) => Some((c.clone(), rds::cluster(rds, c).await?.ok_or_else(|| missing("cluster", c))?)),
        None => None,
    };
    Ok(Database { instance, cluster })
}

async fn read(cloud: &Cloud, id: &str) -> Result<Live, AwsFailure> {
    let (db, groups) = futures::join!(read_database(&cloud.rds, id), ec2::responder_groups(&cloud.ec2));
    let (db, groups) = (db?, groups?);
    let first_group = db.groups().0.first().cloned();
    let vpc = match (&db.instance.vpc, first_group) {
        (Some(v), _) => Some(v.clone()),
        (None, Some(g)) => ec2::vpc_of_group(&cloud.ec2, &g).await?,
        (None, None) => None,
    };
    let vpc = vpc.ok_or_else(|| AwsFailure::rejected(format!("database {id} is in no VPC the responder can find")))?;
    let isolation = groups.into_iter().find(|g| g.vpc_id == vpc && g.role == GroupRole::Isolation);
    Ok(Live { db, vpc, isolation })
}

pub async fn isolate(cloud: &Cloud, job: &DatabaseJob<'_>) -> Execution {
    let mut run = Execution::default();
    let (r, id) = (&cloud.rds, job.instance_id);
    let started = Instant::now();
    let live = read(cloud, id).await;
    let took = Some(started.elapsed());
    let live = match live {
        Ok(l) => l,
        Err(f) => {
            run.log.push("describe-database", id, Timed { result: Err(f), took });
            return run;
        }
    };
    let exempt_tags = live.db.instance.tags.iter().chain(live.db.cluster.iter().flat_map(|(_, c)| &c.tags));
    if job.policy.is_exempt(exempt_tags.map(|(k, v)| (k.as_str(), v.as_str()))) {
        run.skipped =
            Some(format!("database {id} (or its cluster) carries the exemption tag {}=true", job.policy.exempt_tag));
        return run;
    }
    let (groups, groups_arn, groups_tags) = live.db.groups();
    let (groups, groups_arn) = (groups.to_vec(), groups_arn.to_owned());
    let cluster_id = live.db.cluster.as_ref().map(|(c, _)| c.clone());
    let described = format!(
        "in {}, security groups {}, {}",
        live.vpc,
        groups.join(" "),
        if live.db.instance.public { "publicly accessible" } else { "not publicly accessible" }
    );
    run.log.push("describe-database", id, Timed { result: Ok(Held::done(described)), took });
    run.keep(
        "database",
        serde_json::json!({ "instance": live.db.instance, "cluster": live.db.cluster, "vpc": live.vpc }),
    );

    let isolated = live.isolation.as_ref().is_some_and(|g| groups == [g.id.clone()]) && !live.db.instance.public;
    let snapshot_name = rds::snapshot_name(job.finding_id, cluster_id.as_deref().unwrap_or(id));
    let mut record_groups = Vec::new();
    if !groups_tags.contains_key(ORIGINAL_GROUPS) {
        record_groups.push((ORIGINAL_GROUPS.to_owned(), groups.join(" ")));
    }
    let mut record_instance = Vec::new();
    if !live.db.instance.tags.contains_key(ORIGINAL_PUBLIC) {
        record_instance.push((ORIGINAL_PUBLIC.to_owned(), live.db.instance.public.to_string()));
    }
    if job.policy.dry_run {
        let planned = [
            ("snapshot-database", snapshot_name.as_str(), "a snapshot, as evidence"),
            ("record-database-state", id, "tag its security groups and public accessibility"),
            ("ensure-isolation-group", live.vpc.as_str(), "the responder's deny-all group of the VPC"),
            ("isolate-database", id, "not publicly accessible, on the isolation group alone"),
        ];
        for (action, target, detail) in planned {
            run.log.push_status(action, target, StepStatus::Planned, detail);
        }
        return run;
    }
    if job.gate.clone().await.is_err() {
        for action in ["snapshot-database", "record-database-state", "isolate-database"] {
            run.log.push_status(action, id, StepStatus::Skipped, NOT_CONFIRMED);
        }
        return run;
    }

    // Evidence, records and the group, at once.
    let snapshot_tags = vec![
        (tags::FINDING_ID.to_owned(), job.finding_id.to_owned()),
        (tags::SOURCE_INSTANCE.to_owned(), id.to_owned()),
    ];
    let snapshot = timed(async {
        rds::snapshot(r, &snapshot_name, id, cluster_id.as_deref(), &snapshot_tags).await.map(|made| {
            if made {
                Held::done(format!("{snapshot_name} started"))
            } else {
                Held::already(format!("{snapshot_name} exists"))
            }
        })
    });
    let record = timed(async {
        if record_groups.is_empty() && record_instance.is_empty() {
            return Ok(Held::already("recorded by an earlier run"));
        }
        let finding = (tags::FINDING_ID.to_owned(), job.finding_id.to_owned());
        if groups_arn == live.db.instance.arn {
            let mut all = record_groups.clone();
            all.extend(record_instance.clone());
            all.push(finding);
            rds::add_tags(r, &live.db.instance.arn, &all).await?;
        } else {
            let mut on_cluster = record_groups.clone();
            on_cluster.push(finding.clone());
            let mut on_instance = record_instance.clone();
            on_instance.push(finding);
            let (a, b) = futures::join!(
                async {
                    if record_groups.is_empty() { Ok(()) } else { rds::add_tags(r, &groups_arn, &on_cluster).await }
                },
                rds::add_tags(r, &live.db.instance.arn, &on_instance)
            );
            a?;
            b?;
        }
        Ok(Held::done(format!(
            "groups {} on {groups_arn}; publicly accessible {}",
            groups.join(" "),
            live.db.instance.public
        )))
    });
    let group = async {
        let started = Instant::now();
        let result = ec2::ensure_group(&cloud.ec2, &live.vpc, GroupRole::Isolation, live.isolation.as_ref()).await;
        (result, Some(started.elapsed()))
    };
    let (snapshot, record, group) = futures::join!(snapshot, record, group);
    run.log.push("snapshot-database", &snapshot_name, snapshot);
    let recorded = record.result.is_ok();
    run.log.push("record-database-state", id, record);
    let (group, group_took) = group;
    let isolation_id = group.as_ref().ok().map(|(gid, _)| gid.clone());
    run.log.push("ensure-isolation-group", &live.vpc, Timed { result: group.map(|(_, held)| held), took: group_took });
    let Some(isolation_id) = isolation_id.filter(|_| recorded) else {
        run.log.push_status(
            "isolate-database",
            id,
            StepStatus::Skipped,
            "not run: the record or the isolation group is missing",
        );
        return run;
    };
    if isolated {
        run.log.push("isolate-database", id, Ok(Held::already(format!("private, on {isolation_id} alone"))));
        return run;
    }

    let only = vec![isolation_id.clone()];
    let isolate = timed(async {
        match &cluster_id {
            Some(c) => {
                let (a, b) = futures::join!(
                    async { if groups == only { Ok(()) } else { rds::modify_cluster_groups(r, c, &only).await } },
                    async {
                        if live.db.instance.public { rds::modify_instance(r, id, false, None).await } else { Ok(()) }
                    }
                );
                a?;
                b?;
            }
            None => rds::modify_instance(r, id, false, Some(&only)).await?,
        }
        Ok(Held::done(format!("not publicly accessible, on {isolation_id} alone")))
    })
    .await;
    run.log.push("isolate-database", id, isolate);
    run
}

/// Puts back the security groups and public accessibility isolation
/// recorded, then removes the records; snapshots are kept (evidence). A
/// database without a record is left alone.
pub async fn release(cloud: &Cloud, id: &str) -> Execution {
    let mut run = Execution::default();
    let r = &cloud.rds;
    let live = match read_database(r, id).await {
        Ok(l) => l,
        Err(f) => {
            run.log.push("describe-database", id, Err(f));
            return run;
        }
    };
    let (groups_now, groups_arn, groups_tags) = live.groups();
    let (groups_now, groups_arn) = (groups_now.to_vec(), groups_arn.to_owned());
    let recorded_groups: Option<Vec<String>> =
        groups_tags.get(ORIGINAL_GROUPS).map(|g| g.split_whitespace().map(str::to_owned).collect());
    let recorded_public = live.instance.tags.get(ORIGINAL_PUBLIC).map(|p| p == "true");
    if recorded_groups.is_none() && recorded_public.is_none() {
        run.skipped = Some(format!("database {id} has no record of the responder's: nothing to release"));
        return run;
    }
    run.log.push("describe-database", id, Ok(Held::done(live.instance.arn.clone())));
    if let Some(original) = &recorded_groups {
        let result = if original.is_empty() {
            Err(AwsFailure::rejected("the recorded group list is empty; restore by hand"))
        } else if *original == groups_now {
            Ok(Held::already(original.join(" ")))
        } else {
            match &live.cluster {
                Some((c, _)) => rds::modify_cluster_groups(r, c, original).await,
                None => rds::modify_instance(r, id, live.instance.public, Some(original)).await,
            }
            .map(|()| Held::done(original.join(" ")))
        };
        run.log.push("restore-security-groups", &groups_arn, result);
    }
    if let Some(public) = recorded_public {
        let result = if public == live.instance.public {
            Ok(Held::already(format!("publicly accessible {public}")))
        } else {
            rds::modify_instance(r, id, public, None)
                .await
                .map(|()| Held::done(format!("publicly accessible {public}")))
        };
        run.log.push("restore-public-access", id, result);
    }
    if run.log.all_held() {
        let on_groups = vec![ORIGINAL_GROUPS.to_owned(), tags::FINDING_ID.to_owned()];
        let on_instance = vec![ORIGINAL_PUBLIC.to_owned(), tags::FINDING_ID.to_owned()];
        let result = async {
            if groups_arn != live.instance.arn {
                rds::remove_tags(r, &groups_arn, &on_groups).await?;
            }
            let mut keys = on_instance;
            if groups_arn == live.instance.arn {
                keys.push(ORIGINAL_GROUPS.to_owned());
            }
            rds::remove_tags(r, &live.instance.arn, &keys).await?;
            Ok(Held::done("records removed"))
        }
        .await;
        run.log.push("untag-database", id, result);
    }
    run
}
