//! `contain-eks-workload`: the plan `responder-core` decides, carried out.
//!
//! 1. **The IAM principal** behind the Kubernetes user, when the plan names
//!    one: one role session denied, or the user disabled, by
//!    `responder-iam`'s playbooks (same records, same release).
//! 2. **The cluster**: `DescribeCluster`, a token signed for the function's
//!    role, a client that trusts the cluster's authority only.
//! 3. **The pod** (found by its container's id when the finding names the
//!    container only), through [`crate::workload::contain`]; or, for an
//!    RBAC finding without a pod, the binding alone.
//!
//! IAM actions: eks:DescribeCluster; and those of the credential playbooks
//! for the principal. Kubernetes: see the crate's documentation.

use aws_credential_types::provider::ProvideCredentials;
use futures::future::BoxFuture;
use responder_aws::cloud::Clients;
use responder_aws::failure::AwsFailure;
use responder_aws::playbook::not_mine;
use responder_aws::steps::{Execution, Held, Timed};
use responder_aws::{Job, Playbook};
use responder_core::plan::WorkloadPlan;
use responder_core::target::KubernetesBinding;
use responder_core::{Function, Plan};

use crate::workload::{self, BindingKind, BindingRef, WorkloadJob};

/// The clients `contain-eks-workload` calls, and the credentials its
/// Kubernetes token is signed with.
#[derive(Debug, Clone)]
pub struct EksClients {
    pub eks: aws_sdk_eks::Client,
    pub iam: aws_sdk_iam::Client,
    pub credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
}

impl Clients for EksClients {
    fn new(config: &aws_config::SdkConfig) -> Self {
        EksClients {
            eks: aws_sdk_eks::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
            credentials: config.credentials_provider(),
        }
    }
}

/// Clients for one account and region, EKS's and IAM's included.
pub type Cloud = responder_aws::cloud::Cloud<EksClients>;

/// The bindings of a plan, as the Kubernetes side names them.
pub fn binding_refs(binding: Option<&KubernetesBinding>) -> Vec<BindingRef> {
    binding
        .map(|b| BindingRef {
            kind: if b.cluster_wide { BindingKind::ClusterRoleBinding } else { BindingKind::RoleBinding },
            namespace: b.namespace.clone(),
            name: b.name.clone(),
        })
        .into_iter()
        .collect()
}

/// The label a pod is exempted with: the exemption tag's key, with `/` for
/// `:` (a label key has no `:`).
pub fn exempt_label(exempt_tag: &str) -> String {
    exempt_tag.replacen(':', "/", 1)
}

/// A client for the plan's cluster, as the function's role.
pub async fn connect(cloud: &Cloud, cluster: &str) -> Result<kube::Client, AwsFailure> {
    let provider = cloud
        .credentials
        .as_ref()
        .ok_or_else(|| AwsFailure::rejected("no AWS credentials to sign the cluster's token with"))?;
    let credentials = provider
        .provide_credentials()
        .await
        .map_err(|e| AwsFailure::rejected(format!("the credentials to sign the cluster's token with: {e}")))?;
    crate::connect::client(&cloud.eks, &credentials, &cloud.region, cluster).await
}

/// `contain-eks-workload`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContainEksWorkload;

impl Playbook for ContainEksWorkload {
    const FUNCTION: Function = Function::ContainEksWorkload;
    type Clients = EksClients;

    fn run<'a>(&'a self, cloud: &'a Cloud, plan: &'a Plan, job: Job<'a, Self::Clients>) -> BoxFuture<'a, Execution> {
        Box::pin(async move {
            let Plan::ContainWorkload(w) = plan else { return not_mine(Self::FUNCTION, plan) };
            contain(cloud, w, &job).await
        })
    }
}

async fn contain(cloud: &Cloud, w: &WorkloadPlan, job: &Job<'_, EksClients>) -> Execution {
    let policy = &job.settings.policy;
    let principal = async {
        let credential_job = responder_iam::credentials::CredentialJob {
            finding_id: job.finding_id(),
            policy,
            now: chrono::Utc::now(),
            deadline: job.deadline,
            gate: job.gate.clone(),
        };
        let iam = cloud.with_clients(responder_iam::IamClients { iam: cloud.iam.clone() });
        match w.principal.as_deref() {
            Some(Plan::RevokeRoleSessions { role_name, stolen_session: Some(session), .. }) => {
                Some(responder_iam::credentials::deny_stolen_session(&iam, &credential_job, role_name, session).await)
            }
            Some(Plan::RevokeRoleSessions { role_name, .. }) => {
                Some(responder_iam::credentials::revoke_role_sessions(&iam, &credential_job, role_name).await)
            }
            Some(Plan::DisableIamUser { user_name, access_key_id, .. }) => Some(
                responder_iam::credentials::disable_user(
                    &iam,
                    &credential_job,
                    user_name,
                    access_key_id.as_deref(),
                    job.settings.key_scope,
                )
                .await,
            ),
            _ => None,
        }
    };
    let kubernetes = kubernetes(cloud, w, job);
    let (principal, mut run) = futures::join!(principal, kubernetes);
    if let Some(p) = principal {
        if let Some(reason) = p.skipped {
            run.notes.push(format!("the IAM principal was left as it is: {reason}"));
        }
        run.log.records.extend(p.log.records);
        run.log.transient |= p.log.transient;
        run.notes.extend(p.notes);
        run.state.extend(p.state);
    }
    if let Some(why) = &w.principal_left_out {
        run.notes.push(format!("the Kubernetes user's IAM principal is not contained: {why}"));
    }
    if let Some(note) = &w.workload_note {
        run.notes.push(note.clone());
    }
    if let Some(node) = &w.node {
        run.notes.push(format!(
            "the pod runs on instance {node}: it is cordoned, not isolated (ISOLATE_CONTAINER_NODES isolates nodes whole)"
        ));
    }
    run
}

