//! Lambda function `restore-cloudtrail`: starts logging again on the trail a
//! `Stealth:IAMUser/CloudTrailLoggingDisabled` finding names. All logic lives
//! in `responder-aws`; see the README.

use responder_aws::lambda::serve;
use responder_core::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(Function::RestoreCloudtrail).await
}
