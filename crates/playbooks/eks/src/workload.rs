//! Containing one pod through the Kubernetes API, and releasing it.
//!
//! Contain, in order, each step idempotent:
//!
//! 1. `describe-pod`: read the pod (kept for the evidence record). A pod
//!    whose labels or annotations carry the exemption label `true` is left
//!    alone.
//! 2. Dry run: every later step `planned`. Otherwise the gate is awaited:
//!    closed, every later step `skipped`.
//! 3. `label-pod`: the quarantine label (the finding id) and the finding
//!    annotation.
//! 4. `apply-network-policy`: one policy per namespace that denies all
//!    ingress and egress of the pods carrying the quarantine label.
//! 5. `cordon-node` (when asked): the pod's node unschedulable, annotated
//!    as the responder's; a node someone else cordoned is not marked.
//! 6. Per binding: `record-…` it in a ConfigMap, then `remove-…` it; never
//!    a binding of a `system:` or `eks:` subject or role, nor the
//!    responder's own.
//!
//! Release undoes each, and only what the responder did: the label and
//! annotation, the policy when no pod of the namespace is still
//! quarantined, the cordon when the node carries the responder's
//! annotation and holds no other quarantined pod, each binding from its
//! record (then the record).

use std::collections::BTreeMap;
use std::time::Instant;

use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement, ObjectMeta};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use responder_aws::failure::{AwsFailure, FailureKind};
use responder_aws::steps::{Execution, Held, NOT_CONFIRMED, StepResult, Timed, timed};
use responder_aws::verify::Gate;
use responder_core::StepStatus;
use serde_json::{Value, json};

use crate::failure::{already_exists, kube_failure};

/// On a pod: the finding it is quarantined for (a label value, at most 63 characters).
pub const QUARANTINE_LABEL: &str = "guardduty-responder/quarantine";
/// On a pod, and on a record: the full finding id.
pub const FINDING_ANNOTATION: &str = "guardduty-responder/finding-id";
/// On a node the responder cordoned: the finding it did so for.
pub const CORDONED_FOR: &str = "guardduty-responder/cordoned-for";
/// The deny-all policy, one per namespace.
pub const POLICY_NAME: &str = "guardduty-responder-quarantine";
/// What a removed binding's record is named after.
pub const RECORD_PREFIX: &str = "guardduty-responder-removed-";
/// The key of a record's binding, as JSON.
pub const RECORD_KEY: &str = "binding.json";
/// Where the records of cluster role bindings are kept.
pub const CLUSTER_RECORD_NAMESPACE: &str = "kube-system";
/// On everything the responder creates.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "guardduty-responder");
/// The Kubernetes group the responder's IAM role is mapped to (`infra/eks-rbac.yaml`).
pub const RESPONDER_GROUP: &str = "guardduty-responder";

/// Why the policy may not hold on its own.
pub const POLICY_ENGINE_NOTE: &str = "the quarantine NetworkPolicy is enforced only where the cluster runs a network \
     policy engine (on EKS: the VPC CNI's network policy agent, or Calico or Cilium)";

const NOT_RECORDED: &str = "not run: the record was not written";

/// What a containment run is asked to do.
#[derive(Debug, Clone)]
pub struct WorkloadJob<'a> {
    pub finding_id: &'a str,
    pub namespace: &'a str,
    pub pod: &'a str,
    /// The node the finding names; else the pod's `spec.nodeName`.
    pub node: Option<&'a str>,
    /// The bindings that gave the offending principal its access.
    pub bindings: Vec<BindingRef>,
    /// A pod whose labels or annotations set this to `true` is not touched.
    pub exempt_label: &'a str,
    pub dry_run: bool,
    pub cordon_node: bool,
    /// Opens when GuardDuty has confirmed the finding; no change before.
    pub gate: Gate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum BindingKind {
    RoleBinding,
    ClusterRoleBinding,
}

