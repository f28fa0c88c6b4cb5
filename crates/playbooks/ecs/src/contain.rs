//! The ECS playbook: contain one task and keep what it was.
//!
//! 1. **Read** the task (definition, containers and image digests, network
//!    interface, service, container instance, tags), the interface, the
//!    container instance, the service, and the cluster's other running
//!    tasks. Exempt by tag: nothing is changed. All of it goes to the
//!    evidence record.
//! 2. **The network**: a task with an interface of its own (`awsvpc`, which
//!    every Fargate task is) cannot be isolated the way an instance is: ECS
//!    creates and owns that interface (requester-managed), and EC2 refuses
//!    to change its security groups for anyone else, the account's
//!    administrators included. So the task is stopped, with a reason naming
//!    the finding; a stopped task stays stopped (ECS keeps its description
//!    for a while, the evidence record for good: its definition, images and
//!    digests, interface and addresses). A task on its instance's network
//!    (`bridge`, `host`) is isolated with its instance by
//!    quarantine-instance, which the same finding reaches, and keeps
//!    running for the forensic team.
//! 3. **The container instance** (EC2 launch type): its status recorded on
//!    it, then `DRAINING`, so ECS places nothing new there and moves its
//!    services' tasks elsewhere.
//! 4. **The service**, when the plan says so (the finding implicates the
//!    image and `SCALE_DOWN_SERVICES` is on): its desired count recorded on
//!    it, then 0, so it does not start the image again.
//! 5. **The report** names every other running task of the cluster that
//!    runs the same image (by digest where ECS reports one).
//!
//! Records name the contained tasks (`guardduty-responder:contained-task`,
//! space-separated ids), so two tasks of one service or instance are
//! released independently; the original count or status is written once
//! and restored when the last of them is released.
//!
//! IAM actions: ecs:DescribeTasks, ListTasks, DescribeServices,
//! DescribeContainerInstances, TagResource, StopTask, UpdateService,
//! UpdateContainerInstancesState; ec2:DescribeNetworkInterfaces. Release
//! (a person's): also ecs:ListServices, ListContainerInstances,
//! UntagResource.

use std::collections::{BTreeMap, BTreeSet};

use responder_core::record::{chunk_keys, chunk_tag, join_tag};
use responder_core::{Policy, StepStatus, tags};
use responder_ec2::interface::{self, Interface};

use crate::Cloud;
use crate::failure::{AwsFailure, FailureKind};
use crate::steps::{Execution, Held, NOT_CONFIRMED, StepResult, Timed, timed};
use crate::tasks::{self, ContainerInstanceView, ServiceView, TaskView};
use crate::verify::Gate;

/// On a service: its desired count before the responder set it to 0.
pub const ORIGINAL_DESIRED_COUNT: &str = "guardduty-responder:original-desired-count";
/// On a container instance: its status before the responder drained it.
pub const ORIGINAL_STATUS: &str = "guardduty-responder:original-status";
/// On a service or container instance: the tasks it was changed for.
pub const CONTAINED_TASKS: &str = "guardduty-responder:contained-task";

/// What a containment run is asked to do.
#[derive(Debug, Clone)]
pub struct TaskJob<'a> {
    pub finding_id: &'a str,
    pub finding_type: &'a str,
    pub cluster: &'a str,
    pub task_arn: &'a str,
    pub scale_down_service: bool,
    pub policy: &'a Policy,
    pub gate: Gate,
}

/// What the first read learns.
#[derive(Debug)]
struct Live {
    task: TaskView,
    interface: Option<Interface>,
    container_instance: Option<ContainerInstanceView>,
    service: Option<ServiceView>,
    /// Other running tasks of the cluster with one of the task's images.
    same_image: Result<Vec<TaskView>, AwsFailure>,
}

fn not_found(what: String) -> AwsFailure {
    AwsFailure { kind: FailureKind::NotFound, code: Some("MISSING".into()), message: what }
}

