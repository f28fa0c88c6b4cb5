//! Seeding realistic resources in the emulator through the SDK.

use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::SdkConfig;
use aws_sdk_ec2::types::{InstanceAttributeName, ResourceType, ShutdownBehavior, Tag, TagSpecification};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique within this test run.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A VPC with a subnet and two ordinary security groups.
#[derive(Debug, Clone)]
pub struct Network {
    pub vpc: String,
    pub subnet: String,
    pub web_group: String,
    pub admin_group: String,
}

/// An instance as a victim of compromise would have it.
#[derive(Debug, Clone)]
pub struct Instance {
    pub id: String,
    pub primary_eni: String,
    /// Attached after launch, with two groups; never listed in the finding.
    pub secondary_eni: Option<String>,
    pub volume: String,
    pub profile_arn: Option<String>,
    pub asg: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct InstanceOptions {
    pub second_eni: bool,
    pub profile: bool,
    pub asg: bool,
    pub exempt: bool,
}

impl Default for InstanceOptions {
    fn default() -> Self {
        InstanceOptions { second_eni: true, profile: true, asg: true, exempt: false }
    }
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

impl Network {
    pub async fn create(config: &SdkConfig) -> Network {
        let ec2 = aws_sdk_ec2::Client::new(config);
        let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await.expect("CreateVpc");
        let vpc = vpc.vpc().and_then(|v| v.vpc_id()).expect("vpc id").to_owned();
        let subnet = ec2.create_subnet().vpc_id(&vpc).cidr_block("10.0.1.0/24").send().await.expect("CreateSubnet");
        let subnet = subnet.subnet().and_then(|s| s.subnet_id()).expect("subnet id").to_owned();
        let mut groups = Vec::new();
        for name in ["web", "admin"] {
            let g = ec2
                .create_security_group()
                .group_name(unique(name))
                .description(format!("{name} tier"))
                .vpc_id(&vpc)
                .send()
                .await
                .expect("CreateSecurityGroup");
            groups.push(g.group_id().expect("group id").to_owned());
        }
        Network { vpc, subnet, web_group: groups[0].clone(), admin_group: groups[1].clone() }
    }