impl BindingKind {
    /// The step names' form: `role-binding`, `cluster-role-binding`.
    pub fn kebab(self) -> &'static str {
        match self {
            BindingKind::RoleBinding => "role-binding",
            BindingKind::ClusterRoleBinding => "cluster-role-binding",
        }
    }

    fn short(self) -> &'static str {
        match self {
            BindingKind::RoleBinding => "rb",
            BindingKind::ClusterRoleBinding => "crb",
        }
    }

    fn api_resource(self) -> ApiResource {
        match self {
            BindingKind::RoleBinding => ApiResource::erase::<RoleBinding>(&()),
            BindingKind::ClusterRoleBinding => ApiResource::erase::<ClusterRoleBinding>(&()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct BindingRef {
    pub kind: BindingKind,
    /// A role binding's namespace (the pod's when absent); none for a cluster role binding.
    pub namespace: Option<String>,
    pub name: String,
}

impl BindingRef {
    fn namespace_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.namespace.as_deref().unwrap_or(default)
    }

    /// The report's target: `namespace/name`, or the name of a cluster binding.
    fn target(&self, default_namespace: &str) -> String {
        match self.kind {
            BindingKind::RoleBinding => format!("{}/{}", self.namespace_or(default_namespace), self.name),
            BindingKind::ClusterRoleBinding => self.name.clone(),
        }
    }

    fn api(&self, client: &kube::Client, default_namespace: &str) -> Api<DynamicObject> {
        let resource = self.kind.api_resource();
        match self.kind {
            BindingKind::RoleBinding => {
                Api::namespaced_with(client.clone(), self.namespace_or(default_namespace), &resource)
            }
            BindingKind::ClusterRoleBinding => Api::all_with(client.clone(), &resource),
        }
    }

    /// Where its record is kept.
    fn record_namespace<'a>(&'a self, default_namespace: &'a str) -> &'a str {
        match self.kind {
            BindingKind::RoleBinding => self.namespace_or(default_namespace),
            BindingKind::ClusterRoleBinding => CLUSTER_RECORD_NAMESPACE,
        }
    }
}

/// The name of the ConfigMap that records a removed binding: the binding's
/// own name when it is a valid one, else a cleaned, shortened form with a
/// hash of the original, so two bindings never share a record.
pub fn record_name(kind: BindingKind, name: &str) -> String {
    let prefix = format!("{RECORD_PREFIX}{}-", kind.short());
    let room = 253 - prefix.len();
    let cleaned: String = name
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' { c } else { '-' })
        .collect();
    let valid = cleaned == name && !name.is_empty() && name.len() <= room && !name.ends_with('-');
    if valid {
        return format!("{prefix}{name}");
    }
    let hash = format!("{:08x}", fnv1a(name.as_bytes()));
    let head: String = cleaned.chars().take(room - hash.len() - 1).collect();
    let head = head.trim_end_matches('-');
    if head.is_empty() { format!("{prefix}{hash}") } else { format!("{prefix}{head}-{hash}") }
}

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

/// `value` as a valid label value: at most 63 of `[A-Za-z0-9._-]`, starting and ending alphanumeric.
pub fn label_value(value: &str) -> String {
    let kept: String =
        value.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).take(63).collect();
    let trimmed = kept.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() { "unknown".to_owned() } else { trimmed.to_owned() }
}

/// A name the responder never removes a binding for: Kubernetes' and EKS's own.
fn protected_name(name: &str) -> bool {
    name.starts_with("system:") || name.starts_with("eks:")
}

/// Why a binding must stay, from its name alone.
fn protected_by_name(binding: &BindingRef) -> Option<String> {
    if protected_name(&binding.name) {
        return Some(format!("{} is a Kubernetes or EKS system binding: never removed", binding.name));
    }
    if binding.name == RESPONDER_GROUP {
        return Some(format!("{} is the responder's own binding: never removed", binding.name));
    }
    None
}

/// Why a binding must stay, from its content: a system role or subject,
/// or the responder's own group.
fn protected_by_content(binding: &DynamicObject) -> Option<String> {
    let role = binding.data.pointer("/roleRef/name").and_then(Value::as_str).unwrap_or_default();
    if protected_name(role) {
        return Some(format!("it grants the system role {role}: never removed"));
    }
    let subjects = binding.data.get("subjects").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for subject in subjects {
        let name = subject.get("name").and_then(Value::as_str).unwrap_or_default();
        if protected_name(name) {
            return Some(format!("it binds the system subject {name}: never removed"));
        }
        if name == RESPONDER_GROUP {
            return Some(format!("it binds the responder's own group {name}: never removed"));
        }
    }
    None
}

/// The binding as it can be created again: no server-set metadata.
fn restorable(binding: &DynamicObject) -> DynamicObject {
    let mut clean = binding.clone();
    let m = &mut clean.metadata;
    m.uid = None;
    m.resource_version = None;
    m.managed_fields = None;
    m.creation_timestamp = None;
    m.generation = None;
    m.self_link = None;
    m.deletion_timestamp = None;
    m.deletion_grace_period_seconds = None;
    clean
}

/// The deny-all policy for the quarantined pods of `namespace`.
pub fn quarantine_policy(namespace: &str) -> NetworkPolicy {
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(POLICY_NAME.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([(MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned())])),
            ..ObjectMeta::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: QUARANTINE_LABEL.to_owned(),
                    operator: "Exists".to_owned(),
                    values: None,
                }]),
                match_labels: None,
            }),
            policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
            ingress: None,
            egress: None,
        }),
    }
}

