//! IAM adapter: users, roles, their tags, keys, login profiles and inline
//! policies, as the credential playbooks need them.

use std::collections::BTreeMap;

use aws_sdk_iam::Client;
use aws_sdk_iam::types::{StatusType, Tag};

use crate::failure::{AwsFailure, FailureKind};

/// A user or role as IAM describes it now.
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    /// The unique id (`AROA…` for a role, `AIDA…` for a user).
    pub id: String,
    pub arn: String,
    pub path: String,
    pub tags: BTreeMap<String, String>,
    /// A role's trust policy (URL-encoded, as IAM returns it); `None` for a user.
    pub trust_policy: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub id: String,
    pub active: bool,
}

fn not_found_as_none<T>(result: Result<T, AwsFailure>) -> Result<Option<T>, AwsFailure> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(f) if f.kind == FailureKind::NotFound => Ok(None),
        Err(f) => Err(f),
    }
}

fn tags_of(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()
}

fn iam_tags(pairs: &[(String, String)]) -> Result<Vec<Tag>, AwsFailure> {
    pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(|e| AwsFailure::rejected(e.to_string())))
        .collect()
}

/// The role with its tags (`GetRole` returns them: one request), or `None`
/// when it does not exist.
pub async fn role(iam: &Client, name: &str) -> Result<Option<Principal>, AwsFailure> {
    let role = iam.get_role().role_name(name).send().await.map_err(AwsFailure::from);
    let Some(role) = not_found_as_none(role)? else {
        return Ok(None);
    };
    let Some(role) = role.role() else { return Ok(None) };
    let tags = tags_of(role.tags());
    Ok(Some(Principal {
        name: role.role_name().to_owned(),
        id: role.role_id().to_owned(),
        arn: role.arn().to_owned(),
        path: role.path().to_owned(),
        tags,
        trust_policy: role.assume_role_policy_document().map(str::to_owned),
    }))
}

/// The user with its tags (`GetUser` returns them: one request), or `None`
/// when it does not exist.
pub async fn user(iam: &Client, name: &str) -> Result<Option<Principal>, AwsFailure> {
    let user = iam.get_user().user_name(name).send().await.map_err(AwsFailure::from);
    let Some(user) = not_found_as_none(user)? else {
        return Ok(None);
    };
    let Some(user) = user.user() else { return Ok(None) };
    let tags = tags_of(user.tags());
    Ok(Some(Principal {
        name: user.user_name().to_owned(),
        id: user.user_id().to_owned(),
        arn: user.arn().to_owned(),
        path: user.path().to_owned(),
        tags,
        trust_policy: None,
    }))
}

pub async fn role_policy(iam: &Client, role: &str, policy: &str) -> Result<Option<String>, AwsFailure> {
    let out = iam.get_role_policy().role_name(role).policy_name(policy).send().await.map_err(AwsFailure::from);
    Ok(not_found_as_none(out)?.map(|o| o.policy_document().to_owned()))
}

pub async fn user_policy(iam: &Client, user: &str, policy: &str) -> Result<Option<String>, AwsFailure> {
    let out = iam.get_user_policy().user_name(user).policy_name(policy).send().await.map_err(AwsFailure::from);
    Ok(not_found_as_none(out)?.map(|o| o.policy_document().to_owned()))
}

pub async fn put_role_policy(iam: &Client, role: &str, policy: &str, document: &str) -> Result<(), AwsFailure> {
    iam.put_role_policy().role_name(role).policy_name(policy).policy_document(document).send().await?;
    Ok(())
}

pub async fn put_user_policy(iam: &Client, user: &str, policy: &str, document: &str) -> Result<(), AwsFailure> {
    iam.put_user_policy().user_name(user).policy_name(policy).policy_document(document).send().await?;
    Ok(())
}

/// Deletes a role's inline policy; `Ok(false)` when there was none.
pub async fn delete_role_policy(iam: &Client, role: &str, policy: &str) -> Result<bool, AwsFailure> {
    let out = iam.delete_role_policy().role_name(role).policy_name(policy).send().await.map_err(AwsFailure::from);
    Ok(not_found_as_none(out)?.is_some())
}

/// Deletes a user's inline policy; `Ok(false)` when there was none.
pub async fn delete_user_policy(iam: &Client, user: &str, policy: &str) -> Result<bool, AwsFailure> {
    let out = iam.delete_user_policy().user_name(user).policy_name(policy).send().await.map_err(AwsFailure::from);
    Ok(not_found_as_none(out)?.is_some())
}