    /// Launches an instance on the web group with shutdown behaviour
    /// `terminate`, then adds what `options` asks for.
    pub async fn instance(&self, config: &SdkConfig, options: InstanceOptions) -> Instance {
        let ec2 = aws_sdk_ec2::Client::new(config);
        let mut tags = vec![tag("Name", &unique("web-app"))];
        if options.exempt {
            tags.push(tag("guardduty-responder:exempt", "true"));
        }
        let run = ec2
            .run_instances()
            .image_id("ami-12c6146b")
            .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
            .min_count(1)
            .max_count(1)
            .subnet_id(&self.subnet)
            .security_group_ids(&self.web_group)
            .instance_initiated_shutdown_behavior(ShutdownBehavior::Terminate)
            // IMDSv1 allowed, two hops: what quarantine tightens and release restores.
            .metadata_options(
                aws_sdk_ec2::types::InstanceMetadataOptionsRequest::builder()
                    .http_tokens(aws_sdk_ec2::types::HttpTokensState::Optional)
                    .http_put_response_hop_limit(2)
                    .build(),
            )
            .tag_specifications(
                TagSpecification::builder().resource_type(ResourceType::Instance).set_tags(Some(tags)).build(),
            )
            .send()
            .await
            .expect("RunInstances");
        let instance = run.instances().first().expect("one instance");
        let id = instance.instance_id().expect("instance id").to_owned();
        let primary_eni = instance
            .network_interfaces()
            .first()
            .and_then(|n| n.network_interface_id())
            .expect("primary ENI")
            .to_owned();
        let volume = instance
            .block_device_mappings()
            .first()
            .and_then(|m| m.ebs())
            .and_then(|e| e.volume_id())
            .expect("root volume")
            .to_owned();

        let secondary_eni = if options.second_eni {
            let eni = ec2
                .create_network_interface()
                .subnet_id(&self.subnet)
                .groups(&self.web_group)
                .groups(&self.admin_group)
                .send()
                .await
                .expect("CreateNetworkInterface");
            let eni = eni.network_interface().and_then(|n| n.network_interface_id()).expect("eni id").to_owned();
            ec2.attach_network_interface()
                .network_interface_id(&eni)
                .instance_id(&id)
                .device_index(1)
                .send()
                .await
                .expect("AttachNetworkInterface");
            Some(eni)
        } else {
            None
        };

        let profile_arn = if options.profile { Some(attach_profile(config, &id).await) } else { None };
        let asg = if options.asg { Some(join_asg(config, &id, &self.subnet).await) } else { None };
        Instance { id, primary_eni, secondary_eni, volume, profile_arn, asg }
    }
}

async fn attach_profile(config: &SdkConfig, instance_id: &str) -> String {
    let iam = aws_sdk_iam::Client::new(config);
    let ec2 = aws_sdk_ec2::Client::new(config);
    let name = unique("web-app");
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    iam.create_role().role_name(&name).assume_role_policy_document(trust).send().await.expect("CreateRole");
    let profile =
        iam.create_instance_profile().instance_profile_name(&name).send().await.expect("CreateInstanceProfile");
    let arn = profile.instance_profile().map(|p| p.arn().to_owned()).expect("profile arn");
    iam.add_role_to_instance_profile()
        .instance_profile_name(&name)
        .role_name(&name)
        .send()
        .await
        .expect("AddRoleToInstanceProfile");
    ec2.associate_iam_instance_profile()
        .instance_id(instance_id)
        .iam_instance_profile(aws_sdk_ec2::types::IamInstanceProfileSpecification::builder().arn(&arn).build())
        .send()
        .await
        .expect("AssociateIamInstanceProfile");
    arn
}

async fn join_asg(config: &SdkConfig, instance_id: &str, subnet: &str) -> String {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let asg = aws_sdk_autoscaling::Client::new(config);
    let name = unique("web-asg");
    ec2.create_launch_template()
        .launch_template_name(&name)
        .launch_template_data(
            aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .image_id("ami-12c6146b")
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                .build(),
        )
        .send()
        .await
        .expect("CreateLaunchTemplate");
    asg.create_auto_scaling_group()
        .auto_scaling_group_name(&name)
        .launch_template(
            aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                .launch_template_name(&name)
                .version("$Latest")
                .build(),
        )
        .min_size(0)
        .max_size(3)
        .desired_capacity(0)
        .vpc_zone_identifier(subnet)
        .send()
        .await
        .expect("CreateAutoScalingGroup");
    asg.attach_instances()
        .auto_scaling_group_name(&name)
        .instance_ids(instance_id)
        .send()
        .await
        .expect("AttachInstances");
    name
}

/// The groups an ENI is on now.
pub async fn eni_groups(config: &SdkConfig, eni: &str) -> Vec<String> {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let out =
        ec2.describe_network_interfaces().network_interface_ids(eni).send().await.expect("DescribeNetworkInterfaces");
    let mut groups: Vec<String> = out
        .network_interfaces()
        .iter()
        .flat_map(|n| n.groups())
        .filter_map(|g| g.group_id().map(str::to_owned))
        .collect();
    groups.sort();
    groups
}

/// The responder's groups of `role` (`isolation`, `untrack`) in `vpc`.
pub async fn responder_groups(config: &SdkConfig, vpc: &str, role: &str) -> Vec<aws_sdk_ec2::types::SecurityGroup> {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let f = |n: &str, v: &str| aws_sdk_ec2::types::Filter::builder().name(n).values(v).build();
    ec2.describe_security_groups()
        .filters(f("vpc-id", vpc))
        .filters(f("tag:guardduty-responder:group", role))
        .send()
        .await
        .expect("DescribeSecurityGroups")
        .security_groups()
        .to_vec()
}

pub async fn termination_protection(config: &SdkConfig, id: &str) -> bool {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let out = ec2
        .describe_instance_attribute()
        .instance_id(id)
        .attribute(InstanceAttributeName::DisableApiTermination)
        .send()
        .await
        .expect("DescribeInstanceAttribute");
    out.disable_api_termination().and_then(|v| v.value()).expect("the attribute's value")
}

/// The instance's `HttpTokens`, hop limit, and each device's DeleteOnTermination.
pub async fn metadata_and_volumes(config: &SdkConfig, id: &str) -> (String, i32, Vec<(String, bool)>) {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let out = ec2.describe_instances().instance_ids(id).send().await.expect("DescribeInstances");
    let instance = out.reservations().iter().flat_map(|r| r.instances()).next().expect("the instance").clone();
    let m = instance.metadata_options().expect("metadata options");
    let volumes = instance
        .block_device_mappings()
        .iter()
        .map(|b| {
            (
                b.device_name().unwrap_or_default().to_owned(),
                b.ebs().and_then(|e| e.delete_on_termination()).unwrap_or(false),
            )
        })
        .collect();
    (
        m.http_tokens().map(|t| t.as_str().to_owned()).unwrap_or_default(),
        m.http_put_response_hop_limit().unwrap_or_default(),
        volumes,
    )
}

pub async fn shutdown_behavior(config: &SdkConfig, id: &str) -> String {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let out = ec2
        .describe_instance_attribute()
        .instance_id(id)
        .attribute(InstanceAttributeName::InstanceInitiatedShutdownBehavior)
        .send()
        .await
        .expect("DescribeInstanceAttribute");
    out.instance_initiated_shutdown_behavior().and_then(|v| v.value()).expect("the attribute's value").to_owned()
}

pub async fn profile_of(config: &SdkConfig, id: &str) -> Option<String> {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let out = ec2
        .describe_iam_instance_profile_associations()
        .filters(aws_sdk_ec2::types::Filter::builder().name("instance-id").values(id).build())
        .send()
        .await
        .expect("DescribeIamInstanceProfileAssociations");
    out.iam_instance_profile_associations()
        .iter()
        .filter(|a| a.state().map(|s| s.as_str()) == Some("associated"))
        .find_map(|a| a.iam_instance_profile().and_then(|p| p.arn()).map(str::to_owned))
}

pub async fn asg_of(config: &SdkConfig, id: &str) -> Option<String> {
    let asg = aws_sdk_autoscaling::Client::new(config);
    let out =
        asg.describe_auto_scaling_instances().instance_ids(id).send().await.expect("DescribeAutoScalingInstances");
    out.auto_scaling_instances().first().and_then(|i| i.auto_scaling_group_name()).map(str::to_owned)
}

pub async fn snapshots_of(config: &SdkConfig, volume: &str) -> Vec<String> {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let out = ec2
        .describe_snapshots()
        .owner_ids("self")
        .filters(aws_sdk_ec2::types::Filter::builder().name("volume-id").values(volume).build())
        .send()
        .await
        .expect("DescribeSnapshots");
    out.snapshots().iter().filter_map(|s| s.snapshot_id().map(str::to_owned)).collect()
}

pub async fn instance_tags(config: &SdkConfig, id: &str) -> std::collections::BTreeMap<String, String> {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let out = ec2.describe_instances().instance_ids(id).send().await.expect("DescribeInstances");
    out.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .flat_map(|i| i.tags())
        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
        .collect()
}

/// An IAM user with `active` active and `inactive` inactive access keys
/// (IAM allows two in all), and a console password when `password`.
pub async fn iam_user(
    config: &SdkConfig,
    active: usize,
    inactive: usize,
    password: bool,
) -> (String, Vec<String>, Vec<String>) {
    let iam = aws_sdk_iam::Client::new(config);
    let name = unique("ci-deployer");
    iam.create_user().user_name(&name).send().await.expect("CreateUser");
    let mut ids = Vec::new();
    for _ in 0..active + inactive {
        let key = iam.create_access_key().user_name(&name).send().await.expect("CreateAccessKey");
        ids.push(key.access_key().map(|k| k.access_key_id().to_owned()).expect("key id"));
    }
    let dormant = ids.split_off(active);
    for key in &dormant {
        iam.update_access_key()
            .user_name(&name)
            .access_key_id(key)
            .status(aws_sdk_iam::types::StatusType::Inactive)
            .send()
            .await
            .expect("UpdateAccessKey");
    }
    if password {
        iam.create_login_profile()
            .user_name(&name)
            .password("Correct-Horse-Battery-9")
            .send()
            .await
            .expect("CreateLoginProfile");
    }
    (name, ids, dormant)
}

/// The user's tags, key → value.
pub async fn user_tags(config: &SdkConfig, user: &str) -> std::collections::BTreeMap<String, String> {
    let iam = aws_sdk_iam::Client::new(config);
    let out = iam.list_user_tags().user_name(user).send().await.expect("ListUserTags");
    out.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()
}

/// An IAM role at `path` trusted by EC2.
pub async fn iam_role(config: &SdkConfig, prefix: &str, path: &str) -> String {
    let iam = aws_sdk_iam::Client::new(config);
    let name = unique(prefix);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    iam.create_role().role_name(&name).path(path).assume_role_policy_document(trust).send().await.expect("CreateRole");
    name
}

/// Key id → active, for every key of the user.
pub async fn key_states(config: &SdkConfig, user: &str) -> std::collections::BTreeMap<String, bool> {
    let iam = aws_sdk_iam::Client::new(config);
    let out = iam.list_access_keys().user_name(user).send().await.expect("ListAccessKeys");
    out.access_key_metadata()
        .iter()
        .filter_map(|k| {
            Some((k.access_key_id()?.to_owned(), k.status() == Some(&aws_sdk_iam::types::StatusType::Active)))
        })
        .collect()
}

/// What an IAM read found: `NoSuchEntity` is the one answer that means
/// "absent"; any other error (denied, throttled, an emulator fault) fails the
/// test, so an absence assertion cannot pass on a call that never worked.
fn present<T, E>(what: &str, result: Result<T, aws_sdk_iam::error::SdkError<E>>) -> Option<T>
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::fmt::Debug,
{
    use aws_sdk_iam::error::ProvideErrorMetadata;
    match result {
        Ok(out) => Some(out),
        Err(e) if e.code() == Some("NoSuchEntity") => None,
        Err(e) => panic!("{what}: {:?} {:?} ({e:?})", e.code(), e.message()),
    }
}

pub async fn has_login_profile(config: &SdkConfig, user: &str) -> bool {
    let iam = aws_sdk_iam::Client::new(config);
    present("GetLoginProfile", iam.get_login_profile().user_name(user).send().await).is_some()
}

pub async fn user_policy(config: &SdkConfig, user: &str, policy: &str) -> Option<String> {
    let iam = aws_sdk_iam::Client::new(config);
    let out = present("GetUserPolicy", iam.get_user_policy().user_name(user).policy_name(policy).send().await)?;
    Some(out.policy_document().to_owned())
}

pub async fn role_policy(config: &SdkConfig, role: &str, policy: &str) -> Option<String> {
    let iam = aws_sdk_iam::Client::new(config);
    let out = present("GetRolePolicy", iam.get_role_policy().role_name(role).policy_name(policy).send().await)?;
    Some(out.policy_document().to_owned())
}

/// Creates an S3 bucket in the emulator with a bare path-style request (as
/// a trail's destination, and before IAM enforcement starts).
pub fn bucket(endpoint: &str, name: &str) {
    crate::bare_request(endpoint, "PUT", &format!("/{name}"), "");
}

/// A trail named `name` writing to a new bucket, logging.
pub async fn trail(config: &SdkConfig, endpoint: &str, name: &str) -> String {
    let bucket_name = unique("trail-logs").to_lowercase();
    bucket(endpoint, &bucket_name);
    trail_to(config, name, &bucket_name).await
}

/// A trail named `name` writing to the existing bucket `bucket_name`, logging.
pub async fn trail_to(config: &SdkConfig, name: &str, bucket_name: &str) -> String {
    let ct = aws_sdk_cloudtrail::Client::new(config);
    let out = ct.create_trail().name(name).s3_bucket_name(bucket_name).send().await.expect("CreateTrail");
    ct.start_logging().name(name).send().await.expect("StartLogging");
    out.trail_arn().unwrap_or_default().to_owned()
}

pub async fn trail_logging(config: &SdkConfig, name: &str) -> bool {
    let ct = aws_sdk_cloudtrail::Client::new(config);
    ct.get_trail_status().name(name).send().await.expect("GetTrailStatus").is_logging().unwrap_or(false)
}

pub async fn stop_trail(config: &SdkConfig, name: &str) {
    let ct = aws_sdk_cloudtrail::Client::new(config);
    ct.stop_logging().name(name).send().await.expect("StopLogging");
}

/// A topic with an SQS queue subscribed to it: (topic ARN, queue URL).
pub async fn topic_with_queue(config: &SdkConfig) -> (String, String) {
    let sns = aws_sdk_sns::Client::new(config);
    let sqs = aws_sdk_sqs::Client::new(config);
    let name = unique("alerts");
    let topic =
        sns.create_topic().name(&name).send().await.expect("CreateTopic").topic_arn().unwrap_or_default().to_owned();
    let queue = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("CreateQueue")
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("GetQueueAttributes");
    let queue_arn = attrs
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .cloned()
        .unwrap_or_default();
    sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(queue_arn).send().await.expect("Subscribe");
    (topic, queue)
}

/// Every SNS notification in the queue (the SNS envelopes, as JSON), waiting
/// up to `seconds` for at least `at_least` of them.
pub async fn notifications(config: &SdkConfig, queue: &str, at_least: usize, seconds: u64) -> Vec<serde_json::Value> {
    let sqs = aws_sdk_sqs::Client::new(config);
    let mut all = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        let out = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("ReceiveMessage");
        for m in out.messages() {
            if let Some(body) = m.body() {
                all.push(serde_json::from_str(body).expect("SNS envelope"));
            }
            if let Some(handle) = m.receipt_handle() {
                sqs.delete_message().queue_url(queue).receipt_handle(handle).send().await.expect("DeleteMessage");
            }
        }
        if all.len() >= at_least && out.messages().is_empty() || std::time::Instant::now() > deadline {
            return all;
        }
    }
}

/// SDK configuration acting in another `account` of the emulator, as its
/// administrator: `OrganizationAccountAccessRole` there (which AWS
/// Organizations creates in the accounts it makes), assumed from `home`. The
/// emulator gives each account id its own state.
pub async fn as_account(home: &SdkConfig, account: &str) -> SdkConfig {
    let sts = aws_sdk_sts::Client::new(home);
    let out = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/OrganizationAccountAccessRole"))
        .role_session_name("seed")
        .send()
        .await
        .expect("AssumeRole");
    let c = out.credentials().expect("credentials");
    let creds = aws_credential_types::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "seed",
    );
    home.to_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
        .build()
}

