//! What a finding is about, classified from the finding alone. This is a
//! hint: the executor re-describes the resource before acting on it.

use crate::finding::{Finding, InstanceId};

/// The thing a finding is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An EC2 instance (`resourceType: Instance`).
    Instance {
        instance_id: InstanceId,
        /// ENIs the finding listed at detection time.
        eni_hints: Vec<String>,
    },
    /// Long-term credentials of an IAM user.
    IamUser { user_name: String, access_key_id: Option<String> },
    /// Temporary credentials of an assumed role.
    RoleSession {
        role_name: String,
        session_name: Option<String>,
        access_key_id: Option<String>,
        /// When the session name is an instance id, the instance whose role
        /// credentials these are (EC2 names instance-role sessions so).
        source_instance: Option<InstanceId>,
    },
    /// The account's root user: IAM policy cannot restrict it.
    Root,
    /// A federated user (`GetFederationToken`): no IAM entity to restrict.
    Federated { principal_id: Option<String> },
    /// An attack sequence (Extended Threat Detection): the credentials of
    /// each actor `service.detection.sequence` names, as targets of their
    /// own (IAM users and role sessions; anything else as `Unsupported`).
    AttackSequence { actors: Vec<Target>, resources: Vec<Target> },
    /// S3 buckets (`resourceType: S3Bucket`), with the caller the finding
    /// names in `accessKeyDetails` (data-event findings), classified as an
    /// `AccessKey` finding's would be.
    S3Buckets { buckets: Vec<String>, caller: Option<Box<Target>> },
    /// A Lambda function (`resourceType: Lambda`).
    LambdaFunction { function_name: String },
    /// An RDS database instance (`resourceType: RDSDBInstance`), with its
    /// Aurora cluster when it is a member of one.
    Database { instance_id: String, cluster_id: Option<String> },
    /// An EBS snapshot or AMI a malware scan found malicious files in.
    Artifact { kind: ArtifactKind, id: String },
    /// S3 object versions a malware scan found malicious.
    S3Objects { objects: Vec<S3ObjectRef> },
    /// An ECS task (`resourceType: ECSCluster`, or an `Instance` finding
    /// naming the task it ran in).
    EcsTask(EcsTaskRef),
    /// A workload on an EKS cluster (`resourceType: EKSCluster`, or an
    /// `Instance` finding naming the pod it ran in).
    EksWorkload(Box<EksWorkloadRef>),
    /// Anything else, with why.
    Unsupported { reason: String },
}

/// The task an ECS finding names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsTaskRef {
    pub cluster: String,
    pub task_arn: String,
    /// `service:NAME` or `family:NAME`.
    pub group: Option<String>,
    /// The container instance's EC2 instance (EC2 launch type), when the
    /// finding names it.
    pub instance: Option<InstanceId>,
    /// The images the finding names.
    pub images: Vec<String>,
}

/// The workload, user and binding an EKS finding names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EksWorkloadRef {
    pub cluster: String,
    /// The namespace of the workload or of the API call.
    pub namespace: Option<String>,
    /// The workload: its kind as the API path names it (`pods`,
    /// `deployments`, …) and its name.
    pub workload: Option<(String, String)>,
    /// The node's instance (runtime findings).
    pub node: Option<InstanceId>,
    /// The runtime's id of the container (runtime findings that name a
    /// container rather than its pod).
    pub container_id: Option<String>,
    /// The Kubernetes user who made the call, as the finding writes it.
    pub user: Option<String>,
    /// That user's IAM principal, when it maps to one.
    pub principal: Option<Box<Target>>,
    /// The role binding an RBAC finding is about.
    pub binding: Option<KubernetesBinding>,
}

/// A RoleBinding (with its namespace) or a ClusterRoleBinding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubernetesBinding {
    pub cluster_wide: bool,
    pub namespace: Option<String>,
    pub name: String,
}

impl KubernetesBinding {
    pub fn describe(&self) -> String {
        match (&self.namespace, self.cluster_wide) {
            (Some(ns), false) => format!("rolebinding {ns}/{}", self.name),
            _ => format!("clusterrolebinding {}", self.name),
        }
    }
}

