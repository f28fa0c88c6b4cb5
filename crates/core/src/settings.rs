//! Settings from environment variables, validated once at start-up so a
//! misconfigured function fails at init with a clear message instead of
//! misbehaving on its first finding. Every name is documented in the README.

use crate::finding::AccountId;
use crate::pattern::Pattern;
use crate::policy::{AllowedAccounts, Policy};

/// A setting that is present but wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("setting {name}: {message}")]
pub struct SettingsError {
    pub name: &'static str,
    pub message: String,
}

/// Which of a user's access keys `disable-iam-user` deactivates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyScope {
    /// The finding's key first, then every other active key (default).
    AllKeys,
    /// Only the finding's key.
    FindingKey,
}

/// How reports are written to the topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyFormat {
    /// Plain text for e-mail and people, then the report as JSON (default).
    Text,
    /// AWS Chatbot custom notifications (Slack, Microsoft Teams).
    Chatbot,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `NOTIFY_TOPIC_ARN`: where reports are published; unset means none.
    pub notify_topic_arn: Option<String>,
    pub policy: Policy,
    /// `MEMBER_ROLE_NAME`: role assumed in member accounts.
    pub member_role_name: Option<String>,
    /// `MEMBER_ROLE_EXTERNAL_ID`: external id for that role.
    pub member_role_external_id: Option<String>,
    /// `DISABLE_USER_KEYS`: `all-keys` (default) or `finding-key`.
    pub key_scope: KeyScope,
    /// `NOTIFY_FORMAT`: `text` (default) or `chatbot`.
    pub notify_format: NotifyFormat,
    /// `ENRICHMENT_WINDOW_MINUTES`: CloudTrail look-up window on each side
    /// of the finding (default 60, at most 1440).
    pub enrichment_window_minutes: u32,
    /// `VERIFY_FINDINGS`: confirm each finding with GuardDuty before any
    /// change (default `true`).
    pub verify_findings: bool,
    /// `GUARDDUTY_DETECTOR_ID`: the administrator account's detector in
    /// the function's region; unset, it is looked up (once per container).
    pub guardduty_detector_id: Option<String>,
    /// `TRAIL_DELIVERY_MAX_AGE_MINUTES`, `SENSITIVE_BUCKETS`,
    /// `RESPONDER_RULES`, `REQUIRE_INSIGHTS`: what check-posture checks.
    pub posture: crate::posture::PostureConfig,
    /// `EVIDENCE_BUCKET`, `EVIDENCE_KEY_ARN`, `DELETE_MALICIOUS_OBJECTS`,
    /// `START_MALWARE_SCANS`: where evidence goes and what malware findings do.
    pub evidence: EvidenceSettings,
    /// `SECURITY_HUB_WRITE_BACK` (default `false`; the template sets `true`):
    /// after each response, note the outcome on the finding's Security Hub
    /// copy and set its workflow status. Off unless asked: an account
    /// without Security Hub refuses the update.
    pub security_hub_write_back: bool,
    /// `SIEM_BUCKET`: where each report is also written as one OCSF JSON
    /// document, for a SIEM to read; unset, none is written.
    pub siem_bucket: Option<String>,
}

/// The security account's evidence store, and the malware options: none
/// and off unless set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvidenceSettings {
    /// `EVIDENCE_BUCKET`: the Object Lock bucket each response's evidence
    /// record is written to, and malicious objects are copied into; unset,
    /// no record is written.
    pub bucket: Option<String>,
    /// `EVIDENCE_KEY_ARN`: the KMS key evidence is encrypted under (records,
    /// objects, and the copies of forensic snapshots); unset, snapshots stay
    /// in the member account.
    pub key_arn: Option<String>,
    /// `DELETE_MALICIOUS_OBJECTS` (default `false`): after a malicious S3
    /// object version is copied into the evidence store, delete that version
    /// from its bucket.
    pub delete_malicious_objects: bool,
    /// `START_MALWARE_SCANS` (default `false`; the template sets `true`):
    /// start a GuardDuty malware scan of each quarantined instance. Off
    /// unless asked: an account without Malware Protection for EC2 refuses
    /// the scan, and a containment must not read as partial for it.
    pub start_malware_scans: bool,
}

