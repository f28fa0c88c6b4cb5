//! The fault matrix: every AWS call every playbook makes, failed in each way
//! AWS fails, against the emulator's real state.
//!
//! Its own test binary with its own emulator, emptied after every batch of
//! cases: with a few hundred worlds in it, the emulator's calls slow down
//! severalfold.
//!
//! For each playbook a healthy run is recorded first; its calls (action and
//! occurrence) are the matrix's rows, the [`Fault`] kinds its columns. Each
//! case seeds fresh resources, runs the handler with that one call failing
//! (and its retries), and asserts:
//! - the report names a failed step (or, for the publish, a failed
//!   notification), and the outcome is never `contained` unless the SDK's own
//!   retry carried the call through;
//! - a transient failure fails the invocation with the retryable error type,
//!   a denied one does not;
//! - every change to a resource came after that resource's original state was
//!   recorded;
//! - no resource is left more exposed than before the run: each ENI is on its
//!   own groups or on the isolation group alone, never on the allow-all one;
//! - a redelivery after any transient failure (throttling, a 5xx, a timeout
//!   whose request took effect) contains the resource;
//! - a release afterwards restores the state from before the run exactly.
//!
//! Calls are told apart by what they act on ([`Call::target`]), not by the
//! order they arrive in: the two ENIs of an instance are changed at once, and
//! a row must fail the same resource in every case it is run.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use aws_config::SdkConfig;
use futures::StreamExt;
use responder_aws::{HandlerError, report_of};
use responder_core::revocation::{POLICY_NAME, STOLEN_SESSIONS_POLICY};
use responder_core::{Function, Outcome, Report, StepStatus};
use responder_e2e::faults::{Call, Fault, FaultInjector};
use responder_e2e::seed::{self, InstanceOptions, Network};
use responder_e2e::{
    emulator_endpoint, faulty_sdk_config, fixture_for_instance, fixture_with, malicious_object_event, reset_emulator,
    sdk_config,
};
use responder_ec2::release::{ReleaseOptions, release};
use responder_iam::credentials::{release_role, release_user};

async fn cloud() -> SdkConfig {
    sdk_config(&emulator_endpoint()).await
}

/// A bound for a stuck emulator; injected timeouts are the connection's own.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
/// Cases run at once (each on its own resources; more only queue at the emulator).
const PARALLEL: usize = 4;
/// Cases between two resets of the emulator.
const BATCH: usize = 12;
/// The matrix's columns: every way [`Fault`] fails a call.
const MATRIX: [Fault; 5] = Fault::ALL;

