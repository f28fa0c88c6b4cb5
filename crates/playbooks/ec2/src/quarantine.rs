//! The quarantine playbook.
//!
//! Handles: instance findings [`decide`](responder_core::decide) turns into
//! [`Plan::Quarantine`](responder_core::Plan::Quarantine).
//!
//! Containment first, in four serial round trips, with as few requests as
//! that allows (a burst of findings shares the account's API rate limits):
//! 1. **Describe** the instance (its ENIs and their groups, profile, tags,
//!    volumes, metadata options), termination protection, shutdown
//!    behaviour and the responder's security groups, while GuardDuty
//!    confirms the finding. The ENIs' own tags are read only when one is on
//!    a responder group already (a repeat delivery): until then their groups
//!    are their originals. Any failure here stops the run before anything
//!    changes.
//! 2. **Record** every ENI's groups in one request (one value naming each
//!    ENI, written to all of them); re-read the instance's record tag (a
//!    twin may have written one since step 1), and where the instance has a
//!    profile or an Auto Scaling group, read the association and the
//!    membership. The groups of each VPC are found, or created, meanwhile.
//! 3. **Per ENI**, the allow-all (untrack) group; the instance's record
//!    (profile, protection, shutdown behaviour, metadata options, Auto
//!    Scaling group) is written.
//! 4. **Per ENI**, the isolation group: the instance is contained.
//! 5. Then what serves the containment but is not it, at once: termination
//!    protection, shutdown behaviour `stop`, IMDSv2, volumes kept on
//!    termination, profile disassociated, detached from its Auto Scaling
//!    group without decrementing capacity; forensic snapshots of every
//!    volume (this finding's are found first, so a repeat takes none); the
//!    console output; the load balancers it serves in (read, recorded, taken
//!    out: the isolation group already drops their traffic).
//! 6. **Tag** the instance with the finding id, time and resulting status.
//!
//! A record that exists is never overwritten: a repeat delivery sees the
//! quarantined state, not the original. What cannot be recorded is not
//! changed.
//!
//! IAM actions: ec2:DescribeInstances, DescribeNetworkInterfaces,
//! DescribeInstanceAttribute, DescribeIamInstanceProfileAssociations,
//! DescribeSecurityGroups, DescribeSnapshots, DescribeTags, CreateTags,
//! CreateSecurityGroup, AuthorizeSecurityGroupIngress/Egress,
//! RevokeSecurityGroupIngress/Egress, ModifyNetworkInterfaceAttribute,
//! ModifyInstanceAttribute, CreateSnapshot, DisassociateIamInstanceProfile;
//! autoscaling:DescribeAutoScalingInstances, DetachInstances.
//!
//! Idempotency: groups are found by tag and twins joined on
//! `InvalidGroup.Duplicate`; snapshots are found by finding-id tag; every
//! change first compares with the live state and reports `already_done`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::join_all;
use responder_core::record::{
    InstanceRecord, LoadBalancerRecord, TargetRecord, chunk_tag, eni_groups_record, join_tag, recorded_eni_groups,
};
use responder_core::{Policy, StepStatus, tags};

use crate::Cloud;
use crate::autoscaling;
use crate::ec2::{self, EniView, GroupRole, GroupView, InstanceView, ProfileAssociation};
use crate::elb;
use crate::evidence;
use crate::failure::AwsFailure;
use crate::steps::{DEADLINE, Execution, Held, NOT_CONFIRMED, StepResult, Timed, timed};
use crate::verify::Gate;

/// Time a wave needs at least; with less left before the deadline, the run
/// stops and reports what it did not start.
pub const WAVE_BUDGET: Duration = Duration::from_secs(3);

/// What the quarantine run is asked to do.
#[derive(Debug, Clone)]
pub struct QuarantineJob<'a> {
    pub finding_id: &'a str,
    /// The account the instance is in.
    pub account: &'a str,
    pub instance_id: &'a str,
    pub policy: &'a Policy,
    /// When the invocation will be killed.
    pub deadline: Option<Instant>,
    /// The time to record as the quarantine time (RFC 3339).
    pub now: String,
    /// Opens when GuardDuty has confirmed the finding; no change before.
    pub gate: Gate,
    /// Where forensic snapshots are copied; `None` keeps them in place.
    pub evidence: Option<EvidenceTarget<'a>>,
    /// The administrator account's GuardDuty in this region, to start a
    /// malware scan of the instance once it is contained; `None`: no scan.
    pub malware_scan: Option<&'a aws_sdk_guardduty::Client>,
}

/// Everything wave 1 learns.
#[derive(Debug)]
struct Live {
    instance: InstanceView,
    enis: Vec<EniView>,
    termination_protection: bool,
    shutdown_behavior: String,
    groups: Vec<GroupView>,
    /// Where the instance serves load balancer traffic, when read here (a
    /// dry run). A run that changes things reads it once the instance is
    /// contained; its failure fails the load balancer steps, not the run.
    memberships: Option<Result<LoadBalancerRecord, AwsFailure>>,
}

/// What the instance is attached to, read in wave 2 only where the
/// description shows it: the profile's association (to disassociate it)
/// and the Auto Scaling group it is in.
#[derive(Debug, Default, Clone)]
struct Attachments {
    association: Option<ProfileAssociation>,
    asg: Option<String>,
}

/// The tag EC2 Auto Scaling puts on every instance of a group.
const ASG_TAG: &str = "aws:autoscaling:groupName";

impl Live {
    fn record(&self) -> Option<InstanceRecord> {
        let text = join_tag(tags::ORIGINAL_STATE, &self.instance.tags)?;
        serde_json::from_str(&text).ok()
    }

    fn group(&self, vpc: &str, role: GroupRole) -> Option<&GroupView> {
        self.groups.iter().find(|g| g.vpc_id == vpc && g.role == role)
    }

