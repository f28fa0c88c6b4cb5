//! contain-ecs-task and contain-eks-workload: which container findings
//! contain the task or the pod, and what else goes with them.
//!
//! Follows GuardDuty's remediation guides: "Remediating Runtime Monitoring
//! findings" (isolate the compromised container or task, keep its state for
//! forensics, find the image's other uses, rotate what it could read),
//! "Remediating EKS Protection findings" (contain the Kubernetes user's IAM
//! principal, remove the RBAC binding that granted access, isolate the pod
//! with a deny-all network policy, cordon its node), and the ECS part of the
//! same guide (stop or isolate the task, drain an EC2 container instance).

use crate::finding::Finding;
use crate::plan::{Plan, Scope, Skip, WorkloadPlan};
use crate::policy::Policy;
use crate::target::{EksWorkloadRef, Target, classify_node_workload};

use super::iam::{role_gates, user_gates};
use super::{gates, matches_any, severity_gate};

/// Runtime and malware findings about a container: the workload is contained.
pub(crate) const RUNTIME_TYPES: &[&str] = &[
    "CryptoCurrency:Runtime/*",
    "Backdoor:Runtime/*",
    "Trojan:Runtime/*",
    "Impact:Runtime/*",
    "Execution:Runtime/*",
    "PrivilegeEscalation:Runtime/*",
    "DefenseEvasion:Runtime/*",
    "UnauthorizedAccess:Runtime/*",
    "Execution:ECS/MaliciousFile",
    "Execution:Container/MaliciousFile",
    "Execution:Kubernetes/MaliciousFile",
];

/// Findings whose evidence is a file the image may carry: the service would
/// start it again.
const IMAGE_TYPES: &[&str] = &[
    "Execution:Runtime/MaliciousFileExecuted",
    "Execution:ECS/MaliciousFile",
    "Execution:Container/MaliciousFile",
    "Execution:Kubernetes/MaliciousFile",
    "CryptoCurrency:Runtime/*",
];

/// EKS audit-log findings about a pod someone launched: the pod is
/// contained, and its creator's IAM principal.
const POD_TYPES: &[&str] = &[
    "PrivilegeEscalation:Kubernetes/PrivilegedContainer",
    "Persistence:Kubernetes/ContainerWithSensitiveMount",
    "Execution:Kubernetes/ExecInKubeSystemPod",
    "Persistence:Kubernetes/AnomalousBehavior.*",
    "PrivilegeEscalation:Kubernetes/AnomalousBehavior.*",
    "Execution:Kubernetes/AnomalousBehavior.*",
];

/// Calls from a known-bad place: the caller's IAM principal is contained.
const CALLER_TYPES: &[&str] = &[
    "*:Kubernetes/MaliciousIPCaller",
    "*:Kubernetes/MaliciousIPCaller.Custom",
    "*:Kubernetes/TorIPCaller",
    "*:Kubernetes/SuccessfulAnonymousAccess",
];

/// RBAC findings: the binding is recorded and removed.
const BINDING_TYPES: &[&str] =
    &["PrivilegeEscalation:Kubernetes/*RoleBinding*", "Policy:Kubernetes/AdminAccessToDefaultServiceAccount"];

/// Configuration findings a person closes; the alert carries the commands.
const CONFIGURATION_TYPES: &[&str] = &[
    "Policy:Kubernetes/AnonymousAccessGranted",
    "Policy:Kubernetes/ExposedDashboard",
    "Policy:Kubernetes/KubeflowDashboardExposed",
];

/// For an `Instance` finding, the workload on that node it names, if any.
fn on_node(target: Target, finding: &Finding) -> Target {
    match target {
        Target::Instance { .. } => classify_node_workload(finding).unwrap_or(target),
        other => other,
    }
}

