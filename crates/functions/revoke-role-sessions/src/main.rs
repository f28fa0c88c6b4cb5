//! Lambda function `revoke-role-sessions`: denies every session of the
//! assumed role a GuardDuty finding names that was issued before now (or
//! only the stolen one). The playbook is in `responder-iam`.

use responder_aws::lambda::serve;
use responder_iam::RevokeRoleSessions;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(RevokeRoleSessions).await
}
