//! Least privilege, proven on the emulator with IAM enforcement on.
//!
//! Its own test binary, so its emulator is its own: after the principals are
//! made, `/moto-api/reset-auth` turns enforcement on, and from then on every
//! request is authorized against its caller's IAM policies.
//!
//! Each function runs as an IAM user holding exactly the actions of its role
//! in `infra/template.yaml` (read by `tests/infra/policies.py`), and must
//! then work as it does unrestricted. Three things are proven:
//! - **no wildcard**: an action such as `iam:*` fails the test outright;
//! - **nothing more**: the role's actions are exactly those its healthy runs
//!   called (recorded on the wire), plus the few in [`NOT_CALLED_BY_THE_CODE`],
//!   each with its reason: an action added to a role and never called fails;
//! - **nothing less**: for each action, a user without it runs the same
//!   playbook on freshly seeded resources (every case starts from the same
//!   world), and some step or the notification must fail with an
//!   authorization error. Only that counts: a report that merely differs does
//!   not.
//!
//! The emulator authorizes on actions only (no resource or condition
//! context), so the policies' resource ARNs and conditions are checked by
//! cfn-lint and checkov, not here. The one action the emulator cannot
//! authorize is in [`NOT_CHECKABLE_HERE`]. check-posture's policy is not
//! run here (its world needs a detector and rules in another region); its
//! e2e tests exercise its calls.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::Command;
use std::sync::Mutex;

use aws_config::SdkConfig;
use aws_sdk_ec2::types::{IpPermission, IpRange};
use futures::StreamExt;
use responder_aws::{HandlerError, report_of};
use responder_core::{Function, Report, Settings};
use responder_e2e::faults::FaultInjector;
use responder_e2e::seed::{self, InstanceOptions, Network};
use responder_e2e::{emulator_endpoint, fixture_for_instance, fixture_with, recorded_by, root, sdk_config_as};

/// Actions in the policies that no playbook calls, and why they are there.
const NOT_CALLED_BY_THE_CODE: &[(&str, &str)] = &[
    ("kms:Decrypt", "SNS uses it on the function's behalf to encrypt with the topic's KMS key"),
    ("kms:GenerateDataKey", "SNS uses it on the function's behalf to encrypt with the topic's KMS key"),
    ("sqs:SendMessage", "the Lambda service sends failed events to the dead-letter queue as the function's role"),
    (
        "iam:PassRole",
        "release: AssociateIamInstanceProfile passes the profile's role to EC2 (authorized by AWS, not a call of its own)",
    ),
    (
        "sts:AssumeRole",
        "only into member accounts (the cross-account tests cover it; here all runs are in one account)",
    ),
];

/// Actions the emulator cannot authorize, and why.
const NOT_CHECKABLE_HERE: &[(&str, &str)] = &[(
    "cloudtrail:LookupEvents",
    "the emulator does not implement LookupEvents and answers 500 before authorizing; the SDK-mock tests cover the call",
)];

/// Actions one function's role needs that its runs do not call on their own:
/// (function, action, why).
const NOT_CALLED_BY_THIS_FUNCTION: &[(&str, &str, &str)] = &[
    (
        "isolate-database",
        "ec2:CreateTags",
        "CreateSecurityGroup with tags needs it (AWS authorizes the tags on creation); the emulator does not ask",
    ),
    (
        "quarantine-instance",
        "kms:CreateGrant",
        "EBS uses it on the function's behalf to copy a snapshot under the evidence key",
    ),
    (
        "quarantine-instance",
        "kms:GenerateDataKeyWithoutPlaintext",
        "EBS uses it on the function's behalf to copy a snapshot under the evidence key",
    ),
    (
        "quarantine-instance",
        "kms:ReEncryptFrom",
        "EBS uses it on the function's behalf to copy a snapshot under the evidence key",
    ),
    (
        "quarantine-instance",
        "kms:ReEncryptTo",
        "EBS uses it on the function's behalf to copy a snapshot under the evidence key",
    ),
    (
        "quarantine-instance",
        "kms:DescribeKey",
        "EBS uses it on the function's behalf to copy a snapshot under the evidence key",
    ),
    (
        "quarantine-instance",
        "ssm:PutParameter",
        "queues a snapshot copy EBS has not finished; the emulator completes every snapshot at once (the evidence pass's e2e test covers the queue)",
    ),
    (
        "release role",
        "eks:DescribeCluster",
        "releases a pod through the cluster's Kubernetes API, which the emulator has not; the fake API server tests (responder-eks) cover it",
    ),
    (
        "contain-eks-workload",
        "eks:DescribeCluster",
        "reaches the cluster's Kubernetes API, which the emulator has not; the fake API server tests (responder-eks) cover the Kubernetes side, the SDK-mock test the call",
    ),
    (
        "protect-s3-bucket",
        "s3:ListBucket",
        "without it S3 answers a read of a missing evidence copy with 403 instead of 404; the emulator answers 404 either way",
    ),
];

fn not_called_by(function: impl std::fmt::Display, action: &str) -> bool {
    let function = function.to_string();
    NOT_CALLED_BY_THE_CODE.iter().any(|(n, _)| *n == action)
        || NOT_CALLED_BY_THIS_FUNCTION.iter().any(|(f, n, _)| *f == function && *n == action)
}

