//! Lambda function `check-posture`: on a schedule, checks the CloudTrail
//! heartbeat and the monitoring posture of its region, and alerts when
//! something changed since the last run. All logic lives in `responder-aws`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    responder_aws::lambda::serve_posture().await
}
