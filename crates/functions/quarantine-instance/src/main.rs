//! Lambda function `quarantine-instance`: contains the EC2 instance a
//! GuardDuty finding names. All logic lives in `responder-aws`; see the
//! README for what it does, step by step.

use responder_aws::lambda::serve;
use responder_core::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(Function::QuarantineInstance).await
}