/// Error codes with which AWS services refuse a caller's permissions.
const DENIED: &[&str] =
    &["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "UnauthorizedAccess"];

/// Calls that need no permission (AWS authorizes every caller for them).
const NEEDS_NO_PERMISSION: &[&str] = &["sts:GetCallerIdentity"];

/// How one run came out, as far as permissions go.
#[derive(Debug, Clone)]
struct Run {
    outcome: String,
    /// Steps, or a delivery (topic, Security Hub, SIEM), refused for want
    /// of a permission.
    denied: Vec<String>,
    notification: Option<String>,
    /// Every failed step and a failed notification, with their codes.
    failed: Vec<String>,
    error: Option<String>,
    /// The IAM actions the run called (`service:Action`).
    called: BTreeSet<String>,
}

fn run_of(result: &Result<Report, HandlerError>, called: BTreeSet<String>) -> Run {
    let (report, error) = report_of(result);
    let mut denied: Vec<String> = report
        .map(|r| {
            r.steps
                .iter()
                .filter(|s| s.error_code.as_deref().is_some_and(|c| DENIED.contains(&c)))
                .map(|s| format!("{} {}: {}", s.action, s.target, s.detail))
                .collect()
        })
        .unwrap_or_default();
    // The deliveries beside the steps: the topic, Security Hub, the SIEM.
    let deliveries = |r: &Report| {
        [("notification", &r.notification), ("security hub", &r.security_hub), ("siem", &r.siem)]
            .into_iter()
            .filter_map(|(what, n)| n.clone().map(|n| (what, n)))
            .filter(|(_, n)| n.status == "failed")
            .collect::<Vec<_>>()
    };
    for (what, n) in report.map(deliveries).unwrap_or_default() {
        if DENIED.iter().any(|c| n.detail.starts_with(&format!("{c}:"))) {
            denied.push(format!("{what}: {}", n.detail));
        }
    }
    let mut failed: Vec<String> = report
        .map(|r| {
            r.steps
                .iter()
                .filter(|s| s.status == responder_core::StepStatus::Failed)
                .map(|s| format!("{} {:?}", s.action, s.error_code))
                .collect()
        })
        .unwrap_or_default();
    for (what, n) in report.map(deliveries).unwrap_or_default() {
        failed.push(format!("{what}: {}", n.detail));
    }
    Run {
        outcome: report.map(|r| r.outcome.to_string()).unwrap_or_default(),
        failed,
        denied,
        notification: report.and_then(|r| r.notification.as_ref().map(|n| n.status.clone())),
        error: error.map(str::to_owned),
        called,
    }
}

/// The actions of each function's role, from the template.
fn template_policies() -> BTreeMap<String, Vec<String>> {
    policies_of("infra/template.yaml")
}

/// The actions of each role of `template` (by its Description).
fn policies_of(template: &str) -> BTreeMap<String, Vec<String>> {
    let python = root().join(".tools/venv/bin/python");
    let python = std::env::var("RESPONDER_PYTHON").map(Into::into).unwrap_or(python);
    let out = Command::new(&python)
        .arg(root().join("tests/infra/policies.py"))
        .arg(root().join(template))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(out.status.success(), "policies.py: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("policies.py output")
}

fn policy_document(actions: &[String]) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Action": actions, "Resource": "*" }]
    })
    .to_string()
}

/// A user holding exactly `actions`, and an SDK configuration that calls as it.
async fn principal(admin: &SdkConfig, name: &str, actions: &[String]) -> SdkConfig {
    let iam = aws_sdk_iam::Client::new(admin);
    iam.create_user().user_name(name).send().await.expect("CreateUser");
    iam.put_user_policy()
        .user_name(name)
        .policy_name("function")
        .policy_document(policy_document(actions))
        .send()
        .await
        .expect("PutUserPolicy");
    let key = iam.create_access_key().user_name(name).send().await.expect("CreateAccessKey");
    let key = key.access_key().expect("key");
    sdk_config_as(&emulator_endpoint(), key.access_key_id(), key.secret_access_key()).await
}

/// Turns enforcement on: every later request is authorized.
fn enforce(endpoint: &str) {
    responder_e2e::bare_request(endpoint, "POST", "/moto-api/reset-auth", "0");
}

/// The evidence store every run writes to: bucket, key ARN.
static EVIDENCE: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
/// The SIEM bucket the runs write their OCSF reports to.
static SIEM: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// A snapshot and an image malware was found in, each shared with another
/// account (the snapshot also publicly): the cases that unshare them.
async fn shared_artifacts(admin: &SdkConfig, net: &Network) -> (String, String) {
    let inst =
        net.instance(admin, InstanceOptions { second_eni: false, profile: false, asg: false, exempt: false }).await;
    let snapshot = seed::shared_snapshot(admin, &inst.volume).await;
    let image = seed::shared_image(admin, &inst.id).await;
    (snapshot, image)
}

fn artifact_cases(snapshot: &str, image: &str) -> [Case; 2] {
    [
        Case {
            function: Function::QuarantineInstance,
            event: fixture_with("ec2-malicious-file-snapshot.json", &[("snap-0a1b2c3d4e5f60718", snapshot)]),
        },
        Case {
            function: Function::QuarantineInstance,
            event: fixture_with("ec2-malicious-file-ami.json", &[("ami-0f1e2d3c4b5a69870", image)]),
        },
    ]
}

