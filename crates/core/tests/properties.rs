//! Property tests over the parser and the planner: whatever the payload, the
//! answer is a finding or an `InvalidEvent`, never a panic; whatever the
//! finding, every function decides without panicking, and hostile values
//! never become a plan that acts on them.
//!
//! `make test` runs the default number of cases; `make fuzz` runs many more
//! (`PROPTEST_CASES`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use proptest::prelude::*;
use responder_core::{AccountId, Decision, Function, Plan, Policy, decide, parse_event};
use serde_json::Value;

fn fixtures() -> Vec<Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events");
    let mut all: Vec<Value> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
        .collect();
    all.sort_by_key(|v| v["detail"]["id"].to_string());
    all
}

fn policy() -> Policy {
    Policy {
        home_account: AccountId::parse("123456789012").ok(),
        allowed_accounts: responder_core::policy::AllowedAccounts::Any,
        act_on_samples: true,
        act_on_archived: true,
        ..Policy::default()
    }
}

/// Arbitrary JSON, including deep and large values.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<i64>().prop_map(|i| Value::Number(i.into())),
        ".{0,40}".prop_map(Value::String),
        Just(Value::String("i-0123456789abcdef0".into())),
        Just(Value::String("../../etc/passwd".into())),
        Just(Value::String("role/with/path".into())),
        Just(Value::String("ロール".into())),
        (0usize..3).prop_map(|n| Value::String("x".repeat(10_000 * n))),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..8).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Paths into a finding worth breaking.
const PATHS: &[&[&str]] = &[
    &["detail", "type"],
    &["detail", "severity"],
    &["detail", "accountId"],
    &["detail", "region"],
    &["detail", "id"],
    &["detail", "resource"],
    &["detail", "resource", "resourceType"],
    &["detail", "resource", "instanceDetails"],
    &["detail", "resource", "instanceDetails", "instanceId"],
    &["detail", "resource", "instanceDetails", "networkInterfaces"],
    &["detail", "resource", "instanceDetails", "tags"],
    &["detail", "resource", "instanceDetails", "launchTime"],
    &["detail", "resource", "accessKeyDetails"],
    &["detail", "resource", "accessKeyDetails", "userName"],
    &["detail", "resource", "accessKeyDetails", "userType"],
    &["detail", "resource", "accessKeyDetails", "principalId"],
    &["detail", "resource", "s3BucketDetails"],
    &["detail", "resource", "lambdaDetails", "functionName"],
    &["detail", "service"],
    &["detail", "service", "archived"],
    &["detail", "service", "resourceRole"],
    &["detail", "service", "additionalInfo"],
    &["detail", "service", "action"],
    &["detail"],
    &["source"],
    &["detail-type"],
];

fn set(value: &mut Value, path: &[&str], new: Value) {
    let mut at = value;
    for (i, key) in path.iter().enumerate() {
        if !at.is_object() {
            *at = Value::Object(Default::default());
        }
        let Some(obj) = at.as_object_mut() else { return };
        if i + 1 == path.len() {
            obj.insert((*key).to_owned(), new);
            return;
        }
        at = obj.entry((*key).to_owned()).or_insert(Value::Object(Default::default()));
    }
}

fn decide_all(payload: &[u8]) {
    match parse_event(payload) {
        Ok(event) => {
            for function in Function::ALL {
                let decision = decide(function, &event.finding, &policy());
                if let Decision::Act(plan) = decision {
                    assert_acts_only_on_well_formed_names(&plan);
                }
            }
        }
        Err(e) => assert!(!e.message().is_empty() && e.message().chars().count() <= 601),
    }
}

/// The shapes AWS gives these names, written from the API references and
/// independently of the production predicates they check.
struct Shapes {
    iam_name: regex_lite::Regex,
    instance_id: regex_lite::Regex,
    access_key_id: regex_lite::Regex,
    trail_name: regex_lite::Regex,
    trail_arn: regex_lite::Regex,
    bucket_name: regex_lite::Regex,
    function_name: regex_lite::Regex,
    db_identifier: regex_lite::Regex,
    snapshot_id: regex_lite::Regex,
    image_id: regex_lite::Regex,
}