pub async fn tag_role(iam: &Client, role: &str, pairs: &[(String, String)]) -> Result<(), AwsFailure> {
    iam.tag_role().role_name(role).set_tags(Some(iam_tags(pairs)?)).send().await?;
    Ok(())
}

pub async fn tag_user(iam: &Client, user: &str, pairs: &[(String, String)]) -> Result<(), AwsFailure> {
    iam.tag_user().user_name(user).set_tags(Some(iam_tags(pairs)?)).send().await?;
    Ok(())
}

pub async fn untag_role(iam: &Client, role: &str, keys: &[String]) -> Result<(), AwsFailure> {
    if !keys.is_empty() {
        iam.untag_role().role_name(role).set_tag_keys(Some(keys.to_vec())).send().await?;
    }
    Ok(())
}

pub async fn untag_user(iam: &Client, user: &str, keys: &[String]) -> Result<(), AwsFailure> {
    if !keys.is_empty() {
        iam.untag_user().user_name(user).set_tag_keys(Some(keys.to_vec())).send().await?;
    }
    Ok(())
}

pub async fn access_keys(iam: &Client, user: &str) -> Result<Vec<AccessKey>, AwsFailure> {
    let mut keys = Vec::new();
    let mut pages = iam.list_access_keys().user_name(user).into_paginator().send();
    while let Some(page) = pages.next().await {
        for k in page?.access_key_metadata() {
            if let Some(id) = k.access_key_id() {
                keys.push(AccessKey { id: id.to_owned(), active: k.status() == Some(&StatusType::Active) });
            }
        }
    }
    Ok(keys)
}

pub async fn set_access_key(iam: &Client, user: &str, key: &str, active: bool) -> Result<(), AwsFailure> {
    let status = if active { StatusType::Active } else { StatusType::Inactive };
    iam.update_access_key().user_name(user).access_key_id(key).status(status).send().await?;
    Ok(())
}

/// Deletes the console password; `Ok(false)` when there was none.
pub async fn delete_login_profile(iam: &Client, user: &str) -> Result<bool, AwsFailure> {
    let out = iam.delete_login_profile().user_name(user).send().await.map_err(AwsFailure::from);
    Ok(not_found_as_none(out)?.is_some())
}

/// What a user had besides its keys, for the evidence record: attached and
/// inline policies (inline documents included), groups.
pub async fn user_evidence(iam: &Client, user: &str) -> Result<serde_json::Value, AwsFailure> {
    let (attached, inline, groups) = futures::join!(
        async {
            let out = iam.list_attached_user_policies().user_name(user).send().await.map_err(AwsFailure::from)?;
            Ok::<_, AwsFailure>(serde_json::json!(
                out.attached_policies().iter().filter_map(|p| p.policy_arn()).collect::<Vec<_>>()
            ))
        },
        async {
            let out = iam.list_user_policies().user_name(user).send().await.map_err(AwsFailure::from)?;
            let mut docs = serde_json::Map::new();
            for name in out.policy_names() {
                docs.insert(name.clone(), serde_json::json!(user_policy(iam, user, name).await?));
            }
            Ok::<_, AwsFailure>(serde_json::Value::Object(docs))
        },
        async {
            let out = iam.list_groups_for_user().user_name(user).send().await.map_err(AwsFailure::from)?;
            Ok::<_, AwsFailure>(serde_json::json!(out.groups().iter().map(|g| g.group_name()).collect::<Vec<_>>()))
        },
    );
    Ok(serde_json::json!({ "attached_policies": attached?, "inline_policies": inline?, "groups": groups? }))
}

/// What a role had besides its trust policy (read with the role), for the
/// evidence record: attached and inline policies (inline documents included).
pub async fn role_evidence(iam: &Client, role: &str) -> Result<serde_json::Value, AwsFailure> {
    let (attached, inline) = futures::join!(
        async {
            let out = iam.list_attached_role_policies().role_name(role).send().await.map_err(AwsFailure::from)?;
            Ok::<_, AwsFailure>(serde_json::json!(
                out.attached_policies().iter().filter_map(|p| p.policy_arn()).collect::<Vec<_>>()
            ))
        },
        async {
            let out = iam.list_role_policies().role_name(role).send().await.map_err(AwsFailure::from)?;
            let mut docs = serde_json::Map::new();
            for name in out.policy_names() {
                docs.insert(name.clone(), serde_json::json!(role_policy(iam, role, name).await?));
            }
            Ok::<_, AwsFailure>(serde_json::Value::Object(docs))
        },
    );
    Ok(serde_json::json!({ "attached_policies": attached?, "inline_policies": inline? }))
}