    fn load_balancer_record(&self) -> Option<LoadBalancerRecord> {
        let text = join_tag(tags::ORIGINAL_TARGETS, &self.instance.tags)?;
        serde_json::from_str(&text).ok()
    }

    fn vpcs(&self) -> BTreeSet<&str> {
        self.enis.iter().map(|e| e.vpc_id.as_str()).collect()
    }

    fn is_responder_group(&self, id: &str) -> bool {
        self.groups.iter().any(|g| g.id == id)
    }

    /// The Auto Scaling group the instance's tag names: the group it is in,
    /// or was in (the membership itself is read before it is recorded).
    fn asg_tag(&self) -> Option<&String> {
        self.instance.tags.get(ASG_TAG)
    }

    /// The groups recorded for `eni` by an earlier delivery.
    fn recorded(&self, eni: &EniView) -> Option<Vec<String>> {
        join_tag(tags::ORIGINAL_GROUPS, &eni.tags).and_then(|r| recorded_eni_groups(&eni.id, &r))
    }
}

/// Runs the quarantine playbook on one instance.
pub async fn quarantine(cloud: &Cloud, job: &QuarantineJob<'_>) -> Execution {
    let mut run = Execution::default();
    let id = job.instance_id;

    // Wave 1: describe.
    let started = Instant::now();
    let described = describe(cloud, id).await;
    let took = Some(started.elapsed());
    let live = match described {
        Ok(Some(live)) => live,
        Ok(None) => {
            run.log.push(
                "describe-instance",
                id,
                Timed {
                    result: Err(AwsFailure {
                        kind: crate::failure::FailureKind::NotFound,
                        code: Some("InvalidInstanceID.NotFound".into()),
                        message: format!(
                            "instance {id} does not exist in {} (terminated long ago, or the finding is stale)",
                            cloud.region
                        ),
                    }),
                    took,
                },
            );
            return run;
        }
        Err(failure) => {
            run.log.push("describe-instance", id, Timed { result: Err(failure), took });
            return run;
        }
    };
    if matches!(live.instance.state.as_str(), "terminated" | "shutting-down") {
        run.skipped = Some(format!("instance {id} is {}: nothing left to contain", live.instance.state));
        return run;
    }
    if job.policy.is_exempt(live.instance.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        run.skipped = Some(format!("instance {id} carries the exemption tag {}=true", job.policy.exempt_tag));
        return run;
    }
    keep_evidence(&mut run, &live);
    run.log.push(
        "describe-instance",
        id,
        Timed {
            result: Ok(Held::done(format!(
                "{} ENI(s), {} volume(s), state {}",
                live.enis.len(),
                live.instance.volumes.len(),
                live.instance.state
            ))),
            took,
        },
    );

    if job.policy.dry_run {
        let mut live = live;
        let (members, console) =
            futures::join!(memberships(cloud, id, &live.enis), ec2::console_output(&cloud.ec2, id));
        keep_console(&mut run, id, console);
        live.memberships = Some(members);
        for (action, target, detail) in planned_steps(&live) {
            run.log.push_status(action, &target, StepStatus::Planned, detail);
        }
        return run;
    }

    // Waves 2 and 3, as independent chains: each resource's record is
    // written before that resource is changed; the groups are made once per
    // VPC; snapshots change nothing and start at once.
    if deadline_near(job) {
        return stop_for_deadline(run, &live);
    }
    if job.gate.clone().await.is_err() {
        for (action, target, _) in planned_steps(&live) {
            run.log.push_status(action, &target, StepStatus::Skipped, NOT_CONFIRMED);
        }
        return run;
    }
    let live = &live;
    let groups = ensure_groups(cloud, live).shared();
    let eni_record = async {
        let started = Instant::now();
        (record_enis(cloud, live).await, started.elapsed())
    }
    .shared();
    let eni_chains = join_all(live.enis.iter().map(|eni| {
        let (groups, eni_record) = (groups.clone(), eni_record.clone());
        async move {
            let (record, groups) = futures::join!(eni_record, groups);
            let (records, took) = record;
            let record = Timed { result: records.and_then(|r| r.of(&eni.id)), took: Some(took) };
            let mut steps: Steps = vec![("record-eni-groups", eni.id.clone(), record.clone())];
            if !record.is_ok() {
                let skipped = Held::skipped("not run: the ENI's groups could not be recorded");
                steps.push(("untrack-eni", eni.id.clone(), Ok(skipped.clone()).into()));
                steps.push(("isolate-eni", eni.id.clone(), Ok(skipped).into()));
                return steps;
            }
            if deadline_near(job) {
                steps.push(("untrack-eni", eni.id.clone(), Ok(Held::planned(DEADLINE)).into()));
                steps.push(("isolate-eni", eni.id.clone(), Ok(Held::planned(DEADLINE)).into()));
                return steps;
            }
            steps.extend(isolate_eni(&cloud.ec2, eni, &group_ids(&groups), job.deadline).await);
            steps
        }
    }));
    let (eni_steps, (instance_record, recorded), groups) =
        futures::join!(eni_chains, record_instance(cloud, live, job), groups);

    // Contained, or as far as it goes: what serves the containment but is
    // not it, at once.
    let instance_changes = async {
        match recorded {
            Some((record, attached)) if !deadline_near(job) => contain_instance(cloud, live, &record, &attached).await,
            Some(_) => instance_steps_as(live, Held::planned(DEADLINE)),
            None => instance_steps_as(live, Held::skipped("not run: the original state could not be recorded")),
        }
    };
    let (instance_changes, snapshot_steps, (lb_steps, memberships), console) = futures::join!(
        instance_changes,
        snapshot_volumes(cloud, live, job),
        load_balancer_chain(cloud, live, job),
        ec2::console_output(&cloud.ec2, id),
    );
    keep_console(&mut run, id, console);
    run.keep(
        "load_balancers",
        match &memberships {
            Ok(members) => serde_json::to_value(members).unwrap_or_default(),
            Err(f) => serde_json::json!({ "error": f.to_string() }),
        },
    );

    // Report in a stable order: records, groups, then the changes.
    let mut eni_steps: Vec<_> = eni_steps.into_iter().flatten().collect();
    run.log.push(instance_record.0, &instance_record.1, instance_record.2);
    for (action, target, result) in eni_steps.iter().filter(|s| s.0 == "record-eni-groups") {
        run.log.push(action, target, result.clone());
    }
    eni_steps.retain(|s| s.0 != "record-eni-groups");
    for ((vpc, role), result, took) in groups {
        let action = match role {
            GroupRole::Untrack => "ensure-untrack-group",
            GroupRole::Isolation => "ensure-isolation-group",
        };
        run.log.push(action, &vpc, Timed { result: result.map(|(_, held)| held), took: Some(took) });
    }
    let changes = instance_changes.into_iter().chain(lb_steps).chain(snapshot_steps).chain(eni_steps);
    for (action, target, result) in changes {
        run.log.push(action, &target, result);
    }

    // The instance's status says whether it is contained; the malware scan
    // below is reported, not part of it.
    let status = if run.log.all_held() { "quarantined" } else { "partial" };
    let mut pairs =
        vec![(tags::FINDING_ID.to_owned(), job.finding_id.to_owned()), (tags::STATUS.to_owned(), status.to_owned())];

    // A malware scan of the contained instance; its own finding, if any,
    // arrives later and is handled like any other.
    if let Some(guardduty) = job.malware_scan {
        let scanned = timed(start_malware_scan(guardduty, cloud, live, job)).await;
        if let Ok(held) = &scanned.result
            && held.status == StepStatus::Done
        {
            pairs.push((tags::MALWARE_SCAN.to_owned(), format!("{} {}", held.detail, job.finding_id)));
        }
        let result = scanned.result.map(|held| Held { detail: format!("scan {}", held.detail), ..held });
        run.log.push("start-malware-scan", id, Timed { result, took: scanned.took });
    }

    // Wave 4: say on the instance what happened.
    if !live.instance.tags.contains_key(tags::QUARANTINED_AT) {
        pairs.push((tags::QUARANTINED_AT.to_owned(), job.now.clone()));
    }
    let tagged = timed(async {
        ec2::create_tags(&cloud.ec2, id, &pairs).await.map(|()| Held::done(format!("{}={status}", tags::STATUS)))
    })
    .await;
    run.log.push("tag-instance", id, tagged);
    run
}

