//! CloudTrail adapter, the restore-cloudtrail playbook, and the activity
//! look-up that enriches alerts.
//!
//! **restore-cloudtrail** handles `Stealth:IAMUser/CloudTrailLoggingDisabled`
//! whatever its severity (GuardDuty rates it Low). With the trail the finding
//! names (`affectedResources["AWS::CloudTrail::Trail"]`, a name or an ARN):
//! describe it, and `StartLogging` unless it is logging already. Without one:
//! every trail of the account whose home is this region and that is not
//! logging. A trail owned by another account (an organization trail) cannot
//! be restarted from here: it is reported, not failed. IAM actions:
//! cloudtrail:DescribeTrails, GetTrailStatus, StartLogging. Idempotent: a
//! trail that is logging is `already_done`.

use std::collections::BTreeSet;

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_smithy_types::DateTime;
use chrono::{Duration, Utc};
use responder_core::finding::Finding;
use responder_core::report::Activity;
use responder_core::target::{Target, classify};
use responder_core::{AccountId, StepStatus};

use crate::Cloud;
use crate::failure::{AwsFailure, FailureKind};
use crate::steps::Execution;
use crate::steps::{Held, Timed};

/// A trail as DescribeTrails reports it.
#[derive(Debug, Clone)]
pub struct TrailView {
    pub name: String,
    pub arn: String,
    pub home_region: String,
    pub organization: bool,
    pub multi_region: bool,
    pub log_file_validation: bool,
}

impl TrailView {
    /// The account that owns the trail, from its ARN.
    pub fn owner(&self) -> Option<&str> {
        self.arn.split(':').nth(4)
    }
}

/// Trails visible in this region; `names` narrows to those (names or ARNs).
pub async fn describe_trails(ct: &Client, names: &[&str], include_shadow: bool) -> Result<Vec<TrailView>, AwsFailure> {
    let mut request = ct.describe_trails().include_shadow_trails(include_shadow);
    for n in names {
        request = request.trail_name_list(*n);
    }
    let out = request.send().await?;
    Ok(out
        .trail_list()
        .iter()
        .filter_map(|t| {
            Some(TrailView {
                name: t.name()?.to_owned(),
                arn: t.trail_arn().unwrap_or_default().to_owned(),
                home_region: t.home_region().unwrap_or_default().to_owned(),
                organization: t.is_organization_trail().unwrap_or(false),
                multi_region: t.is_multi_region_trail().unwrap_or(false),
                log_file_validation: t.log_file_validation_enabled().unwrap_or(false),
            })
        })
        .collect())
}

pub async fn is_logging(ct: &Client, trail: &str) -> Result<bool, AwsFailure> {
    Ok(ct.get_trail_status().name(trail).send().await?.is_logging().unwrap_or(false))
}

pub async fn start_logging(ct: &Client, trail: &str) -> Result<(), AwsFailure> {
    ct.start_logging().name(trail).send().await?;
    Ok(())
}