fn is_read(action: &str) -> bool {
    ["Describe", "Get", "List", "Lookup"].iter().any(|p| action.starts_with(p))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Playbook {
    Quarantine,
    DisableUser,
    RevokeRole,
    /// revoke-role-sessions on an instance's exfiltrated credentials: one session denied.
    DenyStolenSession,
    RestoreTrail,
    Alert,
    Bucket,
    LambdaFunction,
    Database,
    /// isolate-database on an Aurora member: the cluster's groups.
    AuroraMember,
    /// protect-s3-bucket on the account's block (one per account: its
    /// cases run one at a time).
    AccountBlock,
    /// quarantine-instance on a snapshot malware was found in: unshared.
    Snapshot,
    /// protect-s3-bucket on a malicious object version: kept, then deleted.
    MaliciousObject,
    /// contain-ecs-task on a Fargate task of a service: stopped, the
    /// service scaled to 0 (SCALE_DOWN_SERVICES).
    EcsTask,
    /// contain-eks-workload on a Kubernetes user that is an assumed role:
    /// that one session denied (the Kubernetes side is the fake API
    /// server tests').
    KubernetesCaller,
}

impl Playbook {
    fn function(self) -> Function {
        match self {
            Playbook::Quarantine | Playbook::Snapshot => Function::QuarantineInstance,
            Playbook::DisableUser => Function::DisableIamUser,
            Playbook::RevokeRole | Playbook::DenyStolenSession => Function::RevokeRoleSessions,
            Playbook::RestoreTrail => Function::RestoreCloudtrail,
            Playbook::Alert => Function::NotifyFinding,
            Playbook::Bucket | Playbook::AccountBlock | Playbook::MaliciousObject => Function::ProtectS3Bucket,
            Playbook::LambdaFunction => Function::ContainLambdaFunction,
            Playbook::Database | Playbook::AuroraMember => Function::IsolateDatabase,
            Playbook::EcsTask => Function::ContainEcsTask,
            Playbook::KubernetesCaller => Function::ContainEksWorkload,
        }
    }

    /// What a healthy run ends in on the emulator (its CloudTrail has no
    /// LookupEvents, so an alert always lacks the activity listing).
    fn healthy_outcome(self) -> Outcome {
        match self {
            Playbook::Alert => Outcome::Partial,
            _ => Outcome::Contained,
        }
    }
}

/// The resources one case runs on.
struct World {
    playbook: Playbook,
    topic: String,
    event: Vec<u8>,
    vpc: Option<String>,
    instance: Option<seed::Instance>,
    user: Option<String>,
    keys: Vec<String>,
    role: Option<String>,
    trail: Option<String>,
    bucket: Option<String>,
    function: Option<seed::LambdaWorld>,
    /// The database and its cluster.
    database: Option<(String, Option<String>)>,
    /// The ECS cluster and the task the finding names.
    ecs: Option<seed::EcsWorld>,
    /// The finding id's start, as the snapshot names carry it.
    finding: String,
    /// The whole finding id, as evidence record keys carry it.
    finding_id: String,
    /// The evidence store: bucket, key ARN.
    evidence: Option<(String, String)>,
    /// The instance's target group and classic load balancer.
    load_balancers: Option<(String, String)>,
    /// A snapshot shared with another account and the public.
    snapshot: Option<String>,
    /// A malicious object: bucket, key, version.
    object: Option<(String, String, String)>,
    /// The account's block is the world's resource.
    account_block: bool,
}

impl World {
    /// The names its resources' ids have in every world, for the calls' targets.
    fn label(&self, injector: &FaultInjector) {
        injector.label(&self.topic, "topic");
        if let Some(vpc) = &self.vpc {
            injector.label(vpc, "vpc");
        }
        if let Some(inst) = &self.instance {
            injector.label(&inst.id, "instance");
            injector.label(&inst.primary_eni, "primary-eni");
            injector.label(inst.secondary_eni.as_deref().unwrap_or_default(), "secondary-eni");
            injector.label(&inst.volume, "volume");
            injector.label(inst.asg.as_deref().unwrap_or_default(), "asg");
        }
        for (key, label) in self.keys.iter().zip(["finding-key", "other-key"]) {
            injector.label(key, label);
        }
        for (name, label) in
            [(&self.user, "user"), (&self.role, "role"), (&self.trail, "trail"), (&self.bucket, "bucket")]
        {
            injector.label(name.as_deref().unwrap_or_default(), label);
        }
        if let Some(f) = &self.function {
            injector.label(&f.function, "function");
            injector.label(&f.role, "role");
            injector.label(&f.enabled_mapping, "enabled-mapping");
            injector.label(&f.disabled_mapping, "disabled-mapping");
        }
        if let Some((db, cluster)) = &self.database {
            injector.label(cluster.as_deref().unwrap_or_default(), "cluster");
            injector.label(db, "database");
        }
        if let Some(ecs) = &self.ecs {
            injector.label(&ecs.task, "task");
            injector.label(&ecs.service_arn, "service");
            injector.label(&ecs.cluster, "ecs-cluster");
        }
        injector.label(&self.finding_id, "finding-id");
        injector.label(&self.finding, "finding");
        if let Some((bucket, _)) = &self.evidence {
            injector.label(bucket, "evidence-bucket");
        }
        if let Some((group, classic)) = &self.load_balancers {
            injector.label(group, "target-group");
            injector.label(classic, "classic-lb");
        }
        if let Some(snapshot) = &self.snapshot {
            injector.label(snapshot, "snapshot");
        }
        if let Some((bucket, _, version)) = &self.object {
            injector.label(version, "version");
            injector.label(bucket, "bucket");
        }
    }
}

async fn seed_world(playbook: Playbook, config: &SdkConfig) -> World {
    let sns = aws_sdk_sns::Client::new(config);
    let topic = sns.create_topic().name(seed::unique("fault-alerts")).send().await.expect("CreateTopic");
    let topic = topic.topic_arn().unwrap_or_default().to_owned();
    let mut world = World {
        playbook,
        topic,
        event: Vec::new(),
        vpc: None,
        instance: None,
        user: None,
        keys: Vec::new(),
        role: None,
        trail: None,
        bucket: None,
        function: None,
        database: None,
        ecs: None,
        finding: String::new(),
        finding_id: String::new(),
        account_block: false,
        evidence: None,
        load_balancers: None,
        snapshot: None,
        object: None,
    };
    match playbook {
        Playbook::Quarantine => {
            // A fresh VPC: the responder's groups are created in the run.
            let net = Network::create(config).await;
            let inst = net.instance(config, InstanceOptions::default()).await;
            world.event = fixture_for_instance("ec2-cryptocurrency-bitcointool-high.json", &inst.id);
            world.load_balancers = Some(seed::load_balancers(config, &net, &inst.id).await);
            world.evidence = Some(seed::evidence_store(config).await);
            world.instance = Some(inst);
            world.vpc = Some(net.vpc);
        }
        Playbook::Snapshot => {
            let ec2 = aws_sdk_ec2::Client::new(config);
            let volume =
                ec2.create_volume().availability_zone("us-east-1a").size(8).send().await.expect("CreateVolume");
            let snapshot = seed::shared_snapshot(config, volume.volume_id().expect("volume id")).await;
            world.event = fixture_with("ec2-malicious-file-snapshot.json", &[("snap-0a1b2c3d4e5f60718", &snapshot)]);
            world.snapshot = Some(snapshot);
        }
        Playbook::MaliciousObject => {
            let bucket = seed::versioned_bucket(config).await;
            let version = seed::put_object(config, &bucket, OBJECT_KEY, b"MZ malicious payload").await;
            world.event = malicious_object_event(&bucket, OBJECT_KEY, &version);
            world.evidence = Some(seed::evidence_store(config).await);
            world.object = Some((bucket, OBJECT_KEY.to_owned(), version));
        }
        Playbook::DisableUser => {
            let (user, keys, _) = seed::iam_user(config, 2, 0, true).await;
            world.event = fixture_with(
                "iam-user-malicious-ip-caller.json",
                &[("ci-deployer", &user), ("AKIA2EXAMPLEKEY7QXK3", &keys[0])],
            );
            world.user = Some(user);
            world.keys = keys;
        }
        Playbook::RevokeRole => {
            let role = seed::iam_role(config, "data-pipeline", "/").await;
            world.event = fixture_with("iam-role-malicious-ip-caller.json", &[("data-pipeline", &role)]);
            world.role = Some(role);
        }
        Playbook::KubernetesCaller => {
            let role = seed::iam_role(config, "dev-deployer", "/").await;
            world.event = fixture_with(
                "eks-malicious-ip-caller-iam-user.json",
                &[
                    ("\"severity\":5", "\"severity\":8"),
                    (
                        "arn:aws:iam::123456789012:user/ci-bot",
                        &format!("arn:aws:sts::123456789012:assumed-role/{role}/ci-session"),
                    ),
                ],
            );
            world.role = Some(role);
        }
        Playbook::DenyStolenSession => {
            let role = seed::iam_role(config, "web-app-role", "/").await;
            world.event = fixture_with(
                "iam-instance-credential-exfiltration-outside-aws.json",
                &[("i-0a1b2c3d4e5f67890", "i-0123456789abcdef0"), ("web-app-role", &role)],
            );
            world.role = Some(role);
        }
        Playbook::RestoreTrail => {
            let name = seed::unique("fault-trail");
            seed::trail(config, &emulator_endpoint(), &name).await;
            seed::stop_trail(config, &name).await;
            world.event =
                fixture_with("cloudtrail-logging-disabled.json", &[("\"management-events\"", &format!("\"{name}\""))]);
            world.trail = Some(name);
        }
        Playbook::Alert => {
            world.event = responder_e2e::fixture_with("ec2-recon-port-probe-medium.json", &[]);
        }
        Playbook::Bucket => {
            let bucket = seed::tagged_bucket(config, &[("team", "billing")], Some([true, false, false, false])).await;
            world.event = fixture_with("s3-bucket-anonymous-access-granted.json", &[("customer-exports", &bucket)]);
            world.bucket = Some(bucket);
        }
        Playbook::AccountBlock => {
            seed::reset_account_block(config).await;
            aws_sdk_s3control::Client::new(config)
                .put_public_access_block()
                .account_id("123456789012")
                .public_access_block_configuration(
                    aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
                        .ignore_public_acls(true)
                        .build(),
                )
                .send()
                .await
                .expect("PutPublicAccessBlock (account)");
            world.event = fixture_with("s3-account-block-public-access-disabled.json", &[]);
            world.account_block = true;
        }
        Playbook::LambdaFunction => {
            let f = seed::lambda_function(config, None, true, Some(4)).await;
            world.event = fixture_with("lambda-backdoor-c2-activity.json", &[("order-processor", &f.function)]);
            world.function = Some(f);
        }
        Playbook::EcsTask => {
            let ecs = seed::ecs_world(config, false).await;
            let id = ecs.task.rsplit('/').next().unwrap_or_default().to_owned();
            world.event = fixture_with(
                "ecs-runtime-cryptocurrency-fargate.json",
                &[("ec964d3d4496eba592913bcbacbb07b7", &id), ("prod-web", &ecs.cluster)],
            );
            world.ecs = Some(ecs);
        }
        Playbook::Database | Playbook::AuroraMember => {
            let net = Network::create(config).await;
            let aurora = playbook == Playbook::AuroraMember;
            let (db, cluster) = seed::database(config, &net, aurora).await;
            world.event = match &cluster {
                Some(c) => fixture_with(
                    "rds-aurora-successful-brute-force.json",
                    &[("orders-aurora-instance-1", &db), ("\"orders-aurora\"", &format!("\"{c}\""))],
                ),
                None => fixture_with("rds-successful-login-malicious-ip.json", &[("orders-db", &db)]),
            };
            world.database = Some((db, cluster));
            world.vpc = Some(net.vpc);
        }
    }
    let id: serde_json::Value = serde_json::from_slice(&world.event).expect("an event");
    let id = id["detail"]["id"].as_str().unwrap_or_default();
    world.finding = id.chars().filter(char::is_ascii_alphanumeric).take(16).collect::<String>().to_ascii_lowercase();
    world.finding_id = id.to_owned();
    world
}

/// The state a release must bring back, as text. A deleted console password
/// cannot be restored (a person sets a new one), so it is not part of it.
async fn state(config: &SdkConfig, world: &World) -> String {
    if let Some(inst) = &world.instance {
        let secondary = match &inst.secondary_eni {
            Some(eni) => seed::eni_groups(config, eni).await,
            None => Vec::new(),
        };
        let served = match &world.load_balancers {
            Some((group, classic)) => Some(seed::served_by(config, group, classic, &inst.id).await),
            None => None,
        };
        return format!(
            "primary {:?} secondary {:?} protection {} shutdown {} profile {:?} asg {:?} metadata and volumes {:?} served {served:?}",
            seed::eni_groups(config, &inst.primary_eni).await,
            secondary,
            seed::termination_protection(config, &inst.id).await,
            seed::shutdown_behavior(config, &inst.id).await,
            seed::profile_of(config, &inst.id).await,
            seed::asg_of(config, &inst.id).await,
            seed::metadata_and_volumes(config, &inst.id).await,
        );
    }
    if let Some(user) = &world.user {
        return format!(
            "keys {:?} deny {:?}",
            seed::key_states(config, user).await,
            seed::user_policy(config, user, POLICY_NAME).await.is_some()
        );
    }
    if let Some(role) = &world.role {
        return format!(
            "deny {:?} stolen {:?}",
            seed::role_policy(config, role, POLICY_NAME).await.is_some(),
            seed::role_policy(config, role, STOLEN_SESSIONS_POLICY).await.is_some()
        );
    }
    if let Some(trail) = &world.trail {
        return format!("logging {}", seed::trail_logging(config, trail).await);
    }
    if let Some(snapshot) = &world.snapshot {
        let tags = snapshot_tags(config, snapshot).await;
        let records: Vec<_> = tags.keys().filter(|k| k.contains("original")).collect();
        return format!("shared {:?} records {records:?}", seed::snapshot_shared_with(config, snapshot).await);
    }
    if world.account_block {
        return format!(
            "account block {:?} recorded {}",
            seed::account_public_access_block(config).await,
            account_recorded(config).await
        );
    }
    if let Some(bucket) = &world.bucket {
        return format!(
            "block {:?} tags {:?}",
            seed::public_access_block(config, bucket).await,
            seed::bucket_tags(config, bucket).await
        );
    }
    if let Some(f) = &world.function {
        let (concurrency, mappings, url, tags) = seed::lambda_state(config, &f.function).await;
        let records: Vec<_> =
            tags.keys().filter(|k| k.starts_with("guardduty-responder:") && !k.ends_with("evidence-version")).collect();
        return format!(
            "concurrency {concurrency:?} mappings {mappings:?} url {url:?} records {records:?} denied {:?}",
            seed::role_policy(config, &f.role, STOLEN_SESSIONS_POLICY).await.is_some()
        );
    }
    if let Some((db, _)) = &world.database {
        let (groups, public, tags) = seed::database_state(config, db).await;
        let records: Vec<_> = tags.keys().filter(|k| k.starts_with("guardduty-responder:")).collect();
        return format!("groups {groups:?} public {public} records {records:?}");
    }
    if let Some(ecs) = &world.ecs {
        // A stopped task stays stopped (evidence): the service is what a
        // release puts back.
        let (desired, tags) = seed::ecs_service(config, &ecs.cluster, "web").await;
        let records: Vec<_> = tags.keys().filter(|k| k.starts_with("guardduty-responder:")).collect();
        return format!("desired {desired} records {records:?}");
    }
    String::new()
}

/// The key malicious objects have in every world.
const OBJECT_KEY: &str = responder_e2e::MALICIOUS_KEY;

async fn snapshot_tags(config: &SdkConfig, snapshot: &str) -> std::collections::BTreeMap<String, String> {
    let out =
        aws_sdk_ec2::Client::new(config).describe_snapshots().snapshot_ids(snapshot).send().await.expect("snapshot");
    out.snapshots()
        .iter()
        .flat_map(|s| s.tags())
        .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
        .collect()
}

/// Whether the malicious version is still in its bucket, and whether its
/// evidence copy holds its bytes.
async fn object_state(config: &SdkConfig, world: &World) -> (bool, bool) {
    let (Some((bucket, key, version)), Some((evidence, _))) = (&world.object, &world.evidence) else {
        return (false, false);
    };
    let source = seed::object(config, bucket, key, Some(version)).await.is_some();
    let copy_key = responder_s3::object::evidence_key(
        "123456789012",
        &responder_core::target::S3ObjectRef {
            bucket: bucket.clone(),
            key: key.clone(),
            version_id: Some(version.clone()),
        },
    );
    let copy = seed::object(config, evidence, &copy_key, None).await;
    (source, copy.is_some_and(|(bytes, _)| bytes == b"MZ malicious payload"))
}

/// The ids of the responder's isolation groups in `vpc`.
async fn isolation_ids(config: &SdkConfig, vpc: &str) -> Vec<String> {
    seed::responder_groups(config, vpc, "isolation")
        .await
        .iter()
        .filter_map(|g| g.group_id().map(str::to_owned))
        .collect()
}

/// Whether the responder's record of the account's block exists.
async fn account_recorded(config: &SdkConfig) -> bool {
    let ssm = aws_sdk_ssm::Client::new(config);
    ssm.get_parameter().name(responder_s3::account::RECORD_PARAMETER).send().await.is_ok()
}

/// Calls a playbook tries once more itself after a transient failure: the
/// move of an ENI onto the isolation group (its second move).
fn playbook_retries(action: &str, target: &str, occurrence: usize) -> bool {
    action == "ModifyNetworkInterfaceAttribute" && target.ends_with("-eni/SecurityGroupId.N") && occurrence == 2
}

/// The groups of each ENI of the world's instance.
async fn eni_groups(config: &SdkConfig, world: &World) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    if let Some(inst) = &world.instance {
        for eni in [Some(&inst.primary_eni), inst.secondary_eni.as_ref()].into_iter().flatten() {
            out.push((eni.clone(), seed::eni_groups(config, eni).await));
        }
    }
    if let Some((db, _)) = &world.database {
        let (groups, public, _) = seed::database_state(config, db).await;
        out.push((db.clone(), groups));
        if public {
            out.push(("public".to_owned(), Vec::new()));
        }
    }
    out
}