/// What one run needs: the event.
struct Case {
    function: Function,
    event: Vec<u8>,
}

/// A VPC whose isolation group a quarantine made and someone then opened
/// up: quarantine must reset its rules (the revoke path).
async fn drifted_network(admin: &SdkConfig, topic: &str) -> Network {
    let net = Network::create(admin).await;
    let warm = net.instance(admin, InstanceOptions::default()).await;
    let case = Case {
        function: Function::QuarantineInstance,
        event: fixture_for_instance("ec2-cryptocurrency-bitcointool-high.json", &warm.id),
    };
    let warmed = run_as(admin, topic, &case).await;
    assert_eq!(warmed.outcome, "contained", "{warmed:#?}");
    let ec2 = aws_sdk_ec2::Client::new(admin);
    for g in seed::responder_groups(admin, &net.vpc, "isolation").await {
        ec2.authorize_security_group_ingress()
            .group_id(g.group_id().unwrap_or_default())
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(22)
                    .to_port(22)
                    .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                    .build(),
            )
            .send()
            .await
            .expect("open the isolation group");
    }
    net
}

/// Seeds, as the admin, fresh resources for the runs of `function`: every
/// run, healthy or with an action removed, starts from the same world.
async fn seed_case(admin: &SdkConfig, function: Function, topic: &str, buckets: &Mutex<Vec<String>>) -> Vec<Case> {
    match function {
        Function::QuarantineInstance => {
            // A fresh VPC (the groups are created) and one whose isolation
            // group has drifted (its rules are reset): between them every
            // EC2 action of the role is called.
            let fresh = Network::create(admin).await;
            let drifted = drifted_network(admin, topic).await;
            let a = fresh.instance(admin, InstanceOptions::default()).await;
            let b = drifted.instance(admin, InstanceOptions::default()).await;
            // One serves behind load balancers; both snapshots are copied to the evidence store.
            seed::load_balancers(admin, &fresh, &a.id).await;
            let (snapshot, image) = shared_artifacts(admin, &fresh).await;
            let mut cases: Vec<Case> = [a, b]
                .iter()
                .map(|i| Case {
                    function,
                    event: fixture_for_instance("ec2-cryptocurrency-bitcointool-high.json", &i.id),
                })
                .collect();
            // The first finding delivered again: its ENIs are on responder
            // groups now, so their own tags (the records) are read.
            let again = Case { function, event: cases[0].event.clone() };
            cases.push(again);
            cases.extend(artifact_cases(&snapshot, &image));
            // A person's Contain on a Medium finding: the finding fetched
            // from GuardDuty, then the same playbook.
            let c = fresh.instance(admin, InstanceOptions::default()).await;
            let medium = fixture_for_instance("ec2-backdoor-spambot-medium.json", &c.id);
            let event =
                responder_e2e::custom_action_on("securityhub-custom-action-contain-ec2-spambot-medium.json", &medium);
            cases.push(Case { function, event });
            cases
        }
        Function::DisableIamUser => {
            let (user, keys, _) = seed::iam_user(admin, 2, 0, true).await;
            let event = fixture_with(
                "iam-user-malicious-ip-caller.json",
                &[("ci-deployer", &user), ("AKIA2EXAMPLEKEY7QXK3", &keys[0])],
            );
            vec![Case { function, event }]
        }
        Function::RevokeRoleSessions => {
            let role = seed::iam_role(admin, "data-pipeline", "/").await;
            vec![Case {
                function,
                event: fixture_with("iam-role-malicious-ip-caller.json", &[("data-pipeline", &role)]),
            }]
        }
        Function::RestoreCloudtrail => {
            let name = seed::unique("lp-trail");
            let bucket = buckets.lock().unwrap().pop().expect("a bucket made before enforcement");
            seed::trail_to(admin, &name, &bucket).await;
            seed::stop_trail(admin, &name).await;
            let event =
                fixture_with("cloudtrail-logging-disabled.json", &[("\"management-events\"", &format!("\"{name}\""))]);
            vec![Case { function, event }]
        }
        Function::NotifyFinding => {
            vec![Case { function, event: fixture_with("ec2-recon-port-probe-medium.json", &[]) }]
        }
        Function::IsolateDatabase => {
            // A fresh VPC (the group is created), one whose isolation group
            // drifted (its rules are reset), and an Aurora member (its
            // cluster's groups, a cluster snapshot).
            let fresh = Network::create(admin).await;
            let drifted = drifted_network(admin, topic).await;
            let aurora = Network::create(admin).await;
            let (a, _) = seed::database(admin, &fresh, false).await;
            let (b, _) = seed::database(admin, &drifted, false).await;
            let (c, cluster) = seed::database(admin, &aurora, true).await;
            let cluster = cluster.expect("a cluster");
            vec![
                Case { function, event: fixture_with("rds-successful-login-malicious-ip.json", &[("orders-db", &a)]) },
                Case { function, event: fixture_with("rds-successful-login-malicious-ip.json", &[("orders-db", &b)]) },
                Case {
                    function,
                    event: fixture_with(
                        "rds-aurora-successful-brute-force.json",
                        &[("orders-aurora-instance-1", &c), ("\"orders-aurora\"", &format!("\"{cluster}\""))],
                    ),
                },
            ]
        }
        Function::ContainEcsTask => {
            // A Fargate task (stopped; its service scaled down, which
            // SCALE_DOWN_SERVICES allows) and an EC2 task (its container
            // instance drained).
            let world = seed::ecs_world(admin, true).await;
            let (instance, _, task) = world.ec2.clone().expect("a container instance");
            let id = |arn: &str| arn.rsplit('/').next().unwrap_or_default().to_owned();
            vec![
                Case {
                    function,
                    event: fixture_with(
                        "ecs-runtime-cryptocurrency-fargate.json",
                        &[("ec964d3d4496eba592913bcbacbb07b7", &id(&world.task)), ("prod-web", &world.cluster)],
                    ),
                },
                Case {
                    function,
                    event: fixture_with(
                        "ecs-runtime-malicious-file-ec2.json",
                        &[
                            ("562033f42f81567bce7059f7a15ae49d", &id(&task)),
                            ("prod-api", &world.cluster),
                            ("i-05668d156b4aba5d8", &instance.id),
                        ],
                    ),
                },
            ]
        }
        Function::ContainEksWorkload => {
            // The IAM principals behind Kubernetes users: a user disabled, a
            // role's one session denied (the Kubernetes side is the fake API
            // server tests').
            let (user, _, _) = seed::iam_user(admin, 1, 0, true).await;
            let role = seed::iam_role(admin, "dev-deployer", "/").await;
            let high = |username: &str| {
                fixture_with(
                    "eks-malicious-ip-caller-iam-user.json",
                    &[("\"severity\":5", "\"severity\":8"), ("arn:aws:iam::123456789012:user/ci-bot", username)],
                )
            };
            vec![
                Case { function, event: high(&format!("arn:aws:iam::123456789012:user/{user}")) },
                Case { function, event: high(&format!("arn:aws:sts::123456789012:assumed-role/{role}/ci-session")) },
            ]
        }
        Function::ContainLambdaFunction => {
            let world = seed::lambda_function(admin, None, true, Some(5)).await;
            let event = fixture_with("lambda-backdoor-c2-activity.json", &[("order-processor", &world.function)]);
            vec![Case { function, event }]
        }
        Function::ProtectS3Bucket => {
            let bucket = buckets.lock().unwrap().pop().expect("a bucket made before enforcement");
            let event = fixture_with("s3-bucket-anonymous-access-granted.json", &[("customer-exports", &bucket)]);
            // The account's block too, from none (its runs go one at a time).
            seed::reset_account_block(admin).await;
            let account = fixture_with("s3-account-block-public-access-disabled.json", &[]);
            // Malicious objects: a version in a versioned bucket, and the
            // object of a bucket without versioning.
            let key = responder_e2e::MALICIOUS_KEY;
            let versioned = seed::versioned_bucket(admin).await;
            let version = seed::put_object(admin, &versioned, key, b"MZ").await;
            let plain = seed::tagged_bucket(admin, &[], None).await;
            seed::put_object(admin, &plain, key, b"MZ").await;
            let object = |bucket: &str, version: &str| responder_e2e::malicious_object_event(bucket, key, version);
            vec![
                Case { function, event },
                Case { function, event: account },
                Case { function, event: object(&versioned, &version) },
                Case { function, event: object(&plain, "null") },
            ]
        }
    }
}

