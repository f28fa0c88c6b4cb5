//! The ECS calls the playbook makes, as plain data.

use std::collections::BTreeMap;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    ContainerInstanceField, ContainerInstanceStatus, DesiredStatus, ServiceField, Tag, TaskField,
};
use serde::Serialize;

use crate::failure::AwsFailure;

/// A task as DescribeTasks tells it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskView {
    pub arn: String,
    pub cluster_arn: String,
    pub last_status: String,
    pub desired_status: String,
    pub launch_type: Option<String>,
    pub definition_arn: String,
    /// `service:NAME` or `family:NAME`.
    pub group: Option<String>,
    pub started_by: Option<String>,
    pub container_instance_arn: Option<String>,
    /// The task's own network interface (`awsvpc`), when it has one.
    pub eni_id: Option<String>,
    pub containers: Vec<ContainerView>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContainerView {
    pub name: String,
    pub image: String,
    /// The digest of the image the container runs, when ECS reports it.
    pub image_digest: Option<String>,
    pub runtime_id: Option<String>,
}

impl TaskView {
    /// The service that runs it, from its group.
    pub fn service(&self) -> Option<&str> {
        self.group.as_deref().and_then(|g| g.strip_prefix("service:"))
    }

    /// The task id (the ARN's last part).
    pub fn id(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or(&self.arn)
    }

    /// What identifies its images: digests where ECS gives them, else the
    /// image references.
    pub fn image_keys(&self) -> Vec<String> {
        self.containers.iter().map(|c| c.image_digest.clone().unwrap_or_else(|| c.image.clone())).collect()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceView {
    pub arn: String,
    pub name: String,
    pub desired_count: i32,
    pub running_count: i32,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContainerInstanceView {
    pub arn: String,
    pub ec2_instance_id: Option<String>,
    pub status: String,
    pub tags: BTreeMap<String, String>,
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))).collect()
}

