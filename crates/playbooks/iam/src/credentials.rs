//! The credential playbooks: revoke an assumed role's sessions, disable an
//! IAM user, and release either.
//!
//! **revoke-role-sessions** handles `AccessKey` findings with `userType:
//! AssumedRole`. Wave 1 reads the role (path, ARN, tags: one `GetRole`) and
//! any existing revocation policy; wave 2 puts `AWSRevokeOlderSessions`
//! (deny everything to tokens issued before *now*, never moving an existing
//! cutoff back) and tags the role. IAM actions: iam:GetRole, GetRolePolicy,
//! PutRolePolicy, TagRole.
//!
//! **disable-iam-user** handles `AccessKey` findings with `userType:
//! IAMUser`. Wave 1 reads the user (ARN, path, tags: one `GetUser`), its
//! access keys and any existing revocation policy; wave 2 tags the user with
//! the finding, the time and the keys it is about to deactivate, so release
//! can reactivate exactly those; wave 3, concurrently, deactivates the
//! finding's key and (setting `all-keys`) every other active key, deletes
//! the console login profile (its answer says whether there was one, which
//! is then said on the user), and puts the same deny on the user (which also
//! kills session tokens it minted). The user's policies and groups are read
//! for the evidence once it is contained. Keys are deactivated, never
//! deleted: they are evidence and the way back. IAM actions: iam:GetUser,
//! ListAccessKeys, GetUserPolicy, UpdateAccessKey, DeleteLoginProfile,
//! PutUserPolicy, TagUser, ListAttachedUserPolicies, ListUserPolicies,
//! ListGroupsForUser.
//!
//! Both re-check live what the finding only hints at: service-linked and
//! Identity Center roles (by path), protected principals (by live ARN,
//! which includes the path), the exemption tag. Both are idempotent: an
//! inactive key, a missing login profile and an existing policy are
//! `already_done`; a repeat delivery rewrites nothing it does not have to.

use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use futures::future::join_all;
use responder_core::record::{chunk_keys, chunk_tag, join_tag};
use responder_core::revocation::{
    POLICY_NAME, STOLEN_SESSIONS_POLICY, cutoff_of, next_cutoff, policy_document, stolen_sessions_document,
    stolen_sessions_of,
};
use responder_core::settings::KeyScope;
use responder_core::{Policy, StepStatus, tags};

use crate::Cloud;
use crate::failure::{AwsFailure, FailureKind};
use crate::iam::{self, Principal};
use crate::steps::{DEADLINE, Held, StepResult, Timed, timed};
use crate::steps::{Execution, NOT_CONFIRMED};

/// What a credential playbook is asked to do.
#[derive(Debug, Clone)]
pub struct CredentialJob<'a> {
    pub finding_id: &'a str,
    pub policy: &'a Policy,
    pub now: DateTime<Utc>,
    /// The invocation's deadline: no wave starts with less than
    /// [`WAVE_BUDGET`] left.
    pub deadline: Option<Instant>,
    /// Opens when GuardDuty has confirmed the finding; no change before.
    pub gate: crate::verify::Gate,
}

impl CredentialJob<'_> {
    fn deadline_near(&self) -> bool {
        self.deadline.is_some_and(|d| d.saturating_duration_since(Instant::now()) < WAVE_BUDGET)
    }
}

/// The time a wave of calls may need (retries included).
const WAVE_BUDGET: Duration = Duration::from_secs(3);

/// Marks every step in `steps` as not run, with why.
fn not_run(run: &mut Execution, steps: &[(&str, &str)], held: &Held) {
    for (action, target) in steps {
        run.log.push(action, target, Ok(held.clone()));
    }
}

