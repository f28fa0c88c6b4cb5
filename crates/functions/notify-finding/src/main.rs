//! Lambda function `notify-finding`: alerts on every finding at or above the
//! alert threshold, with the CloudTrail activity around the resource.
//! Changes nothing in the account. The look-up is in `responder-cloudtrail`.

use responder_aws::lambda::serve;
use responder_cloudtrail::NotifyFinding;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(NotifyFinding).await
}
