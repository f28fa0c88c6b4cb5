//! check-posture: the heartbeat of the trails that cover the region and the
//! monitoring posture around them, evaluated by `responder_core::posture`.
//!
//! Alerts only on change. The set of failing check ids is kept as tags on the
//! report topic itself (`guardduty-responder:posture-state`, continued in
//! numbered tags past 256 characters). That is the simplest durable place: the
//! topic exists in every deployed region and is where the alerts go, it needs
//! no new resource or service, the function's role is scoped to that one ARN,
//! and a person can read the state in the console. The state is written only
//! after the alert was published, so a failed publish is retried next run.
//!
//! IAM actions (read-only, plus the state): cloudtrail:DescribeTrails,
//! GetTrailStatus, GetEventSelectors, GetInsightSelectors;
//! guardduty:ListDetectors, GetDetector; events:DescribeRule (the responder's rules, by name);
//! sns:ListTagsForResource, TagResource, UntagResource and Publish on the topic.

use std::collections::{BTreeMap, BTreeSet};

use aws_config::SdkConfig;
use chrono::Utc;
use responder_core::posture::{
    Change, Check, DetectorFacts, PostureConfig, PostureFacts, RuleFacts, TrailFacts, evaluate, failing,
};
use responder_core::record::{chunk_keys, chunk_tag, join_tag};
use responder_core::report::Notification;
use responder_core::settings::NotifyFormat;
use responder_core::{Outcome, Report, StepRecord, StepStatus};

use crate::cloudtrail::describe_trails;
use crate::failure::{AwsFailure, FailureKind};

/// Where the failing checks of the last run are kept.
pub const STATE_TAG: &str = "guardduty-responder:posture-state";

/// The facts of this account and region.
pub async fn gather(config: &SdkConfig, posture: &PostureConfig) -> Result<PostureFacts, AwsFailure> {
    let region = config.region().map(|r| r.to_string()).unwrap_or_default();
    let ct = aws_sdk_cloudtrail::Client::new(config);
    let gd = aws_sdk_guardduty::Client::new(config);
    let ev = aws_sdk_eventbridge::Client::new(config);
    let (trails, detectors, rules) =
        futures::join!(trail_facts(&ct, &region), detector_facts(&gd), rule_facts(&ev, &posture.rules));
    Ok(PostureFacts { region, trails: trails?, detectors: detectors?, rules: rules?, now: Utc::now() })
}

async fn trail_facts(ct: &aws_sdk_cloudtrail::Client, region: &str) -> Result<Vec<TrailFacts>, AwsFailure> {
    let trails = describe_trails(ct, &[], true).await?;
    let facts = futures::future::join_all(trails.into_iter().map(|t| async move {
        // Trails whose home is here by name; shadows of other regions' trails by ARN.
        let id = if t.home_region == region || t.arn.is_empty() { t.name.clone() } else { t.arn.clone() };
        let (status, selectors, insights) = futures::join!(
            ct.get_trail_status().name(&id).send(),
            ct.get_event_selectors().trail_name(&id).send(),
            ct.get_insight_selectors().trail_name(&id).send(),
        );
        let status = status.map_err(AwsFailure::from)?;
        let (management_events, s3_data_buckets) = match selectors {
            Ok(s) => selector_facts(&s),
            Err(e) => {
                let f = AwsFailure::from(e);
                if f.kind == FailureKind::Transient || f.kind == FailureKind::Denied {
                    return Err(f);
                }
                ((false, false), Vec::new())
            }
        };
        let insights = match insights {
            Ok(i) => !i.insight_selectors().is_empty(),
            Err(e) => {
                let f = AwsFailure::from(e);
                if f.kind == FailureKind::Transient || f.kind == FailureKind::Denied {
                    return Err(f);
                }
                false
            }
        };
        Ok(TrailFacts {
            name: t.name.clone(),
            home_region: t.home_region.clone(),
            multi_region: t.multi_region,
            log_file_validation: t.log_file_validation,
            logging: status.is_logging().unwrap_or(false),
            latest_delivery: status.latest_delivery_time().and_then(|d| chrono::DateTime::from_timestamp(d.secs(), 0)),
            delivery_error: status.latest_delivery_error().map(str::to_owned),
            management_events,
            s3_data_buckets,
            insights,
        })
    }))
    .await;
    facts.into_iter().collect()
}

