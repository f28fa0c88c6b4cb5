//! Lambda function `contain-ecs-task`: contains the ECS task a GuardDuty
//! Runtime Monitoring finding names (its network interface isolated, or the
//! task stopped where ECS owns the interface; its container instance
//! drained), after recording the task as evidence. The playbook is in
//! `responder-ecs`.

use responder_aws::lambda::serve;
use responder_ecs::ContainEcsTask;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(ContainEcsTask).await
}
