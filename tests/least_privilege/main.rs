//! Least privilege, proven on the emulator with IAM enforcement on.
//!
//! Its own test binary, so its emulator is its own: after the principals are
//! made, `/moto-api/reset-auth` turns enforcement on, and from then on every
//! request is authorized against its caller's IAM policies.
//!
//! Each function runs as an IAM user holding exactly the actions of its role
//! in `infra/template.yaml` (read by `tests/infra/policies.py`). Every playbook
//! must then work as it does unrestricted. Then, for each action, a user with
//! that one action removed runs the same playbook, and the run must come out
//! observably different (a step or the notification denied): an action no
//! run needs would be flagged here.
//!
//! The emulator authorizes on actions only (no resource or condition
//! context), so the policies' resource ARNs and conditions are checked by
//! cfn-lint and checkov, not here. Actions the code never calls itself are
//! listed in [`NOT_CALLED_BY_THE_CODE`] with why, and the one the emulator
//! cannot authorize in [`NOT_CHECKABLE_HERE`]. check-posture's policy is not
//! run here (its world needs a detector and rules in another region); its
//! e2e tests exercise its calls.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::sync::Mutex;

use aws_config::SdkConfig;
use aws_sdk_ec2::types::{IpPermission, IpRange};
use futures::StreamExt;
use responder_aws::{HandlerError, Responder, report_of};
use responder_core::{Function, Report, Settings};
use responder_e2e::seed::{self, InstanceOptions, Network};
use responder_e2e::{emulator_endpoint, fixture_for_instance, fixture_with, root, sdk_config_as};

/// Actions in the policies that no playbook calls, and why they are there.
const NOT_CALLED_BY_THE_CODE: &[(&str, &str)] = &[
    ("kms:Decrypt", "SNS uses it on the function's behalf to encrypt with the topic's KMS key"),
    ("kms:GenerateDataKey", "SNS uses it on the function's behalf to encrypt with the topic's KMS key"),
    ("sqs:SendMessage", "the Lambda service sends failed events to the dead-letter queue as the function's role"),
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

/// How one run came out, in terms a missing permission would change.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Signature {
    outcome: String,
    steps: Vec<(String, String, Option<String>)>,
    notification: Option<String>,
    error: Option<String>,
}

fn signature(result: &Result<Report, HandlerError>) -> Signature {
    let (report, error) = report_of(result);
    let mut steps: Vec<_> = report
        .map(|r| r.steps.iter().map(|s| (s.action.clone(), s.status.to_string(), s.error_code.clone())).collect())
        .unwrap_or_default();
    steps.sort();
    steps.dedup();
    Signature {
        outcome: report.map(|r| r.outcome.to_string()).unwrap_or_default(),
        steps,
        notification: report.and_then(|r| r.notification.as_ref().map(|n| n.status.clone())),
        error: error.map(str::to_owned),
    }
}