/// Management events (read, write) and the S3 buckets with data events, from
/// basic or advanced event selectors.
fn selector_facts(
    s: &aws_sdk_cloudtrail::operation::get_event_selectors::GetEventSelectorsOutput,
) -> ((bool, bool), Vec<String>) {
    let mut read = false;
    let mut write = false;
    let mut buckets = Vec::new();
    let bucket_of = |arn: &str| -> Option<String> {
        let rest = arn.strip_prefix("arn:")?.split_once(":s3:")?.1.trim_start_matches("::");
        let rest = rest.trim_start_matches(':');
        Some(if rest.is_empty() { "*".to_owned() } else { rest.split('/').next().unwrap_or(rest).to_owned() })
    };
    for sel in s.event_selectors() {
        if sel.include_management_events().unwrap_or(true) {
            match sel.read_write_type().map(|t| t.as_str()) {
                Some("ReadOnly") => read = true,
                Some("WriteOnly") => write = true,
                _ => {
                    read = true;
                    write = true;
                }
            }
        }
        for r in sel.data_resources() {
            if r.r#type() == Some("AWS::S3::Object") {
                buckets.extend(r.values().iter().filter_map(|v| bucket_of(v)));
            }
        }
    }
    for adv in s.advanced_event_selectors() {
        let field = |name: &str| adv.field_selectors().iter().find(|f| f.field() == name);
        let category = field("eventCategory").map(|f| f.equals().to_vec()).unwrap_or_default();
        let read_only = field("readOnly").map(|f| f.equals().to_vec());
        if category.iter().any(|c| c == "Management") {
            match read_only.as_deref() {
                Some([v]) if v == "true" => read = true,
                Some([v]) if v == "false" => write = true,
                _ => {
                    read = true;
                    write = true;
                }
            }
        }
        let s3 = field("resources.type").is_some_and(|f| f.equals().iter().any(|t| t == "AWS::S3::Object"));
        if category.iter().any(|c| c == "Data") && s3 {
            match field("resources.ARN") {
                Some(f) => buckets.extend(f.starts_with().iter().chain(f.equals()).filter_map(|v| bucket_of(v))),
                None => buckets.push("*".to_owned()),
            }
        }
    }
    ((read, write), buckets)
}

async fn detector_facts(gd: &aws_sdk_guardduty::Client) -> Result<Vec<DetectorFacts>, AwsFailure> {
    let ids = gd.list_detectors().send().await?.detector_ids().to_vec();
    let mut detectors = Vec::new();
    for id in ids {
        let d = gd.get_detector().detector_id(&id).send().await?;
        detectors.push(DetectorFacts {
            enabled: d.status().map(|s| s.as_str()) == Some("ENABLED"),
            publishing_frequency: d.finding_publishing_frequency().map(|f| f.as_str().to_owned()),
            id,
        });
    }
    Ok(detectors)
}

/// The responder's rules, each read by its exact name.
async fn rule_facts(ev: &aws_sdk_eventbridge::Client, names: &[String]) -> Result<Option<Vec<RuleFacts>>, AwsFailure> {
    if names.is_empty() {
        return Ok(None);
    }
    let described = futures::future::join_all(names.iter().map(|name| async move {
        match ev.describe_rule().name(name).send().await.map_err(AwsFailure::from) {
            Ok(out) => Ok(RuleFacts {
                name: name.clone(),
                present: true,
                enabled: out.state().map(|s| s.as_str()) == Some("ENABLED"),
            }),
            Err(f) if f.kind == crate::failure::FailureKind::NotFound => {
                Ok(RuleFacts { name: name.clone(), present: false, enabled: false })
            }
            Err(f) => Err(f),
        }
    }))
    .await;
    described.into_iter().collect::<Result<Vec<_>, _>>().map(Some)
}

