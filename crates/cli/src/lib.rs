//! What the operator CLI shares with the tests: each function's responder
//! built around the playbook its binary serves, a finding fetched from
//! GuardDuty as the event the functions handle, and releases by plan.

use aws_config::SdkConfig;
use responder_aws::cloud::{Cloud, Identity, own_identity};
use responder_aws::responder::InitError;
use responder_aws::steps::Execution;
use responder_aws::verify::{Detectors, fetch_finding};
use responder_aws::{Handle, Playbook, Responder};
use responder_core::event::FindingEvent;
use responder_core::{Decision, Function, Plan, Policy, Report, Settings, Skip, decide};

/// `function`'s responder, around the playbook its binary serves.
pub async fn responder_for(
    function: Function,
    settings: &Settings,
    config: &SdkConfig,
) -> Result<Box<dyn Handle>, InitError> {
    async fn one<P: Playbook>(p: P, settings: &Settings, config: &SdkConfig) -> Result<Box<dyn Handle>, InitError> {
        Ok(Box::new(Responder::new(p, settings.clone(), config.clone()).await?))
    }
    match function {
        Function::QuarantineInstance => one(responder_ec2::QuarantineInstance, settings, config).await,
        Function::RevokeRoleSessions => one(responder_iam::RevokeRoleSessions, settings, config).await,
        Function::DisableIamUser => one(responder_iam::DisableIamUser, settings, config).await,
        Function::RestoreCloudtrail => one(responder_cloudtrail::RestoreCloudtrail, settings, config).await,
        Function::NotifyFinding => one(responder_cloudtrail::NotifyFinding, settings, config).await,
        Function::ProtectS3Bucket => one(responder_s3::ProtectS3Bucket, settings, config).await,
        Function::ContainLambdaFunction => one(responder_lambda::ContainLambdaFunction, settings, config).await,
        Function::IsolateDatabase => one(responder_rds::IsolateDatabase, settings, config).await,
        Function::ContainEcsTask => one(responder_ecs::ContainEcsTask, settings, config).await,
        Function::ContainEksWorkload => one(responder_eks::ContainEksWorkload, settings, config).await,
    }
}

/// A finding GuardDuty has, fetched by id in the configuration's region.
#[derive(Debug)]
pub struct Fetched {
    /// The "GuardDuty Finding" event it would have arrived as.
    pub payload: Vec<u8>,
    pub event: FindingEvent,
    /// Who is asking (the credentials in the environment).
    pub identity: Identity,
    pub cloud: Cloud,
    pub detectors: Detectors,
}

/// Fetches finding `id` from GuardDuty (this account's detector in the
/// configured region: the administrator's holds its members' findings).
pub async fn fetch(config: &SdkConfig, settings: &Settings, id: &str) -> Result<Fetched, String> {
    if !responder_core::request::is_finding_id(id) {
        return Err(format!("{id:?} is not a GuardDuty finding id"));
    }
    let cloud: Cloud = Cloud::new(config);
    let identity = own_identity(&cloud).await.map_err(|e| format!("cannot learn who is asking: {e}"))?;
    let region = cloud.region.clone();
    let detectors = Detectors::new(settings.guardduty_detector_id.clone());
    let found = fetch_finding(&cloud.guardduty, &detectors, &region, id)
        .await
        .map_err(|e| format!("GuardDuty could not be asked for finding {id}: {e}"))?
        .ok_or_else(|| format!("GuardDuty has no finding {id} in {region} (account {})", identity.account))?;
    let now = responder_aws::responder::now_rfc3339();
    let (payload, event) =
        responder_core::request::fetched_event(&found, identity.account.as_str(), &now).map_err(|e| e.to_string())?;
    Ok(Fetched { payload, event, identity, cloud, detectors })
}