/// The actions of each function's role, from the template.
fn template_policies() -> BTreeMap<String, Vec<String>> {
    let python = root().join(".tools/venv/bin/python");
    let python = std::env::var("RESPONDER_PYTHON").map(Into::into).unwrap_or(python);
    let out = Command::new(&python)
        .arg(root().join("tests/infra/policies.py"))
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

/// What one run needs: the event, and the setting the run reads.
struct Case {
    function: Function,
    event: Vec<u8>,
}

/// Seeds the resources one run of `function` acts on (as the admin).
async fn seed_case(
    admin: &SdkConfig,
    function: Function,
    buckets: &Mutex<Vec<String>>,
    drifted: &Network,
) -> Vec<Case> {
    match function {
        Function::QuarantineInstance => {
            // A fresh VPC (the groups are created) and one whose isolation
            // group has drifted (its rules are reset): between them every
            // EC2 action of the role is called.
            let fresh = Network::create(admin).await;
            let a = fresh.instance(admin, InstanceOptions::default()).await;
            let b = drifted.instance(admin, InstanceOptions::default()).await;
            [a, b]
                .iter()
                .map(|i| Case {
                    function,
                    event: fixture_for_instance("ec2-cryptocurrency-bitcointool-high.json", &i.id),
                })
                .collect()
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
    }
}

async fn run_as(config: &SdkConfig, topic: &str, case: &Case) -> Signature {
    let vars: HashMap<String, String> = [("NOTIFY_TOPIC_ARN".to_owned(), topic.to_owned())].into();
    let settings = Settings::from_lookup(|k| vars.get(k).cloned()).expect("settings");
    let (config, function, event) = (config.clone(), case.function, case.event.clone());
    // Spawned: a playbook's future is large, and the heap holds it.
    tokio::spawn(async move {
        let responder = Responder::new(settings, config).await.expect("responder");
        signature(&responder.handle(function, &event, None).await)
    })
    .await
    .expect("the run panicked")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_function_works_with_exactly_its_template_policy_and_no_less() {
    let endpoint = emulator_endpoint();
    let policies = template_policies();
    let root_config = sdk_config_as(&endpoint, "testing", "testing").await;

    // Before enforcement: the admin, and buckets (made with bare requests).
    let admin = principal(&root_config, "lp-admin", &["*".to_owned()]).await;
    // Trails need buckets, which the harness makes with bare requests.
    let buckets: Vec<String> = (0..12).map(|_| seed::unique("lp-logs").to_lowercase()).collect();
    for b in &buckets {
        seed::bucket(&endpoint, b);
    }
    let buckets = Mutex::new(buckets);
    enforce(&endpoint);

    let sns = aws_sdk_sns::Client::new(&admin);
    let topic = sns.create_topic().name("lp-reports").send().await.expect("CreateTopic as admin");
    let topic = topic.topic_arn().unwrap_or_default().to_owned();
    // A VPC whose isolation group someone opened up.
    let drifted = Network::create(&admin).await;
    let warm = drifted.instance(&admin, InstanceOptions::default()).await;
    let all_actions = |f: Function| policies.get(f.name()).cloned().unwrap_or_else(|| panic!("no policy for {f}"));
    let quarantine_user = principal(&admin, "lp-quarantine-instance", &all_actions(Function::QuarantineInstance)).await;
    let warm_case = Case {
        function: Function::QuarantineInstance,
        event: fixture_for_instance("ec2-cryptocurrency-bitcointool-high.json", &warm.id),
    };
    let warmed = run_as(&quarantine_user, &topic, &warm_case).await;
    assert_eq!(warmed.outcome, "contained", "{warmed:#?}");
    let ec2 = aws_sdk_ec2::Client::new(&admin);
    for g in seed::responder_groups(&admin, &drifted.vpc, "isolation").await {
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

    let functions = [
        Function::QuarantineInstance,
        Function::DisableIamUser,
        Function::RevokeRoleSessions,
        Function::RestoreCloudtrail,
        Function::NotifyFinding,
    ];
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for function in functions {
        let actions = all_actions(function);
        // With the whole policy: as healthy as without enforcement.
        let full = principal(&admin, &seed::unique(&format!("lp-{function}")), &actions).await;
        let mut healthy = Vec::new();
        for case in seed_case(&admin, function, &buckets, &drifted).await {
            let sig = run_as(&full, &topic, &case).await;
            let expected = if function == Function::NotifyFinding { "partial" } else { "contained" };
            assert_eq!(sig.outcome, expected, "{function} with its whole policy: {sig:#?}");
            assert_eq!(sig.notification.as_deref(), Some("published"), "{function}: {sig:#?}");
            assert!(sig.error.is_none(), "{function}: {sig:#?}");
            assert!(
                !sig.steps
                    .iter()
                    .any(|s| s.2.as_deref().is_some_and(|c| c.contains("Denied") || c.contains("Unauthorized"))),
                "{function} was denied something with its whole policy: {sig:#?}"
            );
            healthy.push(sig);
        }

        // Each action removed in turn: some run must notice.
        let removable: Vec<String> = actions
            .iter()
            .filter(|a| !NOT_CALLED_BY_THE_CODE.iter().chain(NOT_CHECKABLE_HERE).any(|(n, _)| n == a))
            .cloned()
            .collect();
        let results: Vec<(String, bool)> = futures::stream::iter(removable.clone())
            .map(|action| {
                let (admin, actions, topic, healthy) = (&admin, &actions, &topic, &healthy);
                let (buckets, drifted) = (&buckets, &drifted);
                async move {
                    let fewer: Vec<String> = actions.iter().filter(|a| **a != action).cloned().collect();
                    let user = principal(admin, &seed::unique("lp-without"), &fewer).await;
                    let mut noticed = false;
                    for (case, healthy) in seed_case(admin, function, buckets, drifted).await.iter().zip(healthy) {
                        noticed |= run_as(&user, topic, case).await != *healthy;
                    }
                    (action, noticed)
                }
            })
            .buffer_unordered(4)
            .collect()
            .await;
        for (action, noticed) in results {
            if !noticed {
                failures.push(format!("{function}: removing {action} changed no run"));
            }
        }
        report.push(format!("{function}: {} actions, each needed", removable.len()));
    }
    assert!(failures.is_empty(), "actions no run needs:\n{}", failures.join("\n"));
    eprintln!("{}", report.join("\n"));
}