/// The record tag for a revocation policy that was there before the
/// responder first acted: its cutoff, so release can put it back.
fn previous_revocation(
    tags_now: &std::collections::BTreeMap<String, String>,
    previous: Option<DateTime<Utc>>,
) -> Option<(String, String)> {
    if tags_now.contains_key(tags::REVOKED_AT) {
        // Not the first run: whatever was there first is recorded already (or was nothing).
        return None;
    }
    previous.map(|p| (tags::PREVIOUS_REVOCATION.to_owned(), stamp(p)))
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Why a principal that the finding allowed must still be left alone, from
/// what IAM says of it now.
fn live_refusal(p: &Principal, policy: &Policy) -> Option<String> {
    if p.path.starts_with("/aws-service-role/") {
        return Some(format!("{} is a service-linked role: never modified", p.name));
    }
    if p.path.starts_with("/aws-reserved/sso.amazonaws.com/") {
        return Some(format!("{} is an IAM Identity Center role: revoke the session in IAM Identity Center", p.name));
    }
    if let Some(pattern) = policy.protects(&[&p.name, &p.arn]) {
        return Some(format!("{} is protected (matches PROTECTED_PRINCIPALS entry {pattern})", p.arn));
    }
    if policy.is_exempt(p.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        return Some(format!("{} carries the exemption tag {}=true", p.arn, policy.exempt_tag));
    }
    None
}

fn missing(kind: &str, name: &str) -> AwsFailure {
    AwsFailure {
        kind: FailureKind::NotFound,
        code: Some("NoSuchEntity".into()),
        message: format!("{kind} {name} does not exist"),
    }
}

/// A read that must find its principal: `None` becomes a not-found failure.
fn found<T>(kind: &str, name: &str, result: Result<Option<T>, AwsFailure>) -> Result<T, AwsFailure> {
    result?.ok_or_else(|| missing(kind, name))
}

/// Puts `AWSRevokeOlderSessions` on a role.
/// The first wave of a role playbook: the role (live path and tags) and its
/// inline policy `policy`, read at once, and the refusal of a role the policy
/// protects. `Err` is the finished run when it cannot go on.
async fn describe_role(
    cloud: &Cloud,
    job: &CredentialJob<'_>,
    role_name: &str,
    policy: &str,
) -> Result<(Execution, Principal, Option<String>), Execution> {
    let mut run = Execution::default();
    let iam_c = &cloud.iam;
    let started = Instant::now();
    let (role, existing, evidence) = futures::join!(
        iam::role(iam_c, role_name),
        iam::role_policy(iam_c, role_name, policy),
        iam::role_evidence(iam_c, role_name)
    );
    let took = Some(started.elapsed());
    let (role, existing) = match found("role", role_name, role).and_then(|r| Ok((r, existing?))) {
        Ok(both) => both,
        Err(f) => {
            run.log.push("describe-role", role_name, Timed { result: Err(f), took });
            return Err(run);
        }
    };
    if let Some(reason) = live_refusal(&role, job.policy) {
        run.skipped = Some(reason);
        return Err(run);
    }
    run.log.push("describe-role", role_name, Timed { result: Ok(Held::done(role.arn.clone())), took });
    let evidence = evidence.map(|mut e| {
        e["trust_policy"] = serde_json::json!(role.trust_policy);
        e
    });
    keep_evidence(&mut run, "role", role_name, evidence);
    Ok((run, role, existing))
}

/// Keeps what the principal had for the evidence record, as a read step:
/// a part that cannot be read is reported, and keeps the run from
/// `contained`.
fn keep_evidence(run: &mut Execution, kind: &str, name: &str, evidence: Result<serde_json::Value, AwsFailure>) {
    let result = evidence.map(|value| {
        run.keep(kind, value);
        Held::done("policies, groups and keys kept for the evidence record")
    });
    run.log.push("describe-evidence", name, result);
}

pub async fn revoke_role_sessions(cloud: &Cloud, job: &CredentialJob<'_>, role_name: &str) -> Execution {
    let iam_c = &cloud.iam;
    let (mut run, role, existing) = match describe_role(cloud, job, role_name, POLICY_NAME).await {
        Ok(described) => described,
        Err(run) => return run,
    };

    let previous = existing.as_deref().and_then(cutoff_of);
    let cutoff = next_cutoff(job.now, previous);
    if job.policy.dry_run {
        run.log.push_status("record-role-state", role_name, StepStatus::Planned, "tag finding id and cutoff");
        run.log.push_status(
            "revoke-older-sessions",
            role_name,
            StepStatus::Planned,
            format!("deny tokens issued before {}", stamp(cutoff)),
        );
        return run;
    }
    if job.deadline_near() {
        not_run(
            &mut run,
            &[("record-role-state", role_name), ("revoke-older-sessions", role_name)],
            &Held::planned(DEADLINE),
        );
        return run;
    }
    if job.gate.clone().await.is_err() {
        not_run(
            &mut run,
            &[("record-role-state", role_name), ("revoke-older-sessions", role_name)],
            &Held::skipped(NOT_CONFIRMED),
        );
        return run;
    }
    // Record first: release removes only a revocation the records say is
    // the responder's, and puts back one that was there before.
    let mut pairs =
        vec![(tags::FINDING_ID.to_owned(), job.finding_id.to_owned()), (tags::REVOKED_AT.to_owned(), stamp(cutoff))];
    pairs.extend(previous_revocation(&role.tags, previous));
    let recorded = timed(async {
        iam::tag_role(iam_c, role_name, &pairs).await.map(|()| Held::done("recorded finding id and cutoff"))
    })
    .await;
    let ok = recorded.is_ok();
    run.log.push("record-role-state", role_name, recorded);
    if !ok {
        not_run(
            &mut run,
            &[("revoke-older-sessions", role_name)],
            &Held::skipped("not run: the role's state could not be recorded"),
        );
        return run;
    }
    if job.deadline_near() {
        not_run(&mut run, &[("revoke-older-sessions", role_name)], &Held::planned(DEADLINE));
        return run;
    }
    let put = timed(async {
        iam::put_role_policy(iam_c, role_name, POLICY_NAME, &policy_document(cutoff)).await?;
        let moved = previous.map(|p| format!(" (was {})", stamp(p))).unwrap_or_default();
        Ok(Held::done(format!("{POLICY_NAME}: deny tokens issued before {}{moved}", stamp(cutoff))))
    })
    .await;
    run.log.push("revoke-older-sessions", role_name, put);
    run
}

/// Denies one stolen session of a role: the session named after the
/// instance whose credentials were exfiltrated, issued before now. The
/// role's other sessions (its other instances) keep working. The denied
/// sessions are kept in one inline policy of the responder's
/// ([`STOLEN_SESSIONS_POLICY`]), one statement each, recorded on the role
/// first so release removes exactly it.
pub async fn deny_stolen_session(cloud: &Cloud, job: &CredentialJob<'_>, role_name: &str, session: &str) -> Execution {
    let iam_c = &cloud.iam;
    let (mut run, role, existing) = match describe_role(cloud, job, role_name, STOLEN_SESSIONS_POLICY).await {
        Ok(described) => described,
        Err(run) => return run,
    };

    let mut sessions = existing.as_deref().map(stolen_sessions_of).unwrap_or_default();
    // A session denied already keeps its cutoff: a repeat changes nothing.
    let previous = sessions.get(session).copied();
    let cutoff = previous.unwrap_or(job.now);
    sessions.insert(session.to_owned(), cutoff);
    let target = format!("{}:{session}", role.id);
    let changes = [("record-role-state", role_name), ("deny-stolen-session", target.as_str())];
    if job.policy.dry_run {
        run.log.push_status("record-role-state", role_name, StepStatus::Planned, "tag the denied sessions");
        run.log.push_status(
            "deny-stolen-session",
            &target,
            StepStatus::Planned,
            format!("deny session {session}'s tokens issued before {}", stamp(cutoff)),
        );
        return run;
    }
    if job.deadline_near() {
        not_run(&mut run, &changes, &Held::planned(DEADLINE));
        return run;
    }
    if job.gate.clone().await.is_err() {
        not_run(&mut run, &changes, &Held::skipped(NOT_CONFIRMED));
        return run;
    }
    // Record first: release removes the policy only when the role says the
    // responder wrote it.
    let listed: Vec<&str> = sessions.keys().map(String::as_str).collect();
    let mut pairs = chunk_tag(tags::STOLEN_SESSIONS, &listed.join(","));
    pairs.push((tags::FINDING_ID.to_owned(), job.finding_id.to_owned()));
    let unchanged =
        previous.is_some() && join_tag(tags::STOLEN_SESSIONS, &role.tags).as_deref() == Some(&listed.join(","));
    let recorded = if unchanged {
        Ok(Held::already("records up to date")).into()
    } else {
        timed(async {
            iam::tag_role(iam_c, role_name, &pairs).await.map(|()| Held::done("recorded the denied sessions"))
        })
        .await
    };
    let ok = recorded.is_ok();
    run.log.push("record-role-state", role_name, recorded);
    if !ok {
        not_run(&mut run, &changes[1..], &Held::skipped("not run: the role's state could not be recorded"));
        return run;
    }
    let document = stolen_sessions_document(&role.id, &sessions);
    let put = timed(async {
        if previous.is_some() && existing.as_deref().map(stolen_sessions_of) == Some(sessions.clone()) {
            return Ok(Held::already(format!("session {session} denied already (tokens before {})", stamp(cutoff))));
        }
        iam::put_role_policy(iam_c, role_name, STOLEN_SESSIONS_POLICY, &document).await?;
        Ok(Held::done(format!(
            "{STOLEN_SESSIONS_POLICY}: deny session {session}'s tokens issued before {}; the role's other sessions keep working",
            stamp(cutoff)
        )))
    })
    .await;
    run.log.push("deny-stolen-session", &target, put);
    run
}

/// Deactivates the user's keys, deletes its console password, denies its
/// older sessions.
pub async fn disable_user(
    cloud: &Cloud,
    job: &CredentialJob<'_>,
    user_name: &str,
    finding_key: Option<&str>,
    scope: KeyScope,
) -> Execution {
    let mut run = Execution::default();
    let iam_c = &cloud.iam;
    let started = Instant::now();
    // Whether the user has a console password is not asked: deleting it
    // answers that, one request instead of two.
    let described = futures::join!(
        iam::user(iam_c, user_name),
        iam::access_keys(iam_c, user_name),
        iam::user_policy(iam_c, user_name, POLICY_NAME),
    );
    let took = Some(started.elapsed());
    let (user, keys, existing) = described;
    let (user, keys, existing) = match (user, keys, existing) {
        (Ok(Some(u)), Ok(k), Ok(e)) => (u, k, e),
        (Ok(None), ..) => {
            run.log.push("describe-user", user_name, Timed { result: Err(missing("user", user_name)), took });
            return run;
        }
        (u, k, e) => {
            let failure = [u.err(), k.err(), e.err()].into_iter().flatten().next();
            let failure = failure.unwrap_or_else(|| AwsFailure::rejected("describe failed"));
            run.log.push("describe-user", user_name, Timed { result: Err(failure), took });
            return run;
        }
    };
    if let Some(reason) = live_refusal(&user, job.policy) {
        run.skipped = Some(reason);
        return run;
    }
    run.log.push(
        "describe-user",
        user_name,
        Timed {
            result: Ok(Held::done(format!(
                "{} access key(s), {} active",
                keys.len(),
                keys.iter().filter(|k| k.active).count(),
            ))),
            took,
        },
    );
    // The rest of what the user had (policies, groups) is read once the
    // user is contained: it changes nothing, and waits behind nothing.
    let user_evidence = async {
        iam::user_evidence(iam_c, user_name).await.map(|mut e| {
            e["access_keys"] = serde_json::json!(
                keys.iter().map(|k| serde_json::json!({ "id": k.id, "active": k.active })).collect::<Vec<_>>()
            );
            // The revocation policy as it was before this run, not as it put it.
            if let Some(inline) = e["inline_policies"].as_object_mut() {
                match &existing {
                    Some(document) => inline.insert(POLICY_NAME.to_owned(), serde_json::json!(document)),
                    None => inline.remove(POLICY_NAME),
                };
            }
            e
        })
    };

    // The finding's key first in the list, then the others the scope covers.
    let mut targets: Vec<&str> = Vec::new();
    if let Some(key) = finding_key {
        targets.push(key);
    }
    if scope == KeyScope::AllKeys {
        targets.extend(keys.iter().map(|k| k.id.as_str()).filter(|k| Some(*k) != finding_key));
    }
    let to_deactivate: Vec<&str> =
        targets.iter().copied().filter(|t| keys.iter().any(|k| k.id == *t && k.active)).collect();

    let previous = existing.as_deref().and_then(cutoff_of);
    // A policy already in place stays as it is unless this run finds
    // something to contain again (a key re-activated; a password re-made,
    // found when it is deleted, below).
    let must_revoke = existing.is_none() || !to_deactivate.is_empty();
    let cutoff = next_cutoff(job.now, previous);

    // The record: the keys this run deactivates (added to those an earlier
    // delivery did), the finding, the cutoff, a revocation policy that was
    // there before, and that the console password is deleted if there is
    // one (`if-present`; once the deletion has answered, `true` or `false`:
    // nothing can put a password back, release says so).
    let mut recorded = recorded_keys(&user.tags);
    for key in &to_deactivate {
        if !recorded.iter().any(|r| r == key) {
            recorded.push(key.to_string());
        }
    }
    let mut pairs = chunk_tag(tags::DEACTIVATED_KEYS, &recorded.join(","));
    let password_recorded = user.tags.get(tags::LOGIN_PROFILE_DELETED).cloned();
    pairs.push((
        tags::LOGIN_PROFILE_DELETED.to_owned(),
        password_recorded.clone().unwrap_or_else(|| PASSWORD_IF_PRESENT.to_owned()),
    ));
    pairs.push((tags::FINDING_ID.to_owned(), job.finding_id.to_owned()));
    if must_revoke {
        pairs.push((tags::REVOKED_AT.to_owned(), stamp(cutoff)));
        pairs.extend(previous_revocation(&user.tags, previous));
    }

    let mut changes: Vec<(&str, &str)> = targets.iter().map(|k| ("deactivate-access-key", *k)).collect();
    changes.extend([("delete-login-profile", user_name), ("revoke-older-sessions", user_name)]);
    if job.policy.dry_run {
        keep_evidence(&mut run, "user", user_name, user_evidence.await);
        run.log.push_status(
            "record-user-state",
            user_name,
            StepStatus::Planned,
            "record deactivated keys, finding id, cutoff",
        );
        for key in &targets {
            run.log.push_status("deactivate-access-key", key, StepStatus::Planned, "set Inactive");
        }
        run.log.push_status("delete-login-profile", user_name, StepStatus::Planned, "delete console password");
        run.log.push_status(
            "revoke-older-sessions",
            user_name,
            StepStatus::Planned,
            format!("deny tokens issued before {}", stamp(cutoff)),
        );
        return run;
    }
    if job.deadline_near() {
        run.log.push("record-user-state", user_name, Ok(Held::planned(DEADLINE)));
        not_run(&mut run, &changes, &Held::planned(DEADLINE));
        return run;
    }
    if job.gate.clone().await.is_err() {
        run.log.push("record-user-state", user_name, Ok(Held::skipped(NOT_CONFIRMED)));
        not_run(&mut run, &changes, &Held::skipped(NOT_CONFIRMED));
        return run;
    }

    // Record first: release reactivates exactly the keys recorded here, so
    // no key is deactivated before it is in the record.
    let unchanged = pairs.iter().all(|(k, v)| user.tags.get(k) == Some(v));
    let record = if unchanged {
        Ok(Held::already("records up to date")).into()
    } else {
        timed(async {
            iam::tag_user(iam_c, user_name, &pairs)
                .await
                .map(|()| Held::done(format!("keys to deactivate: {}", recorded.join(","))))
        })
        .await
    };
    let ok = record.is_ok();
    run.log.push("record-user-state", user_name, record);
    if !ok {
        not_run(&mut run, &changes, &Held::skipped("not run: the user's state could not be recorded"));
        return run;
    }
    if job.deadline_near() {
        not_run(&mut run, &changes, &Held::planned(DEADLINE));
        return run;
    }

    let deactivations = join_all(targets.iter().map(|key| {
        let key = key.to_string();
        let known = keys.iter().find(|k| k.id == key).cloned();
        async move {
            let result = match known {
                None => Err(AwsFailure {
                    kind: FailureKind::NotFound,
                    code: Some("NoSuchEntity".into()),
                    message: format!("{key} is not an access key of {user_name}"),
                }),
                Some(k) if !k.active => Ok(Held::already("already inactive")),
                Some(_) => {
                    return (
                        key.clone(),
                        timed(async {
                            iam::set_access_key(iam_c, user_name, &key, false).await.map(|()| Held::done("deactivated"))
                        })
                        .await,
                    );
                }
            };
            (key, Timed::from(result))
        }
    }));
    let login_step = timed(async {
        match iam::delete_login_profile(iam_c, user_name).await? {
            true => Ok(Held::done("console password deleted; a person must set a new one on release")),
            false => Ok(Held::already("no console password")),
        }
    });
    let revoke = timed(async {
        if !must_revoke {
            return Ok(Held::already(format!(
                "{POLICY_NAME} in place since {}",
                previous.map(stamp).unwrap_or_else(|| "an earlier delivery".into())
            )));
        }
        iam::put_user_policy(iam_c, user_name, POLICY_NAME, &policy_document(cutoff)).await?;
        Ok(Held::done(format!("{POLICY_NAME}: deny tokens issued before {}", stamp(cutoff))))
    });
    let (deactivations, mut login_result, revoke) = futures::join!(deactivations, login_step, revoke);
    // Once contained: the record of the password made exact, and a password
    // made again since an earlier containment means its sessions are denied
    // again (recorded first).
    let deleted = login_result.result.as_ref().is_ok_and(|held| held.status == StepStatus::Done);
    if login_result.is_ok() {
        let mut said = Vec::new();
        if deleted && password_recorded.as_deref() != Some("true") {
            said.push((tags::LOGIN_PROFILE_DELETED.to_owned(), "true".to_owned()));
        } else if !deleted && password_recorded.is_none() {
            said.push((tags::LOGIN_PROFILE_DELETED.to_owned(), "false".to_owned()));
        }
        if deleted && !must_revoke {
            said.push((tags::REVOKED_AT.to_owned(), stamp(cutoff)));
            said.extend(previous_revocation(&user.tags, previous));
        }
        let inexact = |f: AwsFailure| AwsFailure {
            message: format!("the console password's deletion could not be recorded exactly: {}", f.message),
            ..f
        };
        let followed = async {
            if !said.is_empty() {
                iam::tag_user(iam_c, user_name, &said).await.map_err(inexact)?;
            }
            if deleted && !must_revoke {
                iam::put_user_policy(iam_c, user_name, POLICY_NAME, &policy_document(cutoff)).await?;
                return Ok(Held::done(format!(
                    "a console password was made again: deleted; {POLICY_NAME}: deny tokens issued before {}",
                    stamp(cutoff)
                )));
            }
            login_result.result.clone()
        }
        .await;
        login_result.result = followed;
    }
    let password = match &login_result.result {
        Ok(held) => serde_json::json!(held.status == StepStatus::Done),
        Err(_) => serde_json::json!("unknown"),
    };
    let evidence = user_evidence.await.map(|mut e| {
        e["console_password"] = password;
        e
    });
    keep_evidence(&mut run, "user", user_name, evidence);
    for (key, result) in deactivations {
        run.log.push("deactivate-access-key", &key, result);
    }
    run.log.push("delete-login-profile", user_name, login_result);
    run.log.push("revoke-older-sessions", user_name, revoke);
    run
}

/// The access keys the responder's record says it deactivated.
fn recorded_keys(tags_now: &std::collections::BTreeMap<String, String>) -> Vec<String> {
    join_tag(tags::DEACTIVATED_KEYS, tags_now)
        .map(|v| v.split(',').filter(|k| !k.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The cutoff of a revocation that was in place before the responder acted.
fn earlier_revocation(tags_now: &std::collections::BTreeMap<String, String>) -> Option<DateTime<Utc>> {
    let text = tags_now.get(tags::PREVIOUS_REVOCATION)?;
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

fn put_back(cutoff: DateTime<Utc>) -> String {
    format!("{POLICY_NAME} put back as it was before the responder: deny tokens issued before {}", stamp(cutoff))
}

/// Removes a revocation the responder put on a role.
pub async fn release_role(cloud: &Cloud, role_name: &str) -> Execution {
    let mut run = Execution::default();
    let role = match found("role", role_name, iam::role(&cloud.iam, role_name).await) {
        Ok(r) => r,
        Err(f) => {
            run.log.push("describe-role", role_name, Err(f));
            return run;
        }
    };
    let stolen = role.tags.contains_key(tags::STOLEN_SESSIONS);
    let revoked = role.tags.contains_key(tags::REVOKED_AT);
    if !revoked && !stolen {
        run.skipped = Some(format!("{role_name} has no revocation by the responder (no {} tag)", tags::REVOKED_AT));
        return run;
    }
    run.log.push("describe-role", role_name, Ok(Held::done(role.arn.clone())));
    if stolen {
        let result = remove_role_policy(cloud, role_name, STOLEN_SESSIONS_POLICY).await;
        let removed = result.is_ok();
        run.log.push("remove-session-denials", role_name, result);
        if removed {
            let mut keys = chunk_keys(tags::STOLEN_SESSIONS, &role.tags);
            if !revoked {
                keys.push(tags::FINDING_ID.to_owned());
            }
            let untag = iam::untag_role(&cloud.iam, role_name, &keys).await.map(|()| Held::done("records removed"));
            run.log.push("untag-role", role_name, untag);
        }
        if !revoked {
            return run;
        }
    }
    let result = match earlier_revocation(&role.tags) {
        Some(cutoff) => iam::put_role_policy(&cloud.iam, role_name, POLICY_NAME, &policy_document(cutoff))
            .await
            .map(|()| Held::done(put_back(cutoff))),
        None => remove_role_policy(cloud, role_name, POLICY_NAME).await,
    };
    let removed = result.is_ok();
    run.log.push("remove-revocation", role_name, result);
    if removed {
        let keys = [tags::REVOKED_AT, tags::FINDING_ID, tags::PREVIOUS_REVOCATION].map(str::to_owned).to_vec();
        let untag = iam::untag_role(&cloud.iam, role_name, &keys).await.map(|()| Held::done("records removed"));
        run.log.push("untag-role", role_name, untag);
    }
    run
}

/// Deletes the role's inline `policy`; one already gone is already done.
async fn remove_role_policy(cloud: &Cloud, role_name: &str, policy: &str) -> StepResult {
    match iam::delete_role_policy(&cloud.iam, role_name, policy).await? {
        true => Ok(Held::done(format!("{policy} removed"))),
        false => Ok(Held::already(format!("no {policy} policy"))),
    }
}

/// The password record before the deletion has answered.
const PASSWORD_IF_PRESENT: &str = "if-present";

/// Reactivates exactly the keys the responder deactivated and removes its
/// deny policy. A deleted console password cannot be restored: the notes
/// say a person must set a new one.
pub async fn release_user(cloud: &Cloud, user_name: &str) -> Execution {
    let mut run = Execution::default();
    let (user, keys) = futures::join!(iam::user(&cloud.iam, user_name), iam::access_keys(&cloud.iam, user_name));
    let (user, keys) = match found("user", user_name, user).and_then(|u| Ok((u, keys?))) {
        Ok(both) => both,
        Err(f) => {
            run.log.push("describe-user", user_name, Err(f));
            return run;
        }
    };
    let recorded = recorded_keys(&user.tags);
    if recorded.is_empty() && !user.tags.contains_key(tags::REVOKED_AT) {
        run.skipped = Some(format!("{user_name} has no containment by the responder to release"));
        return run;
    }
    run.log.push("describe-user", user_name, Ok(Held::done(user.arn.clone())));

    let reactivations = join_all(recorded.iter().map(|key| {
        let state = keys.iter().find(|k| &k.id == key).cloned();
        async move {
            let result = match state {
                None => Ok(Held::already("the key no longer exists")),
                Some(k) if k.active => Ok(Held::already("already active")),
                Some(_) => {
                    iam::set_access_key(&cloud.iam, user_name, key, true).await.map(|()| Held::done("reactivated"))
                }
            };
            (key.clone(), result)
        }
    }));
    let policy = async {
        if let Some(cutoff) = earlier_revocation(&user.tags) {
            return iam::put_user_policy(&cloud.iam, user_name, POLICY_NAME, &policy_document(cutoff))
                .await
                .map(|()| Held::done(put_back(cutoff)));
        }
        match iam::delete_user_policy(&cloud.iam, user_name, POLICY_NAME).await {
            Ok(true) => Ok(Held::done(format!("{POLICY_NAME} removed"))),
            Ok(false) => Ok(Held::already(format!("no {POLICY_NAME} policy"))),
            Err(f) => Err(f),
        }
    };
    let (reactivations, policy) = futures::join!(reactivations, policy);
    for (key, result) in reactivations {
        run.log.push("reactivate-access-key", &key, result);
    }
    run.log.push("remove-revocation", user_name, policy);
    match user.tags.get(tags::LOGIN_PROFILE_DELETED).map(String::as_str) {
        Some("true") => run.notes.push(format!(
            "the responder deleted {user_name}'s console password: a person must set a new one (iam create-login-profile) if console access should return"
        )),
        Some("false") | None => {}
        Some(_) => run.notes.push(format!(
            "the responder deleted {user_name}'s console password if it had one (the containment's report says): a person must set a new one (iam create-login-profile) if console access should return"
        )),
    }
    if run.log.all_held() {
        let mut keys: Vec<String> = chunk_keys(tags::DEACTIVATED_KEYS, &user.tags);
        keys.extend(
            [tags::LOGIN_PROFILE_DELETED, tags::REVOKED_AT, tags::FINDING_ID, tags::PREVIOUS_REVOCATION]
                .map(str::to_owned),
        );
        let untag = iam::untag_user(&cloud.iam, user_name, &keys).await.map(|()| Held::done("records removed"));
        run.log.push("untag-user", user_name, untag);
    }
    run
}

/// Lifts the denial of one session of a role (a contained Lambda function's,
/// say), leaving the role's other denied sessions denied: the statement
/// goes, and the policy with its record when it was the last.
pub async fn release_stolen_session(cloud: &Cloud, role_name: &str, session: &str) -> Execution {
    let mut run = Execution::default();
    let iam_c = &cloud.iam;
    let (role, existing) =
        futures::join!(iam::role(iam_c, role_name), iam::role_policy(iam_c, role_name, STOLEN_SESSIONS_POLICY));
    let (role, existing) = match found("role", role_name, role).and_then(|r| Ok((r, existing?))) {
        Ok(both) => both,
        Err(f) => {
            run.log.push("describe-role", role_name, Err(f));
            return run;
        }
    };
    let mut sessions = existing.as_deref().map(stolen_sessions_of).unwrap_or_default();
    if !role.tags.contains_key(tags::STOLEN_SESSIONS) || sessions.remove(session).is_none() {
        run.log.push("lift-session-denial", &format!("{role_name}:{session}"), Ok(Held::already("not denied")));
        return run;
    }
    let target = format!("{}:{session}", role.id);
    if sessions.is_empty() {
        let removed = remove_role_policy(cloud, role_name, STOLEN_SESSIONS_POLICY).await;
        let ok = removed.is_ok();
        run.log.push("lift-session-denial", &target, removed);
        if ok {
            let mut keys = chunk_keys(tags::STOLEN_SESSIONS, &role.tags);
            if !role.tags.contains_key(tags::REVOKED_AT) {
                keys.push(tags::FINDING_ID.to_owned());
            }
            let untag = iam::untag_role(iam_c, role_name, &keys).await.map(|()| Held::done("records removed"));
            run.log.push("untag-role", role_name, untag);
        }
        return run;
    }
    let document = stolen_sessions_document(&role.id, &sessions);
    let put = iam::put_role_policy(iam_c, role_name, STOLEN_SESSIONS_POLICY, &document)
        .await
        .map(|()| Held::done(format!("session {session} no longer denied; {} other(s) still are", sessions.len())));
    let ok = put.is_ok();
    run.log.push("lift-session-denial", &target, put);
    if ok {
        let listed: Vec<&str> = sessions.keys().map(String::as_str).collect();
        let stale: Vec<String> = chunk_keys(tags::STOLEN_SESSIONS, &role.tags);
        let pairs = chunk_tag(tags::STOLEN_SESSIONS, &listed.join(","));
        let result = async {
            let keep: Vec<&String> = pairs.iter().map(|(k, _)| k).collect();
            let drop: Vec<String> = stale.into_iter().filter(|k| !keep.contains(&k)).collect();
            if !drop.is_empty() {
                iam::untag_role(iam_c, role_name, &drop).await?;
            }
            iam::tag_role(iam_c, role_name, &pairs).await.map(|()| Held::done("record updated"))
        }
        .await;
        run.log.push("record-role-state", role_name, result);
    }
    run
}