/// The member role of `infra/member-role.yaml` in the account `member`
/// acts in: trusted by the security account `home_account`, only with
/// `external_id`.
pub async fn member_role(member: &SdkConfig, home_account: &str, name: &str, external_id: &str) -> String {
    let iam = aws_sdk_iam::Client::new(member);
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{home_account}:root") },
            "Action": "sts:AssumeRole",
            "Condition": { "StringEquals": { "sts:ExternalId": external_id } }
        }]
    });
    let out = iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .expect("CreateRole (member role)");
    out.role().map(|r| r.arn().to_owned()).expect("role arn")
}

pub fn s3(config: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(true).build())
}

/// A new bucket with `tags` and, when given, a public access block of
/// (BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets).
pub async fn tagged_bucket(config: &SdkConfig, tags: &[(&str, &str)], block: Option<[bool; 4]>) -> String {
    use aws_sdk_s3::types::{PublicAccessBlockConfiguration, Tag, Tagging};
    let name = unique("exports").to_lowercase();
    let s3 = s3(config);
    s3.create_bucket().bucket(&name).send().await.expect("CreateBucket");
    if !tags.is_empty() {
        let set = tags.iter().map(|(k, v)| Tag::builder().key(*k).value(*v).build().expect("tag")).collect();
        let tagging = Tagging::builder().set_tag_set(Some(set)).build().expect("tagging");
        s3.put_bucket_tagging().bucket(&name).tagging(tagging).send().await.expect("PutBucketTagging");
    }
    if let Some([a, b, c, d]) = block {
        let config = PublicAccessBlockConfiguration::builder()
            .block_public_acls(a)
            .ignore_public_acls(b)
            .block_public_policy(c)
            .restrict_public_buckets(d)
            .build();
        s3.put_public_access_block()
            .bucket(&name)
            .public_access_block_configuration(config)
            .send()
            .await
            .expect("PutPublicAccessBlock");
    }
    name
}