/// Whether `spec` denies all traffic of exactly the quarantined pods.
fn is_quarantine(spec: Option<&NetworkPolicySpec>) -> bool {
    let Some(spec) = spec else { return false };
    let selects = spec.pod_selector.as_ref().is_some_and(|s| {
        s.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
            && s.match_expressions.as_deref().is_some_and(|e| {
                matches!(e, [r] if r.key == QUARANTINE_LABEL && r.operator == "Exists"
                    && r.values.as_ref().is_none_or(Vec::is_empty))
            })
    });
    let mut types: Vec<&str> = spec.policy_types.iter().flatten().map(String::as_str).collect();
    types.sort_unstable();
    selects
        && types == ["Egress", "Ingress"]
        && spec.ingress.as_ref().is_none_or(Vec::is_empty)
        && spec.egress.as_ref().is_none_or(Vec::is_empty)
}

fn is_true(map: Option<&BTreeMap<String, String>>, key: &str) -> bool {
    map.and_then(|m| m.get(key)).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// What the evidence record keeps of the pod: who it is, where it runs,
/// what it runs and with which identity (not its environment).
fn pod_summary(pod: &Pod) -> Value {
    let mut metadata = pod.metadata.clone();
    metadata.managed_fields = None;
    let spec = pod.spec.as_ref();
    let containers: Vec<Value> = spec
        .map(|s| s.containers.iter().chain(s.init_containers.iter().flatten()))
        .into_iter()
        .flatten()
        .map(|c| json!({ "name": c.name, "image": c.image, "securityContext": c.security_context, "ports": c.ports }))
        .collect();
    json!({
        "metadata": metadata,
        "spec": {
            "nodeName": spec.and_then(|s| s.node_name.as_ref()),
            "serviceAccountName": spec.and_then(|s| s.service_account_name.as_ref()),
            "automountServiceAccountToken": spec.and_then(|s| s.automount_service_account_token),
            "hostNetwork": spec.and_then(|s| s.host_network),
            "hostPID": spec.and_then(|s| s.host_pid),
            "hostIPC": spec.and_then(|s| s.host_ipc),
            "securityContext": spec.and_then(|s| s.security_context.as_ref()),
            "containers": containers,
        },
        "status": pod.status.as_ref().map(|s| json!({
            "phase": s.phase,
            "podIP": s.pod_ip,
            "hostIP": s.host_ip,
            "startTime": s.start_time,
            "containerStatuses": s.container_statuses.iter().flatten()
                .map(|c| json!({ "name": c.name, "imageID": c.image_id, "containerID": c.container_id }))
                .collect::<Vec<_>>(),
        })),
    })
}

/// A change contain may make.
#[derive(Debug)]
struct Change {
    action: String,
    target: String,
    detail: String,
    /// Why it must not be made, known before anything is read.
    refused: Option<String>,
}

fn changes(job: &WorkloadJob<'_>, pod_target: &str, node: Option<&str>) -> Vec<Change> {
    let change = |action: &str, target: String, detail: &str| Change {
        action: action.to_owned(),
        target,
        detail: detail.to_owned(),
        refused: None,
    };
    let mut all = vec![
        change("label-pod", pod_target.to_owned(), "label the pod as quarantined"),
        change(
            "apply-network-policy",
            format!("{}/{POLICY_NAME}", job.namespace),
            "deny all ingress and egress of quarantined pods",
        ),
    ];
    if job.cordon_node {
        all.push(change("cordon-node", node.unwrap_or("?").to_owned(), "mark the node unschedulable"));
    }
    for b in &job.bindings {
        let target = b.target(job.namespace);
        let refused = protected_by_name(b);
        if refused.is_none() {
            all.push(change(
                &format!("record-{}", b.kind.kebab()),
                target.clone(),
                "record the binding in a ConfigMap",
            ));
        }
        all.push(Change { refused, ..change(&format!("remove-{}", b.kind.kebab()), target, "delete the binding") });
    }
    all
}

/// Contains the pod `job` names. See the module's documentation.
pub async fn contain(client: &kube::Client, job: &WorkloadJob<'_>) -> Execution {
    let mut run = Execution::default();
    let pods: Api<Pod> = Api::namespaced(client.clone(), job.namespace);
    let pod_target = format!("{}/{}", job.namespace, job.pod);
    let started = Instant::now();
    let read = pods.get(job.pod).await.map_err(kube_failure);
    let took = Some(started.elapsed());
    let pod = match read {
        Ok(pod) => pod,
        Err(f) => {
            run.log.push("describe-pod", &pod_target, Timed { result: Err(f), took });
            return run;
        }
    };
    let labels = pod.metadata.labels.as_ref();
    if is_true(labels, job.exempt_label) || is_true(pod.metadata.annotations.as_ref(), job.exempt_label) {
        run.skipped = Some(format!("pod {pod_target} carries the exemption label {}=true", job.exempt_label));
        return run;
    }
    let node = job.node.or(pod.spec.as_ref().and_then(|s| s.node_name.as_deref()));
    let described = format!(
        "on node {}, service account {}",
        node.unwrap_or("(none: not scheduled)"),
        pod.spec.as_ref().and_then(|s| s.service_account_name.as_deref()).unwrap_or("default")
    );
    run.log.push("describe-pod", &pod_target, Timed { result: Ok(Held::done(described)), took });
    run.keep("pod", pod_summary(&pod));

    let planned = changes(job, &pod_target, node);
    if job.dry_run || job.gate.clone().await.is_err() {
        let (status, why) =
            if job.dry_run { (StepStatus::Planned, None) } else { (StepStatus::Skipped, Some(NOT_CONFIRMED)) };
        for c in &planned {
            match &c.refused {
                Some(reason) => run.log.push_status(&c.action, &c.target, StepStatus::Skipped, reason.clone()),
                None => run.log.push_status(&c.action, &c.target, status, why.unwrap_or(&c.detail)),
            }
        }
        return run;
    }

    let labelled = timed(label_pod(&pods, &pod, job.finding_id)).await;
    run.log.push("label-pod", &pod_target, labelled);

    let policy = timed(apply_policy(client, job.namespace)).await;
    run.log.push("apply-network-policy", &format!("{}/{POLICY_NAME}", job.namespace), policy);
    run.notes.push(POLICY_ENGINE_NOTE.to_owned());

    if job.cordon_node {
        match node {
            Some(node) => {
                let cordoned = timed(cordon(client, node, job.finding_id)).await;
                run.log.push("cordon-node", node, cordoned);
            }
            None => run.log.push_status(
                "cordon-node",
                "?",
                StepStatus::Skipped,
                "the pod is on no node and the finding names none",
            ),
        }
    }

    for b in &job.bindings {
        remove_binding(client, &mut run, job, b).await;
    }
    run
}

async fn label_pod(pods: &Api<Pod>, pod: &Pod, finding_id: &str) -> StepResult {
    let value = label_value(finding_id);
    if let Some(existing) = pod.metadata.labels.as_ref().and_then(|l| l.get(QUARANTINE_LABEL)) {
        let detail = if *existing == value {
            format!("labelled {QUARANTINE_LABEL}={existing}")
        } else {
            format!("already quarantined for another finding ({QUARANTINE_LABEL}={existing})")
        };
        return Ok(Held::already(detail));
    }
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let patch = json!({
        "metadata": {
            "labels": { QUARANTINE_LABEL: value },
            "annotations": { FINDING_ANNOTATION: finding_id },
        }
    });
    pods.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(kube_failure)?;
    Ok(Held::done(format!("labelled {QUARANTINE_LABEL}={value}")))
}

async fn apply_policy(client: &kube::Client, namespace: &str) -> StepResult {
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), namespace);
    let desired = quarantine_policy(namespace);
    let created = policies.create(&PostParams::default(), &desired).await.map_err(kube_failure);
    match created {
        Ok(_) => Ok(Held::done("created: denies all ingress and egress of the quarantined pods")),
        Err(f) if already_exists(&f) => {
            let mut existing = policies.get(POLICY_NAME).await.map_err(kube_failure)?;
            if is_quarantine(existing.spec.as_ref()) {
                return Ok(Held::already("in place"));
            }
            existing.spec = desired.spec;
            existing.metadata.labels.get_or_insert_default().insert(MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned());
            policies.replace(POLICY_NAME, &PostParams::default(), &existing).await.map_err(kube_failure)?;
            Ok(Held::done("replaced a policy of the same name whose rules differed"))
        }
        Err(f) => Err(f),
    }
}