/// Restarts logging; see the module documentation.
pub async fn restore_trail(
    cloud: &Cloud,
    account: &AccountId,
    named: Option<&str>,
    dry_run: bool,
    gate: &crate::verify::Gate,
) -> Execution {
    let mut run = Execution::default();
    let ct = &cloud.cloudtrail;
    let names: Vec<&str> = named.into_iter().collect();
    let started = std::time::Instant::now();
    let described = describe_trails(ct, &names, false).await;
    let took = Some(started.elapsed());
    let trails = match described {
        Ok(t) => t,
        Err(f) if f.kind == FailureKind::NotFound => Vec::new(),
        Err(f) => {
            run.log.push("describe-trails", named.unwrap_or("*"), Timed { result: Err(f), took });
            return run;
        }
    };
    let matches_name = |t: &TrailView| named.is_none_or(|n| t.name == n || t.arn == n);
    let (mine, foreign): (Vec<TrailView>, Vec<TrailView>) = trails
        .into_iter()
        .filter(matches_name)
        .filter(|t| named.is_some() || t.home_region == cloud.region)
        .partition(|t| t.owner().is_none_or(|o| o == account.as_str()));
    for t in &foreign {
        run.notes.push(format!(
            "trail {} belongs to account {} (an organization trail): restart it from that account",
            t.arn,
            t.owner().unwrap_or("?")
        ));
    }
    if mine.is_empty() {
        if !foreign.is_empty() {
            run.skipped = Some(run.notes.join("; "));
            return run;
        }
        let target = named.unwrap_or("*");
        let message = match named {
            Some(n) => format!(
                "trail {n} does not exist (deleted?): recreate it from its template; logging cannot be restarted"
            ),
            None => format!("no trail has its home in {}: nothing to restart; create one", cloud.region),
        };
        run.log.push(
            "describe-trails",
            target,
            Err(AwsFailure { kind: FailureKind::NotFound, code: Some("TrailNotFoundException".into()), message }),
        );
        return run;
    }
    let described = Ok(Held::done(format!("{} trail(s)", mine.len())));
    run.log.push("describe-trails", named.unwrap_or("*"), Timed { result: described, took });

    // By name: these trails are this account's and have their home here.
    let results = futures::future::join_all(mine.iter().map(|t| async move {
        let started = std::time::Instant::now();
        let result = match is_logging(ct, &t.name).await {
            Ok(true) => Ok(Some(Held::already("logging"))),
            Ok(false) if dry_run => Ok(None),
            Ok(false) if gate.clone().await.is_err() => Ok(Some(Held::skipped(crate::steps::NOT_CONFIRMED))),
            Ok(false) => start_logging(ct, &t.name).await.map(|()| Some(Held::done("logging restarted"))),
            Err(f) => Err(f),
        };
        (t.name.clone(), result, Some(started.elapsed()))
    }))
    .await;
    for (name, result, took) in results {
        match result {
            Ok(Some(held)) => run.log.push("start-logging", &name, Timed { result: Ok(held), took }),
            Ok(None) => run.log.push_status("start-logging", &name, StepStatus::Planned, "StartLogging"),
            Err(f) => run.log.push("start-logging", &name, Timed { result: Err(f), took }),
        }
    }
    run
}

/// Events worth listing for an instance finding.
const INSTANCE_EVENTS: &[&str] = &[
    "RunInstances",
    "ModifyInstanceAttribute",
    "ModifyNetworkInterfaceAttribute",
    "AssociateIamInstanceProfile",
    "ReplaceIamInstanceProfileAssociation",
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "AttachNetworkInterface",
    "StartInstances",
    "StopInstances",
];

/// Events worth listing for an S3 bucket finding: its configuration changes.
const BUCKET_EVENTS: &[&str] = &[
    "PutBucketLogging",
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketAcl",
    "PutBucketPublicAccessBlock",
    "DeleteBucketPublicAccessBlock",
    "PutBucketOwnershipControls",
    "PutBucketVersioning",
    "PutBucketLifecycle",
    "PutBucketReplication",
    "DeleteBucket",
];

/// Pages read per look-up, and events listed in an alert.
const MAX_PAGES: usize = 3;
pub const MAX_EVENTS: usize = 20;
/// Resource names looked up for one finding (LookupEvents allows 2 calls a
/// second per account and region: look-ups run one after another).
const MAX_LOOKUPS: usize = 4;