/// No resource is more exposed than before the run: each ENI is on its own
/// groups from before, or on the isolation group alone; never on the
/// allow-all group, and the isolation group allows nothing.
async fn no_more_exposed(config: &SdkConfig, world: &World, before: &[(String, Vec<String>)]) -> Result<(), String> {
    if world.account_block {
        let now = seed::account_public_access_block(config).await.unwrap_or_default();
        if !now[1] {
            return Err(format!("the account's block is weaker than before: {now:?}"));
        }
        return Ok(());
    }
    if let Some(snapshot) = &world.snapshot {
        let now = seed::snapshot_shared_with(config, snapshot).await;
        if now.iter().any(|who| ![seed::OUTSIDER, "all"].contains(&who.as_str())) {
            return Err(format!("{snapshot} is shared with more than before: {now:?}"));
        }
        return Ok(());
    }
    if world.object.is_some() {
        // Never gone without its evidence copy.
        let (source, copy) = object_state(config, world).await;
        if !source && !copy {
            return Err("the malicious version was deleted with no evidence copy".into());
        }
        return Ok(());
    }
    if let Some(bucket) = &world.bucket {
        // Only ever more settings on.
        let now = seed::public_access_block(config, bucket).await.unwrap_or_default();
        if now.iter().zip([true, false, false, false]).any(|(now, was)| was && !now) {
            return Err(format!("{bucket}'s public access block is weaker than before: {now:?}"));
        }
        return Ok(());
    }
    if let Some(f) = &world.function {
        let (_, _, url, _) = seed::lambda_state(config, &f.function).await;
        if url.is_none() {
            return Err(format!("{}'s URL is gone", f.function));
        }
        return Ok(());
    }
    if let (Some((db, _)), Some(vpc)) = (&world.database, &world.vpc) {
        let (groups, public, _) = seed::database_state(config, db).await;
        let isolation = isolation_ids(config, vpc).await;
        let was: Vec<String> = before.first().map(|(_, g)| g.clone()).unwrap_or_default();
        if groups != was && (isolation.len() != 1 || groups != isolation) {
            return Err(format!("{db} was on {was:?} and is now on {groups:?} (isolation group {isolation:?})"));
        }
        if public && !before.iter().any(|(k, _)| k == "public") {
            return Err(format!("{db} is publicly accessible and was not"));
        }
        return Ok(());
    }
    let Some(vpc) = &world.vpc else { return Ok(()) };
    let groups = seed::responder_groups(config, vpc, "isolation").await;
    let isolation: Vec<String> = groups.iter().filter_map(|g| g.group_id().map(str::to_owned)).collect();
    for ((eni, was), (_, now)) in before.iter().zip(eni_groups(config, world).await) {
        if now == *was {
            continue;
        }
        if isolation.len() != 1 || now != isolation {
            return Err(format!("{eni} was on {was:?} and is now on {now:?} (isolation group {isolation:?})"));
        }
        if groups.iter().any(|g| !g.ip_permissions().is_empty() || !g.ip_permissions_egress().is_empty()) {
            return Err(format!("{eni} is on an isolation group that allows traffic: {groups:?}"));
        }
    }
    Ok(())
}

