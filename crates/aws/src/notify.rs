//! Publishing reports and alerts to the notification topic.
//!
//! In the default `text` format a message is a subject a person can triage
//! from (at most 100 ASCII characters), a plain-text account (what GuardDuty
//! saw, the resource, each step with its status, what failed, what to do
//! next, console links, the CloudTrail activity around the resource), then
//! the report as JSON. In the `chatbot` format it is an AWS Chatbot custom
//! notification for Slack or Microsoft Teams. Message attributes let SNS
//! subscription filter policies route by severity, type, account, region,
//! outcome and function. Failing to publish never changes an outcome: it is
//! logged and recorded in the report's `notification` field.

use aws_sdk_sns::types::MessageAttributeValue;
use responder_core::report::Notification;
use responder_core::settings::NotifyFormat;
use responder_core::{Outcome, Report, Severity};

use crate::failure::AwsFailure;

/// SNS subjects: at most 100 characters, ASCII, no line breaks.
const MAX_SUBJECT: usize = 100;

fn label(report: &Report) -> String {
    report
        .severity
        .and_then(|s| Severity::new(s).ok())
        .map(|s| s.label().to_string())
        .unwrap_or_else(|| "UNKNOWN".into())
}

/// What the message says happened, in a word.
fn verb(report: &Report) -> String {
    if report.function == "notify-finding" { "alert".to_owned() } else { report.outcome.to_string() }
}

pub fn subject(report: &Report) -> String {
    let resource = report.resource.as_deref().unwrap_or("-");
    let place = match (&report.account, &report.region) {
        (Some(a), Some(r)) => format!(" ({a} {r})"),
        _ => String::new(),
    };
    let raw = format!("[{}] {} {resource} {}{place}", label(report), verb(report), report.finding_type);
    let ascii: String = raw.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect();
    if ascii.len() <= MAX_SUBJECT { ascii } else { format!("{}...", &ascii[..MAX_SUBJECT - 3]) }
}

/// The console's host for a region's partition.
fn console(region: &str) -> String {
    if region.starts_with("cn-") {
        format!("https://{region}.console.amazonaws.cn")
    } else if region.starts_with("us-gov-") {
        format!("https://{region}.console.amazonaws-us-gov.com")
    } else {
        format!("https://{region}.console.aws.amazon.com")
    }
}

/// Console links to the finding and the resource.
pub fn links(report: &Report) -> Vec<(String, String)> {
    let Some(region) = report.region.as_deref() else { return Vec::new() };
    let host = console(region);
    let mut links = vec![(
        "Finding".to_owned(),
        format!("{host}/guardduty/home?region={region}#/findings?search=id%3D{}", report.finding_id),
    )];
    if let Some(resource) = report.resource.as_deref() {
        let link = match report.function.as_str() {
            "quarantine-instance" => {
                Some(format!("{host}/ec2/home?region={region}#InstanceDetails:instanceId={resource}"))
            }
            "disable-iam-user" => Some(format!("{host}/iam/home#/users/details/{resource}")),
            "revoke-role-sessions" => Some(format!("{host}/iam/home#/roles/details/{resource}")),
            "restore-cloudtrail" => Some(format!("{host}/cloudtrailv2/home?region={region}#/trails")),
            _ => None,
        };
        if let Some(link) = link {
            links.push(("Resource".to_owned(), link));
        }
    }
    links
}

/// What a person should do next, for this function and outcome.
pub fn next_steps(report: &Report) -> Vec<String> {
    let mut steps = Vec::new();
    if matches!(report.outcome, Outcome::Partial | Outcome::Failed) && report.function != "check-posture" {
        steps.push("Finish the steps that did not hold by hand, or let the automatic retry run; check the function's role has the permissions named in the errors.".to_owned());
    }
    if report.outcome == Outcome::DryRun {
        steps.push(
            "DRY_RUN is on: nothing was changed. Review the planned steps; turn DRY_RUN off when the plans are right."
                .to_owned(),
        );
    }
    let held = matches!(report.outcome, Outcome::Contained | Outcome::Partial);
    match report.function.as_str() {
        "quarantine-instance" if held => steps.extend([
            "Investigate from the forensic snapshots (attach copies to a forensic instance in an isolated account); do not log in to the instance.".to_owned(),
            "If the instance's role credentials may have left it, revoke the role's sessions.".to_owned(),
            "False positive? `responder release --instance ID` restores groups, profile and protection exactly.".to_owned(),
        ]),
        "disable-iam-user" if held => steps.extend([
            "Review what the key did (CloudTrail, the activity below); rotate every secret the user could read.".to_owned(),
            "Issue new credentials to the owner once the cause is found; `responder release --user NAME` reactivates the keys the responder deactivated.".to_owned(),
        ]),
        "revoke-role-sessions" if held => steps.extend([
            "Find how the session's credentials leaked (an instance, a CI system, a developer machine) and close that path.".to_owned(),
            "New sessions of the role still work; `responder release --role NAME` removes the revocation when it is no longer needed.".to_owned(),
        ]),
        "restore-cloudtrail" if held => steps.extend([
            "Find who stopped logging and why (the actor's key is named below); treat that key as compromised.".to_owned(),
            "Look for the gap: activity during the time logging was off is not in this trail.".to_owned(),
        ]),
        "check-posture" => steps.push(
            "Fix each new problem as its check says; the next run reports it resolved.".to_owned(),
        ),
        "notify-finding" => steps.push(
            "Triage the finding in the GuardDuty console; the remediation functions act on it separately if their thresholds and types match.".to_owned(),
        ),
        _ => {}
    }
    let remediation = !matches!(report.function.as_str(), "notify-finding" | "check-posture");
    if report.outcome == Outcome::Skipped && remediation {
        steps.push(
            "Nothing was changed (see the reason). If the resource should be contained anyway, do it by hand."
                .to_owned(),
        );
    }
    steps
}

