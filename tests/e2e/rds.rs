//! isolate-database against the emulator: groups and public accessibility
//! read back (on the cluster for an Aurora member), the snapshot, the
//! record, repeat and twin deliveries, exemption, dry run, release.

use responder_core::report::is_read;
use responder_core::{Function, Outcome, StepStatus};
use responder_e2e::fixture_with;
use responder_e2e::seed::{self, Network};
use responder_rds::Cloud;
use responder_rds::isolate::{ORIGINAL_GROUPS, ORIGINAL_PUBLIC, release};

use crate::{cloud, responder};

const LOGIN: &str = "rds-successful-login-malicious-ip.json";
const AURORA: &str = "rds-aurora-successful-brute-force.json";

fn event(id: &str) -> Vec<u8> {
    fixture_with(LOGIN, &[("orders-db", id)])
}

fn aurora_event(id: &str, cluster: &str) -> Vec<u8> {
    fixture_with(AURORA, &[("orders-aurora-instance-1", id), ("\"orders-aurora\"", &format!("\"{cluster}\""))])
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn a_database_is_snapshotted_made_private_isolated_and_released_exactly() {
    let config = cloud().await;
    let r = responder(&config, &[]).await;
    let net = Network::create(&config).await;
    let (id, _) = seed::database(&config, &net, false).await;
    let original = sorted(vec![net.web_group.clone(), net.admin_group.clone()]);

    let report = r.handle(Function::IsolateDatabase, &event(&id), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    let isolation = seed::responder_groups(&config, &net.vpc, "isolation").await;
    assert_eq!(isolation.len(), 1);
    let isolation = isolation[0].group_id().unwrap().to_owned();
    let (groups, public, tags) = seed::database_state(&config, &id).await;
    assert_eq!((groups, public), (vec![isolation.clone()], false));
    let recorded: Vec<String> = tags[ORIGINAL_GROUPS].split(' ').map(str::to_owned).collect();
    assert_eq!(sorted(recorded), original);
    assert_eq!(tags.get(ORIGINAL_PUBLIC).map(String::as_str), Some("true"));
    assert_eq!(
        seed::database_snapshots(&config, "guardduty-responder-").await.iter().filter(|s| s.ends_with(&id)).count(),
        1
    );
    assert!(report.notes.iter().any(|n| n.contains("rotate database user app_user")), "{:?}", report.notes);

    // A repeat delivery changes nothing and makes no second snapshot.
    let again = r.handle(Function::IsolateDatabase, &event(&id), None).await.unwrap();
    assert_eq!(again.outcome, Outcome::Contained, "{again:#?}");
    let changed: Vec<_> = again.steps.iter().filter(|s| s.status == StepStatus::Done && !is_read(&s.action)).collect();
    assert!(
        changed.len() <= 1 && changed.iter().all(|s| s.action == "snapshot-database"),
        "second delivery changed: {changed:#?}"
    );
    assert_eq!(seed::database_state(&config, &id).await.2, tags);

    let run = release(&Cloud::new(&config), &id).await;
    assert!(run.log.all_held() && run.skipped.is_none(), "{run:#?}");
    let (groups, public, after) = seed::database_state(&config, &id).await;
    assert_eq!((groups, public), (original, true));
    assert!(!after.contains_key(ORIGINAL_GROUPS) && !after.contains_key(ORIGINAL_PUBLIC), "{after:?}");
    assert_eq!(after.get("app").map(String::as_str), Some("orders"));
    let twice = release(&Cloud::new(&config), &id).await;
    assert!(twice.skipped.is_some(), "{twice:#?}");
}

#[tokio::test]
async fn an_aurora_member_is_isolated_through_its_cluster() {
    let config = cloud().await;
    let r = responder(&config, &[]).await;
    let net = Network::create(&config).await;
    let (id, cluster) = seed::database(&config, &net, true).await;
    let cluster = cluster.unwrap();
    let original = sorted(vec![net.web_group.clone(), net.admin_group.clone()]);

    let report = r.handle(Function::IsolateDatabase, &aurora_event(&id, &cluster), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    let isolation = seed::responder_groups(&config, &net.vpc, "isolation").await[0].group_id().unwrap().to_owned();
    let (groups, public, _) = seed::database_state(&config, &id).await;
    assert_eq!((groups, public), (vec![isolation], false));
    assert!(seed::database_snapshots(&config, "guardduty-responder-").await.iter().any(|s| s.ends_with(&cluster)));

    let run = release(&Cloud::new(&config), &id).await;
    assert!(run.log.all_held(), "{run:#?}");
    let (groups, public, _) = seed::database_state(&config, &id).await;
    assert_eq!((groups, public), (original, true));
}

#[tokio::test]
async fn twins_converge_on_one_isolation_group() {
    let config = cloud().await;
    let r = responder(&config, &[]).await;
    let net = Network::create(&config).await;
    let (a, _) = seed::database(&config, &net, false).await;
    let (b, _) = seed::database(&config, &net, false).await;
    let (ea, eb, ea2) = (event(&a), event(&b), event(&a));
    let results = futures::join!(
        r.handle(Function::IsolateDatabase, &ea, None),
        r.handle(Function::IsolateDatabase, &eb, None),
        r.handle(Function::IsolateDatabase, &ea2, None)
    );
    for report in [results.0, results.1, results.2] {
        match report {
            Ok(report) => assert_eq!(report.outcome, Outcome::Contained, "{report:#?}"),
            Err(e) => assert_eq!(e.error_type, "RetryableAwsError", "{e:#?}"),
        }
    }
    let isolation = seed::responder_groups(&config, &net.vpc, "isolation").await;
    assert_eq!(isolation.len(), 1, "one isolation group per VPC");
    let isolation = isolation[0].group_id().unwrap().to_owned();
    for id in [&a, &b] {
        let (groups, public, tags) = seed::database_state(&config, id).await;
        assert_eq!((groups, public), (vec![isolation.clone()], false));
        assert_eq!(tags.get(ORIGINAL_PUBLIC).map(String::as_str), Some("true"));
    }
}

#[tokio::test]
async fn exempt_databases_dry_runs_and_the_alert_only_setting_change_nothing() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let (id, _) = seed::database(&config, &net, false).await;
    let original = sorted(vec![net.web_group.clone(), net.admin_group.clone()]);

    let dry = responder(&config, &[("DRY_RUN", "true")]).await;
    let report = dry.handle(Function::IsolateDatabase, &event(&id), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::DryRun, "{report:#?}");
    let alert_only = responder(&config, &[("ISOLATE_DATABASES", "false")]).await;
    let report = alert_only.handle(Function::IsolateDatabase, &event(&id), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Skipped, "{report:#?}");
    assert!(report.reason.as_deref().unwrap_or_default().contains("ISOLATE_DATABASES"), "{report:#?}");

    let rds = aws_sdk_rds::Client::new(&config);
    let arn = rds.describe_db_instances().db_instance_identifier(&id).send().await.unwrap();
    let arn = arn.db_instances()[0].db_instance_arn().unwrap().to_owned();
    rds.add_tags_to_resource()
        .resource_name(&arn)
        .tags(aws_sdk_rds::types::Tag::builder().key("guardduty-responder:exempt").value("true").build())
        .send()
        .await
        .unwrap();
    let r = responder(&config, &[]).await;
    let report = r.handle(Function::IsolateDatabase, &event(&id), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Skipped, "{report:#?}");

    let (groups, public, tags) = seed::database_state(&config, &id).await;
    assert_eq!((groups, public), (original, true));
    assert!(!tags.contains_key(ORIGINAL_GROUPS));
    assert!(seed::responder_groups(&config, &net.vpc, "isolation").await.is_empty());
}