/// Undoes what the responder did for one plan, as `responder release` does
/// for the resource it names; `None` when the plan changes nothing a release
/// puts back (a trail restarted, a malicious object copied, an alert).
pub async fn release_plan(config: &SdkConfig, plan: &Plan, reattach_asg: bool) -> Vec<(String, Execution)> {
    let mut done = Vec::new();
    match plan {
        Plan::Quarantine { instance_id, .. } => {
            let cloud = responder_ec2::Cloud::new(config);
            let options = responder_ec2::release::ReleaseOptions { reattach_asg };
            let run = Box::pin(responder_ec2::release::release(&cloud, instance_id.as_str(), options)).await;
            done.push((instance_id.to_string(), run));
        }
        Plan::UnshareArtifact { kind, id, .. } => {
            let cloud = responder_ec2::Cloud::new(config);
            done.push((id.clone(), Box::pin(responder_ec2::artifact::release(&cloud, *kind, id)).await));
        }
        Plan::DisableIamUser { user_name, .. } => {
            let cloud = responder_iam::Cloud::new(config);
            done.push((user_name.clone(), Box::pin(responder_iam::credentials::release_user(&cloud, user_name)).await));
        }
        Plan::RevokeRoleSessions { role_name, .. } => {
            let cloud = responder_iam::Cloud::new(config);
            done.push((role_name.clone(), Box::pin(responder_iam::credentials::release_role(&cloud, role_name)).await));
        }
        Plan::ProtectBucket { bucket, .. } => {
            let cloud = responder_s3::Cloud::new(config);
            done.push((bucket.clone(), Box::pin(responder_s3::bucket::release(&cloud, bucket)).await));
        }
        Plan::ProtectAccount { scope } => {
            let cloud = responder_s3::Cloud::new(config);
            let run = Box::pin(responder_s3::account::release(&cloud, scope.account.as_str())).await;
            done.push((format!("account {}", scope.account), run));
        }
        Plan::ContainFunction { function_name, .. } => {
            let cloud = responder_lambda::Cloud::new(config);
            done.push((
                function_name.clone(),
                Box::pin(responder_lambda::contain::release(&cloud, function_name)).await,
            ));
        }
        Plan::IsolateDatabase { instance_id, .. } => {
            let cloud = responder_rds::Cloud::new(config);
            done.push((instance_id.clone(), Box::pin(responder_rds::isolate::release(&cloud, instance_id)).await));
        }
        Plan::ContainTask { cluster, task_arn, .. } => {
            let cloud = responder_ecs::Cloud::new(config);
            done.push((task_arn.clone(), Box::pin(responder_ecs::contain::release(&cloud, cluster, task_arn)).await));
        }
        Plan::ContainWorkload(w) => {
            let cloud = responder_eks::Cloud::new(config);
            done.extend(Box::pin(responder_eks::release_plan(&cloud, w)).await);
            if let Some(principal) = &w.principal {
                done.extend(Box::pin(release_plan(config, principal, reattach_asg)).await);
            }
        }
        Plan::Sequence { parts, .. } => {
            for part in parts {
                done.extend(Box::pin(release_plan(config, part, reattach_asg)).await);
            }
        }
        Plan::RestoreTrail { .. } | Plan::Alert { .. } | Plan::QuarantineObject { .. } => {}
    }
    done
}

/// Who asks, for reports and notes: the credentials' ARN and the command.
fn asked_by(fetched: &Fetched, command: &str) -> String {
    format!("{} (responder {command})", fetched.identity.arn)
}

/// The policy a person's request is decided under (`Policy::for_person`),
/// in the credentials' account.
fn requested_policy(settings: &Settings, fetched: &Fetched) -> Policy {
    Policy { home_account: Some(fetched.identity.account.clone()), ..settings.policy.for_person() }
}

/// What `responder respond` did: each function's decision, and the report
/// of each that acted.
#[derive(Debug)]
pub struct Responded {
    pub decisions: Vec<String>,
    pub reports: Vec<Report>,
}