fn shapes() -> &'static Shapes {
    static SHAPES: std::sync::OnceLock<Shapes> = std::sync::OnceLock::new();
    SHAPES.get_or_init(|| {
        let re = |p: &str| regex_lite::Regex::new(p).unwrap();
        Shapes {
            // IAM: RoleName / UserName, `[\w+=,.@-]+`, 1–64 (ASCII word characters).
            iam_name: re(r"^[A-Za-z0-9_+=,.@-]{1,64}$"),
            // EC2: `i-` and 8 (older) or 17 lowercase hex digits.
            instance_id: re(r"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$"),
            // IAM: AccessKeyId, `[\w]+`, 16–128.
            access_key_id: re(r"^[A-Za-z0-9_]{16,128}$"),
            // CloudTrail: 3–128, letters, digits, `._-`, alphanumeric at both ends.
            trail_name: re(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{1,126})[A-Za-z0-9]$"),
            trail_arn: re(r"^arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:[0-9]{12}:trail/(.+)$"),
            // S3: 3–63 of lowercase letters, digits, `.` and `-`, alphanumeric at both ends.
            bucket_name: re(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"),
            // Lambda: FunctionName (a bare name), `[a-zA-Z0-9-_]+`, 1–64.
            function_name: re(r"^[A-Za-z0-9_-]{1,64}$"),
            // RDS: DBInstanceIdentifier / DBClusterIdentifier, 1–63, a letter first.
            db_identifier: re(r"^[A-Za-z][A-Za-z0-9-]{0,62}$"),
            // EC2: `snap-` / `ami-` and 8 or 17 lowercase hex digits.
            snapshot_id: re(r"^snap-(?:[0-9a-f]{8}|[0-9a-f]{17})$"),
            image_id: re(r"^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$"),
        }
    })
}

fn trail_name_ok(name: &str) -> bool {
    let s = shapes();
    let adjacent = ["..", "._", ".-", "_.", "__", "_-", "-.", "-_", "--"].iter().any(|p| name.contains(p));
    let ip = name.split('.').filter(|p| p.parse::<u8>().is_ok()).count() == 4 && name.split('.').count() == 4;
    s.trail_name.is_match(name) && !adjacent && !ip
}

