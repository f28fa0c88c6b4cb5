//! Evidence out of the attacker's reach, load balancers, and GuardDuty's
//! malware findings: state read back from the emulator after each run.

use responder_aws::cloud::{Clouds, MemberRole};
use responder_core::{AccountId, Function, Outcome, StepStatus};
use responder_e2e::seed::{self, InstanceOptions, Network};
use responder_e2e::{MALICIOUS_KEY, fixture_with, malicious_object_event, register_finding};
use responder_ec2::evidence::{self, SnapshotEvidence};
use responder_ec2::release::{ReleaseOptions, release};

use crate::{cloud, responder};

const HOME: &str = "123456789012";
const ROLE: &str = "GuardDutyResponderMember";
const EXTERNAL_ID: &str = "evidence-secret-7d2e";

fn s3(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(true).build())
}

fn step<'a>(report: &'a responder_core::Report, action: &str) -> &'a responder_core::StepRecord {
    report.steps.iter().find(|s| s.action == action).unwrap_or_else(|| panic!("no {action}: {report:#?}"))
}

/// The finding, about `account`'s instance, as GuardDuty has it.
fn member_event(account: &str, instance: &str) -> Vec<u8> {
    let text = String::from_utf8(fixture_with(
        "ec2-cryptocurrency-bitcointool-high.json",
        &[("i-0a1b2c3d4e5f67890", instance)],
    ))
    .unwrap();
    let mut event: serde_json::Value = serde_json::from_str(&text).unwrap();
    event["detail"]["accountId"] = serde_json::Value::String(account.to_owned());
    let event = serde_json::to_vec(&event).unwrap();
    register_finding(&event);
    event
}

/// The copies of `snapshot` in `config`'s account: (id, encrypted, key, tags).
async fn copies_of(
    config: &aws_config::SdkConfig,
    snapshot: &str,
) -> Vec<(String, bool, Option<String>, std::collections::BTreeMap<String, String>)> {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let filter =
        aws_sdk_ec2::types::Filter::builder().name("tag:guardduty-responder:source-snapshot").values(snapshot).build();
    let out = ec2.describe_snapshots().owner_ids("self").filters(filter).send().await.unwrap();
    out.snapshots()
        .iter()
        .map(|s| {
            let tags = s.tags().iter().map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned())).collect();
            (
                s.snapshot_id().unwrap().to_owned(),
                s.encrypted().unwrap_or(false),
                s.kms_key_id().map(str::to_owned),
                tags,
            )
        })
        .collect()
}