/// Fetches finding `id` and runs each remediation function that acts on it,
/// as a person's request.
pub async fn respond(config: &SdkConfig, settings: &Settings, id: &str) -> Result<Responded, String> {
    // Boxed: the responders' futures are large, and callers' stacks small.
    Box::pin(async move {
        let fetched = Box::pin(fetch(config, settings, id)).await?;
        let finding = &fetched.event.finding;
        let policy = requested_policy(settings, &fetched);
        let by = asked_by(&fetched, "respond");
        let mut responded = Responded { decisions: Vec::new(), reports: Vec::new() };
        for function in Function::ALL.into_iter().filter(|f| f.remediates()) {
            match decide(function, finding, &policy) {
                Decision::Skip(Skip::NotForThisFunction(_)) => {}
                Decision::Skip(skip) => responded.decisions.push(format!("{:<24} skips: {skip}", function.name())),
                Decision::Act(plan) => {
                    responded.decisions.push(format!("{:<24} acts:  {}", function.name(), plan.describe()));
                    let handler =
                        Box::pin(responder_for(function, settings, config)).await.map_err(|e| e.to_string())?;
                    let report = match handler.handle_requested(&fetched.payload, &by, None).await {
                        Ok(report) => report,
                        Err(e) => match e.report {
                            Some(report) => *report,
                            None => return Err(format!("{}: {}", e.error_type, e.message)),
                        },
                    };
                    responded.reports.push(report);
                }
            }
        }
        Ok(responded)
    })
    .await
}

/// What `responder release --finding-id` did.
#[derive(Debug, Default)]
pub struct Released {
    /// Each release (resource, steps), then the false-positive marking.
    pub runs: Vec<(String, Execution)>,
    pub notes: Vec<String>,
}

/// Releases what the responder contained for finding `id` (in the
/// credentials' own account), and with `false_positive` tells GuardDuty and
/// Security Hub.
pub async fn release_finding(
    config: &SdkConfig,
    settings: &Settings,
    id: &str,
    reattach_asg: bool,
    false_positive: bool,
) -> Result<Released, String> {
    // Boxed: the responders' futures are large, and callers' stacks small.
    Box::pin(async move {
        let fetched = Box::pin(fetch(config, settings, id)).await?;
        let finding = &fetched.event.finding;
        let mut released = Released::default();
        if finding.account_id == fetched.identity.account {
            let policy = Policy { act_on_archived: true, ..requested_policy(settings, &fetched) };
            for function in Function::ALL {
                let Decision::Act(plan) = decide(function, finding, &policy) else { continue };
                released.runs.extend(Box::pin(release_plan(config, &plan, reattach_asg)).await);
            }
            if released.runs.is_empty() {
                released.notes.push(format!(
                    "nothing to release for finding {id} ({}): no function contains what it names",
                    finding.finding_type
                ));
            }
        } else {
            released.notes.push(format!(
                "finding {id} is about account {}; these credentials are in {}: release its resources with the release role there",
                finding.account_id, fetched.identity.account
            ));
        }
        if false_positive {
            let by = asked_by(&fetched, "release --false-positive");
            let run = Box::pin(responder_aws::feedback::false_positive(&fetched.cloud, &fetched.detectors, finding, &by)).await;
            released.runs.push((format!("finding {id} (false positive)"), run));
        }
        Ok(released)
    })
    .await
}

/// `responder suppress`: the filter that would archive finding `id`'s kind
/// on its resource, and with `apply` its name once created.
pub async fn suppress(
    config: &SdkConfig,
    settings: &Settings,
    id: &str,
    apply: bool,
) -> Result<(responder_core::suppress::Suppression, Option<String>), String> {
    // Boxed: the responders' futures are large, and callers' stacks small.
    Box::pin(async move {
        let fetched = Box::pin(fetch(config, settings, id)).await?;
        let suppression = responder_core::suppress::suppression_for(&fetched.event.finding)?;
        if !apply {
            return Ok((suppression, None));
        }
        let name = create_suppression(&fetched, &suppression).await?;
        Ok((suppression, Some(name)))
    })
    .await
}

/// Creates `suppression` on the detector that holds the fetched finding.
pub async fn create_suppression(
    fetched: &Fetched,
    suppression: &responder_core::suppress::Suppression,
) -> Result<String, String> {
    let region = &fetched.cloud.region;
    responder_aws::feedback::create_filter(&fetched.cloud, &fetched.detectors, region, suppression)
        .await
        .map_err(|e| format!("the filter was not created: {e}"))
}