/// A plan never carries a name the responder should not act on.
fn assert_acts_only_on_well_formed_names(plan: &Plan) {
    let s = shapes();
    let key_ok = |k: &Option<String>| k.as_deref().is_none_or(|k| s.access_key_id.is_match(k));
    match plan {
        Plan::RevokeRoleSessions { role_name, access_key_id, source_instance, .. } => {
            assert!(s.iam_name.is_match(role_name), "{role_name:?}");
            assert!(key_ok(access_key_id), "{access_key_id:?}");
            if let Some(i) = source_instance {
                assert!(s.instance_id.is_match(i.as_str()), "{i:?}");
            }
        }
        Plan::DisableIamUser { user_name, access_key_id, .. } => {
            assert!(s.iam_name.is_match(user_name), "{user_name:?}");
            assert!(key_ok(access_key_id), "{access_key_id:?}");
        }
        Plan::Quarantine { instance_id, .. } => {
            assert!(s.instance_id.is_match(instance_id.as_str()), "{instance_id:?}")
        }
        Plan::RestoreTrail { trail: Some(trail), .. } => {
            let name = s.trail_arn.captures(trail).and_then(|c| c.get(1)).map_or(trail.as_str(), |m| m.as_str());
            assert!(trail_name_ok(name), "{trail:?}");
        }
        Plan::RestoreTrail { trail: None, .. } | Plan::Alert { .. } => {}
        Plan::IsolateDatabase { instance_id, cluster_id, .. } => {
            for id in std::iter::once(instance_id).chain(cluster_id) {
                assert!(s.db_identifier.is_match(id) && !id.contains("--") && !id.ends_with('-'), "{id:?}")
            }
        }
        Plan::ContainFunction { function_name, .. } => {
            assert!(s.function_name.is_match(function_name), "{function_name:?}")
        }
        Plan::ProtectAccount { .. } => {}
        Plan::ContainTask { cluster, task_arn, .. } => {
            assert!(responder_core::target::is_cluster_name(cluster), "{cluster:?}");
            assert!(responder_core::target::is_task_arn(task_arn), "{task_arn:?}");
        }
        Plan::ContainWorkload(w) => {
            use responder_core::target::{is_cluster_name, is_kubernetes_name, is_kubernetes_namespace};
            assert!(is_cluster_name(&w.cluster), "{w:?}");
            assert!(w.namespace.as_deref().is_none_or(is_kubernetes_namespace), "{w:?}");
            assert!(w.pod.as_deref().is_none_or(is_kubernetes_name), "{w:?}");
            if let Some(p) = &w.principal {
                assert_acts_only_on_well_formed_names(p);
            }
        }
        Plan::ProtectBucket { bucket, .. } => {
            assert!(s.bucket_name.is_match(bucket) && !bucket.contains(".."), "{bucket:?}")
        }
        Plan::UnshareArtifact { kind, id, .. } => {
            let shape = match kind {
                responder_core::target::ArtifactKind::Snapshot => &s.snapshot_id,
                responder_core::target::ArtifactKind::Image => &s.image_id,
            };
            assert!(shape.is_match(id), "{id:?}")
        }
        Plan::QuarantineObject { object, .. } => {
            assert!(s.bucket_name.is_match(&object.bucket) && !object.bucket.contains(".."), "{object:?}");
            // S3: a key is 1–1024 bytes of UTF-8; no control character reaches a request.
            assert!(!object.key.is_empty() && object.key.len() <= 1024, "{object:?}");
            assert!(!object.key.chars().any(char::is_control), "{object:?}");
            if let Some(v) = &object.version_id {
                assert!(!v.is_empty() && v.len() <= 1024 && !v.chars().any(|c| c.is_control() || c == ' '), "{v:?}");
            }
        }
        Plan::Sequence { parts, .. } => parts.iter().for_each(assert_acts_only_on_well_formed_names),
    }
}

#[test]
fn the_shapes_reject_what_they_should() {
    let s = shapes();
    assert!(s.iam_name.is_match("app-role_1+=,.@") && !s.iam_name.is_match("path/role"));
    assert!(s.instance_id.is_match("i-0123456789abcdef0") && !s.instance_id.is_match("i-0123456789ABCDEF0"));
    assert!(s.access_key_id.is_match("AKIA2EXAMPLEKEY7QXK3") && !s.access_key_id.is_match("AKIA/../KEY7QXK3abc"));
    assert!(trail_name_ok("management-events") && !trail_name_ok("a--b") && !trail_name_ok("10.0.0.1"));
}

/// Names that look like the real thing but are not: the fields a plan
/// copies from the finding get these as well as arbitrary JSON.
fn near_names() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just("i-0123456789ABCDEF0"),
        Just("i-0123456789abcdef"),
        Just("i-0123456789abcdef0 "),
        Just("AKIA2EXAMPLE/KEY7QXK3"),
        Just("AKIA2EXAMPLE"),
        Just("trail--name"),
        Just("-trail"),
        Just("10.1.2.3"),
        Just("arn:aws:cloudtrail:us-east-1:123456789012:trail/../x"),
        Just("arn:aws:cloudtrail:us-east-1:123456789012:trail/ok-trail"),
        Just("ok-trail"),
        Just("role name"),
        Just("role/with/path"),
        Just("arn:aws:ec2:us-east-1::snapshot/snap-0A1B2C3D4E5F60718"),
        Just("arn:aws:ec2:us-east-1::snapshot/snap-0a1b2c3d"),
        Just("arn:aws:ec2:us-east-1::image/snap-0a1b2c3d4e5f60718"),
        Just("arn:aws:ec2:us-east-1::image/ami-0f1e2d3c4b5a69870/../x"),
        Just("snap-0a1b2c3d4e5f60718"),
        Just("key\nwith-newline"),
        Just(""),
    ]
    .prop_map(|s| Value::String(s.to_owned()))
}