#[tokio::test]
async fn a_member_quarantine_copies_its_evidence_into_the_security_account_under_lock() {
    const MEMBER: &str = "555555555555";
    let home = cloud().await;
    let member = seed::as_account(&home, MEMBER).await;
    seed::member_role(&member, HOME, ROLE, EXTERNAL_ID).await;
    let (bucket, key) = seed::evidence_store(&home).await;
    let net = Network::create(&member).await;
    let inst =
        net.instance(&member, InstanceOptions { second_eni: false, profile: false, asg: false, exempt: false }).await;
    let r = responder(
        &home,
        &[
            ("ALLOWED_ACCOUNTS", MEMBER),
            ("MEMBER_ROLE_NAME", ROLE),
            ("MEMBER_ROLE_EXTERNAL_ID", EXTERNAL_ID),
            ("EVIDENCE_BUCKET", &bucket),
            ("EVIDENCE_KEY_ARN", &key),
            ("START_MALWARE_SCANS", "true"),
        ],
    )
    .await;
    let event = member_event(MEMBER, &inst.id);
    let finding_id =
        serde_json::from_slice::<serde_json::Value>(&event).unwrap()["detail"]["id"].as_str().unwrap().to_owned();
    let report = r.handle(Function::QuarantineInstance, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");

    // The forensic snapshot: shared with the security account only, and
    // copied there under the evidence key, tagged with where it came from.
    let snapshots = seed::snapshots_of(&member, &inst.volume).await;
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");
    let snapshot = &snapshots[0];
    assert_eq!(seed::snapshot_shared_with(&member, snapshot).await, vec![HOME.to_owned()]);
    let copies = copies_of(&home, snapshot).await;
    assert_eq!(copies.len(), 1, "{copies:?}");
    let (copy, encrypted, copy_key, tags) = &copies[0];
    assert!(*encrypted, "the copy is encrypted");
    assert_eq!(copy_key.as_deref(), Some(key.as_str()), "under the evidence key");
    assert_eq!(tags.get("guardduty-responder:finding-id"), Some(&finding_id));
    assert_eq!(tags.get("guardduty-responder:instance-id"), Some(&inst.id));
    assert_eq!(tags.get("guardduty-responder:volume-id"), Some(&inst.volume));
    assert_eq!(tags.get("guardduty-responder:source-account").map(String::as_str), Some(MEMBER));
    assert!(step(&report, "preserve-snapshot").detail.contains(copy.as_str()), "{report:#?}");
    // Complete at once on the emulator: nothing left on the queue.
    let queued = aws_sdk_ssm::Client::new(&home)
        .get_parameters_by_path()
        .path(evidence::QUEUE_PATH)
        .recursive(true)
        .send()
        .await
        .unwrap();
    assert!(queued.parameters().is_empty(), "{queued:?}");

    // The evidence record: the instance as it was, the event, every step.
    let record_key = format!("findings/{finding_id}/quarantine-instance.json");
    let (bytes, version) = seed::object(&home, &bucket, &record_key, None).await.expect("the evidence record");
    let record: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(record["finding_id"], finding_id.as_str());
    assert_eq!(record["account"], MEMBER);
    assert_eq!(record["state"]["instance"]["id"], inst.id.as_str());
    assert_eq!(record["state"]["network_interfaces"][0]["id"], inst.primary_eni.as_str());
    assert_eq!(record["state"]["network_interfaces"][0]["groups"][0], net.web_group.as_str(), "the groups it had");
    assert!(record["state"]["console_output"]["output_base64"].is_string(), "{}", record["state"]);
    assert_eq!(record["state"]["attributes"]["shutdown_behavior"], "terminate");
    assert_eq!(record["event"], serde_json::from_slice::<serde_json::Value>(&event).unwrap(), "the event as delivered");
    let actions: Vec<&str> =
        record["steps"].as_array().unwrap().iter().map(|s| s["action"].as_str().unwrap()).collect();
    for action in ["record-eni-groups", "isolate-eni", "snapshot-volume", "preserve-snapshot", "start-malware-scan"] {
        assert!(actions.contains(&action), "{action} missing from {actions:?}");
    }
    let written = step(&report, "write-evidence-record");
    assert_eq!(written.status, StepStatus::Done);
    assert_eq!(written.target, format!("s3://{bucket}/{record_key}"));
    // Locked: the version cannot be deleted, not even by the bucket's owner.
    let version = version.expect("a versioned record");
    assert_eq!(seed::delete_version(&home, &bucket, &record_key, &version).await, Err("AccessDenied".to_owned()));
    assert!(seed::object(&home, &bucket, &record_key, Some(&version)).await.is_some());

    // The malware scan, started by the administrator account.
    let scan = step(&report, "start-malware-scan");
    assert_eq!(scan.status, StepStatus::Done, "{scan:?}");
    let guardduty = aws_sdk_guardduty::Client::new(&home);
    let detector = guardduty.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    let scans = guardduty.describe_malware_scans().detector_id(&detector).send().await.unwrap();
    let arn = format!("arn:aws:ec2:us-east-1:{MEMBER}:instance/{}", inst.id);
    let ours: Vec<_> = scans
        .scans()
        .iter()
        .filter(|s| s.resource_details().and_then(|d| d.instance_arn()) == Some(arn.as_str()))
        .collect();
    assert_eq!(ours.len(), 1, "{scans:?}");
    assert!(scan.detail.contains(ours[0].scan_id().unwrap()), "{scan:?}");

    // A redelivery copies nothing twice, starts no second scan, and adds a
    // version of the record.
    let again = r.handle(Function::QuarantineInstance, &event, None).await.unwrap();
    assert_eq!(again.outcome, Outcome::Contained, "{again:#?}");
    assert_eq!(step(&again, "preserve-snapshot").status, StepStatus::AlreadyDone);
    assert_eq!(step(&again, "start-malware-scan").status, StepStatus::AlreadyDone);
    assert_eq!(copies_of(&home, snapshot).await.len(), 1);
    let versions = s3(&home).list_object_versions().bucket(&bucket).prefix(&record_key).send().await.unwrap();
    assert_eq!(versions.versions().len(), 2, "each delivery's record is kept");
}

#[tokio::test]
async fn the_evidence_pass_finishes_a_queued_copy_and_takes_it_off_the_queue() {
    const MEMBER: &str = "666666666666";
    let home = cloud().await;
    let member = seed::as_account(&home, MEMBER).await;
    seed::member_role(&member, HOME, ROLE, EXTERNAL_ID).await;
    let (_, key) = seed::evidence_store(&home).await;
    let net = Network::create(&member).await;
    let inst =
        net.instance(&member, InstanceOptions { second_eni: false, profile: false, asg: false, exempt: false }).await;
    let ec2 = aws_sdk_ec2::Client::new(&member);
    let snapshot =
        ec2.create_snapshot().volume_id(&inst.volume).send().await.unwrap().snapshot_id().unwrap().to_owned();

    let clouds = Clouds::<responder_ec2::Ec2Clients>::with_member_role(
        home.clone(),
        Some(AccountId::parse(HOME).unwrap()),
        Some(MemberRole { name: ROLE.into(), external_id: Some(EXTERNAL_ID.into()) }),
    );
    let item = SnapshotEvidence {
        finding_id: "f00dfeed".into(),
        account: MEMBER.into(),
        region: "us-east-1".into(),
        instance_id: inst.id.clone(),
        volume_id: inst.volume.clone(),
        snapshot_id: snapshot.clone(),
    };
    evidence::enqueue(clouds.home(), &item).await.unwrap();
    assert_eq!(evidence::queued(clouds.home()).await.unwrap(), vec![item.clone()]);

    let home_account = AccountId::parse(HOME).unwrap();
    let summary = evidence::pass(&clouds, &home_account, &key).await.unwrap();
    assert_eq!(summary.complete.len(), 1, "{summary:?}");
    assert!(summary.failed.is_empty() && summary.waiting.is_empty(), "{summary:?}");
    let copies = copies_of(&home, &snapshot).await;
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0].2.as_deref(), Some(key.as_str()));
    assert!(evidence::queued(clouds.home()).await.unwrap().is_empty(), "verified, then taken off");

    // Nothing queued: the next pass does nothing.
    let idle = evidence::pass(&clouds, &home_account, &key).await.unwrap();
    assert!(idle.complete.is_empty() && idle.copying.is_empty() && idle.failed.is_empty());
    assert_eq!(copies_of(&home, &snapshot).await.len(), 1);
}