fn ecs_tags(pairs: &[(String, String)]) -> Vec<Tag> {
    pairs.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

fn task_view(t: &aws_sdk_ecs::types::Task) -> Option<TaskView> {
    let eni_id = t
        .attachments()
        .iter()
        .filter(|a| a.r#type() == Some("ElasticNetworkInterface"))
        .flat_map(|a| a.details())
        .find(|d| d.name() == Some("networkInterfaceId"))
        .and_then(|d| d.value())
        .map(str::to_owned);
    Some(TaskView {
        arn: t.task_arn()?.to_owned(),
        cluster_arn: t.cluster_arn().unwrap_or_default().to_owned(),
        last_status: t.last_status().unwrap_or_default().to_owned(),
        desired_status: t.desired_status().unwrap_or_default().to_owned(),
        launch_type: t.launch_type().map(|l| l.as_str().to_owned()),
        definition_arn: t.task_definition_arn().unwrap_or_default().to_owned(),
        group: t.group().map(str::to_owned),
        started_by: t.started_by().filter(|s| !s.is_empty()).map(str::to_owned),
        container_instance_arn: t.container_instance_arn().map(str::to_owned),
        eni_id,
        containers: t
            .containers()
            .iter()
            .map(|c| ContainerView {
                name: c.name().unwrap_or_default().to_owned(),
                image: c.image().unwrap_or_default().to_owned(),
                image_digest: c.image_digest().filter(|d| !d.is_empty()).map(str::to_owned),
                runtime_id: c.runtime_id().map(str::to_owned),
            })
            .collect(),
        tags: tag_map(t.tags()),
    })
}

/// The tasks of `cluster` among `arns` (at most 100), with their tags.
pub async fn describe_tasks(ecs: &Client, cluster: &str, arns: &[String]) -> Result<Vec<TaskView>, AwsFailure> {
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let out =
        ecs.describe_tasks().cluster(cluster).set_tasks(Some(arns.to_vec())).include(TaskField::Tags).send().await?;
    Ok(out.tasks().iter().filter_map(task_view).collect())
}

/// One task, or `None` when ECS does not have it (any more).
pub async fn describe_task(ecs: &Client, cluster: &str, arn: &str) -> Result<Option<TaskView>, AwsFailure> {
    let tasks = describe_tasks(ecs, cluster, &[arn.to_owned()]).await?;
    Ok(tasks.into_iter().find(|t| t.arn == arn))
}

/// Every running task of the cluster.
pub async fn running_tasks(ecs: &Client, cluster: &str) -> Result<Vec<TaskView>, AwsFailure> {
    let mut arns = Vec::new();
    let mut pages = ecs.list_tasks().cluster(cluster).desired_status(DesiredStatus::Running).into_paginator().send();
    while let Some(page) = pages.next().await {
        arns.extend(page?.task_arns().iter().cloned());
    }
    let described = futures::future::join_all(arns.chunks(100).map(|chunk| describe_tasks(ecs, cluster, chunk))).await;
    let mut tasks = Vec::new();
    for d in described {
        tasks.extend(d?);
    }
    Ok(tasks)
}

fn service_view(s: &aws_sdk_ecs::types::Service) -> Option<ServiceView> {
    Some(ServiceView {
        arn: s.service_arn()?.to_owned(),
        name: s.service_name()?.to_owned(),
        desired_count: s.desired_count(),
        running_count: s.running_count(),
        tags: tag_map(s.tags()),
    })
}

/// Services of the cluster by name or ARN (at most 10), with their tags.
pub async fn describe_services(ecs: &Client, cluster: &str, names: &[String]) -> Result<Vec<ServiceView>, AwsFailure> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .set_services(Some(names.to_vec()))
        .include(ServiceField::Tags)
        .send()
        .await?;
    Ok(out.services().iter().filter(|s| s.status() != Some("INACTIVE")).filter_map(service_view).collect())
}

/// Every service of the cluster.
pub async fn all_services(ecs: &Client, cluster: &str) -> Result<Vec<ServiceView>, AwsFailure> {
    let mut arns = Vec::new();
    let mut pages = ecs.list_services().cluster(cluster).into_paginator().send();
    while let Some(page) = pages.next().await {
        arns.extend(page?.service_arns().iter().cloned());
    }
    let described =
        futures::future::join_all(arns.chunks(10).map(|chunk| describe_services(ecs, cluster, chunk))).await;
    let mut services = Vec::new();
    for d in described {
        services.extend(d?);
    }
    Ok(services)
}

fn container_instance_view(c: &aws_sdk_ecs::types::ContainerInstance) -> Option<ContainerInstanceView> {
    Some(ContainerInstanceView {
        arn: c.container_instance_arn()?.to_owned(),
        ec2_instance_id: c.ec2_instance_id().map(str::to_owned),
        status: c.status().unwrap_or_default().to_owned(),
        tags: tag_map(c.tags()),
    })
}

/// Container instances of the cluster (at most 100), with their tags.
pub async fn describe_container_instances(
    ecs: &Client,
    cluster: &str,
    arns: &[String],
) -> Result<Vec<ContainerInstanceView>, AwsFailure> {
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let out = ecs
        .describe_container_instances()
        .cluster(cluster)
        .set_container_instances(Some(arns.to_vec()))
        .include(ContainerInstanceField::Tags)
        .send()
        .await?;
    Ok(out.container_instances().iter().filter_map(container_instance_view).collect())
}

/// Every container instance of the cluster.
pub async fn all_container_instances(ecs: &Client, cluster: &str) -> Result<Vec<ContainerInstanceView>, AwsFailure> {
    let mut arns = Vec::new();
    let mut pages = ecs.list_container_instances().cluster(cluster).into_paginator().send();
    while let Some(page) = pages.next().await {
        arns.extend(page?.container_instance_arns().iter().cloned());
    }
    let described =
        futures::future::join_all(arns.chunks(100).map(|chunk| describe_container_instances(ecs, cluster, chunk)))
            .await;
    let mut found = Vec::new();
    for d in described {
        found.extend(d?);
    }
    Ok(found)
}

pub async fn tag(ecs: &Client, arn: &str, pairs: &[(String, String)]) -> Result<(), AwsFailure> {
    ecs.tag_resource().resource_arn(arn).set_tags(Some(ecs_tags(pairs))).send().await?;
    Ok(())
}

pub async fn untag(ecs: &Client, arn: &str, keys: &[String]) -> Result<(), AwsFailure> {
    if keys.is_empty() {
        return Ok(());
    }
    ecs.untag_resource().resource_arn(arn).set_tag_keys(Some(keys.to_vec())).send().await?;
    Ok(())
}

/// Stops the task; `reason` is cut to the 255 characters ECS keeps.
pub async fn stop_task(ecs: &Client, cluster: &str, arn: &str, reason: &str) -> Result<(), AwsFailure> {
    let reason: String = reason.chars().take(255).collect();
    ecs.stop_task().cluster(cluster).task(arn).reason(reason).send().await?;
    Ok(())
}

pub async fn set_desired_count(ecs: &Client, cluster: &str, service: &str, count: i32) -> Result<(), AwsFailure> {
    ecs.update_service().cluster(cluster).service(service).desired_count(count).send().await?;
    Ok(())
}

pub async fn set_container_instance_state(
    ecs: &Client,
    cluster: &str,
    arn: &str,
    status: &str,
) -> Result<(), AwsFailure> {
    let out = ecs
        .update_container_instances_state()
        .cluster(cluster)
        .container_instances(arn)
        .status(ContainerInstanceStatus::from(status))
        .send()
        .await?;
    if let Some(failure) = out.failures().first() {
        return Err(AwsFailure::rejected(format!(
            "ECS did not change {arn}: {}",
            failure.reason().unwrap_or("no reason given")
        )));
    }
    Ok(())
}
