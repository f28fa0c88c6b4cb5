//! Acting only on findings GuardDuty has (safety rule 9).
//!
//! Whoever may invoke a function can hand it an event: the event is a claim.
//! Before any change, the functions read the finding back from GuardDuty
//! (`GetFindings` on the administrator account's detector, by the event's
//! finding id) and compare what matters for the response: the finding's
//! type, account, region and the resource it names. This module holds that
//! comparison; the `responder-aws` crate makes the call and turns its answer
//! into [`FindingFacts`].

use std::fmt;

use crate::finding::Finding;

/// What a response depends on in a finding, from the event or from GuardDuty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingFacts {
    pub id: String,
    pub finding_type: String,
    pub account_id: String,
    pub region: String,
    pub resource_type: String,
    pub instance_id: Option<String>,
    pub user_name: Option<String>,
    pub user_type: Option<String>,
    pub access_key_id: Option<String>,
    pub principal_id: Option<String>,
    /// The trail an API-call finding names (`AWS::CloudTrail::Trail`).
    pub trail: Option<String>,
    /// An attack sequence's actors, as `type name credential`, sorted.
    pub actors: Vec<String>,
    /// The other resources the finding names (buckets, functions,
    /// databases, a sequence's resources), as `kind name`, sorted.
    pub resources: Vec<String>,
    pub archived: bool,
}

impl FindingFacts {
    /// The facts an event claims.
    pub fn of(finding: &Finding) -> Self {
        let key = finding.resource.access_key_details.as_ref();
        FindingFacts {
            id: finding.id.clone(),
            finding_type: finding.finding_type.to_string(),
            account_id: finding.account_id.to_string(),
            region: finding.region.clone(),
            resource_type: finding.resource.resource_type.clone(),
            instance_id: finding
                .resource
                .instance_details
                .as_ref()
                .and_then(|d| d.instance_id.as_ref())
                .map(|i| i.to_string()),
            user_name: key.and_then(|k| k.user_name.clone()),
            user_type: key.and_then(|k| k.user_type.clone()),
            access_key_id: key.and_then(|k| k.access_key_id.clone()),
            principal_id: key.and_then(|k| k.principal_id.clone()),
            trail: finding
                .service
                .action
                .as_ref()
                .and_then(|a| a.aws_api_call_action.as_ref())
                .and_then(|a| a.affected_resources.get("AWS::CloudTrail::Trail"))
                .cloned(),
            actors: sequence_actors(finding.service.detection.as_ref()),
            resources: {
                let r = &finding.resource;
                let mut named: Vec<String> = r
                    .s3_bucket_details
                    .iter()
                    .filter_map(|b| b.name.as_deref())
                    .map(|n| resource("bucket", n))
                    .collect();
                named.extend(
                    r.lambda_details.as_ref().and_then(|d| d.function_name.as_deref()).map(|n| resource("function", n)),
                );
                if let Some(d) = &r.rds_db_instance_details {
                    named.extend(d.db_instance_identifier.as_deref().map(|n| resource("database", n)));
                    named.extend(
                        d.db_cluster_identifier.as_deref().filter(|c| !c.is_empty()).map(|n| resource("cluster", n)),
                    );
                }
                named.extend(
                    r.ebs_snapshot_details
                        .as_ref()
                        .and_then(|d| d.snapshot_arn.as_deref())
                        .map(|a| resource("snapshot", a)),
                );
                named.extend(
                    r.ec2_image_details.as_ref().and_then(|d| d.image_arn.as_deref()).map(|a| resource("image", a)),
                );
                for bucket in &r.s3_bucket_details {
                    let name = bucket.name.as_deref().unwrap_or_default();
                    named.extend(bucket.s3_object_details.iter().map(|o| {
                        object(name, o.key.as_deref().unwrap_or_default(), o.version_id.as_deref().unwrap_or_default())
                    }));
                }
                named.extend(sequence_resources(finding.service.detection.as_ref()));
                named.sort();
                named
            },
            archived: finding.service.archived,
        }
    }
}

/// One resource a finding names, for comparison.
pub fn resource(kind: &str, name: &str) -> String {
    format!("{kind} {name}")
}

/// One object version a finding names, for comparison.
pub fn object(bucket: &str, key: &str, version: &str) -> String {
    format!("object {bucket}/{key} {version}")
}

