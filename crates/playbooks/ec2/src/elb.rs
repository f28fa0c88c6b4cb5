//! Elastic Load Balancing adapter: where an instance serves traffic, taking
//! it out, putting it back.
//!
//! Neither API answers "which load balancers send to this instance", so the
//! target groups of the instance's VPCs are listed and each one's targets
//! read: an `instance` target with the instance's id, or an `ip` target with
//! one of its ENIs' addresses. Classic load balancers list their instances.

use aws_sdk_elasticloadbalancing::Client as ClassicClient;
use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{TargetDescription, TargetTypeEnum};
use futures::StreamExt;
use responder_core::record::TargetRecord;

use crate::failure::AwsFailure;

/// Target groups read at once.
const CONCURRENT_READS: usize = 8;

/// Every target that is this instance or one of its addresses, in the
/// target groups of `vpcs`.
pub async fn targets_of(
    elbv2: &Client,
    instance_id: &str,
    vpcs: &[&str],
    addresses: &[String],
) -> Result<Vec<TargetRecord>, AwsFailure> {
    let mut groups = Vec::new();
    let mut pages = elbv2.describe_target_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        for group in page?.target_groups() {
            let (Some(arn), Some(vpc)) = (group.target_group_arn(), group.vpc_id()) else { continue };
            let kind = group.target_type();
            let may_hold = match kind {
                Some(TargetTypeEnum::Instance) | None => true,
                Some(TargetTypeEnum::Ip) => !addresses.is_empty(),
                _ => false,
            };
            // An `ip` target group may serve addresses of a peered VPC.
            if may_hold && (vpcs.contains(&vpc) || kind == Some(&TargetTypeEnum::Ip)) {
                groups.push(arn.to_owned());
            }
        }
    }
    let reads = futures::stream::iter(groups)
        .map(|group| async move {
            let mut targets = registered(elbv2, &group).await?;
            targets.retain(|t| t.id == instance_id || addresses.contains(&t.id));
            Ok::<_, AwsFailure>(targets)
        })
        .buffer_unordered(CONCURRENT_READS)
        .collect::<Vec<_>>()
        .await;
    let mut targets = Vec::new();
    for read in reads {
        match read {
            Ok(found) => targets.extend(found),
            // Deleted between the list and the read: it serves nothing.
            Err(f) if f.is_code("TargetGroupNotFound") => {}
            Err(f) => return Err(f),
        }
    }
    targets.sort();
    targets.dedup();
    Ok(targets)
}

fn description(target: &TargetRecord) -> TargetDescription {
    TargetDescription::builder().id(&target.id).set_port(target.port).set_availability_zone(target.zone.clone()).build()
}

/// Takes the target out of its group; in-flight requests drain for the
/// group's deregistration delay. Deregistering what is not registered
/// succeeds.
pub async fn deregister(elbv2: &Client, target: &TargetRecord) -> Result<(), AwsFailure> {
    elbv2.deregister_targets().target_group_arn(&target.group).targets(description(target)).send().await?;
    Ok(())
}

pub async fn register(elbv2: &Client, target: &TargetRecord) -> Result<(), AwsFailure> {
    elbv2.register_targets().target_group_arn(&target.group).targets(description(target)).send().await?;
    Ok(())
}

/// Every target registered in `group` now.
pub async fn registered(elbv2: &Client, group: &str) -> Result<Vec<TargetRecord>, AwsFailure> {
    let out = elbv2.describe_target_health().target_group_arn(group).send().await?;
    Ok(out
        .target_health_descriptions()
        .iter()
        .filter_map(|d| d.target())
        .filter_map(|t| {
            Some(TargetRecord {
                group: group.to_owned(),
                id: t.id()?.to_owned(),
                port: t.port(),
                zone: t.availability_zone().filter(|z| *z == "all").map(str::to_owned),
            })
        })
        .collect())
}

/// Whether `target` is among `now` (a record without a port matches any).
pub fn is_among(target: &TargetRecord, now: &[TargetRecord]) -> bool {
    now.iter().any(|t| t.id == target.id && (target.port.is_none() || t.port == target.port))
}

/// The classic load balancers the instance is registered with.
pub async fn classic_of(elb: &ClassicClient, instance_id: &str) -> Result<Vec<String>, AwsFailure> {
    let mut names = Vec::new();
    let mut pages = elb.describe_load_balancers().into_paginator().send();
    while let Some(page) = pages.next().await {
        for lb in page?.load_balancer_descriptions() {
            if lb.instances().iter().any(|i| i.instance_id() == Some(instance_id))
                && let Some(name) = lb.load_balancer_name()
            {
                names.push(name.to_owned());
            }
        }
    }
    names.sort();
    Ok(names)
}

fn classic_instance(instance_id: &str) -> aws_sdk_elasticloadbalancing::types::Instance {
    aws_sdk_elasticloadbalancing::types::Instance::builder().instance_id(instance_id).build()
}

pub async fn deregister_classic(elb: &ClassicClient, name: &str, instance_id: &str) -> Result<(), AwsFailure> {
    elb.deregister_instances_from_load_balancer()
        .load_balancer_name(name)
        .instances(classic_instance(instance_id))
        .send()
        .await?;
    Ok(())
}

pub async fn register_classic(elb: &ClassicClient, name: &str, instance_id: &str) -> Result<(), AwsFailure> {
    elb.register_instances_with_load_balancer()
        .load_balancer_name(name)
        .instances(classic_instance(instance_id))
        .send()
        .await?;
    Ok(())
}
