//! What a finding is about, classified from the finding alone. This is a
//! hint: the executor re-describes the resource before acting on it.

use crate::finding::{Finding, InstanceId};

/// The thing a finding is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An EC2 instance (`resourceType: Instance`).
    Instance {
        instance_id: InstanceId,
        /// ENIs the finding listed at detection time.
        eni_hints: Vec<String>,
    },
    /// Long-term credentials of an IAM user.
    IamUser { user_name: String, access_key_id: Option<String> },
    /// Temporary credentials of an assumed role.
    RoleSession {
        role_name: String,
        session_name: Option<String>,
        access_key_id: Option<String>,
        /// When the session name is an instance id, the instance whose role
        /// credentials these are (EC2 names instance-role sessions so).
        source_instance: Option<InstanceId>,
    },
    /// The account's root user: IAM policy cannot restrict it.
    Root,
    /// A federated user (`GetFederationToken`): no IAM entity to restrict.
    Federated { principal_id: Option<String> },
    /// Anything else, with why.
    Unsupported { reason: String },
}

/// IAM user and role names: 1–64 of `[A-Za-z0-9+=,.@_-]`. A name with a path
/// or anything else is not one we will act on.
pub fn is_iam_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

pub fn classify(finding: &Finding) -> Target {
    let resource = &finding.resource;
    match resource.resource_type.as_str() {
        "Instance" => {
            let Some(details) = &resource.instance_details else {
                return Target::Unsupported { reason: "the finding has no instanceDetails".into() };
            };
            let Some(instance_id) = details.instance_id.clone() else {
                return Target::Unsupported { reason: "the finding names no instance id".into() };
            };
            let eni_hints = details.network_interfaces.iter().filter_map(|n| n.network_interface_id.clone()).collect();
            Target::Instance { instance_id, eni_hints }
        }
        "AccessKey" => {
            let Some(key) = &resource.access_key_details else {
                return Target::Unsupported { reason: "the finding has no accessKeyDetails".into() };
            };
            let name = key.user_name.clone().unwrap_or_default();
            match key.user_type.as_deref() {
                Some("IAMUser") if is_iam_name(&name) => {
                    Target::IamUser { user_name: name, access_key_id: key.access_key_id.clone() }
                }
                Some("AssumedRole") if is_iam_name(&name) => {
                    let session_name = key
                        .principal_id
                        .as_deref()
                        .and_then(|p| p.split_once(':'))
                        .map(|(_, session)| session.to_owned())
                        .filter(|s| !s.is_empty());
                    let source_instance = session_name.as_deref().and_then(|s| InstanceId::parse(s).ok());
                    Target::RoleSession {
                        role_name: name,
                        session_name,
                        access_key_id: key.access_key_id.clone(),
                        source_instance,
                    }
                }
                Some("IAMUser" | "AssumedRole") => Target::Unsupported {
                    reason: format!("userName {:?} is not a plain IAM name", crate::finding::truncate(&name, 80)),
                },
                Some("Root") => Target::Root,
                Some("Federated") => Target::Federated { principal_id: key.principal_id.clone() },
                Some(other) => Target::Unsupported {
                    reason: format!("credentials of type {:?} are not handled", crate::finding::truncate(other, 40)),
                },
                None => Target::Unsupported { reason: "the finding names no userType".into() },
            }
        }
        other => Target::Unsupported {
            reason: format!("resource type {:?} is not handled", crate::finding::truncate(other, 40)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::is_iam_name;

    #[test]
    fn iam_names_exclude_paths_and_oddities() {
        assert!(is_iam_name("app-role_1+=,.@"));
        assert!(!is_iam_name(""));
        assert!(!is_iam_name("path/role"));
        assert!(!is_iam_name("rôle"));
        assert!(!is_iam_name(&"a".repeat(65)));
    }
}