impl Settings {
    /// Reads settings through `lookup` (the process environment in
    /// production, a map in tests). Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let defaults = Policy::default();

        let notify_topic_arn = match get("NOTIFY_TOPIC_ARN") {
            Some(arn) if is_sns_topic_arn(&arn) => Some(arn),
            Some(arn) => {
                return Err(SettingsError {
                    name: "NOTIFY_TOPIC_ARN",
                    message: format!("{arn:?} is not an SNS topic ARN (arn:PARTITION:sns:REGION:ACCOUNT:NAME)"),
                });
            }
            None => None,
        };

        let policy = Policy {
            dry_run: flag(&get, "DRY_RUN", false)?,
            remediation_threshold: threshold(&get, "REMEDIATION_SEVERITY_THRESHOLD", defaults.remediation_threshold)?,
            alert_threshold: threshold(&get, "ALERT_SEVERITY_THRESHOLD", defaults.alert_threshold)?,
            exempt_tag: match get("EXEMPT_TAG_KEY") {
                Some(key) if key.len() <= 128 => key,
                Some(_) => {
                    return Err(SettingsError {
                        name: "EXEMPT_TAG_KEY",
                        message: "longer than a tag key (128 characters)".into(),
                    });
                }
                None => defaults.exempt_tag,
            },
            protected_principals: get("PROTECTED_PRINCIPALS")
                .map(|v| v.split(',').map(str::trim).filter(|p| !p.is_empty()).map(Pattern::new).collect())
                .unwrap_or_default(),
            allowed_accounts: allowed_accounts(get("ALLOWED_ACCOUNTS"))?,
            home_account: None,
            act_on_samples: flag(&get, "ACT_ON_SAMPLE_FINDINGS", false)?,
            act_on_archived: flag(&get, "ACT_ON_ARCHIVED_FINDINGS", false)?,
            contain_anomalous_behavior: flag(&get, "CONTAIN_ANOMALOUS_BEHAVIOR", false)?,
            exfiltration_revokes_all_sessions: flag(&get, "EXFILTRATION_REVOKE_ALL_SESSIONS", false)?,
            isolate_databases: flag(&get, "ISOLATE_DATABASES", true)?,
            isolate_container_nodes: flag(&get, "ISOLATE_CONTAINER_NODES", false)?,
            scale_down_services: flag(&get, "SCALE_DOWN_SERVICES", false)?,
            protect_account_public_access: flag(&get, "PROTECT_ACCOUNT_PUBLIC_ACCESS", true)?,
            approval: approval(&get)?,
        };

        let key_scope = match get("DISABLE_USER_KEYS").as_deref() {
            None | Some("all-keys") => KeyScope::AllKeys,
            Some("finding-key") => KeyScope::FindingKey,
            Some(other) => {
                return Err(SettingsError {
                    name: "DISABLE_USER_KEYS",
                    message: format!("expected all-keys or finding-key, found {other:?}"),
                });
            }
        };

        let member_role_name = get("MEMBER_ROLE_NAME");
        if let Some(name) = member_role_name.as_ref().filter(|n| !crate::target::is_iam_name(n)) {
            return Err(SettingsError {
                name: "MEMBER_ROLE_NAME",
                message: format!("{name:?} is not an IAM role name"),
            });
        }

