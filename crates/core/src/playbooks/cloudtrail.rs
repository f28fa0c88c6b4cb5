//! restore-cloudtrail: logging turned off is restarted.

use crate::finding::Finding;
use crate::plan::{Plan, Scope, Skip};
use crate::policy::Policy;
use crate::target::Target;

use super::{gates, matches_any};

/// Turning CloudTrail logging off: restarted whatever the severity (GuardDuty rates it Low).
const TRAIL_STOPPED_TYPES: &[&str] = &["Stealth:IAMUser/CloudTrailLoggingDisabled"];

/// restore-cloudtrail.
pub(crate) fn restore_cloudtrail(
    _target: Target,
    finding: &Finding,
    policy: &Policy,
    scope: Scope,
) -> Result<Plan, Skip> {
    let finding_type = finding.finding_type.as_str();
    if !matches_any(TRAIL_STOPPED_TYPES, finding_type) {
        return Err(Skip::NotForThisFunction(format!(
            "{finding_type} is not about CloudTrail logging being turned off"
        )));
    }
    gates(finding, policy)?;
    let trail = finding
        .service
        .action
        .as_ref()
        .and_then(|a| a.aws_api_call_action.as_ref())
        .and_then(|a| a.affected_resources.get("AWS::CloudTrail::Trail"))
        .filter(|t| !t.trim().is_empty())
        .cloned();
    if let Some(bad) = trail.as_deref().filter(|t| !crate::target::is_trail_name_or_arn(t)) {
        return Err(Skip::Malformed(format!(
            "trail {:?}, which is neither a trail name nor a trail ARN",
            crate::finding::truncate(bad, 80)
        )));
    }
    Ok(Plan::RestoreTrail { scope, trail })
}
