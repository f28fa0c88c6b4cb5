//! Lambda function `notify-finding`: alerts on every finding at or above the
//! alert threshold, with the CloudTrail activity around the resource.
//! Changes nothing in the account. All logic lives in `responder-aws`.

use responder_aws::lambda::serve;
use responder_core::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(Function::NotifyFinding).await
}