        let notify_format = match get("NOTIFY_FORMAT").as_deref() {
            None | Some("text") => NotifyFormat::Text,
            Some("chatbot") => NotifyFormat::Chatbot,
            Some(other) => {
                return Err(SettingsError {
                    name: "NOTIFY_FORMAT",
                    message: format!("expected text or chatbot, found {other:?}"),
                });
            }
        };
        let enrichment_window_minutes = match get("ENRICHMENT_WINDOW_MINUTES") {
            None => 60,
            Some(v) => match v.parse::<u32>() {
                Ok(m) if (1..=1440).contains(&m) => m,
                _ => {
                    return Err(SettingsError {
                        name: "ENRICHMENT_WINDOW_MINUTES",
                        message: format!("expected minutes from 1 to 1440, found {v:?}"),
                    });
                }
            },
        };

        let posture = crate::posture::PostureConfig {
            max_delivery_age: chrono::Duration::minutes(match get("TRAIL_DELIVERY_MAX_AGE_MINUTES") {
                None => 30,
                Some(v) => match v.parse::<i64>() {
                    Ok(m) if (5..=1440).contains(&m) => m,
                    _ => {
                        return Err(SettingsError {
                            name: "TRAIL_DELIVERY_MAX_AGE_MINUTES",
                            message: format!("expected minutes from 5 to 1440, found {v:?}"),
                        });
                    }
                },
            }),
            sensitive_buckets: get("SENSITIVE_BUCKETS")
                .map(|v| v.split(',').map(str::trim).filter(|b| !b.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default(),
            rules: get("RESPONDER_RULES")
                .map(|v| v.split(',').map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default(),
            require_insights: flag(&get, "REQUIRE_INSIGHTS", true)?,
        };

        let guardduty_detector_id = get("GUARDDUTY_DETECTOR_ID");
        if let Some(id) = guardduty_detector_id
            .as_ref()
            .filter(|id| !(1..=300).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(SettingsError {
                name: "GUARDDUTY_DETECTOR_ID",
                message: format!("{id:?} is not a GuardDuty detector id"),
            });
        }

        let evidence = EvidenceSettings {
            bucket: match get("EVIDENCE_BUCKET") {
                Some(b) if crate::target::is_bucket_name(&b) => Some(b),
                Some(b) => {
                    return Err(SettingsError {
                        name: "EVIDENCE_BUCKET",
                        message: format!("{b:?} is not a bucket name"),
                    });
                }
                None => None,
            },
            key_arn: match get("EVIDENCE_KEY_ARN") {
                Some(k) if is_kms_key_arn(&k) => Some(k),
                Some(k) => {
                    return Err(SettingsError {
                        name: "EVIDENCE_KEY_ARN",
                        message: format!("{k:?} is not a KMS key ARN (arn:PARTITION:kms:REGION:ACCOUNT:key/ID)"),
                    });
                }
                None => None,
            },
            delete_malicious_objects: flag(&get, "DELETE_MALICIOUS_OBJECTS", false)?,
            start_malware_scans: flag(&get, "START_MALWARE_SCANS", false)?,
        };

        let siem_bucket = match get("SIEM_BUCKET") {
            Some(b) if crate::target::is_bucket_name(&b) => Some(b),
            Some(b) => {
                return Err(SettingsError { name: "SIEM_BUCKET", message: format!("{b:?} is not a bucket name") });
            }
            None => None,
        };

        Ok(Settings {
            security_hub_write_back: flag(&get, "SECURITY_HUB_WRITE_BACK", false)?,
            siem_bucket,
            evidence,
            verify_findings: flag(&get, "VERIFY_FINDINGS", true)?,
            guardduty_detector_id,
            posture,
            notify_format,
            enrichment_window_minutes,
            notify_topic_arn,
            policy,
            member_role_name,
            member_role_external_id: get("MEMBER_ROLE_EXTERNAL_ID"),
            key_scope,
        })
    }

    /// Reads settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

fn is_sns_topic_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "sns"
        && !parts[3].is_empty()
        && AccountId::parse(parts[4]).is_ok()
        && !parts[5].is_empty()
}

/// `arn:PARTITION:kms:REGION:ACCOUNT:key/ID`: a key another account can be
/// granted use of (an alias is resolved in the caller's account only).
fn is_kms_key_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "kms", region, account, resource]
        if partition.starts_with("aws")
            && !region.is_empty()
            && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
            && resource.strip_prefix("key/").is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')))
}

