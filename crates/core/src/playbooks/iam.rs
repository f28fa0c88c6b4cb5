//! revoke-role-sessions and disable-iam-user: which credential findings
//! contain the user or role, and the principals never touched.

use crate::finding::Finding;
use crate::plan::{Plan, Scope, Skip};
use crate::policy::Policy;
use crate::target::Target;

use super::ec2::SEQUENCE_INSTANCE_TYPES;
use super::{gates, matches_any, severity_gate};

/// Instance-role credentials used elsewhere: the instance is the source.
pub(crate) const EXFILTRATION_TYPES: &[&str] = &["UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.*"];

/// Credential findings that contain the user or role.
const CREDENTIAL_TYPES: &[&str] = &[
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS",
    "UnauthorizedAccess:IAMUser/MaliciousIPCaller",
    "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom",
    "UnauthorizedAccess:IAMUser/TorIPCaller",
    "Recon:IAMUser/*",
    "PenTest:IAMUser/*",
    "AttackSequence:IAM/CompromisedCredentials",
    "AttackSequence:S3/CompromisedData",
    "AttackSequence:EC2/*",
];

/// S3 data-event findings: the resource is the bucket, the caller in
/// `accessKeyDetails` is contained like an `AccessKey` finding's; the bucket
/// itself is not changed.
pub(crate) const S3_CALLER_TYPES: &[&str] =
    &["Exfiltration:S3/*", "Impact:S3/*", "Discovery:S3/*", "UnauthorizedAccess:S3/*", "PenTest:S3/*"];

/// Contained only when the policy opts in.
const ANOMALY_TYPES: &[&str] = &["*:IAMUser/AnomalousBehavior", "*:S3/AnomalousBehavior", "*:S3/AnomalousBehavior.*"];

/// revoke-role-sessions.
pub(crate) fn revoke_role_sessions(
    target: Target,
    finding: &Finding,
    policy: &Policy,
    scope: Scope,
) -> Result<Plan, Skip> {
    let finding_type = finding.finding_type.as_str();
    let target = caller_of(target, finding_type);
    let Target::RoleSession { role_name, session_name, access_key_id, source_instance } = target else {
        return Err(not_mine(target, "an assumed-role session"));
    };
    role_gates(&role_name, &scope, finding, policy)?;
    gates(finding, policy)?;
    credential_type_gate(finding_type, policy)?;
    severity_gate(finding, policy)?;
    let stolen_session = session_name
        .clone()
        .filter(|_| source_instance.is_some())
        .filter(|_| matches_any(EXFILTRATION_TYPES, finding_type) || matches_any(SEQUENCE_INSTANCE_TYPES, finding_type))
        .filter(|_| !policy.exfiltration_revokes_all_sessions);
    Ok(Plan::RevokeRoleSessions { scope, role_name, session_name, access_key_id, source_instance, stolen_session })
}

/// disable-iam-user.
pub(crate) fn disable_iam_user(target: Target, finding: &Finding, policy: &Policy, scope: Scope) -> Result<Plan, Skip> {
    let finding_type = finding.finding_type.as_str();
    let target = caller_of(target, finding_type);
    let Target::IamUser { user_name, access_key_id } = target else {
        return Err(not_mine(target, "an IAM user's access key"));
    };
    user_gates(&user_name, &scope, finding, policy)?;
    gates(finding, policy)?;
    credential_type_gate(finding_type, policy)?;
    severity_gate(finding, policy)?;
    Ok(Plan::DisableIamUser { scope, user_name, access_key_id })
}

/// For an S3 data-event finding, the caller `accessKeyDetails` names.
fn caller_of(target: Target, finding_type: &str) -> Target {
    match target {
        Target::S3Buckets { caller: Some(caller), .. } if matches_any(S3_CALLER_TYPES, finding_type) => *caller,
        Target::S3Buckets { .. } => Target::Unsupported {
            reason: format!("{finding_type} is about the bucket, not about credentials to contain"),
        },
        other => other,
    }
}

/// Root and federated identities are reported as notify-only by the
/// credential functions; everything else is simply not theirs.
fn not_mine(target: Target, wanted: &str) -> Skip {
    match target {
        Target::Root => Skip::NotifyOnly("root".into()),
        Target::Federated { .. } => Skip::NotifyOnly("federated".into()),
        Target::Unsupported { reason } => Skip::NotForThisFunction(reason),
        _ => Skip::NotForThisFunction(format!("the finding is not about {wanted}")),
    }
}

fn credential_type_gate(finding_type: &str, policy: &Policy) -> Result<(), Skip> {
    if matches_any(ANOMALY_TYPES, finding_type) {
        if policy.contain_anomalous_behavior {
            return Ok(());
        }
        return Err(Skip::TypeNotHandled(format!("{finding_type} (set CONTAIN_ANOMALOUS_BEHAVIOR to contain)")));
    }
    if matches_any(CREDENTIAL_TYPES, finding_type) || matches_any(S3_CALLER_TYPES, finding_type) {
        Ok(())
    } else {
        Err(Skip::TypeNotHandled(finding_type.to_owned()))
    }
}

/// Users the responder never touches: the protected principals, by name or ARN.
pub(crate) fn user_gates(user_name: &str, scope: &Scope, finding: &Finding, policy: &Policy) -> Result<(), Skip> {
    let arn = format!("arn:{}:iam::{}:user/{}", finding.partition(), scope.account, user_name);
    if let Some(pattern) = policy.protects(&[user_name, &arn]) {
        return Err(Skip::Protected { principal: user_name.to_owned(), pattern: pattern.to_string() });
    }
    Ok(())
}

/// Roles the responder never touches, by what the finding says of them. The
/// executor repeats the service-linked and protected checks against the
/// role's live path and ARN.
pub(crate) fn role_gates(role_name: &str, scope: &Scope, finding: &Finding, policy: &Policy) -> Result<(), Skip> {
    if role_name.starts_with("AWSReservedSSO_") {
        return Err(Skip::IdentityCenterRole(role_name.to_owned()));
    }
    if role_name.starts_with("AWSServiceRoleFor") {
        return Err(Skip::ServiceLinkedRole(role_name.to_owned()));
    }
    let arn = format!("arn:{}:iam::{}:role/{}", finding.partition(), scope.account, role_name);
    if let Some(pattern) = policy.protects(&[role_name, &arn]) {
        return Err(Skip::Protected { principal: role_name.to_owned(), pattern: pattern.to_string() });
    }
    Ok(())
}
