//! [`decide`]: for one function, one finding and one policy, the plan to carry
//! out or the reason to leave it alone. Pure: no I/O, no clock.

use std::fmt;

use serde::Serialize;

use crate::finding::{AccountId, Finding, InstanceId};
use crate::pattern::Pattern;
use crate::policy::Policy;
use crate::target::{ArtifactKind, KubernetesBinding, S3ObjectRef, Target, classify};

/// The Lambda functions, by their binary names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Function {
    QuarantineInstance,
    RevokeRoleSessions,
    DisableIamUser,
    RestoreCloudtrail,
    NotifyFinding,
    ProtectS3Bucket,
    ContainLambdaFunction,
    IsolateDatabase,
    ContainEcsTask,
    ContainEksWorkload,
}

impl Function {
    pub fn name(self) -> &'static str {
        match self {
            Function::QuarantineInstance => "quarantine-instance",
            Function::RevokeRoleSessions => "revoke-role-sessions",
            Function::DisableIamUser => "disable-iam-user",
            Function::RestoreCloudtrail => "restore-cloudtrail",
            Function::NotifyFinding => "notify-finding",
            Function::ProtectS3Bucket => "protect-s3-bucket",
            Function::ContainLambdaFunction => "contain-lambda-function",
            Function::IsolateDatabase => "isolate-database",
            Function::ContainEcsTask => "contain-ecs-task",
            Function::ContainEksWorkload => "contain-eks-workload",
        }
    }

    /// Every function, in the order the README lists them.
    pub const ALL: [Function; 10] = [
        Function::QuarantineInstance,
        Function::RevokeRoleSessions,
        Function::DisableIamUser,
        Function::RestoreCloudtrail,
        Function::ProtectS3Bucket,
        Function::ContainLambdaFunction,
        Function::IsolateDatabase,
        Function::ContainEcsTask,
        Function::ContainEksWorkload,
        Function::NotifyFinding,
    ];

    /// Whether the function changes anything in the account.
    pub fn remediates(self) -> bool {
        self != Function::NotifyFinding
    }

    /// Whether the function can act on an IAM role (deny its sessions):
    /// such a function must know its own role before its first decision.
    pub fn acts_on_roles(self) -> bool {
        matches!(self, Function::RevokeRoleSessions | Function::ContainLambdaFunction | Function::ContainEksWorkload)
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a plan acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub account: AccountId,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Quarantine an EC2 instance.
    Quarantine {
        scope: Scope,
        instance_id: InstanceId,
        /// ENIs the finding listed; the executor re-describes and isolates
        /// every ENI the instance has, listed or not.
        eni_hints: Vec<String>,
    },
    /// Deny the role's sessions issued before now.
    RevokeRoleSessions {
        scope: Scope,
        role_name: String,
        session_name: Option<String>,
        access_key_id: Option<String>,
        /// The instance whose role credentials were exfiltrated, if any.
        source_instance: Option<InstanceId>,
        /// For credential exfiltration from an instance: the one session to
        /// deny (the instance's), so the role's other sessions keep working;
        /// `None` revokes every session issued before now.
        stolen_session: Option<String>,
    },
    /// Deactivate the user's keys, delete its console password, deny its sessions.
    DisableIamUser { scope: Scope, user_name: String, access_key_id: Option<String> },
    /// Start logging again on the trail the finding names (name or ARN), or
    /// on every trail of the account and region that is not logging.
    RestoreTrail { scope: Scope, trail: Option<String> },
    /// Alert a person, with the CloudTrail activity around the resource.
    Alert { scope: Scope },
    /// Record the bucket's public access block, then turn all four settings on.
    ProtectBucket { scope: Scope, bucket: String },
    /// The same for the account's public access block (S3 Control).
    ProtectAccount { scope: Scope },
    /// Stop a Lambda function: concurrency 0, event source mappings off,
    /// URL behind IAM, an evidence version, its role's sessions denied.
    ContainFunction { scope: Scope, function_name: String },
    /// Snapshot a database, record its groups and public accessibility, then
    /// make it private on the responder's isolation group of its VPC (the
    /// cluster's groups for an Aurora member).
    IsolateDatabase { scope: Scope, instance_id: String, cluster_id: Option<String>, login_user: Option<String> },
    /// Record who a snapshot or image is shared with, then take every share
    /// away but the security account's (malware found in it).
    UnshareArtifact { scope: Scope, kind: ArtifactKind, id: String },
    /// Copy a malicious object version into the evidence store and tag it;
    /// delete that version from its bucket when the settings say so.
    QuarantineObject { scope: Scope, object: S3ObjectRef },

    /// Contain an ECS task: record it, move its network interface onto the
    /// isolation group in two steps or, where ECS owns the interface, stop
    /// it; drain its container instance (EC2 launch type); scale its service
    /// to 0 when `scale_down_service`.
    ContainTask { scope: Scope, cluster: String, task_arn: String, scale_down_service: bool },
    /// Contain a workload on EKS: its pod labelled and cut off by a deny-all
    /// NetworkPolicy, its node cordoned, the offending binding removed (each
    /// recorded for release), and the IAM principal behind the Kubernetes
    /// user contained by the credential playbooks.
    ContainWorkload(Box<WorkloadPlan>),

    /// An attack sequence naming several principals this function contains:
    /// one plan each, run one after another; `left_out` says which actors of
    /// its kind were not acted on, and why (protected, say).
    Sequence { scope: Scope, parts: Vec<Plan>, left_out: Vec<String> },
}