/// The bucket's public access block as the four settings, `None` when it has none.
pub async fn public_access_block(config: &SdkConfig, bucket: &str) -> Option<[bool; 4]> {
    match s3(config).get_public_access_block().bucket(bucket).send().await {
        Ok(out) => {
            let c = out.public_access_block_configuration().expect("a configuration");
            Some([
                c.block_public_acls().unwrap_or(false),
                c.ignore_public_acls().unwrap_or(false),
                c.block_public_policy().unwrap_or(false),
                c.restrict_public_buckets().unwrap_or(false),
            ])
        }
        Err(e) => {
            let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e).map(str::to_owned);
            assert_eq!(code.as_deref(), Some("NoSuchPublicAccessBlockConfiguration"), "{e:?}");
            None
        }
    }
}

/// The S3 public access block of the account `config` calls in (the
/// emulator's default account), `None` when it has none.
pub async fn account_public_access_block(config: &SdkConfig) -> Option<[bool; 4]> {
    let s3control = aws_sdk_s3control::Client::new(config);
    match s3control.get_public_access_block().account_id("123456789012").send().await {
        Ok(out) => {
            let c = out.public_access_block_configuration().expect("a configuration");
            Some([
                c.block_public_acls().unwrap_or(false),
                c.ignore_public_acls().unwrap_or(false),
                c.block_public_policy().unwrap_or(false),
                c.restrict_public_buckets().unwrap_or(false),
            ])
        }
        Err(e) => {
            let code = aws_sdk_s3control::error::ProvideErrorMetadata::code(&e).map(str::to_owned);
            assert_eq!(code.as_deref(), Some("NoSuchPublicAccessBlockConfiguration"), "{e:?}");
            None
        }
    }
}

/// Gives the account back no S3 public access block and no record of the
/// responder's (the account's block is one per account: tests that change it
/// start from here, one at a time).
pub async fn reset_account_block(config: &SdkConfig) {
    let s3control = aws_sdk_s3control::Client::new(config);
    let account = aws_sdk_sts::Client::new(config).get_caller_identity().send().await.expect("identity");
    let _ = s3control.delete_public_access_block().account_id(account.account().unwrap_or_default()).send().await;
    let ssm = aws_sdk_ssm::Client::new(config);
    let _ = ssm.delete_parameter().name(responder_s3::account::RECORD_PARAMETER).send().await;
}

/// The bucket's tags.
pub async fn bucket_tags(config: &SdkConfig, bucket: &str) -> std::collections::BTreeMap<String, String> {
    match s3(config).get_bucket_tagging().bucket(bucket).send().await {
        Ok(out) => out.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect(),
        Err(e) => {
            let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e).map(str::to_owned);
            assert_eq!(code.as_deref(), Some("NoSuchTagSet"), "{e:?}");
            Default::default()
        }
    }
}

/// What [`lambda_function`] made: the function, its role, a mapping from an
/// SQS queue (enabled) and a second one (disabled by its owner).
#[derive(Debug, Clone)]
pub struct LambdaWorld {
    pub function: String,
    pub role: String,
    pub enabled_mapping: String,
    pub disabled_mapping: String,
}

/// A function (code: an empty zip) running as `role` (made when `None`),
/// with a public URL when `public_url`, reserved concurrency when given,
/// and two SQS event source mappings, one of them disabled.
pub async fn lambda_function(
    config: &SdkConfig,
    role: Option<&str>,
    public_url: bool,
    concurrency: Option<i32>,
) -> LambdaWorld {
    use aws_sdk_lambda::types::{FunctionCode, FunctionUrlAuthType, Runtime};
    let role = match role {
        Some(r) => r.to_owned(),
        None => {
            let iam = aws_sdk_iam::Client::new(config);
            let name = unique("fn-role");
            let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
            iam.create_role().role_name(&name).assume_role_policy_document(trust).send().await.expect("CreateRole");
            name
        }
    };
    let account = aws_sdk_sts::Client::new(config).get_caller_identity().send().await.expect("identity");
    let role_arn = format!("arn:aws:iam::{}:role/{role}", account.account().unwrap_or_default());
    let lambda = aws_sdk_lambda::Client::new(config);
    let name = unique("order-processor");
    // An empty zip archive: the end-of-central-directory record alone.
    let mut zip = vec![0x50, 0x4b, 0x05, 0x06];
    zip.extend([0u8; 18]);
    lambda
        .create_function()
        .function_name(&name)
        .runtime(Runtime::Providedal2023)
        .role(&role_arn)
        .handler("bootstrap")
        .code(FunctionCode::builder().zip_file(aws_smithy_types::Blob::new(zip)).build())
        .tags("app", "orders")
        .send()
        .await
        .expect("CreateFunction");
    if let Some(n) = concurrency {
        lambda
            .put_function_concurrency()
            .function_name(&name)
            .reserved_concurrent_executions(n)
            .send()
            .await
            .expect("concurrency");
    }
    if public_url {
        lambda
            .create_function_url_config()
            .function_name(&name)
            .auth_type(FunctionUrlAuthType::None)
            .send()
            .await
            .expect("CreateFunctionUrlConfig");
    }
    let sqs = aws_sdk_sqs::Client::new(config);
    let mut mappings = Vec::new();
    for enabled in [true, false] {
        let queue = sqs.create_queue().queue_name(unique("orders")).send().await.expect("CreateQueue");
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(queue.queue_url().unwrap_or_default())
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("GetQueueAttributes");
        let arn = attrs
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .cloned()
            .expect("queue arn");
        let mapping = lambda
            .create_event_source_mapping()
            .function_name(&name)
            .event_source_arn(arn)
            .enabled(enabled)
            .send()
            .await
            .expect("CreateEventSourceMapping");
        mappings.push(mapping.uuid().unwrap_or_default().to_owned());
    }
    LambdaWorld { function: name, role, enabled_mapping: mappings[0].clone(), disabled_mapping: mappings[1].clone() }
}

