//! Every fixture in `events/`, through parse → decide, for every function,
//! against a table of expectations. Adding a fixture without a row fails.

use std::path::PathBuf;

use responder_core::request::{Action, is_security_hub_event, parse_action};
use responder_core::{AccountId, Decision, Function, Policy, Skip, decide, parse_event};

/// `act` or the skip kind, per function.
struct Row {
    file: &'static str,
    quarantine: &'static str,
    revoke: &'static str,
    disable: &'static str,
}

/// Fixtures restore-cloudtrail acts on; it skips every other.
const TRAIL_FIXTURES: &[&str] = &["cloudtrail-logging-disabled.json", "cloudtrail-logging-disabled-unnamed-trail.json"];

/// What protect-s3-bucket does with the fixtures it does not answer
/// `not_for_this_function`.
const BUCKET_FIXTURES: &[(&str, &str)] = &[
    ("s3-malicious-object.json", "act"),
    ("s3-bucket-block-public-access-disabled.json", "act"),
    ("s3-bucket-anonymous-access-granted.json", "act"),
    ("s3-server-access-logging-disabled.json", "type_not_handled"),
    ("s3-attack-sequence-compromised-data.json", "act"),
    ("s3-account-block-public-access-disabled.json", "act"),
];

/// What contain-lambda-function does with the fixtures it does not answer
/// `not_for_this_function`.
const FUNCTION_FIXTURES: &[(&str, &str)] =
    &[("lambda-backdoor-c2-activity.json", "act"), ("lambda-cryptocurrency-bitcoin-tool.json", "act")];

/// What isolate-database does with the fixtures it does not answer
/// `not_for_this_function`.
const DATABASE_FIXTURES: &[(&str, &str)] = &[
    ("rds-successful-login-malicious-ip.json", "act"),
    ("rds-aurora-successful-brute-force.json", "act"),
    ("rds-failed-login-tor.json", "type_not_handled"),
];

/// What contain-ecs-task does with the fixtures it does not answer
/// `not_for_this_function`.
const TASK_FIXTURES: &[(&str, &str)] = &[
    ("ecs-runtime-cryptocurrency-fargate.json", "act"),
    ("ecs-runtime-malicious-file-ec2.json", "act"),
    ("ecs-runtime-reverse-shell-standalone.json", "act"),
];

/// What contain-eks-workload does with the fixtures it does not answer
/// `not_for_this_function`.
const WORKLOAD_FIXTURES: &[(&str, &str)] = &[
    ("eks-runtime-backdoor-c2.json", "act"),
    ("eks-rolebinding-created.json", "act"),
    ("eks-admin-access-default-service-account.json", "act"),
    ("eks-anonymous-access-granted.json", "type_not_handled"),
    ("eks-exposed-dashboard.json", "type_not_handled"),
    ("eks-malicious-ip-caller-iam-user.json", "below_threshold"),
    ("ec2-runtime-eks-node-cryptocurrency.json", "act"),
];

/// Fixtures below the default alert threshold (4.0), which notify-finding skips.
const QUIET_FIXTURES: &[&str] = &[
    "s3-bucket-block-public-access-disabled.json",
    "s3-account-block-public-access-disabled.json",
    "ec2-ssh-bruteforce-target-victim.json",
    "iam-root-credential-usage.json",
    "cloudtrail-logging-disabled.json",
    "cloudtrail-logging-disabled-unnamed-trail.json",
];