async fn read(cloud: &Cloud, cluster: &str, task_arn: &str) -> Result<Live, AwsFailure> {
    let ecs = &cloud.ecs;
    let task = tasks::describe_task(ecs, cluster, task_arn)
        .await?
        .ok_or_else(|| not_found(format!("task {task_arn} not found in cluster {cluster}")))?;
    let interface = async {
        match &task.eni_id {
            Some(eni) => interface::describe(&cloud.ec2, eni).await,
            None => Ok(None),
        }
    };
    let container_instance = async {
        match &task.container_instance_arn {
            Some(arn) => tasks::describe_container_instances(ecs, cluster, std::slice::from_ref(arn))
                .await
                .map(|c| c.into_iter().next()),
            None => Ok(None),
        }
    };
    let service = async {
        match task.service() {
            Some(name) => {
                tasks::describe_services(ecs, cluster, &[name.to_owned()]).await.map(|s| s.into_iter().next())
            }
            None => Ok(None),
        }
    };
    let same_image = async {
        let images: BTreeSet<String> = task.image_keys().into_iter().collect();
        let running = tasks::running_tasks(ecs, cluster).await?;
        Ok(running
            .into_iter()
            .filter(|t| t.arn != task.arn && t.image_keys().iter().any(|k| images.contains(k)))
            .collect())
    };
    let (interface, container_instance, service, same_image) =
        futures::join!(interface, container_instance, service, same_image);
    Ok(Live { interface: interface?, container_instance: container_instance?, service: service?, same_image, task })
}

/// The ids recorded under [`CONTAINED_TASKS`].
fn contained(tags_now: &BTreeMap<String, String>) -> BTreeSet<String> {
    join_tag(CONTAINED_TASKS, tags_now).unwrap_or_default().split_whitespace().map(str::to_owned).collect()
}

/// The tags that record `task_id` (and `original` under `key`, unless a
/// record is there already).
fn record_tags(
    tags_now: &BTreeMap<String, String>,
    key: &str,
    original: &str,
    task_id: &str,
    finding_id: &str,
) -> Vec<(String, String)> {
    let mut ids = contained(tags_now);
    ids.insert(task_id.to_owned());
    let listed: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut pairs = chunk_tag(CONTAINED_TASKS, &listed.join(" "));
    if !tags_now.contains_key(key) {
        pairs.push((key.to_owned(), original.to_owned()));
    }
    pairs.push((tags::FINDING_ID.to_owned(), finding_id.to_owned()));
    pairs
}

/// How the task's network is cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Network {
    /// Its own interface, which ECS owns: the task is stopped.
    Stop,
    /// It is on its instance's network: isolated with the instance.
    WithInstance,
    /// It has stopped already.
    Stopped,
}

fn network_of(live: &Live) -> Network {
    if live.task.last_status == "STOPPED" || live.task.desired_status == "STOPPED" {
        return Network::Stopped;
    }
    match &live.task.eni_id {
        None if live.task.container_instance_arn.is_some() => Network::WithInstance,
        _ => Network::Stop,
    }
}

