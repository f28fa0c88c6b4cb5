//! `responder`: the operator's command line.
//!
//! - `responder plan --event FILE`: what each function would do with a
//!   finding under the current settings. Pure: no AWS call, nothing changed.
//! - `responder release --instance ID`: put a quarantined instance back to
//!   the state quarantine recorded.
//! - `responder posture`: the CloudTrail heartbeat and monitoring posture as
//!   a table; exit code 1 when a check fails, so it can gate a pipeline.
//! - `responder release --user NAME` / `--role NAME`: reactivate exactly the
//!   keys the responder deactivated, remove its session revocation.
//! - `responder release --bucket NAME`: put back the public access block the
//!   bucket had before the responder turned it on.
//! - `responder release --database ID`: put back an isolated database's
//!   security groups and public accessibility (snapshots are kept).
//! - `responder release --account-public-access`: put back the account's S3
//!   public access block as it was before the responder turned it on.
//! - `responder release --snapshot ID` / `--image ID`: share a snapshot or
//!   an AMI again with whoever it was shared with before the responder took
//!   the shares away.
//! - `responder release --task ARN`: put back what containing an ECS task
//!   changed (its interface's groups, its container instance's status, its
//!   service's desired count); a stopped task stays stopped.
//! - `responder release --function NAME`: put back a contained Lambda
//!   function's concurrency, event source mappings and URL auth, and lift the
//!   deny on its role sessions.
//!
//! - `responder release --finding-id ID [--false-positive]`: release
//!   whatever the responder contained for a finding GuardDuty has (the
//!   Security Hub "Release" custom action names this command); with
//!   `--false-positive`, also send GuardDuty `NOT_USEFUL` feedback, archive
//!   the finding, and mark its Security Hub copy `SUPPRESSED`.
//! - `responder respond --finding-id ID [--dry-run]`: fetch a finding from
//!   GuardDuty and run every function that acts on it, here, with the same
//!   reports (published too); the severity threshold and approval mode do
//!   not apply, every other safety rule does.
//! - `responder suppress --finding ID [--apply]`: print the GuardDuty filter
//!   (action ARCHIVE) that would suppress the finding's type on its resource;
//!   `--apply` creates it.
//!
//! Settings come from the same environment variables as the functions.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use responder_aws::cloud::load_sdk_config;
use responder_core::target::ArtifactKind;
use responder_core::{AccountId, Decision, Function, Outcome, Settings, decide, parse_event};
use responder_ec2::release::{ReleaseOptions, release};
use responder_iam::credentials::{release_role, release_user};