#[tokio::test]
async fn load_balancer_membership_and_volume_attributes_come_back_exactly_on_release() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let inst =
        net.instance(&config, InstanceOptions { second_eni: true, profile: false, asg: false, exempt: false }).await;
    let (group, classic) = seed::load_balancers(&config, &net, &inst.id).await;
    let before = seed::metadata_and_volumes(&config, &inst.id).await;
    assert!(before.2.iter().all(|(_, delete)| *delete), "the root volume is deleted on termination: {before:?}");

    let r = responder(&config, &[]).await;
    let event = fixture_with("ec2-cryptocurrency-bitcointool-high.json", &[("i-0a1b2c3d4e5f67890", &inst.id)]);
    let report = r.handle(Function::QuarantineInstance, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    assert_eq!(seed::served_by(&config, &group, &classic, &inst.id).await, (vec![], false), "out of both");
    assert!(report.steps.iter().all(|s| s.action != "start-malware-scan"), "no scan unless asked: {report:#?}");
    let held = seed::metadata_and_volumes(&config, &inst.id).await;
    assert!(held.2.iter().all(|(_, delete)| !*delete), "volumes kept: {held:?}");
    assert_eq!((held.0.as_str(), held.1), ("required", 1));

    let cloud = responder_ec2::Cloud::new(&config);
    let released = release(&cloud, &inst.id, ReleaseOptions::default()).await;
    assert!(released.log.all_held(), "{:#?}", released.log.records);
    assert_eq!(
        seed::served_by(&config, &group, &classic, &inst.id).await,
        (vec![(inst.id.clone(), 8080)], true),
        "back in the target group on its port, and in the classic load balancer"
    );
    assert_eq!(
        seed::metadata_and_volumes(&config, &inst.id).await,
        before,
        "metadata options and volumes as they were"
    );
    let tags = seed::instance_tags(&config, &inst.id).await;
    assert!(!tags.keys().any(|k| k.starts_with("guardduty-responder:original")), "records removed: {tags:?}");

    // Released twice: nothing to do, and it says so.
    let again = release(&cloud, &inst.id, ReleaseOptions::default()).await;
    assert!(again.skipped.is_some(), "{again:?}");
}

