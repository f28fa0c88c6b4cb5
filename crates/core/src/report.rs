//! What a function answers (its Lambda response) and publishes: the finding,
//! the outcome, and every step with its status. The JSON shape is a contract
//! (see the README): `outcome` is `contained` only when every step held.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every step is `done` or `already_done`.
    Contained,
    /// Some steps held, some did not.
    Partial,
    /// Nothing held.
    Failed,
    /// The finding is valid but this function should not act on it.
    Skipped,
    /// `DRY_RUN`: steps planned, nothing changed.
    DryRun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Done,
    AlreadyDone,
    /// Would run (dry run) or had not run yet when the invocation stopped.
    Planned,
    /// Deliberately not run (with the reason in `detail`).
    Skipped,
    Failed,
}

impl StepStatus {
    pub fn held(self) -> bool {
        matches!(self, StepStatus::Done | StepStatus::AlreadyDone)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    /// What the step does, e.g. `isolate-eni`.
    pub action: String,
    /// What it acts on, e.g. `eni-0abc…`.
    pub target: String,
    pub status: StepStatus,
    #[serde(default)]
    pub detail: String,
    /// The AWS error code when the step failed on an AWS call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// How long the step's AWS calls took; absent when it made none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

impl StepRecord {
    pub fn new(
        action: impl Into<String>,
        target: impl Into<String>,
        status: StepStatus,
        detail: impl Into<String>,
    ) -> Self {
        StepRecord {
            action: action.into(),
            target: target.into(),
            status,
            detail: detail.into(),
            error_code: None,
            duration_ms: None,
        }
    }
}

/// One CloudTrail event near the finding, as an alert lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// RFC 3339, UTC.
    pub time: String,
    pub event_name: String,
    /// Who made the call (an ARN or user name).
    pub actor: String,
    pub source_ip: String,
}

/// Whether the report reached the notification topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// `published`, `failed`, or `disabled` (no topic configured).
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub finding_id: String,
    pub finding_type: String,
    pub function: String,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub steps: Vec<StepRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<f64>,
    /// GuardDuty's one-line summary of the finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The resource acted on (instance id, user or role name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// CloudTrail activity around the resource (notify-finding).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub activity: Vec<Activity>,
    /// What a person should know or do next that is not a step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<Notification>,
    /// Who asked for this response when a person did (a Security Hub
    /// custom action, `responder respond`): the severity threshold and
    /// approval mode did not apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// Whether the finding's Security Hub copy was updated (`updated`,
    /// `failed`, `disabled`). A failure never changes the outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_hub: Option<Notification>,
    /// Whether the OCSF document reached `SIEM_BUCKET` (`written`, `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub siem: Option<Notification>,
}

impl Report {
    /// A report of `function` on one finding with nothing in it yet but its
    /// `outcome`: each caller fills in what it knows.
    pub fn new(
        function: impl Into<String>,
        finding_id: impl Into<String>,
        finding_type: impl Into<String>,
        outcome: Outcome,
    ) -> Report {
        Report {
            finding_id: finding_id.into(),
            finding_type: finding_type.into(),
            function: function.into(),
            outcome,
            reason: None,
            steps: Vec::new(),
            account: None,
            region: None,
            severity: None,
            title: None,
            resource: None,
            activity: Vec::new(),
            notes: Vec::new(),
            notification: None,
            requested_by: None,
            security_hub: None,
            siem: None,
        }
    }

    /// The report in at most `max_chars` characters, for a note on the
    /// finding (Security Hub keeps 512): the outcome, why, then the changes
    /// grouped by status, failures first with their targets (reads too),
    /// the rest as actions with their counts.
    pub fn summary(&self, max_chars: usize) -> String {
        let mut text = format!("guardduty-responder {}: {}", self.function, self.outcome);
        if let Some(by) = &self.requested_by {
            text.push_str(&format!(" (requested by {by})"));
        }
        if let Some(reason) = &self.reason {
            text.push_str(&format!(". {reason}"));
        }
        let groups = [
            (StepStatus::Failed, "failed"),
            (StepStatus::Planned, "planned"),
            (StepStatus::Done, "done"),
            (StepStatus::AlreadyDone, "already done"),
        ];
        for (status, name) in groups {
            let mut listed: Vec<(String, usize)> = Vec::new();
            // Reads change nothing; a failed one still shows.
            for step in self.steps.iter().filter(|s| s.status == status) {
                if status != StepStatus::Failed && is_read(&step.action) {
                    continue;
                }
                // Failures name their target; the rest count their action.
                let label = if status == StepStatus::Failed && !step.target.is_empty() {
                    format!("{} {}", step.action, step.target)
                } else {
                    step.action.clone()
                };
                match listed.iter_mut().find(|(l, _)| *l == label) {
                    Some((_, n)) => *n += 1,
                    None => listed.push((label, 1)),
                }
            }
            if !listed.is_empty() {
                let items: Vec<String> =
                    listed.iter().map(|(l, n)| if *n == 1 { l.clone() } else { format!("{l} ({n})") }).collect();
                text.push_str(&format!(". {name}: {}", items.join(", ")));
            }
        }
        if text.chars().count() > max_chars {
            text = text.chars().take(max_chars.saturating_sub(1)).collect::<String>() + "…";
        }
        text
    }
}