/// What the instance was before the run, for the evidence record.
fn keep_evidence(run: &mut Execution, live: &Live) {
    run.keep("instance", &live.instance);
    run.keep(
        "attributes",
        serde_json::json!({
            "termination_protection": live.termination_protection,
            "shutdown_behavior": live.shutdown_behavior,
            "instance_profile": live.instance.profile_arn,
            "auto_scaling_group": live.asg_tag(),
        }),
    );
    run.keep("network_interfaces", &live.enis);
}

/// The console output, part of the evidence record: one that cannot be
/// read is said, never a reason to stop.
fn keep_console(run: &mut Execution, id: &str, console: Result<Option<String>, AwsFailure>) {
    let (kept, step) = match &console {
        Ok(Some(output)) => (
            serde_json::json!({ "output_base64": output }),
            Ok(Held::done(format!("{} bytes (base64) kept for the evidence record", output.len()))),
        ),
        Ok(None) => (serde_json::json!({ "output_base64": null }), Ok(Held::done("no console output yet"))),
        Err(f) => (serde_json::json!({ "error": f.to_string() }), Err(f.clone())),
    };
    run.keep("console_output", kept);
    run.log.push("describe-console-output", id, step);
}

/// Starts GuardDuty's on-demand malware scan of the instance, once per
/// finding: the scan id is kept in a tag with the finding id, and the
/// request's client token is derived from both, so a retried call answers
/// with the same scan. The held detail is the scan id.
async fn start_malware_scan(
    guardduty: &aws_sdk_guardduty::Client,
    cloud: &Cloud,
    live: &Live,
    job: &QuarantineJob<'_>,
) -> StepResult {
    if let Some((scan, finding)) = live.instance.tags.get(tags::MALWARE_SCAN).and_then(|v| v.split_once(' '))
        && finding == job.finding_id
    {
        return Ok(Held::already(scan.to_owned()));
    }
    let partition = responder_aws::cloud::partition_of(&cloud.region);
    let arn = format!("arn:{partition}:ec2:{}:{}:instance/{}", cloud.region, job.account, live.instance.id);
    let token: String = format!("{}-{}", job.finding_id, live.instance.id).chars().take(64).collect();
    let out = guardduty.start_malware_scan().resource_arn(&arn).client_token(token).send().await;
    let out = out.map_err(AwsFailure::from).map_err(|f| {
        if f.is_code("BadRequestException") {
            AwsFailure {
                message: format!(
                    "{} (GuardDuty would not scan {arn}; where Malware Protection for EC2 is not used, set START_MALWARE_SCANS=false)",
                    f.message
                ),
                ..f
            }
        } else {
            f
        }
    })?;
    let scan = out.scan_id().ok_or_else(|| AwsFailure::rejected("StartMalwareScan returned no scan id"))?;
    Ok(Held::done(scan.to_owned()))
}

fn deadline_near(job: &QuarantineJob<'_>) -> bool {
    job.deadline.is_some_and(|d| d.saturating_duration_since(Instant::now()) < WAVE_BUDGET)
}