/// The failing checks the last run recorded on the topic.
pub async fn load_state(sns: &aws_sdk_sns::Client, topic: &str) -> Result<(BTreeSet<String>, Vec<String>), AwsFailure> {
    let out = sns.list_tags_for_resource().resource_arn(topic).send().await?;
    let tags: BTreeMap<String, String> =
        out.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
    let ids = join_tag(STATE_TAG, &tags).unwrap_or_default();
    Ok((ids.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(), chunk_keys(STATE_TAG, &tags)))
}

/// Records `failing` on the topic, replacing what was there.
pub async fn save_state(
    sns: &aws_sdk_sns::Client,
    topic: &str,
    failing: &BTreeSet<String>,
    old_keys: &[String],
) -> Result<(), AwsFailure> {
    let value = failing.iter().cloned().collect::<Vec<_>>().join(" ");
    let pairs = chunk_tag(STATE_TAG, &value);
    let stale: Vec<String> = old_keys.iter().filter(|k| !pairs.iter().any(|(p, _)| p == *k)).cloned().collect();
    if !stale.is_empty() {
        sns.untag_resource().resource_arn(topic).set_tag_keys(Some(stale)).send().await?;
    }
    let tags = pairs
        .into_iter()
        .map(|(k, v)| {
            aws_sdk_sns::types::Tag::builder().key(k).value(v).build().map_err(|e| AwsFailure::rejected(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    sns.tag_resource().resource_arn(topic).set_tags(Some(tags)).send().await?;
    Ok(())
}

/// The report of one posture run: every check as a step.
pub fn report(account: &str, region: &str, checks: &[Check], change: &Change) -> Report {
    let steps = checks
        .iter()
        .map(|c| {
            let status = if c.ok { StepStatus::Done } else { StepStatus::Failed };
            let detail = if c.ok { c.summary.clone() } else { format!("{}. Fix: {}", c.summary, c.fix) };
            StepRecord::new("check", &c.id, status, detail)
        })
        .collect::<Vec<_>>();
    let mut notes = Vec::new();
    if !change.new.is_empty() {
        notes.push(format!("new problem(s): {}", change.new.join(", ")));
    }
    if !change.resolved.is_empty() {
        notes.push(format!("resolved: {}", change.resolved.join(", ")));
    }
    let outcome = if checks.iter().all(|c| c.ok) { Outcome::Contained } else { Outcome::of_steps(&steps, false) };
    Report {
        steps,
        account: Some(account.to_owned()),
        region: Some(region.to_owned()),
        // New problems are High; a run that only resolves is Low.
        severity: Some(if change.new.is_empty() { 3.0 } else { 8.0 }),
        title: Some(format!("{} new monitoring problem(s), {} resolved", change.new.len(), change.resolved.len())),
        resource: Some(format!("monitoring {region}")),
        notes,
        ..Report::new("check-posture", format!("posture-{account}-{region}"), "Posture:Monitoring/Changed", outcome)
    }
}

/// One scheduled run: gather, evaluate, compare with the last run, alert on
/// change, remember. Returns the report (with `notification` set when an
/// alert went out) and whether a retry could help a failure.
pub async fn run(
    config: &SdkConfig,
    account: &str,
    topic: &str,
    posture: &PostureConfig,
    format: NotifyFormat,
) -> Result<Report, AwsFailure> {
    let sns = aws_sdk_sns::Client::new(config);
    let region = config.region().map(|r| r.to_string()).unwrap_or_default();
    let (facts, state) = futures::join!(gather(config, posture), load_state(&sns, topic));
    let facts = facts?;
    let (previous, old_keys) = state?;
    let checks = evaluate(&facts, posture);
    let now = failing(&checks);
    let change = Change::between(&previous, &now);
    let mut report = report(account, &region, &checks, &change);
    if change.is_empty() {
        report.notification =
            Some(Notification { status: "unchanged".into(), detail: "nothing changed since the last run".into() });
        return Ok(report);
    }
    let (notification, _) = crate::notify::publish(&sns, topic, &report, format).await;
    let published = notification.status == "published";
    report.notification = Some(notification);
    if published {
        save_state(&sns, topic, &now, &old_keys).await?;
    }
    Ok(report)
}