fn flag(get: &impl Fn(&str) -> Option<String>, name: &'static str, default: bool) -> Result<bool, SettingsError> {
    match get(name) {
        None => Ok(default),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(SettingsError { name, message: format!("expected true or false, found {v:?}") }),
        },
    }
}

fn threshold(get: &impl Fn(&str) -> Option<String>, name: &'static str, default: f64) -> Result<f64, SettingsError> {
    let Some(v) = get(name) else { return Ok(default) };
    match v.parse::<f64>() {
        Ok(t) if (1.0..=10.0).contains(&t) => Ok(t),
        _ => Err(SettingsError { name, message: format!("expected a severity from 1.0 to 10.0, found {v:?}") }),
    }
}

fn approval(get: &impl Fn(&str) -> Option<String>) -> Result<crate::policy::Approval, SettingsError> {
    let list = |name: &str| -> Vec<String> {
        get(name)
            .map(|v| v.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let accounts = list("APPROVAL_ACCOUNTS");
    let all_accounts = accounts.iter().any(|a| a == "*");
    let accounts = accounts
        .iter()
        .filter(|a| *a != "*")
        .map(|a| AccountId::parse(a).map_err(|message| SettingsError { name: "APPROVAL_ACCOUNTS", message }))
        .collect::<Result<Vec<_>, _>>()?;
    let tags = list("APPROVAL_TAGS")
        .into_iter()
        .map(|t| {
            let (key, value) = match t.split_once('=') {
                Some((k, v)) => (k.trim().to_owned(), Some(v.trim().to_owned())),
                None => (t, None),
            };
            if key.is_empty() || key.len() > 128 {
                return Err(SettingsError {
                    name: "APPROVAL_TAGS",
                    message: format!("{key:?} is not a tag key (1 to 128 characters); write key or key=value"),
                });
            }
            Ok((key, value))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(crate::policy::Approval {
        finding_types: list("APPROVAL_FINDING_TYPES").into_iter().map(Pattern::new).collect(),
        accounts,
        all_accounts,
        tags,
    })
}

fn allowed_accounts(value: Option<String>) -> Result<AllowedAccounts, SettingsError> {
    let Some(value) = value else {
        return Ok(AllowedAccounts::HomeOnly);
    };
    if value == "*" {
        return Ok(AllowedAccounts::Any);
    }
    value
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| AccountId::parse(a).map_err(|message| SettingsError { name: "ALLOWED_ACCOUNTS", message }))
        .collect::<Result<Vec<_>, _>>()
        .map(AllowedAccounts::Listed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_safe() {
        let s = parse(&[]).unwrap();
        assert!(!s.policy.dry_run);
        assert_eq!(s.policy.remediation_threshold, 7.0);
        assert_eq!(s.policy.alert_threshold, 4.0);
        assert_eq!(s.policy.allowed_accounts, AllowedAccounts::HomeOnly);
        assert!(!s.policy.act_on_samples && !s.policy.act_on_archived);
        assert_eq!(s.notify_topic_arn, None);
        assert_eq!(s.key_scope, KeyScope::AllKeys);
        // No evidence store until one is named; never delete an object unasked.
        assert_eq!(s.evidence, EvidenceSettings::default());
        assert!(!s.evidence.delete_malicious_objects && s.evidence.bucket.is_none());
        assert!(!s.evidence.start_malware_scans, "no scan a plain function was not asked for");
    }

    #[test]
    fn values_are_read() {
        let s = parse(&[
            ("DRY_RUN", "TRUE"),
            ("REMEDIATION_SEVERITY_THRESHOLD", "8.5"),
            ("NOTIFY_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
            ("ALLOWED_ACCOUNTS", "111122223333, 444455556666"),
            ("PROTECTED_PRINCIPALS", "BreakGlass, arn:aws:iam::*:role/Admin*"),
            ("DISABLE_USER_KEYS", "finding-key"),
        ])
        .unwrap();
        assert!(s.policy.dry_run);
        assert_eq!(s.policy.remediation_threshold, 8.5);
        assert_eq!(s.policy.protected_principals.len(), 2);
        assert!(matches!(s.policy.allowed_accounts, AllowedAccounts::Listed(ref l) if l.len() == 2));
        assert_eq!(s.key_scope, KeyScope::FindingKey);
        assert_eq!(parse(&[("ALLOWED_ACCOUNTS", "*")]).unwrap().policy.allowed_accounts, AllowedAccounts::Any);
        let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let e = parse(&[
            ("EVIDENCE_BUCKET", "org-evidence"),
            ("EVIDENCE_KEY_ARN", key),
            ("DELETE_MALICIOUS_OBJECTS", "true"),
            ("START_MALWARE_SCANS", "true"),
        ])
        .unwrap()
        .evidence;
        assert_eq!((e.bucket.as_deref(), e.key_arn.as_deref()), (Some("org-evidence"), Some(key)));
        assert!(e.delete_malicious_objects && e.start_malware_scans);
    }

    #[test]
    fn bad_values_name_the_setting() {
        for (name, value) in [
            ("DRY_RUN", "yes"),
            ("REMEDIATION_SEVERITY_THRESHOLD", "high"),
            ("ALERT_SEVERITY_THRESHOLD", "11"),
            ("NOTIFY_TOPIC_ARN", "alerts"),
            ("ALLOWED_ACCOUNTS", "12345"),
            ("DISABLE_USER_KEYS", "some"),
            ("MEMBER_ROLE_NAME", "a/b"),
            ("NOTIFY_FORMAT", "slack"),
            ("ENRICHMENT_WINDOW_MINUTES", "0"),
            ("TRAIL_DELIVERY_MAX_AGE_MINUTES", "2"),
            ("REQUIRE_INSIGHTS", "maybe"),
            ("EVIDENCE_BUCKET", "Evidence_Bucket"),
            ("EVIDENCE_KEY_ARN", "alias/guardduty-responder-evidence"),
            ("EVIDENCE_KEY_ARN", "arn:aws:kms:us-east-1:123456789012:alias/evidence"),
            ("EVIDENCE_KEY_ARN", "arn:aws:kms:us-east-1:12345:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
            ("DELETE_MALICIOUS_OBJECTS", "yes"),
            ("START_MALWARE_SCANS", "sometimes"),
            ("SECURITY_HUB_WRITE_BACK", "on"),
            ("SIEM_BUCKET", "s3://reports"),
            ("APPROVAL_ACCOUNTS", "prod"),
            ("APPROVAL_TAGS", "=critical"),
        ] {
            let e = parse(&[(name, value)]).unwrap_err();
            assert_eq!(e.name, name);
            assert!(e.to_string().contains(name));
        }
    }

    #[test]
    fn approval_settings_are_read() {
        let s = parse(&[
            ("APPROVAL_FINDING_TYPES", "CryptoCurrency:EC2/*, Backdoor:EC2/Spambot"),
            ("APPROVAL_ACCOUNTS", "111122223333,*"),
            ("APPROVAL_TAGS", "env=prod, guardduty-responder:approve"),
        ])
        .unwrap();
        let a = &s.policy.approval;
        assert_eq!(a.finding_types.len(), 2);
        assert_eq!(a.finding_types[1].as_str(), "Backdoor:EC2/Spambot");
        assert!(a.all_accounts);
        assert_eq!(a.accounts.len(), 1);
        assert_eq!(a.tags, vec![("env".into(), Some("prod".into())), ("guardduty-responder:approve".into(), None)]);
        let none = parse(&[]).unwrap();
        assert_eq!(none.policy.approval, crate::policy::Approval::default());
        assert!(!none.security_hub_write_back);
        assert_eq!(none.siem_bucket, None);
    }
}