/// The resources of an attack sequence's `detection`, as `kind uid`.
fn sequence_resources(detection: Option<&serde_json::Value>) -> Vec<String> {
    let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(serde_json::Value::as_str).map(str::to_owned);
    detection
        .and_then(|d| d.get("sequence"))
        .and_then(|s| s.get("resources"))
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| resource(&text(r, "resourceType").unwrap_or_default(), &text(r, "uid").unwrap_or_default()))
        .collect()
}

/// The actors of an attack sequence's `detection` (JSON as the event
/// carries it), in the form [`actor`] gives them.
fn sequence_actors(detection: Option<&serde_json::Value>) -> Vec<String> {
    let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(serde_json::Value::as_str).map(str::to_owned);
    let mut actors: Vec<String> = detection
        .and_then(|d| d.get("sequence"))
        .and_then(|s| s.get("actors"))
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("user"))
        .map(|u| actor(text(u, "type").as_deref(), text(u, "name").as_deref(), text(u, "credentialUid").as_deref()))
        .collect();
    actors.sort();
    actors
}

/// One actor of an attack sequence, for comparison.
pub fn actor(kind: Option<&str>, name: Option<&str>, credential: Option<&str>) -> String {
    format!("{} {} {}", kind.unwrap_or("-"), name.unwrap_or("-"), credential.unwrap_or("-"))
}

/// Why an event is not acted on after GuardDuty was asked about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// GuardDuty has no finding with the event's id: the event may be forged.
    Unknown { id: String },
    /// GuardDuty's finding is not the one the event describes.
    Differs { id: String, fields: Vec<String> },
    /// GuardDuty archived the finding (a person or a suppression rule).
    Archived { id: String },
}

impl Refusal {
    /// A stable error code for the report's step.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Unknown { .. } => "FindingNotFound",
            Refusal::Differs { .. } => "FindingMismatch",
            Refusal::Archived { .. } => "FindingArchived",
        }
    }

    /// Whether the event itself is suspect (as opposed to a real finding a
    /// person has since dealt with).
    pub fn possibly_forged(&self) -> bool {
        !matches!(self, Refusal::Archived { .. })
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Unknown { id } => write!(
                f,
                "GuardDuty has no finding {id}: the event was refused as possibly forged, and nothing was changed"
            ),
            Refusal::Differs { id, fields } => write!(
                f,
                "the event differs from GuardDuty's finding {id} in {}: refused as possibly forged, nothing was changed",
                fields.join("; ")
            ),
            Refusal::Archived { id } => {
                write!(f, "GuardDuty has archived finding {id} since it was sent: nothing was changed")
            }
        }
    }
}