/// Whether the world's resource is contained, read back from the emulator.
async fn contained(config: &SdkConfig, world: &World) -> Result<(), String> {
    if let (Some(inst), Some(vpc)) = (&world.instance, &world.vpc) {
        let isolation = isolation_ids(config, vpc).await;
        for eni in [Some(&inst.primary_eni), inst.secondary_eni.as_ref()].into_iter().flatten() {
            let groups = seed::eni_groups(config, eni).await;
            if isolation.len() != 1 || groups != isolation {
                return Err(format!("{eni} is on {groups:?}, the isolation group is {isolation:?}"));
            }
        }
        if !seed::termination_protection(config, &inst.id).await || seed::profile_of(config, &inst.id).await.is_some() {
            return Err(format!("{} is not protected, or keeps its profile", inst.id));
        }
        if let Some((group, classic)) = &world.load_balancers {
            let served = seed::served_by(config, group, classic, &inst.id).await;
            if served != (vec![], false) {
                return Err(format!("{} still serves traffic: {served:?}", inst.id));
            }
        }
    }
    if let Some(snapshot) = &world.snapshot {
        let shared = seed::snapshot_shared_with(config, snapshot).await;
        if !shared.is_empty() {
            return Err(format!("{snapshot} is still shared with {shared:?}"));
        }
    }
    if world.object.is_some() && object_state(config, world).await != (false, true) {
        return Err(format!("the malicious version is not kept and deleted: {:?}", object_state(config, world).await));
    }
    if let Some(user) = &world.user {
        let keys = seed::key_states(config, user).await;
        if keys.values().any(|active| *active) || seed::user_policy(config, user, POLICY_NAME).await.is_none() {
            return Err(format!("{user} keeps an active key or has no deny: {keys:?}"));
        }
    }
    let deny = if matches!(world.playbook, Playbook::DenyStolenSession | Playbook::KubernetesCaller) {
        STOLEN_SESSIONS_POLICY
    } else {
        POLICY_NAME
    };
    if let Some(role) = &world.role
        && seed::role_policy(config, role, deny).await.is_none()
    {
        return Err(format!("{role} has no {deny}"));
    }
    if let Some(trail) = &world.trail
        && !seed::trail_logging(config, trail).await
    {
        return Err(format!("{trail} is not logging"));
    }
    if world.account_block && seed::account_public_access_block(config).await != Some([true; 4]) {
        return Err("the account's public access is not blocked".into());
    }
    if let Some(bucket) = &world.bucket
        && seed::public_access_block(config, bucket).await != Some([true; 4])
    {
        return Err(format!("{bucket}'s public access is not blocked"));
    }
    if let Some(ecs) = &world.ecs {
        let (status, _, _) = seed::ecs_task(config, &ecs.cluster, &ecs.task).await;
        let (desired, _) = seed::ecs_service(config, &ecs.cluster, "web").await;
        if status != "STOPPED" || desired != 0 {
            return Err(format!("{} is {status}, its service wants {desired} tasks", ecs.task));
        }
    }
    if let Some(f) = &world.function {
        let (concurrency, mappings, url, _) = seed::lambda_state(config, &f.function).await;
        let denied = seed::role_policy(config, &f.role, STOLEN_SESSIONS_POLICY).await.is_some();
        if concurrency != Some(0)
            || mappings.get(&f.enabled_mapping).map(String::as_str) != Some("Disabled")
            || url.as_deref() != Some("AWS_IAM")
            || !denied
        {
            return Err(format!("{} runs on: {concurrency:?} {mappings:?} {url:?} denied {denied}", f.function));
        }
    }
    if let (Some((db, _)), Some(vpc)) = (&world.database, &world.vpc) {
        let (groups, public, _) = seed::database_state(config, db).await;
        let isolation = isolation_ids(config, vpc).await;
        if public || isolation.len() != 1 || groups != isolation {
            return Err(format!("{db} is on {groups:?} (public {public}), the isolation group is {isolation:?}"));
        }
    }
    Ok(())
}

