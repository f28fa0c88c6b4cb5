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

/// An EKS node or ECS container instance whose finding names the pod or
/// task: the container function contains the workload; the node is
/// isolated only when the policy says so.
fn workload_named(instance_id: &crate::finding::InstanceId, finding: &Finding, policy: &Policy) -> Option<Skip> {
    use crate::target::{Node, classify_node_workload, node_of};
    if policy.isolate_container_nodes {
        return None;
    }
    let node = node_of(finding)?;
    let workload = classify_node_workload(finding)?;
    let (function, what) = match (&node, &workload) {
        (Node::Eks(cluster), Target::EksWorkload(w)) => (
            "contain-eks-workload",
            match (&w.workload, &w.container_id) {
                (Some((kind, name)), _) => format!(
                    "a node of EKS cluster {cluster}, and the finding names {kind} {}/{name}",
                    w.namespace.as_deref().unwrap_or("default")
                ),
                (None, Some(id)) => format!("a node of EKS cluster {cluster}, and the finding names container {id}"),
                (None, None) => return None,
            },
        ),
        (_, Target::EcsTask(t)) => {
            ("contain-ecs-task", format!("an ECS container instance running task {}", t.task_arn))
        }
        _ => return None,
    };
    Some(Skip::NotForThisFunction(format!(
        "instance {instance_id} is {what}: {function} contains that workload, not its neighbours (ISOLATE_CONTAINER_NODES=true isolates the whole node)"
    )))
}

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
        Target::Instance { instance_id, eni_hints } => {
            if let Some(skip) = workload_named(&instance_id, finding, policy) {
                return Err(skip);
            }
            (instance_id, eni_hints)
        }
        // An ECS task on a container instance (EC2 launch type): the task is
        // contain-ecs-task's; the instance, drained by it, is quarantined here.
        Target::EcsTask(crate::target::EcsTaskRef { instance: Some(instance_id), .. }) => {
            if !matches_any(super::containers::RUNTIME_TYPES, finding_type) {
                return Err(Skip::TypeNotHandled(finding_type.to_owned()));
            }
            gates(finding, policy)?;
            severity_gate(finding, policy)?;
            let eni_hints = finding
                .resource
                .instance_details
                .iter()
                .flat_map(|d| &d.network_interfaces)
                .filter_map(|n| n.network_interface_id.clone())
                .collect();
            return Ok(Plan::Quarantine { scope, instance_id, eni_hints });
        }
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