/// A function's reserved concurrency, mapping states by UUID, URL auth type and tags.
pub async fn lambda_state(
    config: &SdkConfig,
    function: &str,
) -> (Option<i32>, std::collections::BTreeMap<String, String>, Option<String>, std::collections::BTreeMap<String, String>)
{
    let lambda = aws_sdk_lambda::Client::new(config);
    let concurrency = lambda.get_function_concurrency().function_name(function).send().await.expect("concurrency");
    let mappings = lambda.list_event_source_mappings().function_name(function).send().await.expect("mappings");
    let states = mappings
        .event_source_mappings()
        .iter()
        .map(|m| (m.uuid().unwrap_or_default().to_owned(), m.state().unwrap_or_default().to_owned()))
        .collect();
    let url = lambda
        .get_function_url_config()
        .function_name(function)
        .send()
        .await
        .ok()
        .map(|u| u.auth_type().as_str().to_owned());
    let got = lambda.get_function().function_name(function).send().await.expect("GetFunction");
    let tags = got.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
    (concurrency.reserved_concurrent_executions(), states, url, tags)
}

/// A database in `net`'s VPC on its web and admin groups, publicly
/// accessible; with `aurora`, a member of a new Aurora cluster (whose
/// groups those are). Returns the instance id and the cluster id.
pub async fn database(config: &SdkConfig, net: &Network, aurora: bool) -> (String, Option<String>) {
    let rds = aws_sdk_rds::Client::new(config);
    let subnets = unique("db-subnets");
    rds.create_db_subnet_group()
        .db_subnet_group_name(&subnets)
        .db_subnet_group_description("database subnets")
        .subnet_ids(&net.subnet)
        .send()
        .await
        .expect("CreateDBSubnetGroup");
    let groups = vec![net.web_group.clone(), net.admin_group.clone()];
    let id = unique("orders-db");
    if !aurora {
        rds.create_db_instance()
            .db_instance_identifier(&id)
            .db_instance_class("db.t3.micro")
            .engine("postgres")
            .db_subnet_group_name(&subnets)
            .set_vpc_security_group_ids(Some(groups))
            .publicly_accessible(true)
            .tags(aws_sdk_rds::types::Tag::builder().key("app").value("orders").build())
            .send()
            .await
            .expect("CreateDBInstance");
        return (id, None);
    }
    let cluster = unique("orders-aurora");
    rds.create_db_cluster()
        .db_cluster_identifier(&cluster)
        .engine("aurora-postgresql")
        .master_username("postgres")
        .master_user_password("Correct-Horse-Battery-9")
        .db_subnet_group_name(&subnets)
        .set_vpc_security_group_ids(Some(groups))
        .send()
        .await
        .expect("CreateDBCluster");
    rds.create_db_instance()
        .db_instance_identifier(&id)
        .db_instance_class("db.r6g.large")
        .engine("aurora-postgresql")
        .db_cluster_identifier(&cluster)
        .publicly_accessible(true)
        .send()
        .await
        .expect("CreateDBInstance (member)");
    (id, Some(cluster))
}

/// The security groups that decide the database's access (its cluster's for
/// a member), whether it is publicly accessible, and its tags.
pub async fn database_state(
    config: &SdkConfig,
    id: &str,
) -> (Vec<String>, bool, std::collections::BTreeMap<String, String>) {
    let rds = aws_sdk_rds::Client::new(config);
    let out = rds.describe_db_instances().db_instance_identifier(id).send().await.expect("DescribeDBInstances");
    let db = out.db_instances().first().expect("the instance").clone();
    let groups = match db.db_cluster_identifier() {
        Some(c) => {
            let out = rds.describe_db_clusters().db_cluster_identifier(c).send().await.expect("DescribeDBClusters");
            out.db_clusters().first().expect("the cluster").vpc_security_groups().to_vec()
        }
        None => db.vpc_security_groups().to_vec(),
    };
    let mut groups: Vec<String> = groups.iter().filter_map(|g| g.vpc_security_group_id()).map(str::to_owned).collect();
    groups.sort();
    let tags = db.tag_list().iter().filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned()))).collect();
    (groups, db.publicly_accessible().unwrap_or(false), tags)
}