pub fn body(report: &Report) -> String {
    let mut out = Vec::new();
    out.push(format!("guardduty-responder {}: {}", report.function, report.outcome));
    out.push(String::new());
    out.push("What GuardDuty saw".to_owned());
    if let Some(title) = &report.title {
        out.push(format!("  {title}"));
    }
    out.push(format!("  Type:     {}", report.finding_type));
    if let Some(s) = report.severity {
        out.push(format!("  Severity: {s:.1} ({})", label(report)));
    }
    if let (Some(a), Some(r)) = (&report.account, &report.region) {
        out.push(format!("  Account:  {a}   Region: {r}"));
    }
    out.push(format!("  Finding:  {}", report.finding_id));
    if let Some(resource) = &report.resource {
        out.push(format!("  Resource: {resource}"));
    }
    if let Some(reason) = &report.reason {
        out.push(String::new());
        out.push(format!("Reason: {reason}"));
    }
    if !report.steps.is_empty() {
        out.push(String::new());
        out.push("What was done".to_owned());
        for s in &report.steps {
            out.push(format!("  [{:<12}] {} {}: {}", s.status.to_string(), s.action, s.target, s.detail));
        }
    }
    let failed: Vec<_> = report.steps.iter().filter(|s| !s.status.held()).collect();
    if !failed.is_empty() && report.outcome != Outcome::DryRun {
        out.push(String::new());
        out.push("What did not hold".to_owned());
        for s in failed {
            let code = s.error_code.as_deref().map(|c| format!(" [{c}]")).unwrap_or_default();
            out.push(format!("  {} {}{code}: {}", s.action, s.target, s.detail));
        }
    }
    for note in &report.notes {
        out.push(format!("Note: {note}"));
    }
    if !report.activity.is_empty() {
        out.push(String::new());
        out.push("CloudTrail activity around the resource (newest first)".to_owned());
        for a in &report.activity {
            out.push(format!("  {}  {:<36} {:<16} {}", a.time, a.event_name, a.source_ip, a.actor));
        }
    }
    let next = next_steps(report);
    if !next.is_empty() {
        out.push(String::new());
        out.push("Next steps".to_owned());
        out.extend(next.into_iter().map(|s| format!("  - {s}")));
    }
    let links = links(report);
    if !links.is_empty() {
        out.push(String::new());
        out.extend(links.into_iter().map(|(k, v)| format!("{k}: {v}")));
    }
    out.push(String::new());
    out.push("Report (JSON):".to_owned());
    out.push(serde_json::to_string_pretty(report).unwrap_or_default());
    out.join("\n")
}

/// An AWS Chatbot custom notification.
pub fn chatbot(report: &Report) -> String {
    let steps: Vec<String> =
        report.steps.iter().map(|s| format!("• `{}` {} {}: {}", s.status, s.action, s.target, s.detail)).collect();
    let mut description = format!(
        "*{}* on `{}` in {} {}\n{}",
        report.finding_type,
        report.resource.as_deref().unwrap_or("-"),
        report.account.as_deref().unwrap_or("?"),
        report.region.as_deref().unwrap_or("?"),
        report.title.as_deref().unwrap_or_default()
    );
    if let Some(reason) = &report.reason {
        description.push_str(&format!("\nReason: {reason}"));
    }
    if !steps.is_empty() {
        description.push('\n');
        description.push_str(&steps.join("\n"));
    }
    for a in report.activity.iter().take(5) {
        description.push_str(&format!("\n`{}` {} from {} by {}", a.time, a.event_name, a.source_ip, a.actor));
    }
    let related: Vec<String> = report.resource.iter().cloned().collect();
    serde_json::json!({
        "version": "1.0",
        "source": "custom",
        "id": format!("{}:{}", report.function, report.finding_id),
        "content": {
            "textType": "client-markdown",
            "title": subject(report),
            "description": description.chars().take(3500).collect::<String>(),
            "nextSteps": next_steps(report),
            "keywords": [label(report), report.outcome.to_string(), report.function.clone()],
        },
        "metadata": {
            "threadId": report.finding_id,
            "summary": subject(report),
            "eventType": report.finding_type,
            "relatedResources": related,
            "additionalContext": {
                "outcome": report.outcome.to_string(),
                "function": report.function,
                "account": report.account,
                "region": report.region,
            }
        }
    })
    .to_string()
}

fn attr(kind: &str, value: impl Into<String>) -> Option<MessageAttributeValue> {
    MessageAttributeValue::builder().data_type(kind).string_value(value).build().ok()
}

/// Publishes `report` to `topic_arn` and says how that went, with whether a
/// retry could help.
pub async fn publish(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    report: &Report,
    format: NotifyFormat,
) -> (Notification, bool) {
    let message = match format {
        NotifyFormat::Text => body(report),
        NotifyFormat::Chatbot => chatbot(report),
    };
    let mut request = sns.publish().topic_arn(topic_arn).subject(subject(report)).message(message);
    let attrs = [
        ("severity", report.severity.and_then(|s| attr("Number", format!("{s}")))),
        ("severity_label", attr("String", label(report))),
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
        Ok(out) => (
            Notification { status: "published".into(), detail: out.message_id().unwrap_or_default().to_owned() },
            false,
        ),
        Err(e) => {
            let failure = AwsFailure::from(e);
            tracing::error!(topic = topic_arn, error = %failure, "report not published");
            (Notification { status: "failed".into(), detail: failure.to_string() }, failure.retryable())
        }
    }
}
