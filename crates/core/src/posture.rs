//! The monitoring-posture checks (`check-posture`, `responder posture`), as
//! a pure function from observed facts to named checks, and the change
//! between two runs. A failed check always names the fix.
//!
//! Check ids are stable (`trail-logging:NAME`, `guardduty-detector`, …): the
//! set of failing ids is what a run remembers, so the next run alerts only on
//! what changed.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// What CloudTrail says of one trail that covers the region.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrailFacts {
    pub name: String,
    pub home_region: String,
    pub multi_region: bool,
    pub log_file_validation: bool,
    pub logging: bool,
    pub latest_delivery: Option<DateTime<Utc>>,
    pub delivery_error: Option<String>,
    /// Management events recorded: (read, write).
    pub management_events: (bool, bool),
    /// Buckets whose object-level (data) events are recorded; `*` for all.
    pub s3_data_buckets: Vec<String>,
    pub insights: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DetectorFacts {
    pub id: String,
    pub enabled: bool,
    /// `FIFTEEN_MINUTES`, `ONE_HOUR` or `SIX_HOURS`.
    pub publishing_frequency: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleFacts {
    pub name: String,
    /// `false`: no rule has this name.
    pub present: bool,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PostureFacts {
    pub region: String,
    pub trails: Vec<TrailFacts>,
    pub detectors: Vec<DetectorFacts>,
    /// The responder's rules; `None` when no prefix is configured.
    pub rules: Option<Vec<RuleFacts>>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PostureConfig {
    /// Alert when a trail has not delivered a log file for longer.
    pub max_delivery_age: Duration,
    pub sensitive_buckets: Vec<String>,
    /// The responder's EventBridge rules, by exact name: each must exist and
    /// be enabled. (A prefix would let any rule of a like name stand in for
    /// a deleted one.)
    pub rules: Vec<String>,
    pub require_insights: bool,
}

impl Default for PostureConfig {
    fn default() -> Self {
        PostureConfig {
            max_delivery_age: Duration::minutes(30),
            sensitive_buckets: Vec::new(),
            rules: Vec::new(),
            require_insights: true,
        }
    }
}

/// One check and its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub id: String,
    pub ok: bool,
    pub summary: String,
    /// What to do when it fails.
    pub fix: String,
}

fn check(id: impl Into<String>, ok: bool, summary: impl Into<String>, fix: impl Into<String>) -> Check {
    Check { id: id.into(), ok, summary: summary.into(), fix: fix.into() }
}

/// Evaluates every check against the facts.
pub fn evaluate(facts: &PostureFacts, config: &PostureConfig) -> Vec<Check> {
    let mut checks = Vec::new();
    // Heartbeat of every trail that covers the region.
    for t in &facts.trails {
        checks.push(check(
            format!("trail-logging:{}", t.name),
            t.logging,
            format!("trail {} is {}", t.name, if t.logging { "logging" } else { "NOT logging" }),
            format!("aws cloudtrail start-logging --name {} --region {}; find who stopped it", t.name, t.home_region),
        ));
        if let Some(at) = t.latest_delivery.filter(|_| t.logging) {
            {
                let age = facts.now - at;
                checks.push(check(
                    format!("trail-delivery:{}", t.name),
                    age <= config.max_delivery_age,
                    format!("trail {} last delivered a log file {} min ago", t.name, age.num_minutes()),
                    format!(
                        "check the trail's S3 bucket policy, KMS key policy and bucket existence (no delivery for over {} min)",
                        config.max_delivery_age.num_minutes()
                    ),
                ));
            }
        }
        let error = t.delivery_error.as_deref().filter(|e| !e.is_empty());
        checks.push(check(
            format!("trail-delivery-error:{}", t.name),
            error.is_none(),
            match error {
                Some(e) => format!("trail {} reports a delivery error: {e}", t.name),
                None => format!("trail {} reports no delivery error", t.name),
            },
            "fix the S3 bucket or KMS key policy named in the error".to_owned(),
        ));
    }
    let logging: Vec<&TrailFacts> = facts.trails.iter().filter(|t| t.logging).collect();
    let multi = logging.iter().any(|t| t.multi_region && t.log_file_validation);
    checks.push(check(
        "multi-region-trail",
        multi,
        if multi {
            "a logging multi-region trail with log file validation exists".to_owned()
        } else {
            "no logging multi-region trail with log file validation".to_owned()
        },
        "create (or restart) a multi-region trail with --is-multi-region-trail --enable-log-file-validation",
    ));
    let management = logging.iter().any(|t| t.management_events == (true, true));
    checks.push(check(
        "management-events",
        management,
        if management {
            "management events, read and write, are recorded".to_owned()
        } else {
            "no logging trail records both read and write management events".to_owned()
        },
        "set the trail's event selectors to ReadWriteType All with IncludeManagementEvents",
    ));
    for bucket in &config.sensitive_buckets {
        let covered = logging.iter().any(|t| t.s3_data_buckets.iter().any(|b| b == "*" || b == bucket));
        checks.push(check(
            format!("s3-data-events:{bucket}"),
            covered,
            format!("S3 data events for {bucket} are {}", if covered { "recorded" } else { "NOT recorded" }),
            format!("add a data event selector for arn:aws:s3:::{bucket}/ to a logging trail"),
        ));
    }
    if config.require_insights {
        let insights = logging.iter().any(|t| t.insights);
        checks.push(check(
            "insights",
            insights,
            format!("CloudTrail Insights is {}", if insights { "on" } else { "off on every logging trail" }),
            "put insight selectors (ApiCallRateInsight, ApiErrorRateInsight) on the multi-region trail",
        ));
    }
    let enabled: Vec<&DetectorFacts> = facts.detectors.iter().filter(|d| d.enabled).collect();
    checks.push(check(
        "guardduty-detector",
        !enabled.is_empty(),
        if enabled.is_empty() {
            format!("no enabled GuardDuty detector in {}", facts.region)
        } else {
            format!("GuardDuty detector {} is enabled", enabled[0].id)
        },
        format!("aws guardduty create-detector --enable --region {} (or re-enable it)", facts.region),
    ));
    if let Some(d) = enabled.first() {
        let fast = d.publishing_frequency.as_deref() == Some("FIFTEEN_MINUTES");
        checks.push(check(
            "guardduty-publishing",
            fast,
            format!(
                "GuardDuty publishes updated findings every {}",
                d.publishing_frequency.as_deref().unwrap_or("(unknown)")
            ),
            format!(
                "aws guardduty update-detector --detector-id {} --finding-publishing-frequency FIFTEEN_MINUTES",
                d.id
            ),
        ));
    }
    if let Some(rules) = &facts.rules {
        for name in &config.rules {
            let found = rules.iter().find(|r| &r.name == name && r.present);
            let (ok, detail, fix) = match found {
                Some(r) if r.enabled => (true, format!("rule {name} is enabled"), String::new()),
                Some(_) => (
                    false,
                    format!("rule {name} is DISABLED"),
                    format!("aws events enable-rule --name {name} (unless the kill switch is meant to be on)"),
                ),
                None => (
                    false,
                    format!("rule {name} does not exist"),
                    "redeploy the responder stack: one of its EventBridge rules is missing".to_owned(),
                ),
            };
            checks.push(check(format!("responder-rule:{name}"), ok, detail, fix));
        }
    }
    checks
}

/// The ids of the failing checks.
pub fn failing(checks: &[Check]) -> BTreeSet<String> {
    checks.iter().filter(|c| !c.ok).map(|c| c.id.clone()).collect()
}

/// What changed since the last run: new problems, and problems resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    pub new: Vec<String>,
    pub resolved: Vec<String>,
}

impl Change {
    pub fn between(previous: &BTreeSet<String>, now: &BTreeSet<String>) -> Change {
        Change {
            new: now.difference(previous).cloned().collect(),
            resolved: previous.difference(now).cloned().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.new.is_empty() && self.resolved.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy(now: DateTime<Utc>) -> PostureFacts {
        PostureFacts {
            region: "us-east-1".into(),
            trails: vec![TrailFacts {
                name: "org".into(),
                home_region: "us-east-1".into(),
                multi_region: true,
                log_file_validation: true,
                logging: true,
                latest_delivery: Some(now - Duration::minutes(5)),
                delivery_error: None,
                management_events: (true, true),
                s3_data_buckets: vec!["payroll".into()],
                insights: true,
            }],
            detectors: vec![DetectorFacts {
                id: "d1".into(),
                enabled: true,
                publishing_frequency: Some("FIFTEEN_MINUTES".into()),
            }],
            rules: Some(vec![RuleFacts { name: "gdr-Quarantine".into(), present: true, enabled: true }]),
            now,
        }
    }

    type Decay = Box<dyn Fn(&mut PostureFacts)>;

    fn config() -> PostureConfig {
        PostureConfig {
            sensitive_buckets: vec!["payroll".into()],
            rules: vec!["gdr-Quarantine".into()],
            ..Default::default()
        }
    }

    #[test]
    fn a_healthy_account_passes_every_check() {
        let checks = evaluate(&healthy(Utc::now()), &config());
        assert!(checks.iter().all(|c| c.ok), "{checks:#?}");
        assert!(checks.len() >= 9);
    }

    #[test]
    fn each_decay_fails_its_check_and_names_a_fix() {
        let now = Utc::now();
        let cases: Vec<(&str, Decay)> = vec![
            ("trail-logging:org", Box::new(|f| f.trails[0].logging = false)),
            ("trail-delivery:org", Box::new(move |f| f.trails[0].latest_delivery = Some(now - Duration::minutes(31)))),
            ("trail-delivery-error:org", Box::new(|f| f.trails[0].delivery_error = Some("AccessDenied".into()))),
            ("multi-region-trail", Box::new(|f| f.trails[0].log_file_validation = false)),
            ("multi-region-trail", Box::new(|f| f.trails[0].multi_region = false)),
            ("management-events", Box::new(|f| f.trails[0].management_events = (false, true))),
            ("s3-data-events:payroll", Box::new(|f| f.trails[0].s3_data_buckets.clear())),
            ("insights", Box::new(|f| f.trails[0].insights = false)),
            ("guardduty-detector", Box::new(|f| f.detectors.clear())),
            ("guardduty-publishing", Box::new(|f| f.detectors[0].publishing_frequency = Some("SIX_HOURS".into()))),
            ("responder-rule:gdr-Quarantine", Box::new(|f| f.rules.as_mut().unwrap()[0].enabled = false)),
            ("responder-rule:gdr-Quarantine", Box::new(|f| f.rules.as_mut().unwrap()[0].present = false)),
        ];
        for (id, decay) in cases {
            let mut facts = healthy(now);
            decay(&mut facts);
            let checks = evaluate(&facts, &config());
            let failed = failing(&checks);
            assert!(failed.contains(id), "{id}: {failed:?}");
            let c = checks.iter().find(|c| c.id == id).unwrap();
            assert!(!c.fix.is_empty());
        }
    }

    #[test]
    fn changes_are_new_or_resolved() {
        let prev: BTreeSet<String> = ["a".to_string(), "b".to_string()].into();
        let now: BTreeSet<String> = ["b".to_string(), "c".to_string()].into();
        let change = Change::between(&prev, &now);
        assert_eq!(change.new, vec!["c"]);
        assert_eq!(change.resolved, vec!["a"]);
        assert!(Change::between(&now, &now).is_empty());
    }
}
