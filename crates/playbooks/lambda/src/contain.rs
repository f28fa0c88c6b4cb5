//! The Lambda playbook: stop a function from running and keep what it was.
//!
//! 1. **Read** the function (role, tags), its reserved concurrency, its
//!    event source mappings and its URL's auth type. Exempt by tag: nothing
//!    is changed.
//! 2. **Record** on the function, in tags, what it had: reserved
//!    concurrency (`none` or a number), the mappings the responder turns
//!    off, a URL that allowed anyone. A record is never overwritten; a
//!    mapping found enabled on a repeat delivery is added to it. What cannot
//!    be recorded is not changed.
//! 3. **At once**: publish a version (the code and configuration as
//!    evidence, its number recorded on the function), reserved concurrency
//!    0 (no new invocation starts), every enabled mapping off, a public URL
//!    behind IAM auth.
//! 4. **The execution role**: deny the sessions of this function only (the
//!    role session name is the function name), issued before now, so other
//!    functions sharing the role keep working, and credentials taken from
//!    the function's environment stop working.
//!
//! IAM actions: lambda:GetFunction, GetFunctionConcurrency,
//! ListEventSourceMappings, GetFunctionUrlConfig, TagResource,
//! PublishVersion, PutFunctionConcurrency, UpdateEventSourceMapping,
//! UpdateFunctionUrlConfig; iam:GetRole, GetRolePolicy, TagRole,
//! PutRolePolicy.

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::{DateTime, Utc};
use responder_core::record::{chunk_keys, chunk_tag, join_tag};
use responder_core::{Policy, StepStatus, tags};

use crate::Cloud;
use crate::failure::AwsFailure;
use crate::functions::{self, FunctionView, Mapping, role_name};
use crate::steps::{Execution, Held, NOT_CONFIRMED, Timed, timed};
use crate::verify::Gate;

/// On a function: its reserved concurrency before containment (`none` or a number).
pub const ORIGINAL_CONCURRENCY: &str = "guardduty-responder:original-concurrency";
/// On a function: the event source mappings the responder turned off
/// (space-separated UUIDs, chunked like the ENI records).
pub const DISABLED_MAPPINGS: &str = "guardduty-responder:disabled-mappings";
/// On a function: its URL's auth type before containment, when it was `NONE`.
pub const ORIGINAL_URL_AUTH: &str = "guardduty-responder:original-url-auth";
/// On a function: the version published as evidence.
pub const EVIDENCE_VERSION: &str = "guardduty-responder:evidence-version";

/// What a containment run is asked to do.
#[derive(Debug, Clone)]
pub struct FunctionJob<'a> {
    pub finding_id: &'a str,
    pub function_name: &'a str,
    pub policy: &'a Policy,
    pub now: DateTime<Utc>,
    pub deadline: Option<Instant>,
    /// Opens when GuardDuty has confirmed the finding; no change before.
    pub gate: Gate,
}

/// Everything the first read learns.
#[derive(Debug)]
struct Live {
    function: FunctionView,
    concurrency: Option<i32>,
    mappings: Vec<Mapping>,
    url_auth: Option<String>,
}

async fn read(cloud: &Cloud, name: &str) -> Result<Live, AwsFailure> {
    let l = &cloud.lambda;
    let (function, concurrency, mappings, url_auth) = futures::join!(
        functions::function(l, name),
        functions::reserved_concurrency(l, name),
        functions::mappings(l, name),
        functions::url_auth(l, name),
    );
    let Some(function) = function? else {
        return Err(AwsFailure {
            kind: crate::failure::FailureKind::NotFound,
            code: Some("ResourceNotFoundException".into()),
            message: format!("function {name} not found"),
        });
    };
    Ok(Live { function, concurrency: concurrency?, mappings: mappings?, url_auth: url_auth? })
}

fn recorded_mappings(tags_now: &std::collections::BTreeMap<String, String>) -> BTreeSet<String> {
    join_tag(DISABLED_MAPPINGS, tags_now).unwrap_or_default().split_whitespace().map(str::to_owned).collect()
}