/// Runs `case` as the caller of `config`, recording the actions it calls.
async fn run_as(config: &SdkConfig, topic: &str, case: &Case) -> Run {
    let (bucket, key) = EVIDENCE.get().expect("the evidence store is made before enforcement");
    let vars: HashMap<String, String> = [
        ("NOTIFY_TOPIC_ARN".to_owned(), topic.to_owned()),
        ("EVIDENCE_BUCKET".to_owned(), bucket.clone()),
        ("EVIDENCE_KEY_ARN".to_owned(), key.clone()),
        ("DELETE_MALICIOUS_OBJECTS".to_owned(), "true".to_owned()),
        ("START_MALWARE_SCANS".to_owned(), "true".to_owned()),
        ("SECURITY_HUB_WRITE_BACK".to_owned(), "true".to_owned()),
        ("SIEM_BUCKET".to_owned(), SIEM.get().expect("the SIEM bucket is made before enforcement").clone()),
        ("SCALE_DOWN_SERVICES".to_owned(), "true".to_owned()),
    ]
    .into();
    let settings = Settings::from_lookup(|k| vars.get(k).cloned()).expect("settings");
    let recorder = FaultInjector::new();
    let (config, function, event) = (recorded_by(config, &recorder), case.function, case.event.clone());
    // Spawned: a playbook's future is large, and the heap holds it.
    let result = tokio::spawn(async move {
        let responder = responder_e2e::responder_for(function, &settings, &config).await;
        responder.handle(&event, None).await
    })
    .await
    .expect("the run panicked");
    let called = recorder.calls().iter().map(|c| format!("{}:{}", c.service, c.action)).collect();
    run_of(&result, called)
}

