//! Lambda function `restore-cloudtrail`: starts logging again on the trail a
//! `Stealth:IAMUser/CloudTrailLoggingDisabled` finding names. The playbook
//! is in `responder-cloudtrail`.

use responder_aws::lambda::serve;
use responder_cloudtrail::RestoreCloudtrail;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(RestoreCloudtrail).await
}
