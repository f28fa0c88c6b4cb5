//! `demo-world`: seeds and shows the demo's compromised instance in the
//! emulator, reusing the test harness's seeding (so the demo shows exactly
//! what the end-to-end tests assert on).
//!
//! - `demo-world seed`: a VPC, a web instance with two ENIs (the second on
//!   two groups), a volume, an instance profile and an Auto Scaling group;
//!   prints `instance-id vpc-id`.
//! - `demo-world show INSTANCE_ID`: the instance's containment-relevant state.
//!
//! Reaches the emulator through `AWS_ENDPOINT_URL` and dummy credentials.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use aws_config::BehaviorVersion;
use responder_e2e::seed::{self, InstanceOptions, Network};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["seed"] => {
            let net = Network::create(&config).await;
            let inst = net.instance(&config, InstanceOptions::default()).await;
            println!("{} {}", inst.id, net.vpc);
        }
        ["show", id] => show(&config, id).await,
        _ => {
            eprintln!("usage: demo-world seed | demo-world show INSTANCE_ID");
            std::process::exit(2);
        }
    }
}

async fn show(config: &aws_config::SdkConfig, id: &str) {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let enis = ec2
        .describe_network_interfaces()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("attachment.instance-id")
                .values(id.to_string())
                .build(),
        )
        .send()
        .await
        .expect("DescribeNetworkInterfaces");
    println!("  instance {id}");
    for eni in enis.network_interfaces() {
        let eni_id = eni.network_interface_id().unwrap_or_default();
        println!(
            "    {eni_id:<24} groups {}",
            seed::eni_groups(config, eni_id).await.join(", ")
        );
    }
    println!(
        "    termination protection  {}",
        seed::termination_protection(config, id).await
    );
    println!(
        "    shutdown behaviour      {}",
        seed::shutdown_behavior(config, id).await
    );
    println!(
        "    instance profile        {}",
        seed::profile_of(config, id).await.unwrap_or_else(|| "-".into())
    );
    println!(
        "    auto scaling group      {}",
        seed::asg_of(config, id).await.unwrap_or_else(|| "-".into())
    );
    for (k, v) in seed::instance_tags(config, id).await {
        if k.starts_with("guardduty-responder:") {
            println!("    tag {k} = {v}");
        }
    }
}