#[tokio::test]
async fn a_malicious_snapshot_and_image_lose_every_share_until_released() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let inst =
        net.instance(&config, InstanceOptions { second_eni: false, profile: false, asg: false, exempt: false }).await;
    let snapshot = seed::shared_snapshot(&config, &inst.volume).await;
    let image = seed::shared_image(&config, &inst.id).await;
    let ec2 = aws_sdk_ec2::Client::new(&config);

    let r = responder(&config, &[]).await;
    let event = fixture_with("ec2-malicious-file-snapshot.json", &[("snap-0a1b2c3d4e5f60718", &snapshot)]);
    let report = r.handle(Function::QuarantineInstance, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    assert!(seed::snapshot_shared_with(&config, &snapshot).await.is_empty(), "public and cross-account shares gone");
    let event = fixture_with("ec2-malicious-file-ami.json", &[("ami-0f1e2d3c4b5a69870", &image)]);
    let report = r.handle(Function::QuarantineInstance, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    let launchers = |image: String| {
        let ec2 = ec2.clone();
        async move {
            let out = ec2
                .describe_image_attribute()
                .image_id(image)
                .attribute(aws_sdk_ec2::types::ImageAttributeName::LaunchPermission)
                .send()
                .await
                .unwrap();
            out.launch_permissions().iter().filter_map(|p| p.user_id().map(str::to_owned)).collect::<Vec<_>>()
        }
    };
    assert!(launchers(image.clone()).await.is_empty());
    // Other functions leave these findings alone; the instance is not touched.
    let bucket = r.handle(Function::ProtectS3Bucket, &event, None).await.unwrap();
    assert_eq!(bucket.outcome, Outcome::Skipped);
    assert!(!seed::instance_tags(&config, &inst.id).await.contains_key("guardduty-responder:status"));

    let cloud = responder_ec2::Cloud::new(&config);
    use responder_core::target::ArtifactKind;
    let back = responder_ec2::artifact::release(&cloud, ArtifactKind::Snapshot, &snapshot).await;
    assert!(back.log.all_held(), "{:#?}", back.log.records);
    assert_eq!(seed::snapshot_shared_with(&config, &snapshot).await, vec!["999988887777".to_owned(), "all".to_owned()]);
    let back = responder_ec2::artifact::release(&cloud, ArtifactKind::Image, &image).await;
    assert!(back.log.all_held(), "{:#?}", back.log.records);
    assert_eq!(launchers(image).await, vec![seed::OUTSIDER.to_owned()]);
}

#[tokio::test]
async fn a_malicious_object_version_is_kept_as_evidence_and_only_it_is_deleted() {
    let config = cloud().await;
    let (evidence_bucket, key) = seed::evidence_store(&config).await;
    let uploads = seed::versioned_bucket(&config).await;
    let object_key = MALICIOUS_KEY;
    let bad = seed::put_object(&config, &uploads, object_key, b"MZ malicious payload").await;
    let good = seed::put_object(&config, &uploads, object_key, b"%PDF clean invoice").await;
    let event = malicious_object_event(&uploads, MALICIOUS_KEY, &bad);
    let r = responder(
        &config,
        &[("EVIDENCE_BUCKET", &evidence_bucket), ("EVIDENCE_KEY_ARN", &key), ("DELETE_MALICIOUS_OBJECTS", "true")],
    )
    .await;
    let report = r.handle(Function::ProtectS3Bucket, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    let copy_key = format!("malware/{HOME}/{uploads}/{bad}/{object_key}");
    let (copied, _) = seed::object(&config, &evidence_bucket, &copy_key, None).await.expect("the evidence copy");
    assert_eq!(copied, b"MZ malicious payload");
    assert_eq!(seed::object(&config, &uploads, object_key, Some(&bad)).await, None, "that version is gone");
    assert_eq!(
        seed::object(&config, &uploads, object_key, Some(&good)).await.map(|(b, _)| b),
        Some(b"%PDF clean invoice".to_vec()),
        "the other version is untouched"
    );
    assert_eq!(
        seed::object(&config, &uploads, object_key, None).await.map(|(b, _)| b),
        Some(b"%PDF clean invoice".to_vec())
    );
    assert_eq!(step(&report, "delete-object-version").status, StepStatus::Done);

    // Redelivered: the copy exists, the version is gone: already done.
    let again = r.handle(Function::ProtectS3Bucket, &event, None).await.unwrap();
    assert_eq!(again.outcome, Outcome::Contained, "{again:#?}");
    assert_eq!(step(&again, "copy-to-evidence").status, StepStatus::AlreadyDone);
}

#[tokio::test]
async fn a_malicious_object_is_tagged_in_place_and_kept_when_deleting_is_off() {
    let config = cloud().await;
    let (evidence_bucket, key) = seed::evidence_store(&config).await;
    let uploads = seed::versioned_bucket(&config).await;
    let object_key = MALICIOUS_KEY;
    let bad = seed::put_object(&config, &uploads, object_key, b"MZ malicious payload").await;
    let tagging = aws_sdk_s3::types::Tagging::builder()
        .tag_set(aws_sdk_s3::types::Tag::builder().key("owner").value("intake").build().unwrap())
        .build()
        .unwrap();
    s3(&config)
        .put_object_tagging()
        .bucket(&uploads)
        .key(object_key)
        .version_id(&bad)
        .tagging(tagging)
        .send()
        .await
        .unwrap();
    let event = malicious_object_event(&uploads, MALICIOUS_KEY, &bad);
    let finding_id =
        serde_json::from_slice::<serde_json::Value>(&event).unwrap()["detail"]["id"].as_str().unwrap().to_owned();
    let r = responder(&config, &[("EVIDENCE_BUCKET", &evidence_bucket), ("EVIDENCE_KEY_ARN", &key)]).await;
    let report = r.handle(Function::ProtectS3Bucket, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    assert!(report.steps.iter().all(|s| s.action != "delete-object-version"), "not deleted unless the setting says so");
    assert!(seed::object(&config, &uploads, object_key, Some(&bad)).await.is_some());
    let tags = seed::object_tags(&config, &uploads, object_key, &bad).await;
    assert_eq!(tags.get("owner").map(String::as_str), Some("intake"), "its own tag kept: {tags:?}");
    assert_eq!(tags.get("guardduty-responder:finding-id"), Some(&finding_id));
    let copy = format!("s3://{evidence_bucket}/malware/{HOME}/{uploads}/{bad}/{object_key}");
    assert_eq!(tags.get("guardduty-responder:evidence-copy"), Some(&copy));

    // An exempt bucket is left alone, whatever the finding.
    let exempt = seed::versioned_bucket(&config).await;
    let tagging = aws_sdk_s3::types::Tagging::builder()
        .tag_set(aws_sdk_s3::types::Tag::builder().key("guardduty-responder:exempt").value("true").build().unwrap())
        .build()
        .unwrap();
    s3(&config).put_bucket_tagging().bucket(&exempt).tagging(tagging).send().await.unwrap();
    let version = seed::put_object(&config, &exempt, object_key, b"MZ").await;
    let event = malicious_object_event(&exempt, MALICIOUS_KEY, &version);
    let report = r.handle(Function::ProtectS3Bucket, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Skipped, "{report:#?}");
    assert!(
        seed::object(&config, &evidence_bucket, &format!("malware/{HOME}/{exempt}/{version}/{object_key}"), None)
            .await
            .is_none()
    );

    // A finding about an object of the evidence store itself: never copied
    // again (a loop, finding after finding), never deleted.
    let copy_key = format!("malware/{HOME}/{uploads}/{bad}/{object_key}");
    let (_, copy_version) = seed::object(&config, &evidence_bucket, &copy_key, None).await.expect("the copy");
    let copy_version = copy_version.expect("a versioned copy");
    let event = malicious_object_event(&evidence_bucket, &copy_key, &copy_version);
    let deleting = responder(
        &config,
        &[("EVIDENCE_BUCKET", &evidence_bucket), ("EVIDENCE_KEY_ARN", &key), ("DELETE_MALICIOUS_OBJECTS", "true")],
    )
    .await;
    let report = deleting.handle(Function::ProtectS3Bucket, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Skipped, "{report:#?}");
    assert!(report.reason.as_deref().unwrap_or_default().contains("evidence store"), "{report:#?}");
    assert!(seed::object(&config, &evidence_bucket, &copy_key, Some(&copy_version)).await.is_some());
    let versions = s3(&config).list_object_versions().bucket(&evidence_bucket).prefix("malware/").send().await.unwrap();
    assert_eq!(versions.versions().len(), 1, "nothing copied again");
}
