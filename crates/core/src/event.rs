//! From raw Lambda payload bytes to a [`FindingEvent`], or an
//! [`InvalidEvent`] that names what is wrong.
//!
//! The functions parse the payload themselves (not through the runtime's
//! deserializer) so that every kind of bad input, from truncated JSON to an
//! S3 notification sent to the wrong function, fails the same way: error type
//! `InvalidEvent`, a message a person can act on, and nothing changed.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::value::RawValue;

use crate::finding::{Finding, truncate};

/// The EventBridge source and detail-type of GuardDuty findings.
pub const GUARDDUTY_SOURCE: &str = "aws.guardduty";
pub const GUARDDUTY_DETAIL_TYPE: &str = "GuardDuty Finding";

/// Longest error message we produce: serde quotes offending values, and a
/// megabyte-long field must not become a megabyte-long error.
const MAX_MESSAGE_CHARS: usize = 600;

/// The payload is not a GuardDuty finding event, or cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidEvent {
    message: String,
}

impl InvalidEvent {
    pub fn new(message: impl AsRef<str>) -> Self {
        InvalidEvent { message: truncate(message.as_ref(), MAX_MESSAGE_CHARS) }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A GuardDuty finding with the parts of its EventBridge envelope worth keeping.
#[derive(Debug, Clone)]
pub struct FindingEvent {
    /// EventBridge event id (differs between deliveries of the same finding).
    pub event_id: Option<String>,
    /// The account that received the event (the administrator account).
    pub receiving_account: Option<String>,
    pub finding: Finding,
}

/// Parses a raw payload as a GuardDuty finding event.
pub fn parse_event(payload: &[u8]) -> Result<FindingEvent, InvalidEvent> {
    let first = payload.iter().find(|b| !b.is_ascii_whitespace());
    let found = match first {
        None => {
            return Err(InvalidEvent::new("empty payload: expected a GuardDuty finding event (a JSON object)"));
        }
        Some(b'{') => None,
        Some(b'[') => Some("an array"),
        Some(b'"') => Some("a string"),
        Some(b'n') => Some("null"),
        Some(b't' | b'f') => Some("a boolean"),
        Some(b'-' | b'0'..=b'9') => Some("a number"),
        Some(_) => Some("something that is not JSON"),
    };
    if let Some(found) = found {
        return Err(InvalidEvent::new(format!("expected a GuardDuty finding event (a JSON object), found {found}")));
    }

    let envelope: EventBridgeEvent<Box<RawValue>> =
        serde_json::from_slice(payload).map_err(|e| InvalidEvent::new(format!("not an EventBridge event: {e}")))?;
    if envelope.source != GUARDDUTY_SOURCE || envelope.detail_type != GUARDDUTY_DETAIL_TYPE {
        return Err(InvalidEvent::new(format!(
            "not a GuardDuty finding: source {:?} and detail-type {:?}, expected {GUARDDUTY_SOURCE:?} and {GUARDDUTY_DETAIL_TYPE:?}",
            truncate(&envelope.source, 60),
            truncate(&envelope.detail_type, 60),
        )));
    }

    let mut de = serde_json::Deserializer::from_str(envelope.detail.get());
    let finding: Finding = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            InvalidEvent::new(format!("detail is not a GuardDuty finding: {inner}"))
        } else {
            InvalidEvent::new(format!("detail.{path}: {inner}"))
        }
    })?;

    Ok(FindingEvent { event_id: envelope.id, receiving_account: envelope.account, finding })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal(detail: &str) -> String {
        format!(
            r#"{{"version":"0","id":"e1","detail-type":"GuardDuty Finding","source":"aws.guardduty",
               "account":"111122223333","time":"2026-11-01T10:00:00Z","region":"us-east-1","resources":[],
               "detail":{detail}}}"#
        )
    }

    const DETAIL: &str = r#"{"id":"f1","type":"Backdoor:EC2/Spambot","severity":8,"accountId":"111122223333",
        "region":"us-east-1","resource":{"resourceType":"Instance","instanceDetails":{"instanceId":"i-0123456789abcdef0"}}}"#;

    fn err(payload: &str) -> String {
        match parse_event(payload.as_bytes()) {
            Ok(_) => panic!("{payload:.80} should be rejected"),
            Err(e) => e.message().to_owned(),
        }
    }

    #[test]
    fn a_minimal_finding_parses() {
        let event = parse_event(minimal(DETAIL).as_bytes()).unwrap();
        assert_eq!(event.finding.id, "f1");
        assert_eq!(event.finding.severity.value(), 8.0);
        assert_eq!(event.event_id.as_deref(), Some("e1"));
    }

    #[test]
    fn non_objects_are_named() {
        assert!(err("").contains("empty payload"));
        assert!(err("  \n").contains("empty payload"));
        assert!(err("[]").contains("found an array"));
        assert!(err("null").contains("found null"));
        assert!(err("\"hello\"").contains("found a string"));
        assert!(err("42").contains("found a number"));
        assert!(err("true").contains("found a boolean"));
        assert!(err("<xml/>").contains("not JSON"));
    }

    #[test]
    fn envelopes_that_are_not_guardduty_are_rejected() {
        assert!(err("{}").contains("missing field `detail-type`"));
        let ec2 = r#"{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{}}"#;
        let m = err(ec2);
        assert!(m.contains("not a GuardDuty finding") && m.contains("aws.ec2"), "{m}");
        let no_detail = r#"{"detail-type":"GuardDuty Finding","source":"aws.guardduty"}"#;
        assert!(err(no_detail).contains("missing field `detail`"));
    }

    #[test]
    fn truncated_json_is_rejected() {
        let full = minimal(DETAIL);
        for cut in [1, 10, full.len() / 2, full.len() - 1] {
            let m = err(&full[..cut]);
            assert!(m.contains("EOF") || m.contains("not an EventBridge event"), "{m}");
        }
    }

    #[test]
    fn wrong_field_types_name_the_field() {
        let m = err(&minimal(&DETAIL.replace(r#""severity":8"#, r#""severity":"high""#)));
        assert!(m.starts_with("detail.severity:"), "{m}");
        let m = err(&minimal(&DETAIL.replace(r#""severity":8"#, r#""severity":80"#)));
        assert!(m.contains("outside GuardDuty's range"), "{m}");
        let m = err(&minimal(&DETAIL.replace("i-0123456789abcdef0", "i-; rm -rf /")));
        assert!(m.starts_with("detail.resource.instanceDetails.instanceId:"), "{m}");
        let m = err(&minimal(
            &DETAIL
                .replace("111122223333\",\n", "12\",\n")
                .replace(r#""accountId":"111122223333""#, r#""accountId":"12""#),
        ));
        assert!(m.starts_with("detail.accountId:"), "{m}");
        let m = err(&minimal(r#"{"id":"f1"}"#));
        assert!(m.contains("missing field"), "{m}");
        let m = err(&minimal("[]"));
        assert!(m.contains("detail"), "{m}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        // Inside a field the model ignores: skipped without recursion.
        let ignored = DETAIL
            .replace(r#""region":"us-east-1","resource""#, &format!(r#""region":"us-east-1","x":{deep},"resource""#));
        assert!(parse_event(minimal(&ignored).as_bytes()).is_ok());
        // Inside a field the model reads as free-form JSON: the depth limit.
        let read = DETAIL.replace(
            r#""resourceType":"Instance","#,
            &format!(r#""resourceType":"Instance","instanceDetails":{{"instanceId":"i-0123456789abcdef0"}}}},"service":{{"action":{{"dnsRequestAction":{deep}}}}},"x":{{"#),
        );
        let m = err(&minimal(&read));
        assert!(m.contains("recursion limit"), "{m}");
        // As the whole payload.
        assert!(err(&deep).contains("found an array"));
        let deep_obj = format!("{}1{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
        assert!(err(&deep_obj).contains("not an EventBridge event"));
    }

    #[test]
    fn huge_fields_give_bounded_messages() {
        let huge = "A".repeat(1 << 20);
        let m = err(&minimal(&DETAIL.replace("Backdoor:EC2/Spambot", &huge)));
        assert!(m.chars().count() <= MAX_MESSAGE_CHARS + 1, "{}", m.len());
        assert!(m.starts_with("detail.type:"), "{m:.100}");
        // A huge value in an ignored field is fine.
        let ok = DETAIL.replace(
            r#""region":"us-east-1","resource""#,
            &format!(r#""region":"us-east-1","title":"{huge}","resource""#),
        );
        assert!(parse_event(minimal(&ok).as_bytes()).is_ok());
    }
}