/// What contain-eks-workload does for one finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadPlan {
    pub scope: Scope,
    pub cluster: String,
    pub namespace: Option<String>,
    /// The pod to label and cut off, when the finding names one.
    pub pod: Option<String>,
    /// A container the finding names instead of its pod: the executor finds
    /// the pod that runs it.
    pub container_id: Option<String>,
    /// The node's instance, as the finding names it (reported; the node to
    /// cordon is the pod's, read live).
    pub node: Option<InstanceId>,
    pub cordon_node: bool,
    pub binding: Option<KubernetesBinding>,
    /// The credential plan for the IAM principal behind the Kubernetes user.
    pub principal: Option<Box<Plan>>,
    /// Why the user's principal is not contained, when it is not.
    pub principal_left_out: Option<String>,
    /// A workload the finding names that is not a pod, with the command
    /// that finds its pods.
    pub workload_note: Option<String>,
}

impl Plan {
    /// What the plan does, in words a person reads (`responder plan`).
    pub fn describe(&self) -> String {
        let at = |s: &Scope| format!("in account {} ({})", s.account, s.region);
        match self {
            Plan::Quarantine { scope, instance_id, .. } => format!(
                "quarantine instance {instance_id} {}: snapshot its volumes, protect it, isolate every ENI in two steps, detach its profile and Auto Scaling group",
                at(scope)
            ),
            Plan::RevokeRoleSessions { scope, role_name, stolen_session: Some(session), .. } => format!(
                "deny only session {session} of role {role_name} {} (tokens issued before now); its other sessions keep working",
                at(scope)
            ),
            Plan::RevokeRoleSessions { scope, role_name, .. } => {
                format!("revoke every session of role {role_name} issued before now {}", at(scope))
            }
            Plan::DisableIamUser { scope, user_name, access_key_id, .. } => format!(
                "disable IAM user {user_name} {}: deactivate {}, delete its console password, deny its older sessions",
                at(scope),
                access_key_id.as_deref().map_or("its access keys".to_owned(), |k| format!(
                    "key {k} (then the others, per DISABLE_USER_KEYS)"
                ))
            ),
            Plan::RestoreTrail { scope, trail } => format!(
                "restart logging on {} {}",
                trail.as_deref().map_or("every stopped trail of the region".to_owned(), |t| format!("trail {t}")),
                at(scope)
            ),
            Plan::Alert { scope } => {
                format!("alert the team, with the CloudTrail activity around the resource, {}", at(scope))
            }
            Plan::IsolateDatabase { scope, instance_id, cluster_id, .. } => format!(
                "isolate database {instance_id}{} {}: snapshot it, record its security groups and public accessibility, then make it not publicly accessible on the responder's isolation group of its VPC",
                cluster_id.as_deref().map(|c| format!(" (Aurora cluster {c})")).unwrap_or_default(),
                at(scope)
            ),
            Plan::ProtectAccount { scope } => format!(
                "block public access account-wide {}: record the account's public access block, then turn all four settings on",
                at(scope)
            ),
            Plan::ContainFunction { scope, function_name } => format!(
                "contain Lambda function {function_name} {}: record its state, publish an evidence version, reserved concurrency 0, event source mappings off, function URL behind IAM auth, deny its role's sessions for this function only",
                at(scope)
            ),
            Plan::ProtectBucket { scope, bucket } => format!(
                "block all public access to bucket {bucket} {}: record its public access block, then turn all four settings on",
                at(scope)
            ),
            Plan::UnshareArtifact { scope, kind, id } => format!(
                "unshare {} {id} {}: record who may use it, then remove public and cross-account sharing (the security account keeps its share)",
                kind.name(),
                at(scope)
            ),
            Plan::QuarantineObject { scope, object } => format!(
                "keep malicious object s3://{}/{}{} {}: copy that version into the evidence store and tag it, then delete that version when DELETE_MALICIOUS_OBJECTS is on (never another version)",
                object.bucket,
                object.key,
                object.version_id.as_deref().map(|v| format!(" (version {v})")).unwrap_or_default(),
                at(scope)
            ),
            Plan::ContainTask { scope, cluster, task_arn, scale_down_service } => format!(
                "contain ECS task {task_arn} of cluster {cluster} {}: record it, move its network interface onto the isolation group in two steps (or stop it where ECS owns the interface), drain its container instance{}",
                at(scope),
                if *scale_down_service { ", scale its service to 0 (desired count recorded)" } else { "" }
            ),
            Plan::ContainWorkload(w) => {
                let mut parts = Vec::new();
                let pod = match (&w.pod, &w.container_id) {
                    (Some(pod), _) => Some(format!("pod {}/{pod}", w.namespace.as_deref().unwrap_or("default"))),
                    (None, Some(id)) => Some(format!("the pod running container {id}")),
                    (None, None) => None,
                };
                if let Some(pod) = pod {
                    parts.push(format!("label {pod} and cut it off with a deny-all NetworkPolicy"));
                    if w.cordon_node {
                        parts.push("cordon its node".into());
                    }
                }
                if let Some(b) = &w.binding {
                    parts.push(format!("record and remove {}", b.describe()));
                }
                if let Some(p) = &w.principal {
                    parts.push(p.describe());
                }
                format!("on EKS cluster {} {}: {}", w.cluster, at(&w.scope), parts.join("; "))
            }

            Plan::Sequence { parts, .. } => {
                let parts: Vec<String> = parts.iter().map(Plan::describe).collect();
                format!("for each member of the attack sequence: {}", parts.join("; "))
            }
        }
    }