/// contain-ecs-task.
pub(crate) fn contain_ecs_task(target: Target, finding: &Finding, policy: &Policy, scope: Scope) -> Result<Plan, Skip> {
    let finding_type = finding.finding_type.as_str();
    let target = on_node(target, finding);
    let Target::EcsTask(task) = target else {
        return Err(Skip::NotForThisFunction(match target {
            Target::Unsupported { reason } if finding.resource.resource_type == "ECSCluster" => reason,
            _ => "the finding names no ECS task".into(),
        }));
    };
    if !matches_any(RUNTIME_TYPES, finding_type) {
        return Err(Skip::TypeNotHandled(finding_type.to_owned()));
    }
    gates(finding, policy)?;
    severity_gate(finding, policy)?;
    let of_service = task.group.as_deref().is_some_and(|g| g.starts_with("service:"));
    let scale_down_service = policy.scale_down_services && of_service && matches_any(IMAGE_TYPES, finding_type);
    Ok(Plan::ContainTask { scope, cluster: task.cluster, task_arn: task.task_arn, scale_down_service })
}

/// contain-eks-workload.
pub(crate) fn contain_eks_workload(
    target: Target,
    finding: &Finding,
    policy: &Policy,
    scope: Scope,
) -> Result<Plan, Skip> {
    let finding_type = finding.finding_type.as_str();
    let target = on_node(target, finding);
    let Target::EksWorkload(workload) = target else {
        return Err(Skip::NotForThisFunction(match target {
            Target::Unsupported { reason } if finding.resource.resource_type == "EKSCluster" => reason,
            _ => "the finding names no EKS workload".into(),
        }));
    };
    if matches_any(CONFIGURATION_TYPES, finding_type) {
        return Err(Skip::TypeNotHandled(format!(
            "{finding_type}: a configuration a person closes; the alert carries the commands"
        )));
    }
    let runtime = matches_any(RUNTIME_TYPES, finding_type);
    let pod_finding = runtime || matches_any(POD_TYPES, finding_type);
    let binding_finding = matches_any(BINDING_TYPES, finding_type);
    let caller_finding = matches_any(CALLER_TYPES, finding_type);
    if !(pod_finding || binding_finding || caller_finding) {
        return Err(Skip::TypeNotHandled(finding_type.to_owned()));
    }
    gates(finding, policy)?;
    severity_gate(finding, policy)?;
    let EksWorkloadRef { cluster, namespace, workload, node, container_id, user, principal, binding } = *workload;
    let container_id = container_id.filter(|_| pod_finding && workload.is_none());
    let (pod, workload_note) = match workload {
        Some((kind, name)) if pod_finding && matches!(kind.as_str(), "pods" | "pod") => (Some(name), None),
        Some((kind, name)) if pod_finding => {
            let ns = namespace.as_deref().unwrap_or("default");
            (
                None,
                Some(format!(
                    "the finding names {kind} {ns}/{name}, not a pod: find its pods with `kubectl -n {ns} get pods -o wide | grep {name}` and contain each with `responder respond`"
                )),
            )
        }
        _ => (None, None),
    };
    // The principal behind the user: anomaly-only findings contain it only
    // when the policy opts in; runtime findings are about the pod, not
    // whoever deployed it.
    let anomaly = finding_type.contains("/AnomalousBehavior.");
    let (principal, principal_left_out) = match principal.map(|p| *p) {
        _ if runtime => (None, None),
        Some(_) if anomaly && !policy.contain_anomalous_behavior => (
            None,
            Some(format!("{finding_type} is anomaly-based: set CONTAIN_ANOMALOUS_BEHAVIOR to contain the caller")),
        ),
        Some(p) => match principal_plan(p, finding, policy, &scope) {
            Ok(plan) => (Some(Box::new(plan)), None),
            Err(skip) => (None, Some(skip.to_string())),
        },
        None => (None, user.map(|u| format!("Kubernetes user {u:?} maps to no IAM user or role"))),
    };
    let binding = binding.filter(|_| binding_finding);
    if pod.is_none() && container_id.is_none() && binding.is_none() && principal.is_none() {
        return Err(principal_left_out.map_or_else(
            || Skip::NotForThisFunction("the finding names no pod, binding or IAM principal to contain".into()),
            Skip::NotForThisFunction,
        ));
    }
    Ok(Plan::ContainWorkload(Box::new(WorkloadPlan {
        scope,
        cluster,
        namespace,
        pod,
        container_id,
        node,
        cordon_node: true,
        binding,
        principal,
        principal_left_out,
        workload_note,
    })))
}