/// The snapshots (instance and cluster) whose name starts with `prefix`.
pub async fn database_snapshots(config: &SdkConfig, prefix: &str) -> Vec<String> {
    let rds = aws_sdk_rds::Client::new(config);
    let a = rds.describe_db_snapshots().send().await.expect("DescribeDBSnapshots");
    let b = rds.describe_db_cluster_snapshots().send().await.expect("DescribeDBClusterSnapshots");
    a.db_snapshots()
        .iter()
        .filter_map(|s| s.db_snapshot_identifier())
        .chain(b.db_cluster_snapshots().iter().filter_map(|s| s.db_cluster_snapshot_identifier()))
        .filter(|n| n.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

/// The security account's evidence store as the template makes it: a KMS
/// key, and a versioned bucket with Object Lock whose default retention
/// (compliance, one day) locks every version written. Answers (bucket, key ARN).
pub async fn evidence_store(config: &SdkConfig) -> (String, String) {
    use aws_sdk_s3::types::{
        BucketVersioningStatus, DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode,
        ObjectLockRule, VersioningConfiguration,
    };
    let kms = aws_sdk_kms::Client::new(config);
    let key = kms.create_key().description("evidence").send().await.expect("CreateKey");
    let key_arn = key.key_metadata().and_then(|m| m.arn()).expect("key arn").to_owned();
    let name = unique("evidence").to_lowercase();
    let s3 = s3(config);
    s3.create_bucket().bucket(&name).object_lock_enabled_for_bucket(true).send().await.expect("CreateBucket");
    s3.put_bucket_versioning()
        .bucket(&name)
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .expect("PutBucketVersioning");
    let lock = ObjectLockConfiguration::builder()
        .object_lock_enabled(ObjectLockEnabled::Enabled)
        .rule(
            ObjectLockRule::builder()
                .default_retention(
                    DefaultRetention::builder().mode(ObjectLockRetentionMode::Compliance).days(1).build(),
                )
                .build(),
        )
        .build();
    s3.put_object_lock_configuration()
        .bucket(&name)
        .object_lock_configuration(lock)
        .send()
        .await
        .expect("PutObjectLockConfiguration");
    (name, key_arn)
}

/// An object's bytes and version id, `None` when that version is gone.
pub async fn object(
    config: &SdkConfig,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Option<(Vec<u8>, Option<String>)> {
    let out =
        s3(config).get_object().bucket(bucket).key(key).set_version_id(version.map(str::to_owned)).send().await.ok()?;
    let version = out.version_id().map(str::to_owned);
    let bytes = out.body.collect().await.expect("body").into_bytes().to_vec();
    Some((bytes, version))
}

/// Writes `bytes` to `key`; answers the new version id.
pub async fn put_object(config: &SdkConfig, bucket: &str, key: &str, bytes: &[u8]) -> String {
    let out = s3(config)
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from(bytes.to_vec()))
        .send()
        .await
        .expect("PutObject");
    out.version_id().unwrap_or("null").to_owned()
}

/// A new versioned bucket.
pub async fn versioned_bucket(config: &SdkConfig) -> String {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let name = unique("uploads").to_lowercase();
    let s3 = s3(config);
    s3.create_bucket().bucket(&name).send().await.expect("CreateBucket");
    s3.put_bucket_versioning()
        .bucket(&name)
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .expect("PutBucketVersioning");
    name
}

/// The tags of one object version.
pub async fn object_tags(
    config: &SdkConfig,
    bucket: &str,
    key: &str,
    version: &str,
) -> std::collections::BTreeMap<String, String> {
    let out = s3(config)
        .get_object_tagging()
        .bucket(bucket)
        .key(key)
        .version_id(version)
        .send()
        .await
        .expect("GetObjectTagging");
    out.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()
}

/// Deletes one version: the answer's error code when refused.
pub async fn delete_version(config: &SdkConfig, bucket: &str, key: &str, version: &str) -> Result<(), String> {
    s3(config)
        .delete_object()
        .bucket(bucket)
        .key(key)
        .version_id(version)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e).unwrap_or("?").to_owned())
}

/// A target group of type instance in `vpc` and a classic load balancer,
/// both serving `instance` (the target group on port 8080).
pub async fn load_balancers(config: &SdkConfig, net: &Network, instance: &str) -> (String, String) {
    use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetDescription, TargetTypeEnum};
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(config);
    let group = elbv2
        .create_target_group()
        .name(unique("web").chars().take(32).collect::<String>())
        .protocol(ProtocolEnum::Http)
        .port(80)
        .vpc_id(&net.vpc)
        .target_type(TargetTypeEnum::Instance)
        .send()
        .await
        .expect("CreateTargetGroup");
    let group = group.target_groups().first().and_then(|g| g.target_group_arn()).expect("target group").to_owned();
    elbv2
        .register_targets()
        .target_group_arn(&group)
        .targets(TargetDescription::builder().id(instance).port(8080).build())
        .send()
        .await
        .expect("RegisterTargets");
    let elb = aws_sdk_elasticloadbalancing::Client::new(config);
    let name = unique("legacy").chars().take(32).collect::<String>();
    elb.create_load_balancer()
        .load_balancer_name(&name)
        .listeners(
            aws_sdk_elasticloadbalancing::types::Listener::builder()
                .protocol("HTTP")
                .load_balancer_port(80)
                .instance_port(8080)
                .build()
                .expect("listener"),
        )
        .subnets(&net.subnet)
        .send()
        .await
        .expect("CreateLoadBalancer");
    elb.register_instances_with_load_balancer()
        .load_balancer_name(&name)
        .instances(aws_sdk_elasticloadbalancing::types::Instance::builder().instance_id(instance).build())
        .send()
        .await
        .expect("RegisterInstancesWithLoadBalancer");
    (group, name)
}

/// Who serves `instance`: its (target id, port) in `group`, and whether the
/// classic load balancer `name` lists it.
pub async fn served_by(config: &SdkConfig, group: &str, name: &str, instance: &str) -> (Vec<(String, i32)>, bool) {
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(config);
    let health = elbv2.describe_target_health().target_group_arn(group).send().await.expect("DescribeTargetHealth");
    let targets = health
        .target_health_descriptions()
        .iter()
        .filter_map(|d| d.target())
        .filter(|t| t.id() == Some(instance))
        .map(|t| (instance.to_owned(), t.port().unwrap_or_default()))
        .collect();
    let elb = aws_sdk_elasticloadbalancing::Client::new(config);
    let lbs = elb.describe_load_balancers().load_balancer_names(name).send().await.expect("DescribeLoadBalancers");
    let classic =
        lbs.load_balancer_descriptions().iter().flat_map(|d| d.instances()).any(|i| i.instance_id() == Some(instance));
    (targets, classic)
}

/// Account ids (and `all`) that may create volumes from a snapshot.
pub async fn snapshot_shared_with(config: &SdkConfig, snapshot: &str) -> Vec<String> {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let out = ec2
        .describe_snapshot_attribute()
        .snapshot_id(snapshot)
        .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
        .send()
        .await
        .expect("DescribeSnapshotAttribute");
    let mut who: Vec<String> = out
        .create_volume_permissions()
        .iter()
        .filter_map(|p| p.user_id().map(str::to_owned).or_else(|| p.group().map(|g| g.as_str().to_owned())))
        .collect();
    who.sort();
    who
}

