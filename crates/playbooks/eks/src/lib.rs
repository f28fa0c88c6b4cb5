//! # responder-eks
//!
//! The Kubernetes side of `contain-eks-workload`, for GuardDuty EKS
//! Protection and Runtime Monitoring findings: reach the cluster as the
//! function's IAM role, then contain one pod through the Kubernetes API,
//! and release it later. What to contain (which pod, node, bindings) is
//! decided elsewhere; this crate carries it out, one idempotent step at a
//! time, in the report's terms ([`responder_aws::steps`]).
//!
//! - [`token`]: the cluster's bearer token, a presigned STS
//!   `GetCallerIdentity` as `aws eks get-token` makes it.
//! - [`connect`]: `DescribeCluster`, then a `kube::Client` that trusts only
//!   the cluster's certificate authority.
//! - [`workload`]: contain a pod (label, deny-all NetworkPolicy, cordon its
//!   node, remove offending role bindings after recording them) and
//!   release it.
//! - [`failure`]: Kubernetes API errors as [`responder_aws::failure::AwsFailure`].
//! - [`playbook`]: [`ContainEksWorkload`], the function's playbook: the IAM
//!   principal through `responder-iam`, then the cluster, the pod (found by
//!   its container when the finding names only that) or the binding alone.
//!
//! ## Permissions
//!
//! IAM: `eks:DescribeCluster` on the cluster; the role must also be mapped
//! into the cluster, by an EKS access entry to the Kubernetes group
//! `guardduty-responder` (`infra/eks-rbac.yaml`). Signing the token calls
//! nothing.
//!
//! Kubernetes RBAC (the ClusterRole `guardduty-responder`):
//!
//! | verbs | resources (API group) | used by |
//! |---|---|---|
//! | get, patch | pods (core) | describe, label / unlabel |
//! | list | pods (core) | release: who is still quarantined |
//! | get, create, update | networkpolicies (networking.k8s.io) | the deny-all policy |
//! | get, patch | nodes (core) | cordon / uncordon |
//! | get, delete | rolebindings, clusterrolebindings (rbac.authorization.k8s.io) | remove a binding |
//! | create, get, delete | configmaps (core) | a removed binding's record |
//!
//! Release additionally needs `delete` on networkpolicies, and `create` on
//! rolebindings and clusterrolebindings with `bind` on roles and
//! clusterroles, to re-create a binding to a role it does not hold itself.
//!
//! ## Records
//!
//! Contain leaves on what it changes what release needs: the label
//! `guardduty-responder/quarantine` and annotation
//! `guardduty-responder/finding-id` on the pod, the annotation
//! `guardduty-responder/cordoned-for` on a node it cordoned, and a
//! ConfigMap `guardduty-responder-removed-<rb|crb>-<name>` per removed
//! binding (in the binding's namespace, `kube-system` for a cluster
//! binding). A record is never overwritten: the first is what was there.

/// The Kubernetes RBAC rules contain and release need, as `infra/eks-rbac.yaml`
/// grants them: (API group, resources, verbs).
pub const RBAC_RULES: &[(&str, &[&str], &[&str])] = &[
    ("", &["pods"], &["get", "list", "patch"]),
    ("networking.k8s.io", &["networkpolicies"], &["get", "create", "update", "delete"]),
    ("", &["nodes"], &["get", "patch"]),
    ("", &["configmaps"], &["get", "create", "delete"]),
    ("rbac.authorization.k8s.io", &["rolebindings", "clusterrolebindings"], &["get", "delete", "create"]),
    ("rbac.authorization.k8s.io", &["roles", "clusterroles"], &["bind"]),
];

pub mod connect;
pub mod failure;
pub mod playbook;
pub mod token;
pub mod workload;

pub use connect::{client, client_at};
pub use playbook::{Cloud, ContainEksWorkload, EksClients, release_plan};
pub use token::eks_token;
pub use workload::{
    BindingKind, BindingRef, WorkloadJob, contain, contain_bindings, find_pod, release, release_bindings,
};
