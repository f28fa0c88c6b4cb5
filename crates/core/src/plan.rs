//! [`decide`]: for one function, one finding and one policy, the plan to carry
//! out or the reason to leave it alone. Pure: no I/O, no clock.

use std::fmt;

use serde::Serialize;

use crate::finding::{AccountId, Finding, InstanceId};
use crate::pattern::Pattern;
use crate::policy::Policy;
use crate::target::{Target, classify};

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
        }
    }

    /// Every function, in the order the README lists them.
    pub const ALL: [Function; 8] = [
        Function::QuarantineInstance,
        Function::RevokeRoleSessions,
        Function::DisableIamUser,
        Function::RestoreCloudtrail,
        Function::ProtectS3Bucket,
        Function::ContainLambdaFunction,
        Function::IsolateDatabase,
        Function::NotifyFinding,
    ];

    /// Whether the function changes anything in the account.
    pub fn remediates(self) -> bool {
        self != Function::NotifyFinding
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
    /// Stop a Lambda function: concurrency 0, event source mappings off,
    /// URL behind IAM, an evidence version, its role's sessions denied.
    ContainFunction { scope: Scope, function_name: String },
    /// Snapshot a database, record its groups and public accessibility, then
    /// make it private on the responder's isolation group of its VPC (the
    /// cluster's groups for an Aurora member).
    IsolateDatabase { scope: Scope, instance_id: String, cluster_id: Option<String>, login_user: Option<String> },

    /// An attack sequence naming several principals this function contains:
    /// one plan each, run one after another; `left_out` says which actors of
    /// its kind were not acted on, and why (protected, say).
    Sequence { scope: Scope, parts: Vec<Plan>, left_out: Vec<String> },
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
            Plan::ContainFunction { scope, function_name } => format!(
                "contain Lambda function {function_name} {}: record its state, publish an evidence version, reserved concurrency 0, event source mappings off, function URL behind IAM auth, deny its role's sessions for this function only",
                at(scope)
            ),
            Plan::ProtectBucket { scope, bucket } => format!(
                "block all public access to bucket {bucket} {}: record its public access block, then turn all four settings on",
                at(scope)
            ),

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
            Plan::ContainFunction { function_name, .. } => function_name.clone(),
            Plan::IsolateDatabase { instance_id, .. } => instance_id.clone(),
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
            | Plan::ContainFunction { scope, .. }
            | Plan::IsolateDatabase { scope, .. }
            | Plan::Sequence { scope, .. } => scope,
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

/// Finding types that quarantine the instance they name.
const QUARANTINE_TYPES: &[&str] = &[
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

/// Instance-role credentials used elsewhere: the instance is the source.
const EXFILTRATION_TYPES: &[&str] = &["UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.*"];

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

/// Turning CloudTrail logging off: restarted whatever the severity (GuardDuty rates it Low).
const TRAIL_STOPPED_TYPES: &[&str] = &["Stealth:IAMUser/CloudTrailLoggingDisabled"];

/// S3 data-event findings: the resource is the bucket, the caller in
/// `accessKeyDetails` is contained like an `AccessKey` finding's; the bucket
/// itself is not changed.
const S3_CALLER_TYPES: &[&str] =
    &["Exfiltration:S3/*", "Impact:S3/*", "Discovery:S3/*", "UnauthorizedAccess:S3/*", "PenTest:S3/*"];

/// Findings that a bucket was opened to the public: its public access block
/// is turned back on, whatever the severity (GuardDuty rates the disabling Low).
const BUCKET_EXPOSURE_TYPES: &[&str] = &[
    "Policy:S3/BucketBlockPublicAccessDisabled",
    "Policy:S3/BucketPublicAccessGranted",
    "Policy:S3/BucketAnonymousAccessGranted",
];

/// Attack sequences whose EC2 instances are quarantined.
const SEQUENCE_INSTANCE_TYPES: &[&str] = &["AttackSequence:EC2/*"];

/// Attack sequences whose S3 buckets get their public access blocked (the
/// data is what the sequence is after).
const SEQUENCE_BUCKET_TYPES: &[&str] = &["AttackSequence:S3/*"];

/// Lambda Protection findings that contain the function.
const LAMBDA_TYPES: &[&str] =
    &["Backdoor:Lambda/*", "CryptoCurrency:Lambda/*", "Trojan:Lambda/*", "UnauthorizedAccess:Lambda/*"];

/// Successful logins the database is isolated on.
const DATABASE_TYPES: &[&str] = &[
    "CredentialAccess:RDS/MaliciousIPCaller.SuccessfulLogin",
    "CredentialAccess:RDS/TorIPCaller.SuccessfulLogin",
    "CredentialAccess:RDS/AnomalousBehavior.SuccessfulBruteForce",
];

/// An unusual but successful login: isolated only when the policy opts in.
const DATABASE_ANOMALY_TYPES: &[&str] = &["CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin"];

/// Alerted whatever the severity: GuardDuty rates them Low, and no
/// remediation function reports them.
const ALWAYS_ALERTED_TYPES: &[&str] = &["Stealth:S3/ServerAccessLoggingDisabled"];

/// Contained only when the policy opts in.
const ANOMALY_TYPES: &[&str] = &["*:IAMUser/AnomalousBehavior", "*:S3/AnomalousBehavior", "*:S3/AnomalousBehavior.*"];

fn matches_any(patterns: &[&str], finding_type: &str) -> bool {
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
    let finding_type = finding.finding_type.as_str();
    let scope = Scope { account: finding.account_id.clone(), region: finding.region.clone() };

    match function {
        Function::QuarantineInstance => {
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
        Function::ProtectS3Bucket => {
            let Target::S3Buckets { buckets, .. } = target else {
                return Err(Skip::NotForThisFunction(match target {
                    Target::Unsupported { reason } => reason,
                    _ => "the finding is not about an S3 bucket".into(),
                }));
            };
            let in_sequence = finding.resource.resource_type == "AttackSequence";
            if in_sequence && !matches_any(SEQUENCE_BUCKET_TYPES, finding_type) {
                return Err(Skip::NotForThisFunction(format!(
                    "{finding_type}: buckets are protected on S3 attack sequences only"
                )));
            }
            if !in_sequence && !matches_any(BUCKET_EXPOSURE_TYPES, finding_type) {
                if matches_any(S3_CALLER_TYPES, finding_type) {
                    return Err(Skip::NotForThisFunction(format!(
                        "{finding_type}: the caller is contained by the credential functions; the bucket is left as it is"
                    )));
                }
                return Err(Skip::TypeNotHandled(finding_type.to_owned()));
            }
            gates(finding, policy)?;
            let mut parts: Vec<Plan> =
                buckets.into_iter().map(|bucket| Plan::ProtectBucket { scope: scope.clone(), bucket }).collect();
            match parts.len() {
                0 => Err(Skip::Malformed("no bucket in s3BucketDetails".into())),
                1 => Ok(parts.remove(0)),
                _ => Ok(Plan::Sequence { scope, parts, left_out: Vec::new() }),
            }
        }
        Function::IsolateDatabase => {
            let Target::Database { instance_id, cluster_id } = target else {
                return Err(Skip::NotForThisFunction(match target {
                    Target::Unsupported { reason } if finding.resource.resource_type == "RDSDBInstance" => reason,
                    _ => "the finding is not about an RDS database".into(),
                }));
            };
            if matches_any(DATABASE_ANOMALY_TYPES, finding_type) {
                if !policy.contain_anomalous_behavior {
                    return Err(Skip::TypeNotHandled(format!(
                        "{finding_type} (set CONTAIN_ANOMALOUS_BEHAVIOR to isolate)"
                    )));
                }
            } else if !matches_any(DATABASE_TYPES, finding_type) {
                return Err(Skip::TypeNotHandled(finding_type.to_owned()));
            }
            if !policy.isolate_databases {
                return Err(Skip::TypeNotHandled(format!(
                    "{finding_type}: databases are alert-only (ISOLATE_DATABASES is false)"
                )));
            }
            gates(finding, policy)?;
            severity_gate(finding, policy)?;
            let login_user = finding.resource.rds_db_user_details.as_ref().and_then(|u| u.user.clone());
            Ok(Plan::IsolateDatabase { scope, instance_id, cluster_id, login_user })
        }
        Function::ContainLambdaFunction => {
            let Target::LambdaFunction { function_name } = target else {
                return Err(Skip::NotForThisFunction(match target {
                    Target::Unsupported { reason } if finding.resource.resource_type == "Lambda" => reason,
                    _ => "the finding is not about a Lambda function".into(),
                }));
            };
            if !matches_any(LAMBDA_TYPES, finding_type) {
                return Err(Skip::TypeNotHandled(finding_type.to_owned()));
            }
            gates(finding, policy)?;
            severity_gate(finding, policy)?;
            Ok(Plan::ContainFunction { scope, function_name })
        }
        Function::RevokeRoleSessions => {
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
                .filter(|_| {
                    matches_any(EXFILTRATION_TYPES, finding_type) || matches_any(SEQUENCE_INSTANCE_TYPES, finding_type)
                })
                .filter(|_| !policy.exfiltration_revokes_all_sessions);
            Ok(Plan::RevokeRoleSessions {
                scope,
                role_name,
                session_name,
                access_key_id,
                source_instance,
                stolen_session,
            })
        }
        Function::RestoreCloudtrail => {
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
        Function::NotifyFinding => {
            let severity = finding.severity.value();
            if severity < policy.alert_threshold && !matches_any(ALWAYS_ALERTED_TYPES, finding_type) {
                return Err(Skip::BelowAlertThreshold { severity, threshold: policy.alert_threshold });
            }
            Ok(Plan::Alert { scope })
        }
        Function::DisableIamUser => {
            let target = caller_of(target, finding_type);
            let Target::IamUser { user_name, access_key_id } = target else {
                return Err(not_mine(target, "an IAM user's access key"));
            };
            let arn = format!("arn:{}:iam::{}:user/{}", finding.partition(), scope.account, user_name);
            if let Some(pattern) = policy.protects(&[&user_name, &arn]) {
                return Err(Skip::Protected { principal: user_name, pattern: pattern.to_string() });
            }
            gates(finding, policy)?;
            credential_type_gate(finding_type, policy)?;
            severity_gate(finding, policy)?;
            Ok(Plan::DisableIamUser { scope, user_name, access_key_id })
        }
    }
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

/// Sample, archived and account checks shared by every function.
fn gates(finding: &Finding, policy: &Policy) -> Result<(), Skip> {
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

fn severity_gate(finding: &Finding, policy: &Policy) -> Result<(), Skip> {
    let severity = finding.severity.value();
    if severity < policy.remediation_threshold {
        return Err(Skip::BelowThreshold { severity, threshold: policy.remediation_threshold });
    }
    Ok(())
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

/// Roles the responder never touches, by what the finding says of them. The
/// executor repeats the service-linked and protected checks against the
/// role's live path and ARN.
fn role_gates(role_name: &str, scope: &Scope, finding: &Finding, policy: &Policy) -> Result<(), Skip> {
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
