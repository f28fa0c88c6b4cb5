//! Lambda function `contain-eks-workload`: contains the pod a GuardDuty EKS
//! or Runtime Monitoring finding names (labelled, cut off by a deny-all
//! NetworkPolicy, its node cordoned), removes the offending role binding of
//! an RBAC finding after recording it, and contains the IAM principal behind
//! the Kubernetes user. The playbook is in `responder-eks`, the only crate
//! that links the Kubernetes client.

use responder_aws::lambda::serve;
use responder_eks::ContainEksWorkload;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(ContainEksWorkload).await
}