async fn cordon(client: &kube::Client, name: &str, finding_id: &str) -> StepResult {
    let nodes: Api<Node> = Api::all(client.clone());
    let node = nodes.get(name).await.map_err(kube_failure)?;
    let ours = node.metadata.annotations.as_ref().and_then(|a| a.get(CORDONED_FOR));
    if node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false) {
        return Ok(Held::already(match ours {
            Some(finding) => format!("cordoned by the responder for finding {finding}"),
            None => "already cordoned, not by the responder: left as it is".to_owned(),
        }));
    }
    let patch = json!({
        "metadata": { "annotations": { CORDONED_FOR: finding_id } },
        "spec": { "unschedulable": true },
    });
    nodes.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(kube_failure)?;
    Ok(Held::done("unschedulable; its pods keep running"))
}

/// Records, then removes, one binding: two steps, or one when there is
/// nothing to remove or it must stay.
async fn remove_binding(client: &kube::Client, run: &mut Execution, job: &WorkloadJob<'_>, b: &BindingRef) {
    let target = b.target(job.namespace);
    let (record_action, remove_action) = (format!("record-{}", b.kind.kebab()), format!("remove-{}", b.kind.kebab()));
    if let Some(reason) = protected_by_name(b) {
        run.log.push_status(&remove_action, &target, StepStatus::Skipped, reason);
        return;
    }
    let api = b.api(client, job.namespace);
    let started = Instant::now();
    let read = api.get_opt(&b.name).await.map_err(kube_failure);
    let took = Some(started.elapsed());
    let binding = match read {
        Ok(Some(binding)) => binding,
        Ok(None) => {
            run.log.push(&remove_action, &target, Timed { result: Ok(Held::already("not there")), took });
            return;
        }
        Err(f) => {
            run.log.push(&record_action, &target, Timed { result: Err(f), took });
            run.log.push_status(&remove_action, &target, StepStatus::Skipped, NOT_RECORDED);
            return;
        }
    };
    let content = restorable(&binding);
    run.keep(format!("{}/{target}", b.kind.kebab()), &content);
    if let Some(reason) = protected_by_content(&binding) {
        run.log.push_status(&remove_action, &target, StepStatus::Skipped, format!("{target}: {reason}"));
        return;
    }
    let recorded = timed(record(client, job, b, &content)).await;
    let ok = recorded.is_ok();
    run.log.push(&record_action, &target, recorded);
    if !ok {
        run.log.push_status(&remove_action, &target, StepStatus::Skipped, NOT_RECORDED);
        return;
    }
    let removed = timed(async {
        match api.delete(&b.name, &DeleteParams::default()).await.map_err(kube_failure) {
            Ok(_) => Ok(Held::done(format!("deleted; recorded in {}", record_name(b.kind, &b.name)))),
            Err(f) if f.kind == FailureKind::NotFound => Ok(Held::already("gone already")),
            Err(f) => Err(f),
        }
    })
    .await;
    run.log.push(&remove_action, &target, removed);
}