/// The Kubernetes side: connect, find the pod, contain it (or the binding).
async fn kubernetes(cloud: &Cloud, w: &WorkloadPlan, job: &Job<'_, EksClients>) -> Execution {
    let mut run = Execution::default();
    let bindings = binding_refs(w.binding.as_ref());
    if w.pod.is_none() && w.container_id.is_none() && bindings.is_empty() {
        return run;
    }
    let started = std::time::Instant::now();
    let client = match connect(cloud, &w.cluster).await {
        Ok(client) => client,
        Err(f) => {
            run.log.push("connect-cluster", &w.cluster, Timed { result: Err(f), took: Some(started.elapsed()) });
            return run;
        }
    };
    let exempt = exempt_label(&job.settings.policy.exempt_tag);
    let (namespace, pod) = match (&w.pod, &w.container_id) {
        (Some(pod), _) => (w.namespace.clone().unwrap_or_else(|| "default".into()), Some(pod.clone())),
        (None, Some(container)) => match workload::find_pod(&client, container).await {
            Ok(Some((ns, pod))) => {
                run.log.push(
                    "lookup-pod",
                    container,
                    Ok(Held::done(format!("container {container} runs in pod {ns}/{pod}"))),
                );
                (ns, Some(pod))
            }
            Ok(None) => {
                run.log.push(
                    "lookup-pod",
                    container,
                    Err(AwsFailure {
                        kind: responder_aws::failure::FailureKind::NotFound,
                        code: Some("NotFound".into()),
                        message: format!("no pod of cluster {} runs container {container}", w.cluster),
                    }),
                );
                return run;
            }
            Err(f) => {
                run.log.push("lookup-pod", container, Err(f));
                return run;
            }
        },
        (None, None) => (String::new(), None),
    };
    let contained = match pod {
        Some(pod) => {
            let workload_job = WorkloadJob {
                finding_id: job.finding_id(),
                namespace: &namespace,
                pod: &pod,
                node: None,
                bindings,
                exempt_label: &exempt,
                dry_run: job.settings.policy.dry_run,
                cordon_node: w.cordon_node,
                gate: job.gate.clone(),
            };
            workload::contain(&client, &workload_job).await
        }
        None => {
            workload::contain_bindings(
                &client,
                job.finding_id(),
                &bindings,
                job.settings.policy.dry_run,
                job.gate.clone(),
            )
            .await
        }
    };
    run.log.records.extend(contained.log.records);
    run.log.transient |= contained.log.transient;
    run.skipped = contained.skipped;
    run.notes.extend(contained.notes);
    run.state.extend(contained.state);
    run
}

/// Undoes the Kubernetes side of a plan (`responder release --finding-id`):
/// the pod's label and policy, the node's cordon, the bindings. The IAM
/// principal is released by its own playbook.
pub async fn release_plan(cloud: &Cloud, w: &WorkloadPlan) -> Vec<(String, Execution)> {
    let bindings = binding_refs(w.binding.as_ref());
    let name = Plan::ContainWorkload(Box::new(w.clone())).resource();
    if w.pod.is_none() && w.container_id.is_none() && bindings.is_empty() {
        return Vec::new();
    }
    let client = match connect(cloud, &w.cluster).await {
        Ok(client) => client,
        Err(f) => {
            let mut run = Execution::default();
            run.log.push("connect-cluster", &w.cluster, Err(f));
            return vec![(name, run)];
        }
    };
    let pod = match (&w.pod, &w.container_id) {
        (Some(pod), _) => Some((w.namespace.clone().unwrap_or_else(|| "default".into()), pod.clone())),
        (None, Some(container)) => workload::find_pod(&client, container).await.ok().flatten(),
        (None, None) => None,
    };
    let run = match pod {
        Some((ns, pod)) => workload::release(&client, &ns, &pod, None, &bindings).await,
        None => workload::release_bindings(&client, &bindings).await,
    };
    vec![(name, run)]
}