/// Releases whatever the responder did; says what did not hold.
async fn release_world(config: &SdkConfig, world: &World) -> Result<(), String> {
    let iam = responder_iam::Cloud::new(config);
    let run = if let Some(snapshot) = &world.snapshot {
        responder_ec2::artifact::release(
            &responder_ec2::Cloud::new(config),
            responder_core::target::ArtifactKind::Snapshot,
            snapshot,
        )
        .await
    } else if let Some(inst) = &world.instance {
        release(&responder_ec2::Cloud::new(config), &inst.id, ReleaseOptions { reattach_asg: true }).await
    } else if let Some(user) = &world.user {
        release_user(&iam, user).await
    } else if let Some(role) = &world.role {
        release_role(&iam, role).await
    } else if world.account_block {
        responder_s3::account::release(&responder_s3::Cloud::new(config), "123456789012").await
    } else if let Some(bucket) = &world.bucket {
        responder_s3::bucket::release(&responder_s3::Cloud::new(config), bucket).await
    } else if let Some(f) = &world.function {
        responder_lambda::contain::release(&responder_lambda::Cloud::new(config), &f.function).await
    } else if let Some((db, _)) = &world.database {
        responder_rds::isolate::release(&responder_rds::Cloud::new(config), db).await
    } else if let Some(ecs) = &world.ecs {
        let run = responder_ecs::contain::release(&responder_ecs::Cloud::new(config), &ecs.cluster, &ecs.task).await;
        // Nothing recorded (the run failed before its record): nothing to put back.
        if run.skipped.is_some() {
            return Ok(());
        }
        run
    } else {
        return Ok(());
    };
    if run.log.all_held() { Ok(()) } else { Err(format!("release failed: {:#?}", run.log.records)) }
}