async fn record(client: &kube::Client, job: &WorkloadJob<'_>, b: &BindingRef, content: &DynamicObject) -> StepResult {
    let namespace = b.record_namespace(job.namespace);
    let name = record_name(b.kind, &b.name);
    let json = serde_json::to_string(content)
        .map_err(|e| AwsFailure::rejected(format!("the binding could not be written as JSON: {e}")))?;
    let map = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([
                (MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned()),
                (FINDING_ANNOTATION.to_owned(), label_value(job.finding_id)),
            ])),
            annotations: Some(BTreeMap::from([(FINDING_ANNOTATION.to_owned(), job.finding_id.to_owned())])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(RECORD_KEY.to_owned(), json)])),
        ..ConfigMap::default()
    };
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    match maps.create(&PostParams::default(), &map).await.map_err(kube_failure) {
        Ok(_) => Ok(Held::done(format!("recorded in ConfigMap {namespace}/{name}"))),
        // An earlier run's record is what was there first: never overwritten.
        Err(f) if already_exists(&f) => Ok(Held::already(format!("recorded by an earlier run in {namespace}/{name}"))),
        Err(f) => Err(f),
    }
}

/// Undoes what contain did to the pod `namespace`/`pod`: see the module's
/// documentation. `node` is the node contain cordoned; else the pod's.
pub async fn release(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    node: Option<&str>,
    bindings: &[BindingRef],
) -> Execution {
    let mut run = Execution::default();
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let pod_target = format!("{namespace}/{pod}");

    let mut pod_node = None;
    let unlabelled = timed(async {
        let Some(live) = pods.get_opt(pod).await.map_err(kube_failure)? else {
            return Ok(Held::already("the pod is gone"));
        };
        pod_node = live.spec.as_ref().and_then(|s| s.node_name.clone());
        let labelled = live.metadata.labels.as_ref().is_some_and(|l| l.contains_key(QUARANTINE_LABEL));
        let annotated = live.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(FINDING_ANNOTATION));
        if !labelled && !annotated {
            return Ok(Held::already("not labelled"));
        }
        let patch = json!({
            "metadata": {
                "labels": { QUARANTINE_LABEL: null },
                "annotations": { FINDING_ANNOTATION: null },
            }
        });
        match pods.patch(pod, &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(kube_failure) {
            Ok(_) => Ok(Held::done("label and annotation removed")),
            Err(f) if f.kind == FailureKind::NotFound => Ok(Held::already("the pod is gone")),
            Err(f) => Err(f),
        }
    })
    .await;
    run.log.push("unlabel-pod", &pod_target, unlabelled);

    let policy = timed(remove_policy(client, namespace)).await;
    run.log.push("remove-network-policy", &format!("{namespace}/{POLICY_NAME}"), policy);

    match node.map(str::to_owned).or(pod_node) {
        Some(node) => {
            let uncordoned = timed(uncordon(client, &node)).await;
            run.log.push("uncordon-node", &node, uncordoned);
        }
        None => run.log.push_status(
            "uncordon-node",
            "?",
            StepStatus::Skipped,
            format!("no node is known: if the responder cordoned one, it carries the annotation {CORDONED_FOR}"),
        ),
    }

    for b in bindings {
        restore_binding(client, &mut run, namespace, b).await;
    }
    run
}

