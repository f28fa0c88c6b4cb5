//! Auto Scaling adapter: membership, detach and re-attach.

use aws_sdk_autoscaling::Client;

use crate::failure::AwsFailure;

/// The Auto Scaling group the instance is in, if any.
pub async fn group_of(asg: &Client, instance_id: &str) -> Result<Option<String>, AwsFailure> {
    let out = asg.describe_auto_scaling_instances().instance_ids(instance_id).send().await?;
    Ok(out
        .auto_scaling_instances()
        .iter()
        .find(|i| i.instance_id() == Some(instance_id))
        .and_then(|i| i.auto_scaling_group_name())
        .map(str::to_owned))
}

/// Detaches without decrementing desired capacity: the group launches a
/// replacement, and never terminates this instance (the evidence) to scale in.
pub async fn detach(asg: &Client, instance_id: &str, group: &str) -> Result<(), AwsFailure> {
    asg.detach_instances()
        .auto_scaling_group_name(group)
        .instance_ids(instance_id)
        .should_decrement_desired_capacity(false)
        .send()
        .await?;
    Ok(())
}

/// Attaches the instance back (this raises the group's desired capacity by one).
pub async fn attach(asg: &Client, instance_id: &str, group: &str) -> Result<(), AwsFailure> {
    asg.attach_instances().auto_scaling_group_name(group).instance_ids(instance_id).send().await?;
    Ok(())
}