#[derive(Debug, Parser)]
#[command(name = "responder", version, about = "guardduty-responder operator commands")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Show what each function would do with a finding event; changes nothing.
    Plan {
        /// An EventBridge "GuardDuty Finding" event (a file in events/, say).
        #[arg(long)]
        event: PathBuf,
        /// The account the functions run in (default: the finding's own).
        #[arg(long)]
        home_account: Option<String>,
        /// Print the decisions as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Check the CloudTrail heartbeat and the monitoring posture of this
    /// account and region; exits 1 when a check fails (a pipeline gate).
    Posture,
    /// Undo a containment: an instance's quarantine, a user's or a role's.
    Release {
        #[command(flatten)]
        what: ReleaseTarget,
        /// With --instance: also attach it back to its Auto Scaling group.
        #[arg(long)]
        reattach_asg: bool,
        /// With --finding-id: the finding was a false positive; tell
        /// GuardDuty (feedback NOT_USEFUL), archive it, note it in Security Hub.
        #[arg(long, requires = "finding_id")]
        false_positive: bool,
    },
    /// Fetch a finding from GuardDuty and run each function that acts on it,
    /// here and now (break-glass, runbooks); prints the reports as JSON.
    Respond {
        /// The GuardDuty finding id.
        #[arg(long)]
        finding_id: String,
        /// Plan and report; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Propose a GuardDuty filter that archives this kind of finding on this
    /// resource from now on; --apply creates it.
    Suppress {
        /// The GuardDuty finding id.
        #[arg(long)]
        finding: String,
        /// Create the filter (without it, nothing is changed).
        #[arg(long)]
        apply: bool,
    },
}

#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct ReleaseTarget {
    /// A quarantined EC2 instance id.
    #[arg(long)]
    instance: Option<String>,
    /// An IAM user the responder disabled.
    #[arg(long)]
    user: Option<String>,
    /// An IAM role whose sessions the responder revoked.
    #[arg(long)]
    role: Option<String>,
    /// An S3 bucket whose public access the responder blocked.
    #[arg(long)]
    bucket: Option<String>,
    /// A Lambda function the responder contained.
    #[arg(long)]
    function: Option<String>,
    /// An RDS database instance the responder isolated.
    #[arg(long)]
    database: Option<String>,
    /// An ECS task the responder contained (its ARN).
    #[arg(long)]
    task: Option<String>,
    /// The S3 public access block of the account the credentials are in.
    #[arg(long)]
    account_public_access: bool,
    /// An EBS snapshot the responder unshared (malware found in it).
    #[arg(long)]
    snapshot: Option<String>,
    /// An AMI the responder unshared (malware found in it).
    #[arg(long)]
    image: Option<String>,
    /// Whatever the responder contained for this GuardDuty finding.
    #[arg(long)]
    finding_id: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("responder: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Plan { event, home_account, json } => {
            let bytes = std::fs::read(&event).map_err(|e| format!("{}: {e}", event.display()))?;
            let parsed = parse_event(&bytes).map_err(|e| format!("InvalidEvent: {e}"))?;
            let mut settings = Settings::from_env().map_err(|e| e.to_string())?;
            let home = match home_account {
                Some(a) => AccountId::parse(&a)?,
                None => parsed.finding.account_id.clone(),
            };
            settings.policy.home_account = Some(home.clone());
            let f = &parsed.finding;
            let decisions: Vec<(Function, Decision)> =
                Function::ALL.into_iter().map(|function| (function, decide(function, f, &settings.policy))).collect();
            if json {
                let decisions: Vec<serde_json::Value> = decisions
                    .iter()
                    .map(|(function, decision)| match decision {
                        Decision::Act(plan) => serde_json::json!({
                            "function": function.name(), "decision": "act", "plan": plan.describe(),
                        }),
                        Decision::Skip(skip) => serde_json::json!({
                            "function": function.name(), "decision": "skip", "kind": skip.kind(), "reason": skip.to_string(),
                        }),
                    })
                    .collect();
                let out = serde_json::json!({
                    "finding_id": f.id, "finding_type": f.finding_type.to_string(), "severity": f.severity.value(),
                    "account": f.account_id.to_string(), "region": f.region, "dry_run": settings.policy.dry_run,
                    "verify_findings": settings.verify_findings, "decisions": decisions,
                });
                println!("{}", serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?);
                return Ok(ExitCode::SUCCESS);
            }
            println!("finding   {} ({})", f.finding_type, f.id);
            println!("severity  {} {}", f.severity, f.severity.label());
            println!("account   {} {} (functions assumed to run in {home})", f.account_id, f.region);
            println!("dry run   {}", settings.policy.dry_run);
            for (function, decision) in &decisions {
                match decision {
                    Decision::Act(plan) => println!("{:<24} acts:  {}", function.name(), plan.describe()),
                    Decision::Skip(skip) => println!("{:<24} skips: {skip}", function.name()),
                }
            }
            if settings.verify_findings {
                println!(
                    "(each remediation first confirms the finding with GuardDuty; none acts on an event it does not have)"
                );
            }
            println!("(live checks still apply when a function runs: exemption tag, instance state)");
            Ok(ExitCode::SUCCESS)
        }
        Command::Posture => {
            let settings = Settings::from_env().map_err(|e| e.to_string())?;
            let config = load_sdk_config().await;
            let facts =
                responder_cloudtrail::posture::gather(&config, &settings.posture).await.map_err(|e| e.to_string())?;
            let checks = responder_core::posture::evaluate(&facts, &settings.posture);
            println!("monitoring posture of {}", facts.region);
            println!("{:<6} {:<44} result", "", "check");
            for c in &checks {
                println!("{:<6} {:<44} {}", if c.ok { "ok" } else { "FAIL" }, c.id, c.summary);
                if !c.ok {
                    println!("{:<6} {:<44} fix: {}", "", "", c.fix);
                }
            }
            let failed = checks.iter().filter(|c| !c.ok).count();
            println!("posture: {} ok, {} failing", checks.len() - failed, failed);
            Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Respond { finding_id, dry_run } => respond(&finding_id, dry_run).await,
        Command::Suppress { finding, apply } => suppress(&finding, apply).await,
        Command::Release { what: ReleaseTarget { finding_id: Some(id), .. }, reattach_asg, false_positive } => {
            release_finding(&id, reattach_asg, false_positive).await
        }
        Command::Release { what, reattach_asg, .. } => {
            let config = load_sdk_config().await;
            if what.account_public_access {
                let cloud = responder_s3::Cloud::new(&config);
                let identity = responder_aws::cloud::own_identity(&cloud).await.map_err(|e| e.to_string())?;
                let run = responder_s3::account::release(&cloud, identity.account.as_str()).await;
                return Ok(print_release(&format!("account {}", identity.account), &run));
            }
            if let Some(task) = &what.task {
                if !responder_core::target::is_task_arn(task) {
                    return Err(format!("{task:?} is not an ECS task ARN"));
                }
                let cluster = responder_ecs::cluster_of(task).ok_or_else(|| {
                    format!("{task:?} is an ECS task ARN of the old format, which names no cluster: use the new format's ARN (task/CLUSTER/ID)")
                })?;
                let cloud = responder_ecs::Cloud::new(&config);
                return Ok(print_release(task, &responder_ecs::contain::release(&cloud, cluster, task).await));
            }
            for (id, kind) in [(&what.snapshot, ArtifactKind::Snapshot), (&what.image, ArtifactKind::Image)] {
                let Some(id) = id else { continue };
                if !responder_core::target::is_artifact_id(kind, id) {
                    return Err(format!("{id:?} is not an EC2 {} id", kind.name()));
                }
                let cloud = responder_ec2::Cloud::new(&config);
                return Ok(print_release(id, &responder_ec2::artifact::release(&cloud, kind, id).await));
            }
            let (name, run) = match (what.instance, what.user, what.role, what.bucket, what.function, what.database) {
                (Some(instance), ..) => {
                    let id = responder_core::InstanceId::parse(&instance)?;
                    let cloud = responder_ec2::Cloud::new(&config);
                    (instance, release(&cloud, id.as_str(), ReleaseOptions { reattach_asg }).await)
                }
                (_, Some(user), ..) => (user.clone(), release_user(&responder_iam::Cloud::new(&config), &user).await),
                (_, _, Some(role), ..) => {
                    (role.clone(), release_role(&responder_iam::Cloud::new(&config), &role).await)
                }
                (_, _, _, Some(bucket), ..) => {
                    if !responder_core::target::is_bucket_name(&bucket) {
                        return Err(format!("{bucket:?} is not an S3 bucket name"));
                    }
                    let cloud = responder_s3::Cloud::new(&config);
                    (bucket.clone(), responder_s3::bucket::release(&cloud, &bucket).await)
                }
                (_, _, _, _, Some(function), _) => {
                    if !responder_core::target::is_function_name(&function) {
                        return Err(format!("{function:?} is not a Lambda function name"));
                    }
                    let cloud = responder_lambda::Cloud::new(&config);
                    (function.clone(), responder_lambda::contain::release(&cloud, &function).await)
                }
                (.., Some(database)) => {
                    if !responder_core::target::is_db_identifier(&database) {
                        return Err(format!("{database:?} is not an RDS instance identifier"));
                    }
                    let cloud = responder_rds::Cloud::new(&config);
                    (database.clone(), responder_rds::isolate::release(&cloud, &database).await)
                }
                _ => {
                    return Err(
                        "name an --instance, a --user, a --role, a --bucket, a --function, a --database, a --task, a --snapshot, an --image or a --finding-id".into()
                    );
                }
            };
            Ok(print_release(&name, &run))
        }
    }
}