/// A Kubernetes object name (DNS subdomain): 1–253 of lowercase letters,
/// digits, `-` and `.`, a letter or digit first and last.
pub fn is_kubernetes_name(name: &str) -> bool {
    let b = name.as_bytes();
    (1..=253).contains(&b.len())
        && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
        && b.first().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.last().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// A Kubernetes namespace (DNS label): as a name, at most 63, no `.`.
pub fn is_kubernetes_namespace(name: &str) -> bool {
    name.len() <= 63 && !name.contains('.') && is_kubernetes_name(name)
}

/// A container runtime's id: 12 to 128 lowercase hex digits.
pub fn is_container_id(id: &str) -> bool {
    (12..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// An ECS or EKS cluster name: 1–100 of letters, digits, `-` and `_`, a
/// letter or digit first.
pub fn is_cluster_name(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
}

/// An ECS task ARN: `arn:PARTITION:ecs:REGION:ACCOUNT:task/CLUSTER/ID`
/// (or the old `task/ID`), the id 32 hex digits or a UUID.
pub fn is_task_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_, partition, service, region, account, resource] = parts[..] else { return false };
    let id_ok = |id: &str| (id.len() == 32 || id.len() == 36) && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    arn_ == "arn"
        && partition.starts_with("aws")
        && service == "ecs"
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && match resource.strip_prefix("task/").map(|r| r.split('/').collect::<Vec<_>>()).as_deref() {
            Some([id]) => id_ok(id),
            Some([cluster, id]) => is_cluster_name(cluster) && id_ok(id),
            _ => false,
        }
}

/// The IAM principal a Kubernetes user name maps to on EKS: an IAM user's
/// ARN, an assumed role's (`arn:…:sts::ACCOUNT:assumed-role/ROLE/SESSION`),
/// or a role's with the finding's session name.
fn kubernetes_principal(username: &str, sessions: &[String]) -> Option<Target> {
    let rest = username.strip_prefix("arn:")?;
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    let [_, service, _, _, resource] = parts[..] else { return None };
    match (service, resource.split('/').collect::<Vec<_>>().as_slice()) {
        ("iam", ["user", name]) => iam_principal(Some("IAMUser"), name, None, None),
        ("sts", ["assumed-role", role, session]) => {
            iam_principal(Some("AssumedRole"), role, Some(&format!("AROA:{session}")), None)
        }
        ("iam", ["role", role]) => {
            let principal = sessions.first().map(|s| format!("AROA:{s}"));
            iam_principal(Some("AssumedRole"), role, principal.as_deref(), None)
        }
        _ => None,
    }
}

fn unsupported(what: &str, value: &str) -> Target {
    Target::Unsupported { reason: format!("{what} {:?} is not valid", crate::finding::truncate(value, 80)) }
}

/// The task of an ECS finding.
fn ecs_task(finding: &Finding) -> Target {
    let r = &finding.resource;
    let Some(cluster) = &r.ecs_cluster_details else {
        return Target::Unsupported { reason: "the finding has no ecsClusterDetails".into() };
    };
    let name = cluster.name.clone().unwrap_or_default();
    if !is_cluster_name(&name) {
        return unsupported("ECS cluster name", &name);
    }
    let Some(task) = &cluster.task_details else {
        return Target::Unsupported { reason: format!("the finding names cluster {name} but no task") };
    };
    let arn = task.arn.clone().unwrap_or_default();
    if !is_task_arn(&arn) {
        return unsupported("task ARN", &arn);
    }
    let mut images: Vec<String> = task.containers.iter().filter_map(|c| c.image.clone()).collect();
    images.extend(r.container_details.iter().filter_map(|c| c.image.clone()));
    images.sort();
    images.dedup();
    Target::EcsTask(EcsTaskRef {
        cluster: name,
        task_arn: arn,
        group: task.group.clone(),
        instance: r.instance_details.as_ref().and_then(|d| d.instance_id.clone()),
        images,
    })
}

/// The workload, user and binding of an EKS finding.
fn eks_workload(finding: &Finding) -> Target {
    let r = &finding.resource;
    let cluster = r
        .eks_cluster_details
        .as_ref()
        .and_then(|d| d.name.clone())
        .or_else(|| match node_of(finding) {
            Some(Node::Eks(c)) => Some(c),
            _ => None,
        })
        .unwrap_or_default();
    if !is_cluster_name(&cluster) {
        return unsupported("EKS cluster name", &cluster);
    }
    let k8s = r.kubernetes_details.as_ref();
    let call = finding.service.action.as_ref().and_then(|a| a.kubernetes_api_call_action.as_ref());
    let workload_details = k8s.and_then(|k| k.kubernetes_workload_details.as_ref());
    let namespace = workload_details
        .and_then(|w| w.namespace.clone())
        .or_else(|| call.and_then(|c| c.namespace.clone()))
        .filter(|n| !n.is_empty());
    if let Some(ns) = namespace.as_deref().filter(|n| !is_kubernetes_namespace(n)) {
        return unsupported("namespace", ns);
    }
    let workload = match workload_details.and_then(|w| w.name.clone().zip(w.r#type.clone())) {
        Some((name, kind)) if is_kubernetes_name(&name) => Some((kind.to_ascii_lowercase(), name)),
        Some((name, _)) => return unsupported("workload name", &name),
        None => None,
    };
    let user_details = k8s.and_then(|k| k.kubernetes_user_details.as_ref());
    let user = user_details.and_then(|u| u.username.clone());
    let principal = user_details
        .and_then(|u| kubernetes_principal(u.username.as_deref().unwrap_or_default(), &u.session_name))
        .map(Box::new);
    let binding_details = finding.service.action.as_ref().and_then(|a| a.kubernetes_role_binding_details.as_ref());
    let binding = match binding_details.and_then(|b| b.name.clone().map(|n| (b, n))) {
        Some((_, name)) if !is_kubernetes_name(&name) && !name.starts_with("system:") => {
            return unsupported("role binding name", &name);
        }
        Some((b, name)) => {
            let cluster_wide = b.kind.as_deref() == Some("ClusterRoleBinding");
            Some(KubernetesBinding {
                cluster_wide,
                namespace: if cluster_wide { None } else { namespace.clone() },
                name,
            })
        }
        None => None,
    };
    let container_id = r.container_details.as_ref().and_then(|c| c.id.clone()).filter(|id| is_container_id(id));
    Target::EksWorkload(Box::new(EksWorkloadRef {
        cluster,
        namespace,
        workload,
        node: r.instance_details.as_ref().and_then(|d| d.instance_id.clone()),
        container_id,
        user,
        principal,
        binding,
    }))
}

/// What a container host is, by the finding's tags and details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A node of this EKS cluster.
    Eks(String),
    /// A container instance of an ECS cluster (its name, when known).
    Ecs(Option<String>),
}

/// The container cluster an instance serves, by the tags EKS and ECS put on
/// their nodes (`eks:cluster-name`, `aws:eks:cluster-name`,
/// `kubernetes.io/cluster/NAME`, `AmazonECSManaged`) or the cluster details
/// of the finding.
pub fn node_by_tags<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Node> {
    let mut ecs = false;
    for (key, value) in tags {
        match key {
            "eks:cluster-name" | "aws:eks:cluster-name" if is_cluster_name(value) => {
                return Some(Node::Eks(value.to_owned()));
            }
            "AmazonECSManaged" => ecs = true,
            _ => {
                if let Some(name) = key.strip_prefix("kubernetes.io/cluster/").filter(|n| is_cluster_name(n)) {
                    return Some(Node::Eks(name.to_owned()));
                }
            }
        }
    }
    ecs.then_some(Node::Ecs(None))
}

/// [`node_by_tags`] on the finding's instance, or the cluster its details name.
pub fn node_of(finding: &Finding) -> Option<Node> {
    let r = &finding.resource;
    let tags = r.instance_details.iter().flat_map(|d| &d.tags).map(|t| (t.key.as_str(), t.value.as_str()));
    node_by_tags(tags)
        .or_else(|| r.eks_cluster_details.as_ref().and_then(|c| c.name.clone()).map(Node::Eks))
        .or_else(|| r.ecs_cluster_details.as_ref().map(|c| Node::Ecs(c.name.clone())))
}

/// For an `Instance` finding about a container host: the task or pod it
/// names, when it names one.
pub fn classify_node_workload(finding: &Finding) -> Option<Target> {
    let r = &finding.resource;
    if r.ecs_cluster_details.as_ref().is_some_and(|c| c.task_details.is_some()) {
        return Some(ecs_task(finding));
    }
    let names_workload = r.kubernetes_details.as_ref().is_some_and(|k| k.kubernetes_workload_details.is_some())
        || r.container_details.as_ref().and_then(|c| c.id.as_deref()).is_some_and(is_container_id);
    (names_workload && matches!(node_of(finding), Some(Node::Eks(_)))).then(|| eks_workload(finding))
}

/// What kind of shareable EC2 artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKind {
    Snapshot,
    Image,
}

