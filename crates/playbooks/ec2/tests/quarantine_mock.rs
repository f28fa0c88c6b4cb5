//! The quarantine executor against SDK mocks: call ordering, each step
//! failing in turn, error mapping and retryability, and the deadline.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_autoscaling::operation::describe_auto_scaling_instances::DescribeAutoScalingInstancesOutput;
use aws_sdk_autoscaling::operation::detach_instances::{DetachInstancesError, DetachInstancesOutput};
use aws_sdk_autoscaling::types::AutoScalingInstanceDetails;
use aws_sdk_ec2::operation::create_snapshot::{CreateSnapshotError, CreateSnapshotOutput};
use aws_sdk_ec2::operation::create_tags::{CreateTagsError, CreateTagsInput, CreateTagsOutput};
use aws_sdk_ec2::operation::describe_iam_instance_profile_associations::DescribeIamInstanceProfileAssociationsOutput;
use aws_sdk_ec2::operation::describe_instance_attribute::DescribeInstanceAttributeOutput;
use aws_sdk_ec2::operation::describe_instances::{DescribeInstancesError, DescribeInstancesOutput};
use aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput;
use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
use aws_sdk_ec2::operation::describe_snapshots::DescribeSnapshotsOutput;
use aws_sdk_ec2::operation::describe_tags::DescribeTagsOutput;
use aws_sdk_ec2::operation::disassociate_iam_instance_profile::{
    DisassociateIamInstanceProfileError, DisassociateIamInstanceProfileOutput,
};
use aws_sdk_ec2::operation::modify_instance_attribute::{ModifyInstanceAttributeError, ModifyInstanceAttributeOutput};
use aws_sdk_ec2::operation::modify_network_interface_attribute::{
    ModifyNetworkInterfaceAttributeError, ModifyNetworkInterfaceAttributeInput, ModifyNetworkInterfaceAttributeOutput,
};
use aws_sdk_ec2::types::{
    AttributeBooleanValue, AttributeValue, EbsInstanceBlockDevice, GroupIdentifier, IamInstanceProfile,
    IamInstanceProfileAssociation, IamInstanceProfileAssociationState, Instance, InstanceBlockDeviceMapping,
    InstanceState, InstanceStateName, IpPermission, IpRange, Ipv6Range, NetworkInterface, Reservation, SecurityGroup,
    Tag,
};
use aws_smithy_mocks::{Rule, mock};
use responder_aws::mocks::{self, err_meta};
use responder_aws::verify::open_gate;
use responder_core::{Policy, StepStatus};
use responder_ec2::Cloud;
use responder_ec2::quarantine::{QuarantineJob, quarantine};

const INSTANCE: &str = "i-0123456789abcdef0";
const VPC: &str = "vpc-1";
const ISOLATION: &str = "sg-iso";
const UNTRACK: &str = "sg-untrack";

type Calls = Arc<Mutex<Vec<String>>>;

/// (failing step, its target, the rule that makes it fail)
type FailureCase = (&'static str, &'static str, Box<dyn Fn() -> Rule>);

fn mock_cloud(ec2: Vec<Rule>, asg: Vec<Rule>) -> Cloud {
    mock_cloud_with_load_balancers(ec2, asg, no_target_groups(), no_classic_load_balancers())
}

fn mock_cloud_with_load_balancers(ec2: Vec<Rule>, asg: Vec<Rule>, elbv2: Vec<Rule>, elb: Vec<Rule>) -> Cloud {
    let sdk = mocks::sdk_config();
    let mut cloud = Cloud::new(&sdk);
    cloud.ec2 = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&sdk).interceptor(mocks::interceptor(&ec2)).build(),
    );
    cloud.autoscaling = aws_sdk_autoscaling::Client::from_conf(
        aws_sdk_autoscaling::config::Builder::from(&sdk).interceptor(mocks::interceptor(&asg)).build(),
    );
    cloud.elbv2 = aws_sdk_elasticloadbalancingv2::Client::from_conf(
        aws_sdk_elasticloadbalancingv2::config::Builder::from(&sdk).interceptor(mocks::interceptor(&elbv2)).build(),
    );
    cloud.elb = aws_sdk_elasticloadbalancing::Client::from_conf(
        aws_sdk_elasticloadbalancing::config::Builder::from(&sdk).interceptor(mocks::interceptor(&elb)).build(),
    );
    cloud
}

fn no_target_groups() -> Vec<Rule> {
    vec![mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_groups).then_output(|| {
        aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsOutput::builder().build()
    })]
}

