//! Recording what each step did, in the report's terms.

use std::future::Future;
use std::time::{Duration, Instant};

use responder_core::{StepRecord, StepStatus};

use crate::failure::{AwsFailure, FailureKind};

/// What a step that did not fail did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub status: StepStatus,
    pub detail: String,
}

impl Held {
    pub fn done(detail: impl Into<String>) -> Self {
        Held { status: StepStatus::Done, detail: detail.into() }
    }
    pub fn already(detail: impl Into<String>) -> Self {
        Held { status: StepStatus::AlreadyDone, detail: detail.into() }
    }
    /// Not run on purpose: a prerequisite did not hold.
    pub fn skipped(detail: impl Into<String>) -> Self {
        Held { status: StepStatus::Skipped, detail: detail.into() }
    }
    /// Not started: a dry run, or too little time left.
    pub fn planned(detail: impl Into<String>) -> Self {
        Held { status: StepStatus::Planned, detail: detail.into() }
    }
}

/// Why a step was left as planned when the invocation ran out of time.
pub const DEADLINE: &str = "not started: the invocation deadline is too close";

pub type StepResult = Result<Held, AwsFailure>;

/// A step's result with the time its AWS calls took (`None`: it made none).
#[derive(Debug, Clone)]
pub struct Timed {
    pub result: StepResult,
    pub took: Option<Duration>,
}

impl From<StepResult> for Timed {
    fn from(result: StepResult) -> Self {
        Timed { result, took: None }
    }
}

impl Timed {
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }
}

/// Runs a step, measuring it.
pub async fn timed(step: impl Future<Output = StepResult>) -> Timed {
    let started = Instant::now();
    let result = step.await;
    Timed { result, took: Some(started.elapsed()) }
}

/// The steps of one run, in the order they were planned, and whether any
/// failure was one a retry could fix.
#[derive(Debug, Default)]
pub struct StepLog {
    pub records: Vec<StepRecord>,
    pub transient: bool,
}

impl StepLog {
    pub fn push(&mut self, action: &str, target: &str, step: impl Into<Timed>) {
        let Timed { result, took } = step.into();
        let mut record = match result {
            Ok(held) => StepRecord::new(action, target, held.status, held.detail),
            Err(failure) => {
                if failure.kind == FailureKind::Transient {
                    self.transient = true;
                }
                let hint = match failure.kind {
                    FailureKind::Denied => " (the function's role lacks this permission)",
                    FailureKind::Transient => " (transient: the event will be retried)",
                    _ => "",
                };
                let mut r = StepRecord::new(action, target, StepStatus::Failed, format!("{}{hint}", failure.message));
                r.error_code = failure.code;
                r
            }
        };
        record.duration_ms = took.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
        self.records.push(record);
    }

    /// A step that was not run, with why.
    pub fn push_status(&mut self, action: &str, target: &str, status: StepStatus, detail: impl Into<String>) {
        self.records.push(StepRecord::new(action, target, status, detail));
    }

    pub fn all_held(&self) -> bool {
        self.records.iter().all(|r| r.status.held())
    }
}

/// The result of a run: its steps, and when it did not act, why.
#[derive(Debug, Default)]
pub struct Execution {
    pub log: StepLog,
    /// Set when the run decided, from live state, not to act.
    pub skipped: Option<String>,
    /// Things a person should know that are not steps.
    pub notes: Vec<String>,
    /// GuardDuty does not have the event's finding as the event tells it.
    pub possibly_forged: bool,
    /// CloudTrail activity around the resource, when the playbook looked it up.
    pub activity: Vec<responder_core::report::Activity>,
    /// What the playbook read before it changed anything, for the evidence
    /// record: one entry per resource or aspect.
    pub state: serde_json::Map<String, serde_json::Value>,
}

impl Execution {
    /// Keeps what was there, under `name`, for the evidence record.
    pub fn keep(&mut self, name: impl Into<String>, value: impl serde::Serialize) {
        let value = serde_json::to_value(value).unwrap_or_else(|e| serde_json::Value::String(e.to_string()));
        self.state.insert(name.into(), value);
    }
}

/// Why changes were not run when the gate stayed closed.
pub const NOT_CONFIRMED: &str = "not run: the finding was not confirmed with GuardDuty";
