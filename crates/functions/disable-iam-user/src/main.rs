//! Lambda function `disable-iam-user`: deactivates the access keys of the IAM
//! user a GuardDuty finding names, deletes its console password and denies
//! its older sessions. All logic lives in `responder-aws`; see the README.

use responder_aws::lambda::serve;
use responder_core::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(Function::DisableIamUser).await
}