/// The CloudTrail activity around a finding's resource, newest first.
pub async fn activity(ct: &Client, finding: &Finding, window_minutes: u32) -> Result<Vec<Activity>, AwsFailure> {
    // The look-up is enrichment, never worth the eight attempts a change
    // gets: a CloudTrail that keeps failing costs two, and the alert goes
    // out without the listing.
    let retries = aws_sdk_cloudtrail::config::retry::RetryConfig::standard().with_max_attempts(2);
    let ct = &Client::from_conf(ct.config().to_builder().retry_config(retries).build());
    let (start, end) = window(finding, window_minutes);
    let mut lookups: Vec<(LookupAttributeKey, String, Filter)> = Vec::new();
    match classify(finding) {
        Target::Instance { instance_id, eni_hints } => {
            lookups.push((LookupAttributeKey::ResourceName, instance_id.to_string(), Filter::Names(INSTANCE_EVENTS)));
            let groups = finding
                .resource
                .instance_details
                .iter()
                .flat_map(|d| &d.network_interfaces)
                .flat_map(|n| &n.security_groups)
                .filter_map(|g| g.group_id.clone());
            for name in eni_hints.into_iter().chain(groups).collect::<BTreeSet<_>>() {
                lookups.push((LookupAttributeKey::ResourceName, name, Filter::Names(INSTANCE_EVENTS)));
            }
        }
        Target::RoleSession { role_name, access_key_id, .. } => {
            if let Some(key) = access_key_id {
                lookups.push((LookupAttributeKey::AccessKeyId, key, Filter::All));
            }
            lookups.push((LookupAttributeKey::EventName, "AssumeRole".into(), Filter::AssumedRole(role_name)));
        }
        Target::S3Buckets { buckets, .. } => {
            // The bucket's configuration changes first: the call that turned
            // logging off, or opened it, is among them.
            for bucket in buckets {
                lookups.push((LookupAttributeKey::ResourceName, bucket, Filter::Names(BUCKET_EVENTS)));
            }
            if let Some(key) = key_of(finding) {
                lookups.push((LookupAttributeKey::AccessKeyId, key, Filter::All));
            }
        }
        _ => {
            if let Some(key) = key_of(finding) {
                lookups.push((LookupAttributeKey::AccessKeyId, key, Filter::All));
            }
        }
    }
    lookups.truncate(MAX_LOOKUPS);

    let mut events: Vec<(DateTime, String, Activity)> = Vec::new();
    for (key, value, filter) in lookups {
        let attribute = LookupAttribute::builder()
            .attribute_key(key)
            .attribute_value(&value)
            .build()
            .map_err(|e| AwsFailure::rejected(e.to_string()))?;
        let mut pages = ct
            .lookup_events()
            .lookup_attributes(attribute)
            .start_time(start)
            .end_time(end)
            .max_results(50)
            .into_paginator()
            .page_size(50)
            .send();
        let mut read = 0;
        while let Some(page) = pages.next().await {
            let page = page?;
            for e in page.events() {
                let name = e.event_name().unwrap_or_default();
                let raw: serde_json::Value =
                    e.cloud_trail_event().and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default();
                if !filter.keeps(name, &raw) {
                    continue;
                }
                let id = e.event_id().unwrap_or_default().to_owned();
                let Some(time) = e.event_time().copied() else { continue };
                let actor = raw["userIdentity"]["arn"].as_str().or(e.username()).unwrap_or("unknown").to_owned();
                events.push((
                    time,
                    id,
                    Activity {
                        time: time.fmt(aws_smithy_types::date_time::Format::DateTime).unwrap_or_default(),
                        event_name: name.to_owned(),
                        actor,
                        source_ip: raw["sourceIPAddress"].as_str().unwrap_or("-").to_owned(),
                    },
                ));
            }
            read += 1;
            if read >= MAX_PAGES {
                break;
            }
        }
    }
    events.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut seen = BTreeSet::new();
    events.retain(|(_, id, _)| id.is_empty() || seen.insert(id.clone()));
    Ok(events.into_iter().take(MAX_EVENTS).map(|(_, _, a)| a).collect())
}

fn key_of(finding: &Finding) -> Option<String> {
    finding.resource.access_key_details.as_ref().and_then(|k| k.access_key_id.clone())
}

/// Which events of a look-up are worth listing.
enum Filter {
    All,
    Names(&'static [&'static str]),
    /// `AssumeRole` calls for this role.
    AssumedRole(String),
}

impl Filter {
    fn keeps(&self, name: &str, raw: &serde_json::Value) -> bool {
        match self {
            Filter::All => true,
            Filter::Names(names) => names.contains(&name),
            Filter::AssumedRole(role) => raw["requestParameters"]["roleArn"]
                .as_str()
                .is_some_and(|arn| arn.rsplit('/').next() == Some(role.as_str())),
        }
    }
}

/// The look-up window: from `window` minutes before the activity GuardDuty
/// first saw to `window` minutes after it last saw it (or around now, when
/// the finding carries no usable time).
fn window(finding: &Finding, minutes: u32) -> (DateTime, DateTime) {
    let parse = |t: &Option<String>| {
        t.as_deref().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
    };
    let first = parse(&finding.service.event_first_seen).or_else(|| parse(&finding.created_at));
    let last = parse(&finding.service.event_last_seen).or_else(|| parse(&finding.updated_at)).or(first);
    let now = Utc::now();
    let margin = Duration::minutes(i64::from(minutes));
    let start = first.unwrap_or(now) - margin;
    let end = (last.unwrap_or(now) + margin).min(now).max(start);
    (DateTime::from_secs(start.timestamp()), DateTime::from_secs(end.timestamp()))
}
