//! Writing back to Security Hub, where the team works: each response notes
//! its outcome on the finding's Security Hub copy (GuardDuty's integration
//! keeps one per finding, its `Id` the finding's ARN), sets the workflow
//! status, and names itself in user-defined fields. The administrator
//! account updates its members' findings; the call is made there, in the
//! finding's region.
//!
//! A failed write-back is reported beside the outcome, never as it: the
//! containment held whether or not Security Hub heard of it.
//!
//! IAM actions: securityhub:BatchUpdateFindings.

use aws_sdk_securityhub::types::{AwsSecurityFindingIdentifier, NoteUpdate, WorkflowStatus, WorkflowUpdate};
use responder_core::report::Notification;
use responder_core::request::product_arn;
use responder_core::{Finding, Outcome, Report};

use crate::failure::AwsFailure;

/// Security Hub keeps a note of at most this many characters.
pub const NOTE_MAX_CHARS: usize = 512;
/// Who the notes are from.
pub const UPDATED_BY: &str = "guardduty-responder";

/// The workflow status a response leaves: `NOTIFIED` once the responder
/// acted (the team has its report), unchanged when it did not act.
pub fn workflow_after(outcome: Outcome) -> Option<WorkflowStatus> {
    match outcome {
        Outcome::Contained | Outcome::Partial | Outcome::Failed => Some(WorkflowStatus::Notified),
        Outcome::Skipped | Outcome::DryRun => None,
    }
}

/// One update of a finding's Security Hub copy.
#[derive(Debug, Clone)]
pub struct Update {
    pub note: String,
    pub workflow: Option<WorkflowStatus>,
    /// Key and value; keys are per function, so one function's fields never
    /// overwrite another's.
    pub fields: Vec<(String, String)>,
}

impl Update {
    /// The update a report makes: its summary as the note, the workflow its
    /// outcome calls for, and the function's outcome and report location.
    pub fn of_report(report: &Report, report_at: Option<&str>) -> Update {
        let key = |what: &str| format!("guardduty-responder:{}:{what}", report.function);
        let mut fields = vec![(key("outcome"), report.outcome.to_string())];
        if let Some(at) = report_at {
            fields.push((key("report"), at.to_owned()));
        }
        Update { note: report.summary(NOTE_MAX_CHARS), workflow: workflow_after(report.outcome), fields }
    }
}

/// Updates `finding`'s Security Hub copy, as a report's delivery status.
pub async fn write_back(client: &aws_sdk_securityhub::Client, finding: &Finding, update: &Update) -> Notification {
    match update_finding(client, finding, update).await {
        Ok(detail) => Notification { status: "updated".into(), detail },
        Err(failure) => Notification { status: "failed".into(), detail: failure.to_string() },
    }
}

/// Updates `finding`'s Security Hub copy; answers with what was noted.
pub async fn update_finding(
    client: &aws_sdk_securityhub::Client,
    finding: &Finding,
    update: &Update,
) -> Result<String, AwsFailure> {
    let Some(arn) = finding.arn.as_deref().filter(|a| !a.is_empty()) else {
        return Err(AwsFailure::rejected(format!(
            "finding {} carries no ARN, which is its Security Hub id",
            finding.id
        )));
    };
    let partition = finding.partition.as_deref().unwrap_or_else(|| crate::cloud::partition_of(&finding.region));
    let identifier =
        AwsSecurityFindingIdentifier::builder().id(arn).product_arn(product_arn(partition, &finding.region)).build();
    let mut call = client
        .batch_update_findings()
        .finding_identifiers(identifier)
        .note(NoteUpdate::builder().text(&update.note).updated_by(UPDATED_BY).build());
    if let Some(status) = &update.workflow {
        call = call.workflow(WorkflowUpdate::builder().status(status.clone()).build());
    }
    for (key, value) in &update.fields {
        call = call.user_defined_fields(key, value);
    }
    let out = call.send().await?;
    if let Some(unprocessed) = out.unprocessed_findings().first() {
        return Err(AwsFailure {
            kind: crate::failure::FailureKind::Rejected,
            code: unprocessed.error_code().map(str::to_owned),
            message: format!(
                "Security Hub did not update {arn}: {}",
                unprocessed.error_message().unwrap_or("no reason given")
            ),
        });
    }
    let workflow = update.workflow.as_ref().map(|w| format!(", workflow {}", w.as_str())).unwrap_or_default();
    Ok(format!("noted on {arn}{workflow}"))
}
