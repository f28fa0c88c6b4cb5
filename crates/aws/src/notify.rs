//! Publishing reports to the notification topic. A report is published as a
//! subject a person can triage from, a plain-text account of what happened,
//! and the report itself as JSON; message attributes let subscribers filter.
//! Failing to publish never changes the outcome: it is logged and recorded in
//! the report's `notification` field.

use aws_sdk_sns::types::MessageAttributeValue;
use responder_core::report::Notification;
use responder_core::{Outcome, Report, SeverityLabel};

use crate::failure::AwsFailure;

/// SNS subjects: at most 100 characters, ASCII, no line breaks.
const MAX_SUBJECT: usize = 100;

pub fn subject(report: &Report) -> String {
    let label = report
        .severity
        .and_then(|s| responder_core::Severity::new(s).ok())
        .map(|s| s.label().to_string())
        .unwrap_or_else(|| "UNKNOWN".into());
    let resource = report.resource.as_deref().unwrap_or("-");
    let place = match (&report.account, &report.region) {
        (Some(a), Some(r)) => format!(" ({a} {r})"),
        _ => String::new(),
    };
    let raw = format!("[{label}] {} {resource} {}{place}", report.outcome, report.finding_type);
    let ascii: String = raw
        .chars()
        .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' })
        .collect();
    if ascii.len() <= MAX_SUBJECT {
        ascii
    } else {
        format!("{}...", &ascii[..MAX_SUBJECT - 3])
    }
}

pub fn body(report: &Report) -> String {
    let mut text = String::new();
    let line = |text: &mut String, s: String| {
        text.push_str(&s);
        text.push('\n');
    };
    line(
        &mut text,
        format!("guardduty-responder {}: {}", report.function, report.outcome),
    );
    line(
        &mut text,
        format!("Finding: {} ({})", report.finding_type, report.finding_id),
    );
    if let Some(s) = report.severity {
        line(&mut text, format!("Severity: {s:.1}"));
    }
    if let (Some(a), Some(r)) = (&report.account, &report.region) {
        line(&mut text, format!("Account / region: {a} / {r}"));
    }
    if let Some(resource) = &report.resource {
        line(&mut text, format!("Resource: {resource}"));
    }
    if let Some(reason) = &report.reason {
        line(&mut text, format!("Reason: {reason}"));
    }
    if !report.steps.is_empty() {
        line(&mut text, "\nSteps:".into());
        for s in &report.steps {
            line(
                &mut text,
                format!("  [{}] {} {}: {}", s.status, s.action, s.target, s.detail),
            );
        }
    }
    for note in &report.notes {
        line(&mut text, format!("Note: {note}"));
    }
    let failed: Vec<_> = report.steps.iter().filter(|s| !s.status.held()).collect();
    if matches!(report.outcome, Outcome::Partial | Outcome::Failed) && !failed.is_empty() {
        line(
            &mut text,
            format!(
                "\n{} step(s) did not hold: finish them by hand or let the retry run.",
                failed.len()
            ),
        );
    }
    line(&mut text, "\nReport (JSON):".into());
    text.push_str(&serde_json::to_string_pretty(report).unwrap_or_default());
    text
}

fn attr(kind: &str, value: impl Into<String>) -> Option<MessageAttributeValue> {
    MessageAttributeValue::builder()
        .data_type(kind)
        .string_value(value)
        .build()
        .ok()
}

/// Publishes `report` to `topic_arn` and says how that went.
pub async fn publish(sns: &aws_sdk_sns::Client, topic_arn: &str, report: &Report) -> Notification {
    let mut request = sns
        .publish()
        .topic_arn(topic_arn)
        .subject(subject(report))
        .message(body(report));
    let label = report
        .severity
        .and_then(|s| responder_core::Severity::new(s).ok())
        .map(|s| s.label());
    let attrs = [
        ("severity", report.severity.and_then(|s| attr("Number", format!("{s}")))),
        (
            "severity_label",
            label.and_then(|l: SeverityLabel| attr("String", l.to_string())),
        ),
        ("finding_type", attr("String", report.finding_type.clone())),
        ("account", report.account.clone().and_then(|a| attr("String", a))),
        ("region", report.region.clone().and_then(|r| attr("String", r))),
        ("outcome", attr("String", report.outcome.to_string())),
        ("function", attr("String", report.function.clone())),
    ];
    for (name, value) in attrs {
        if let Some(value) = value {
            request = request.message_attributes(name, value);
        }
    }
    match request.send().await {
        Ok(out) => Notification {
            status: "published".into(),
            detail: out.message_id().unwrap_or_default().to_owned(),
        },
        Err(e) => {
            let failure = AwsFailure::from(e);
            tracing::error!(topic = topic_arn, error = %failure, "report not published");
            Notification {
                status: "failed".into(),
                detail: failure.to_string(),
            }
        }
    }
}
