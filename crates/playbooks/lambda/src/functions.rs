//! Lambda adapter: what the containment reads and changes on a function.

use std::collections::BTreeMap;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::types::FunctionUrlAuthType;

use crate::failure::{AwsFailure, FailureKind, absent_on};

/// A function as the playbook sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FunctionView {
    pub arn: String,
    /// The execution role's ARN.
    pub role: String,
    pub tags: BTreeMap<String, String>,
}

/// An event source mapping and whether it delivers events.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mapping {
    pub uuid: String,
    pub enabled: bool,
}

const NOT_FOUND: &[&str] = &["ResourceNotFoundException"];

/// The function, or `None` when it does not exist.
pub async fn function(lambda: &Client, name: &str) -> Result<Option<FunctionView>, AwsFailure> {
    let out = absent_on(lambda.get_function().function_name(name).send().await, NOT_FOUND)?;
    Ok(out.map(|out| {
        let config = out.configuration();
        FunctionView {
            arn: config.and_then(|c| c.function_arn()).unwrap_or_default().to_owned(),
            role: config.and_then(|c| c.role()).unwrap_or_default().to_owned(),
            tags: out.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default(),
        }
    }))
}

/// The function's reserved concurrency; `None` when it has none.
pub async fn reserved_concurrency(lambda: &Client, name: &str) -> Result<Option<i32>, AwsFailure> {
    let out = lambda.get_function_concurrency().function_name(name).send().await?;
    Ok(out.reserved_concurrent_executions())
}

pub async fn set_reserved_concurrency(lambda: &Client, name: &str, value: Option<i32>) -> Result<(), AwsFailure> {
    match value {
        Some(n) => {
            lambda.put_function_concurrency().function_name(name).reserved_concurrent_executions(n).send().await?;
        }
        None => {
            lambda.delete_function_concurrency().function_name(name).send().await?;
        }
    }
    Ok(())
}

/// Every event source mapping of the function.
pub async fn mappings(lambda: &Client, name: &str) -> Result<Vec<Mapping>, AwsFailure> {
    let mut pages = lambda.list_event_source_mappings().function_name(name).into_paginator().send();
    let mut all = Vec::new();
    while let Some(page) = pages.next().await {
        for m in page?.event_source_mappings() {
            let state = m.state().unwrap_or_default();
            all.push(Mapping {
                uuid: m.uuid().unwrap_or_default().to_owned(),
                enabled: !matches!(state, "Disabled" | "Disabling"),
            });
        }
    }
    Ok(all)
}

pub async fn set_mapping_enabled(lambda: &Client, uuid: &str, enabled: bool) -> Result<(), AwsFailure> {
    lambda.update_event_source_mapping().uuid(uuid).enabled(enabled).send().await?;
    Ok(())
}

/// The function URL's auth type (`NONE`, `AWS_IAM`); `None` without a URL.
pub async fn url_auth(lambda: &Client, name: &str) -> Result<Option<String>, AwsFailure> {
    let out = absent_on(lambda.get_function_url_config().function_name(name).send().await, NOT_FOUND)?;
    Ok(out.map(|out| out.auth_type().as_str().to_owned()))
}

pub async fn set_url_auth(lambda: &Client, name: &str, auth: &str) -> Result<(), AwsFailure> {
    let auth = FunctionUrlAuthType::from(auth);
    lambda.update_function_url_config().function_name(name).auth_type(auth).send().await?;
    Ok(())
}

/// Publishes the function's code and configuration as a version; returns its number.
pub async fn publish_version(lambda: &Client, name: &str, description: &str) -> Result<String, AwsFailure> {
    let out = lambda.publish_version().function_name(name).description(description).send().await?;
    out.version().map(str::to_owned).ok_or_else(|| AwsFailure {
        kind: FailureKind::Rejected,
        code: None,
        message: "no version returned".into(),
    })
}

pub async fn tag(lambda: &Client, arn: &str, pairs: &[(String, String)]) -> Result<(), AwsFailure> {
    let mut call = lambda.tag_resource().resource(arn);
    for (k, v) in pairs {
        call = call.tags(k, v);
    }
    call.send().await?;
    Ok(())
}

pub async fn untag(lambda: &Client, arn: &str, keys: &[String]) -> Result<(), AwsFailure> {
    if keys.is_empty() {
        return Ok(());
    }
    lambda.untag_resource().resource(arn).set_tag_keys(Some(keys.to_vec())).send().await?;
    Ok(())
}

/// The role name of a role ARN (`arn:aws:iam::1:role/path/name` → `name`).
pub fn role_name(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once(":role/")?;
    rest.rsplit('/').next().filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn role_names_drop_the_path() {
        assert_eq!(super::role_name("arn:aws:iam::123456789012:role/service-role/app-role"), Some("app-role"));
        assert_eq!(super::role_name("arn:aws:iam::123456789012:role/app"), Some("app"));
        assert_eq!(super::role_name("arn:aws:iam::123456789012:user/app"), None);
        assert_eq!(super::role_name("arn:aws:iam::123456789012:role/"), None);
    }
}