async fn remove_policy(client: &kube::Client, namespace: &str) -> StepResult {
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), namespace);
    let Some(policy) = policies.get_opt(POLICY_NAME).await.map_err(kube_failure)? else {
        return Ok(Held::already("no policy"));
    };
    if !is_managed(&policy.metadata) {
        return Ok(Held::already("not the responder's: left as it is"));
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let quarantined = pods.list(&ListParams::default().labels(QUARANTINE_LABEL)).await.map_err(kube_failure)?;
    let names: Vec<&str> = quarantined.items.iter().filter_map(|p| p.metadata.name.as_deref()).collect();
    if !names.is_empty() {
        return Ok(Held::already(format!("kept: it still isolates {}", names.join(", "))));
    }
    match policies.delete(POLICY_NAME, &DeleteParams::default()).await.map_err(kube_failure) {
        Ok(_) => Ok(Held::done("deleted: no pod of the namespace is quarantined")),
        Err(f) if f.kind == FailureKind::NotFound => Ok(Held::already("no policy")),
        Err(f) => Err(f),
    }
}

fn is_managed(metadata: &ObjectMeta) -> bool {
    metadata.labels.as_ref().and_then(|l| l.get(MANAGED_BY.0)).is_some_and(|v| v == MANAGED_BY.1)
}

async fn uncordon(client: &kube::Client, name: &str) -> StepResult {
    let nodes: Api<Node> = Api::all(client.clone());
    let Some(node) = nodes.get_opt(name).await.map_err(kube_failure)? else {
        return Ok(Held::already("the node is gone"));
    };
    let unschedulable = node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false);
    if node.metadata.annotations.as_ref().and_then(|a| a.get(CORDONED_FOR)).is_none() {
        return Ok(Held::already(if unschedulable {
            "cordoned by someone else, not the responder: left cordoned"
        } else {
            "schedulable"
        }));
    }
    let pods: Api<Pod> = Api::all(client.clone());
    let on_node = ListParams::default().labels(QUARANTINE_LABEL).fields(&format!("spec.nodeName={name}"));
    let still = pods.list(&on_node).await.map_err(kube_failure)?;
    let names: Vec<String> = still
        .items
        .iter()
        .map(|p| {
            format!("{}/{}", p.metadata.namespace.as_deref().unwrap_or(""), p.metadata.name.as_deref().unwrap_or(""))
        })
        .collect();
    if !names.is_empty() {
        return Ok(Held::already(format!("kept cordoned: it still runs quarantined {}", names.join(", "))));
    }
    let patch = json!({
        "metadata": { "annotations": { CORDONED_FOR: null } },
        "spec": { "unschedulable": null },
    });
    nodes.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(kube_failure)?;
    Ok(Held::done("schedulable again"))
}

