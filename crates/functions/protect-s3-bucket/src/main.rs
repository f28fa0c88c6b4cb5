//! Lambda function `protect-s3-bucket`: turns the public access block of the
//! bucket a GuardDuty finding says was opened back on, after recording what
//! it had. The playbook is in `responder-s3`.

use responder_aws::lambda::serve;
use responder_s3::ProtectS3Bucket;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(ProtectS3Bucket).await
}
