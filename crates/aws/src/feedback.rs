//! Telling GuardDuty and Security Hub what a person concluded: a finding
//! that was a false positive (feedback, archive, a note), and a filter that
//! archives its kind from now on. Run by people, from `responder`.
//!
//! IAM actions: guardduty:UpdateFindingsFeedback, guardduty:ArchiveFindings,
//! guardduty:CreateFilter, guardduty:GetFindings, guardduty:ListDetectors,
//! securityhub:BatchUpdateFindings.

use aws_sdk_guardduty::types::{Condition, Feedback, FilterAction, FindingCriteria};
use aws_sdk_securityhub::types::WorkflowStatus;
use responder_core::Finding;
use responder_core::suppress::Suppression;

use crate::cloud::Cloud;
use crate::failure::AwsFailure;
use crate::securityhub::{Update, update_finding};
use crate::steps::{Execution, Held};
use crate::verify::Detectors;

/// Marks `finding` a false positive: `NOT_USEFUL` feedback, archived in
/// GuardDuty, and its Security Hub copy noted and `SUPPRESSED`. Each is a
/// step; one that fails does not stop the others.
pub async fn false_positive<C>(cloud: &Cloud<C>, detectors: &Detectors, finding: &Finding, by: &str) -> Execution {
    let mut run = Execution::default();
    let detector = match detectors.of(&cloud.guardduty, &finding.region).await {
        Ok(detector) => detector,
        Err(failure) => {
            run.log.push("send-feedback", &finding.id, Err(failure));
            return run;
        }
    };
    let comment = format!("false positive, released by {by} with guardduty-responder");
    let feedback = cloud
        .guardduty
        .update_findings_feedback()
        .detector_id(&detector)
        .finding_ids(&finding.id)
        .feedback(Feedback::NotUseful)
        .comments(&comment)
        .send()
        .await;
    run.log.push("send-feedback", &finding.id, feedback.map(|_| Held::done("NOT_USEFUL")).map_err(AwsFailure::from));
    let archived = cloud.guardduty.archive_findings().detector_id(&detector).finding_ids(&finding.id).send().await;
    run.log.push(
        "archive-finding",
        &finding.id,
        archived.map(|_| Held::done(format!("archived on detector {detector}"))).map_err(AwsFailure::from),
    );
    let update = Update {
        note: format!(
            "guardduty-responder: released as a false positive by {by}; GuardDuty feedback NOT_USEFUL, finding archived"
        ),
        workflow: Some(WorkflowStatus::Suppressed),
        fields: vec![("guardduty-responder:false-positive".to_owned(), by.to_owned())],
    };
    let noted = update_finding(&cloud.securityhub, finding, &update).await.map(Held::done);
    run.log.push("note-security-hub", finding.arn.as_deref().unwrap_or(&finding.id), noted);
    run
}

/// Creates `suppression` as a GuardDuty filter on the detector of this
/// account in `region`; answers with the filter's name.
pub async fn create_filter<C>(
    cloud: &Cloud<C>,
    detectors: &Detectors,
    region: &str,
    suppression: &Suppression,
) -> Result<String, AwsFailure> {
    let detector = detectors.of(&cloud.guardduty, region).await?;
    let mut criteria = FindingCriteria::builder();
    for (field, values) in &suppression.criteria {
        criteria = criteria.criterion(*field, Condition::builder().set_equals(Some(values.clone())).build());
    }
    let out = cloud
        .guardduty
        .create_filter()
        .detector_id(&detector)
        .name(&suppression.name)
        .description(&suppression.description)
        .action(FilterAction::Archive)
        .finding_criteria(criteria.build())
        .send()
        .await?;
    Ok(out.name().unwrap_or(&suppression.name).to_owned())
}