const TABLE: &[Row] = &[
    Row {
        file: "ecs-runtime-cryptocurrency-fargate.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ecs-runtime-malicious-file-ec2.json",
        quarantine: "act",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ecs-runtime-reverse-shell-standalone.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "eks-runtime-backdoor-c2.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "eks-rolebinding-created.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "eks-admin-access-default-service-account.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "eks-anonymous-access-granted.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "eks-exposed-dashboard.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "eks-malicious-ip-caller-iam-user.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ec2-runtime-eks-node-cryptocurrency.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ec2-runtime-eks-node-no-workload.json",
        quarantine: "act",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ec2-malicious-file-snapshot.json",
        quarantine: "act",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ec2-malicious-file-ami.json",
        quarantine: "act",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ec2-malicious-file-recovery-point.json",
        quarantine: "act",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "s3-malicious-object.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ec2-cryptocurrency-bitcointool-high.json",
        quarantine: "act",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ec2-trojan-blackhole-traffic-epoch-launchtime.json",
        quarantine: "act",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ec2-backdoor-c2-activity-critical.json",
        quarantine: "act",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ec2-impact-bitcoin-domain-request.json",
        quarantine: "act",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ec2-tor-client.json",
        quarantine: "act",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ec2-metadata-dns-rebind.json",
        quarantine: "act",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ec2-execution-malicious-file.json",
        quarantine: "act",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ec2-ssh-bruteforce-actor.json",
        quarantine: "act",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ec2-rdp-bruteforce-actor.json",
        quarantine: "act",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ec2-ssh-bruteforce-target-victim.json",
        quarantine: "victim",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ec2-recon-port-probe-medium.json",
        quarantine: "type_not_handled",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ec2-backdoor-spambot-medium.json",
        quarantine: "below_threshold",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ec2-cryptocurrency-sample-finding.json",
        quarantine: "sample",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ec2-trojan-archived-finding.json",
        quarantine: "archived",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "ec2-cryptocurrency-other-account.json",
        quarantine: "account_not_allowed",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "iam-instance-credential-exfiltration-outside-aws.json",
        quarantine: "act",
        revoke: "act",
        disable: "not_for_this_function",
    },
    Row {
        file: "iam-user-malicious-ip-caller.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "act",
    },
    Row {
        file: "iam-root-credential-usage.json",
        quarantine: "not_for_this_function",
        revoke: "notify_only",
        disable: "notify_only",
    },
    Row {
        file: "cloudtrail-logging-disabled.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "type_not_handled",
    },
    Row {
        file: "cloudtrail-logging-disabled-unnamed-trail.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "type_not_handled",
    },
    Row {
        file: "iam-role-malicious-ip-caller.json",
        quarantine: "not_for_this_function",
        revoke: "act",
        disable: "not_for_this_function",
    },
    Row {
        file: "iam-role-tor-ip-caller.json",
        quarantine: "not_for_this_function",
        revoke: "below_threshold",
        disable: "not_for_this_function",
    },
    Row {
        file: "iam-role-instance-credential-exfiltration-inside-aws.json",
        quarantine: "act",
        revoke: "act",
        disable: "not_for_this_function",
    },
    Row {
        file: "iam-role-sso-reserved.json",
        quarantine: "not_for_this_function",
        revoke: "identity_center_role",
        disable: "not_for_this_function",
    },
    Row {
        file: "iam-role-service-linked.json",
        quarantine: "not_for_this_function",
        revoke: "service_linked_role",
        disable: "not_for_this_function",
    },
    Row {
        file: "iam-federated-malicious-ip-caller.json",
        quarantine: "not_for_this_function",
        revoke: "notify_only",
        disable: "notify_only",
    },
    Row {
        file: "iam-user-malicious-ip-caller-custom.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "act",
    },
    Row {
        file: "iam-user-tor-ip-caller.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "act",
    },
    Row {
        file: "iam-user-recon-malicious-ip-caller.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "act",
    },
    Row {
        file: "iam-user-pentest-kali-linux.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "act",
    },
    Row {
        file: "iam-user-attack-sequence-compromised-credentials.json",
        quarantine: "not_for_this_function",
        revoke: "act",
        disable: "act",
    },
    Row {
        file: "iam-user-discovery-anomalous-behavior.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "type_not_handled",
    },
    Row {
        file: "iam-user-malicious-ip-caller-sample.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "sample",
    },
    Row {
        file: "s3-bucket-block-public-access-disabled.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "s3-bucket-anonymous-access-granted.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "s3-account-block-public-access-disabled.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "type_not_handled",
    },
    Row {
        file: "s3-exfiltration-malicious-ip-caller-user.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "act",
    },
    Row {
        file: "s3-anomalous-behavior-role.json",
        quarantine: "not_for_this_function",
        revoke: "type_not_handled",
        disable: "not_for_this_function",
    },
    Row {
        file: "s3-server-access-logging-disabled.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "lambda-backdoor-c2-activity.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "lambda-cryptocurrency-bitcoin-tool.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "rds-successful-login-malicious-ip.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "rds-aurora-successful-brute-force.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "rds-failed-login-tor.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "not_for_this_function",
    },
    Row {
        file: "s3-attack-sequence-compromised-data.json",
        quarantine: "not_for_this_function",
        revoke: "not_for_this_function",
        disable: "act",
    },
    Row {
        file: "ec2-attack-sequence-compromised-instance-group.json",
        quarantine: "act",
        revoke: "act",
        disable: "not_for_this_function",
    },
];

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn policy() -> Policy {
    Policy { home_account: AccountId::parse("123456789012").ok(), ..Policy::default() }
}