/// The account outside the organization the seeded snapshots and images are
/// shared with.
pub const OUTSIDER: &str = "999988887777";

/// A snapshot of `volume`, shared with [`OUTSIDER`] and with everyone: what
/// the malware-in-a-snapshot playbook unshares.
pub async fn shared_snapshot(config: &SdkConfig, volume: &str) -> String {
    use aws_sdk_ec2::types::{CreateVolumePermission, CreateVolumePermissionModifications, PermissionGroup};
    let ec2 = aws_sdk_ec2::Client::new(config);
    let snapshot = ec2.create_snapshot().volume_id(volume).send().await.expect("CreateSnapshot");
    let snapshot = snapshot.snapshot_id().expect("snapshot id").to_owned();
    let share = CreateVolumePermissionModifications::builder()
        .add(CreateVolumePermission::builder().user_id(OUTSIDER).build())
        .add(CreateVolumePermission::builder().group(PermissionGroup::All).build())
        .build();
    ec2.modify_snapshot_attribute()
        .snapshot_id(&snapshot)
        .create_volume_permission(share)
        .send()
        .await
        .expect("ModifySnapshotAttribute");
    snapshot
}

/// An image of `instance`, launchable by [`OUTSIDER`].
pub async fn shared_image(config: &SdkConfig, instance: &str) -> String {
    use aws_sdk_ec2::types::{LaunchPermission, LaunchPermissionModifications};
    let ec2 = aws_sdk_ec2::Client::new(config);
    let image = ec2.create_image().instance_id(instance).name(unique("golden")).send().await.expect("CreateImage");
    let image = image.image_id().expect("image id").to_owned();
    let launch =
        LaunchPermissionModifications::builder().add(LaunchPermission::builder().user_id(OUTSIDER).build()).build();
    ec2.modify_image_attribute().image_id(&image).launch_permission(launch).send().await.expect("ModifyImageAttribute");
    image
}

/// Imports the Security Hub copy of the GuardDuty finding of `event`, as
/// GuardDuty's integration does: its id is the finding's ARN.
pub async fn security_hub_copy(config: &SdkConfig, event: &[u8]) -> String {
    use aws_sdk_securityhub::types::{AwsSecurityFinding, Resource, Severity, SeverityLabel};
    let event: serde_json::Value = serde_json::from_slice(event).expect("event");
    let f = &event["detail"];
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let (arn, region) = (text(&f["arn"]), text(&f["region"]));
    let finding = AwsSecurityFinding::builder()
        .schema_version("2018-10-08")
        .id(&arn)
        .product_arn(format!("arn:aws:securityhub:{region}::product/aws/guardduty"))
        .generator_id(arn.split("/finding/").next().unwrap_or_default())
        .aws_account_id(text(&f["accountId"]))
        .types(format!("TTPs/{}", text(&f["type"]).replace('/', "-")))
        .created_at("2026-11-01T10:00:00.000Z")
        .updated_at("2026-11-01T10:00:00.000Z")
        .severity(Severity::builder().label(SeverityLabel::High).build())
        .title(text(&f["title"]))
        .description(text(&f["description"]))
        .resources(Resource::builder().r#type("AwsEc2Instance").id(&arn).build())
        .build();
    let client = aws_sdk_securityhub::Client::new(config);
    let out = on_a_big_stack(async move { client.batch_import_findings().findings(finding).send().await })
        .expect("BatchImportFindings");
    assert_eq!(out.failed_count(), Some(0), "{out:?}");
    arn
}

/// Runs `call` to completion on a thread of its own with an 8 MiB stack,
/// as a Lambda function's main thread has: the Security Hub SDK's finding
/// types are so large that (de)serializing them in a debug build overflows
/// a test thread's 2 MiB.
fn on_a_big_stack<T: Send + 'static>(call: impl std::future::Future<Output = T> + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(call)
        })
        .expect("a thread")
        .join()
        .expect("the call panicked")
}

/// The Security Hub copy of finding `arn`: its note, workflow status and
/// user-defined fields.
pub async fn security_hub_state(
    config: &SdkConfig,
    arn: &str,
) -> (Option<String>, Option<String>, std::collections::HashMap<String, String>) {
    let client = aws_sdk_securityhub::Client::new(config);
    let out = on_a_big_stack(async move { client.get_findings().send().await }).expect("GetFindings");
    let finding = out.findings().iter().find(|f| f.id() == Some(arn)).unwrap_or_else(|| panic!("no copy of {arn}"));
    (
        finding.note().and_then(|n| n.text()).map(str::to_owned),
        finding.workflow().and_then(|w| w.status()).map(|s| s.as_str().to_owned()),
        finding.user_defined_fields().cloned().unwrap_or_default(),
    )
}

/// GuardDuty's view of finding `id` in this account: whether it is
/// archived, and the feedback it was given.
pub async fn guardduty_finding(config: &SdkConfig, id: &str) -> (bool, Option<String>) {
    let gd = aws_sdk_guardduty::Client::new(config);
    let detectors = gd.list_detectors().send().await.expect("ListDetectors");
    let detector = detectors.detector_ids().first().expect("a detector").clone();
    let out = gd.get_findings().detector_id(detector).finding_ids(id).send().await.expect("GetFindings");
    let f = out.findings().first().unwrap_or_else(|| panic!("GuardDuty has no finding {id}"));
    let service = f.service();
    (service.and_then(|s| s.archived()).unwrap_or(false), service.and_then(|s| s.user_feedback()).map(str::to_owned))
}

/// An ECS cluster with a Fargate service's tasks (two of one image, one of
/// another) and, when asked, a container instance running a `bridge` task.
#[derive(Debug, Clone)]
pub struct EcsWorld {
    pub cluster: String,
    pub network: Network,
    pub service_arn: String,
    /// A task of the service (the one a finding names).
    pub task: String,
    /// Another running task of the same image.
    pub twin: String,
    /// A running task of another image.
    pub other: String,
    /// The EC2 launch type's: instance, container instance ARN, task ARN.
    pub ec2: Option<(Instance, String, String)>,
}

/// The image the service's tasks run.
pub const SERVICE_IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/storefront/web:2.14.1";

