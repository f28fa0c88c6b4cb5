//! A person asking for a response: the Security Hub custom actions
//! ("Contain", "Release") the template creates, and `responder respond`.
//!
//! A custom action's event carries the findings a person selected, in the
//! AWS Security Finding Format (ASFF). The responder trusts none of their
//! content: it takes from each only which GuardDuty finding it is (the ASFF
//! `Id` of a GuardDuty finding is the finding's ARN) and fetches that finding
//! from GuardDuty itself ([`api_finding_event`] turns GuardDuty's answer into
//! the event the functions already handle). A person's request lifts the
//! severity threshold and approval mode, nothing else: exemption tags,
//! protected principals, samples, archived findings and allowed accounts
//! hold as for any event.

use serde::Deserialize;
use serde_json::Value;

use crate::event::{GUARDDUTY_DETAIL_TYPE, GUARDDUTY_SOURCE, InvalidEvent};
use crate::finding::{AccountId, truncate};

pub const SECURITY_HUB_SOURCE: &str = "aws.securityhub";
pub const CUSTOM_ACTION_DETAIL_TYPE: &str = "Security Hub Findings - Custom Action";
/// Ids of the custom actions (action targets) the template creates.
pub const CONTAIN_ACTION_ID: &str = "GDRContain";
pub const RELEASE_ACTION_ID: &str = "GDRRelease";
/// Security Hub puts at most this many findings in one custom action event
/// (a person selects at most that many); more is not Security Hub's event.
pub const MAX_FINDINGS_PER_ACTION: usize = 20;

/// What a person asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Run the finding's playbook, whatever its severity, without approval.
    Contain,
    /// Undo what the playbook did for the finding's resource.
    Release,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Contain => "Contain",
            Action::Release => "Release",
        }
    }
}

/// One GuardDuty finding a person selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingRef {
    /// GuardDuty's finding id.
    pub id: String,
    /// The finding's ARN (its ASFF `Id`).
    pub arn: String,
    pub partition: String,
    pub region: String,
    /// The account the finding is about.
    pub account: AccountId,
}

impl FindingRef {
    /// Reads a GuardDuty finding ARN:
    /// `arn:PARTITION:guardduty:REGION:ACCOUNT:detector/DETECTOR/finding/ID`.
    pub fn from_arn(arn: &str) -> Result<FindingRef, String> {
        let bad = || format!("{:?} is not a GuardDuty finding ARN", truncate(arn, 200));
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, partition, service, region, account, resource] = parts.as_slice() else { return Err(bad()) };
        if *prefix != "arn" || *service != "guardduty" || !is_partition(partition) || !is_region(region) {
            return Err(bad());
        }
        let account = AccountId::parse(account).map_err(|_| bad())?;
        let pieces: Vec<&str> = resource.split('/').collect();
        let ["detector", detector, "finding", id] = pieces.as_slice() else { return Err(bad()) };
        if !is_detector_id(detector) || !is_finding_id(id) {
            return Err(bad());
        }
        Ok(FindingRef {
            id: (*id).to_owned(),
            arn: arn.to_owned(),
            partition: (*partition).to_owned(),
            region: (*region).to_owned(),
            account,
        })
    }

    /// The finding's Security Hub product ARN (GuardDuty's integration).
    pub fn product_arn(&self) -> String {
        product_arn(&self.partition, &self.region)
    }
}

/// Security Hub's product ARN for GuardDuty findings in `region`.
pub fn product_arn(partition: &str, region: &str) -> String {
    format!("arn:{partition}:securityhub:{region}::product/aws/guardduty")
}

/// A custom action event, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRequest {
    pub action: Action,
    /// The action target's ARN (the event's resource).
    pub action_arn: String,
    /// The account the event was delivered in (the administrator account).
    pub receiving_account: Option<String>,
    pub findings: Vec<FindingRef>,
}

impl ActionRequest {
    /// How a report says who asked.
    pub fn requested_by(&self) -> String {
        format!("Security Hub custom action {} ({})", self.action.name(), self.action_arn)
    }
}

#[derive(Deserialize)]
struct Envelope {
    source: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    resources: Vec<String>,
    detail: Value,
}

/// Whether an envelope is a Security Hub event (custom action or not); a
/// quick look at `source` that never fails.
pub fn is_security_hub_event(payload: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Source {
        #[serde(default)]
        source: Option<String>,
    }
    serde_json::from_slice::<Source>(payload).ok().and_then(|s| s.source).as_deref() == Some(SECURITY_HUB_SOURCE)
}