async fn restore_binding(client: &kube::Client, run: &mut Execution, namespace: &str, b: &BindingRef) {
    let target = b.target(namespace);
    let kebab = b.kind.kebab();
    let record_namespace = b.record_namespace(namespace);
    let name = record_name(b.kind, &b.name);
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), record_namespace);
    // No record, or one that differs from the binding found: the record stays.
    let mut keep_record = false;
    let restored = timed(async {
        let Some(map) = maps.get_opt(&name).await.map_err(kube_failure)? else {
            keep_record = true;
            return Ok(Held::already("no record of a removal: nothing to restore"));
        };
        let json = map.data.as_ref().and_then(|d| d.get(RECORD_KEY)).ok_or_else(|| {
            AwsFailure::rejected(format!("the record {record_namespace}/{name} holds no {RECORD_KEY}"))
        })?;
        let recorded: DynamicObject = serde_json::from_str(json).map_err(|e| {
            AwsFailure::rejected(format!("the record {record_namespace}/{name} is not a binding: {e}"))
        })?;
        let api = b.api(client, namespace);
        if let Some(live) = api.get_opt(&b.name).await.map_err(kube_failure)? {
            if ["roleRef", "subjects"].iter().all(|k| live.data.get(k) == recorded.data.get(k)) {
                return Ok(Held::already("exists again"));
            }
            keep_record = true;
            return Ok(Held::already(format!(
                "exists again, with another role or other subjects than recorded: the record {record_namespace}/{name} is kept"
            )));
        }
        match api.create(&PostParams::default(), &restorable(&recorded)).await.map_err(kube_failure) {
            Ok(_) => Ok(Held::done(format!("re-created from {record_namespace}/{name}"))),
            Err(f) if already_exists(&f) => Ok(Held::already("exists again")),
            Err(f) => Err(f),
        }
    })
    .await;
    let ok = restored.is_ok();
    run.log.push(&format!("restore-{kebab}"), &target, restored);
    if !ok || keep_record {
        return;
    }
    let removed = timed(async {
        match maps.delete(&name, &DeleteParams::default()).await.map_err(kube_failure) {
            Ok(_) => Ok(Held::done("deleted")),
            Err(f) if f.kind == FailureKind::NotFound => Ok(Held::already("gone already")),
            Err(f) => Err(f),
        }
    })
    .await;
    run.log.push(&format!("remove-{kebab}-record"), &format!("{record_namespace}/{name}"), removed);
}

/// For an RBAC finding that names no pod: each binding recorded, then
/// removed, as [`contain`] does it beside a pod.
pub async fn contain_bindings(
    client: &kube::Client,
    finding_id: &str,
    bindings: &[BindingRef],
    dry_run: bool,
    gate: Gate,
) -> Execution {
    let mut run = Execution::default();
    let namespace = bindings.iter().find_map(|b| b.namespace.clone()).unwrap_or_else(|| "default".to_owned());
    let job = WorkloadJob {
        finding_id,
        namespace: &namespace,
        pod: "",
        node: None,
        bindings: bindings.to_vec(),
        exempt_label: "",
        dry_run,
        cordon_node: false,
        gate: gate.clone(),
    };
    if dry_run || gate.await.is_err() {
        let (status, detail) = if dry_run {
            (StepStatus::Planned, "record it, then remove it")
        } else {
            (StepStatus::Skipped, NOT_CONFIRMED)
        };
        for b in bindings {
            let target = b.target(&namespace);
            run.log.push_status(&format!("remove-{}", b.kind.kebab()), &target, status, detail);
        }
        return run;
    }
    for b in bindings {
        remove_binding(client, &mut run, &job, b).await;
    }
    run
}