pub async fn ecs_world(config: &SdkConfig, with_container_instance: bool) -> EcsWorld {
    use aws_sdk_ecs::types::{
        AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition, LaunchType, NetworkConfiguration,
        NetworkMode, SettingName,
    };
    let ecs = aws_sdk_ecs::Client::new(config);
    for setting in [SettingName::TaskLongArnFormat, SettingName::ContainerInstanceLongArnFormat] {
        ecs.put_account_setting().name(setting).value("enabled").send().await.expect("PutAccountSetting");
    }
    let network = Network::create(config).await;
    let cluster = unique("prod-web");
    ecs.create_cluster().cluster_name(&cluster).send().await.expect("CreateCluster");
    let definition = |family: &str, image: &str, mode: NetworkMode| {
        ecs.register_task_definition()
            .family(family)
            .network_mode(mode.clone())
            .set_requires_compatibilities(Some(vec![if mode == NetworkMode::Awsvpc {
                Compatibility::Fargate
            } else {
                Compatibility::Ec2
            }]))
            .cpu("256")
            .memory("512")
            .container_definitions(ContainerDefinition::builder().name("web").image(image).memory(512).build())
            .send()
    };
    let web = definition(&unique("web"), SERVICE_IMAGE, NetworkMode::Awsvpc).await.expect("RegisterTaskDefinition");
    let web = web.task_definition().and_then(|d| d.task_definition_arn()).expect("definition").to_owned();
    let worker = definition(&unique("worker"), "public.ecr.aws/docker/library/busybox:1.36", NetworkMode::Awsvpc)
        .await
        .expect("RegisterTaskDefinition");
    let worker = worker.task_definition().and_then(|d| d.task_definition_arn()).expect("definition").to_owned();
    let awsvpc = NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .subnets(&network.subnet)
                .security_groups(&network.web_group)
                .assign_public_ip(AssignPublicIp::Disabled)
                .build()
                .expect("awsvpc configuration"),
        )
        .build();
    let service = ecs
        .create_service()
        .cluster(&cluster)
        .service_name("web")
        .task_definition(&web)
        .desired_count(2)
        .launch_type(LaunchType::Fargate)
        .network_configuration(awsvpc.clone())
        .send()
        .await
        .expect("CreateService");
    let service_arn = service.service().and_then(|s| s.service_arn()).expect("service arn").to_owned();
    let run = |definition: String, group: &str| {
        ecs.run_task()
            .cluster(&cluster)
            .task_definition(definition)
            .launch_type(LaunchType::Fargate)
            .group(group)
            .network_configuration(awsvpc.clone())
            .send()
    };
    let mut arns = Vec::new();
    for (definition, group) in [(&web, "service:web"), (&web, "service:web"), (&worker, "family:worker")] {
        let out = run(definition.clone(), group).await.expect("RunTask");
        arns.push(out.tasks().first().and_then(|t| t.task_arn()).expect("task arn").to_owned());
    }
    let ec2 = if with_container_instance {
        let instance = network
            .instance(config, InstanceOptions { second_eni: false, profile: false, asg: false, exempt: false })
            .await;
        let document = serde_json::json!({ "instanceId": instance.id }).to_string();
        let registered = ecs
            .register_container_instance()
            .cluster(&cluster)
            .instance_identity_document(document)
            .send()
            .await
            .expect("RegisterContainerInstance");
        let container_instance = registered
            .container_instance()
            .and_then(|c| c.container_instance_arn())
            .expect("container instance arn")
            .to_owned();
        let api = definition(&unique("api"), SERVICE_IMAGE, NetworkMode::Bridge).await.expect("RegisterTaskDefinition");
        let api = api.task_definition().and_then(|d| d.task_definition_arn()).expect("definition").to_owned();
        let task = ecs
            .run_task()
            .cluster(&cluster)
            .task_definition(api)
            .launch_type(LaunchType::Ec2)
            .group("service:api")
            .send()
            .await
            .expect("RunTask (EC2)");
        let task = task.tasks().first().and_then(|t| t.task_arn()).expect("task arn").to_owned();
        Some((instance, container_instance, task))
    } else {
        None
    };
    EcsWorld {
        cluster,
        network,
        service_arn,
        task: arns[0].clone(),
        twin: arns[1].clone(),
        other: arns[2].clone(),
        ec2,
    }
}

/// A task's last status, stopped reason and tags.
pub async fn ecs_task(config: &SdkConfig, cluster: &str, arn: &str) -> (String, String, Vec<(String, String)>) {
    let ecs = aws_sdk_ecs::Client::new(config);
    let out = ecs
        .describe_tasks()
        .cluster(cluster)
        .tasks(arn)
        .include(aws_sdk_ecs::types::TaskField::Tags)
        .send()
        .await
        .expect("DescribeTasks");
    let task = out.tasks().first().expect("the task");
    let tags =
        task.tags().iter().map(|t| (t.key().unwrap_or_default().to_owned(), t.value().unwrap_or_default().to_owned()));
    (
        task.last_status().unwrap_or_default().to_owned(),
        task.stopped_reason().unwrap_or_default().to_owned(),
        tags.collect(),
    )
}

/// A service's desired count and tags.
pub async fn ecs_service(
    config: &SdkConfig,
    cluster: &str,
    service: &str,
) -> (i32, std::collections::BTreeMap<String, String>) {
    let ecs = aws_sdk_ecs::Client::new(config);
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .include(aws_sdk_ecs::types::ServiceField::Tags)
        .send()
        .await
        .expect("DescribeServices");
    let s = out.services().first().expect("the service");
    let tags =
        s.tags().iter().map(|t| (t.key().unwrap_or_default().to_owned(), t.value().unwrap_or_default().to_owned()));
    (s.desired_count(), tags.collect())
}

/// A container instance's status and tags.
pub async fn ecs_container_instance(
    config: &SdkConfig,
    cluster: &str,
    arn: &str,
) -> (String, std::collections::BTreeMap<String, String>) {
    let ecs = aws_sdk_ecs::Client::new(config);
    let out = ecs
        .describe_container_instances()
        .cluster(cluster)
        .container_instances(arn)
        .include(aws_sdk_ecs::types::ContainerInstanceField::Tags)
        .send()
        .await
        .expect("DescribeContainerInstances");
    let c = out.container_instances().first().expect("the container instance");
    let tags =
        c.tags().iter().map(|t| (t.key().unwrap_or_default().to_owned(), t.value().unwrap_or_default().to_owned()));
    (c.status().unwrap_or_default().to_owned(), tags.collect())
}