pub async fn contain(cloud: &Cloud, job: &FunctionJob<'_>) -> Execution {
    let mut run = Execution::default();
    let (l, name) = (&cloud.lambda, job.function_name);
    let started = Instant::now();
    let live = read(cloud, name).await;
    let took = Some(started.elapsed());
    let live = match live {
        Ok(live) => live,
        Err(f) => {
            run.log.push("describe-function", name, Timed { result: Err(f), took });
            return run;
        }
    };
    let tags_now = &live.function.tags;
    if job.policy.is_exempt(tags_now.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        run.skipped = Some(format!("function {name} carries the exemption tag {}=true", job.policy.exempt_tag));
        return run;
    }
    let enabled: Vec<&Mapping> = live.mappings.iter().filter(|m| m.enabled).collect();
    let concurrency_text = live.concurrency.map_or_else(|| "none".to_owned(), |n| n.to_string());
    let described = format!(
        "reserved concurrency {concurrency_text}, {} of {} event source mapping(s) enabled, URL auth {}",
        enabled.len(),
        live.mappings.len(),
        live.url_auth.as_deref().unwrap_or("(no URL)")
    );
    run.log.push("describe-function", name, Timed { result: Ok(Held::done(described)), took });
    run.keep(
        "function",
        serde_json::json!({
            "function": live.function,
            "reserved_concurrency": live.concurrency,
            "event_source_mappings": live.mappings,
            "url_auth": live.url_auth,
        }),
    );

    // What the record must gain.
    let mut record: Vec<(String, String)> = Vec::new();
    if !tags_now.contains_key(ORIGINAL_CONCURRENCY) {
        record.push((ORIGINAL_CONCURRENCY.to_owned(), concurrency_text.clone()));
    }
    let before = recorded_mappings(tags_now);
    let mut all = before.clone();
    all.extend(enabled.iter().map(|m| m.uuid.clone()));
    if all != before {
        let listed: Vec<&str> = all.iter().map(String::as_str).collect();
        record.extend(chunk_tag(DISABLED_MAPPINGS, &listed.join(" ")));
    }
    let open_url = live.url_auth.as_deref() == Some("NONE");
    if open_url && !tags_now.contains_key(ORIGINAL_URL_AUTH) {
        record.push((ORIGINAL_URL_AUTH.to_owned(), "NONE".to_owned()));
    }
    let role = role_name(&live.function.role).map(str::to_owned);
    let session_target = format!("{}:{name}", role.as_deref().unwrap_or("?"));

    let mut changes: Vec<(&str, String, String)> = vec![
        ("record-function-state", name.to_owned(), "tag what the function had".into()),
        ("publish-evidence-version", name.to_owned(), "publish the code and configuration as a version".into()),
        ("stop-invocations", name.to_owned(), "reserved concurrency 0".into()),
    ];
    for m in &enabled {
        changes.push(("disable-event-source-mapping", m.uuid.clone(), "turn the mapping off".into()));
    }
    if open_url {
        changes.push(("require-url-auth", name.to_owned(), "function URL auth AWS_IAM".into()));
    }
    if job.policy.dry_run {
        for (action, target, detail) in &changes {
            run.log.push_status(action, target, StepStatus::Planned, detail.clone());
        }
        run.log.push_status(
            "deny-function-sessions",
            &session_target,
            StepStatus::Planned,
            "deny this function's role sessions issued before now",
        );
        return run;
    }
    if job.gate.clone().await.is_err() {
        for (action, target, _) in &changes {
            run.log.push_status(action, target, StepStatus::Skipped, NOT_CONFIRMED);
        }
        return run;
    }

    // Record first.
    let recorded = if record.is_empty() {
        Ok(Held::already("recorded by an earlier run")).into()
    } else {
        record.push((tags::FINDING_ID.to_owned(), job.finding_id.to_owned()));
        timed(async { functions::tag(l, &live.function.arn, &record).await.map(|()| Held::done("recorded")) }).await
    };
    let ok = recorded.is_ok();
    run.log.push("record-function-state", name, recorded);
    if !ok {
        for (action, target, _) in &changes[1..] {
            run.log.push_status(action, target, StepStatus::Skipped, "not run: the record was not written");
        }
        return run;
    }

    // Then everything at once.
    let description = format!("guardduty-responder evidence for finding {}", job.finding_id);
    let evidence = timed(async {
        let version = functions::publish_version(l, name, &description).await?;
        if tags_now.get(EVIDENCE_VERSION) != Some(&version) {
            functions::tag(l, &live.function.arn, &[(EVIDENCE_VERSION.to_owned(), version.clone())]).await?;
        }
        Ok(Held::done(format!("version {version}")))
    });
    let stop = timed(async {
        if live.concurrency == Some(0) {
            return Ok(Held::already("reserved concurrency 0"));
        }
        functions::set_reserved_concurrency(l, name, Some(0)).await.map(|()| Held::done("reserved concurrency 0"))
    });
    let mappings = futures::future::join_all(enabled.iter().map(|m| async move {
        let r =
            timed(async { functions::set_mapping_enabled(l, &m.uuid, false).await.map(|()| Held::done("disabled")) })
                .await;
        (m.uuid.clone(), r)
    }));
    let url = async {
        if !open_url {
            return None;
        }
        Some(
            timed(async { functions::set_url_auth(l, name, "AWS_IAM").await.map(|()| Held::done("auth AWS_IAM")) })
                .await,
        )
    };
    let (evidence, stop, mappings, url) = futures::join!(evidence, stop, mappings, url);
    run.log.push("publish-evidence-version", name, evidence);
    run.log.push("stop-invocations", name, stop);
    for (uuid, result) in mappings {
        run.log.push("disable-event-source-mapping", &uuid, result);
    }
    if let Some(url) = url {
        run.log.push("require-url-auth", name, url);
    }

    // The role's sessions of this function only.
    match role {
        Some(role) => {
            let credential_job = responder_iam::credentials::CredentialJob {
                finding_id: job.finding_id,
                policy: job.policy,
                now: job.now,
                deadline: job.deadline,
                gate: job.gate.clone(),
            };
            let denied = responder_iam::credentials::deny_stolen_session(
                &cloud.with_clients(responder_iam::IamClients { iam: cloud.iam.clone() }),
                &credential_job,
                &role,
                name,
            )
            .await;
            if let Some(reason) = denied.skipped {
                run.notes.push(format!("the execution role {role} was left as it is: {reason}"));
            }
            run.log.records.extend(denied.log.records);
            run.log.transient |= denied.log.transient;
        }
        None => run.log.push(
            "deny-function-sessions",
            &session_target,
            Err(AwsFailure::rejected(format!("the function's role {:?} is not a role ARN", live.function.role))),
        ),
    }
    run
}

