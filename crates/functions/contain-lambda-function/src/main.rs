//! Lambda function `contain-lambda-function`: stops the Lambda function a
//! GuardDuty finding names (concurrency 0, mappings off, URL behind IAM, its
//! role's sessions denied for it alone) after recording what it had and
//! publishing a version as evidence. The playbook is in `responder-lambda`.

use responder_aws::lambda::serve;
use responder_lambda::ContainLambdaFunction;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(ContainLambdaFunction).await
}