async fn respond(id: &str, dry_run: bool) -> Result<ExitCode, String> {
    let mut settings = Settings::from_env().map_err(|e| e.to_string())?;
    settings.policy.dry_run |= dry_run;
    let config = load_sdk_config().await;
    let responded = responder_cli::respond(&config, &settings, id).await?;
    for line in &responded.decisions {
        eprintln!("{line}");
    }
    println!("{}", serde_json::to_string_pretty(&responded.reports).map_err(|e| e.to_string())?);
    if responded.reports.is_empty() {
        eprintln!("no function acts on finding {id}");
        return Ok(ExitCode::from(1));
    }
    let held = responded.reports.iter().all(|r| matches!(r.outcome, Outcome::Contained | Outcome::DryRun));
    Ok(if held { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

async fn suppress(id: &str, apply: bool) -> Result<ExitCode, String> {
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    let config = load_sdk_config().await;
    let fetched = responder_cli::fetch(&config, &settings, id).await?;
    let suppression = responder_core::suppress::suppression_for(&fetched.event.finding)?;
    // Printed first, so what will be suppressed is on screen before it is.
    println!("{}", serde_json::to_string_pretty(&suppression.to_json()).map_err(|e| e.to_string())?);
    if !apply {
        eprintln!(
            "nothing created: this filter would archive every new finding it matches; run again with --apply to create it"
        );
        return Ok(ExitCode::SUCCESS);
    }
    let name = responder_cli::create_suppression(&fetched, &suppression).await?;
    eprintln!("created GuardDuty filter {name} in {}", fetched.cloud.region);
    Ok(ExitCode::SUCCESS)
}

async fn release_finding(id: &str, reattach_asg: bool, false_positive: bool) -> Result<ExitCode, String> {
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    let config = load_sdk_config().await;
    let released = responder_cli::release_finding(&config, &settings, id, reattach_asg, false_positive).await?;
    let mut code = ExitCode::SUCCESS;
    for note in &released.notes {
        println!("{note}");
    }
    for (name, run) in &released.runs {
        if print_release(name, run) != ExitCode::SUCCESS {
            code = ExitCode::from(1);
        }
    }
    if released.runs.is_empty() {
        code = ExitCode::from(1);
    }
    Ok(code)
}

/// Prints what a release did; exit 0 only when everything was put back.
fn print_release(name: &str, run: &responder_aws::steps::Execution) -> ExitCode {
    if let Some(reason) = &run.skipped {
        println!("nothing released: {reason}");
        return ExitCode::from(1);
    }
    for step in &run.log.records {
        println!("[{:<12}] {:<30} {:<24} {}", step.status, step.action, step.target, step.detail);
    }
    for note in &run.notes {
        println!("note: {note}");
    }
    if run.log.all_held() {
        println!("released {name}");
        ExitCode::SUCCESS
    } else {
        println!("release of {name} is incomplete: run it again, or finish by hand");
        ExitCode::from(1)
    }
}