fn stop_for_deadline(mut run: Execution, live: &Live) -> Execution {
    let done: BTreeSet<(String, String)> =
        run.log.records.iter().map(|r| (r.action.clone(), r.target.clone())).collect();
    for (action, target, _) in planned_steps(live) {
        if !done.contains(&(action.to_owned(), target.clone())) {
            run.log.push_status(action, &target, StepStatus::Planned, DEADLINE);
        }
    }
    run
}

async fn describe(cloud: &Cloud, id: &str) -> Result<Option<Live>, AwsFailure> {
    let ec2 = &cloud.ec2;
    let (instance, protection, shutdown, groups) = futures::join!(
        ec2::describe_instance(ec2, id),
        ec2::termination_protection(ec2, id),
        ec2::shutdown_behavior(ec2, id),
        ec2::responder_groups(ec2),
    );
    let Some(mut instance) = instance? else { return Ok(None) };
    let groups = groups?;
    // An ENI on a responder group was moved by an earlier delivery, whose
    // record is on the ENIs' own tags: read them. Until then, the groups the
    // description lists are the originals.
    let moved = instance.enis.iter().flat_map(|e| &e.groups).any(|g| groups.iter().any(|r| &r.id == g));
    let enis = if moved || instance.enis.is_empty() {
        ec2::describe_enis(ec2, id).await?
    } else {
        std::mem::take(&mut instance.enis)
    };
    Ok(Some(Live {
        instance,
        enis,
        termination_protection: protection?,
        shutdown_behavior: shutdown?,
        groups,
        memberships: None,
    }))
}

/// The instance's load balancer targets (its id, or its ENIs' addresses)
/// and classic load balancers.
async fn memberships(cloud: &Cloud, id: &str, enis: &[EniView]) -> Result<LoadBalancerRecord, AwsFailure> {
    let vpcs: Vec<&str> = enis.iter().map(|e| e.vpc_id.as_str()).collect();
    let addresses: Vec<String> = enis.iter().flat_map(|e| e.private_ips.iter().cloned()).collect();
    let (targets, classic) =
        futures::join!(elb::targets_of(&cloud.elbv2, id, &vpcs, &addresses), elb::classic_of(&cloud.elb, id));
    Ok(LoadBalancerRecord { targets: targets?, classic: classic? })
}

/// Every step the run would take from this state, for dry runs and for
/// reporting what a stopped run did not start.
fn planned_steps(live: &Live) -> Vec<(&'static str, String, String)> {
    let mut steps = Vec::new();
    if !live.instance.tags.contains_key(tags::ORIGINAL_STATE) {
        steps.push((
            "record-instance-state",
            live.instance.id.clone(),
            "record profile, protection, shutdown behaviour, Auto Scaling group".into(),
        ));
    }
    for eni in &live.enis {
        if live.recorded(eni).is_none() {
            steps.push(("record-eni-groups", eni.id.clone(), format!("record {}", eni.groups.join(","))));
        }
    }
    for vpc in live.vpcs() {
        for (role, action) in
            [(GroupRole::Untrack, "ensure-untrack-group"), (GroupRole::Isolation, "ensure-isolation-group")]
        {
            let detail = match live.group(vpc, role) {
                Some(g) => format!("use {}", g.id),
                None => format!("create {}", role.group_name(vpc)),
            };
            steps.push((action, vpc.to_owned(), detail));
        }
    }
    match &live.memberships {
        Some(Ok(members)) if live.load_balancer_record().unwrap_or_default().with(members).is_some() => {
            steps.push((
                "record-load-balancers",
                live.instance.id.clone(),
                format!(
                    "record {} target(s), {} classic load balancer(s)",
                    members.targets.len(),
                    members.classic.len()
                ),
            ));
        }
        Some(_) => {}
        None => steps.push((
            "record-load-balancers",
            live.instance.id.clone(),
            "read and record the load balancers it serves in, then take it out of each".into(),
        )),
    }
    steps.extend(change_steps(live));
    steps.push(("tag-instance", live.instance.id.clone(), "tag finding id, time and status".into()));
    steps
}

/// The steps of wave 3, as (action, target, what it would do).
fn change_steps(live: &Live) -> Vec<(&'static str, String, String)> {
    let id = &live.instance.id;
    let mut steps = vec![
        ("enable-termination-protection", id.clone(), "DisableApiTermination=true".to_owned()),
        ("set-shutdown-behavior", id.clone(), "InstanceInitiatedShutdownBehavior=stop".to_owned()),
        ("require-imdsv2", id.clone(), "HttpTokens=required, hop limit 1".to_owned()),
    ];
    for device in &live.instance.deleted_on_termination {
        steps.push(("keep-volume", device.clone(), "DeleteOnTermination=false".to_owned()));
    }
    for (volume, device) in &live.instance.volumes {
        steps.push(("snapshot-volume", volume.clone(), format!("forensic snapshot of {device}")));
    }
    for eni in &live.enis {
        steps.push((
            "untrack-eni",
            eni.id.clone(),
            format!("{} → allow-all group (untracks connections)", eni.groups.join(",")),
        ));
        steps.push(("isolate-eni", eni.id.clone(), "→ isolation group (no traffic)".to_owned()));
    }
    if let Some(arn) = &live.instance.profile_arn {
        steps.push(("detach-instance-profile", arn.clone(), "disassociate".to_owned()));
    } else if let Some(profile) = live.record().and_then(|r| r.profile) {
        steps.push(("detach-instance-profile", profile, "disassociated earlier".to_owned()));
    }
    if let Some(group) = live.asg_tag().cloned().or_else(|| live.record().and_then(|r| r.auto_scaling_group)) {
        steps.push(("detach-from-asg", group, "detach without decrementing desired capacity".to_owned()));
    }
    if let Some(Ok(members)) = &live.memberships {
        for target in &members.targets {
            steps.push(("deregister-target", target.group.clone(), format!("take {} out", target_name(target))));
        }
        for name in &members.classic {
            steps.push(("deregister-from-load-balancer", name.clone(), format!("take {} out", live.instance.id)));
        }
    }
    steps
}

