//! Lambda function `revoke-role-sessions`: denies every session of the
//! assumed role a GuardDuty finding names that was issued before now. All
//! logic lives in `responder-aws`; see the README for the steps.

use responder_aws::lambda::serve;
use responder_core::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(Function::RevokeRoleSessions).await
}