    /// The resource the plan acts on, as reports name it.
    pub fn resource(&self) -> String {
        match self {
            Plan::Quarantine { instance_id, .. } => instance_id.to_string(),
            Plan::RevokeRoleSessions { role_name, .. } => role_name.clone(),
            Plan::DisableIamUser { user_name, .. } => user_name.clone(),
            Plan::RestoreTrail { trail, .. } => trail.clone().unwrap_or_else(|| "all trails".into()),
            Plan::Alert { .. } => String::new(),
            Plan::ProtectBucket { bucket, .. } => bucket.clone(),
            Plan::ProtectAccount { scope } => format!("account {}", scope.account),
            Plan::ContainFunction { function_name, .. } => function_name.clone(),
            Plan::IsolateDatabase { instance_id, .. } => instance_id.clone(),
            Plan::UnshareArtifact { id, .. } => id.clone(),
            Plan::QuarantineObject { object, .. } => format!("s3://{}/{}", object.bucket, object.key),
            Plan::ContainTask { task_arn, .. } => task_arn.clone(),
            Plan::ContainWorkload(w) => match (&w.pod, &w.binding) {
                (Some(pod), _) => format!("{}/{pod}", w.namespace.as_deref().unwrap_or("default")),
                (None, _) if w.container_id.is_some() => {
                    format!("container {}", w.container_id.as_deref().unwrap_or_default())
                }
                (None, Some(b)) => b.describe(),
                (None, None) => w.principal.as_ref().map_or_else(|| w.cluster.clone(), |p| p.resource()),
            },
            Plan::Sequence { parts, .. } => parts.iter().map(Plan::resource).collect::<Vec<_>>().join(", "),
        }
    }