/// Load balancer steps run in their own chain, not the instance's.
const LOAD_BALANCER_ACTIONS: [&str; 3] =
    ["record-load-balancers", "deregister-target", "deregister-from-load-balancer"];

fn target_name(target: &TargetRecord) -> String {
    match target.port {
        Some(port) => format!("{}:{port}", target.id),
        None => target.id.clone(),
    }
}

/// What wave 2 did about each ENI's record.
#[derive(Debug, Clone)]
struct EniRecords(BTreeMap<String, Held>);

impl EniRecords {
    fn of(&self, eni: &str) -> Result<Held, AwsFailure> {
        self.0.get(eni).cloned().ok_or_else(|| AwsFailure::rejected(format!("{eni} was not described")))
    }
}

/// Records every ENI's groups before any is changed, in one request: one
/// value naming each ENI's groups, written to every ENI that has no record
/// yet. An earlier delivery's record is kept, and restated in the value; an
/// ENI on responder groups only has no original to record.
async fn record_enis(cloud: &Cloud, live: &Live) -> Result<EniRecords, AwsFailure> {
    let mut held = BTreeMap::new();
    let mut entries: Vec<(&str, Vec<String>)> = Vec::new();
    let mut unrecorded = Vec::new();
    for eni in &live.enis {
        if let Some(groups) = live.recorded(eni) {
            held.insert(
                eni.id.clone(),
                Held::already(format!("recorded by an earlier delivery: {}", groups.join(","))),
            );
            entries.push((&eni.id, groups));
        } else if !eni.groups.is_empty() && eni.groups.iter().all(|g| live.is_responder_group(g)) {
            held.insert(eni.id.clone(), Held::already("only on responder groups: no original to record"));
        } else {
            held.insert(eni.id.clone(), Held::done(eni.groups.join(",")));
            entries.push((&eni.id, eni.groups.clone()));
            unrecorded.push(eni.id.clone());
        }
    }
    if !unrecorded.is_empty() {
        let value = eni_groups_record(entries.iter().map(|(id, groups)| (*id, groups.as_slice())));
        ec2::create_tags_on(&cloud.ec2, &unrecorded, &chunk_tag(tags::ORIGINAL_GROUPS, &value)).await?;
    }
    Ok(EniRecords(held))
}

