//! The credential playbooks: revoke an assumed role's sessions, disable an
//! IAM user, and release either.
//!
//! **revoke-role-sessions** handles `AccessKey` findings with `userType:
//! AssumedRole`. Wave 1 reads the role (path, ARN, tags) and any existing
//! revocation policy; wave 2 puts `AWSRevokeOlderSessions` (deny everything
//! to tokens issued before *now*, never moving an existing cutoff back) and
//! tags the role. IAM actions: iam:GetRole, ListRoleTags, GetRolePolicy,
//! PutRolePolicy, TagRole.
//!
//! **disable-iam-user** handles `AccessKey` findings with `userType:
//! IAMUser`. Wave 1 reads the user (ARN, path, tags), its access keys, its
//! login profile and any existing revocation policy; wave 2, concurrently,
//! deactivates the finding's key and (setting `all-keys`) every other active
//! key, deletes the console login profile, puts the same deny on the user
//! (which also kills session tokens it minted), and tags the user with the
//! finding, the time and the keys it deactivated, so release can reactivate
//! exactly those. Keys are deactivated, never deleted: they are evidence and
//! the way back. IAM actions: iam:GetUser, ListUserTags, ListAccessKeys,
//! GetLoginProfile, GetUserPolicy, UpdateAccessKey, DeleteLoginProfile,
//! PutUserPolicy, TagUser.
//!
//! Both re-check live what the finding only hints at: service-linked and
//! Identity Center roles (by path), protected principals (by live ARN,
//! which includes the path), the exemption tag. Both are idempotent: an
//! inactive key, a missing login profile and an existing policy are
//! `already_done`; a repeat delivery rewrites nothing it does not have to.

use chrono::{DateTime, SecondsFormat, Utc};
use futures::future::join_all;
use responder_core::record::{chunk_keys, chunk_tag, join_tag};
use responder_core::revocation::{POLICY_NAME, cutoff_of, next_cutoff, policy_document};
use responder_core::settings::KeyScope;
use responder_core::{Policy, StepStatus, tags};

use crate::cloud::Cloud;
use crate::failure::{AwsFailure, FailureKind};
use crate::iam::{self, Principal};
use crate::quarantine::Execution;
use crate::steps::Held;