/// Re-creates bindings contain removed, from their records.
pub async fn release_bindings(client: &kube::Client, bindings: &[BindingRef]) -> Execution {
    let mut run = Execution::default();
    for b in bindings {
        let namespace = b.namespace.clone().unwrap_or_else(|| "default".to_owned());
        restore_binding(client, &mut run, &namespace, b).await;
    }
    run
}

/// The pod (namespace, name) that runs the container with this runtime id
/// (`containerd://ID` in the pod's status), in any namespace.
pub async fn find_pod(client: &kube::Client, container_id: &str) -> Result<Option<(String, String)>, AwsFailure> {
    let pods: Api<Pod> = Api::all(client.clone());
    let listed = pods.list(&ListParams::default()).await.map_err(kube_failure)?;
    let runs = |p: &Pod| {
        let status = p.status.as_ref();
        let all = status
            .into_iter()
            .flat_map(|s| s.container_statuses.iter().flatten().chain(s.init_container_statuses.iter().flatten()));
        all.filter_map(|c| c.container_id.as_deref()).any(|id| id.rsplit("://").next() == Some(container_id))
    };
    Ok(listed.items.iter().find(|p| runs(p)).and_then(|p| {
        Some((p.metadata.namespace.clone().unwrap_or_else(|| "default".to_owned()), p.metadata.name.clone()?))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_names_are_valid_and_distinct() {
        assert_eq!(record_name(BindingKind::RoleBinding, "dev-admin"), "guardduty-responder-removed-rb-dev-admin");
        assert_eq!(record_name(BindingKind::ClusterRoleBinding, "x"), "guardduty-responder-removed-crb-x");
        let a = record_name(BindingKind::RoleBinding, "Dev:Admin");
        let b = record_name(BindingKind::RoleBinding, "dev-admin");
        assert_ne!(a, b);
        assert!(a.starts_with("guardduty-responder-removed-rb-dev-admin-"), "{a}");
        let long = record_name(BindingKind::ClusterRoleBinding, &"a".repeat(300));
        assert!(long.len() <= 253, "{}", long.len());
        for name in
            [a, b, long, record_name(BindingKind::RoleBinding, "..."), record_name(BindingKind::RoleBinding, "x-")]
        {
            assert!(name.len() <= 253);
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{name}");
            assert!(name.ends_with(|c: char| c.is_ascii_alphanumeric()), "{name}");
        }
    }

    #[test]
    fn label_values_are_valid() {
        assert_eq!(label_value("abc123"), "abc123");
        assert_eq!(label_value(&"f".repeat(80)).len(), 63);
        assert_eq!(label_value("-a/b:c-"), "abc");
        assert_eq!(label_value("///"), "unknown");
    }

    #[test]
    fn quarantine_policy_is_recognised() {
        let policy = quarantine_policy("ns");
        assert!(is_quarantine(policy.spec.as_ref()));
        let mut open = policy.spec.clone().unwrap();
        open.policy_types = Some(vec!["Ingress".into()]);
        assert!(!is_quarantine(Some(&open)));
        let mut other = policy.spec.clone().unwrap();
        other.pod_selector = Some(LabelSelector::default());
        assert!(!is_quarantine(Some(&other)));
        assert!(!is_quarantine(None));
    }

    #[test]
    fn system_bindings_are_protected() {
        let by_name = |name: &str| {
            protected_by_name(&BindingRef { kind: BindingKind::ClusterRoleBinding, namespace: None, name: name.into() })
        };
        assert!(by_name("system:masters").is_some());
        assert!(by_name("eks:node-bootstrapper").is_some());
        assert!(by_name("guardduty-responder").is_some());
        assert!(by_name("dev-admin").is_none());
        let binding = |data: Value| DynamicObject { types: None, metadata: ObjectMeta::default(), data };
        let subject =
            |name: &str| json!({ "roleRef": { "name": "edit" }, "subjects": [{ "kind": "Group", "name": name }] });
        assert!(protected_by_content(&binding(subject("system:masters"))).is_some());
        assert!(protected_by_content(&binding(subject("system:nodes"))).is_some());
        assert!(protected_by_content(&binding(subject("guardduty-responder"))).is_some());
        assert!(protected_by_content(&binding(subject("attacker"))).is_none());
        assert!(protected_by_content(&binding(json!({ "roleRef": { "name": "system:controller:x" } }))).is_some());
    }
}
