//! Lambda function `disable-iam-user`: deactivates the access keys of the IAM
//! user a GuardDuty finding names, deletes its console password and denies
//! its older sessions. The playbook is in `responder-iam`.

use responder_aws::lambda::serve;
use responder_iam::DisableIamUser;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(DisableIamUser).await
}
