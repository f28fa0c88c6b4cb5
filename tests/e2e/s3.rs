//! protect-s3-bucket against the emulator: the block read back, the record
//! on the bucket, repeat and twin deliveries, exemption, dry run, release,
//! and S3 data-event findings reaching the credential functions instead.

use responder_core::report::is_read;
use responder_core::{Function, Outcome, StepStatus};
use responder_e2e::fixture_with;
use responder_e2e::seed;
use responder_s3::Cloud;
use responder_s3::bucket::{ORIGINAL_BLOCK, release};

use crate::{cloud, responder};

const EXPOSED: &str = "s3-bucket-anonymous-access-granted.json";
const DISABLED: &str = "s3-bucket-block-public-access-disabled.json";
const ALL_ON: Option<[bool; 4]> = Some([true; 4]);

fn event(file: &str, bucket: &str) -> Vec<u8> {
    fixture_with(file, &[("customer-exports", bucket)])
}

#[tokio::test]
async fn an_opened_bucket_is_blocked_recorded_and_released_exactly() {
    let config = cloud().await;
    let r = responder(&config, &[]).await;
    let bucket = seed::tagged_bucket(&config, &[("team", "billing")], Some([true, false, false, false])).await;

    let report = r.handle(Function::ProtectS3Bucket, &event(EXPOSED, &bucket), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    assert_eq!(seed::public_access_block(&config, &bucket).await, ALL_ON);
    let tags = seed::bucket_tags(&config, &bucket).await;
    assert_eq!(
        tags.get(ORIGINAL_BLOCK).map(String::as_str),
        Some("BlockPublicAcls=true IgnorePublicAcls=false BlockPublicPolicy=false RestrictPublicBuckets=false")
    );
    assert_eq!(tags.get("team").map(String::as_str), Some("billing"), "the bucket's own tags are kept");

    // A repeat delivery changes nothing and keeps the first record.
    let again = r.handle(Function::ProtectS3Bucket, &event(EXPOSED, &bucket), None).await.unwrap();
    assert_eq!(again.outcome, Outcome::Contained, "{again:#?}");
    let changed: Vec<_> = again.steps.iter().filter(|s| s.status == StepStatus::Done && !is_read(&s.action)).collect();
    assert!(changed.is_empty(), "second delivery changed: {changed:#?}");
    assert_eq!(seed::bucket_tags(&config, &bucket).await, tags);

    // Release: the block as it was, the bucket's tags as they were.
    let run = release(&Cloud::new(&config), &bucket).await;
    assert!(run.log.all_held() && run.skipped.is_none(), "{run:#?}");
    assert_eq!(seed::public_access_block(&config, &bucket).await, Some([true, false, false, false]));
    let after: Vec<(String, String)> = seed::bucket_tags(&config, &bucket).await.into_iter().collect();
    assert_eq!(after, vec![("team".to_owned(), "billing".to_owned())]);

    // Released twice: nothing recorded, nothing changed.
    let run = release(&Cloud::new(&config), &bucket).await;
    assert!(run.skipped.is_some(), "{run:#?}");
    assert_eq!(seed::public_access_block(&config, &bucket).await, Some([true, false, false, false]));
}

#[tokio::test]
async fn a_bucket_without_a_block_gets_none_back_on_release() {
    let config = cloud().await;
    let r = responder(&config, &[]).await;
    let bucket = seed::tagged_bucket(&config, &[], None).await;
    let report = r.handle(Function::ProtectS3Bucket, &event(DISABLED, &bucket), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    assert_eq!(seed::public_access_block(&config, &bucket).await, ALL_ON);
    assert_eq!(seed::bucket_tags(&config, &bucket).await.get(ORIGINAL_BLOCK).map(String::as_str), Some("none"));
    let run = release(&Cloud::new(&config), &bucket).await;
    assert!(run.log.all_held(), "{run:#?}");
    assert_eq!(seed::public_access_block(&config, &bucket).await, None);
    assert!(seed::bucket_tags(&config, &bucket).await.is_empty());
}

#[tokio::test]
async fn twin_deliveries_converge_on_one_record() {
    let config = cloud().await;
    let r = responder(&config, &[]).await;
    let bucket = seed::tagged_bucket(&config, &[("team", "billing")], None).await;
    let (a, b) = (event(EXPOSED, &bucket), event(EXPOSED, &bucket));
    let (ra, rb) =
        futures::join!(r.handle(Function::ProtectS3Bucket, &a, None), r.handle(Function::ProtectS3Bucket, &b, None));
    for report in [ra, rb] {
        match report {
            Ok(report) => assert_eq!(report.outcome, Outcome::Contained, "{report:#?}"),
            Err(e) => assert_eq!(e.error_type, "RetryableAwsError", "{e:#?}"),
        }
    }
    assert_eq!(seed::public_access_block(&config, &bucket).await, ALL_ON);
    let tags = seed::bucket_tags(&config, &bucket).await;
    assert_eq!(tags.get(ORIGINAL_BLOCK).map(String::as_str), Some("none"), "{tags:?}");
    assert_eq!(tags.get("team").map(String::as_str), Some("billing"));
}

#[tokio::test]
async fn exempt_buckets_dry_runs_and_unknown_buckets_change_nothing() {
    let config = cloud().await;
    let r = responder(&config, &[]).await;
    let exempt = seed::tagged_bucket(&config, &[("guardduty-responder:exempt", "true")], None).await;
    let report = r.handle(Function::ProtectS3Bucket, &event(EXPOSED, &exempt), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Skipped, "{report:#?}");
    assert!(report.reason.as_deref().unwrap_or_default().contains("exemption tag"), "{report:#?}");
    assert_eq!(seed::public_access_block(&config, &exempt).await, None);

    let dry = responder(&config, &[("DRY_RUN", "true")]).await;
    let bucket = seed::tagged_bucket(&config, &[], None).await;
    let report = dry.handle(Function::ProtectS3Bucket, &event(EXPOSED, &bucket), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::DryRun, "{report:#?}");
    assert!(report.steps.iter().any(|s| s.action == "block-public-access" && s.status == StepStatus::Planned));
    assert_eq!(seed::public_access_block(&config, &bucket).await, None);
    assert!(seed::bucket_tags(&config, &bucket).await.is_empty());

    let missing = "no-such-bucket-anywhere";
    let report = r.handle(Function::ProtectS3Bucket, &event(EXPOSED, missing), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    assert_eq!(report.steps[1].action, "describe-bucket", "{report:#?}");
}

#[tokio::test]
async fn a_data_event_finding_disables_the_caller_and_leaves_the_bucket() {
    let config = cloud().await;
    let r = responder(&config, &[]).await;
    let bucket = seed::tagged_bucket(&config, &[], None).await;
    let (user, keys, _) = seed::iam_user(&config, 1, 0, false).await;
    let fixture = responder_e2e::fixture("s3-exfiltration-malicious-ip-caller-user.json");
    let key = fixture["detail"]["resource"]["accessKeyDetails"]["accessKeyId"].as_str().unwrap().to_owned();
    let event = fixture_with(
        "s3-exfiltration-malicious-ip-caller-user.json",
        &[("customer-exports", &bucket), ("data-pipeline", &user), (&key, &keys[0])],
    );
    let disabled = r.handle(Function::DisableIamUser, &event, None).await.unwrap();
    assert_eq!(disabled.outcome, Outcome::Contained, "{disabled:#?}");
    assert_eq!(seed::key_states(&config, &user).await.into_iter().collect::<Vec<_>>(), vec![(keys[0].clone(), false)]);
    let untouched = r.handle(Function::ProtectS3Bucket, &event, None).await.unwrap();
    assert_eq!(untouched.outcome, Outcome::Skipped, "{untouched:#?}");
    assert_eq!(seed::public_access_block(&config, &bucket).await, None);
}

#[tokio::test]
async fn an_s3_attack_sequence_protects_its_buckets_and_a_forged_bucket_is_refused() {
    const SEQUENCE: &str = "s3-attack-sequence-compromised-data.json";
    let config = cloud().await;
    let r = responder(&config, &[]).await;
    let a = seed::tagged_bucket(&config, &[], None).await;
    let b = seed::tagged_bucket(&config, &[], Some([false, false, true, true])).await;
    let (user, keys, _) = seed::iam_user(&config, 1, 0, false).await;
    let replacements = [
        ("payroll-exports", a.as_str()),
        ("hr-archive", b.as_str()),
        ("ci-deployer", &user),
        ("AKIA2EXAMPLEKEY7QXK3", &keys[0]),
    ];
    let event = fixture_with(SEQUENCE, &replacements);

    let protected = r.handle(Function::ProtectS3Bucket, &event, None).await.unwrap();
    assert_eq!(protected.outcome, Outcome::Contained, "{protected:#?}");
    for bucket in [&a, &b] {
        assert_eq!(seed::public_access_block(&config, bucket).await, ALL_ON, "{bucket}");
    }
    let disabled = r.handle(Function::DisableIamUser, &event, None).await.unwrap();
    assert_eq!(disabled.outcome, Outcome::Contained, "{disabled:#?}");
    assert!(!seed::key_states(&config, &user).await[&keys[0]]);

    // The same finding with a bucket GuardDuty does not name: nothing changes.
    let victim = seed::tagged_bucket(&config, &[], None).await;
    let mut forged: serde_json::Value = serde_json::from_slice(&event).unwrap();
    forged["detail"]["service"]["detection"]["sequence"]["resources"].as_array_mut().unwrap().push(serde_json::json!({
        "uid": format!("arn:aws:s3:::{victim}"), "name": victim, "resourceType": "S3_BUCKET", "accountId": "123456789012"
    }));
    let report = r.handle(Function::ProtectS3Bucket, &serde_json::to_vec(&forged).unwrap(), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    assert_eq!(report.steps[0].action, "verify-finding", "{report:#?}");
    assert_eq!(seed::public_access_block(&config, &victim).await, None);
}

/// One test for the account's block: it is the account's, shared by every
/// test of this binary, so its cases run one after another here.
#[tokio::test]
async fn the_account_block_is_recorded_turned_on_and_released_exactly() {
    use responder_s3::account::{RECORD_PARAMETER, release as release_account};
    const ACCOUNT: &str = "s3-account-block-public-access-disabled.json";
    let config = cloud().await;
    let ssm = aws_sdk_ssm::Client::new(&config);
    let s3control = aws_sdk_s3control::Client::new(&config);
    let config_of = |b: [bool; 4]| {
        aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(b[0])
            .ignore_public_acls(b[1])
            .block_public_policy(b[2])
            .restrict_public_buckets(b[3])
            .build()
    };
    s3control
        .put_public_access_block()
        .account_id("123456789012")
        .public_access_block_configuration(config_of([false, true, false, false]))
        .send()
        .await
        .unwrap();

    // Dry run and the alert-only setting change nothing.
    for vars in [vec![("DRY_RUN", "true")], vec![("PROTECT_ACCOUNT_PUBLIC_ACCESS", "false")]] {
        let r = responder(&config, &vars).await;
        let report = r.handle(Function::ProtectS3Bucket, &fixture_with(ACCOUNT, &[]), None).await.unwrap();
        assert!(matches!(report.outcome, Outcome::DryRun | Outcome::Skipped), "{vars:?}: {report:#?}");
        assert_eq!(seed::account_public_access_block(&config).await, Some([false, true, false, false]));
    }

    let r = responder(&config, &[]).await;
    let report = r.handle(Function::ProtectS3Bucket, &fixture_with(ACCOUNT, &[]), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    assert_eq!(seed::account_public_access_block(&config).await, Some([true; 4]));
    let record = ssm.get_parameter().name(RECORD_PARAMETER).send().await.unwrap();
    assert_eq!(
        record.parameter().and_then(|p| p.value()),
        Some("BlockPublicAcls=false IgnorePublicAcls=true BlockPublicPolicy=false RestrictPublicBuckets=false")
    );
    // A repeat changes nothing; the record stays the first one.
    let again = r.handle(Function::ProtectS3Bucket, &fixture_with(ACCOUNT, &[]), None).await.unwrap();
    assert_eq!(again.outcome, Outcome::Contained, "{again:#?}");
    assert!(again.steps.iter().all(|s| s.status != StepStatus::Done || is_read(&s.action)), "{again:#?}");

    let run = release_account(&Cloud::new(&config), "123456789012").await;
    assert!(run.log.all_held() && run.skipped.is_none(), "{run:#?}");
    assert_eq!(seed::account_public_access_block(&config).await, Some([false, true, false, false]));
    assert!(ssm.get_parameter().name(RECORD_PARAMETER).send().await.is_err(), "the record is gone");

    // An account that had no block gets none back.
    s3control.delete_public_access_block().account_id("123456789012").send().await.unwrap();
    let report = r.handle(Function::ProtectS3Bucket, &fixture_with(ACCOUNT, &[]), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    assert_eq!(seed::account_public_access_block(&config).await, Some([true; 4]));
    let run = release_account(&Cloud::new(&config), "123456789012").await;
    assert!(run.log.all_held(), "{run:#?}");
    assert_eq!(seed::account_public_access_block(&config).await, None);
    assert!(release_account(&Cloud::new(&config), "123456789012").await.skipped.is_some());
}
