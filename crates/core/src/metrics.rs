//! CloudWatch metrics for one invocation, in the Embedded Metric Format.
//!
//! A function prints these lines to stdout; CloudWatch Logs turns them into
//! metrics with no API call and no extra permission. Per invocation:
//! - namespace `GuardDutyResponder`, dimensions `Function` and
//!   `Function, Outcome`: `Invocations` (1), `DurationMs` (the handler's wall
//!   time), `Steps`, `FailedSteps`;
//! - per step action, dimensions `Function, Step`: `StepDurationMs` (one
//!   value per step that made AWS calls).
//!
//! The finding id rides along as a plain property (searchable in Logs
//! Insights, not a dimension: it would make a metric per finding).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::report::{Report, StepStatus};

pub const NAMESPACE: &str = "GuardDutyResponder";

/// How an invocation ended, for the `Outcome` dimension: the report's
/// outcome, or the error type when there is no report.
pub fn outcome_label(report: Option<&Report>, error_type: Option<&str>) -> String {
    match (report, error_type) {
        (Some(r), _) => r.outcome.to_string(),
        (None, Some(e)) => e.to_owned(),
        (None, None) => "unknown".to_owned(),
    }
}

/// The EMF lines for one invocation of `function`.
pub fn emf_lines(
    function: &str,
    report: Option<&Report>,
    error_type: Option<&str>,
    took: Duration,
    timestamp_ms: i64,
) -> Vec<String> {
    let outcome = outcome_label(report, error_type);
    let steps = report.map(|r| r.steps.as_slice()).unwrap_or_default();
    let failed = steps.iter().filter(|s| s.status == StepStatus::Failed).count();
    let mut main = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"], ["Function", "Outcome"]],
                "Metrics": [
                    { "Name": "Invocations", "Unit": "Count" },
                    { "Name": "DurationMs", "Unit": "Milliseconds" },
                    { "Name": "Steps", "Unit": "Count" },
                    { "Name": "FailedSteps", "Unit": "Count" }
                ]
            }]
        },
        "Function": function,
        "Outcome": outcome,
        "Invocations": 1,
        "DurationMs": millis(took),
        "Steps": steps.len(),
        "FailedSteps": failed,
    });
    if let (Some(r), Some(map)) = (report, main.as_object_mut()) {
        map.insert("finding_id".into(), Value::String(r.finding_id.clone()));
    }
    let mut lines = vec![main.to_string()];

    let mut by_step: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for step in steps {
        if let Some(ms) = step.duration_ms {
            by_step.entry(step.action.as_str()).or_default().push(ms);
        }
    }
    for (step, values) in by_step {
        lines.push(
            json!({
                "_aws": {
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": NAMESPACE,
                        "Dimensions": [["Function", "Step"]],
                        "Metrics": [{ "Name": "StepDurationMs", "Unit": "Milliseconds" }]
                    }]
                },
                "Function": function,
                "Step": step,
                "StepDurationMs": values,
            })
            .to_string(),
        );
    }
    lines
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::report::{Outcome, StepRecord};

    fn report() -> Report {
        let mut isolate = StepRecord::new("isolate-eni", "eni-1", StepStatus::Done, "");
        isolate.duration_ms = Some(41);
        let mut isolate2 = StepRecord::new("isolate-eni", "eni-2", StepStatus::Failed, "denied");
        isolate2.duration_ms = Some(7);
        let planned = StepRecord::new("tag-instance", "i-1", StepStatus::Planned, "");
        Report { finding_id: "f-1".into(), ..Report::for_test(Outcome::Partial, vec![isolate, isolate2, planned]) }
    }

    #[test]
    fn one_invocation_line_and_one_line_per_timed_step_action() {
        let lines =
            emf_lines("quarantine-instance", Some(&report()), None, Duration::from_millis(123), 1_700_000_000_000);
        assert_eq!(lines.len(), 2, "{lines:#?}");
        let main: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(main["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(main["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert_eq!(main["Outcome"], "partial");
        assert_eq!(main["Function"], "quarantine-instance");
        assert_eq!(main["DurationMs"], 123.0);
        assert_eq!(main["Steps"], 3);
        assert_eq!(main["FailedSteps"], 1);
        assert_eq!(main["finding_id"], "f-1");
        // Every metric and dimension named in the directive has a value.
        for m in main["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap() {
            assert!(main.get(m["Name"].as_str().unwrap()).is_some(), "{m}");
        }
        for set in main["_aws"]["CloudWatchMetrics"][0]["Dimensions"].as_array().unwrap() {
            for d in set.as_array().unwrap() {
                assert!(main[d.as_str().unwrap()].is_string(), "{d}");
            }
        }
        let step: Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(step["Step"], "isolate-eni");
        assert_eq!(step["StepDurationMs"], json!([41, 7]));
    }

    #[test]
    fn an_invalid_event_is_counted_under_its_error_type() {
        let lines = emf_lines("quarantine-instance", None, Some("InvalidEvent"), Duration::from_millis(1), 0);
        assert_eq!(lines.len(), 1);
        let main: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(main["Outcome"], "InvalidEvent");
        assert_eq!(main["Steps"], 0);
        assert!(main.get("finding_id").is_none());
    }
}
