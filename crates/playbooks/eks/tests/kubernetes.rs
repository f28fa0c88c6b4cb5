//! Containing and releasing a pod against a fake Kubernetes API server
//! (`fake`), asserting the exact requests each run makes; the client as
//! `connect` builds it from `DescribeCluster`, against SDK mocks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fake;

use fake::{FakeApi, status};
use responder_aws::failure::{AwsFailure, FailureKind};
use responder_aws::steps::{Execution, NOT_CONFIRMED};
use responder_aws::verify::{Closed, closed_gate, open_gate};
use responder_core::StepStatus;
use responder_eks::workload::{CORDONED_FOR, FINDING_ANNOTATION, POLICY_ENGINE_NOTE, QUARANTINE_LABEL};
use responder_eks::{BindingKind, BindingRef, WorkloadJob, contain, release};
use serde_json::{Value, json};

const FINDING: &str = "6ac6b2fd7d9e4e3a8c3f0c2b1d4e5f60";
const POD: &str = "/api/v1/namespaces/shop/pods/web-7d4b9";
const PODS: &str = "/api/v1/namespaces/shop/pods";
const NODE: &str = "/api/v1/nodes/ip-10-0-1-23.ec2.internal";
const POLICIES: &str = "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies";
const POLICY: &str = "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies/guardduty-responder-quarantine";
const RB: &str = "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings/debug-admin";
const RBS: &str = "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings";
const CRB: &str = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/ci-admin";
const CRBS: &str = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings";
const SHOP_MAPS: &str = "/api/v1/namespaces/shop/configmaps";
const RB_RECORD: &str = "/api/v1/namespaces/shop/configmaps/guardduty-responder-removed-rb-debug-admin";
const SYSTEM_MAPS: &str = "/api/v1/namespaces/kube-system/configmaps";
const CRB_RECORD: &str = "/api/v1/namespaces/kube-system/configmaps/guardduty-responder-removed-crb-ci-admin";
const EXEMPT: &str = "guardduty-responder/exempt";

fn pod(name: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": "shop", "labels": labels,
                      "managedFields": [{ "manager": "kubectl" }] },
        "spec": { "nodeName": "ip-10-0-1-23.ec2.internal", "serviceAccountName": "web",
                  "containers": [{ "name": "web", "image": "nginx:1.27",
                                   "env": [{ "name": "DB_PASSWORD", "value": "hunter2" }] }] },
        "status": { "phase": "Running", "podIP": "10.0.1.50" }
    })
}

fn node(unschedulable: bool, annotations: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": { "name": "ip-10-0-1-23.ec2.internal", "annotations": annotations },
        "spec": { "unschedulable": unschedulable, "providerID": "aws:///us-east-1a/i-0abc" }
    })
}

fn binding(kind: &str, name: &str, role: &str, subject: (&str, &str)) -> Value {
    let mut metadata = json!({ "name": name, "managedFields": [{ "manager": "kubectl" }] });
    if kind == "RoleBinding" {
        metadata["namespace"] = json!("shop");
    }
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": metadata,
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role },
        "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": subject.0, "name": subject.1 }]
    })
}

fn role_binding() -> BindingRef {
    BindingRef { kind: BindingKind::RoleBinding, namespace: Some("shop".into()), name: "debug-admin".into() }
}

fn cluster_binding(name: &str) -> BindingRef {
    BindingRef { kind: BindingKind::ClusterRoleBinding, namespace: None, name: name.into() }
}

/// A cluster with the pod, its node and two offending bindings.
async fn cluster() -> FakeApi {
    let api = FakeApi::start().await;
    api.put(POD, pod("web-7d4b9", json!({ "app": "web" })));
    api.put(NODE, node(false, json!({})));
    api.put(RB, binding("RoleBinding", "debug-admin", "admin", ("User", "mallory")));
    api.put(CRB, binding("ClusterRoleBinding", "ci-admin", "cluster-admin", ("ServiceAccount", "ci")));
    api
}