    pub fn scope(&self) -> &Scope {
        match self {
            Plan::Quarantine { scope, .. }
            | Plan::RevokeRoleSessions { scope, .. }
            | Plan::DisableIamUser { scope, .. }
            | Plan::RestoreTrail { scope, .. }
            | Plan::Alert { scope }
            | Plan::ProtectBucket { scope, .. }
            | Plan::ProtectAccount { scope }
            | Plan::ContainFunction { scope, .. }
            | Plan::IsolateDatabase { scope, .. }
            | Plan::UnshareArtifact { scope, .. }
            | Plan::QuarantineObject { scope, .. }
            | Plan::ContainTask { scope, .. }
            | Plan::Sequence { scope, .. } => scope,
            Plan::ContainWorkload(w) => &w.scope,
        }
    }
}

/// Why a valid finding is left alone.
#[derive(Debug, Clone, PartialEq)]
pub enum Skip {
    /// The finding is about something another function handles.
    NotForThisFunction(String),
    Sample,
    Archived,
    AccountNotAllowed(AccountId),
    TypeNotHandled(String),
    /// A brute-force finding where the instance is the `TARGET`.
    Victim,
    /// A brute-force finding that does not say whether the instance acted.
    ResourceRoleUnknown,
    BelowThreshold {
        severity: f64,
        threshold: f64,
    },
    /// Below the alert threshold (notify-finding).
    BelowAlertThreshold {
        severity: f64,
        threshold: f64,
    },
    /// Root or federated credentials: nothing IAM can restrict.
    NotifyOnly(String),
    /// An IAM Identity Center role: sessions are revoked there.
    IdentityCenterRole(String),
    ServiceLinkedRole(String),
    Protected {
        principal: String,
        pattern: String,
    },
    /// The finding names its resource in a form no AWS resource has.
    Malformed(String),
}

