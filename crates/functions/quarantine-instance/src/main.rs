//! Lambda function `quarantine-instance`: contains the EC2 instance a
//! GuardDuty finding names. The playbook is in `responder-ec2`.

use responder_aws::lambda::serve;
use responder_ec2::QuarantineInstance;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(QuarantineInstance).await
}
