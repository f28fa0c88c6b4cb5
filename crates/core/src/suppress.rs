//! `responder suppress`: the GuardDuty filter that would archive, from now
//! on, the findings of one finding's kind on one resource. Built here, pure,
//! so a person reads exactly what will be suppressed before anything is
//! created: the finding's type, its account, and the resource it names. A
//! finding that names no resource gets no filter: suppressing its type for
//! a whole account is a decision to write by hand.

use serde_json::{Value, json};

use crate::finding::Finding;

/// A GuardDuty filter with action `ARCHIVE`, as `CreateFilter` takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Suppression {
    /// 3–64 characters: letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// At most 512 characters.
    pub description: String,
    /// Finding criteria: field -> the values it must equal.
    pub criteria: Vec<(&'static str, Vec<String>)>,
}

impl Suppression {
    /// The `findingCriteria` of `CreateFilter`.
    pub fn finding_criteria(&self) -> Value {
        let criterion: serde_json::Map<String, Value> =
            self.criteria.iter().map(|(field, values)| ((*field).to_owned(), json!({ "equals": values }))).collect();
        json!({ "criterion": criterion })
    }

    /// The whole request, as printed for a person to read.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "action": "ARCHIVE",
            "description": self.description,
            "findingCriteria": self.finding_criteria(),
        })
    }
}

/// The resource criteria a finding's resource type is filtered on.
fn resource_criteria(finding: &Finding) -> Option<(&'static str, Vec<String>)> {
    let r = &finding.resource;
    let one =
        |field: &'static str, value: Option<&str>| value.filter(|v| !v.is_empty()).map(|v| (field, vec![v.to_owned()]));
    match r.resource_type.as_str() {
        "Instance" => one(
            "resource.instanceDetails.instanceId",
            r.instance_details.as_ref().and_then(|d| d.instance_id.as_ref()).map(|i| i.as_str()),
        ),
        "AccessKey" => one(
            "resource.accessKeyDetails.userName",
            r.access_key_details.as_ref().and_then(|k| k.user_name.as_deref()),
        ),
        "S3Bucket" | "S3Object" => {
            let names: Vec<String> = r.s3_bucket_details.iter().filter_map(|b| b.name.clone()).collect();
            (!names.is_empty()).then_some(("resource.s3BucketDetails.name", names))
        }
        "Lambda" => one(
            "resource.lambdaDetails.functionName",
            r.lambda_details.as_ref().and_then(|d| d.function_name.as_deref()),
        ),
        "RDSDBInstance" => one(
            "resource.rdsDbInstanceDetails.dbInstanceIdentifier",
            r.rds_db_instance_details.as_ref().and_then(|d| d.db_instance_identifier.as_deref()),
        ),
        _ => None,
    }
}

/// The filter that archives findings of this finding's type, in its
/// account, on its resource.
pub fn suppression_for(finding: &Finding) -> Result<Suppression, String> {
    let kind = finding.finding_type.as_str();
    let Some(resource) = resource_criteria(finding) else {
        return Err(format!(
            "finding {} ({kind}, resource type {}) names no resource a filter can be narrowed to; a filter on its type alone would archive every such finding in account {}: write it by hand if that is meant",
            finding.id, finding.resource.resource_type, finding.account_id
        ));
    };
    let subject = resource.1.join(",");
    let mut name: String = format!("gdr-suppress-{kind}-{subject}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' })
        .collect();
    if name.len() > 64 {
        // Keep it unique per finding kind and resource within the limit.
        let digest = fnv1a(&name);
        name.truncate(64 - 9);
        name.push_str(&format!("-{digest:08x}"));
    }
    let mut description = format!(
        "Archives {kind} findings on {} {subject} in account {}; proposed by guardduty-responder from finding {}",
        finding.resource.resource_type, finding.account_id, finding.id
    );
    if description.chars().count() > 512 {
        description = description.chars().take(511).collect::<String>() + "…";
    }
    Ok(Suppression {
        name,
        description,
        criteria: vec![("type", vec![kind.to_owned()]), ("accountId", vec![finding.account_id.to_string()]), resource],
    })
}

fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(file: &str) -> Finding {
        let bytes = std::fs::read(format!("{}/../../events/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        crate::parse_event(&bytes).unwrap().finding
    }

    #[test]
    fn an_instance_finding_is_suppressed_for_its_type_account_and_instance() {
        let f = finding("ec2-backdoor-spambot-medium.json");
        let s = suppression_for(&f).unwrap();
        let instance = f.resource.instance_details.as_ref().unwrap().instance_id.as_ref().unwrap().to_string();
        assert_eq!(
            s.finding_criteria(),
            json!({ "criterion": {
                "type": { "equals": [f.finding_type.as_str()] },
                "accountId": { "equals": [f.account_id.as_str()] },
                "resource.instanceDetails.instanceId": { "equals": [instance] },
            }})
        );
        assert_eq!(s.to_json()["action"], "ARCHIVE");
        assert!((3..=64).contains(&s.name.len()), "{}", s.name);
        assert!(s.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "{}", s.name);
        assert!(s.description.contains(&f.id));
    }

    #[test]
    fn users_buckets_functions_and_databases_name_their_resource() {
        let cases = [
            ("iam-user-malicious-ip-caller.json", "resource.accessKeyDetails.userName"),
            ("s3-bucket-anonymous-access-granted.json", "resource.s3BucketDetails.name"),
            ("lambda-backdoor-c2-activity.json", "resource.lambdaDetails.functionName"),
            ("rds-successful-login-malicious-ip.json", "resource.rdsDbInstanceDetails.dbInstanceIdentifier"),
        ];
        for (file, field) in cases {
            let s = suppression_for(&finding(file)).unwrap();
            assert_eq!(s.criteria[2].0, field, "{file}");
            assert!(!s.criteria[2].1.is_empty(), "{file}");
            assert!(s.name.len() <= 64, "{file}: {}", s.name);
        }
    }

    #[test]
    fn a_finding_without_a_resource_gets_no_filter() {
        let mut f = finding("ec2-backdoor-spambot-medium.json");
        f.resource.instance_details = None;
        let e = suppression_for(&f).unwrap_err();
        assert!(e.contains("names no resource"), "{e}");
    }

    #[test]
    fn long_names_stay_within_guardduty_limits_and_distinct() {
        let mut a = finding("s3-bucket-anonymous-access-granted.json");
        let mut b = a.clone();
        a.resource.s3_bucket_details[0].name = Some(format!("{}-a", "x".repeat(60)));
        b.resource.s3_bucket_details[0].name = Some(format!("{}-b", "x".repeat(60)));
        let (a, b) = (suppression_for(&a).unwrap(), suppression_for(&b).unwrap());
        assert_eq!(a.name.len(), 64);
        assert_ne!(a.name, b.name);
    }
}
