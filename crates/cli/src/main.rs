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
//! - `responder release --function NAME`: put back a contained Lambda
//!   function's concurrency, event source mappings and URL auth, and lift the
//!   deny on its role sessions.
//!
//! Settings come from the same environment variables as the functions.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use responder_aws::cloud::load_sdk_config;
use responder_core::target::ArtifactKind;
use responder_core::{AccountId, Decision, Function, Settings, decide, parse_event};
use responder_ec2::release::{ReleaseOptions, release};
use responder_iam::credentials::{release_role, release_user};

#[derive(Debug, Parser)]
#[command(name = "responder", version, about = "guardduty-responder operator commands")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

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
    /// The S3 public access block of the account the credentials are in.
    #[arg(long)]
    account_public_access: bool,
    /// An EBS snapshot the responder unshared (malware found in it).
    #[arg(long)]
    snapshot: Option<String>,
    /// An AMI the responder unshared (malware found in it).
    #[arg(long)]
    image: Option<String>,
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
        Command::Release { what, reattach_asg } => {
            let config = load_sdk_config().await;
            if what.account_public_access {
                let cloud = responder_s3::Cloud::new(&config);
                let identity = responder_aws::cloud::own_identity(&cloud).await.map_err(|e| e.to_string())?;
                let run = responder_s3::account::release(&cloud, identity.account.as_str()).await;
                return Ok(print_release(&format!("account {}", identity.account), &run));
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
                        "name an --instance, a --user, a --role, a --bucket, a --function, a --database, a --snapshot or an --image".into()
                    );
                }
            };
            Ok(print_release(&name, &run))
        }
    }
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