impl Outcome {
    /// The outcome of a run with these steps. A run with no steps at all
    /// contained nothing, so it is `failed`.
    pub fn of_steps(steps: &[StepRecord], dry_run: bool) -> Outcome {
        if dry_run {
            return Outcome::DryRun;
        }
        // Reads (describing the resource, confirming the finding) contain
        // nothing: a run whose every change failed has failed, however many
        // reads it made. A failed read still keeps it from `contained`.
        let (reads, changes): (Vec<&StepRecord>, Vec<&StepRecord>) = steps.iter().partition(|s| is_read(&s.action));
        let failed_reads = reads.iter().filter(|s| !s.status.held()).count();
        let held = changes.iter().filter(|s| s.status.held()).count();
        match (held, failed_reads) {
            (h, 0) if h == changes.len() && h > 0 => Outcome::Contained,
            (0, _) => Outcome::Failed,
            _ => Outcome::Partial,
        }
    }
}

/// Whether a step only reads: describing a resource, confirming the
/// finding with GuardDuty, looking up CloudTrail.
pub fn is_read(action: &str) -> bool {
    ["describe-", "verify-", "lookup-"].iter().any(|p| action.starts_with(p))
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Outcome::Contained => "contained",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
            Outcome::DryRun => "dry_run",
        })
    }
}

impl fmt::Display for StepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            StepStatus::Done => "done",
            StepStatus::AlreadyDone => "already_done",
            StepStatus::Planned => "planned",
            StepStatus::Skipped => "skipped",
            StepStatus::Failed => "failed",
        })
    }
}

#[cfg(test)]
mod summary_tests {
    use super::*;

    #[test]
    fn the_summary_puts_failures_first_and_fits() {
        let steps = vec![
            StepRecord::new("verify-finding", "f", StepStatus::Done, ""),
            StepRecord::new("isolate-eni", "eni-1", StepStatus::Done, ""),
            StepRecord::new("isolate-eni", "eni-2", StepStatus::Failed, "denied"),
        ];
        let mut r = Report::for_test(Outcome::Partial, steps);
        r.requested_by = Some("Security Hub custom action Contain".into());
        let s = r.summary(512);
        assert_eq!(
            s,
            "guardduty-responder quarantine-instance: partial (requested by Security Hub custom action Contain). failed: isolate-eni eni-2. done: isolate-eni"
        );
        r.steps = (0..3).map(|i| StepRecord::new("snapshot", format!("vol-{i}"), StepStatus::Done, "")).collect();
        assert!(r.summary(512).ends_with("done: snapshot (3)"), "{}", r.summary(512));
        r.steps = (0..200).map(|i| StepRecord::new("snapshot", format!("vol-{i}"), StepStatus::Failed, "")).collect();
        let s = r.summary(512);
        assert_eq!(s.chars().count(), 512);
        assert!(s.ends_with('…'));
    }
}

#[cfg(test)]
impl Report {
    /// A quarantine-instance report of a Backdoor:EC2/Spambot finding `f`,
    /// with nothing but `outcome` and `steps`.
    pub(crate) fn for_test(outcome: Outcome, steps: Vec<StepRecord>) -> Report {
        Report { steps, ..Report::new("quarantine-instance", "f", "Backdoor:EC2/Spambot", outcome) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(status: StepStatus) -> StepRecord {
        StepRecord::new("a", "t", status, "")
    }

    #[test]
    fn contained_only_when_every_step_held() {
        use StepStatus::*;
        assert_eq!(Outcome::of_steps(&[step(Done), step(AlreadyDone)], false), Outcome::Contained);
        assert_eq!(Outcome::of_steps(&[step(Done), step(Failed)], false), Outcome::Partial);
        assert_eq!(Outcome::of_steps(&[step(Done), step(Planned)], false), Outcome::Partial);
        assert_eq!(Outcome::of_steps(&[step(Done), step(Skipped)], false), Outcome::Partial);
        assert_eq!(Outcome::of_steps(&[step(Failed)], false), Outcome::Failed);
        assert_eq!(Outcome::of_steps(&[], false), Outcome::Failed);
        assert_eq!(Outcome::of_steps(&[step(Planned)], true), Outcome::DryRun);
    }

    #[test]
    fn reads_contain_nothing() {
        use StepStatus::*;
        let read = |status| StepRecord::new("describe-instance", "i-1", status, "");
        let verify = |status| StepRecord::new("verify-finding", "f", status, "");
        assert_eq!(Outcome::of_steps(&[verify(Done), read(Done), step(Done)], false), Outcome::Contained);
        assert_eq!(Outcome::of_steps(&[verify(Done), read(Done), step(Failed)], false), Outcome::Failed);
        assert_eq!(Outcome::of_steps(&[verify(Failed), read(Done), step(Skipped)], false), Outcome::Failed);
        assert_eq!(Outcome::of_steps(&[read(Failed), step(Done)], false), Outcome::Partial);
        assert_eq!(Outcome::of_steps(&[verify(Done), read(Done)], false), Outcome::Failed);
    }

    #[test]
    fn report_json_has_the_contract_shape() {
        let r = Report::for_test(
            Outcome::DryRun,
            vec![StepRecord::new("isolate-eni", "eni-1", StepStatus::AlreadyDone, "x")],
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["outcome"], "dry_run");
        assert_eq!(v["steps"][0]["status"], "already_done");
        assert_eq!(v["steps"][0]["action"], "isolate-eni");
        assert_eq!(v["function"], "quarantine-instance");
        let back: Report = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }
}