/// What a credential playbook is asked to do.
#[derive(Debug, Clone)]
pub struct CredentialJob<'a> {
    pub finding_id: &'a str,
    pub policy: &'a Policy,
    pub now: DateTime<Utc>,
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
pub async fn revoke_role_sessions(cloud: &Cloud, job: &CredentialJob<'_>, role_name: &str) -> Execution {
    let mut run = Execution::default();
    let iam_c = &cloud.iam;
    let (role, existing) = futures::join!(iam::role(iam_c, role_name), iam::role_policy(iam_c, role_name, POLICY_NAME));
    let (role, existing) = match found("role", role_name, role).and_then(|r| Ok((r, existing?))) {
        Ok(both) => both,
        Err(f) => {
            run.log.push("describe-role", role_name, Err(f));
            return run;
        }
    };
    if let Some(reason) = live_refusal(&role, job.policy) {
        run.skipped = Some(reason);
        return run;
    }
    run.log.push("describe-role", role_name, Ok(Held::done(role.arn.clone())));

    let previous = existing.as_deref().and_then(cutoff_of);
    let cutoff = next_cutoff(job.now, previous);
    if job.policy.dry_run {
        run.log.push_status(
            "revoke-older-sessions",
            role_name,
            StepStatus::Planned,
            format!("deny tokens issued before {}", stamp(cutoff)),
        );
        run.log.push_status("tag-role", role_name, StepStatus::Planned, "tag finding id and time");
        return run;
    }
    let put = async {
        iam::put_role_policy(iam_c, role_name, POLICY_NAME, &policy_document(cutoff)).await?;
        let moved = previous.map(|p| format!(" (was {})", stamp(p))).unwrap_or_default();
        Ok(Held::done(format!("{POLICY_NAME}: deny tokens issued before {}{moved}", stamp(cutoff))))
    };
    let tag = async {
        let pairs =
            [(tags::FINDING_ID.to_owned(), job.finding_id.to_owned()), (tags::REVOKED_AT.to_owned(), stamp(cutoff))];
        iam::tag_role(iam_c, role_name, &pairs).await.map(|()| Held::done("tagged finding id and time"))
    };
    let (put, tag) = futures::join!(put, tag);
    run.log.push("revoke-older-sessions", role_name, put);
    run.log.push("tag-role", role_name, tag);
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
    let described = futures::join!(
        iam::user(iam_c, user_name),
        iam::access_keys(iam_c, user_name),
        iam::has_login_profile(iam_c, user_name),
        iam::user_policy(iam_c, user_name, POLICY_NAME),
    );
    let (user, keys, login, existing) = match described {
        (Ok(Some(u)), Ok(k), Ok(l), Ok(e)) => (u, k, l, e),
        (Ok(None), ..) => {
            run.log.push("describe-user", user_name, Err(missing("user", user_name)));
            return run;
        }
        (u, k, l, e) => {
            let failure = [u.err(), k.err(), l.err(), e.err()].into_iter().flatten().next();
            run.log.push(
                "describe-user",
                user_name,
                Err(failure.unwrap_or_else(|| AwsFailure::rejected("describe failed"))),
            );
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
        Ok(Held::done(format!(
            "{} access key(s), {} active; console password: {}",
            keys.len(),
            keys.iter().filter(|k| k.active).count(),
            if login { "yes" } else { "no" }
        ))),
    );

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
    // something to contain again (a key re-activated, a password re-made).
    let must_revoke = existing.is_none() || !to_deactivate.is_empty() || login;
    let cutoff = next_cutoff(job.now, previous);

    if job.policy.dry_run {
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
        run.log.push_status("tag-user", user_name, StepStatus::Planned, "record deactivated keys, finding id, time");
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
                Some(_) => iam::set_access_key(iam_c, user_name, &key, false).await.map(|()| Held::done("deactivated")),
            };
            (key, result)
        }
    }));
    let login_step = async {
        if !login {
            return Ok(Held::already("no console password"));
        }
        match iam::delete_login_profile(iam_c, user_name).await? {
            true => Ok(Held::done("console password deleted; a person must set a new one on release")),
            false => Ok(Held::already("no console password")),
        }
    };
    let revoke = async {
        if !must_revoke {
            return Ok(Held::already(format!(
                "{POLICY_NAME} in place since {}",
                previous.map(stamp).unwrap_or_else(|| "an earlier delivery".into())
            )));
        }
        iam::put_user_policy(iam_c, user_name, POLICY_NAME, &policy_document(cutoff)).await?;
        Ok(Held::done(format!("{POLICY_NAME}: deny tokens issued before {}", stamp(cutoff))))
    };
    let tag = async {
        let mut recorded: Vec<String> = join_tag(tags::DEACTIVATED_KEYS, &user.tags)
            .map(|v| v.split(',').filter(|k| !k.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        for key in &to_deactivate {
            if !recorded.iter().any(|r| r == key) {
                recorded.push(key.to_string());
            }
        }
        let mut pairs = chunk_tag(tags::DEACTIVATED_KEYS, &recorded.join(","));
        if login || user.tags.contains_key(tags::LOGIN_PROFILE_DELETED) {
            pairs.push((tags::LOGIN_PROFILE_DELETED.to_owned(), "true".to_owned()));
        }
        pairs.push((tags::FINDING_ID.to_owned(), job.finding_id.to_owned()));
        if must_revoke {
            pairs.push((tags::REVOKED_AT.to_owned(), stamp(cutoff)));
        }
        let unchanged = pairs.iter().all(|(k, v)| user.tags.get(k) == Some(v));
        if unchanged {
            return Ok(Held::already("records up to date"));
        }
        iam::tag_user(iam_c, user_name, &pairs)
            .await
            .map(|()| Held::done(format!("deactivated keys: {}", recorded.join(","))))
    };
    let (deactivations, login_result, revoke, tag) = futures::join!(deactivations, login_step, revoke, tag);
    for (key, result) in deactivations {
        run.log.push("deactivate-access-key", &key, result);
    }
    run.log.push("delete-login-profile", user_name, login_result);
    run.log.push("revoke-older-sessions", user_name, revoke);
    run.log.push("tag-user", user_name, tag);
    run
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
    if !role.tags.contains_key(tags::REVOKED_AT) {
        run.skipped = Some(format!("{role_name} has no revocation by the responder (no {} tag)", tags::REVOKED_AT));
        return run;
    }
    run.log.push("describe-role", role_name, Ok(Held::done(role.arn.clone())));
    let result = match iam::delete_role_policy(&cloud.iam, role_name, POLICY_NAME).await {
        Ok(true) => Ok(Held::done(format!("{POLICY_NAME} removed"))),
        Ok(false) => Ok(Held::already(format!("no {POLICY_NAME} policy"))),
        Err(f) => Err(f),
    };
    let removed = result.is_ok();
    run.log.push("remove-revocation", role_name, result);
    if removed {
        let keys = vec![tags::REVOKED_AT.to_owned(), tags::FINDING_ID.to_owned()];
        let untag = iam::untag_role(&cloud.iam, role_name, &keys).await.map(|()| Held::done("records removed"));
        run.log.push("untag-role", role_name, untag);
    }
    run
}

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
    let recorded: Vec<String> = join_tag(tags::DEACTIVATED_KEYS, &user.tags)
        .map(|v| v.split(',').filter(|k| !k.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
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
    if user.tags.contains_key(tags::LOGIN_PROFILE_DELETED) {
        run.notes.push(format!(
            "the responder deleted {user_name}'s console password: a person must set a new one (iam create-login-profile) if console access should return"
        ));
    }
    if run.log.all_held() {
        let mut keys: Vec<String> = chunk_keys(tags::DEACTIVATED_KEYS, &user.tags);
        keys.extend([tags::LOGIN_PROFILE_DELETED, tags::REVOKED_AT, tags::FINDING_ID].map(str::to_owned));
        let untag = iam::untag_user(&cloud.iam, user_name, &keys).await.map(|()| Held::done("records removed"));
        run.log.push("untag-user", user_name, untag);
    }
    run
}
