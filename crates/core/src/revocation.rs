//! The session-revocation policy: the inline deny AWS's console writes for
//! "Revoke active sessions". It denies every action to credentials issued
//! before a cutoff (`aws:TokenIssueTime`), so sessions obtained later, such
//! as those of the legitimate owner after rotation, still work. Requests made
//! with long-term access keys carry no token issue time and are unaffected:
//! those keys are deactivated separately.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};

/// The policy name AWS's console uses; reusing it means a person who looks
/// finds the familiar thing, and revocations from either source overwrite
/// each other instead of piling up.
pub const POLICY_NAME: &str = "AWSRevokeOlderSessions";

/// The policy document denying sessions issued before `cutoff`.
pub fn policy_document(cutoff: DateTime<Utc>) -> String {
    let cutoff = cutoff.to_rfc3339_opts(SecondsFormat::Secs, true);
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": ["*"],
            "Resource": ["*"],
            "Condition": { "DateLessThan": { "aws:TokenIssueTime": cutoff } }
        }]
    })
    .to_string()
}

/// The cutoff in a revocation policy document, when it is one. Accepts the
/// URL-encoded form IAM returns documents in.
pub fn cutoff_of(document: &str) -> Option<DateTime<Utc>> {
    let decoded;
    let text = if document.trim_start().starts_with('{') {
        document
    } else {
        decoded = percent_decode(document)?;
        &decoded
    };
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let statements = match &value["Statement"] {
        serde_json::Value::Array(list) => list.clone(),
        single @ serde_json::Value::Object(_) => vec![single.clone()],
        _ => return None,
    };
    statements
        .iter()
        .filter(|s| s["Effect"] == "Deny")
        .filter_map(|s| s["Condition"]["DateLessThan"]["aws:TokenIssueTime"].as_str())
        .filter_map(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .max()
}

/// The later of `now` and an existing cutoff: a revocation only ever moves
/// forward, so a delayed or replayed delivery cannot re-admit sessions.
pub fn next_cutoff(now: DateTime<Utc>, existing: Option<DateTime<Utc>>) -> DateTime<Utc> {
    existing.map_or(now, |e| e.max(now))
}

/// The inline policy that denies single stolen role sessions, one
/// statement each, leaving every other session of the role working.
pub const STOLEN_SESSIONS_POLICY: &str = "GuardDutyResponderStolenSessions";

/// A document denying each `session` of the role whose unique id is
/// `role_id`, for credentials issued before its cutoff. `aws:userid` of an
/// assumed-role session is `ROLEID:SESSIONNAME`; an EC2 instance's role
/// session is named after the instance, so this denies one instance's
/// credentials, wherever they are used, and no other instance's.
pub fn stolen_sessions_document(role_id: &str, sessions: &BTreeMap<String, DateTime<Utc>>) -> String {
    let statements: Vec<serde_json::Value> = sessions
        .iter()
        .map(|(session, cutoff)| {
            let sid: String = session.chars().filter(char::is_ascii_alphanumeric).collect();
            serde_json::json!({
                "Sid": format!("StolenSession{sid}"),
                "Effect": "Deny",
                "Action": ["*"],
                "Resource": ["*"],
                "Condition": {
                    "StringEquals": { "aws:userid": format!("{role_id}:{session}") },
                    "DateLessThan": { "aws:TokenIssueTime": cutoff.to_rfc3339_opts(SecondsFormat::Secs, true) }
                }
            })
        })
        .collect();
    serde_json::json!({ "Version": "2012-10-17", "Statement": statements }).to_string()
}

/// The sessions (and their cutoffs) a stolen-sessions document denies.
pub fn stolen_sessions_of(document: &str) -> BTreeMap<String, DateTime<Utc>> {
    let decoded;
    let text = if document.trim_start().starts_with('{') {
        document
    } else {
        match percent_decode(document) {
            Some(d) => {
                decoded = d;
                &decoded
            }
            None => return BTreeMap::new(),
        }
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else { return BTreeMap::new() };
    let statements = match &value["Statement"] {
        serde_json::Value::Array(list) => list.clone(),
        single @ serde_json::Value::Object(_) => vec![single.clone()],
        _ => Vec::new(),
    };
    statements
        .iter()
        .filter(|s| s["Effect"] == "Deny")
        .filter_map(|s| {
            let user = s["Condition"]["StringEquals"]["aws:userid"].as_str()?;
            let (_, session) = user.split_once(':')?;
            let cutoff = s["Condition"]["DateLessThan"]["aws:TokenIssueTime"].as_str()?;
            let cutoff = DateTime::parse_from_rfc3339(cutoff).ok()?.with_timezone(&Utc);
            Some((session.to_owned(), cutoff))
        })
        .collect()
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn documents_round_trip_their_cutoff() {
        let t = at("2026-11-28T10:00:00Z");
        let doc = policy_document(t);
        assert!(doc.contains(r#""aws:TokenIssueTime":"2026-11-28T10:00:00Z""#));
        assert!(doc.contains(r#""Effect":"Deny""#));
        assert_eq!(cutoff_of(&doc), Some(t));
        let encoded = doc.replace('{', "%7B").replace('}', "%7D").replace('"', "%22").replace(':', "%3A");
        assert_eq!(cutoff_of(&encoded), Some(t));
        assert_eq!(cutoff_of("not a policy"), None);
        assert_eq!(cutoff_of(r#"{"Statement":[{"Effect":"Allow","Action":"*"}]}"#), None);
    }

    #[test]
    fn stolen_session_documents_round_trip() {
        let t = at("2026-11-28T10:00:00Z");
        let sessions: BTreeMap<String, DateTime<Utc>> =
            [("i-0a1b2c3d4e5f67890".to_owned(), t), ("i-0ffffffffffffffff".to_owned(), t)].into();
        let doc = stolen_sessions_document("AROAEXAMPLEROLEID", &sessions);
        assert!(doc.contains(r#""aws:userid":"AROAEXAMPLEROLEID:i-0a1b2c3d4e5f67890""#), "{doc}");
        assert!(doc.contains(r#""Sid":"StolenSessioni0a1b2c3d4e5f67890""#), "{doc}");
        assert_eq!(stolen_sessions_of(&doc), sessions);
        // Not a revocation of every session.
        assert_eq!(cutoff_of(&doc), Some(t));
        assert!(stolen_sessions_of(&policy_document(t)).is_empty());
    }

    #[test]
    fn cutoffs_only_move_forward() {
        let early = at("2026-11-28T10:00:00Z");
        let late = at("2026-11-28T11:00:00Z");
        assert_eq!(next_cutoff(late, Some(early)), late);
        assert_eq!(next_cutoff(early, Some(late)), late);
        assert_eq!(next_cutoff(early, None), early);
    }
}
