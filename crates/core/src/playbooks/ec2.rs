//! quarantine-instance: which instance findings quarantine the instance.

use crate::finding::Finding;
use crate::plan::{Plan, Scope, Skip};
use crate::policy::Policy;
use crate::target::Target;

use super::iam::EXFILTRATION_TYPES;
use super::{gates, matches_any, severity_gate};

/// Finding types that quarantine the instance they name.
pub(crate) const QUARANTINE_TYPES: &[&str] = &[
    "CryptoCurrency:EC2/*",
    "Backdoor:EC2/*",
    "Trojan:EC2/*",
    "Impact:EC2/*",
    "UnauthorizedAccess:EC2/TorClient",
    "UnauthorizedAccess:EC2/TorRelay",
    "UnauthorizedAccess:EC2/MetadataDNSRebind",
    "Execution:EC2/MaliciousFile",
    "Execution:EC2/MaliciousFile!*",
    // Runtime Monitoring on EC2 reports resourceType Instance too.
    "CryptoCurrency:Runtime/*",
    "Backdoor:Runtime/*",
    "Trojan:Runtime/*",
    "Execution:Runtime/MaliciousFileExecuted",
    "Execution:Runtime/ReverseShell",
];

/// Quarantine only when the instance is the `ACTOR`.
const ACTOR_ONLY_TYPES: &[&str] = &["UnauthorizedAccess:EC2/SSHBruteForce", "UnauthorizedAccess:EC2/RDPBruteForce"];

/// Attack sequences whose EC2 instances are quarantined.
pub(crate) const SEQUENCE_INSTANCE_TYPES: &[&str] = &["AttackSequence:EC2/*"];

/// Malware Protection for Backup findings about a snapshot or an image:
/// whoever it is shared with loses the share.
pub(crate) const ARTIFACT_TYPES: &[&str] = &[
    "Execution:EC2/MaliciousFile!Snapshot",
    "Execution:EC2/MaliciousFile!AMI",
    // An EC2 or EBS recovery point is an AMI or a snapshot.
    "Execution:EC2/MaliciousFile!RecoveryPoint",
];

/// quarantine-instance.
pub(crate) fn quarantine(target: Target, finding: &Finding, policy: &Policy, scope: Scope) -> Result<Plan, Skip> {
    let finding_type = finding.finding_type.as_str();
    if let Target::Artifact { kind, id } = target {
        if !matches_any(ARTIFACT_TYPES, finding_type) {
            return Err(Skip::TypeNotHandled(finding_type.to_owned()));
        }
        gates(finding, policy)?;
        severity_gate(finding, policy)?;
        return Ok(Plan::UnshareArtifact { scope, kind, id });
    }
    let (instance_id, eni_hints) = match target {
        Target::Instance { instance_id, eni_hints } => (instance_id, eni_hints),
        Target::RoleSession { source_instance: Some(instance_id), .. }
            if matches_any(EXFILTRATION_TYPES, finding_type) =>
        {
            (instance_id, Vec::new())
        }
        Target::Unsupported { reason } if finding.resource.resource_type == "Instance" => {
            return Err(Skip::NotForThisFunction(reason));
        }
        _ => {
            return Err(Skip::NotForThisFunction("the finding names no EC2 instance to quarantine".into()));
        }
    };
    gates(finding, policy)?;
    let in_sequence = finding.resource.resource_type == "AttackSequence";
    let via_credentials = !in_sequence && finding.resource.resource_type != "Instance";
    if in_sequence {
        if !matches_any(SEQUENCE_INSTANCE_TYPES, finding_type) {
            return Err(Skip::NotForThisFunction(format!(
                "{finding_type}: instances are quarantined on EC2 attack sequences only"
            )));
        }
    } else if !via_credentials {
        if matches_any(ACTOR_ONLY_TYPES, finding_type) {
            match finding.resource_role() {
                Some("ACTOR") => {}
                Some("TARGET") => return Err(Skip::Victim),
                _ => return Err(Skip::ResourceRoleUnknown),
            }
        } else if !matches_any(QUARANTINE_TYPES, finding_type) {
            return Err(Skip::TypeNotHandled(finding_type.to_owned()));
        }
    }
    severity_gate(finding, policy)?;
    Ok(Plan::Quarantine { scope, instance_id, eni_hints })
}
