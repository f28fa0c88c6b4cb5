//! Releasing a quarantine: put the instance back to the state quarantine
//! recorded (security groups per ENI, instance profile, termination
//! protection, shutdown behaviour, metadata options, volumes' deletion on
//! termination, load balancer memberships; Auto Scaling membership on request),
//! then remove the records. A record is removed only after what it describes
//! has been restored, so a failed release can simply be run again.
//!
//! Snapshots are kept: they are evidence.

use responder_core::record::{InstanceRecord, LoadBalancerRecord, chunk_keys, join_tag, recorded_eni_groups};
use responder_core::tags;

use crate::Cloud;
use crate::autoscaling;
use crate::ec2;
use crate::elb;
use crate::failure::AwsFailure;
use crate::steps::Execution;
use crate::steps::Held;

#[derive(Debug, Clone, Copy, Default)]
pub struct ReleaseOptions {
    /// Attach the instance back to its Auto Scaling group (raises the group's
    /// desired capacity by one).
    pub reattach_asg: bool,
}

pub async fn release(cloud: &Cloud, instance_id: &str, options: ReleaseOptions) -> Execution {
    let mut run = Execution::default();
    let described = futures::join!(
        ec2::describe_instance(&cloud.ec2, instance_id),
        ec2::describe_enis(&cloud.ec2, instance_id),
        ec2::profile_association(&cloud.ec2, instance_id),
        ec2::termination_protection(&cloud.ec2, instance_id),
        ec2::shutdown_behavior(&cloud.ec2, instance_id),
    );
    let (instance, enis, association, protection, shutdown) = match described {
        (Ok(Some(i)), Ok(e), Ok(a), Ok(p), Ok(s)) => (i, e, a, p, s),
        (Ok(None), ..) => {
            run.log.push(
                "describe-instance",
                instance_id,
                Err(AwsFailure::rejected(format!("instance {instance_id} not found"))),
            );
            return run;
        }
        (i, e, a, p, s) => {
            let failure = [i.err(), e.err(), a.err(), p.err(), s.err()].into_iter().flatten().next();
            let failure = failure.unwrap_or_else(|| AwsFailure::rejected("describe failed"));
            run.log.push("describe-instance", instance_id, Err(failure));
            return run;
        }
    };
    let record_text = join_tag(tags::ORIGINAL_STATE, &instance.tags);
    let any_eni_record = enis.iter().any(|e| e.tags.contains_key(tags::ORIGINAL_GROUPS));
    let lb_record_text = join_tag(tags::ORIGINAL_TARGETS, &instance.tags);
    if record_text.is_none() && !any_eni_record && lb_record_text.is_none() {
        run.skipped = Some(format!("instance {instance_id} has no quarantine record: nothing to release"));
        return run;
    }
    run.log.push("describe-instance", instance_id, Ok(Held::done(format!("{} ENI(s)", enis.len()))));

    // Security groups, per ENI.
    let eni_steps = futures::future::join_all(enis.iter().map(|eni| async move {
        let recorded = join_tag(tags::ORIGINAL_GROUPS, &eni.tags).and_then(|r| recorded_eni_groups(&eni.id, &r));
        let Some(groups) = recorded else {
            return (eni.id.clone(), Ok(Held::already("no record: not quarantined by the responder")));
        };
        if groups.is_empty() {
            return (eni.id.clone(), Err(AwsFailure::rejected("the recorded group list is empty; restore by hand")));
        }
        let result = async {
            let held = ec2::move_eni(&cloud.ec2, eni, &groups, "original groups").await?;
            ec2::delete_tags(&cloud.ec2, &eni.id, &chunk_keys(tags::ORIGINAL_GROUPS, &eni.tags)).await?;
            Ok(held)
        }
        .await;
        (eni.id.clone(), result)
    }));

    // Instance state.
    let record: Option<InstanceRecord> = record_text.as_deref().and_then(|t| serde_json::from_str(t).ok());
    let instance_steps = async {
        let mut steps = Vec::new();
        let Some(record) = &record else { return steps };
        if let Some(arn) = &record.profile {
            let result = match &association {
                Some(a) if &a.arn == arn => Ok(Held::already("profile already associated")),
                Some(a) => {
                    Err(AwsFailure::rejected(format!("another profile ({}) is associated now; left as is", a.arn)))
                }
                None => {
                    ec2::associate_profile(&cloud.ec2, instance_id, arn).await.map(|()| Held::done("re-associated"))
                }
            };
            steps.push(("restore-instance-profile", arn.clone(), result));
        }
        let result = if protection == record.termination_protection {
            Ok(Held::already(format!("termination protection {}", on_off(protection))))
        } else {
            ec2::set_termination_protection(&cloud.ec2, instance_id, record.termination_protection)
                .await
                .map(|()| Held::done(format!("termination protection {}", on_off(record.termination_protection))))
        };
        steps.push(("restore-termination-protection", instance_id.to_owned(), result));
        let result = if shutdown == record.shutdown_behavior {
            Ok(Held::already(format!("shutdown behaviour {shutdown}")))
        } else {
            ec2::set_shutdown_behavior(&cloud.ec2, instance_id, &record.shutdown_behavior)
                .await
                .map(|()| Held::done(format!("shutdown behaviour {}", record.shutdown_behavior)))
        };
        steps.push(("restore-shutdown-behavior", instance_id.to_owned(), result));
        if let Some(original) = &record.metadata {
            let now = (original.http_tokens.clone(), original.hop_limit);
            let result = if instance.metadata.as_ref() == Some(&now) {
                Ok(Held::already(format!("HttpTokens={}, hop limit {}", original.http_tokens, original.hop_limit)))
            } else {
                ec2::set_metadata_options(&cloud.ec2, instance_id, &original.http_tokens, original.hop_limit).await.map(
                    |()| Held::done(format!("HttpTokens={}, hop limit {}", original.http_tokens, original.hop_limit)),
                )
            };
            steps.push(("restore-metadata-options", instance_id.to_owned(), result));
        }
        for device in &record.deleted_on_termination {
            let result = if instance.deleted_on_termination.contains(device) {
                Ok(Held::already("DeleteOnTermination=true"))
            } else {
                ec2::set_delete_on_termination(&cloud.ec2, instance_id, device, true)
                    .await
                    .map(|()| Held::done("DeleteOnTermination=true"))
            };
            steps.push(("restore-delete-on-termination", device.clone(), result));
        }
        if let (Some(group), true) = (&record.auto_scaling_group, options.reattach_asg) {
            let result = match autoscaling::group_of(&cloud.autoscaling, instance_id).await {
                Ok(Some(current)) if &current == group => Ok(Held::already("already in the group")),
                Ok(_) => autoscaling::attach(&cloud.autoscaling, instance_id, group)
                    .await
                    .map(|()| Held::done("attached; desired capacity +1")),
                Err(e) => Err(e),
            };
            steps.push(("reattach-asg", group.clone(), result));
        }
        steps
    };
    // Load balancer memberships, as recorded.
    let lb_record: Option<LoadBalancerRecord> = lb_record_text.as_deref().and_then(|t| serde_json::from_str(t).ok());
    let lb_steps = async {
        let mut steps = Vec::new();
        if lb_record_text.is_some() && lb_record.is_none() {
            steps.push((
                "restore-load-balancers",
                instance_id.to_owned(),
                Err(AwsFailure::rejected("the load balancer record cannot be read; restore by hand")),
            ));
            return steps;
        }
        let Some(record) = &lb_record else { return steps };
        // What each recorded group holds now: one read per group.
        let targets = async {
            let groups: std::collections::BTreeSet<&str> = record.targets.iter().map(|t| t.group.as_str()).collect();
            let now = futures::future::join_all(
                groups.into_iter().map(|group| async move { (group, elb::registered(&cloud.elbv2, group).await) }),
            )
            .await;
            let now: std::collections::BTreeMap<&str, _> = now.into_iter().collect();
            futures::future::join_all(record.targets.iter().map(|target| {
                let registered = &now[target.group.as_str()];
                async move {
                    let result = match registered {
                        Ok(now) if elb::is_among(target, now) => Ok(Held::already(format!("{} registered", target.id))),
                        Ok(_) => elb::register(&cloud.elbv2, target)
                            .await
                            .map(|()| Held::done(format!("{}{} registered again", target.id, port_of(target)))),
                        Err(f) => Err(f.clone()),
                    };
                    ("restore-target", target.group.clone(), result)
                }
            }))
            .await
        };
        // Where the instance is registered now: one listing for every record.
        let classic = async {
            if record.classic.is_empty() {
                return Vec::new();
            }
            let current = elb::classic_of(&cloud.elb, instance_id).await;
            let current = &current;
            futures::future::join_all(record.classic.iter().map(|name| async move {
                let result = match current {
                    Ok(names) if names.contains(name) => Ok(Held::already("registered")),
                    Ok(_) => elb::register_classic(&cloud.elb, name, instance_id)
                        .await
                        .map(|()| Held::done(format!("{instance_id} registered again"))),
                    Err(f) => Err(f.clone()),
                };
                ("restore-load-balancer", name.clone(), result)
            }))
            .await
        };
        let (targets, classic) = futures::join!(targets, classic);
        steps.extend(targets);
        steps.extend(classic);
        steps
    };
    let (eni_steps, instance_steps, lb_steps) = futures::join!(eni_steps, instance_steps, lb_steps);
    for (eni, result) in eni_steps {
        run.log.push("restore-eni-groups", &eni, result);
    }
    for (action, target, result) in instance_steps.into_iter().chain(lb_steps) {
        run.log.push(action, &target, result);
    }
    if let Some(group) = record.as_ref().and_then(|r| r.auto_scaling_group.as_ref()).filter(|_| !options.reattach_asg) {
        run.notes.push(format!(
            "the instance was in Auto Scaling group {group}, which has replaced it; re-attach with --reattach-asg if wanted"
        ));
    }

    // Records go last, and only when everything they describe is back.
    if run.log.all_held() {
        let mut keys = chunk_keys(tags::ORIGINAL_STATE, &instance.tags);
        keys.extend(chunk_keys(tags::ORIGINAL_TARGETS, &instance.tags));
        let result = async {
            ec2::delete_tags(&cloud.ec2, instance_id, &keys).await?;
            ec2::create_tags(&cloud.ec2, instance_id, &[(tags::STATUS.to_owned(), "released".to_owned())]).await?;
            Ok(Held::done(format!("{}=released", tags::STATUS)))
        }
        .await;
        run.log.push("tag-instance", instance_id, result);
    }
    run
}

fn port_of(target: &responder_core::record::TargetRecord) -> String {
    target.port.map(|p| format!(":{p}")).unwrap_or_default()
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}