fn kind(decision: &Decision) -> &'static str {
    match decision {
        Decision::Act(_) => "act",
        Decision::Skip(skip) => skip.kind(),
    }
}

#[test]
fn every_fixture_has_a_row_and_decides_as_expected() {
    let mut files: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && !n.starts_with(CUSTOM_ACTION_PREFIX))
        .collect();
    files.sort();
    let rows: Vec<&str> = TABLE.iter().map(|r| r.file).collect();
    for f in &files {
        assert!(rows.contains(&f.as_str()), "fixture {f} has no row in the table");
    }
    let policy = policy();
    let mut failures = Vec::new();
    for row in TABLE {
        let bytes = std::fs::read(events_dir().join(row.file)).unwrap();
        let event = parse_event(&bytes).unwrap_or_else(|e| panic!("{}: {e}", row.file));
        let trail = if TRAIL_FIXTURES.contains(&row.file) { "act" } else { "not_for_this_function" };
        let alert = if QUIET_FIXTURES.contains(&row.file) { "below_alert_threshold" } else { "act" };
        let function =
            FUNCTION_FIXTURES.iter().find(|(f, _)| *f == row.file).map_or("not_for_this_function", |(_, k)| *k);
        let database =
            DATABASE_FIXTURES.iter().find(|(f, _)| *f == row.file).map_or("not_for_this_function", |(_, k)| *k);
        let bucket = BUCKET_FIXTURES.iter().find(|(f, _)| *f == row.file).map_or("not_for_this_function", |(_, k)| *k);
        let task = TASK_FIXTURES.iter().find(|(f, _)| *f == row.file).map_or("not_for_this_function", |(_, k)| *k);
        let workload =
            WORKLOAD_FIXTURES.iter().find(|(f, _)| *f == row.file).map_or("not_for_this_function", |(_, k)| *k);
        for (function, want) in [
            (Function::QuarantineInstance, row.quarantine),
            (Function::RevokeRoleSessions, row.revoke),
            (Function::DisableIamUser, row.disable),
            (Function::RestoreCloudtrail, trail),
            (Function::ProtectS3Bucket, bucket),
            (Function::ContainLambdaFunction, function),
            (Function::IsolateDatabase, database),
            (Function::ContainEcsTask, task),
            (Function::ContainEksWorkload, workload),
            (Function::NotifyFinding, alert),
        ] {
            let got = decide(function, &event.finding, &policy);
            if kind(&got) != want {
                failures.push(format!("{} / {function}: want {want}, got {got:?}", row.file));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn invalid_fixtures_are_rejected_with_a_reason() {
    for name in ["ec2-state-change-not-guardduty.json", "truncated-finding.json"] {
        let bytes = std::fs::read(events_dir().join("invalid").join(name)).unwrap();
        let err = parse_event(&bytes).expect_err(name);
        assert!(!err.message().is_empty());
    }
    for (name, why) in [
        ("securityhub-custom-action-not-guardduty.json", "not a GuardDuty finding (ProductArn"),
        ("securityhub-custom-action-no-findings.json", "names no finding"),
        ("securityhub-custom-action-bad-id.json", "is not a GuardDuty finding ARN"),
        ("securityhub-imported-findings.json", "not a GuardDuty finding or a Security Hub custom action"),
    ] {
        let bytes = std::fs::read(events_dir().join("invalid").join(name)).unwrap();
        assert!(is_security_hub_event(&bytes), "{name}");
        let err = parse_action(&bytes).expect_err(name);
        assert!(err.message().contains(why), "{name}: {}", err.message());
    }
}

/// Security Hub custom action events: the finding each names is the one a
/// GuardDuty fixture carries (same id, account, region and ARN).
const CUSTOM_ACTION_PREFIX: &str = "securityhub-custom-action-";
const CUSTOM_ACTIONS: &[(&str, Action, &str)] = &[
    ("securityhub-custom-action-contain-ec2-spambot-medium.json", Action::Contain, "ec2-backdoor-spambot-medium.json"),
    ("securityhub-custom-action-release-ec2-spambot-medium.json", Action::Release, "ec2-backdoor-spambot-medium.json"),
    ("securityhub-custom-action-contain-iam-user.json", Action::Contain, "iam-user-malicious-ip-caller.json"),
];

#[test]
fn custom_action_fixtures_name_the_guardduty_finding_they_were_made_from() {
    let on_disk: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(CUSTOM_ACTION_PREFIX))
        .collect();
    for name in &on_disk {
        assert!(CUSTOM_ACTIONS.iter().any(|(f, ..)| f == name), "custom action fixture {name} has no row");
    }
    for (file, action, source) in CUSTOM_ACTIONS {
        let request =
            parse_action(&std::fs::read(events_dir().join(file)).unwrap()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(request.action, *action, "{file}");
        let finding = parse_event(&std::fs::read(events_dir().join(source)).unwrap()).unwrap().finding;
        let [named] = request.findings.as_slice() else { panic!("{file}: one finding") };
        assert_eq!(named.id, finding.id, "{file}");
        assert_eq!(named.account, finding.account_id, "{file}");
        assert_eq!(named.region, finding.region, "{file}");
        assert_eq!(Some(named.arn.as_str()), finding.arn.as_deref(), "{file}");
        // Not a finding event: the functions never read it as one.
        assert!(parse_event(&std::fs::read(events_dir().join(file)).unwrap()).is_err(), "{file}");
    }
}

#[test]
fn exfiltration_names_the_source_instance() {
    let bytes = std::fs::read(events_dir().join("iam-instance-credential-exfiltration-outside-aws.json")).unwrap();
    let event = parse_event(&bytes).unwrap();
    match decide(Function::QuarantineInstance, &event.finding, &policy()) {
        Decision::Act(responder_core::Plan::Quarantine { instance_id, .. }) => {
            assert_eq!(instance_id.as_str(), "i-0a1b2c3d4e5f67890")
        }
        other => panic!("{other:?}"),
    }
    match decide(Function::RevokeRoleSessions, &event.finding, &policy()) {
        Decision::Act(responder_core::Plan::RevokeRoleSessions {
            role_name,
            source_instance,
            session_name,
            stolen_session,
            ..
        }) => {
            assert_eq!(role_name, "web-app-role");
            assert_eq!(session_name.as_deref(), Some("i-0a1b2c3d4e5f67890"));
            assert_eq!(source_instance.map(|i| i.to_string()).as_deref(), Some("i-0a1b2c3d4e5f67890"));
            // Only that instance's session is denied, not the role's others.
            assert_eq!(stolen_session.as_deref(), Some("i-0a1b2c3d4e5f67890"));
        }
        other => panic!("{other:?}"),
    }
    let all = Policy { exfiltration_revokes_all_sessions: true, ..policy() };
    match decide(Function::RevokeRoleSessions, &event.finding, &all) {
        Decision::Act(responder_core::Plan::RevokeRoleSessions { stolen_session, .. }) => {
            assert_eq!(stolen_session, None)
        }
        other => panic!("{other:?}"),
    }
    // A role used from a malicious address is not an instance's stolen session.
    let bytes = std::fs::read(events_dir().join("iam-role-malicious-ip-caller.json")).unwrap();
    let event = parse_event(&bytes).unwrap();
    match decide(Function::RevokeRoleSessions, &event.finding, &policy()) {
        Decision::Act(responder_core::Plan::RevokeRoleSessions { stolen_session, .. }) => {
            assert_eq!(stolen_session, None)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn anomalous_behavior_is_contained_only_when_opted_in() {
    let bytes = std::fs::read(events_dir().join("iam-user-discovery-anomalous-behavior.json")).unwrap();
    let event = parse_event(&bytes).unwrap();
    let opted = Policy { contain_anomalous_behavior: true, ..policy() };
    assert_eq!(kind(&decide(Function::DisableIamUser, &event.finding, &opted)), "act");
}

#[test]
fn protected_principals_are_never_planned() {
    let protect = |p: &str| Policy { protected_principals: vec![responder_core::pattern::Pattern::new(p)], ..policy() };
    let bytes = std::fs::read(events_dir().join("iam-role-malicious-ip-caller.json")).unwrap();
    let event = parse_event(&bytes).unwrap();
    for p in ["data-pipeline", "data-*", "arn:aws:iam::123456789012:role/data-pipeline", "arn:aws:iam::*:role/*"] {
        assert_eq!(kind(&decide(Function::RevokeRoleSessions, &event.finding, &protect(p))), "protected", "{p}");
    }
    assert_eq!(kind(&decide(Function::RevokeRoleSessions, &event.finding, &protect("other-role"))), "act");
    let bytes = std::fs::read(events_dir().join("iam-user-malicious-ip-caller.json")).unwrap();
    let event = parse_event(&bytes).unwrap();
    assert_eq!(kind(&decide(Function::DisableIamUser, &event.finding, &protect("ci-*"))), "protected");
    assert_eq!(
        kind(&decide(Function::DisableIamUser, &event.finding, &protect("arn:aws:iam::123456789012:user/ci-deployer"))),
        "protected"
    );
}

#[test]
fn thresholds_and_opt_ins_change_decisions() {
    let bytes = std::fs::read(events_dir().join("ec2-backdoor-spambot-medium.json")).unwrap();
    let event = parse_event(&bytes).unwrap();
    let lower = Policy { remediation_threshold: 5.0, ..policy() };
    assert_eq!(kind(&decide(Function::QuarantineInstance, &event.finding, &lower)), "act");

    let bytes = std::fs::read(events_dir().join("ec2-cryptocurrency-sample-finding.json")).unwrap();
    let event = parse_event(&bytes).unwrap();
    let samples = Policy { act_on_samples: true, ..policy() };
    assert_eq!(kind(&decide(Function::QuarantineInstance, &event.finding, &samples)), "act");

    let bytes = std::fs::read(events_dir().join("ec2-cryptocurrency-other-account.json")).unwrap();
    let event = parse_event(&bytes).unwrap();
    let any = Policy { allowed_accounts: responder_core::policy::AllowedAccounts::Any, ..policy() };
    assert_eq!(kind(&decide(Function::QuarantineInstance, &event.finding, &any)), "act");
    let unknown_home = Policy { home_account: None, ..policy() };
    let bytes = std::fs::read(events_dir().join("ec2-tor-client.json")).unwrap();
    let event = parse_event(&bytes).unwrap();
    assert_eq!(kind(&decide(Function::QuarantineInstance, &event.finding, &unknown_home)), "account_not_allowed");
}

#[test]
fn restore_cloudtrail_reads_the_trail_from_the_finding() {
    let bytes = std::fs::read(events_dir().join("cloudtrail-logging-disabled.json")).unwrap();
    let event = parse_event(&bytes).unwrap();
    match decide(Function::RestoreCloudtrail, &event.finding, &policy()) {
        Decision::Act(responder_core::Plan::RestoreTrail { trail, .. }) => {
            assert_eq!(trail.as_deref(), Some("management-events"))
        }
        other => panic!("{other:?}"),
    }
    let bytes = std::fs::read(events_dir().join("cloudtrail-logging-disabled-unnamed-trail.json")).unwrap();
    let event = parse_event(&bytes).unwrap();
    match decide(Function::RestoreCloudtrail, &event.finding, &policy()) {
        Decision::Act(responder_core::Plan::RestoreTrail { trail, .. }) => assert_eq!(trail, None),
        other => panic!("{other:?}"),
    }
    // Below the remediation threshold (GuardDuty rates it Low) and still acted on.
    assert!(event.finding.severity.value() < 7.0);
}

/// Every plan says, in words, what it acts on and where.
#[test]
fn every_plan_describes_what_it_acts_on() {
    let mut described = 0;
    for entry in std::fs::read_dir(events_dir()).unwrap().flatten() {
        let Ok(bytes) = std::fs::read(entry.path()) else { continue };
        let Ok(event) = parse_event(&bytes) else { continue };
        for function in Function::ALL {
            let Decision::Act(plan) = decide(function, &event.finding, &policy()) else { continue };
            let words = plan.describe();
            let resource = match &plan {
                responder_core::Plan::Quarantine { instance_id, .. } => instance_id.to_string(),
                responder_core::Plan::RevokeRoleSessions { role_name, .. } => role_name.clone(),
                responder_core::Plan::DisableIamUser { user_name, .. } => user_name.clone(),
                responder_core::Plan::RestoreTrail { trail, .. } => trail.clone().unwrap_or_else(|| "every".into()),
                responder_core::Plan::Alert { .. } => "alert".into(),
                responder_core::Plan::ProtectBucket { bucket, .. } => bucket.clone(),
                responder_core::Plan::ProtectAccount { scope } => scope.account.to_string(),
                responder_core::Plan::ContainFunction { function_name, .. } => function_name.clone(),
                responder_core::Plan::IsolateDatabase { instance_id, .. } => instance_id.clone(),
                responder_core::Plan::UnshareArtifact { id, .. } => id.clone(),
                responder_core::Plan::QuarantineObject { object, .. } => object.key.clone(),
                responder_core::Plan::ContainTask { task_arn, .. } => task_arn.clone(),
                responder_core::Plan::ContainWorkload(w) => w.cluster.clone(),
                responder_core::Plan::Sequence { .. } => "attack sequence".into(),
            };
            assert!(words.contains(&resource), "{}: {words}", entry.path().display());
            assert!(words.contains(plan.scope().account.as_str()), "{words}");
            assert!(!words.contains('{') && !words.contains("Scope"), "debug output: {words}");
            described += 1;
        }
    }
    assert!(described > 20, "{described}");
}

/// A recovery point of EC2 or EBS is an AMI or a snapshot, unshared as one;
/// any other is shared through its backup vault: alert only.
#[test]
fn recovery_points_are_unshared_only_when_they_are_an_image_or_a_snapshot() {
    let bytes = std::fs::read(events_dir().join("ec2-malicious-file-recovery-point.json")).unwrap();
    let event = parse_event(&bytes).unwrap();
    match decide(Function::QuarantineInstance, &event.finding, &policy()) {
        Decision::Act(responder_core::Plan::UnshareArtifact { kind, id, .. }) => {
            assert_eq!((kind, id.as_str()), (responder_core::target::ArtifactKind::Image, "ami-0aa1bb2cc3dd4ee5f"))
        }
        other => panic!("{other:?}"),
    }
    let vault = String::from_utf8(bytes).unwrap().replace(
        "arn:aws:ec2:us-east-1::image/ami-0aa1bb2cc3dd4ee5f",
        "arn:aws:backup:us-east-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45",
    );
    let event = parse_event(vault.as_bytes()).unwrap();
    assert_eq!(kind(&decide(Function::QuarantineInstance, &event.finding, &policy())), "not_for_this_function");
    assert_eq!(kind(&decide(Function::NotifyFinding, &event.finding, &policy())), "act");
}

#[allow(clippy::unwrap_used)]
fn fixture(name: &str) -> responder_core::Finding {
    parse_event(&std::fs::read(events_dir().join(name)).unwrap()).unwrap().finding
}

/// What each container finding contains: the pod or task it names, the
/// binding, the IAM principal behind the Kubernetes user (one session, under
/// the same protections), and the node only when the policy says so.
#[test]
fn container_findings_contain_the_workload_and_what_goes_with_it() {
    use responder_core::Plan;
    let finding = fixture("eks-runtime-backdoor-c2.json");
    let Decision::Act(Plan::ContainWorkload(w)) = decide(Function::ContainEksWorkload, &finding, &policy()) else {
        panic!("runtime finding")
    };
    assert_eq!((w.namespace.as_deref(), w.pod.as_deref()), (Some("shop"), Some("checkout-7d9f8c6b5d-x2kqp")));
    assert!(w.cordon_node && w.binding.is_none() && w.principal.is_none(), "{w:?}");

    // An RBAC finding: the binding, in the call's namespace; the caller's
    // role session only when anomaly findings may contain.
    let finding = fixture("eks-rolebinding-created.json");
    let Decision::Act(Plan::ContainWorkload(w)) = decide(Function::ContainEksWorkload, &finding, &policy()) else {
        panic!("rbac finding")
    };
    let b = w.binding.as_ref().unwrap();
    assert_eq!(
        (b.cluster_wide, b.namespace.as_deref(), b.name.as_str()),
        (false, Some("payments"), "dev-deployer-admin")
    );
    assert!(w.principal.is_none() && w.pod.is_none());
    assert!(w.principal_left_out.as_deref().unwrap().contains("CONTAIN_ANOMALOUS_BEHAVIOR"), "{w:?}");
    let opted = Policy { contain_anomalous_behavior: true, ..policy() };
    let Decision::Act(Plan::ContainWorkload(w)) = decide(Function::ContainEksWorkload, &finding, &opted) else {
        panic!("rbac finding, opted in")
    };
    match w.principal.as_deref() {
        Some(Plan::RevokeRoleSessions { role_name, stolen_session, .. }) => {
            assert_eq!((role_name.as_str(), stolen_session.as_deref()), ("dev-deployer", Some("ci-session")))
        }
        other => panic!("{other:?}"),
    }
    let protected =
        Policy { protected_principals: vec![responder_core::pattern::Pattern::new("dev-*")], ..opted.clone() };
    let Decision::Act(Plan::ContainWorkload(w)) = decide(Function::ContainEksWorkload, &finding, &protected) else {
        panic!("the binding is still removed")
    };
    assert!(w.principal.is_none() && w.principal_left_out.as_deref().unwrap().contains("protected"), "{w:?}");

    // A cluster-wide binding; `kubernetes-admin` maps to no IAM principal.
    let finding = fixture("eks-admin-access-default-service-account.json");
    let Decision::Act(Plan::ContainWorkload(w)) = decide(Function::ContainEksWorkload, &finding, &policy()) else {
        panic!("admin access")
    };
    let b = w.binding.as_ref().unwrap();
    assert_eq!((b.cluster_wide, b.namespace.as_deref(), b.name.as_str()), (true, None, "web-default-sa-admin"));
    assert!(w.principal.is_none() && w.principal_left_out.as_deref().unwrap().contains("kubernetes-admin"));

    // ECS: the service is scaled down only behind the setting, and only when
    // the finding implicates the image.
    let scale = Policy { scale_down_services: true, ..policy() };
    for (file, off, on) in [
        ("ecs-runtime-malicious-file-ec2.json", false, true),
        ("ecs-runtime-reverse-shell-standalone.json", false, false),
    ] {
        for (policy, want) in [(policy(), off), (scale.clone(), on)] {
            match decide(Function::ContainEcsTask, &fixture(file), &policy) {
                Decision::Act(Plan::ContainTask { scale_down_service, cluster, .. }) => {
                    assert_eq!(scale_down_service, want, "{file}");
                    assert!(!cluster.is_empty());
                }
                other => panic!("{file}: {other:?}"),
            }
        }
    }
    // EC2 launch type: the container instance goes to quarantine-instance.
    match decide(Function::QuarantineInstance, &fixture("ecs-runtime-malicious-file-ec2.json"), &policy()) {
        Decision::Act(Plan::Quarantine { .. }) => {}
        other => panic!("{other:?}"),
    }
}

/// A node reported as an instance: the workload it names is contained by
/// the container function, the node only when ISOLATE_CONTAINER_NODES says so.
#[test]
fn nodes_are_isolated_whole_only_when_the_policy_says_so() {
    use responder_core::Plan;
    let finding = fixture("ec2-runtime-eks-node-cryptocurrency.json");
    match decide(Function::QuarantineInstance, &finding, &policy()) {
        Decision::Skip(Skip::NotForThisFunction(why)) => {
            assert!(why.contains("contain-eks-workload") && why.contains("ISOLATE_CONTAINER_NODES"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    let whole = Policy { isolate_container_nodes: true, ..policy() };
    assert_eq!(kind(&decide(Function::QuarantineInstance, &finding, &whole)), "act");
    match decide(Function::ContainEksWorkload, &finding, &policy()) {
        Decision::Act(Plan::ContainWorkload(w)) => {
            assert_eq!(w.cluster, "prod-eks");
            assert!(w.pod.is_none() && w.container_id.as_deref().is_some_and(|c| c.starts_with("7ce931d7")), "{w:?}");
        }
        other => panic!("{other:?}"),
    }
    // Without a workload named, the node is quarantined (the report says
    // what that cuts off) and the container function has nothing to do.
    let finding = fixture("ec2-runtime-eks-node-no-workload.json");
    assert_eq!(kind(&decide(Function::QuarantineInstance, &finding, &policy())), "act");
    assert_eq!(kind(&decide(Function::ContainEksWorkload, &finding, &policy())), "not_for_this_function");
}

/// Configuration findings: the alert carries the commands that close them.
#[test]
fn configuration_findings_carry_the_commands_that_close_them() {
    let commands = responder_core::playbooks::closing_commands(&fixture("eks-anonymous-access-granted.json"));
    assert!(commands.iter().any(|c| c == "kubectl delete clusterrolebinding anonymous-view"), "{commands:?}");
    let commands = responder_core::playbooks::closing_commands(&fixture("eks-exposed-dashboard.json"));
    assert!(
        commands.iter().any(|c| c.starts_with("kubectl -n kubernetes-dashboard patch service kubernetes-dashboard")
            && c.contains("ClusterIP")),
        "{commands:?}"
    );
    assert!(responder_core::playbooks::closing_commands(&fixture("eks-runtime-backdoor-c2.json")).is_empty());
}