/// The credential plan for the IAM principal behind a Kubernetes user, under
/// the same protections as the credential functions' own: one role session
/// denied (not the role's every session), or the user disabled.
fn principal_plan(target: Target, finding: &Finding, policy: &Policy, scope: &Scope) -> Result<Plan, Skip> {
    match target {
        Target::RoleSession { role_name, session_name, access_key_id, source_instance } => {
            role_gates(&role_name, scope, finding, policy)?;
            Ok(Plan::RevokeRoleSessions {
                scope: scope.clone(),
                role_name,
                stolen_session: session_name.clone(),
                session_name,
                access_key_id,
                source_instance,
            })
        }
        Target::IamUser { user_name, access_key_id } => {
            user_gates(&user_name, scope, finding, policy)?;
            Ok(Plan::DisableIamUser { scope: scope.clone(), user_name, access_key_id })
        }
        _ => Err(Skip::NotForThisFunction("not an IAM user or role".into())),
    }
}

/// For the alert: the commands that close an EKS configuration finding.
pub fn closing_commands(finding: &Finding) -> Vec<String> {
    let kind = finding.finding_type.as_str();
    let cluster = finding.resource.eks_cluster_details.as_ref().and_then(|c| c.name.as_deref()).unwrap_or("CLUSTER");
    let action = finding.service.action.as_ref();
    let binding = action.and_then(|a| a.kubernetes_role_binding_details.as_ref());
    let binding_name = binding.and_then(|b| b.name.as_deref()).unwrap_or("BINDING");
    let binding_kind = match binding.and_then(|b| b.kind.as_deref()) {
        Some("RoleBinding") => "rolebinding",
        _ => "clusterrolebinding",
    };
    let call = action.and_then(|a| a.kubernetes_api_call_action.as_ref());
    let namespace = call.and_then(|c| c.namespace.as_deref()).unwrap_or("kubernetes-dashboard");
    let context = format!("aws eks update-kubeconfig --name {cluster} --region {}", finding.region);
    if matches_any(&["Policy:Kubernetes/AnonymousAccessGranted"], kind) {
        let ns_flag = if binding_kind == "rolebinding" { format!(" -n {namespace}") } else { String::new() };
        vec![
            context,
            format!("kubectl get {binding_kind}{ns_flag} {binding_name} -o yaml > {binding_name}.yaml   # keep it"),
            format!("kubectl delete {binding_kind}{ns_flag} {binding_name}"),
            format!(
                "kubectl get clusterrolebindings,rolebindings -A -o json | jq -r '.items[] | select(any(.subjects[]?; .name == \"system:anonymous\" or .name == \"system:unauthenticated\")) | .metadata.name'   # none may remain"
            ),
        ]
    } else if matches_any(&["Policy:Kubernetes/ExposedDashboard", "Policy:Kubernetes/KubeflowDashboardExposed"], kind) {
        let service = call.and_then(|c| c.resource_name.as_deref()).unwrap_or("kubernetes-dashboard");
        vec![
            context,
            format!("kubectl -n {namespace} get service {service} -o yaml > {service}.yaml   # keep it"),
            format!("kubectl -n {namespace} patch service {service} -p '{{\"spec\":{{\"type\":\"ClusterIP\"}}}}'"),
            format!("kubectl -n {namespace} get ingress   # remove any ingress that publishes the dashboard"),
        ]
    } else {
        Vec::new()
    }
}
