//! notify-finding: what is alerted.

use crate::finding::Finding;
use crate::plan::{Plan, Scope, Skip};
use crate::policy::Policy;
use crate::target::Target;

use super::matches_any;

/// Alerted whatever the severity: GuardDuty rates them Low, and no
/// remediation function reports them.
const ALWAYS_ALERTED_TYPES: &[&str] = &["Stealth:S3/ServerAccessLoggingDisabled"];

/// notify-finding.
pub(crate) fn notify_finding(_target: Target, finding: &Finding, policy: &Policy, scope: Scope) -> Result<Plan, Skip> {
    let finding_type = finding.finding_type.as_str();
    let severity = finding.severity.value();
    if severity < policy.alert_threshold && !matches_any(ALWAYS_ALERTED_TYPES, finding_type) {
        return Err(Skip::BelowAlertThreshold { severity, threshold: policy.alert_threshold });
    }
    Ok(Plan::Alert { scope })
}
