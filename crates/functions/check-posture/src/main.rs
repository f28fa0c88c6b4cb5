//! Lambda function `check-posture`: on a schedule, checks the CloudTrail
//! heartbeat and the monitoring posture of its region, and alerts when
//! something changed since the last run (`responder-cloudtrail`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    responder_cloudtrail::serve_posture().await
}