/// How a function's role departs from what its runs need: wildcards,
/// actions no run called that are not documented, actions called that the
/// role lacks.
fn departures(function: impl std::fmt::Display, actions: &[String], called: &BTreeSet<String>) -> Vec<String> {
    let mut found = Vec::new();
    for a in actions {
        if a.contains('*') || a.contains('?') {
            found.push(format!("{function}: wildcard action {a}"));
        } else if !called.contains(a) && !not_called_by(&function, a) {
            found.push(format!("{function}: {a} is in the role, but no run called it and it is not documented"));
        }
    }
    for c in called {
        if !actions.contains(c) && !NEEDS_NO_PERMISSION.contains(&c.as_str()) {
            found.push(format!("{function}: its runs called {c}, which the role does not allow"));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_function_works_with_exactly_its_template_policy_and_no_less() {
    let endpoint = emulator_endpoint();
    let policies = template_policies();
    let root_config = sdk_config_as(&endpoint, "testing", "testing").await;

    // Before enforcement: the admin, and buckets (made with bare requests).
    let admin = principal(&root_config, "lp-admin", &["*".to_owned()]).await;
    // Trails need buckets, which the harness makes with bare requests.
    let buckets: Vec<String> = (0..60).map(|_| seed::unique("lp-logs").to_lowercase()).collect();
    for b in &buckets {
        seed::bucket(&endpoint, b);
    }
    let buckets = Mutex::new(buckets);
    let store = seed::evidence_store(&root_config).await;
    EVIDENCE.get_or_init(|| store);
    let siem = seed::unique("lp-siem").to_lowercase();
    seed::bucket(&endpoint, &siem);
    SIEM.get_or_init(|| siem);
    enforce(&endpoint);

    let sns = aws_sdk_sns::Client::new(&admin);
    let topic = sns.create_topic().name("lp-reports").send().await.expect("CreateTopic as admin");
    let topic = topic.topic_arn().unwrap_or_default().to_owned();
    let all_actions = |f: Function| policies.get(f.name()).cloned().unwrap_or_else(|| panic!("no policy for {f}"));

    let functions = [
        Function::QuarantineInstance,
        Function::DisableIamUser,
        Function::RevokeRoleSessions,
        Function::RestoreCloudtrail,
        Function::ProtectS3Bucket,
        Function::ContainLambdaFunction,
        Function::IsolateDatabase,
        Function::ContainEcsTask,
        Function::ContainEksWorkload,
        Function::NotifyFinding,
    ];
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for function in functions {
        let actions = all_actions(function);
        // With the whole policy: as healthy as without enforcement.
        let full = principal(&admin, &seed::unique(&format!("lp-{function}")), &actions).await;
        let mut called = BTreeSet::new();
        for case in seed_case(&admin, function, &topic, &buckets).await {
            let run = run_as(&full, &topic, &case).await;
            let expected = if function == Function::NotifyFinding { "partial" } else { "contained" };
            assert_eq!(run.outcome, expected, "{function} with its whole policy: {run:#?}");
            assert_eq!(run.notification.as_deref(), Some("published"), "{function}: {run:#?}");
            assert!(run.error.is_none(), "{function}: {run:#?}");
            assert!(run.denied.is_empty(), "{function} was denied something with its whole policy: {run:#?}");
            called.extend(run.called);
        }
        // Nothing more than the runs call.
        failures.extend(departures(function, &actions, &called));

        // Nothing less: each action removed in turn, on a fresh world, must
        // be refused somewhere.
        let removable: Vec<String> = actions
            .iter()
            .filter(|a| !not_called_by(function, a) && !NOT_CHECKABLE_HERE.iter().any(|(n, _)| n == *a))
            .filter(|a| !a.contains('*'))
            .cloned()
            .collect();
        let results: Vec<(String, Vec<String>, Vec<String>)> = futures::stream::iter(removable.clone())
            .map(|action| {
                let (admin, actions, topic, buckets) = (&admin, &actions, &topic, &buckets);
                async move {
                    let fewer: Vec<String> = actions.iter().filter(|a| **a != action).cloned().collect();
                    let user = principal(admin, &seed::unique("lp-without"), &fewer).await;
                    let (mut denied, mut failed) = (Vec::new(), Vec::new());
                    for case in seed_case(admin, function, topic, buckets).await {
                        let run = run_as(&user, topic, &case).await;
                        denied.extend(run.denied);
                        failed.push(format!("{} {:?}", run.outcome, run.failed));
                    }
                    (action, denied, failed)
                }
            })
            // The account's block is one per account: those runs go one at a time.
            .buffer_unordered(if function == Function::ProtectS3Bucket { 1 } else { 4 })
            .collect()
            .await;
        for (action, denied, failed) in results {
            if denied.is_empty() {
                failures.push(format!(
                    "{function}: without {action} no step and no delivery was denied (runs: {})",
                    failed.join("; ")
                ));
            }
        }
        report.push(format!(
            "{function}: {} actions, each needed; the role is exactly what its runs call",
            removable.len()
        ));
    }

    // The Denies hold even where the code would act: a role under the
    // responder's path, the organization's access role and a protected
    // role are refused by IAM itself (the emulator evaluates a Deny on a
    // role's ARN), whatever the function's settings.
    let function_denies =
        (&all_actions(Function::RevokeRoleSessions)[..], "infra/template.yaml", "revoke-role-sessions");
    let function_roles = [(seed::unique("other-responder-function"), "/guardduty-responder/"), org_role(), protected()];
    failures.extend(denied_roles_stay_untouched(&admin, &topic, function_denies, &function_roles).await);
    // The member role, with what the function adds itself (its topic and
    // GuardDuty, in the administrator account): never itself, the release
    // role, the organization's access role or a protected role.
    let member = "Assumed by guardduty-responder to contain GuardDuty findings in this account";
    let mut member_actions = policies_of("infra/member-role.yaml").remove(member).expect("the member role");
    member_actions.extend(["sns:Publish", "guardduty:GetFindings", "guardduty:ListDetectors"].map(str::to_owned));
    let member_roles = [
        ("GuardDutyResponderMember".to_owned(), "/"),
        ("GuardDutyResponderMember-release".to_owned(), "/"),
        org_role(),
        protected(),
    ];
    let member_denies = (&member_actions[..], "infra/member-role.yaml", member);
    failures.extend(denied_roles_stay_untouched(&admin, &topic, member_denies, &member_roles).await);

    // The member accounts' release role: exactly what `responder release`
    // calls, and enough for it.
    let release_actions = policies_of("infra/member-role.yaml")
        .remove("guardduty-responder release")
        .expect("the release role in infra/member-role.yaml");
    let recorder = FaultInjector::new();
    let contained = contain_for_release(&admin, &topic).await;
    release_all(&recorded_by(&admin, &recorder), &contained).await.expect("release as the admin");
    let called = recorder.calls().iter().map(|c| format!("{}:{}", c.service, c.action)).collect();
    failures.extend(departures("release role", &release_actions, &called));
    let releaser = principal(&admin, &seed::unique("lp-release"), &release_actions).await;
    let contained = contain_for_release(&admin, &topic).await;
    if let Err(e) = release_all(&releaser, &contained).await {
        failures.push(format!("release role: with exactly its actions, {e}"));
    }
    report.push(format!("release role: {} actions, exactly what release calls", release_actions.len()));

    assert!(failures.is_empty(), "the roles are not least privilege:\n{}", failures.join("\n"));
    eprintln!("{}", report.join("\n"));
}

fn org_role() -> (String, &'static str) {
    ("OrganizationAccountAccessRole".to_owned(), "/")
}

/// The role ProtectedRoleArns names in the policies' sample values.
fn protected() -> (String, &'static str) {
    ("break-glass".to_owned(), "/")
}

/// Runs revoke-role-sessions, as a principal holding `actions` and the Deny
/// statements of `template`'s role `role`, on each of `roles` (made when
/// missing); says where a role was changed or IAM did not refuse the record.
async fn denied_roles_stay_untouched(
    admin: &SdkConfig,
    topic: &str,
    (actions, template, role_description): (&[String], &str, &str),
    roles: &[(String, &str)],
) -> Vec<String> {
    let python = root().join(".tools/venv/bin/python");
    let python = std::env::var("RESPONDER_PYTHON").map(Into::into).unwrap_or(python);
    let out = Command::new(&python)
        .arg(root().join("tests/infra/policies.py"))
        .arg("--denies")
        .arg(root().join(template))
        .output()
        .expect("policies.py --denies");
    let mut all: BTreeMap<String, Vec<serde_json::Value>> = serde_json::from_slice(&out.stdout).expect("denies");
    let denies = all.remove(role_description).unwrap_or_default();
    assert!(!denies.is_empty(), "{role_description} has no Deny statements");
    let mut statements = vec![serde_json::json!({ "Effect": "Allow", "Action": actions, "Resource": "*" })];
    statements.extend(denies);
    let document = serde_json::json!({ "Version": "2012-10-17", "Statement": statements }).to_string();

    let iam = aws_sdk_iam::Client::new(admin);
    let name = seed::unique("lp-denied");
    iam.create_user().user_name(&name).send().await.expect("CreateUser");
    iam.put_user_policy().user_name(&name).policy_name("function").policy_document(document).send().await.expect("put");
    let key = iam.create_access_key().user_name(&name).send().await.expect("CreateAccessKey");
    let key = key.access_key().expect("key");
    let as_function = sdk_config_as(&emulator_endpoint(), key.access_key_id(), key.secret_access_key()).await;

    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let mut failures = Vec::new();
    for (role, path) in roles {
        if iam.get_role().role_name(role).send().await.is_err() {
            iam.create_role()
                .role_name(role)
                .path(*path)
                .assume_role_policy_document(trust)
                .send()
                .await
                .expect("role");
        }
        let case = Case {
            function: Function::RevokeRoleSessions,
            event: fixture_with("iam-role-malicious-ip-caller.json", &[("data-pipeline", role)]),
        };
        let run = run_as(&as_function, topic, &case).await;
        let policy = seed::role_policy(admin, role, responder_core::revocation::POLICY_NAME).await;
        let tags = iam.list_role_tags().role_name(role).send().await.expect("tags");
        let tagged = tags.tags().iter().any(|t| t.key().starts_with("guardduty-responder:"));
        let record_denied = run.denied.iter().any(|d| d.starts_with("record-role-state"));
        if policy.is_some() || tagged || !record_denied {
            failures.push(format!("{role_description}, {path}{role}: changed, or not refused by IAM: {run:#?}"));
        }
    }
    failures
}

/// What a release undoes: a quarantined instance (two ENIs, profile, Auto
/// Scaling group), a disabled user and a role with its sessions revoked (both
/// with a revocation of a person's from before), and a role with a stolen
/// session denied, all contained by the admin.
struct Contained {
    /// The finding the instance was quarantined for: it is released by
    /// finding (`responder release --finding-id`).
    instance_finding: String,
    users: Vec<String>,
    roles: Vec<String>,
    buckets: Vec<String>,
    functions: Vec<String>,
    databases: Vec<String>,
    /// ECS tasks (cluster, task): two of one service, one of the EC2 launch type.
    tasks: Vec<(String, String)>,
    /// A snapshot and an image, unshared.
    artifacts: (String, String),
}

async fn contain_for_release(admin: &SdkConfig, topic: &str) -> Contained {
    let net = Network::create(admin).await;
    let inst = net.instance(admin, InstanceOptions::default()).await;
    seed::load_balancers(admin, &net, &inst.id).await;
    let artifacts = shared_artifacts(admin, &net).await;
    let (user, keys, _) = seed::iam_user(admin, 2, 0, true).await;
    let (plain_user, plain_keys, _) = seed::iam_user(admin, 1, 0, false).await;
    let role = seed::iam_role(admin, "data-pipeline", "/").await;
    let stolen = seed::iam_role(admin, "web-app-role", "/").await;
    // One bucket that had a block (put back) and one that had none (deleted).
    let blocked = seed::tagged_bucket(admin, &[], Some([true, false, false, false])).await;
    let open = seed::tagged_bucket(admin, &[], None).await;
    // The account's block, which had one setting on.
    seed::reset_account_block(admin).await;
    aws_sdk_s3control::Client::new(admin)
        .put_public_access_block()
        .account_id("123456789012")
        .public_access_block_configuration(
            aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder().ignore_public_acls(true).build(),
        )
        .send()
        .await
        .expect("PutPublicAccessBlock (account)");
    // Two functions sharing a role: releasing the first keeps the second's
    // session denied (the record is rewritten), the second removes it all.
    let first = seed::lambda_function(admin, None, true, None).await;
    let second = seed::lambda_function(admin, Some(&first.role), false, Some(3)).await;
    // A database, and an Aurora member (its groups are its cluster's).
    let (database, _) = seed::database(admin, &net, false).await;
    let aurora_net = Network::create(admin).await;
    let (member, cluster) = seed::database(admin, &aurora_net, true).await;
    let cluster = cluster.expect("a cluster");
    // Revocations a person put earlier: release puts them back.
    let earlier = responder_core::revocation::policy_document(chrono::Utc::now() - chrono::Duration::days(30));
    let iam = aws_sdk_iam::Client::new(admin);
    let name = responder_core::revocation::POLICY_NAME;
    iam.put_role_policy().role_name(&role).policy_name(name).policy_document(&earlier).send().await.expect("put");
    iam.put_user_policy().user_name(&user).policy_name(name).policy_document(&earlier).send().await.expect("put");
    let quarantine = fixture_for_instance("ec2-cryptocurrency-bitcointool-high.json", &inst.id);
    let instance_finding = serde_json::from_slice::<serde_json::Value>(&quarantine).expect("event")["detail"]["id"]
        .as_str()
        .expect("a finding id")
        .to_owned();
    let mut cases = vec![
        Case { function: Function::QuarantineInstance, event: quarantine },
        Case {
            function: Function::DisableIamUser,
            event: fixture_with(
                "iam-user-malicious-ip-caller.json",
                &[("ci-deployer", &user), ("AKIA2EXAMPLEKEY7QXK3", &keys[0])],
            ),
        },
        Case {
            function: Function::DisableIamUser,
            event: fixture_with(
                "iam-user-malicious-ip-caller.json",
                &[("ci-deployer", &plain_user), ("AKIA2EXAMPLEKEY7QXK3", &plain_keys[0])],
            ),
        },
        Case {
            function: Function::RevokeRoleSessions,
            event: fixture_with("iam-role-malicious-ip-caller.json", &[("data-pipeline", &role)]),
        },
        Case {
            function: Function::RevokeRoleSessions,
            event: fixture_with(
                "iam-instance-credential-exfiltration-outside-aws.json",
                &[("i-0a1b2c3d4e5f67890", &inst.id), ("web-app-role", &stolen)],
            ),
        },
        Case {
            function: Function::ProtectS3Bucket,
            event: fixture_with("s3-bucket-anonymous-access-granted.json", &[("customer-exports", &blocked)]),
        },
        Case {
            function: Function::ProtectS3Bucket,
            event: fixture_with("s3-bucket-anonymous-access-granted.json", &[("customer-exports", &open)]),
        },
        Case {
            function: Function::ContainLambdaFunction,
            event: fixture_with("lambda-backdoor-c2-activity.json", &[("order-processor", &first.function)]),
        },
        Case {
            function: Function::ContainLambdaFunction,
            event: fixture_with("lambda-backdoor-c2-activity.json", &[("order-processor", &second.function)]),
        },
        Case {
            function: Function::IsolateDatabase,
            event: fixture_with("rds-successful-login-malicious-ip.json", &[("orders-db", &database)]),
        },
        Case {
            function: Function::ProtectS3Bucket,
            event: fixture_with("s3-account-block-public-access-disabled.json", &[]),
        },
        Case {
            function: Function::IsolateDatabase,
            event: fixture_with(
                "rds-aurora-successful-brute-force.json",
                &[("orders-aurora-instance-1", &member), ("\"orders-aurora\"", &format!("\"{cluster}\""))],
            ),
        },
    ];
    // Two tasks of one service (the first release keeps the service down
    // for the second) and a task on a container instance.
    let ecs = seed::ecs_world(admin, true).await;
    let (instance, _, ec2_task) = ecs.ec2.clone().expect("a container instance");
    let id = |arn: &str| arn.rsplit('/').next().unwrap_or_default().to_owned();
    let mut tasks = Vec::new();
    for task in [&ecs.task, &ecs.twin] {
        cases.push(Case {
            function: Function::ContainEcsTask,
            event: fixture_with(
                "ecs-runtime-cryptocurrency-fargate.json",
                &[("ec964d3d4496eba592913bcbacbb07b7", &id(task)), ("prod-web", &ecs.cluster)],
            ),
        });
        tasks.push((ecs.cluster.clone(), task.clone()));
    }
    cases.push(Case {
        function: Function::ContainEcsTask,
        event: fixture_with(
            "ecs-runtime-malicious-file-ec2.json",
            &[
                ("562033f42f81567bce7059f7a15ae49d", &id(&ec2_task)),
                ("prod-api", &ecs.cluster),
                ("i-05668d156b4aba5d8", &instance.id),
            ],
        ),
    });
    tasks.push((ecs.cluster.clone(), ec2_task));
    for case in cases.iter().chain(&artifact_cases(&artifacts.0, &artifacts.1)) {
        let run = run_as(admin, topic, case).await;
        assert_eq!(run.outcome, "contained", "{run:#?}");
    }
    Contained {
        artifacts,
        instance_finding,
        users: vec![user, plain_user],
        roles: vec![role, stolen],
        buckets: vec![blocked, open],
        functions: vec![first.function, second.function],
        databases: vec![database, member],
        tasks,
    }
}

/// Releases everything in `contained` as the caller of `config`.
async fn release_all(config: &SdkConfig, contained: &Contained) -> Result<(), String> {
    let iam = responder_iam::Cloud::new(config);
    let settings = responder_e2e::settings(&[]);
    let by_finding =
        responder_cli::release_finding(config, &settings, &contained.instance_finding, true, false).await?;
    if by_finding.runs.len() != 1 {
        return Err(format!("the release by finding released {} things: {by_finding:#?}", by_finding.runs.len()));
    }
    let mut runs = by_finding.runs;
    for user in &contained.users {
        runs.push((user.clone(), responder_iam::credentials::release_user(&iam, user).await));
    }
    for role in &contained.roles {
        runs.push((role.clone(), responder_iam::credentials::release_role(&iam, role).await));
    }
    let s3 = responder_s3::Cloud::new(config);
    for bucket in &contained.buckets {
        runs.push((bucket.clone(), responder_s3::bucket::release(&s3, bucket).await));
    }
    let lambda = responder_lambda::Cloud::new(config);
    for function in &contained.functions {
        runs.push((function.clone(), responder_lambda::contain::release(&lambda, function).await));
    }
    let s3 = responder_s3::Cloud::new(config);
    runs.push(("the account's block".to_owned(), responder_s3::account::release(&s3, "123456789012").await));
    let rds = responder_rds::Cloud::new(config);
    for database in &contained.databases {
        runs.push((database.clone(), responder_rds::isolate::release(&rds, database).await));
    }
    let ecs = responder_ecs::Cloud::new(config);
    for (cluster, task) in &contained.tasks {
        runs.push((task.clone(), responder_ecs::contain::release(&ecs, cluster, task).await));
    }
    let ec2 = responder_ec2::Cloud::new(config);
    let (snapshot, image) = &contained.artifacts;
    use responder_core::target::ArtifactKind;
    runs.push((snapshot.clone(), responder_ec2::artifact::release(&ec2, ArtifactKind::Snapshot, snapshot).await));
    runs.push((image.clone(), responder_ec2::artifact::release(&ec2, ArtifactKind::Image, image).await));
    for (what, run) in runs {
        if !run.log.all_held() || run.skipped.is_some() {
            return Err(format!("the release of {what} did not hold: {:#?} {:?}", run.log.records, run.skipped));
        }
    }
    Ok(())
}

/// The check itself fails on a role that holds more than its runs call.
#[test]
fn departures_catch_wildcards_unused_and_missing_actions() {
    let called: BTreeSet<String> = ["ec2:DescribeInstances".to_owned(), "sts:GetCallerIdentity".to_owned()].into();
    let f = Function::QuarantineInstance;
    assert!(departures(f, &["ec2:DescribeInstances".to_owned()], &called).is_empty());
    let found = departures(
        f,
        &["ec2:DescribeInstances".to_owned(), "iam:*".to_owned(), "ec2:TerminateInstances".to_owned()],
        &called,
    );
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].contains("wildcard action iam:*") && found[1].contains("ec2:TerminateInstances"), "{found:?}");
    let found = departures(f, &[], &called);
    assert_eq!(found, vec![format!("{f}: its runs called ec2:DescribeInstances, which the role does not allow")]);
}