/// Every successful change came after the record of the resource it
/// changes was written: a successful tagging call on that very resource,
/// writing the record's own key (and, for an access key, naming that key).
fn recorded_before_changed(world: &World, calls: &[Call]) -> Result<(), String> {
    use responder_core::tags;
    let instance = world.instance.as_ref().map(|i| i.id.clone()).unwrap_or_default();
    let user = world.user.clone().unwrap_or_default();
    let role = world.role.clone().unwrap_or_default();
    let role_of_function = world.function.as_ref().map(|f| f.role.clone()).unwrap_or_default();
    // REST and query calls whose record is somewhere in the request: a
    // successful tagging call, ended before, naming the record's key.
    let rest_written_before = |call: &Call, action: &str, key: &str| {
        let encoded = key.replace(':', "%3A");
        calls.iter().any(|r| {
            r.ok()
                && r.ended <= call.started
                && r.action == action
                && (r.body.contains(key) || r.body.contains(&encoded))
        })
    };
    let written_before = |call: &Call, action: &str, on: (&str, &str), key: &str, holding: Option<&str>| {
        calls.iter().any(|r| {
            r.ok()
                && r.ended <= call.started
                && r.action == action
                && (r.param(on.0).as_deref() == Some(on.1) || r.params_like(on.0).iter().any(|v| v == on.1))
                && r.tags().iter().any(|(k, v)| {
                    (k == key || k.strip_prefix(key).is_some_and(|rest| rest.starts_with(':')))
                        && holding.is_none_or(|h| v.contains(h))
                })
        })
    };
    for call in calls.iter().filter(|c| c.ok()) {
        let ok = match (world.playbook, call.action.as_str()) {
            (Playbook::Quarantine, "ModifyNetworkInterfaceAttribute") => {
                let eni = call.param("NetworkInterfaceId").unwrap_or_default();
                written_before(call, "CreateTags", ("ResourceId.N", &eni), tags::ORIGINAL_GROUPS, None)
            }
            (Playbook::Quarantine, "DeregisterTargets" | "DeregisterInstancesFromLoadBalancer") => {
                written_before(call, "CreateTags", ("ResourceId.N", &instance), tags::ORIGINAL_TARGETS, None)
            }
            (Playbook::Snapshot, "ModifySnapshotAttribute") => {
                let snapshot = world.snapshot.clone().unwrap_or_default();
                written_before(call, "CreateTags", ("ResourceId.N", &snapshot), tags::ORIGINAL_SHARING, None)
            }
            // A version is deleted only once its copy was written.
            (Playbook::MaliciousObject, "DeleteObjectVersion") => calls.iter().any(|r| {
                r.ok() && r.ended <= call.started && r.action == "PutObject" && r.target.contains("evidence-bucket")
            }),
            (
                Playbook::Quarantine,
                "ModifyInstanceAttribute"
                | "ModifyInstanceMetadataOptions"
                | "DisassociateIamInstanceProfile"
                | "DetachInstances",
            ) => written_before(call, "CreateTags", ("ResourceId.N", &instance), tags::ORIGINAL_STATE, None),
            (Playbook::DisableUser, "UpdateAccessKey") => {
                let key = call.param("AccessKeyId").unwrap_or_default();
                // The record lists the key: a chunk of the record may hold it.
                written_before(call, "TagUser", ("UserName", &user), tags::DEACTIVATED_KEYS, Some(&key))
            }
            (Playbook::DisableUser, "DeleteLoginProfile") => {
                written_before(call, "TagUser", ("UserName", &user), tags::LOGIN_PROFILE_DELETED, None)
            }
            (Playbook::DisableUser, "PutUserPolicy") => {
                written_before(call, "TagUser", ("UserName", &user), tags::REVOKED_AT, None)
            }
            (Playbook::RevokeRole, "PutRolePolicy") => {
                written_before(call, "TagRole", ("RoleName", &role), tags::REVOKED_AT, None)
            }
            (Playbook::Bucket, "PutBucketPublicAccessBlock") => {
                rest_written_before(call, "PutBucketTagging", responder_s3::bucket::ORIGINAL_BLOCK)
            }
            (Playbook::AccountBlock, "PutAccountPublicAccessBlock") => {
                rest_written_before(call, "PutParameter", responder_s3::account::RECORD_PARAMETER)
            }
            (Playbook::LambdaFunction, "PutFunctionConcurrency") => {
                rest_written_before(call, "TagResource", responder_lambda::contain::ORIGINAL_CONCURRENCY)
            }
            (Playbook::LambdaFunction, "UpdateEventSourceMapping") => {
                rest_written_before(call, "TagResource", responder_lambda::contain::DISABLED_MAPPINGS)
            }
            (Playbook::LambdaFunction, "UpdateFunctionUrlConfig") => {
                rest_written_before(call, "TagResource", responder_lambda::contain::ORIGINAL_URL_AUTH)
            }
            (Playbook::LambdaFunction, "PutRolePolicy") => {
                written_before(call, "TagRole", ("RoleName", &role_of_function), tags::STOLEN_SESSIONS, None)
            }
            (Playbook::Database | Playbook::AuroraMember, "ModifyDBInstance" | "ModifyDBCluster") => {
                rest_written_before(call, "AddTagsToResource", responder_rds::isolate::ORIGINAL_PUBLIC)
                    && rest_written_before(call, "AddTagsToResource", responder_rds::isolate::ORIGINAL_GROUPS)
            }
            (Playbook::EcsTask, "UpdateService") => {
                rest_written_before(call, "TagResource", responder_ecs::contain::ORIGINAL_DESIRED_COUNT)
            }
            (Playbook::KubernetesCaller, "PutRolePolicy") => {
                written_before(call, "TagRole", ("RoleName", &role), tags::STOLEN_SESSIONS, Some("ci-session"))
            }
            (Playbook::DenyStolenSession, "PutRolePolicy") => {
                written_before(call, "TagRole", ("RoleName", &role), tags::STOLEN_SESSIONS, Some("i-0123456789abcdef0"))
            }
            _ => true,
        };
        if !ok {
            return Err(format!(
                "{} on {} #{} changed a resource before its record was written",
                call.action, call.target, call.occurrence
            ));
        }
    }
    Ok(())
}

