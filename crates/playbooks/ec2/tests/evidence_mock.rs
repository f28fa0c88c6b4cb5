//! Copying a forensic snapshot into the security account, against SDK
//! mocks: the paths the emulator cannot show (a snapshot still being taken,
//! a snapshot under the AWS managed key, a customer managed key granted to
//! the security account before the share).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use aws_sdk_ec2::operation::copy_snapshot::CopySnapshotOutput;
use aws_sdk_ec2::operation::describe_snapshots::DescribeSnapshotsOutput;
use aws_sdk_ec2::operation::modify_snapshot_attribute::ModifySnapshotAttributeOutput;
use aws_sdk_ec2::types::{Snapshot, SnapshotState};
use aws_sdk_kms::operation::create_grant::CreateGrantOutput;
use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
use aws_sdk_kms::types::{KeyManagerType, KeyMetadata};
use aws_smithy_mocks::{Rule, mock};
use responder_aws::mocks;
use responder_ec2::Cloud;
use responder_ec2::evidence::{Preserved, SnapshotEvidence, preserve};

const HOME: &str = "123456789012";
const MEMBER: &str = "111122223333";
const SNAPSHOT: &str = "snap-0123456789abcdef0";
const EVIDENCE_KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const MEMBER_KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/abcd1234-ab12-cd34-ef56-abcdef123456";

type Calls = Arc<Mutex<Vec<String>>>;

fn cloud(ec2: Vec<Rule>, kms: Vec<Rule>) -> Cloud {
    let sdk = mocks::sdk_config();
    let mut cloud = Cloud::new(&sdk);
    cloud.ec2 = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&sdk).interceptor(mocks::interceptor(&ec2)).build(),
    );
    cloud.kms = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::from(&sdk).interceptor(mocks::interceptor(&kms)).build(),
    );
    cloud
}

fn item() -> SnapshotEvidence {
    SnapshotEvidence {
        finding_id: "finding-1".into(),
        account: MEMBER.into(),
        region: "us-east-1".into(),
        instance_id: "i-0123456789abcdef0".into(),
        volume_id: "vol-1".into(),
        snapshot_id: SNAPSHOT.into(),
    }
}

/// The security account: no copy yet, CopySnapshot logged.
fn home(calls: &Calls) -> Cloud {
    let c = calls.clone();
    cloud(
        vec![
            mock!(aws_sdk_ec2::Client::describe_snapshots).then_output(|| DescribeSnapshotsOutput::builder().build()),
            mock!(aws_sdk_ec2::Client::copy_snapshot).then_compute_output(move |input| {
                assert_eq!(input.kms_key_id(), Some(EVIDENCE_KEY));
                assert_eq!(input.encrypted(), Some(true));
                c.lock().unwrap().push(format!("CopySnapshot {}", input.source_snapshot_id().unwrap_or_default()));
                CopySnapshotOutput::builder().snapshot_id("snap-copy").build()
            }),
        ],
        vec![],
    )
}

