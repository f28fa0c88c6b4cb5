//! `demo-world`: seeds and shows the demo's compromised instance in the
//! emulator, reusing the test harness's seeding (so the demo shows exactly
//! what the end-to-end tests assert on).
//!
//! - `demo-world seed`: a VPC, a web instance with two ENIs (the second on
//!   two groups), a volume, an instance profile and an Auto Scaling group;
//!   prints `instance-id vpc-id`.
//! - `demo-world show INSTANCE_ID`: the instance's containment-relevant state.
//! - `demo-world seed-user`: a user with one active and one inactive key
//!   and a console password; prints `user-name key-id`.
//! - `demo-world seed-role`: a role; prints its name.
//! - `demo-world show-user NAME`, `demo-world show-role NAME`.
//! - `demo-world seed-topic`: a topic with a queue subscribed; prints
//!   `topic-arn queue-url`.
//! - `demo-world read-queue URL`: prints what arrived, as a person reads it.
//! - `demo-world seed-trail`: a trail whose logging was stopped; prints its name.
//! - `demo-world show-trail NAME`.
//! - `demo-world seed-bucket`: a bucket with a tag and only one public
//!   access block setting on; prints its name.
//! - `demo-world show-bucket NAME`.
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
        ["seed-user"] => {
            let (user, keys, _) = seed::iam_user(&config, 1, 1, true).await;
            println!("{user} {}", keys[0]);
        }
        ["seed-bucket"] => {
            println!(
                "{}",
                seed::tagged_bucket(&config, &[("team", "billing")], Some([true, false, false, false])).await
            )
        }
        ["show-bucket", name] => {
            println!("  bucket {name}");
            match seed::public_access_block(&config, name).await {
                Some([a, b, c, d]) => println!(
                    "    public access block      BlockPublicAcls={a} IgnorePublicAcls={b} BlockPublicPolicy={c} RestrictPublicBuckets={d}"
                ),
                None => println!("    public access block      none"),
            }
            for (k, v) in seed::bucket_tags(&config, name).await {
                println!("    tag {k} = {v}");
            }
        }
        ["seed-role"] => println!("{}", seed::iam_role(&config, "data-pipeline", "/").await),
        ["show-user", name] => {
            println!("  user {name}");
            for (key, active) in seed::key_states(&config, name).await {
                println!("    access key {key}  {}", if active { "Active" } else { "Inactive" });
            }
            println!("    console password        {}", seed::has_login_profile(&config, name).await);
            let policy = seed::user_policy(&config, name, responder_core::revocation::POLICY_NAME).await;
            println!("    {}", revocation(policy));
        }
        ["show-role", name] => {
            println!("  role {name}");
            let policy = seed::role_policy(&config, name, responder_core::revocation::POLICY_NAME).await;
            println!("    {}", revocation(policy));
        }
        ["seed-topic"] => {
            let (topic, queue) = seed::topic_with_queue(&config).await;
            println!("{topic} {queue}");
        }
        ["read-queue", url] => {
            for n in seed::notifications(&config, url, 1, 10).await {
                println!("----- Subject: {}", n["Subject"].as_str().unwrap_or_default());
                let attrs: Vec<String> = n["MessageAttributes"]
                    .as_object()
                    .map(|m| {
                        m.iter().map(|(k, v)| format!("{k}={}", v["Value"].as_str().unwrap_or_default())).collect()
                    })
                    .unwrap_or_default();
                println!("----- Attributes: {}", attrs.join(" "));
                let message = n["Message"].as_str().unwrap_or_default();
                // The text up to the JSON copy of the report.
                println!("{}", message.split("\nReport (JSON):").next().unwrap_or(message));
            }
        }
        ["seed-trail"] => {
            let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
            let name = seed::unique("management-events");
            seed::trail(&config, &endpoint, &name).await;
            seed::stop_trail(&config, &name).await;
            println!("{name}");
        }
        ["show-trail", name] => {
            println!("  trail {name}: logging {}", seed::trail_logging(&config, name).await);
        }
        _ => {
            eprintln!("usage: demo-world seed | show ID | seed-user | seed-role | show-user NAME | show-role NAME");
            std::process::exit(2);
        }
    }
}

async fn show(config: &aws_config::SdkConfig, id: &str) {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let enis = ec2
        .describe_network_interfaces()
        .filters(aws_sdk_ec2::types::Filter::builder().name("attachment.instance-id").values(id.to_string()).build())
        .send()
        .await
        .expect("DescribeNetworkInterfaces");
    println!("  instance {id}");
    for eni in enis.network_interfaces() {
        let eni_id = eni.network_interface_id().unwrap_or_default();
        println!("    {eni_id:<24} groups {}", seed::eni_groups(config, eni_id).await.join(", "));
    }
    println!("    termination protection  {}", seed::termination_protection(config, id).await);
    println!("    shutdown behaviour      {}", seed::shutdown_behavior(config, id).await);
    println!("    instance profile        {}", seed::profile_of(config, id).await.unwrap_or_else(|| "-".into()));
    println!("    auto scaling group      {}", seed::asg_of(config, id).await.unwrap_or_else(|| "-".into()));
    for (k, v) in seed::instance_tags(config, id).await {
        if k.starts_with("guardduty-responder:") {
            println!("    tag {k} = {v}");
        }
    }
}

fn revocation(policy: Option<String>) -> String {
    match policy.as_deref().and_then(responder_core::revocation::cutoff_of) {
        Some(cutoff) => format!("AWSRevokeOlderSessions: tokens issued before {cutoff} denied"),
        None => "no session revocation".to_owned(),
    }
}