/// Parses a Security Hub custom action event whose findings are all
/// GuardDuty's. Any other Security Hub event (imported findings, insight
/// results), another action, or a finding that is not GuardDuty's is
/// `InvalidEvent`: nothing is done for part of a request.
pub fn parse_action(payload: &[u8]) -> Result<ActionRequest, InvalidEvent> {
    let envelope: Envelope =
        serde_json::from_slice(payload).map_err(|e| InvalidEvent::new(format!("not an EventBridge event: {e}")))?;
    if envelope.source != SECURITY_HUB_SOURCE || envelope.detail_type != CUSTOM_ACTION_DETAIL_TYPE {
        return Err(InvalidEvent::new(format!(
            "not a GuardDuty finding or a Security Hub custom action: source {:?} and detail-type {:?}, expected {GUARDDUTY_SOURCE:?} with {GUARDDUTY_DETAIL_TYPE:?}, or {SECURITY_HUB_SOURCE:?} with {CUSTOM_ACTION_DETAIL_TYPE:?}",
            truncate(&envelope.source, 60),
            truncate(&envelope.detail_type, 60),
        )));
    }
    let action_arn = match envelope.resources.as_slice() {
        [arn] => arn.clone(),
        other => {
            return Err(InvalidEvent::new(format!(
                "a custom action event names its action in `resources`, once; found {} entries",
                other.len()
            )));
        }
    };
    let action = match action_arn.rsplit_once(":action/custom/") {
        Some((head, CONTAIN_ACTION_ID)) if head.starts_with("arn:") && head.contains(":securityhub:") => {
            Action::Contain
        }
        Some((head, RELEASE_ACTION_ID)) if head.starts_with("arn:") && head.contains(":securityhub:") => {
            Action::Release
        }
        _ => {
            return Err(InvalidEvent::new(format!(
                "custom action {:?} is not one of guardduty-responder's ({CONTAIN_ACTION_ID}, {RELEASE_ACTION_ID})",
                truncate(&action_arn, 200)
            )));
        }
    };
    let findings = match envelope.detail.get("findings") {
        Some(Value::Array(findings)) => findings,
        Some(_) => return Err(InvalidEvent::new("detail.findings: expected an array of ASFF findings")),
        None => return Err(InvalidEvent::new("detail: missing field `findings`")),
    };
    if findings.is_empty() {
        return Err(InvalidEvent::new("detail.findings: the custom action names no finding"));
    }
    if findings.len() > MAX_FINDINGS_PER_ACTION {
        return Err(InvalidEvent::new(format!(
            "detail.findings: {} findings, more than a custom action sends ({MAX_FINDINGS_PER_ACTION})",
            findings.len()
        )));
    }
    let findings = findings
        .iter()
        .enumerate()
        .map(|(i, f)| guardduty_finding(f).map_err(|e| InvalidEvent::new(format!("detail.findings[{i}]: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ActionRequest { action, action_arn, receiving_account: envelope.account, findings })
}

/// The GuardDuty finding an ASFF finding is the copy of: its `ProductArn`
/// must be GuardDuty's, and its `Id` a GuardDuty finding ARN in the same
/// region and account as the ASFF finding says.
fn guardduty_finding(asff: &Value) -> Result<FindingRef, String> {
    let text = |field: &str| asff.get(field).and_then(Value::as_str);
    let product = text("ProductArn").ok_or("missing ProductArn: not an ASFF finding")?;
    let is_guardduty = product.starts_with("arn:")
        && product.split(':').nth(2) == Some("securityhub")
        && product.ends_with("::product/aws/guardduty");
    if !is_guardduty {
        return Err(format!("not a GuardDuty finding (ProductArn {:?})", truncate(product, 200)));
    }
    let id = text("Id").ok_or("missing Id")?;
    let found = FindingRef::from_arn(id)?;
    if product != found.product_arn() {
        return Err(format!(
            "ProductArn {:?} is not GuardDuty's in the finding's region {}",
            truncate(product, 200),
            found.region
        ));
    }
    if let Some(account) = text("AwsAccountId")
        && account != found.account.as_str()
    {
        return Err(format!("AwsAccountId {:?} is not the account of finding {}", truncate(account, 20), found.id));
    }
    Ok(found)
}

/// Members GuardDuty's API types as timestamps, which `GetFindings` sends
/// as epoch seconds where EventBridge delivers ISO 8601 text.
const API_TIMESTAMPS: &[&str] =
    &["createdAt", "updatedAt", "firstSeenAt", "lastSeenAt", "createdTime", "lastModifiedAt", "launchTime"];

/// Turns one finding of GuardDuty's `GetFindings` answer (the API's JSON,
/// camelCase, the same shape EventBridge delivers as `detail`) into the
/// "GuardDuty Finding" event the functions handle: timestamps the API sends
/// as numbers become ISO 8601 text, and `service.additionalInfo`, which the
/// API wraps as `{"value": "<JSON text>", "type": "default"}`, is unwrapped.
pub fn api_finding_event(finding: &Value, receiving_account: &str, time: &str) -> Result<Vec<u8>, InvalidEvent> {
    let Value::Object(_) = finding else {
        return Err(InvalidEvent::new("GuardDuty answered with a finding that is not a JSON object"));
    };
    let mut detail = finding.clone();
    iso_timestamps(&mut detail);
    if let Some(info) = detail.pointer_mut("/service/additionalInfo")
        && let Some(Value::String(inner)) = info.get("value")
        && let Ok(Value::Object(unwrapped)) = serde_json::from_str::<Value>(inner)
    {
        *info = Value::Object(unwrapped);
    }
    let region = detail.get("region").and_then(Value::as_str).unwrap_or_default().to_owned();
    let id = detail.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
    let envelope = serde_json::json!({
        "version": "0",
        "id": format!("fetched-{id}"),
        "detail-type": GUARDDUTY_DETAIL_TYPE,
        "source": GUARDDUTY_SOURCE,
        "account": receiving_account,
        "time": time,
        "region": region,
        "resources": [],
        "detail": detail,
    });
    serde_json::to_vec(&envelope)
        .map_err(|e| InvalidEvent::new(format!("GuardDuty's finding cannot be re-encoded: {e}")))
}

/// GuardDuty's finding as the event the functions handle, read: the
/// payload (kept whole in the evidence record) and its parsed form.
pub fn fetched_event(
    finding: &Value,
    receiving_account: &str,
    time: &str,
) -> Result<(Vec<u8>, crate::event::FindingEvent), InvalidEvent> {
    let payload = api_finding_event(finding, receiving_account, time)?;
    let event = crate::parse_event(&payload).map_err(|e| {
        let id = finding.get("id").and_then(Value::as_str).unwrap_or("?");
        InvalidEvent::new(format!("GuardDuty's finding {} cannot be read: {e}", truncate(id, 80)))
    })?;
    Ok((payload, event))
}

fn iso_timestamps(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if API_TIMESTAMPS.contains(&key.as_str())
                    && let Some(seconds) = v.as_f64()
                    && let Some(at) = chrono::DateTime::from_timestamp_millis((seconds * 1000.0).round() as i64)
                {
                    *v = Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
                } else {
                    iso_timestamps(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(iso_timestamps),
        _ => {}
    }
}

fn is_partition(p: &str) -> bool {
    p == "aws" || (p.starts_with("aws-") && p[4..].bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
}

fn is_region(r: &str) -> bool {
    !r.is_empty() && r.len() <= 30 && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_detector_id(d: &str) -> bool {
    !d.is_empty() && d.len() <= 300 && d.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// GuardDuty finding ids: letters, digits, `-` and `_` (32 hex characters
/// in practice).
pub fn is_finding_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 300 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:guardduty:us-east-1:111122223333:detector/12abc34d567e8fa901bc2d34e56789f0/finding/60baffd3f9042e38640f2300d5c5a631";

    fn event(action: &str, findings: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "version": "0", "id": "e1", "detail-type": CUSTOM_ACTION_DETAIL_TYPE, "source": "aws.securityhub",
            "account": "999988887777", "region": "us-east-1",
            "resources": [format!("arn:aws:securityhub:us-east-1:999988887777:action/custom/{action}")],
            "detail": { "actionName": "Contain", "actionDescription": "x", "findings": findings }
        }))
        .unwrap()
    }

    fn asff(id: &str, product: &str) -> Value {
        serde_json::json!({ "SchemaVersion": "2018-10-08", "Id": id, "ProductArn": product,
            "AwsAccountId": "111122223333", "Types": ["TTPs/Command and Control/Backdoor:EC2-Spambot"] })
    }

    const GD: &str = "arn:aws:securityhub:us-east-1::product/aws/guardduty";

    fn err(payload: &[u8]) -> String {
        parse_action(payload).expect_err("should be refused").message().to_owned()
    }

    #[test]
    fn a_contain_action_names_the_guardduty_finding() {
        let request = parse_action(&event("GDRContain", serde_json::json!([asff(ARN, GD)]))).unwrap();
        assert_eq!(request.action, Action::Contain);
        assert_eq!(request.findings.len(), 1);
        let f = &request.findings[0];
        assert_eq!(f.id, "60baffd3f9042e38640f2300d5c5a631");
        assert_eq!((f.account.as_str(), f.region.as_str(), f.partition.as_str()), ("111122223333", "us-east-1", "aws"));
        assert_eq!(f.product_arn(), GD);
        assert_eq!(request.receiving_account.as_deref(), Some("999988887777"));
        let release = parse_action(&event("GDRRelease", serde_json::json!([asff(ARN, GD)]))).unwrap();
        assert_eq!(release.action, Action::Release);
    }

    #[test]
    fn anything_else_is_refused_with_why() {
        let m = err(&event("SendToTicketing", serde_json::json!([asff(ARN, GD)])));
        assert!(m.contains("not one of guardduty-responder's"), "{m}");
        let inspector = "arn:aws:securityhub:us-east-1::product/aws/inspector";
        let m = err(&event("GDRContain", serde_json::json!([asff(ARN, inspector)])));
        assert!(m.starts_with("detail.findings[0]: not a GuardDuty finding"), "{m}");
        let m = err(&event(
            "GDRContain",
            serde_json::json!([asff("arn:aws:guardduty:us-east-1:111122223333:detector/d1", GD)]),
        ));
        assert!(m.contains("is not a GuardDuty finding ARN"), "{m}");
        let other_region = ARN.replace("us-east-1", "eu-west-1");
        let m = err(&event("GDRContain", serde_json::json!([asff(&other_region, GD)])));
        assert!(m.contains("not GuardDuty's in the finding's region eu-west-1"), "{m}");
        let mut wrong_account = asff(ARN, GD);
        wrong_account["AwsAccountId"] = "444455556666".into();
        assert!(err(&event("GDRContain", serde_json::json!([wrong_account]))).contains("is not the account of"));
        assert!(err(&event("GDRContain", serde_json::json!([]))).contains("names no finding"));
        let many: Vec<Value> = (0..21).map(|_| asff(ARN, GD)).collect();
        assert!(err(&event("GDRContain", Value::Array(many))).contains("21 findings"));
        // One bad finding refuses the whole request.
        let m = err(&event("GDRContain", serde_json::json!([asff(ARN, GD), asff(ARN, "x")])));
        assert!(m.starts_with("detail.findings[1]:"), "{m}");
        let imported = String::from_utf8(event("GDRContain", serde_json::json!([asff(ARN, GD)])))
            .unwrap()
            .replace(CUSTOM_ACTION_DETAIL_TYPE, "Security Hub Findings - Imported");
        assert!(err(imported.as_bytes()).contains("not a GuardDuty finding or a Security Hub custom action"));
        let injected = ARN.replace("finding/60baffd3f9042e38640f2300d5c5a631", "finding/x;rm -rf");
        assert!(
            err(&event("GDRContain", serde_json::json!([asff(&injected, GD)]))).contains("not a GuardDuty finding ARN")
        );
    }

    #[test]
    fn an_api_finding_becomes_the_event_guardduty_would_have_sent() {
        let api = serde_json::json!({
            "id": "f1", "type": "Backdoor:EC2/Spambot", "severity": 5, "accountId": "111122223333",
            "region": "us-east-1", "createdAt": "2026-11-01T10:00:00.000Z",
            "resource": { "resourceType": "S3Bucket", "s3BucketDetails": [{ "name": "b", "createdAt": 1_700_000_000.5 }] },
            "service": { "archived": false, "additionalInfo": { "value": "{\"sample\":true}", "type": "default" } }
        });
        let bytes = api_finding_event(&api, "999988887777", "2026-11-30T10:00:00Z").unwrap();
        let event = crate::parse_event(&bytes).unwrap();
        assert!(event.finding.is_sample(), "additionalInfo unwrapped");
        assert_eq!(event.receiving_account.as_deref(), Some("999988887777"));
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["detail"]["resource"]["s3BucketDetails"][0]["createdAt"], "2023-11-14T22:13:20.500Z");
        assert_eq!(v["detail"]["createdAt"], "2026-11-01T10:00:00.000Z", "text stays text");
        assert!(api_finding_event(&Value::Null, "1", "t").is_err());
    }
}