/// The member account with its snapshot in `state`, encrypted under `key`
/// (managed by `manager`) when given; grants and shares logged.
fn member(calls: &Calls, state: SnapshotState, key: Option<(&'static str, KeyManagerType)>) -> Cloud {
    let (c1, c2) = (calls.clone(), calls.clone());
    let snapshot = Snapshot::builder()
        .snapshot_id(SNAPSHOT)
        .state(state)
        .encrypted(key.is_some())
        .set_kms_key_id(key.as_ref().map(|(k, _)| k.to_string()))
        .build();
    let manager = key.as_ref().map(|(_, m)| m.clone());
    cloud(
        vec![
            mock!(aws_sdk_ec2::Client::describe_snapshots)
                .then_output(move || DescribeSnapshotsOutput::builder().snapshots(snapshot.clone()).build()),
            mock!(aws_sdk_ec2::Client::modify_snapshot_attribute).then_compute_output(move |input| {
                let add = input.create_volume_permission().map(|p| p.add()).unwrap_or_default();
                let who: Vec<_> = add.iter().filter_map(|p| p.user_id()).collect();
                c1.lock().unwrap().push(format!("Share {}", who.join(",")));
                ModifySnapshotAttributeOutput::builder().build()
            }),
        ],
        vec![
            mock!(aws_sdk_kms::Client::describe_key).then_output(move || {
                let (arn, m) = key.clone().unwrap_or((MEMBER_KEY, KeyManagerType::Customer));
                let m = manager.clone().unwrap_or(m);
                DescribeKeyOutput::builder()
                    .key_metadata(KeyMetadata::builder().key_id("k").arn(arn).key_manager(m).build().unwrap())
                    .build()
            }),
            mock!(aws_sdk_kms::Client::create_grant).then_compute_output(move |input| {
                c2.lock().unwrap().push(format!(
                    "Grant {} to {} ops {:?}",
                    input.key_id().unwrap_or_default(),
                    input.grantee_principal().unwrap_or_default(),
                    input.operations().iter().map(|o| o.as_str()).collect::<Vec<_>>()
                ));
                CreateGrantOutput::builder().grant_id("g").build()
            }),
        ],
    )
}

#[tokio::test]
async fn a_snapshot_still_being_taken_is_left_for_the_evidence_pass() {
    let calls = Calls::default();
    let (home, member) = (home(&calls), member(&calls, SnapshotState::Pending, None));
    let (state, started) = preserve(&member, &home, HOME, EVIDENCE_KEY, &item()).await.unwrap();
    assert_eq!((state, started), (Preserved::SourcePending, false));
    assert!(calls.lock().unwrap().is_empty(), "nothing shared or copied yet: {calls:?}");
}

#[tokio::test]
async fn a_customer_managed_key_is_granted_to_the_security_account_before_the_share_and_copy() {
    let calls = Calls::default();
    let member = member(&calls, SnapshotState::Completed, Some((MEMBER_KEY, KeyManagerType::Customer)));
    let (state, started) = preserve(&member, &home(&calls), HOME, EVIDENCE_KEY, &item()).await.unwrap();
    assert!(started);
    assert_eq!(state, Preserved::Copying("snap-copy".into()));
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(calls[0].starts_with(&format!("Grant {MEMBER_KEY} to arn:aws:iam::{HOME}:root")), "{calls:?}");
    assert!(
        calls[0].contains("Decrypt") && calls[0].contains("CreateGrant") && !calls[0].contains("Encrypt\""),
        "{calls:?}"
    );
    assert_eq!(calls[1], format!("Share {HOME}"), "shared with the security account alone");
    assert_eq!(calls[2], format!("CopySnapshot {SNAPSHOT}"));
}

#[tokio::test]
async fn a_snapshot_under_the_aws_managed_key_is_refused_with_why_and_not_shared() {
    let calls = Calls::default();
    let member = member(
        &calls,
        SnapshotState::Completed,
        Some(("arn:aws:kms:us-east-1:111122223333:key/aws-ebs", KeyManagerType::Aws)),
    );
    let failure = preserve(&member, &home(&calls), HOME, EVIDENCE_KEY, &item()).await.unwrap_err();
    assert!(failure.message.contains("AWS managed EBS key"), "{failure:?}");
    assert!(calls.lock().unwrap().is_empty(), "no grant, no share, no copy: {calls:?}");
}

#[tokio::test]
async fn a_snapshot_of_the_security_account_itself_is_copied_without_a_share() {
    let calls = Calls::default();
    let own = SnapshotEvidence { account: HOME.into(), ..item() };
    let member = member(&calls, SnapshotState::Completed, None);
    let (state, _) = preserve(&member, &home(&calls), HOME, EVIDENCE_KEY, &own).await.unwrap();
    assert_eq!(state, Preserved::Copying("snap-copy".into()));
    assert_eq!(calls.lock().unwrap().clone(), vec![format!("CopySnapshot {SNAPSHOT}")]);
}