/// Puts back what contain recorded: reserved concurrency, the mappings it
/// turned off, the URL's auth; lifts the deny on this function's sessions;
/// then removes the records (the evidence version stays). A function
/// without a record is left alone.
pub async fn release(cloud: &Cloud, name: &str) -> Execution {
    let mut run = Execution::default();
    let l = &cloud.lambda;
    let live = match read(cloud, name).await {
        Ok(live) => live,
        Err(f) => {
            run.log.push("describe-function", name, Err(f));
            return run;
        }
    };
    let tags_now = &live.function.tags;
    let Some(concurrency) = tags_now.get(ORIGINAL_CONCURRENCY).cloned() else {
        run.skipped = Some(format!("function {name} has no record of the responder's: nothing to release"));
        return run;
    };
    run.log.push("describe-function", name, Ok(Held::done(live.function.arn.clone())));
    let original = match concurrency.as_str() {
        "none" => Ok(None),
        n => n
            .parse::<i32>()
            .map(Some)
            .map_err(|_| AwsFailure::rejected(format!("recorded concurrency {n:?} is not a number"))),
    };
    let restored = match original {
        Ok(o) if o == live.concurrency => Ok(Held::already(format!("reserved concurrency {concurrency}"))),
        Ok(o) => functions::set_reserved_concurrency(l, name, o)
            .await
            .map(|()| Held::done(format!("reserved concurrency {concurrency}"))),
        Err(f) => Err(f),
    };
    run.log.push("restore-concurrency", name, restored);
    for uuid in recorded_mappings(tags_now) {
        let result = match live.mappings.iter().find(|m| m.uuid == uuid) {
            None => Ok(Held::already("the mapping no longer exists")),
            Some(m) if m.enabled => Ok(Held::already("enabled")),
            Some(_) => functions::set_mapping_enabled(l, &uuid, true).await.map(|()| Held::done("enabled")),
        };
        run.log.push("enable-event-source-mapping", &uuid, result);
    }
    if let Some(auth) = tags_now.get(ORIGINAL_URL_AUTH) {
        let result = match live.url_auth.as_deref() {
            None => Ok(Held::already("the function has no URL any more")),
            Some(now) if now == auth => Ok(Held::already(format!("auth {auth}"))),
            Some(_) => functions::set_url_auth(l, name, auth).await.map(|()| Held::done(format!("auth {auth}"))),
        };
        run.log.push("restore-url-auth", name, result);
    }
    if let Some(role) = role_name(&live.function.role) {
        let lifted = responder_iam::credentials::release_stolen_session(
            &cloud.with_clients(responder_iam::IamClients { iam: cloud.iam.clone() }),
            role,
            name,
        )
        .await;
        run.log.records.extend(lifted.log.records);
    }
    if run.log.all_held() {
        let mut keys = vec![ORIGINAL_CONCURRENCY.to_owned(), ORIGINAL_URL_AUTH.to_owned(), tags::FINDING_ID.to_owned()];
        keys.extend(chunk_keys(DISABLED_MAPPINGS, tags_now));
        keys.retain(|k| tags_now.contains_key(k));
        let untag = functions::untag(l, &live.function.arn, &keys).await.map(|()| Held::done("records removed"));
        run.log.push("untag-function", name, untag);
    }
    run
}