fn job(bindings: Vec<BindingRef>) -> WorkloadJob<'static> {
    WorkloadJob {
        finding_id: FINDING,
        namespace: "shop",
        pod: "web-7d4b9",
        node: None,
        bindings,
        exempt_label: EXEMPT,
        dry_run: false,
        cordon_node: true,
        gate: open_gate(),
    }
}

fn steps(run: &Execution) -> Vec<(String, String, StepStatus)> {
    run.log.records.iter().map(|r| (r.action.clone(), r.target.clone(), r.status)).collect()
}

fn step(action: &str, target: &str, status: StepStatus) -> (String, String, StepStatus) {
    (action.to_owned(), target.to_owned(), status)
}

fn detail<'a>(run: &'a Execution, action: &str) -> &'a str {
    &run.log.records.iter().find(|r| r.action == action).unwrap().detail
}

fn calls(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn contain_labels_isolates_cordons_and_removes_bindings_after_recording_them() {
    let api = cluster().await;
    let run = contain(&api.client(), &job(vec![role_binding(), cluster_binding("ci-admin")])).await;

    assert_eq!(
        api.calls(),
        calls(&[
            &format!("GET {POD}"),
            &format!("PATCH {POD}"),
            &format!("POST {POLICIES}"),
            &format!("GET {NODE}"),
            &format!("PATCH {NODE}"),
            &format!("GET {RB}"),
            &format!("POST {SHOP_MAPS}"),
            &format!("DELETE {RB}"),
            &format!("GET {CRB}"),
            &format!("POST {SYSTEM_MAPS}"),
            &format!("DELETE {CRB}"),
        ])
    );
    use StepStatus::Done;
    assert_eq!(
        steps(&run),
        vec![
            step("describe-pod", "shop/web-7d4b9", Done),
            step("label-pod", "shop/web-7d4b9", Done),
            step("apply-network-policy", "shop/guardduty-responder-quarantine", Done),
            step("cordon-node", "ip-10-0-1-23.ec2.internal", Done),
            step("record-role-binding", "shop/debug-admin", Done),
            step("remove-role-binding", "shop/debug-admin", Done),
            step("record-cluster-role-binding", "ci-admin", Done),
            step("remove-cluster-role-binding", "ci-admin", Done),
        ]
    );
    assert!(run.skipped.is_none());
    assert_eq!(run.notes, vec![POLICY_ENGINE_NOTE.to_owned()]);

    let requests = api.requests();
    assert!(requests.iter().all(|r| r.authorization.as_deref() == Some("Bearer test-token")));
    // The pod: one merge patch, label and annotation.
    let patch = &requests[1];
    assert_eq!(patch.content_type.as_deref(), Some("application/merge-patch+json"));
    assert_eq!(
        patch.body,
        Some(json!({ "metadata": { "labels": { QUARANTINE_LABEL: FINDING },
                                   "annotations": { FINDING_ANNOTATION: FINDING } } }))
    );
    // The policy: every quarantined pod, no rule in either direction.
    let policy = requests[2].body.as_ref().unwrap();
    assert_eq!(policy["metadata"]["name"], "guardduty-responder-quarantine");
    assert_eq!(
        policy["spec"],
        json!({ "podSelector": { "matchExpressions": [{ "key": QUARANTINE_LABEL, "operator": "Exists" }] },
                "policyTypes": ["Ingress", "Egress"] })
    );
    // The node: annotation and unschedulable in one patch.
    assert_eq!(requests[4].content_type.as_deref(), Some("application/merge-patch+json"));
    assert_eq!(
        requests[4].body,
        Some(json!({ "metadata": { "annotations": { CORDONED_FOR: FINDING } }, "spec": { "unschedulable": true } }))
    );
    // The record: the binding without server-set metadata, labelled with the finding.
    let record = requests[6].body.as_ref().unwrap();
    assert_eq!(record["metadata"]["name"], "guardduty-responder-removed-rb-debug-admin");
    assert_eq!(record["metadata"]["labels"][FINDING_ANNOTATION], FINDING);
    let kept: Value = serde_json::from_str(record["data"]["binding.json"].as_str().unwrap()).unwrap();
    assert_eq!(kept["roleRef"]["name"], "admin");
    assert_eq!(kept["subjects"][0]["name"], "mallory");
    for field in ["uid", "resourceVersion", "managedFields", "creationTimestamp"] {
        assert!(kept["metadata"].get(field).is_none(), "{field} kept: {kept}");
    }
    assert_eq!(requests[9].body.as_ref().unwrap()["metadata"]["namespace"], "kube-system");

    // What the cluster holds now.
    assert_eq!(api.object(POD).unwrap()["metadata"]["labels"][QUARANTINE_LABEL], FINDING);
    assert_eq!(api.object(NODE).unwrap()["spec"]["unschedulable"], true);
    assert!(api.object(RB).is_none() && api.object(CRB).is_none());
    assert!(api.object(RB_RECORD).is_some() && api.object(CRB_RECORD).is_some());
    // The evidence: the pod (without its environment) and each binding.
    assert_eq!(run.state["pod"]["spec"]["containers"][0]["image"], "nginx:1.27");
    assert!(!run.state["pod"].to_string().contains("hunter2"));
    assert!(run.state["pod"]["metadata"].get("managedFields").is_none());
    assert_eq!(run.state["role-binding/shop/debug-admin"]["subjects"][0]["name"], "mallory");
    assert_eq!(run.state["cluster-role-binding/ci-admin"]["roleRef"]["name"], "cluster-admin");
}

#[tokio::test]
async fn a_second_run_changes_nothing() {
    let api = cluster().await;
    let client = api.client();
    let job = job(vec![role_binding()]);
    contain(&client, &job).await;
    api.forget_requests();

    let again = contain(&client, &job).await;
    assert_eq!(
        api.calls(),
        calls(&[
            &format!("GET {POD}"),
            &format!("POST {POLICIES}"),
            &format!("GET {POLICY}"),
            &format!("GET {NODE}"),
            &format!("GET {RB}"),
        ])
    );
    assert_eq!(api.writes(), vec![format!("POST {POLICIES}")], "only the create that answers 409");
    use StepStatus::{AlreadyDone, Done};
    assert_eq!(
        steps(&again),
        vec![
            step("describe-pod", "shop/web-7d4b9", Done),
            step("label-pod", "shop/web-7d4b9", AlreadyDone),
            step("apply-network-policy", "shop/guardduty-responder-quarantine", AlreadyDone),
            step("cordon-node", "ip-10-0-1-23.ec2.internal", AlreadyDone),
            step("remove-role-binding", "shop/debug-admin", AlreadyDone),
        ]
    );
    assert_eq!(detail(&again, "remove-role-binding"), "not there");
    assert!(detail(&again, "cordon-node").contains(FINDING), "{}", detail(&again, "cordon-node"));
}

#[tokio::test]
async fn a_policy_of_the_same_name_with_other_rules_is_replaced() {
    let api = cluster().await;
    let mut open = serde_json::to_value(responder_eks::workload::quarantine_policy("shop")).unwrap();
    open["spec"]["ingress"] = json!([{ "from": [{ "ipBlock": { "cidr": "0.0.0.0/0" } }] }]);
    api.put(POLICY, open);

    let run = contain(&api.client(), &WorkloadJob { cordon_node: false, ..job(vec![]) }).await;
    assert_eq!(
        api.calls(),
        calls(&[
            &format!("GET {POD}"),
            &format!("PATCH {POD}"),
            &format!("POST {POLICIES}"),
            &format!("GET {POLICY}"),
            &format!("PUT {POLICY}"),
        ])
    );
    assert_eq!(run.log.records[2].status, StepStatus::Done);
    let put = api.requests()[4].body.clone().unwrap();
    assert!(put["spec"].get("ingress").is_none(), "{put}");
    assert!(put["metadata"]["resourceVersion"].is_string(), "a replace carries the version it read");
}

#[tokio::test]
async fn a_missing_pod_is_one_failed_step_and_nothing_else() {
    let api = FakeApi::start().await;
    let run = contain(&api.client(), &job(vec![role_binding()])).await;
    assert_eq!(api.calls(), vec![format!("GET {POD}")]);
    assert_eq!(steps(&run), vec![step("describe-pod", "shop/web-7d4b9", StepStatus::Failed)]);
    assert_eq!(run.log.records[0].error_code.as_deref(), Some("NotFound"));
    assert!(!run.log.transient);
}

#[tokio::test]
async fn an_exempt_pod_is_left_alone() {
    for (labels, annotations) in [(json!({ EXEMPT: "true" }), json!({})), (json!({}), json!({ EXEMPT: "true" }))] {
        let api = cluster().await;
        let mut exempt = pod("web-7d4b9", labels);
        exempt["metadata"]["annotations"] = annotations;
        api.put(POD, exempt);
        let run = contain(&api.client(), &job(vec![role_binding()])).await;
        assert_eq!(api.calls(), vec![format!("GET {POD}")]);
        assert!(run.skipped.as_deref().unwrap().contains(EXEMPT), "{:?}", run.skipped);
        assert!(run.log.records.is_empty());
    }
}

#[tokio::test]
async fn a_dry_run_only_reads() {
    let api = cluster().await;
    // A closed gate too: a dry run plans, whatever the gate says.
    let gate = closed_gate(Closed::Unverified(AwsFailure::rejected("not asked")));
    let dry = WorkloadJob { dry_run: true, gate, ..job(vec![role_binding(), cluster_binding("system:node-proxier")]) };
    let run = contain(&api.client(), &dry).await;
    assert_eq!(api.calls(), vec![format!("GET {POD}")]);
    use StepStatus::{Done, Planned, Skipped};
    assert_eq!(
        steps(&run),
        vec![
            step("describe-pod", "shop/web-7d4b9", Done),
            step("label-pod", "shop/web-7d4b9", Planned),
            step("apply-network-policy", "shop/guardduty-responder-quarantine", Planned),
            step("cordon-node", "ip-10-0-1-23.ec2.internal", Planned),
            step("record-role-binding", "shop/debug-admin", Planned),
            step("remove-role-binding", "shop/debug-admin", Planned),
            step("remove-cluster-role-binding", "system:node-proxier", Skipped),
        ]
    );
}

#[tokio::test]
async fn a_closed_gate_changes_nothing() {
    let api = cluster().await;
    let gate = closed_gate(Closed::Unverified(AwsFailure {
        kind: FailureKind::Transient,
        code: None,
        message: "GuardDuty did not answer".into(),
    }));
    let run = contain(&api.client(), &WorkloadJob { gate, ..job(vec![role_binding()]) }).await;
    assert_eq!(api.calls(), vec![format!("GET {POD}")]);
    let later = &run.log.records[1..];
    assert_eq!(later.len(), 5);
    assert!(later.iter().all(|r| r.status == StepStatus::Skipped && r.detail == NOT_CONFIRMED), "{later:?}");
}

#[tokio::test]
async fn a_binding_is_not_removed_when_its_record_cannot_be_written() {
    let api = cluster().await;
    api.answer(
        "POST",
        SHOP_MAPS,
        403,
        status(
            403,
            "Forbidden",
            "configmaps is forbidden: User \"arn:aws:sts::111122223333:assumed-role/responder/x\" cannot create \
             resource \"configmaps\" in API group \"\" in the namespace \"shop\"",
        ),
    );
    let run = contain(&api.client(), &WorkloadJob { cordon_node: false, ..job(vec![role_binding()]) }).await;
    assert_eq!(
        &api.calls()[3..],
        calls(&[&format!("GET {RB}"), &format!("POST {SHOP_MAPS}")]),
        "no DELETE after the failed record"
    );
    let record = &run.log.records[3];
    assert_eq!((record.action.as_str(), record.status), ("record-role-binding", StepStatus::Failed));
    assert_eq!(record.error_code.as_deref(), Some("Forbidden"));
    assert!(record.detail.contains("missing `create` on `configmaps`"), "{}", record.detail);
    let remove = &run.log.records[4];
    assert_eq!((remove.action.as_str(), remove.status), ("remove-role-binding", StepStatus::Skipped));
    assert_eq!(remove.detail, "not run: the record was not written");
    assert!(api.object(RB).is_some());
}

#[tokio::test]
async fn system_bindings_are_never_removed() {
    let api = cluster().await;
    let masters = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/break-glass";
    api.put(masters, binding("ClusterRoleBinding", "break-glass", "cluster-admin", ("Group", "system:masters")));
    let bindings = vec![cluster_binding("break-glass"), cluster_binding("eks:node-manager")];
    let run = contain(&api.client(), &WorkloadJob { cordon_node: false, ..job(bindings) }).await;

    // Read to learn its subjects (the named system binding is not even read), never recorded or deleted.
    assert_eq!(&api.calls()[3..], calls(&[&format!("GET {masters}")]));
    assert_eq!(api.writes(), calls(&[&format!("PATCH {POD}"), &format!("POST {POLICIES}")]));
    use StepStatus::Skipped;
    assert_eq!(
        steps(&run)[3..],
        [
            step("remove-cluster-role-binding", "break-glass", Skipped),
            step("remove-cluster-role-binding", "eks:node-manager", Skipped)
        ]
    );
    assert!(detail(&run, "remove-cluster-role-binding").contains("system:masters"));
    assert!(api.object(masters).is_some());
}

#[tokio::test]
async fn release_undoes_contain_and_restores_the_bindings_from_their_records() {
    let api = cluster().await;
    let client = api.client();
    let bindings = vec![role_binding(), cluster_binding("ci-admin")];
    contain(&client, &job(bindings.clone())).await;
    api.forget_requests();

    let run = release(&client, "shop", "web-7d4b9", None, &bindings).await;
    assert_eq!(
        api.calls(),
        calls(&[
            &format!("GET {POD}"),
            &format!("PATCH {POD}"),
            &format!("GET {POLICY}"),
            &format!("GET {PODS}"),
            &format!("DELETE {POLICY}"),
            &format!("GET {NODE}"),
            "GET /api/v1/pods",
            &format!("PATCH {NODE}"),
            &format!("GET {RB_RECORD}"),
            &format!("GET {RB}"),
            &format!("POST {RBS}"),
            &format!("DELETE {RB_RECORD}"),
            &format!("GET {CRB_RECORD}"),
            &format!("GET {CRB}"),
            &format!("POST {CRBS}"),
            &format!("DELETE {CRB_RECORD}"),
        ])
    );
    use StepStatus::Done;
    assert_eq!(
        steps(&run),
        vec![
            step("unlabel-pod", "shop/web-7d4b9", Done),
            step("remove-network-policy", "shop/guardduty-responder-quarantine", Done),
            step("uncordon-node", "ip-10-0-1-23.ec2.internal", Done),
            step("restore-role-binding", "shop/debug-admin", Done),
            step("remove-role-binding-record", "shop/guardduty-responder-removed-rb-debug-admin", Done),
            step("restore-cluster-role-binding", "ci-admin", Done),
            step("remove-cluster-role-binding-record", "kube-system/guardduty-responder-removed-crb-ci-admin", Done),
        ]
    );
    let requests = api.requests();
    assert_eq!(requests[3].query.trim_start_matches('&'), "labelSelector=guardduty-responder%2Fquarantine");
    assert!(
        requests[6].query.contains("fieldSelector=spec.nodeName%3Dip-10-0-1-23.ec2.internal"),
        "{}",
        requests[6].query
    );
    assert_eq!(
        requests[1].body,
        Some(
            json!({ "metadata": { "labels": { QUARANTINE_LABEL: null }, "annotations": { FINDING_ANNOTATION: null } } })
        )
    );
    assert_eq!(
        requests[7].body,
        Some(json!({ "metadata": { "annotations": { CORDONED_FOR: null } }, "spec": { "unschedulable": null } }))
    );
    // The binding as it was, created again without the old server-set fields.
    let created = requests[10].body.as_ref().unwrap();
    assert_eq!(created["metadata"]["name"], "debug-admin");
    assert!(created["metadata"].get("uid").is_none() && created["metadata"].get("resourceVersion").is_none());
    assert_eq!(
        created["subjects"],
        json!([{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "mallory" }])
    );
    assert_eq!(api.object(CRB).unwrap()["roleRef"]["name"], "cluster-admin");

    let pod = api.object(POD).unwrap();
    assert!(pod["metadata"]["labels"].get(QUARANTINE_LABEL).is_none());
    assert_eq!(pod["metadata"]["labels"]["app"], "web");
    assert!(pod["metadata"]["annotations"].get(FINDING_ANNOTATION).is_none());
    assert!(api.object(POLICY).is_none() && api.object(RB_RECORD).is_none() && api.object(CRB_RECORD).is_none());
    assert!(api.object(NODE).unwrap()["spec"].get("unschedulable").is_none());

    // And again: nothing left to undo.
    api.forget_requests();
    let again = release(&client, "shop", "web-7d4b9", None, &bindings).await;
    assert_eq!(api.writes(), Vec::<String>::new());
    assert!(again.log.records.iter().all(|r| r.status == StepStatus::AlreadyDone), "{:?}", again.log.records);
}

#[tokio::test]
async fn release_leaves_a_node_cordoned_by_someone_else_cordoned() {
    let api = cluster().await;
    api.put(NODE, node(true, json!({ "team/maintenance": "kernel upgrade" })));
    let client = api.client();
    let run = contain(&client, &job(vec![])).await;
    assert_eq!(run.log.records[3].status, StepStatus::AlreadyDone);
    assert!(api.object(NODE).unwrap()["metadata"]["annotations"].get(CORDONED_FOR).is_none(), "not marked as ours");
    api.forget_requests();

    let run = release(&client, "shop", "web-7d4b9", Some("ip-10-0-1-23.ec2.internal"), &[]).await;
    assert!(!api.writes().iter().any(|w| w.ends_with(NODE)), "{:?}", api.writes());
    let uncordon = run.log.records.iter().find(|r| r.action == "uncordon-node").unwrap();
    assert_eq!(uncordon.status, StepStatus::AlreadyDone);
    assert!(uncordon.detail.contains("someone else"), "{}", uncordon.detail);
    assert_eq!(api.object(NODE).unwrap()["spec"]["unschedulable"], true);
}

#[tokio::test]
async fn release_keeps_what_another_quarantined_pod_still_needs() {
    let api = cluster().await;
    api.put(&format!("{PODS}/worker-1"), pod("worker-1", json!({ QUARANTINE_LABEL: "another-finding" })));
    let client = api.client();
    contain(&client, &job(vec![])).await;
    api.forget_requests();

    let run = release(&client, "shop", "web-7d4b9", None, &[]).await;
    assert_eq!(api.writes(), vec![format!("PATCH {POD}")], "only the pod's own label");
    assert!(detail(&run, "remove-network-policy").contains("worker-1"));
    assert!(detail(&run, "uncordon-node").contains("shop/worker-1"));
    assert!(api.object(POLICY).is_some());
    assert_eq!(api.object(NODE).unwrap()["spec"]["unschedulable"], true);
}

#[tokio::test]
async fn a_binding_found_again_is_not_created_twice() {
    let api = cluster().await;
    let client = api.client();
    contain(&client, &job(vec![role_binding()])).await;
    // Someone put it back by hand, with another subject.
    api.put(RB, binding("RoleBinding", "debug-admin", "admin", ("User", "alice")));
    api.forget_requests();

    let run = release(&client, "shop", "web-7d4b9", None, &[role_binding()]).await;
    assert!(!api.writes().iter().any(|w| w.contains("rolebindings") || w.contains("configmaps")), "{:?}", api.writes());
    let restore = run.log.records.iter().find(|r| r.action == "restore-role-binding").unwrap();
    assert_eq!(restore.status, StepStatus::AlreadyDone);
    assert!(restore.detail.contains("record") && restore.detail.contains("kept"), "{}", restore.detail);
    assert!(api.object(RB_RECORD).is_some());
}

#[tokio::test]
async fn api_failures_keep_their_kind() {
    let api = cluster().await;
    api.answer("PATCH", POD, 500, status(500, "InternalError", "etcd is unhappy"));
    api.answer("POST", POLICIES, 422, status(422, "Invalid", "spec.podSelector: Invalid value"));
    let run = contain(&api.client(), &WorkloadJob { cordon_node: false, ..job(vec![]) }).await;
    let label = &run.log.records[1];
    assert_eq!((label.status, label.error_code.as_deref()), (StepStatus::Failed, Some("InternalError")));
    assert!(run.log.transient, "a 5xx is worth a retry");
    let policy = &run.log.records[2];
    assert_eq!((policy.status, policy.error_code.as_deref()), (StepStatus::Failed, Some("Invalid")));
}

mod connect {
    use aws_sdk_eks::operation::describe_cluster::DescribeClusterOutput;
    use aws_sdk_eks::types::{Certificate, Cluster};
    use aws_smithy_mocks::mock;
    use base64::Engine;
    use k8s_openapi::api::core::v1::Pod;
    use responder_aws::mocks;

    use super::*;

    fn eks(endpoint: &str) -> aws_sdk_eks::Client {
        let ca = base64::engine::general_purpose::STANDARD.encode(include_str!("ca.pem"));
        let endpoint = endpoint.to_owned();
        let describe = mock!(aws_sdk_eks::Client::describe_cluster)
            .match_requests(|input| input.name() == Some("prod"))
            .then_output(move || {
                DescribeClusterOutput::builder()
                    .cluster(
                        Cluster::builder()
                            .name("prod")
                            .endpoint(endpoint.clone())
                            .certificate_authority(Certificate::builder().data(ca.clone()).build())
                            .build(),
                    )
                    .build()
            });
        let sdk = mocks::sdk_config();
        aws_sdk_eks::Client::from_conf(
            aws_sdk_eks::config::Builder::from(&sdk).interceptor(mocks::interceptor(&[describe])).build(),
        )
    }

    #[tokio::test]
    async fn the_client_reaches_the_described_endpoint_with_the_iam_token() {
        let api = cluster().await;
        let creds = aws_credential_types::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let client = responder_eks::client(&eks(&api.url), &creds, "us-east-1", "prod").await.unwrap();
        let pods: kube::Api<Pod> = kube::Api::namespaced(client, "shop");
        pods.get("web-7d4b9").await.unwrap();

        let auth = api.requests()[0].authorization.clone().unwrap();
        let token = auth.strip_prefix("Bearer k8s-aws-v1.").unwrap();
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).unwrap();
        let url = String::from_utf8(url).unwrap();
        assert!(url.starts_with("https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity"), "{url}");
        assert!(url.contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"), "{url}");
    }

    #[tokio::test]
    async fn a_cluster_eks_does_not_have_is_not_found() {
        let missing = mock!(aws_sdk_eks::Client::describe_cluster).then_error(|| {
            aws_sdk_eks::operation::describe_cluster::DescribeClusterError::generic(mocks::err_meta(
                "ResourceNotFoundException",
            ))
        });
        let sdk = mocks::sdk_config();
        let eks = aws_sdk_eks::Client::from_conf(
            aws_sdk_eks::config::Builder::from(&sdk).interceptor(mocks::interceptor(&[missing])).build(),
        );
        let creds = aws_credential_types::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let Err(err) = responder_eks::client(&eks, &creds, "us-east-1", "gone").await else {
            panic!("a client for a cluster EKS does not have")
        };
        assert_eq!(err.kind, FailureKind::NotFound);
    }
}

mod rbac {
    use std::collections::BTreeSet;

    use responder_eks::RBAC_RULES;
    use responder_eks::workload::RESPONDER_GROUP;

    use super::*;

    fn manifests() -> Vec<Value> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../infra/eks-rbac.yaml");
        serde_saphyr::from_multiple(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// (group, resource, verb) triples.
    fn granted(
        rules: impl IntoIterator<Item = (String, Vec<String>, Vec<String>)>,
    ) -> BTreeSet<(String, String, String)> {
        let mut all = BTreeSet::new();
        for (group, resources, verbs) in rules {
            for r in &resources {
                for v in &verbs {
                    all.insert((group.clone(), r.clone(), v.clone()));
                }
            }
        }
        all
    }

    fn declared() -> BTreeSet<(String, String, String)> {
        granted(RBAC_RULES.iter().map(|(g, r, v)| {
            ((*g).to_owned(), r.iter().map(|s| (*s).to_owned()).collect(), v.iter().map(|s| (*s).to_owned()).collect())
        }))
    }

    /// The RBAC verb, group and resource a request needs.
    fn needs(r: &fake::Recorded) -> (String, String, String) {
        let parts: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
        let (group, rest) = match parts[0] {
            "api" => ("", &parts[2..]),
            _ => (parts[1], &parts[3..]),
        };
        let rest = if rest.first() == Some(&"namespaces") { &rest[2..] } else { rest };
        let verb = match (r.method.as_str(), rest.len()) {
            ("GET", 1) => "list",
            ("GET", _) => "get",
            ("POST", _) => "create",
            ("PUT", _) => "update",
            ("PATCH", _) => "patch",
            ("DELETE", _) => "delete",
            (m, _) => panic!("unexpected {m}"),
        };
        (group.to_owned(), rest[0].to_owned(), verb.to_owned())
    }

    #[test]
    fn the_manifest_grants_exactly_the_declared_rules_to_the_responders_group() {
        let all = manifests();
        let role = all.iter().find(|d| d["kind"] == "ClusterRole").unwrap();
        assert_eq!(role["metadata"]["name"], "guardduty-responder");
        let rules = role["rules"].as_array().unwrap().iter().flat_map(|rule| {
            let list = |k: &str| rule[k].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
            let resources: Vec<String> = list("resources");
            let verbs: Vec<String> = list("verbs");
            let groups: Vec<String> = list("apiGroups");
            groups.into_iter().map(move |g| (g, resources.clone(), verbs.clone()))
        });
        assert_eq!(granted(rules), declared());
        let binding = all.iter().find(|d| d["kind"] == "ClusterRoleBinding").unwrap();
        assert_eq!(binding["roleRef"]["name"], "guardduty-responder");
        assert_eq!(
            binding["subjects"],
            json!([{ "apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": RESPONDER_GROUP }])
        );
    }

    #[tokio::test]
    async fn every_call_is_granted_and_every_grant_is_used() {
        let api = cluster().await;
        let mut open = serde_json::to_value(responder_eks::workload::quarantine_policy("shop")).unwrap();
        open["spec"]["policyTypes"] = json!(["Ingress"]);
        api.put(POLICY, open);
        let client = api.client();
        let bindings = vec![role_binding(), cluster_binding("ci-admin")];
        contain(&client, &job(bindings.clone())).await;
        release(&client, "shop", "web-7d4b9", None, &bindings).await;

        let used: BTreeSet<_> = api.requests().iter().map(needs).collect();
        let declared = declared();
        assert_eq!(used.difference(&declared).collect::<Vec<_>>(), Vec::<&(String, String, String)>::new());
        // `bind` is checked by the API server on create, never called.
        let unused: Vec<_> = declared.difference(&used).filter(|(_, _, v)| v != "bind").collect();
        assert!(unused.is_empty(), "granted, never used: {unused:?}");
    }
}