impl Skip {
    /// A short, stable name for the kind of skip (for tests, metrics, filters).
    pub fn kind(&self) -> &'static str {
        match self {
            Skip::NotForThisFunction(_) => "not_for_this_function",
            Skip::Sample => "sample",
            Skip::Archived => "archived",
            Skip::AccountNotAllowed(_) => "account_not_allowed",
            Skip::TypeNotHandled(_) => "type_not_handled",
            Skip::Victim => "victim",
            Skip::ResourceRoleUnknown => "resource_role_unknown",
            Skip::BelowThreshold { .. } => "below_threshold",
            Skip::BelowAlertThreshold { .. } => "below_alert_threshold",
            Skip::NotifyOnly(_) => "notify_only",
            Skip::IdentityCenterRole(_) => "identity_center_role",
            Skip::ServiceLinkedRole(_) => "service_linked_role",
            Skip::Protected { .. } => "protected",
            Skip::Malformed(_) => "malformed",
        }
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::NotForThisFunction(why) => write!(f, "not for this function: {why}"),
            Skip::Sample => f.write_str("sample finding: reported, not acted on (ACT_ON_SAMPLE_FINDINGS is off)"),
            Skip::Archived => f.write_str("archived finding: reported, not acted on (ACT_ON_ARCHIVED_FINDINGS is off)"),
            Skip::AccountNotAllowed(a) => write!(f, "account {a} is not in ALLOWED_ACCOUNTS"),
            Skip::TypeNotHandled(t) => write!(f, "finding type {t} is alert-only for this function"),
            Skip::Victim => {
                f.write_str("the instance is the TARGET (victim) of the brute force, not the actor: alert only")
            }
            Skip::ResourceRoleUnknown => {
                f.write_str("the finding does not say whether the instance is the actor or the target: alert only")
            }
            Skip::BelowThreshold { severity, threshold } => {
                write!(f, "severity {severity:.1} is below the remediation threshold {threshold:.1}")
            }
            Skip::BelowAlertThreshold { severity, threshold } => {
                write!(f, "severity {severity:.1} is below the alert threshold {threshold:.1}")
            }
            Skip::NotifyOnly(who) => write!(f, "{who} credentials cannot be restricted by IAM policy: notify only"),
            Skip::IdentityCenterRole(role) => {
                write!(f, "{role} is an IAM Identity Center role: revoke the session in IAM Identity Center")
            }
            Skip::ServiceLinkedRole(role) => write!(f, "{role} is a service-linked role: never modified"),
            Skip::Protected { principal, pattern } => {
                write!(f, "{principal} is protected (matches PROTECTED_PRINCIPALS entry {pattern})")
            }
            Skip::Malformed(what) => write!(f, "the finding names {what}: not acted on"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Act(Plan),
    Skip(Skip),
}

pub(crate) fn matches_any(patterns: &[&str], finding_type: &str) -> bool {
    patterns.iter().any(|p| Pattern::new(*p).matches(finding_type))
}

/// Decides what `function` does with `finding` under `policy`.
pub fn decide(function: Function, finding: &Finding, policy: &Policy) -> Decision {
    match decide_inner(function, finding, policy) {
        Ok(plan) => Decision::Act(plan),
        Err(skip) => Decision::Skip(skip),
    }
}

fn decide_inner(function: Function, finding: &Finding, policy: &Policy) -> Result<Plan, Skip> {
    match classify(finding) {
        Target::AttackSequence { actors, resources } if function.remediates() => {
            decide_sequence(function, actors.into_iter().chain(resources).collect(), finding, policy)
        }
        target => decide_target(function, target, finding, policy),
    }
}

/// Each actor and resource of an attack sequence through the same decision
/// as a finding about it alone, by the function for its kind: a protected or
/// unsupported member is left out (its skip is the answer when none is
/// left). A member named twice (an actor's key among the resources) is
/// contained once.
fn decide_sequence(function: Function, actors: Vec<Target>, finding: &Finding, policy: &Policy) -> Result<Plan, Skip> {
    let scope = Scope { account: finding.account_id.clone(), region: finding.region.clone() };
    let mut parts = Vec::new();
    let mut skips = Vec::new();
    for actor in actors {
        match decide_target(function, actor, finding, policy) {
            Ok(plan) if parts.contains(&plan) => {}
            Ok(plan) => parts.push(plan),
            Err(skip) => skips.push(skip),
        }
    }
    let left_out: Vec<String> =
        skips.iter().filter(|s| !matches!(s, Skip::NotForThisFunction(_))).map(Skip::to_string).collect();
    match parts.len() {
        0 => Err(skips.into_iter().find(|s| !matches!(s, Skip::NotForThisFunction(_))).unwrap_or_else(|| {
            Skip::NotForThisFunction("the attack sequence names nothing this function contains".into())
        })),
        1 if left_out.is_empty() => Ok(parts.remove(0)),
        _ => Ok(Plan::Sequence { scope, parts, left_out }),
    }
}

fn decide_target(function: Function, target: Target, finding: &Finding, policy: &Policy) -> Result<Plan, Skip> {
    use crate::playbooks as p;
    let scope = Scope { account: finding.account_id.clone(), region: finding.region.clone() };
    match function {
        Function::QuarantineInstance => p::ec2::quarantine(target, finding, policy, scope),
        Function::RevokeRoleSessions => p::iam::revoke_role_sessions(target, finding, policy, scope),
        Function::DisableIamUser => p::iam::disable_iam_user(target, finding, policy, scope),
        Function::RestoreCloudtrail => p::cloudtrail::restore_cloudtrail(target, finding, policy, scope),
        Function::ProtectS3Bucket => p::s3::protect_s3_bucket(target, finding, policy, scope),
        Function::ContainLambdaFunction => p::lambda::contain_lambda_function(target, finding, policy, scope),
        Function::IsolateDatabase => p::rds::isolate_database(target, finding, policy, scope),
        Function::ContainEcsTask => p::containers::contain_ecs_task(target, finding, policy, scope),
        Function::ContainEksWorkload => p::containers::contain_eks_workload(target, finding, policy, scope),
        Function::NotifyFinding => p::notify::notify_finding(target, finding, policy, scope),
    }
}

/// Sample, archived and account checks shared by every function.
pub(crate) fn gates(finding: &Finding, policy: &Policy) -> Result<(), Skip> {
    if finding.is_sample() && !policy.act_on_samples {
        return Err(Skip::Sample);
    }
    if finding.is_archived() && !policy.act_on_archived {
        return Err(Skip::Archived);
    }
    if !policy.allows_account(&finding.account_id) {
        return Err(Skip::AccountNotAllowed(finding.account_id.clone()));
    }
    Ok(())
}

pub(crate) fn severity_gate(finding: &Finding, policy: &Policy) -> Result<(), Skip> {
    let severity = finding.severity.value();
    if severity < policy.remediation_threshold {
        return Err(Skip::BelowThreshold { severity, threshold: policy.remediation_threshold });
    }
    Ok(())
}