/// Runs `world`'s event through a responder whose SDK calls go through `injector`.
async fn run_with(world: &World, injector: &FaultInjector) -> Result<Report, HandlerError> {
    let faulty = faulty_sdk_config(&emulator_endpoint(), injector, ATTEMPT_TIMEOUT).await;
    let mut vars: HashMap<String, String> = [("NOTIFY_TOPIC_ARN".to_owned(), world.topic.clone())].into();
    if let Some((bucket, key)) = &world.evidence {
        vars.insert("EVIDENCE_BUCKET".into(), bucket.clone());
        vars.insert("EVIDENCE_KEY_ARN".into(), key.clone());
        vars.insert("START_MALWARE_SCANS".into(), "true".into());
    }
    if world.object.is_some() {
        vars.insert("DELETE_MALICIOUS_OBJECTS".into(), "true".into());
    }
    if world.ecs.is_some() {
        vars.insert("SCALE_DOWN_SERVICES".into(), "true".into());
    }
    let settings = responder_core::Settings::from_lookup(|k| vars.get(k).cloned()).expect("settings");
    let r = responder_e2e::responder_for(world.playbook.function(), &settings, &faulty).await;
    injector.reset();
    world.label(injector);
    r.handle(&world.event, None).await
}

/// A call of a healthy run: action, target, occurrence.
type Row = (String, String, usize);

/// The calls of a healthy run: the matrix's rows.
async fn healthy_calls(playbook: Playbook) -> Vec<Row> {
    let config = cloud().await;
    let world = seed_world(playbook, &config).await;
    let injector = FaultInjector::new();
    let result = run_with(&world, &injector).await;
    let report = report_of(&result).0.expect("a report");
    assert_eq!(report.outcome, playbook.healthy_outcome(), "{playbook:?} healthy run: {report:#?}");
    let rows: BTreeSet<Row> = injector.calls().into_iter().map(|c| (c.action, c.target, c.occurrence)).collect();
    rows.into_iter()
        .filter(|(action, _, _)| match playbook {
            // The look-up fails on the emulator in every run; only the publish is the alert's own.
            Playbook::Alert => action == "Publish",
            _ => true,
        })
        .collect()
}

