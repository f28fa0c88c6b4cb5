//! Lambda function `isolate-database`: snapshots the RDS database a
//! GuardDuty finding names, records its security groups and public
//! accessibility, then makes it private on the responder's isolation group.
//! The playbook is in `responder-rds`.

use responder_aws::lambda::serve;
use responder_rds::IsolateDatabase;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(IsolateDatabase).await
}