type Steps = Vec<(&'static str, String, Timed)>;

/// Records the instance-level state, to be changed once the instance is
/// contained; `None` when it could not be recorded (nothing of it changes).
///
/// Protection and shutdown behaviour come from other calls than the
/// instance's tags, so a twin delivery may have read the tags before this
/// run's record and the attributes after this run's changes. The record tag
/// is therefore read again, after every attribute was read, right before it
/// is written: a record that appeared in between is kept, never
/// overwritten. The association and the Auto Scaling membership are read
/// beside it, only where the description shows a profile or a group.
async fn record_instance(
    cloud: &Cloud,
    live: &Live,
    job: &QuarantineJob<'_>,
) -> ((&'static str, String, Timed), Option<(InstanceRecord, Attachments)>) {
    let id = live.instance.id.clone();
    let started = Instant::now();
    let recorded = async {
        let reread = async {
            match live.record() {
                Some(record) => Ok(Some(record)),
                None => ec2::instance_record(&cloud.ec2, &id).await,
            }
        };
        let association = async {
            match &live.instance.profile_arn {
                Some(_) => ec2::profile_association(&cloud.ec2, &id).await,
                None => Ok(None),
            }
        };
        let asg = async {
            match live.asg_tag() {
                Some(_) => autoscaling::group_of(&cloud.autoscaling, &id).await,
                None => Ok(None),
            }
        };
        let (existing, association, asg) = futures::join!(reread, association, asg);
        let attached = Attachments { association: association?, asg: asg? };
        if let Some(record) = existing? {
            return Ok((Held::already("recorded by an earlier delivery; kept"), record, attached));
        }
        let record = InstanceRecord {
            profile: live.instance.profile_arn.clone(),
            termination_protection: live.termination_protection,
            shutdown_behavior: live.shutdown_behavior.clone(),
            auto_scaling_group: attached.asg.clone(),
            metadata: live
                .instance
                .metadata
                .clone()
                .map(|(http_tokens, hop_limit)| responder_core::record::MetadataRecord { http_tokens, hop_limit }),
            deleted_on_termination: live.instance.deleted_on_termination.clone(),
        };
        let text = serde_json::to_string(&record).unwrap_or_default();
        let mut pairs = chunk_tag(tags::ORIGINAL_STATE, &text);
        pairs.push((tags::FINDING_ID.to_owned(), job.finding_id.to_owned()));
        pairs.push((tags::STATUS.to_owned(), "quarantining".to_owned()));
        ec2::create_tags(&cloud.ec2, &id, &pairs).await?;
        Ok::<_, AwsFailure>((Held::done(text), record, attached))
    }
    .await;
    let took = Some(started.elapsed());
    match recorded {
        Ok((held, record, attached)) => {
            (("record-instance-state", id, Timed { result: Ok(held), took }), Some((record, attached)))
        }
        Err(failure) => (("record-instance-state", id, Timed { result: Err(failure), took }), None),
    }
}

/// The instance-level change steps, each reported as `held` (not run).
fn instance_steps_as(live: &Live, held: Held) -> Steps {
    change_steps(live)
        .into_iter()
        .filter(|(action, ..)| {
            !matches!(*action, "snapshot-volume" | "untrack-eni" | "isolate-eni")
                && !LOAD_BALANCER_ACTIONS.contains(action)
        })
        .map(|(action, target, _)| (action, target, Ok(held.clone()).into()))
        .collect()
}

type GroupResult = ((String, GroupRole), Result<(String, Held), AwsFailure>, Duration);

async fn ensure_groups(cloud: &Cloud, live: &Live) -> Vec<GroupResult> {
    let wanted: Vec<(String, GroupRole)> = live
        .vpcs()
        .into_iter()
        .flat_map(|vpc| [(vpc.to_owned(), GroupRole::Untrack), (vpc.to_owned(), GroupRole::Isolation)])
        .collect();
    join_all(wanted.into_iter().map(|(vpc, role)| async move {
        let started = Instant::now();
        let result = ec2::ensure_group(&cloud.ec2, &vpc, role, live.group(&vpc, role)).await;
        ((vpc, role), result, started.elapsed())
    }))
    .await
}

async fn contain_instance(cloud: &Cloud, live: &Live, record: &InstanceRecord, attached: &Attachments) -> Steps {
    let ec2c = &cloud.ec2;
    let id = live.instance.id.as_str();
    let protect = async {
        let result = if live.termination_protection {
            Ok(Held::already("termination protection already on")).into()
        } else {
            timed(async {
                ec2::set_termination_protection(ec2c, id, true).await.map(|()| Held::done("termination protection on"))
            })
            .await
        };
        vec![("enable-termination-protection", id.to_owned(), result)]
    };
    let shutdown = async {
        let result = if live.shutdown_behavior == "stop" {
            Ok(Held::already("shutdown behaviour already stop")).into()
        } else {
            timed(async {
                ec2::set_shutdown_behavior(ec2c, id, "stop")
                    .await
                    .map(|()| Held::done(format!("shutdown behaviour {} → stop", live.shutdown_behavior)))
            })
            .await
        };
        vec![("set-shutdown-behavior", id.to_owned(), result)]
    };
    let profile = async {
        match (&attached.association, &record.profile) {
            (Some(a), _) => {
                let result = timed(async {
                    match ec2::disassociate_profile(ec2c, &a.id).await {
                        Ok(()) => Ok(Held::done(format!("disassociated ({})", a.id))),
                        // Gone since the describe: a concurrent delivery
                        // disassociated it. Done only if no profile came back.
                        Err(f) if f.is_code("InvalidAssociationID.NotFound") => {
                            match ec2::profile_association(ec2c, id).await? {
                                None => Ok(Held::already(format!("{} was disassociated meanwhile", a.id))),
                                // A retry sees the new association and detaches it.
                                Some(now) => Err(AwsFailure {
                                    kind: crate::failure::FailureKind::Transient,
                                    message: format!(
                                        "{} was replaced by {} ({}) while the quarantine ran",
                                        a.id, now.id, now.arn
                                    ),
                                    ..f
                                }),
                            }
                        }
                        Err(f) => Err(f),
                    }
                })
                .await;
                vec![("detach-instance-profile", a.arn.clone(), result)]
            }
            (None, Some(profile)) => {
                vec![("detach-instance-profile", profile.clone(), Ok(Held::already("no profile associated")).into())]
            }
            (None, None) => Vec::new(),
        }
    };
    let asg = async {
        match (&attached.asg, &record.auto_scaling_group) {
            (Some(group), _) => {
                let result = timed(async {
                    autoscaling::detach(&cloud.autoscaling, id, group)
                        .await
                        .map(|()| Held::done("detached; desired capacity unchanged"))
                })
                .await;
                vec![("detach-from-asg", group.clone(), result)]
            }
            (None, Some(group)) => {
                vec![("detach-from-asg", group.clone(), Ok(Held::already("no longer in the group")).into())]
            }
            (None, None) => Vec::new(),
        }
    };
    // Code on the instance cannot hand its role's credentials out through a
    // proxied metadata request: session tokens required, one hop.
    let imds = async {
        let held = matches!(&live.instance.metadata, Some((tokens, 1)) if tokens == "required");
        let result = if held {
            Ok(Held::already("IMDSv2 required, hop limit 1")).into()
        } else {
            timed(async {
                ec2::set_metadata_options(ec2c, id, "required", 1)
                    .await
                    .map(|()| Held::done("HttpTokens=required, hop limit 1"))
            })
            .await
        };
        vec![("require-imdsv2", id.to_owned(), result)]
    };
    // The volumes are evidence: terminating the instance must not delete them.
    let volumes = join_all(live.instance.deleted_on_termination.iter().map(|device| async move {
        let result = timed(async {
            ec2::set_delete_on_termination(ec2c, id, device, false)
                .await
                .map(|()| Held::done("DeleteOnTermination=false"))
        })
        .await;
        ("keep-volume", device.clone(), result)
    }));
    let (protect, shutdown, profile, asg, imds, volumes) =
        futures::join!(protect, shutdown, profile, asg, imds, volumes);
    protect.into_iter().chain(shutdown).chain(profile).chain(asg).chain(imds).chain(volumes).collect()
}

/// Takes the instance out of every load balancer it serves in, so it stops
/// taking traffic even where the load balancer's path would still reach it.
/// The memberships are recorded first (added to an earlier record, never
/// replacing it); what cannot be read or recorded is not changed.
async fn load_balancer_chain(
    cloud: &Cloud,
    live: &Live,
    job: &QuarantineJob<'_>,
) -> (Steps, Result<LoadBalancerRecord, AwsFailure>) {
    let id = &live.instance.id;
    let read = memberships(cloud, id, &live.enis).await;
    let steps = take_out_of_load_balancers(cloud, live, job, &read).await;
    (steps, read)
}

async fn take_out_of_load_balancers(
    cloud: &Cloud,
    live: &Live,
    job: &QuarantineJob<'_>,
    read: &Result<LoadBalancerRecord, AwsFailure>,
) -> Steps {
    let id = &live.instance.id;
    let members = match read {
        Ok(members) => members,
        Err(failure) => {
            let failure = AwsFailure {
                message: format!(
                    "load balancer membership unknown ({}): the instance may still serve traffic",
                    failure.message
                ),
                ..failure.clone()
            };
            return vec![("record-load-balancers", id.clone(), Err(failure).into())];
        }
    };
    let recorded = live.load_balancer_record();
    let mut steps: Steps = Vec::new();
    match recorded.clone().unwrap_or_default().with(members) {
        Some(record) => {
            let text = serde_json::to_string(&record).unwrap_or_default();
            let written = timed(async {
                ec2::create_tags(&cloud.ec2, id, &chunk_tag(tags::ORIGINAL_TARGETS, &text))
                    .await
                    .map(|()| Held::done(text))
            })
            .await;
            let ok = written.is_ok();
            steps.push(("record-load-balancers", id.clone(), written));
            if !ok {
                let skipped = Held::skipped("not run: the memberships could not be recorded");
                steps.extend(
                    members.targets.iter().map(|t| ("deregister-target", t.group.clone(), Ok(skipped.clone()).into())),
                );
                steps.extend(
                    members
                        .classic
                        .iter()
                        .map(|c| ("deregister-from-load-balancer", c.clone(), Ok(skipped.clone()).into())),
                );
                return steps;
            }
        }
        None if recorded.is_some() => {
            steps.push((
                "record-load-balancers",
                id.clone(),
                Ok(Held::already("recorded by an earlier delivery; kept")).into(),
            ));
        }
        None => return steps,
    }
    if deadline_near(job) {
        steps.extend(
            members.targets.iter().map(|t| ("deregister-target", t.group.clone(), Ok(Held::planned(DEADLINE)).into())),
        );
        steps.extend(
            members
                .classic
                .iter()
                .map(|c| ("deregister-from-load-balancer", c.clone(), Ok(Held::planned(DEADLINE)).into())),
        );
        return steps;
    }
    let targets = join_all(members.targets.iter().map(|target| async move {
        let result = timed(async {
            elb::deregister(&cloud.elbv2, target)
                .await
                .map(|()| Held::done(format!("{} out; in-flight requests drain", target_name(target))))
        })
        .await;
        ("deregister-target", target.group.clone(), result)
    }));
    let classic = join_all(members.classic.iter().map(|name| async move {
        let result = timed(async {
            elb::deregister_classic(&cloud.elb, name, id).await.map(|()| Held::done(format!("{id} out")))
        })
        .await;
        ("deregister-from-load-balancer", name.clone(), result)
    }));
    let (targets, classic) = futures::join!(targets, classic);
    steps.extend(targets);
    steps.extend(classic);
    steps
}

/// Forensic snapshots change nothing the instance has: they start at once.
async fn snapshot_volumes(cloud: &Cloud, live: &Live, job: &QuarantineJob<'_>) -> Steps {
    if deadline_near(job) {
        return live
            .instance
            .volumes
            .iter()
            .map(|(volume, _)| ("snapshot-volume", volume.clone(), Ok(Held::planned(DEADLINE)).into()))
            .collect();
    }
    if live.instance.volumes.is_empty() {
        return Vec::new();
    }
    let taken = match ec2::finding_snapshots(&cloud.ec2, job.finding_id).await {
        Ok(taken) => taken,
        Err(failure) => {
            let failure = AwsFailure {
                message: format!("{} (this finding's earlier snapshots could not be looked up)", failure.message),
                ..failure
            };
            return live
                .instance
                .volumes
                .iter()
                .map(|(volume, _)| ("snapshot-volume", volume.clone(), Err(failure.clone()).into()))
                .collect();
        }
    };
    let taken = &taken;
    let steps = join_all(live.instance.volumes.iter().map(|(volume, _)| async move {
        let (result, snapshot) = match taken.iter().find(|(_, v)| v == volume) {
            Some((snap, _)) => {
                (Ok(Held::already(format!("{snap} taken earlier for this finding"))).into(), Some(snap.clone()))
            }
            None => {
                let mut taken = None;
                let result = timed(async {
                    let id = ec2::create_snapshot(&cloud.ec2, volume, &live.instance.id, job.finding_id).await?;
                    taken = Some(id.clone());
                    Ok(Held::done(id))
                })
                .await;
                (result, taken)
            }
        };
        let mut steps: Steps = vec![("snapshot-volume", volume.clone(), result)];
        if let (Some(snapshot), Some(out)) = (snapshot, &job.evidence) {
            steps.push((
                "preserve-snapshot",
                snapshot.clone(),
                preserve_snapshot(cloud, out, live, volume, &snapshot, job).await,
            ));
        }
        steps
    }))
    .await;
    steps.into_iter().flatten().collect()
}

/// Where evidence goes: the security account's clients in this region, its
/// id, and the evidence key.
#[derive(Debug, Clone)]
pub struct EvidenceTarget<'a> {
    pub home: &'a Cloud,
    pub home_account: &'a str,
    pub key_arn: &'a str,
}

/// Copies one forensic snapshot into the security account; what is not
/// complete goes on the evidence pass's queue.
async fn preserve_snapshot(
    cloud: &Cloud,
    out: &EvidenceTarget<'_>,
    live: &Live,
    volume: &str,
    snapshot: &str,
    job: &QuarantineJob<'_>,
) -> Timed {
    let item = evidence::SnapshotEvidence {
        finding_id: job.finding_id.to_owned(),
        account: job.account.to_owned(),
        region: cloud.region.clone(),
        instance_id: live.instance.id.clone(),
        volume_id: volume.to_owned(),
        snapshot_id: snapshot.to_owned(),
    };
    timed(async {
        let (state, started) = evidence::preserve(cloud, out.home, out.home_account, out.key_arn, &item).await?;
        if !matches!(state, evidence::Preserved::Complete(_)) {
            evidence::enqueue(out.home, &item).await?;
        }
        Ok(state.held(started))
    })
    .await
}

fn group_ids(groups: &[GroupResult]) -> BTreeMap<(String, GroupRole), String> {
    groups
        .iter()
        .filter_map(|((vpc, role), result, _)| Some(((vpc.clone(), *role), result.as_ref().ok()?.0.clone())))
        .collect()
}

/// Two-step isolation of one ENI: the allow-all group first (tracked
/// connections become untracked), then the isolation group (untracked flows
/// stop at once). If the first step fails the second is still attempted:
/// new connections are cut either way.
async fn isolate_eni(
    ec2: &aws_sdk_ec2::Client,
    eni: &EniView,
    group_ids: &BTreeMap<(String, GroupRole), String>,
    deadline: Option<Instant>,
) -> Steps {
    let untrack = group_ids.get(&(eni.vpc_id.clone(), GroupRole::Untrack));
    let isolation = group_ids.get(&(eni.vpc_id.clone(), GroupRole::Isolation));
    let Some(isolation) = isolation else {
        let missing = || Err(AwsFailure::rejected(format!("no isolation group in {}", eni.vpc_id))).into();
        return vec![("untrack-eni", eni.id.clone(), missing()), ("isolate-eni", eni.id.clone(), missing())];
    };
    let isolation = vec![isolation.clone()];
    if eni.groups == isolation {
        return vec![
            ("untrack-eni", eni.id.clone(), Ok(Held::already("already isolated")).into()),
            ("isolate-eni", eni.id.clone(), Ok(Held::already(format!("already on {}", isolation[0]))).into()),
        ];
    }
    let first = match untrack {
        Some(untrack) => timed(ec2::move_eni(ec2, eni, std::slice::from_ref(untrack), "allow-all group")).await,
        None => Err(AwsFailure::rejected(format!("no allow-all group in {}", eni.vpc_id))).into(),
    };
    let mut moved = eni.clone();
    if let Some(untrack) = untrack.filter(|_| first.is_ok()) {
        moved.groups = vec![untrack.clone()];
    }
    // An ENI that may be on the allow-all group must not stay there: under
    // a burst's throttling, isolation is tried again, with growing pauses,
    // for as long as the invocation leaves time to go back to the original
    // groups instead.
    let started = Instant::now();
    let isolate_until = until(deadline, started, RESTORE_RESERVE, ISOLATION_PERSISTENCE);
    let second = persist(isolate_until, || ec2::move_eni(ec2, &moved, &isolation, "isolation group")).await;
    let mut steps = vec![("untrack-eni", eni.id.clone(), first), ("isolate-eni", eni.id.clone(), second.clone())];
    if second.is_ok() {
        return steps;
    }
    // Isolation did not hold, and the ENI may be on the allow-all group
    // (the untrack move held, or took effect without an answer): it goes back
    // to its recorded groups, so the run leaves it no more exposed than it
    // found it.
    let responder_groups: Vec<&String> = group_ids.values().collect();
    let originals: Vec<String> = original_groups(eni).into_iter().filter(|g| !responder_groups.contains(&g)).collect();
    let restore_until = until(deadline, started, Duration::from_secs(1), ISOLATION_PERSISTENCE + RESTORE_RESERVE);
    let back = if originals.is_empty() {
        Timed::from(Err(AwsFailure::rejected(format!(
            "{} has no recorded groups of its own to go back to: isolate it by hand",
            eni.id
        ))))
    } else {
        persist(restore_until, || async {
            ec2::set_eni_groups(ec2, &eni.id, &originals).await?;
            Ok(Held::done(format!(
                "isolation did not hold: back on its original groups {}, no more exposed than before",
                originals.join(",")
            )))
        })
        .await
    };
    if let Err(f) = &back.result {
        tracing::error!(eni = %eni.id, error = %f, "an ENI may be left on the allow-all group: isolate it by hand");
    }
    steps.push(("restore-eni-groups", eni.id.clone(), back));
    steps
}

/// How long isolation is tried again, at most, when the invocation has no
/// deadline (the CLI); with one, until [`RESTORE_RESERVE`] before it.
const ISOLATION_PERSISTENCE: Duration = Duration::from_secs(20);

/// The time kept, before the deadline, to put an ENI back on its original
/// groups when isolation did not hold.
const RESTORE_RESERVE: Duration = Duration::from_secs(8);

/// The first pause between attempts; it doubles, up to 4 s.
const FIRST_PAUSE: Duration = Duration::from_millis(500);

/// Until when to keep trying: `reserve` before the deadline, or `bound`
/// after `started` without one.
fn until(deadline: Option<Instant>, started: Instant, reserve: Duration, bound: Duration) -> Instant {
    match deadline {
        Some(deadline) => deadline.checked_sub(reserve).unwrap_or(started),
        None => started + bound,
    }
}

/// Runs `step` (each time a call with the SDK's own retries) until it
/// holds, it fails for good, or `until` would pass during the next pause.
async fn persist<F, Fut>(until: Instant, step: F) -> Timed
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = StepResult>,
{
    let mut result = timed(step()).await;
    let mut pause = FIRST_PAUSE;
    while result.result.as_ref().is_err_and(AwsFailure::retryable) && Instant::now() + pause < until {
        tokio::time::sleep(pause).await;
        let again = timed(step()).await;
        result = Timed { took: sum(result.took, again.took), ..again };
        pause = (pause * 2).min(Duration::from_secs(4));
    }
    result
}

fn sum(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

/// The groups an ENI had before the responder touched it: its record, when
/// an earlier delivery wrote one, or the groups it was described with.
fn original_groups(eni: &EniView) -> Vec<String> {
    join_tag(tags::ORIGINAL_GROUPS, &eni.tags)
        .and_then(|r| recorded_eni_groups(&eni.id, &r))
        .unwrap_or_else(|| eni.groups.clone())
}
