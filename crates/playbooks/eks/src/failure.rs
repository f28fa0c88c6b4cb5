//! Kubernetes API errors in the report's terms: the same [`AwsFailure`] as
//! an AWS call's, with the API's `reason` (`NotFound`, `AlreadyExists`,
//! `Forbidden`, …) as its code.

use responder_aws::failure::{AwsFailure, FailureKind};

/// A failed Kubernetes API call as a failure: 401/403 denied, 404 not
/// found, 429, 5xx and anything that never got an answer transient, the
/// rest (409 among them) rejected.
pub fn kube_failure(err: kube::Error) -> AwsFailure {
    match err {
        kube::Error::Api(status) => {
            let kind = match status.code {
                401 | 403 => FailureKind::Denied,
                404 => FailureKind::NotFound,
                429 => FailureKind::Transient,
                c if c >= 500 => FailureKind::Transient,
                _ => FailureKind::Rejected,
            };
            let code = if status.reason.is_empty() { format!("HTTP{}", status.code) } else { status.reason.clone() };
            let message = match (kind, missing_permission(&status.message)) {
                (FailureKind::Denied, Some(missing)) => format!("Kubernetes RBAC: {missing}: {}", status.message),
                _ if status.message.is_empty() => format!("the Kubernetes API answered {}", status.code),
                _ => status.message.clone(),
            };
            AwsFailure { kind, code: Some(code), message }
        }
        kube::Error::SerdeError(e) => {
            AwsFailure::rejected(format!("the Kubernetes API's answer was not understood: {e}"))
        }
        other => AwsFailure {
            kind: FailureKind::Transient,
            code: None,
            message: format!("the Kubernetes API could not be reached: {other}"),
        },
    }
}

/// The verb and resource a `Forbidden` message says the caller lacks, as
/// "missing `patch` on `pods`" (the API server writes `User "…" cannot
/// patch resource "pods" in API group "" in the namespace "default"`).
pub fn missing_permission(message: &str) -> Option<String> {
    let rest = &message[message.find(" cannot ")? + " cannot ".len()..];
    let (verb, rest) = rest.split_once(' ')?;
    let rest = rest.strip_prefix("resource \"")?;
    let (resource, rest) = rest.split_once('"')?;
    let group =
        rest.strip_prefix(" in API group \"").and_then(|g| g.split_once('"')).map(|(g, _)| g).filter(|g| !g.is_empty());
    Some(match group {
        Some(group) => format!("missing `{verb}` on `{resource}.{group}`"),
        None => format!("missing `{verb}` on `{resource}`"),
    })
}

/// The API answered that the object already exists.
pub fn already_exists(f: &AwsFailure) -> bool {
    f.is_code("AlreadyExists")
}

#[cfg(test)]
mod tests {
    use kube::core::Status;

    use super::*;

    fn api(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(Status::failure(message, reason).with_code(code).boxed())
    }

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(kube_failure(api(401, "Unauthorized", "Unauthorized")).kind, FailureKind::Denied);
        assert_eq!(kube_failure(api(404, "NotFound", "pods \"x\" not found")).kind, FailureKind::NotFound);
        let exists = kube_failure(api(409, "AlreadyExists", "exists"));
        assert_eq!(exists.kind, FailureKind::Rejected);
        assert!(already_exists(&exists));
        assert_eq!(kube_failure(api(429, "TooManyRequests", "slow down")).kind, FailureKind::Transient);
        assert_eq!(kube_failure(api(503, "ServiceUnavailable", "")).kind, FailureKind::Transient);
        assert_eq!(kube_failure(api(422, "Invalid", "bad")).kind, FailureKind::Rejected);
    }

    #[test]
    fn forbidden_names_the_missing_verb() {
        let f = kube_failure(api(
            403,
            "Forbidden",
            "pods \"web\" is forbidden: User \"arn:aws:sts::1:assumed-role/r/s\" cannot patch resource \"pods\" \
             in API group \"\" in the namespace \"default\"",
        ));
        assert_eq!(f.kind, FailureKind::Denied);
        assert_eq!(f.code.as_deref(), Some("Forbidden"));
        assert!(f.message.starts_with("Kubernetes RBAC: missing `patch` on `pods`: pods \"web\""), "{}", f.message);
        assert_eq!(
            missing_permission(
                "User \"u\" cannot delete resource \"rolebindings\" in API group \"rbac.authorization.k8s.io\""
            )
            .as_deref(),
            Some("missing `delete` on `rolebindings.rbac.authorization.k8s.io`")
        );
        assert_eq!(missing_permission("Unauthorized"), None);
    }
}
