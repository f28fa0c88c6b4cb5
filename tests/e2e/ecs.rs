//! contain-ecs-task against the emulator: a Fargate task stopped (ECS owns
//! its interface), its service scaled down behind the setting, the tasks of
//! the same image named; an EC2 task's container instance drained and its
//! instance quarantined by quarantine-instance; each read back, released
//! exactly, and left alone when exempt or in a dry run.

use responder_core::report::is_read;
use responder_core::{Function, Outcome, StepStatus};
use responder_e2e::fixture_with;
use responder_e2e::seed::{self, EcsWorld};
use responder_ecs::Cloud;
use responder_ecs::contain::{CONTAINED_TASKS, ORIGINAL_DESIRED_COUNT, ORIGINAL_STATUS, release};

use crate::{cloud, responder};

fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap()
}

/// The Fargate finding naming the world's task.
fn fargate_event(world: &EcsWorld) -> Vec<u8> {
    fixture_with(
        "ecs-runtime-cryptocurrency-fargate.json",
        &[("ec964d3d4496eba592913bcbacbb07b7", task_id(&world.task)), ("prod-web", &world.cluster)],
    )
}

#[tokio::test]
async fn a_fargate_task_is_stopped_its_service_scaled_down_and_released() {
    let config = cloud().await;
    let r = responder(&config, &[("SCALE_DOWN_SERVICES", "true")]).await;
    let world = seed::ecs_world(&config, false).await;
    let event = fargate_event(&world);

    let report = r.handle(Function::ContainEcsTask, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    // ECS owns a Fargate task's interface: the task is stopped, not moved.
    let (status, reason, _) = seed::ecs_task(&config, &world.cluster, &world.task).await;
    assert_eq!(status, "STOPPED");
    assert!(reason.contains(&report.finding_id) && reason.starts_with("guardduty-responder"), "{reason}");
    assert!(!report.steps.iter().any(|s| s.action == "isolate-eni"), "{report:#?}");
    let (desired, tags) = seed::ecs_service(&config, &world.cluster, "web").await;
    assert_eq!(desired, 0);
    assert_eq!(tags.get(ORIGINAL_DESIRED_COUNT).map(String::as_str), Some("2"));
    assert_eq!(tags.get(CONTAINED_TASKS).map(String::as_str), Some(task_id(&world.task)));
    // The other task of the same image is named; the task of another image is not.
    let named = report.notes.iter().find(|n| n.contains("run the same image")).expect("same-image note");
    assert!(named.contains(&world.twin) && !named.contains(&world.other), "{named}");
    for arn in [&world.twin, &world.other] {
        assert_eq!(seed::ecs_task(&config, &world.cluster, arn).await.0, "RUNNING", "neighbours keep running");
    }

    // A repeat delivery changes nothing.
    let again = r.handle(Function::ContainEcsTask, &event, None).await.unwrap();
    assert_eq!(again.outcome, Outcome::Contained, "{again:#?}");
    let changed: Vec<_> = again.steps.iter().filter(|s| s.status == StepStatus::Done && !is_read(&s.action)).collect();
    assert!(changed.is_empty(), "second delivery changed: {changed:#?}");

    // Release: the desired count is back, the stopped task stays stopped.
    let run = release(&Cloud::new(&config), &world.cluster, &world.task).await;
    assert!(run.log.all_held() && run.skipped.is_none(), "{run:#?}");
    let (desired, tags) = seed::ecs_service(&config, &world.cluster, "web").await;
    assert_eq!(desired, 2);
    assert!(!tags.contains_key(ORIGINAL_DESIRED_COUNT) && !tags.contains_key(CONTAINED_TASKS), "{tags:?}");
    assert_eq!(seed::ecs_task(&config, &world.cluster, &world.task).await.0, "STOPPED");
    let twice = release(&Cloud::new(&config), &world.cluster, &world.task).await;
    assert!(twice.skipped.is_some(), "{twice:#?}");
}

#[tokio::test]
async fn a_service_is_left_running_unless_the_setting_says_so() {
    let config = cloud().await;
    let r = responder(&config, &[]).await;
    let world = seed::ecs_world(&config, false).await;
    let report = r.handle(Function::ContainEcsTask, &fargate_event(&world), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    assert_eq!(seed::ecs_task(&config, &world.cluster, &world.task).await.0, "STOPPED");
    let (desired, tags) = seed::ecs_service(&config, &world.cluster, "web").await;
    assert_eq!(desired, 2);
    assert!(!tags.contains_key(ORIGINAL_DESIRED_COUNT), "{tags:?}");
    assert!(report.notes.iter().any(|n| n.contains("SCALE_DOWN_SERVICES")), "{:#?}", report.notes);
}

#[tokio::test]
async fn an_ec2_task_drains_its_container_instance_and_the_instance_is_quarantined() {
    let config = cloud().await;
    let r = responder(&config, &[]).await;
    let world = seed::ecs_world(&config, true).await;
    let (instance, container_instance, task) = world.ec2.clone().unwrap();
    let event = fixture_with(
        "ecs-runtime-malicious-file-ec2.json",
        &[
            ("562033f42f81567bce7059f7a15ae49d", task_id(&task)),
            ("prod-api", &world.cluster),
            ("i-05668d156b4aba5d8", &instance.id),
        ],
    );
    let report = r.handle(Function::ContainEcsTask, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    let (status, tags) = seed::ecs_container_instance(&config, &world.cluster, &container_instance).await;
    assert_eq!(status, "DRAINING");
    assert_eq!(tags.get(ORIGINAL_STATUS).map(String::as_str), Some("ACTIVE"));
    // On its instance's network: isolated with the instance, not stopped.
    assert_eq!(seed::ecs_task(&config, &world.cluster, &task).await.0, "RUNNING");
    assert!(report.notes.iter().any(|n| n.contains("quarantine-instance") && n.contains(&instance.id)), "{report:#?}");

    // The same finding reaches quarantine-instance, which isolates the instance.
    let quarantined = r.handle(Function::QuarantineInstance, &event, None).await.unwrap();
    assert_eq!(quarantined.outcome, Outcome::Contained, "{quarantined:#?}");
    let isolation = seed::responder_groups(&config, &world.network.vpc, "isolation").await;
    let isolation = isolation.first().and_then(|g| g.group_id()).expect("isolation group").to_owned();
    assert_eq!(seed::eni_groups(&config, &instance.primary_eni).await, vec![isolation]);
    assert!(quarantined.notes.iter().any(|n| n.contains("contain-ecs-task drains it")), "{quarantined:#?}");

    let run = release(&Cloud::new(&config), &world.cluster, &task).await;
    assert!(run.log.all_held() && run.skipped.is_none(), "{run:#?}");
    let (status, tags) = seed::ecs_container_instance(&config, &world.cluster, &container_instance).await;
    assert_eq!(status, "ACTIVE");
    assert!(!tags.contains_key(ORIGINAL_STATUS) && !tags.contains_key(CONTAINED_TASKS), "{tags:?}");
}

#[tokio::test]
async fn exempt_tasks_dry_runs_and_unknown_tasks_change_nothing() {
    let config = cloud().await;
    let world = seed::ecs_world(&config, false).await;
    let event = fargate_event(&world);

    let dry = responder(&config, &[("DRY_RUN", "true"), ("SCALE_DOWN_SERVICES", "true")]).await;
    let report = dry.handle(Function::ContainEcsTask, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::DryRun, "{report:#?}");
    assert!(report.steps.iter().any(|s| s.action == "stop-task" && s.status == StepStatus::Planned), "{report:#?}");
    assert_eq!(seed::ecs_task(&config, &world.cluster, &world.task).await.0, "RUNNING");
    assert_eq!(seed::ecs_service(&config, &world.cluster, "web").await.0, 2);

    let ecs = aws_sdk_ecs::Client::new(&config);
    let tag = aws_sdk_ecs::types::Tag::builder().key("guardduty-responder:exempt").value("true").build();
    ecs.tag_resource().resource_arn(&world.task).tags(tag).send().await.unwrap();
    let r = responder(&config, &[("SCALE_DOWN_SERVICES", "true")]).await;
    let report = r.handle(Function::ContainEcsTask, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Skipped, "{report:#?}");
    assert!(report.reason.as_deref().unwrap_or_default().contains("exemption tag"), "{report:#?}");
    assert_eq!(seed::ecs_task(&config, &world.cluster, &world.task).await.0, "RUNNING");
    assert_eq!(seed::ecs_service(&config, &world.cluster, "web").await.0, 2);

    // A task ECS does not have: one failed read, nothing else.
    let missing = fixture_with(
        "ecs-runtime-cryptocurrency-fargate.json",
        &[("ec964d3d4496eba592913bcbacbb07b7", "0123456789abcdef0123456789abcdef"), ("prod-web", &world.cluster)],
    );
    let report = r.handle(Function::ContainEcsTask, &missing, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    let [step] = report.steps.iter().filter(|s| s.status == StepStatus::Failed).collect::<Vec<_>>()[..] else {
        panic!("{report:#?}")
    };
    assert_eq!(step.action, "describe-task");
    assert!(step.detail.contains("not found"), "{step:#?}");
}