/// Fields whose value a plan carries.
const NAME_PATHS: &[&[&str]] = &[
    &["detail", "resource", "instanceDetails", "instanceId"],
    &["detail", "resource", "accessKeyDetails", "userName"],
    &["detail", "resource", "accessKeyDetails", "accessKeyId"],
    &["detail", "resource", "accessKeyDetails", "principalId"],
    &["detail", "resource", "lambdaDetails", "functionName"],
    &["detail", "resource", "rdsDbInstanceDetails", "dbInstanceIdentifier"],
    &["detail", "resource", "rdsDbInstanceDetails", "dbClusterIdentifier"],
    &["detail", "resource", "ebsSnapshotDetails", "snapshotArn"],
    &["detail", "resource", "ec2ImageDetails", "imageArn"],
    &["detail", "service", "action", "awsApiCallAction", "affectedResources", "AWS::CloudTrail::Trail"],
];

/// An attack sequence whose one actor has `name` and `key`, as fields the
/// credential plans copy.
fn sequence_event(name: Value, key: Value, kind: &str) -> Value {
    let mut event =
        fixtures().into_iter().find(|f| f["detail"]["resource"]["resourceType"] == "AttackSequence").unwrap();
    event["detail"]["service"]["detection"]["sequence"]["actors"] = serde_json::json!([
        { "id": "a1", "user": { "name": name, "uid": "AIDAEXAMPLE:x", "type": kind, "credentialUid": key } }
    ]);
    event
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        decide_all(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(value in json()) {
        decide_all(&serde_json::to_vec(&value).unwrap());
    }

    #[test]
    fn broken_fixtures_are_findings_or_invalid_events(
        which in 0usize..64,
        path in prop::sample::select(PATHS),
        value in json(),
        second in prop::option::of((prop::sample::select(PATHS), json())),
    ) {
        let all = fixtures();
        let mut event = all[which % all.len()].clone();
        set(&mut event, path, value);
        if let Some((path, value)) = second {
            set(&mut event, path, value);
        }
        decide_all(&serde_json::to_vec(&event).unwrap());
    }

    #[test]
    fn names_near_the_real_shape_never_reach_a_plan(
        which in 0usize..64,
        path in prop::sample::select(NAME_PATHS),
        value in near_names(),
    ) {
        let all = fixtures();
        let mut event = all[which % all.len()].clone();
        set(&mut event, path, value);
        decide_all(&serde_json::to_vec(&event).unwrap());
    }

    #[test]
    fn attack_sequence_actors_never_carry_a_malformed_name(
        name in prop_oneof![near_names(), json()],
        key in prop_oneof![near_names(), json()],
        kind in prop::sample::select(&["IAMUser", "AssumedRole", "Root", "Federated", "Other"][..]),
    ) {
        decide_all(&serde_json::to_vec(&sequence_event(name, key, kind)).unwrap());
    }

    #[test]
    fn truncations_are_invalid_events(which in 0usize..64, cut in 0.0f64..1.0) {
        let all = fixtures();
        let text = serde_json::to_vec(&all[which % all.len()]).unwrap();
        let at = ((text.len() as f64) * cut) as usize;
        prop_assume!(at < text.len());
        prop_assert!(parse_event(&text[..at]).is_err());
    }
}
