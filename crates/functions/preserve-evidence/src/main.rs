//! Lambda function `preserve-evidence`: on a schedule, finishes the copies
//! of forensic snapshots into the security account that quarantine queued
//! (a snapshot still being taken, a copy still being filled), verifies each
//! copy completed, and takes it off the queue (`responder-ec2`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    responder_ec2::serve_evidence_pass().await
}