pub async fn contain(cloud: &Cloud, job: &TaskJob<'_>) -> Execution {
    let mut run = Execution::default();
    let (ecs, arn) = (&cloud.ecs, job.task_arn);
    let started = std::time::Instant::now();
    let live = read(cloud, job.cluster, arn).await;
    let took = Some(started.elapsed());
    let live = match live {
        Ok(live) => live,
        Err(f) => {
            run.log.push("describe-task", arn, Timed { result: Err(f), took });
            return run;
        }
    };
    let task = &live.task;
    if job.policy.is_exempt(task.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        run.skipped = Some(format!("task {arn} carries the exemption tag {}=true", job.policy.exempt_tag));
        return run;
    }
    let network = network_of(&live);
    let images: Vec<String> = task
        .containers
        .iter()
        .map(|c| format!("{} {}", c.image, c.image_digest.as_deref().unwrap_or("(no digest)")))
        .collect();
    run.log.push(
        "describe-task",
        arn,
        Timed {
            result: Ok(Held::done(format!(
                "{} {} task of {}, {}",
                task.last_status,
                task.launch_type.as_deref().unwrap_or("?"),
                task.group.as_deref().unwrap_or("no group"),
                images.join("; ")
            ))),
            took,
        },
    );
    run.keep(
        "task",
        serde_json::json!({
            "task": task,
            "network_interface": live.interface,
            "container_instance": live.container_instance,
            "service": live.service,
        }),
    );
    match &live.same_image {
        Ok(others) => {
            run.log.push(
                "describe-same-image-tasks",
                job.cluster,
                Ok(Held::done(format!("{} other running task(s) with the same image", others.len()))),
            );
            run.keep("same_image_tasks", others.iter().map(|t| &t.arn).collect::<Vec<_>>());
            if !others.is_empty() {
                let listed: Vec<&str> = others.iter().take(20).map(|t| t.arn.as_str()).collect();
                run.notes.push(format!(
                    "{} other running task(s) of cluster {} run the same image ({}): {}{}",
                    others.len(),
                    job.cluster,
                    if task.containers.iter().all(|c| c.image_digest.is_some()) {
                        "same digest"
                    } else {
                        "same image reference; ECS reported no digest"
                    },
                    listed.join(", "),
                    if others.len() > listed.len() { ", …" } else { "" }
                ));
            }
        }
        Err(f) => run.log.push("describe-same-image-tasks", job.cluster, Err(f.clone())),
    }

    // What will change.
    let task_id = task.id().to_owned();
    let mut changes: Vec<(&'static str, String, String)> = Vec::new();
    match network {
        Network::Stop => changes.push((
            "stop-task",
            arn.to_owned(),
            match (&live.interface, &task.eni_id) {
                (Some(i), _) if i.requester_managed => {
                    format!(
                        "its interface {} is ECS's, whose groups EC2 lets no one else change: stop the task",
                        i.eni.id
                    )
                }
                (Some(i), _) => format!("its interface {} is the task's alone: stop the task", i.eni.id),
                (None, Some(eni)) => format!("its interface {eni} is gone: stop the task"),
                (None, None) => "stop the task".into(),
            },
        )),
        Network::WithInstance => run.notes.push(format!(
            "task {task_id} uses its instance's network: quarantine-instance isolates the instance {}",
            live.container_instance.as_ref().and_then(|c| c.ec2_instance_id.as_deref()).unwrap_or("")
        )),
        Network::Stopped => run.notes.push(format!("task {task_id} had already stopped ({})", task.last_status)),
    }
    if let Some(ci) = &live.container_instance {
        changes.push(("record-container-instance", ci.arn.clone(), format!("record status {}", ci.status)));
        changes.push(("drain-container-instance", ci.arn.clone(), "status DRAINING".into()));
    }
    match (&live.service, job.scale_down_service) {
        (Some(s), true) => {
            changes.push(("record-service", s.arn.clone(), format!("record desired count {}", s.desired_count)));
            changes.push(("scale-service-to-zero", s.arn.clone(), "desired count 0".into()));
        }
        (Some(s), false) => run.notes.push(format!(
            "service {} keeps desired count {}: it starts new tasks from the same task definition; scale it down by hand if the image is compromised (SCALE_DOWN_SERVICES does it for malicious-file findings)",
            s.name, s.desired_count
        )),
        (None, _) => {}
    }
    if changes.is_empty() {
        if network == Network::Stopped {
            run.skipped = Some(format!("task {arn} has stopped: nothing to contain"));
        }
        return run;
    }
    if job.policy.dry_run {
        for (action, target, detail) in &changes {
            run.log.push_status(action, target, StepStatus::Planned, detail.clone());
        }
        return run;
    }
    if job.gate.clone().await.is_err() {
        for (action, target, _) in &changes {
            run.log.push_status(action, target, StepStatus::Skipped, NOT_CONFIRMED);
        }
        return run;
    }

    let network_steps = async {
        match network {
            Network::Stop => {
                let reason =
                    format!("guardduty-responder: GuardDuty finding {} ({})", job.finding_id, job.finding_type);
                let stopped = timed(async {
                    tasks::stop_task(ecs, job.cluster, arn, &reason).await.map(|()| Held::done(reason.clone()))
                })
                .await;
                vec![("stop-task", arn.to_owned(), stopped)]
            }
            Network::WithInstance | Network::Stopped => Vec::new(),
        }
    };
    let drain = async {
        let Some(ci) = &live.container_instance else { return Vec::new() };
        let record = (ORIGINAL_STATUS, ci.status.as_str());
        let recorded = timed(write_record(ecs, &ci.arn, &ci.tags, record, &task_id, job.finding_id)).await;
        let ok = recorded.is_ok();
        let mut steps = vec![("record-container-instance", ci.arn.clone(), recorded)];
        let drained: Timed = if !ok {
            Ok(Held::skipped("not run: the record was not written")).into()
        } else if ci.status == "DRAINING" {
            Ok(Held::already("DRAINING")).into()
        } else {
            timed(async {
                tasks::set_container_instance_state(ecs, job.cluster, &ci.arn, "DRAINING")
                    .await
                    .map(|()| Held::done(format!("{} → DRAINING", ci.status)))
            })
            .await
        };
        steps.push(("drain-container-instance", ci.arn.clone(), drained));
        steps
    };
    let scale = async {
        let Some(s) = live.service.as_ref().filter(|_| job.scale_down_service) else { return Vec::new() };
        let count = s.desired_count.to_string();
        let record = (ORIGINAL_DESIRED_COUNT, count.as_str());
        let recorded = timed(write_record(ecs, &s.arn, &s.tags, record, &task_id, job.finding_id)).await;
        let ok = recorded.is_ok();
        let mut steps = vec![("record-service", s.arn.clone(), recorded)];
        let scaled: Timed = if !ok {
            Ok(Held::skipped("not run: the record was not written")).into()
        } else if s.desired_count == 0 {
            Ok(Held::already("desired count 0")).into()
        } else {
            timed(async {
                tasks::set_desired_count(ecs, job.cluster, &s.name, 0)
                    .await
                    .map(|()| Held::done(format!("desired count {} → 0", s.desired_count)))
            })
            .await
        };
        steps.push(("scale-service-to-zero", s.arn.clone(), scaled));
        steps
    };
    let (network_steps, drain, scale) = futures::join!(network_steps, drain, scale);
    for (action, target, result) in network_steps.into_iter().chain(drain).chain(scale) {
        run.log.push(action, &target, result);
    }
    run
}

/// Records `task_id` and, unless a record is there, `key=original` on a
/// service or container instance.
async fn write_record(
    ecs: &aws_sdk_ecs::Client,
    arn: &str,
    tags_now: &BTreeMap<String, String>,
    (key, original): (&str, &str),
    task_id: &str,
    finding_id: &str,
) -> StepResult {
    if let Some(kept) = tags_now.get(key).filter(|_| contained(tags_now).contains(task_id)) {
        return Ok(Held::already(format!("recorded by an earlier run: {key}={kept}")));
    }
    let pairs = record_tags(tags_now, key, original, task_id, finding_id);
    let kept = tags_now.get(key).map_or(original, String::as_str);
    tasks::tag(ecs, arn, &pairs).await.map(|()| Held::done(format!("{key}={kept}")))
}

/// Puts back what contain recorded for the task: the container instance's
/// status and the service's desired count (each once no other contained
/// task is recorded on it), then the records. A stopped task stays stopped.
/// Nothing recorded: nothing changes.
pub async fn release(cloud: &Cloud, cluster: &str, task_arn: &str) -> Execution {
    let mut run = Execution::default();
    let ecs = &cloud.ecs;
    let task_id = task_arn.rsplit('/').next().unwrap_or(task_arn).to_owned();
    let (task, services, instances) = futures::join!(
        tasks::describe_task(ecs, cluster, task_arn),
        tasks::all_services(ecs, cluster),
        tasks::all_container_instances(ecs, cluster),
    );
    let (task, services, instances) = match (task, services, instances) {
        (Ok(t), Ok(s), Ok(i)) => (t, s, i),
        (t, s, i) => {
            let failure = [t.err(), s.err(), i.err()].into_iter().flatten().next();
            run.log.push("describe-task", task_arn, failure.map_or_else(|| Ok(Held::done("read")), Err));
            return run;
        }
    };
    let services: Vec<ServiceView> = services.into_iter().filter(|s| contained(&s.tags).contains(&task_id)).collect();
    let instances: Vec<ContainerInstanceView> =
        instances.into_iter().filter(|c| contained(&c.tags).contains(&task_id)).collect();
    if services.is_empty() && instances.is_empty() {
        run.skipped = Some(format!("task {task_arn} has no record of the responder's: nothing to release"));
        return run;
    }
    run.log.push(
        "describe-task",
        task_arn,
        Ok(Held::done(match &task {
            Some(t) => format!("{} task", t.last_status),
            None => "ECS no longer describes the task; its records remain".to_owned(),
        })),
    );
    for ci in &instances {
        let result = release_one(ecs, &ci.arn, &ci.tags, &task_id, ORIGINAL_STATUS, |original| async move {
            if ci.status == original {
                return Ok(Held::already(format!("status {original}")));
            }
            tasks::set_container_instance_state(ecs, cluster, &ci.arn, &original)
                .await
                .map(|()| Held::done(format!("{} → {original}", ci.status)))
        })
        .await;
        run.log.push("restore-container-instance", &ci.arn, result);
    }
    for s in &services {
        let result = release_one(ecs, &s.arn, &s.tags, &task_id, ORIGINAL_DESIRED_COUNT, |original| async move {
            let count: i32 = original
                .parse()
                .map_err(|_| AwsFailure::rejected(format!("recorded desired count {original:?} is not a number")))?;
            if s.desired_count == count {
                return Ok(Held::already(format!("desired count {count}")));
            }
            tasks::set_desired_count(ecs, cluster, &s.name, count)
                .await
                .map(|()| Held::done(format!("desired count {} → {count}", s.desired_count)))
        })
        .await;
        run.log.push("restore-service", &s.arn, result);
    }
    if task.as_ref().is_some_and(|t| t.last_status == "STOPPED") {
        run.notes.push(format!("task {task_id} was stopped and stays stopped: its service, if any, starts new ones"));
    }
    run
}

/// For one service or container instance: drops `task_id` from its record;
/// when it was the last, restores the original with `restore` and removes
/// the record.
async fn release_one<F, Fut>(
    ecs: &aws_sdk_ecs::Client,
    arn: &str,
    tags_now: &BTreeMap<String, String>,
    task_id: &str,
    key: &str,
    restore: F,
) -> StepResult
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = StepResult>,
{
    let mut ids = contained(tags_now);
    ids.remove(task_id);
    if !ids.is_empty() {
        let listed: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut keys = chunk_keys(CONTAINED_TASKS, tags_now);
        let pairs = chunk_tag(CONTAINED_TASKS, &listed.join(" "));
        keys.retain(|k| !pairs.iter().any(|(p, _)| p == k));
        tasks::tag(ecs, arn, &pairs).await?;
        tasks::untag(ecs, arn, &keys).await?;
        return Ok(Held::already(format!(
            "still held for {} other contained task(s): {}",
            ids.len(),
            listed.join(" ")
        )));
    }
    let Some(original) = tags_now.get(key).cloned() else {
        return Err(AwsFailure::rejected(format!("{arn} names the task but has no {key} record: restore by hand")));
    };
    let held = restore(original).await?;
    let mut keys = chunk_keys(CONTAINED_TASKS, tags_now);
    keys.push(key.to_owned());
    if tags_now.contains_key(tags::FINDING_ID) {
        keys.push(tags::FINDING_ID.to_owned());
    }
    tasks::untag(ecs, arn, &keys).await?;
    Ok(held)
}