impl ArtifactKind {
    pub fn name(self) -> &'static str {
        match self {
            ArtifactKind::Snapshot => "snapshot",
            ArtifactKind::Image => "image",
        }
    }
}

/// One object version in a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3ObjectRef {
    pub bucket: String,
    pub key: String,
    /// `None` for a bucket without versioning.
    pub version_id: Option<String>,
}

/// `snap-` or `ami-` and 8 or 17 lowercase hex digits.
pub fn is_artifact_id(kind: ArtifactKind, id: &str) -> bool {
    let prefix = match kind {
        ArtifactKind::Snapshot => "snap-",
        ArtifactKind::Image => "ami-",
    };
    id.strip_prefix(prefix).is_some_and(|hex| {
        matches!(hex.len(), 8 | 17) && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// An S3 object key: 1 to 1024 bytes, no control character.
pub fn is_object_key(key: &str) -> bool {
    (1..=1024).contains(&key.len()) && !key.chars().any(char::is_control)
}

/// A version id as S3 writes them: up to 1024 URL-safe characters.
pub fn is_version_id(id: &str) -> bool {
    (1..=1024).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-+=/".contains(&b))
}

/// The id at the end of an EC2 ARN (`arn:aws:ec2:REGION::snapshot/snap-…`),
/// or a bare id.
fn artifact(kind: ArtifactKind, arn: &str) -> Target {
    let id = arn.rsplit('/').next().unwrap_or_default();
    let wanted = match kind {
        ArtifactKind::Snapshot => "snapshot/",
        ArtifactKind::Image => "image/",
    };
    let shaped = !arn.starts_with("arn:") || arn.contains(&format!(":{wanted}"));
    if shaped && is_artifact_id(kind, id) {
        Target::Artifact { kind, id: id.to_owned() }
    } else {
        Target::Unsupported {
            reason: format!("{:?} is not an EC2 {} ARN", crate::finding::truncate(arn, 120), kind.name()),
        }
    }
}

/// The object versions of a Malware Protection for S3 finding.
fn s3_objects(finding: &Finding) -> Target {
    let mut objects = Vec::new();
    for bucket in &finding.resource.s3_bucket_details {
        let name = bucket.name.clone().unwrap_or_default();
        if !is_bucket_name(&name) {
            return Target::Unsupported {
                reason: format!("bucket name {:?} is not an S3 bucket name", crate::finding::truncate(&name, 80)),
            };
        }
        for object in &bucket.s3_object_details {
            let key = object.key.clone().unwrap_or_default();
            if !is_object_key(&key) {
                return Target::Unsupported {
                    reason: format!("object key {:?} is not an S3 key", crate::finding::truncate(&key, 80)),
                };
            }
            let version_id = object.version_id.clone().filter(|v| !v.is_empty() && v != "null");
            if let Some(v) = version_id.as_deref().filter(|v| !is_version_id(v)) {
                return Target::Unsupported {
                    reason: format!("version id {:?} is not an S3 version id", crate::finding::truncate(v, 80)),
                };
            }
            objects.push(S3ObjectRef { bucket: name.clone(), key, version_id });
        }
    }
    if objects.is_empty() {
        return Target::Unsupported { reason: "the finding names no object in s3BucketDetails".into() };
    }
    Target::S3Objects { objects }
}

/// An RDS instance or cluster identifier: 1–63 of letters, digits and `-`,
/// a letter first, no `--`, no `-` last.
pub fn is_db_identifier(id: &str) -> bool {
    let b = id.as_bytes();
    (1..=63).contains(&b.len())
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b.first().is_some_and(u8::is_ascii_alphabetic)
        && !id.ends_with('-')
        && !id.contains("--")
}

/// A Lambda function name: 1–64 of letters, digits, `-` and `_`.
pub fn is_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An S3 bucket name as S3 allows new ones: 3–63 of lowercase letters,
/// digits, `.` and `-`, a letter or digit first and last.
pub fn is_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && b.first().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.last().is_some_and(|c| c.is_ascii_alphanumeric())
        && !name.contains("..")
}

/// IAM user and role names: 1–64 of `[A-Za-z0-9+=,.@_-]`. A name with a path
/// or anything else is not one we will act on.
pub fn is_iam_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// An access key id as IAM's API defines it: 16–128 word characters
/// (`AKIA…`, `ASIA…`, and the placeholders of sample findings).
pub fn is_access_key_id(id: &str) -> bool {
    (16..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A CloudTrail trail name (3–128 of letters, digits, `.`, `_`, `-`; a
/// letter or digit first and last; no two of `._-` side by side; not an IP
/// address), or a trail's ARN whose last part is such a name.
pub fn is_trail_name_or_arn(text: &str) -> bool {
    match text.strip_prefix("arn:") {
        Some(rest) => {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let [partition, service, region, account, resource] = parts[..] else { return false };
            partition.starts_with("aws")
                && partition.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                && service == "cloudtrail"
                && !region.is_empty()
                && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource.strip_prefix("trail/").is_some_and(is_trail_name)
        }
        None => is_trail_name(text),
    }
}

fn is_trail_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let punct = |b: u8| b"._-".contains(&b);
    let is_ip =
        name.split('.').count() == 4 && name.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    (3..=128).contains(&bytes.len())
        && bytes.iter().all(|&b| b.is_ascii_alphanumeric() || punct(b))
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && !bytes.windows(2).any(|w| punct(w[0]) && punct(w[1]))
        && !is_ip
}

/// An IAM user's or an assumed role's credentials, when `kind` says which
/// and `name` is a plain IAM name: for a role, the session is what follows
/// `:` in `principal` (`AROA…:session`), and the instance whose role
/// credentials these are when the session is named after one. `None` for
/// anything else: the caller says why in its own terms.
fn iam_principal(
    kind: Option<&str>,
    name: &str,
    principal: Option<&str>,
    access_key_id: Option<String>,
) -> Option<Target> {
    match kind {
        Some("IAMUser") if is_iam_name(name) => Some(Target::IamUser { user_name: name.to_owned(), access_key_id }),
        Some("AssumedRole") if is_iam_name(name) => {
            let session_name =
                principal.and_then(|p| p.split_once(':')).map(|(_, s)| s.to_owned()).filter(|s| !s.is_empty());
            let source_instance = session_name.as_deref().and_then(|s| InstanceId::parse(s).ok());
            Some(Target::RoleSession { role_name: name.to_owned(), session_name, access_key_id, source_instance })
        }
        _ => None,
    }
}

/// The resources of an attack sequence (`ResourceV2`), each classified as
/// a finding about it alone would be: S3 buckets, EC2 instances, access
/// keys; any other kind as `Unsupported`.
fn sequence_resources(finding: &Finding) -> Vec<Target> {
    let resources = finding
        .service
        .detection
        .as_ref()
        .and_then(|d| d.get("sequence"))
        .and_then(|s| s.get("resources"))
        .and_then(serde_json::Value::as_array);
    let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(serde_json::Value::as_str).map(str::to_owned);
    resources
        .into_iter()
        .flatten()
        .map(|r| {
            let kind = text(r, "resourceType").unwrap_or_default();
            let name = text(r, "name").unwrap_or_default();
            let uid = text(r, "uid").unwrap_or_default();
            match kind.as_str() {
                "S3_BUCKET" => {
                    let bucket =
                        if name.is_empty() { uid.trim_start_matches("arn:aws:s3:::").to_owned() } else { name };
                    if is_bucket_name(&bucket) {
                        Target::S3Buckets { buckets: vec![bucket], caller: None }
                    } else {
                        Target::Unsupported {
                            reason: format!(
                                "bucket {:?} is not an S3 bucket name",
                                crate::finding::truncate(&bucket, 80)
                            ),
                        }
                    }
                }
                "EC2_INSTANCE" => {
                    let id = uid.rsplit('/').next().unwrap_or_default();
                    match InstanceId::parse(id).or_else(|_| InstanceId::parse(&name)) {
                        Ok(instance_id) => Target::Instance { instance_id, eni_hints: Vec::new() },
                        Err(_) => Target::Unsupported {
                            reason: format!("instance {:?} is not an instance id", crate::finding::truncate(&uid, 80)),
                        },
                    }
                }
                "ACCESS_KEY" => {
                    let key = r.get("data").and_then(|d| d.get("accessKey"));
                    let user = key.and_then(|k| text(k, "userName")).unwrap_or_default();
                    let id = Some(uid).filter(|u| is_access_key_id(u));
                    let kind = key.and_then(|k| text(k, "userType"));
                    let principal = key.and_then(|k| text(k, "principalId"));
                    iam_principal(kind.as_deref(), &user, principal.as_deref(), id).unwrap_or_else(|| {
                        Target::Unsupported { reason: "an access key of no IAM user or role".into() }
                    })
                }
                other => Target::Unsupported {
                    reason: format!(
                        "sequence resources of type {:?} are not contained",
                        crate::finding::truncate(other, 40)
                    ),
                },
            }
        })
        .collect()
}

/// The actors of an attack sequence, each classified by its credentials.
fn sequence_actors(finding: &Finding) -> Vec<Target> {
    let actors = finding
        .service
        .detection
        .as_ref()
        .and_then(|d| d.get("sequence"))
        .and_then(|s| s.get("actors"))
        .and_then(serde_json::Value::as_array);
    let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(serde_json::Value::as_str).map(str::to_owned);
    actors
        .into_iter()
        .flatten()
        .filter_map(|actor| actor.get("user"))
        .map(|user| {
            let name = text(user, "name").unwrap_or_default();
            let key = text(user, "credentialUid");
            if let Some(k) = key.as_deref().filter(|k| !is_access_key_id(k)) {
                return Target::Unsupported {
                    reason: format!("actor credential {:?} is not an access key id", crate::finding::truncate(k, 80)),
                };
            }
            let kind = text(user, "type");
            if let Some(principal) = iam_principal(kind.as_deref(), &name, text(user, "uid").as_deref(), key) {
                return principal;
            }
            match kind.as_deref() {
                Some("Root") => Target::Root,
                Some("Federated") => Target::Federated { principal_id: text(user, "uid") },
                other => Target::Unsupported {
                    reason: format!(
                        "actor {:?} of type {:?} is not an IAM user or role",
                        crate::finding::truncate(&name, 80),
                        other.map(|o| crate::finding::truncate(o, 40))
                    ),
                },
            }
        })
        .collect()
}

/// What an alert is about: the instance, user or role the finding names.
pub fn alert_resource(finding: &Finding) -> Option<String> {
    match classify(finding) {
        Target::Instance { instance_id, .. } => Some(instance_id.to_string()),
        Target::IamUser { user_name, .. } => Some(user_name),
        Target::RoleSession { role_name, .. } => Some(role_name),
        Target::Root => Some("root".into()),
        Target::Federated { principal_id } => principal_id,
        Target::S3Buckets { buckets, .. } if !buckets.is_empty() => Some(buckets.join(", ")),
        Target::LambdaFunction { function_name } => Some(function_name),
        Target::Database { instance_id, .. } => Some(instance_id),
        Target::Artifact { id, .. } => Some(id),
        Target::S3Objects { objects } => {
            Some(objects.iter().map(|o| format!("s3://{}/{}", o.bucket, o.key)).collect::<Vec<_>>().join(", "))
        }
        Target::EcsTask(task) => Some(task.task_arn),
        Target::EksWorkload(w) => Some(match &w.workload {
            Some((kind, name)) => format!("{}/{kind}/{name}", w.namespace.as_deref().unwrap_or("default")),
            None => format!("EKS cluster {}", w.cluster),
        }),
        Target::S3Buckets { caller, .. } => caller.and_then(|c| match *c {
            Target::IamUser { user_name, .. } => Some(user_name),
            Target::RoleSession { role_name, .. } => Some(role_name),
            _ => None,
        }),
        Target::AttackSequence { actors, .. } => {
            let names: Vec<String> = actors
                .into_iter()
                .filter_map(|a| match a {
                    Target::IamUser { user_name, .. } => Some(user_name),
                    Target::RoleSession { role_name, .. } => Some(role_name),
                    _ => None,
                })
                .collect();
            (!names.is_empty()).then(|| names.join(", "))
        }
        Target::Unsupported { .. } => None,
    }
}

pub fn classify(finding: &Finding) -> Target {
    let resource = &finding.resource;
    // Malware Protection for Backup and for S3 name what they scanned in
    // details of their own, whatever the resource type says.
    if resource.resource_type != "AttackSequence" {
        if let Some(arn) = resource.ebs_snapshot_details.as_ref().and_then(|d| d.snapshot_arn.as_deref()) {
            return artifact(ArtifactKind::Snapshot, arn);
        }
        if let Some(arn) = resource.ec2_image_details.as_ref().and_then(|d| d.image_arn.as_deref()) {
            return artifact(ArtifactKind::Image, arn);
        }
        if let Some(details) = &resource.recovery_point_details {
            // An EC2 or EBS recovery point is an AMI or a snapshot: shared,
            // and unshared, as one. Any other is shared through its vault.
            let arn = details.get("recoveryPointArn").and_then(serde_json::Value::as_str).unwrap_or_default();
            return if arn.starts_with("arn:") && arn.contains(":ec2:") && arn.contains(":image/") {
                artifact(ArtifactKind::Image, arn)
            } else if arn.starts_with("arn:") && arn.contains(":ec2:") && arn.contains(":snapshot/") {
                artifact(ArtifactKind::Snapshot, arn)
            } else {
                Target::Unsupported {
                    reason: "this recovery point is shared through its backup vault: review the vault's access policy and copies in AWS Backup".into(),
                }
            };
        }
        let has_objects = resource.s3_bucket_details.iter().any(|b| !b.s3_object_details.is_empty());
        if resource.resource_type == "S3Object"
            || (has_objects && finding.finding_type.as_str().starts_with("Object:S3/"))
        {
            return s3_objects(finding);
        }
    }
    match resource.resource_type.as_str() {
        "AttackSequence" => {
            Target::AttackSequence { actors: sequence_actors(finding), resources: sequence_resources(finding) }
        }
        "Instance" => {
            let Some(details) = &resource.instance_details else {
                return Target::Unsupported { reason: "the finding has no instanceDetails".into() };
            };
            let Some(instance_id) = details.instance_id.clone() else {
                return Target::Unsupported { reason: "the finding names no instance id".into() };
            };
            let eni_hints = details.network_interfaces.iter().filter_map(|n| n.network_interface_id.clone()).collect();
            Target::Instance { instance_id, eni_hints }
        }
        "S3Bucket" => {
            let names = resource.s3_bucket_details.iter().filter_map(|b| b.name.clone());
            let names: Vec<String> = names.filter(|n| !n.is_empty()).collect();
            if let Some(bad) = names.iter().find(|n| !is_bucket_name(n)) {
                return Target::Unsupported {
                    reason: format!("bucket name {:?} is not an S3 bucket name", crate::finding::truncate(bad, 80)),
                };
            }
            let caller = resource.access_key_details.as_ref().map(|_| Box::new(access_key_target(finding)));
            Target::S3Buckets { buckets: names, caller }
        }
        "AccessKey" => access_key_target(finding),
        "RDSDBInstance" => {
            let details = resource.rds_db_instance_details.as_ref();
            let id = details.and_then(|d| d.db_instance_identifier.clone()).unwrap_or_default();
            let cluster = details.and_then(|d| d.db_cluster_identifier.clone()).filter(|c| !c.is_empty());
            match cluster {
                _ if !is_db_identifier(&id) => Target::Unsupported {
                    reason: format!("{:?} is not an RDS instance identifier", crate::finding::truncate(&id, 80)),
                },
                Some(c) if !is_db_identifier(&c) => Target::Unsupported {
                    reason: format!("{:?} is not an RDS cluster identifier", crate::finding::truncate(&c, 80)),
                },
                cluster_id => Target::Database { instance_id: id, cluster_id },
            }
        }
        "ECSCluster" => ecs_task(finding),
        "EKSCluster" => eks_workload(finding),
        "Lambda" => {
            let name = resource.lambda_details.as_ref().and_then(|d| d.function_name.clone()).unwrap_or_default();
            if is_function_name(&name) {
                Target::LambdaFunction { function_name: name }
            } else {
                Target::Unsupported {
                    reason: format!(
                        "function name {:?} is not a Lambda function name",
                        crate::finding::truncate(&name, 80)
                    ),
                }
            }
        }
        other => Target::Unsupported {
            reason: format!("resource type {:?} is not handled", crate::finding::truncate(other, 40)),
        },
    }
}

/// The credentials `accessKeyDetails` names.
fn access_key_target(finding: &Finding) -> Target {
    let resource = &finding.resource;
    let Some(key) = &resource.access_key_details else {
        return Target::Unsupported { reason: "the finding has no accessKeyDetails".into() };
    };
    let name = key.user_name.clone().unwrap_or_default();
    if let Some(id) = key.access_key_id.as_deref().filter(|id| !is_access_key_id(id)) {
        return Target::Unsupported {
            reason: format!("accessKeyId {:?} is not an access key id", crate::finding::truncate(id, 80)),
        };
    }
    let kind = key.user_type.as_deref();
    if let Some(principal) = iam_principal(kind, &name, key.principal_id.as_deref(), key.access_key_id.clone()) {
        return principal;
    }
    match kind {
        Some("IAMUser" | "AssumedRole") => Target::Unsupported {
            reason: format!("userName {:?} is not a plain IAM name", crate::finding::truncate(&name, 80)),
        },
        Some("Root") => Target::Root,
        Some("Federated") => Target::Federated { principal_id: key.principal_id.clone() },
        Some(other) => Target::Unsupported {
            reason: format!("credentials of type {:?} are not handled", crate::finding::truncate(other, 40)),
        },
        None => Target::Unsupported { reason: "the finding names no userType".into() },
    }
}

#[cfg(test)]
mod tests {
    use super::is_iam_name;

    #[test]
    fn iam_names_exclude_paths_and_oddities() {
        assert!(is_iam_name("app-role_1+=,.@"));
        assert!(!is_iam_name(""));
        assert!(!is_iam_name("path/role"));
        assert!(!is_iam_name("rôle"));
        assert!(!is_iam_name(&"a".repeat(65)));
    }

    #[test]
    fn bucket_names_as_s3_allows_them() {
        use super::is_bucket_name as ok;
        for good in ["abc", "customer-exports", "logs.example.com", "a1-b2", &"a".repeat(63)] {
            assert!(ok(good), "{good}");
        }
        for bad in ["ab", "Upper", "-abc", "abc-", "a..b", "a_b", "a b", "bucket/../x", &"a".repeat(64)] {
            assert!(!ok(bad), "{bad}");
        }
    }

    #[test]
    fn trail_names_and_arns() {
        use super::is_trail_name_or_arn as ok;
        for good in ["management-events", "abc", "a.b_c-d", "arn:aws:cloudtrail:us-east-1:123456789012:trail/org.trail"]
        {
            assert!(ok(good), "{good}");
        }
        for bad in [
            "ab",
            "-abc",
            "abc-",
            "a..b",
            "a_-b",
            "10.0.0.1",
            "trail/../x",
            "name with space",
            "arn:aws:s3:us-east-1:123456789012:trail/x1y",
            "arn:aws:cloudtrail:us-east-1:12345678901:trail/abc",
            "arn:aws:cloudtrail:us-east-1:123456789012:bucket/abc",
        ] {
            assert!(!ok(bad), "{bad}");
        }
        assert!(!ok(&"a".repeat(129)));
    }
}