/// Compares the event's claim with GuardDuty's finding (`None`: GuardDuty
/// has none with that id). A field GuardDuty leaves out is not a difference;
/// one the event leaves out but GuardDuty has is not either (the event then
/// names less, and the playbooks act on what the event names).
pub fn confirm(claimed: &FindingFacts, live: Option<&FindingFacts>, act_on_archived: bool) -> Result<(), Refusal> {
    let Some(live) = live else {
        return Err(Refusal::Unknown { id: claimed.id.clone() });
    };
    let mut fields = Vec::new();
    let mut compare = |name: &str, event: Option<&str>, guardduty: Option<&str>| {
        if let (Some(e), Some(g)) = (event, guardduty)
            && e != g
        {
            fields.push(format!("{name} (event {e:?}, GuardDuty {g:?})"));
        }
    };
    compare("id", Some(&claimed.id), Some(&live.id));
    compare("type", Some(&claimed.finding_type), Some(&live.finding_type));
    compare("account", Some(&claimed.account_id), Some(&live.account_id));
    compare("region", Some(&claimed.region), Some(&live.region));
    compare("resource type", Some(&claimed.resource_type), Some(&live.resource_type));
    compare("instance", claimed.instance_id.as_deref(), live.instance_id.as_deref());
    compare("user name", claimed.user_name.as_deref(), live.user_name.as_deref());
    compare("user type", claimed.user_type.as_deref(), live.user_type.as_deref());
    compare("access key", claimed.access_key_id.as_deref(), live.access_key_id.as_deref());
    compare("principal", claimed.principal_id.as_deref(), live.principal_id.as_deref());
    compare("trail", claimed.trail.as_deref(), live.trail.as_deref());
    // Every actor the event names must be one of GuardDuty's.
    for a in claimed.actors.iter().filter(|a| !live.actors.contains(a)) {
        fields.push(format!("actor {a:?} (GuardDuty names {:?})", live.actors));
    }
    // And every bucket, function, database and sequence resource.
    for r in claimed.resources.iter().filter(|r| !live.resources.contains(r)) {
        fields.push(format!("{r:?} (GuardDuty names {:?})", live.resources));
    }
    // What the event names must be there at all in GuardDuty's finding.
    for (name, event, guardduty) in [
        ("instance", &claimed.instance_id, &live.instance_id),
        ("user name", &claimed.user_name, &live.user_name),
        ("access key", &claimed.access_key_id, &live.access_key_id),
        ("trail", &claimed.trail, &live.trail),
    ] {
        if let (Some(e), None) = (event, guardduty) {
            fields.push(format!("{name} (event {e:?}, GuardDuty names none)"));
        }
    }
    if !fields.is_empty() {
        return Err(Refusal::Differs { id: claimed.id.clone(), fields });
    }
    if live.archived && !act_on_archived {
        return Err(Refusal::Archived { id: claimed.id.clone() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> FindingFacts {
        FindingFacts {
            id: "f1".into(),
            finding_type: "CryptoCurrency:EC2/BitcoinTool.B!DNS".into(),
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            resource_type: "Instance".into(),
            instance_id: Some("i-0a1b2c3d4e5f67890".into()),
            ..FindingFacts::default()
        }
    }

    #[test]
    fn the_same_finding_is_confirmed() {
        assert_eq!(confirm(&facts(), Some(&facts()), false), Ok(()));
    }

    #[test]
    fn an_unknown_finding_is_refused_as_possibly_forged() {
        let refusal = confirm(&facts(), None, false).unwrap_err();
        assert_eq!(refusal, Refusal::Unknown { id: "f1".into() });
        assert!(refusal.possibly_forged());
        assert_eq!(refusal.code(), "FindingNotFound");
    }

    #[test]
    fn a_resource_guardduty_does_not_name_is_refused() {
        let mut live = facts();
        live.resources = vec![resource("bucket", "customer-exports")];
        let mut claimed = live.clone();
        assert_eq!(confirm(&claimed, Some(&live), false), Ok(()));
        claimed.resources.push(resource("bucket", "payroll"));
        let Err(Refusal::Differs { fields, .. }) = confirm(&claimed, Some(&live), false) else {
            panic!("a bucket GuardDuty does not name was accepted")
        };
        assert_eq!(fields.len(), 1, "{fields:?}");
        assert!(fields[0].contains("bucket payroll"), "{fields:?}");
        // Naming fewer than GuardDuty does is no claim of more.
        assert_eq!(confirm(&facts(), Some(&live), false), Ok(()));
    }

    #[test]
    fn each_difference_is_named() {
        let mut live = facts();
        live.instance_id = Some("i-0ffffffffffffffff".into());
        live.account_id = "210987654321".into();
        let Err(Refusal::Differs { fields, .. }) = confirm(&facts(), Some(&live), false) else { panic!("not refused") };
        assert_eq!(fields.len(), 2, "{fields:?}");
        assert!(fields[0].starts_with("account") && fields[1].starts_with("instance"), "{fields:?}");

        let mut claimed = facts();
        claimed.user_name = Some("admin".into());
        let Err(Refusal::Differs { fields, .. }) = confirm(&claimed, Some(&facts()), false) else {
            panic!("a user GuardDuty does not name was accepted")
        };
        assert_eq!(fields, vec!["user name (event \"admin\", GuardDuty names none)".to_owned()]);
    }

    #[test]
    fn an_archived_finding_is_refused_unless_the_policy_acts_on_archived() {
        let live = FindingFacts { archived: true, ..facts() };
        let refusal = confirm(&facts(), Some(&live), false).unwrap_err();
        assert_eq!(refusal.code(), "FindingArchived");
        assert!(!refusal.possibly_forged());
        assert_eq!(confirm(&facts(), Some(&live), true), Ok(()));
    }
}
