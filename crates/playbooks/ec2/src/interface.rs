//! One network interface on its own, as an ECS task (`awsvpc`) has it: who
//! owns it decides what may be done with it.
//!
//! IAM actions: ec2:DescribeNetworkInterfaces.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::Filter;

use crate::ec2::EniView;
use crate::failure::AwsFailure;

/// A network interface as ECS tasks have them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Interface {
    pub eni: EniView,
    /// Created and owned by a service (ECS, for every `awsvpc` task,
    /// Fargate's included): EC2 refuses to change its groups for anyone
    /// else, the account's administrators included.
    pub requester_managed: bool,
    pub interface_type: Option<String>,
    pub description: Option<String>,
}

/// The interface, or `None` when EC2 does not have it.
pub async fn describe(ec2_client: &Client, eni_id: &str) -> Result<Option<Interface>, AwsFailure> {
    let out = ec2_client
        .describe_network_interfaces()
        .filters(Filter::builder().name("network-interface-id").values(eni_id).build())
        .send()
        .await?;
    Ok(out.network_interfaces().iter().find(|e| e.network_interface_id() == Some(eni_id)).map(|e| Interface {
        eni: EniView::of(eni_id, e),
        requester_managed: e.requester_managed().unwrap_or(false),
        interface_type: e.interface_type().map(|t| t.as_str().to_owned()),
        description: e.description().map(str::to_owned),
    }))
}