fn no_classic_load_balancers() -> Vec<Rule> {
    vec![mock!(aws_sdk_elasticloadbalancing::Client::describe_load_balancers).then_output(|| {
        aws_sdk_elasticloadbalancing::operation::describe_load_balancers::DescribeLoadBalancersOutput::builder().build()
    })]
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

fn all_traffic() -> IpPermission {
    IpPermission::builder()
        .ip_protocol("-1")
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
        .build()
}

fn logged(calls: &Calls, name: &str) {
    calls.lock().unwrap().push(name.to_owned());
}

fn is_record(input: &CreateTagsInput) -> bool {
    input.tags().iter().any(|t| t.key().is_some_and(|k| k.contains("original")))
}

/// The describes of a running instance with two ENIs, one volume, an
/// instance profile, an Auto Scaling group, and both responder groups.
fn describe_rules() -> Vec<Rule> {
    vec![
        mock!(aws_sdk_ec2::Client::describe_instances).then_output(|| {
            DescribeInstancesOutput::builder()
                .reservations(
                    Reservation::builder()
                        .instances(
                            Instance::builder()
                                .instance_id(INSTANCE)
                                .state(InstanceState::builder().name(InstanceStateName::Running).build())
                                .tags(tag("Name", "web"))
                                .tags(tag("aws:autoscaling:groupName", "web-asg"))
                                .iam_instance_profile(
                                    IamInstanceProfile::builder()
                                        .arn("arn:aws:iam::123456789012:instance-profile/web")
                                        .build(),
                                )
                                .block_device_mappings(
                                    InstanceBlockDeviceMapping::builder()
                                        .device_name("/dev/xvda")
                                        .ebs(EbsInstanceBlockDevice::builder().volume_id("vol-1").build())
                                        .build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_ec2::Client::describe_network_interfaces).then_output(|| {
            let eni = |id: &str, groups: &[&str]| {
                let mut b = NetworkInterface::builder().network_interface_id(id).vpc_id(VPC);
                for g in groups {
                    b = b.groups(GroupIdentifier::builder().group_id(*g).build());
                }
                b.build()
            };
            DescribeNetworkInterfacesOutput::builder()
                .network_interfaces(eni("eni-1", &["sg-web"]))
                .network_interfaces(eni("eni-2", &["sg-web", "sg-admin"]))
                .build()
        }),
        mock!(aws_sdk_ec2::Client::describe_instance_attribute).then_output(|| {
            DescribeInstanceAttributeOutput::builder()
                .disable_api_termination(AttributeBooleanValue::builder().value(false).build())
                .instance_initiated_shutdown_behavior(AttributeValue::builder().value("terminate").build())
                .build()
        }),
        mock!(aws_sdk_ec2::Client::describe_iam_instance_profile_associations).then_output(|| {
            DescribeIamInstanceProfileAssociationsOutput::builder()
                .iam_instance_profile_associations(
                    IamInstanceProfileAssociation::builder()
                        .association_id("iip-assoc-1")
                        .instance_id(INSTANCE)
                        .state(IamInstanceProfileAssociationState::Associated)
                        .iam_instance_profile(
                            IamInstanceProfile::builder().arn("arn:aws:iam::123456789012:instance-profile/web").build(),
                        )
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_ec2::Client::describe_security_groups).then_output(|| {
            DescribeSecurityGroupsOutput::builder()
                .security_groups(
                    SecurityGroup::builder()
                        .group_id(ISOLATION)
                        .vpc_id(VPC)
                        .tags(tag("guardduty-responder:group", "isolation"))
                        .build(),
                )
                .security_groups(
                    SecurityGroup::builder()
                        .group_id(UNTRACK)
                        .vpc_id(VPC)
                        .tags(tag("guardduty-responder:group", "untrack"))
                        .ip_permissions(all_traffic())
                        .ip_permissions_egress(all_traffic())
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_ec2::Client::describe_snapshots).then_output(|| DescribeSnapshotsOutput::builder().build()),
        mock!(aws_sdk_ec2::Client::describe_tags).then_output(|| DescribeTagsOutput::builder().build()),
        mock!(aws_sdk_ec2::Client::get_console_output).then_output(|| {
            aws_sdk_ec2::operation::get_console_output::GetConsoleOutputOutput::builder()
                .instance_id(INSTANCE)
                .output("Ym9vdA==")
                .build()
        }),
    ]
}

fn asg_rules(calls: &Calls, detach: Option<Rule>) -> Vec<Rule> {
    let c = calls.clone();
    vec![
        mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_instances).then_output(|| {
            DescribeAutoScalingInstancesOutput::builder()
                .auto_scaling_instances(
                    AutoScalingInstanceDetails::builder()
                        .instance_id(INSTANCE)
                        .auto_scaling_group_name("web-asg")
                        .availability_zone("us-east-1a")
                        .lifecycle_state("InService")
                        .health_status("HEALTHY")
                        .protected_from_scale_in(false)
                        .build(),
                )
                .build()
        }),
        detach.unwrap_or_else(|| {
            mock!(aws_sdk_autoscaling::Client::detach_instances).then_compute_output(move |input| {
                assert_eq!(input.should_decrement_desired_capacity(), Some(false));
                logged(&c, "DetachInstances");
                DetachInstancesOutput::builder().build()
            })
        }),
    ]
}

/// The change rules, each logging its call; `fail` replaces one of them.
fn change_rules(calls: &Calls, fail: Option<(&str, Rule)>) -> Vec<Rule> {
    let c1 = calls.clone();
    let c2 = calls.clone();
    let c3 = calls.clone();
    let c4 = calls.clone();
    let c5 = calls.clone();
    let c6 = calls.clone();
    let mut rules = Vec::new();
    if let Some((_, rule)) = &fail {
        rules.push(rule.clone());
    }
    rules.extend([
        mock!(aws_sdk_ec2::Client::create_tags).then_compute_output(move |input| {
            let resource = input.resources().join(",");
            logged(&c1, &if is_record(input) { format!("RecordTags {resource}") } else { "CreateTags".to_owned() });
            CreateTagsOutput::builder().build()
        }),
        mock!(aws_sdk_ec2::Client::modify_network_interface_attribute).then_compute_output(
            move |input: &ModifyNetworkInterfaceAttributeInput| {
                let group = input.groups().join(",");
                logged(&c2, &format!("ModifyENI {} {group}", input.network_interface_id().unwrap_or_default()));
                ModifyNetworkInterfaceAttributeOutput::builder().build()
            },
        ),
        mock!(aws_sdk_ec2::Client::modify_instance_attribute).then_compute_output(move |_| {
            logged(&c3, "ModifyInstanceAttribute");
            ModifyInstanceAttributeOutput::builder().build()
        }),
        mock!(aws_sdk_ec2::Client::create_snapshot).then_compute_output(move |_| {
            logged(&c4, "CreateSnapshot");
            CreateSnapshotOutput::builder().snapshot_id("snap-1").build()
        }),
        mock!(aws_sdk_ec2::Client::disassociate_iam_instance_profile).then_compute_output(move |_| {
            logged(&c5, "DisassociateIamInstanceProfile");
            DisassociateIamInstanceProfileOutput::builder().build()
        }),
        mock!(aws_sdk_ec2::Client::modify_instance_metadata_options).then_compute_output(move |_| {
            logged(&c6, "ModifyInstanceMetadataOptions");
            aws_sdk_ec2::operation::modify_instance_metadata_options::ModifyInstanceMetadataOptionsOutput::builder()
                .build()
        }),
    ]);
    rules
}

fn job<'a>(policy: &'a Policy, deadline: Option<Instant>) -> QuarantineJob<'a> {
    QuarantineJob {
        finding_id: "finding-1",
        instance_id: INSTANCE,
        policy,
        deadline,
        now: "2026-11-28T00:00:00Z".into(),
        gate: open_gate(),
        account: "123456789012",
        evidence: None,
        malware_scan: None,
    }
}

fn outcome_of(records: &[responder_core::StepRecord]) -> responder_core::Outcome {
    responder_core::Outcome::of_steps(records, false)
}

#[tokio::test]
async fn a_healthy_run_records_first_isolates_in_two_steps_and_contains() {
    let calls = Calls::default();
    let mut ec2 = describe_rules();
    ec2.extend(change_rules(&calls, None));
    let cloud = mock_cloud(ec2, asg_rules(&calls, None));
    let policy = Policy::default();
    let run = quarantine(&cloud, &job(&policy, None)).await;
    assert!(run.log.all_held(), "{:#?}", run.log.records);
    assert!(!run.log.transient);

    let calls = calls.lock().unwrap().clone();
    let at = |c: &str| calls.iter().position(|x| x == c).unwrap_or_else(|| panic!("no {c} in {calls:?}"));
    let records = calls.iter().filter(|c| c.starts_with("RecordTags")).count();
    assert_eq!(records, 2, "the instance, and both ENIs in one request: {calls:?}");
    // Each resource is recorded before it is changed.
    let instance_record = at(&format!("RecordTags {INSTANCE}"));
    for change in ["ModifyInstanceAttribute", "DisassociateIamInstanceProfile", "DetachInstances"] {
        assert!(instance_record < at(change), "{change} before the instance record: {calls:?}");
    }
    for eni in ["eni-1", "eni-2"] {
        assert!(at("RecordTags eni-1,eni-2") < at(&format!("ModifyENI {eni} {UNTRACK}")), "{calls:?}");
    }
    for eni in ["eni-1", "eni-2"] {
        let untrack = calls.iter().position(|c| c == &format!("ModifyENI {eni} {UNTRACK}")).unwrap();
        let isolate = calls.iter().position(|c| c == &format!("ModifyENI {eni} {ISOLATION}")).unwrap();
        assert!(untrack < isolate, "{eni}: untrack must come before isolation: {calls:?}");
    }
    assert_eq!(calls.iter().filter(|c| *c == "ModifyInstanceAttribute").count(), 2);
    assert!(calls.contains(&"CreateSnapshot".to_owned()));
    assert!(calls.contains(&"DisassociateIamInstanceProfile".to_owned()));
    assert!(calls.contains(&"DetachInstances".to_owned()));
    assert_eq!(calls.last().map(String::as_str), Some("CreateTags"), "status tag comes last: {calls:?}");
}

/// Each change step fails in turn with AccessDenied: the report names it,
/// the outcome is partial, nothing is retryable.
#[tokio::test]
async fn each_change_step_failing_is_reported_as_partial() {
    let cases: Vec<FailureCase> = vec![
        (
            "isolate-eni",
            "eni-2",
            Box::new(|| {
                mock!(aws_sdk_ec2::Client::modify_network_interface_attribute)
                    .match_requests(|i| {
                        i.network_interface_id() == Some("eni-2") && i.groups() == [ISOLATION.to_owned()]
                    })
                    .then_error(|| ModifyNetworkInterfaceAttributeError::generic(err_meta("UnauthorizedOperation")))
            }),
        ),
        (
            "untrack-eni",
            "eni-1",
            Box::new(|| {
                mock!(aws_sdk_ec2::Client::modify_network_interface_attribute)
                    .match_requests(|i| i.network_interface_id() == Some("eni-1") && i.groups() == [UNTRACK.to_owned()])
                    .then_error(|| ModifyNetworkInterfaceAttributeError::generic(err_meta("UnauthorizedOperation")))
            }),
        ),
        (
            "enable-termination-protection",
            INSTANCE,
            Box::new(|| {
                mock!(aws_sdk_ec2::Client::modify_instance_attribute)
                    .match_requests(|i| i.disable_api_termination().is_some())
                    .then_error(|| ModifyInstanceAttributeError::generic(err_meta("UnauthorizedOperation")))
            }),
        ),
        (
            "set-shutdown-behavior",
            INSTANCE,
            Box::new(|| {
                mock!(aws_sdk_ec2::Client::modify_instance_attribute)
                    .match_requests(|i| i.instance_initiated_shutdown_behavior().is_some())
                    .then_error(|| ModifyInstanceAttributeError::generic(err_meta("UnauthorizedOperation")))
            }),
        ),
        (
            "snapshot-volume",
            "vol-1",
            Box::new(|| {
                mock!(aws_sdk_ec2::Client::create_snapshot)
                    .then_error(|| CreateSnapshotError::generic(err_meta("UnauthorizedOperation")))
            }),
        ),
        (
            "detach-instance-profile",
            "arn:aws:iam::123456789012:instance-profile/web",
            Box::new(|| {
                mock!(aws_sdk_ec2::Client::disassociate_iam_instance_profile)
                    .then_error(|| DisassociateIamInstanceProfileError::generic(err_meta("UnauthorizedOperation")))
            }),
        ),
        (
            "tag-instance",
            INSTANCE,
            Box::new(|| {
                mock!(aws_sdk_ec2::Client::create_tags)
                    .match_requests(|i| !is_record(i))
                    .then_error(|| CreateTagsError::generic(err_meta("UnauthorizedOperation")))
            }),
        ),
    ];
    for (action, target, rule) in cases {
        let calls = Calls::default();
        let mut ec2 = describe_rules();
        ec2.extend(change_rules(&calls, Some((action, rule()))));
        let cloud = mock_cloud(ec2, asg_rules(&calls, None));
        let policy = Policy::default();
        let run = quarantine(&cloud, &job(&policy, None)).await;
        let failed: Vec<_> = run.log.records.iter().filter(|r| r.status == StepStatus::Failed).collect();
        assert_eq!(failed.len(), 1, "{action}: {:#?}", run.log.records);
        assert_eq!(failed[0].action, action);
        assert_eq!(failed[0].target, target);
        assert_eq!(failed[0].error_code.as_deref(), Some("UnauthorizedOperation"));
        assert_eq!(outcome_of(&run.log.records), responder_core::Outcome::Partial, "{action}");
        assert!(!run.log.transient, "{action}: access denied is not retryable");
        if action == "untrack-eni" {
            // The isolation step still runs.
            let iso = run.log.records.iter().find(|r| r.action == "isolate-eni" && r.target == "eni-1").unwrap();
            assert_eq!(iso.status, StepStatus::Done);
        }
    }

    let calls = Calls::default();
    let mut ec2 = describe_rules();
    ec2.extend(change_rules(&calls, None));
    let detach = mock!(aws_sdk_autoscaling::Client::detach_instances)
        .then_error(|| DetachInstancesError::generic(err_meta("AccessDenied")));
    let cloud = mock_cloud(ec2, asg_rules(&calls, Some(detach)));
    let policy = Policy::default();
    let run = quarantine(&cloud, &job(&policy, None)).await;
    let failed: Vec<_> = run.log.records.iter().filter(|r| r.status == StepStatus::Failed).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].action, "detach-from-asg");
}

#[tokio::test]
async fn a_failed_record_stops_the_changes_it_would_have_recorded() {
    // The ENIs' record fails: no ENI is changed.
    let calls = Calls::default();
    let mut ec2 = describe_rules();
    let rule = mock!(aws_sdk_ec2::Client::create_tags)
        .match_requests(|i| i.resources().iter().any(|r| r == "eni-2") && is_record(i))
        .then_error(|| CreateTagsError::generic(err_meta("UnauthorizedOperation")));
    ec2.extend(change_rules(&calls, Some(("record", rule))));
    let cloud = mock_cloud(ec2, asg_rules(&calls, None));
    let policy = Policy::default();
    let run = quarantine(&cloud, &job(&policy, None)).await;
    let calls = calls.lock().unwrap().clone();
    assert!(!calls.iter().any(|c| c.starts_with("ModifyENI")), "an ENI changed without a record: {calls:?}");
    for eni in ["eni-1", "eni-2"] {
        let record = run.log.records.iter().find(|r| r.action == "record-eni-groups" && r.target == eni).unwrap();
        assert_eq!(record.status, StepStatus::Failed);
        let iso = run.log.records.iter().find(|r| r.action == "isolate-eni" && r.target == eni).unwrap();
        assert_eq!(iso.status, StepStatus::Skipped);
    }
    assert_eq!(outcome_of(&run.log.records), responder_core::Outcome::Partial);

    // The instance's record fails: no instance-level change, ENIs still isolated.
    let calls = Calls::default();
    let mut ec2 = describe_rules();
    let rule = mock!(aws_sdk_ec2::Client::create_tags)
        .match_requests(|i| i.resources().iter().any(|r| r == INSTANCE) && is_record(i))
        .then_error(|| CreateTagsError::generic(err_meta("UnauthorizedOperation")));
    ec2.extend(change_rules(&calls, Some(("record", rule))));
    let cloud = mock_cloud(ec2, asg_rules(&calls, None));
    let run = quarantine(&cloud, &job(&policy, None)).await;
    let calls = calls.lock().unwrap().clone();
    for change in ["ModifyInstanceAttribute", "DisassociateIamInstanceProfile", "DetachInstances"] {
        assert!(!calls.iter().any(|c| c == change), "{change} without a record: {calls:?}");
    }
    assert!(
        calls.contains(&format!("ModifyENI eni-1 {ISOLATION}"))
            && calls.contains(&format!("ModifyENI eni-2 {ISOLATION}"))
    );
    assert_eq!(outcome_of(&run.log.records), responder_core::Outcome::Partial);
}

/// A twin wrote the instance record after this run read the tags but before
/// it would write its own: the twin's record is kept.
#[tokio::test]
async fn a_record_written_by_a_twin_in_between_is_kept() {
    let calls = Calls::default();
    let mut ec2 = vec![mock!(aws_sdk_ec2::Client::describe_tags).then_output(|| {
        DescribeTagsOutput::builder()
            .tags(
                aws_sdk_ec2::types::TagDescription::builder()
                    .resource_id(INSTANCE)
                    .key("guardduty-responder:original-state")
                    .value(r#"{"termination_protection":false,"shutdown_behavior":"terminate"}"#)
                    .build(),
            )
            .build()
    })];
    ec2.extend(describe_rules());
    ec2.extend(change_rules(&calls, None));
    let cloud = mock_cloud(ec2, asg_rules(&calls, None));
    let policy = Policy::default();
    let run = quarantine(&cloud, &job(&policy, None)).await;
    let calls = calls.lock().unwrap().clone();
    assert!(!calls.contains(&format!("RecordTags {INSTANCE}")), "the twin's record was overwritten: {calls:?}");
    let record = run.log.records.iter().find(|r| r.action == "record-instance-state").unwrap();
    assert_eq!(record.status, StepStatus::AlreadyDone);
}

#[tokio::test]
async fn throttling_that_outlasts_retries_is_retryable() {
    let calls = Calls::default();
    let mut ec2 = describe_rules();
    let throttled = mock!(aws_sdk_ec2::Client::create_snapshot)
        .then_error(|| CreateSnapshotError::generic(err_meta("RequestLimitExceeded")));
    ec2.extend(change_rules(&calls, Some(("snapshot", throttled.clone()))));
    let cloud = mock_cloud(ec2, asg_rules(&calls, None));
    let policy = Policy::default();
    let run = quarantine(&cloud, &job(&policy, None)).await;
    assert!(run.log.transient);
    assert_eq!(throttled.num_calls(), 3, "the SDK retries throttling before giving up");
    let snap = run.log.records.iter().find(|r| r.action == "snapshot-volume").unwrap();
    assert_eq!(snap.status, StepStatus::Failed);
    // Everything else still held.
    assert_eq!(run.log.records.iter().filter(|r| !r.status.held()).count(), 1);
}

#[tokio::test]
async fn throttling_that_clears_is_carried_through() {
    let calls = Calls::default();
    let mut ec2 = describe_rules();
    let flaky = mock!(aws_sdk_ec2::Client::create_snapshot)
        .sequence()
        .error(|| CreateSnapshotError::generic(err_meta("RequestLimitExceeded")))
        .output(|| CreateSnapshotOutput::builder().snapshot_id("snap-2").build())
        .build();
    ec2.extend(change_rules(&calls, Some(("snapshot", flaky))));
    let cloud = mock_cloud(ec2, asg_rules(&calls, None));
    let policy = Policy::default();
    let run = quarantine(&cloud, &job(&policy, None)).await;
    assert!(run.log.all_held(), "{:#?}", run.log.records);
    assert!(!run.log.transient);
}

#[tokio::test]
async fn a_failed_describe_changes_nothing_and_says_whether_to_retry() {
    for (code, transient) in [("RequestLimitExceeded", true), ("UnauthorizedOperation", false)] {
        let calls = Calls::default();
        let mut ec2 = vec![
            mock!(aws_sdk_ec2::Client::describe_instances)
                .then_error(move || DescribeInstancesError::generic(err_meta(code))),
        ];
        ec2.extend(describe_rules());
        ec2.extend(change_rules(&calls, None));
        let cloud = mock_cloud(ec2, asg_rules(&calls, None));
        let policy = Policy::default();
        let run = quarantine(&cloud, &job(&policy, None)).await;
        assert!(calls.lock().unwrap().is_empty(), "{code}: something changed");
        assert_eq!(run.log.records.len(), 1);
        assert_eq!(run.log.records[0].status, StepStatus::Failed);
        assert_eq!(run.log.transient, transient, "{code}");
    }
}

#[tokio::test]
async fn a_close_deadline_starts_no_change_and_reports_what_remains() {
    let calls = Calls::default();
    let mut ec2 = describe_rules();
    ec2.extend(change_rules(&calls, None));
    let cloud = mock_cloud(ec2, asg_rules(&calls, None));
    let policy = Policy::default();
    let run = quarantine(&cloud, &job(&policy, Some(Instant::now() + Duration::from_millis(500)))).await;
    assert!(calls.lock().unwrap().is_empty());
    assert!(run.log.records.iter().any(|r| r.action == "isolate-eni" && r.status == StepStatus::Planned));
    // Nothing changed: the describe alone contains nothing.
    assert_eq!(outcome_of(&run.log.records), responder_core::Outcome::Failed);
}

#[tokio::test]
async fn exempt_and_terminated_instances_are_left_alone() {
    for (tags, state) in [
        (vec![tag("guardduty-responder:exempt", "true")], InstanceStateName::Running),
        (vec![], InstanceStateName::Terminated),
    ] {
        let calls = Calls::default();
        let t = tags.clone();
        let s = state.clone();
        let mut ec2 = vec![mock!(aws_sdk_ec2::Client::describe_instances).then_output(move || {
            DescribeInstancesOutput::builder()
                .reservations(
                    Reservation::builder()
                        .instances(
                            Instance::builder()
                                .instance_id(INSTANCE)
                                .state(InstanceState::builder().name(s.clone()).build())
                                .set_tags(Some(t.clone()))
                                .build(),
                        )
                        .build(),
                )
                .build()
        })];
        ec2.extend(describe_rules());
        ec2.extend(change_rules(&calls, None));
        let cloud = mock_cloud(ec2, asg_rules(&calls, None));
        let policy = Policy::default();
        let run = quarantine(&cloud, &job(&policy, None)).await;
        assert!(run.skipped.is_some(), "{state:?}");
        assert!(calls.lock().unwrap().is_empty());
    }
}

/// When the move onto the isolation group fails after the ENI went onto the
/// allow-all group, the ENI goes back to its own groups in the same run:
/// never left open to the internet.
#[tokio::test]
async fn an_eni_whose_isolation_fails_goes_back_to_its_own_groups() {
    for (code, attempts) in [("UnauthorizedOperation", 1), ("RequestLimitExceeded", 3)] {
        let calls = Calls::default();
        let failing = mock!(aws_sdk_ec2::Client::modify_network_interface_attribute)
            .match_requests(|i| i.network_interface_id() == Some("eni-2") && i.groups() == [ISOLATION.to_owned()])
            .then_error(move || ModifyNetworkInterfaceAttributeError::generic(err_meta(code)));
        let mut ec2 = describe_rules();
        ec2.extend(change_rules(&calls, Some(("isolate-eni", failing.clone()))));
        let cloud = mock_cloud(ec2, asg_rules(&calls, None));
        let policy = Policy::default();
        // Isolation is tried again until 8 s before the deadline, with
        // pauses of 0.5, 1, 2 s: three calls in the 2 s this one leaves.
        let deadline = Instant::now() + Duration::from_secs(10);
        let run = quarantine(&cloud, &job(&policy, Some(deadline))).await;
        let calls = calls.lock().unwrap().clone();
        let moves: Vec<&String> = calls.iter().filter(|c| c.starts_with("ModifyENI eni-2")).collect();
        assert_eq!(
            moves,
            vec![&format!("ModifyENI eni-2 {UNTRACK}"), &"ModifyENI eni-2 sg-web,sg-admin".to_owned()],
            "{code}: {calls:?}"
        );
        // Throttling that outlasts the SDK's retries is tried again while
        // the deadline leaves time to go back instead.
        assert_eq!(failing.num_calls(), attempts * if code == "RequestLimitExceeded" { 3 } else { 1 }, "{code}");
        let back = run.log.records.iter().find(|r| r.action == "restore-eni-groups" && r.target == "eni-2").unwrap();
        assert_eq!(back.status, StepStatus::Done, "{code}: {back:?}");
        assert!(back.detail.contains("no more exposed"), "{back:?}");
        assert_eq!(outcome_of(&run.log.records), responder_core::Outcome::Partial, "{code}");
        // The other ENI is isolated as usual.
        assert!(calls.contains(&format!("ModifyENI eni-1 {ISOLATION}")), "{calls:?}");
    }
}

/// An instance serving behind an ELBv2 target group (its id) and a classic
/// load balancer: the memberships are recorded on the instance first, then
/// taken out, alongside isolation.
#[tokio::test]
async fn load_balancer_memberships_are_recorded_then_taken_out() {
    use aws_sdk_elasticloadbalancingv2::operation::deregister_targets::DeregisterTargetsOutput;
    use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsOutput;
    use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
    use aws_sdk_elasticloadbalancingv2::types::{
        TargetDescription, TargetGroup, TargetHealthDescription, TargetTypeEnum,
    };
    const GROUP: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef";

    let calls = Calls::default();
    let records: Arc<Mutex<Vec<String>>> = Arc::default();
    let (c1, c2, c3, r) = (calls.clone(), calls.clone(), calls.clone(), records.clone());
    let mut ec2 = vec![
        mock!(aws_sdk_ec2::Client::create_tags)
            .match_requests(|i| i.tags().iter().any(|t| t.key() == Some("guardduty-responder:original-targets")))
            .then_compute_output(move |input| {
                logged(&c1, "RecordTargets");
                r.lock().unwrap().extend(input.tags().iter().filter_map(|t| t.value().map(str::to_owned)));
                CreateTagsOutput::builder().build()
            }),
    ];
    ec2.extend(describe_rules());
    ec2.extend(change_rules(&calls, None));
    let elbv2 = vec![
        mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_groups).then_output(|| {
            DescribeTargetGroupsOutput::builder()
                .target_groups(
                    TargetGroup::builder()
                        .target_group_arn(GROUP)
                        .vpc_id(VPC)
                        .target_type(TargetTypeEnum::Instance)
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health).then_output(|| {
            let target = |id: &str, port| {
                TargetHealthDescription::builder()
                    .target(TargetDescription::builder().id(id).port(port).build())
                    .build()
            };
            DescribeTargetHealthOutput::builder()
                .target_health_descriptions(target(INSTANCE, 8080))
                .target_health_descriptions(target("i-0fedcba9876543210", 8080))
                .build()
        }),
        mock!(aws_sdk_elasticloadbalancingv2::Client::deregister_targets).then_compute_output(move |input| {
            let t = &input.targets()[0];
            logged(
                &c2,
                &format!(
                    "DeregisterTargets {} {}:{}",
                    input.target_group_arn().unwrap_or_default(),
                    t.id().unwrap_or_default(),
                    t.port().unwrap_or_default()
                ),
            );
            DeregisterTargetsOutput::builder().build()
        }),
    ];
    let elb = vec![
        mock!(aws_sdk_elasticloadbalancing::Client::describe_load_balancers).then_output(|| {
            aws_sdk_elasticloadbalancing::operation::describe_load_balancers::DescribeLoadBalancersOutput::builder()
                .load_balancer_descriptions(
                    aws_sdk_elasticloadbalancing::types::LoadBalancerDescription::builder()
                        .load_balancer_name("legacy-web")
                        .instances(aws_sdk_elasticloadbalancing::types::Instance::builder().instance_id(INSTANCE).build())
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_elasticloadbalancing::Client::deregister_instances_from_load_balancer).then_compute_output(
            move |input| {
                logged(&c3, &format!("DeregisterClassic {}", input.load_balancer_name().unwrap_or_default()));
                aws_sdk_elasticloadbalancing::operation::deregister_instances_from_load_balancer::DeregisterInstancesFromLoadBalancerOutput::builder().build()
            },
        ),
    ];
    let cloud = mock_cloud_with_load_balancers(ec2, asg_rules(&calls, None), elbv2, elb);
    let policy = Policy::default();
    let run = quarantine(&cloud, &job(&policy, None)).await;
    assert!(run.log.all_held(), "{:#?}", run.log.records);

    let calls = calls.lock().unwrap().clone();
    let at = |c: &str| calls.iter().position(|x| x == c).unwrap_or_else(|| panic!("no {c} in {calls:?}"));
    let deregistered = format!("DeregisterTargets {GROUP} {INSTANCE}:8080");
    assert!(at("RecordTargets") < at(&deregistered), "{calls:?}");
    assert!(at("RecordTargets") < at("DeregisterClassic legacy-web"), "{calls:?}");
    assert_eq!(calls.iter().filter(|c| c.starts_with("Deregister")).count(), 2, "the other instance stays: {calls:?}");
    let record: responder_core::record::LoadBalancerRecord =
        serde_json::from_str(&records.lock().unwrap().concat()).unwrap();
    assert_eq!(record.classic, vec!["legacy-web".to_owned()]);
    assert_eq!(record.targets.len(), 1);
    assert_eq!(
        (record.targets[0].group.as_str(), record.targets[0].id.as_str(), record.targets[0].port),
        (GROUP, INSTANCE, Some(8080))
    );
}

/// Load balancer membership that cannot be read fails its own step; the
/// instance is still isolated, and the outcome says partial.
#[tokio::test]
async fn unreadable_load_balancer_membership_fails_alone() {
    let calls = Calls::default();
    let mut ec2 = describe_rules();
    ec2.extend(change_rules(&calls, None));
    let denied = vec![mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_groups).then_error(|| {
        aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsError::generic(err_meta(
            "AccessDenied",
        ))
    })];
    let cloud = mock_cloud_with_load_balancers(ec2, asg_rules(&calls, None), denied, no_classic_load_balancers());
    let policy = Policy::default();
    let run = quarantine(&cloud, &job(&policy, None)).await;
    let step = |action: &str, target: &str| {
        run.log
            .records
            .iter()
            .find(|r| r.action == action && r.target == target)
            .unwrap_or_else(|| panic!("{action} {target}: {:#?}", run.log.records))
    };
    let lb = step("record-load-balancers", INSTANCE);
    assert_eq!(lb.status, StepStatus::Failed);
    assert_eq!(lb.error_code.as_deref(), Some("AccessDenied"));
    assert!(lb.detail.contains("may still serve traffic"), "{}", lb.detail);
    for eni in ["eni-1", "eni-2"] {
        assert_eq!(step("isolate-eni", eni).status, StepStatus::Done);
    }
    assert_eq!(outcome_of(&run.log.records), responder_core::Outcome::Partial);
    assert!(!calls.lock().unwrap().iter().any(|c| c.starts_with("Deregister")));
}