/// One cell of the matrix; `Err` says what was wrong.
async fn case(playbook: Playbook, (action, target, occurrence): Row, fault: Fault) -> Result<(), String> {
    let config = cloud().await;
    let world = seed_world(playbook, &config).await;
    let before = state(&config, &world).await;
    let groups_before = eni_groups(&config, &world).await;
    let injector = FaultInjector::new();
    injector.arm(&action, &target, occurrence, fault);
    let result = run_with(&world, &injector).await;
    injector.disarm();
    let calls = injector.calls();
    if !calls.iter().any(|c| c.fault.is_some()) {
        return Err("the armed call was never made".into());
    }
    let report = report_of(&result).0.ok_or_else(|| format!("no report: {result:?}"))?;
    let publish = action == "Publish";

    // The outcome and the error type.
    let retried_by_the_playbook =
        fault.transient() && !fault.clears() && playbook_retries(&action, &target, occurrence);
    if retried_by_the_playbook {
        // The injector fails one call; the playbook's own extra attempt is
        // the next one, and must have carried the move through.
        let again = calls.iter().any(|c| c.action == action && c.target == target && c.occurrence == occurrence + 1);
        if !again || result.is_err() || report.outcome != playbook.healthy_outcome() {
            return Err(format!("the isolation was not tried again and carried through: {report:#?}"));
        }
    } else if fault.clears() {
        if result.is_err() || report.outcome != playbook.healthy_outcome() {
            return Err(format!("a throttle the SDK retried past was not carried through: {report:#?}"));
        }
    } else {
        if publish {
            let status = report.notification.as_ref().map(|n| n.status.as_str());
            if status == Some("published") {
                return Err("the failed publish was reported as published".into());
            }
            // The resource's outcome stays what the steps did.
            if report.outcome != playbook.healthy_outcome() && playbook != Playbook::Alert {
                return Err(format!("a failed publish changed the outcome: {report:#?}"));
            }
        } else {
            if report.outcome == Outcome::Contained {
                return Err(format!("contained despite the failure: {report:#?}"));
            }
            let failed: Vec<_> = report.steps.iter().filter(|s| s.status == StepStatus::Failed).collect();
            if failed.is_empty() {
                return Err(format!("no failed step in the report: {report:#?}"));
            }
            if fault != Fault::Timeout && !failed.iter().any(|s| s.error_code.as_deref().is_some_and(|c| !c.is_empty()))
            {
                return Err(format!("the failed step does not carry the error code: {failed:#?}"));
            }
        }
        match (&result, fault.transient()) {
            (Err(e), true) if e.error_type == HandlerError::RETRYABLE => {}
            (Ok(_), false) => {}
            (other, transient) => {
                return Err(format!(
                    "transient={transient} but the invocation ended {:?}",
                    other.as_ref().map(|r| &r.outcome)
                ));
            }
        }
    }
    recorded_before_changed(&world, &calls)?;
    no_more_exposed(&config, &world, &groups_before).await.map_err(|e| format!("left more exposed: {e}"))?;

    // A redelivery after any transient failure finishes the job: throttled,
    // answered 5xx, or timed out after the request took effect (the case
    // idempotency exists for). A denied call is released from where the
    // failure left it.
    if fault.transient() {
        let injector = FaultInjector::new();
        let again = run_with(&world, &injector).await;
        let report = report_of(&again).0.ok_or("no report on redelivery")?;
        if again.is_err() || report.outcome != playbook.healthy_outcome() {
            return Err(format!("the redelivery did not finish the job: {report:#?}"));
        }
        // What it claims is what the emulator holds.
        contained(&config, &world).await.map_err(|e| format!("the redelivery reported contained, but {e}"))?;
    }
    // A restarted trail and a deleted object version are not released.
    if matches!(playbook, Playbook::RestoreTrail | Playbook::MaliciousObject) {
        return Ok(());
    }
    if calls.iter().all(|c| is_read(&c.action)) && !fault.transient() {
        // Nothing was asked to change: nothing to release.
        return Ok(());
    }
    release_world(&config, &world).await?;
    let after = state(&config, &world).await;
    if after != before {
        return Err(format!("release did not restore the state:\n before {before}\n after  {after}"));
    }
    Ok(())
}

async fn matrix(playbook: Playbook) -> usize {
    let rows = tokio::spawn(healthy_calls(playbook)).await.expect("healthy run");
    assert!(!rows.is_empty());
    reset_emulator();
    let cases: Vec<(Row, Fault)> = rows.iter().flat_map(|row| MATRIX.map(|f| (row.clone(), f))).collect();
    let count = cases.len();
    let mut failures = Vec::new();
    for batch in cases.chunks(BATCH) {
        let found: Vec<String> = futures::stream::iter(batch.to_vec())
            .map(|(row, fault)| async move {
                let label = format!("{playbook:?} {} on {} #{} {fault:?}", row.0, row.1, row.2);
                // Spawned: the playbooks' futures are large, and the heap holds them.
                match tokio::spawn(case(playbook, row, fault)).await {
                    Ok(outcome) => outcome.err().map(|e| format!("{label}: {e}")),
                    Err(panic) => Some(format!("{label}: panicked: {panic}")),
                }
            })
            .buffer_unordered(if playbook == Playbook::AccountBlock { 1 } else { PARALLEL })
            .filter_map(|f| async move { f })
            .collect()
            .await;
        failures.extend(found);
        reset_emulator();
    }
    assert!(failures.is_empty(), "{} of {count} fault cases failed:\n{}", failures.len(), failures.join("\n\n"));
    eprintln!("{playbook:?}: {count} fault cases passed ({} calls × {} faults)", rows.len(), MATRIX.len());
    count
}

/// One test: the emulator is emptied between batches, so nothing else may use it meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_playbook_under_every_fault() {
    let mut total = 0;
    for playbook in [
        Playbook::Quarantine,
        Playbook::DisableUser,
        Playbook::RevokeRole,
        Playbook::DenyStolenSession,
        Playbook::RestoreTrail,
        Playbook::Alert,
        Playbook::Bucket,
        Playbook::LambdaFunction,
        Playbook::Database,
        Playbook::AuroraMember,
        Playbook::AccountBlock,
        Playbook::Snapshot,
        Playbook::MaliciousObject,
        Playbook::EcsTask,
        Playbook::KubernetesCaller,
    ] {
        total += matrix(playbook).await;
    }
    eprintln!("fault matrix: {total} cases passed");
}
