//! A report as one OCSF event, for a SIEM: the Remediation category of the
//! Open Cybersecurity Schema Framework, [`OCSF_VERSION`]. Each function maps
//! to the class and activity that fit what it does (network isolation of an
//! instance, a file put out of reach, a principal evicted, a service
//! restored); the report itself, whole, is kept under `unmapped`, so a SIEM
//! rule can read every step without a second source.

use serde_json::{Value, json};

use crate::report::{Outcome, Report};

/// The OCSF schema version the documents follow.
pub const OCSF_VERSION: &str = "1.3.0";
/// Remediation (category 7).
pub const CATEGORY_UID: u32 = 7;

/// The Remediation classes the responder writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 7001: any remediation of a resource or principal.
    Remediation = 7001,
    /// 7002: a file (an S3 object) quarantined or removed.
    File = 7002,
    /// 7004: a host cut off from the network.
    Network = 7004,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Remediation => "Remediation Activity",
            Class::File => "File Remediation Activity",
            Class::Network => "Network Remediation Activity",
        }
    }
}

/// The Remediation activities (`activity_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Isolate = 1,
    Evict = 2,
    Restore = 3,
    Harden = 4,
    Other = 99,
}

impl Activity {
    pub fn name(self) -> &'static str {
        match self {
            Activity::Isolate => "Isolate",
            Activity::Evict => "Evict",
            Activity::Restore => "Restore",
            Activity::Harden => "Harden",
            Activity::Other => "Other",
        }
    }
}

/// The class and activity of a function's response.
pub fn class_of(function: &str, finding_type: &str) -> (Class, Activity) {
    match function {
        "quarantine-instance" if finding_type.starts_with("Execution:EC2/MaliciousFile!") => {
            (Class::File, Activity::Isolate)
        }
        "quarantine-instance" | "isolate-database" => (Class::Network, Activity::Isolate),
        "protect-s3-bucket" if finding_type.starts_with("Object:S3/") => (Class::File, Activity::Isolate),
        "protect-s3-bucket" => (Class::Remediation, Activity::Harden),
        "revoke-role-sessions" | "disable-iam-user" => (Class::Remediation, Activity::Evict),
        "contain-lambda-function" | "contain-ecs-task" | "contain-eks-workload" => {
            (Class::Remediation, Activity::Isolate)
        }
        "restore-cloudtrail" => (Class::Remediation, Activity::Restore),
        _ => (Class::Remediation, Activity::Other),
    }
}

/// OCSF `severity_id` for a GuardDuty severity: Low 2, Medium 3, High 4,
/// Critical 5 (GuardDuty's bands).
pub fn severity_id(severity: Option<f64>) -> u8 {
    match severity {
        None => 0,
        Some(s) if s >= 9.0 => 5,
        Some(s) if s >= 7.0 => 4,
        Some(s) if s >= 4.0 => 3,
        Some(_) => 2,
    }
}

/// `status_id` (1 Success, 2 Failure, 99 Other) and the status's name.
fn status(outcome: Outcome) -> (u8, &'static str) {
    match outcome {
        Outcome::Contained => (1, "Success"),
        Outcome::Failed => (2, "Failure"),
        Outcome::Partial => (99, "Partial"),
        Outcome::Skipped => (99, "Skipped"),
        Outcome::DryRun => (99, "Dry run"),
    }
}

/// The report as an OCSF Remediation event; `time_ms` is when it was
/// written (epoch milliseconds).
pub fn document(report: &Report, time_ms: i64) -> Value {
    let (class, activity) = class_of(&report.function, &report.finding_type);
    let (status_id, status_name) = status(report.outcome);
    let class_uid = class as u32;
    let message = match &report.reason {
        Some(reason) => format!("{} {}: {} ({reason})", report.function, report.finding_type, report.outcome),
        None => format!("{} {}: {}", report.function, report.finding_type, report.outcome),
    };
    let mut doc = json!({
        "category_uid": CATEGORY_UID,
        "category_name": "Remediation",
        "class_uid": class_uid,
        "class_name": class.name(),
        "activity_id": activity as u8,
        "activity_name": activity.name(),
        "type_uid": u64::from(class_uid) * 100 + activity as u64,
        "type_name": format!("{}: {}", class.name(), activity.name()),
        "time": time_ms,
        "severity_id": severity_id(report.severity),
        "status_id": status_id,
        "status": status_name,
        "status_code": report.outcome.to_string(),
        "message": message,
        "command_uid": format!("{}/{}", report.finding_id, report.function),
        "metadata": {
            "version": OCSF_VERSION,
            "product": {
                "name": "guardduty-responder",
                "vendor_name": "guardduty-responder",
                "feature": { "name": report.function },
                "version": env!("CARGO_PKG_VERSION"),
            },
            "correlation_uid": report.finding_id,
            "log_name": "guardduty-responder reports",
        },
        "cloud": { "provider": "AWS" },
        "unmapped": { "guardduty_responder_report": report },
    });
    if let Some(reason) = &report.reason {
        doc["status_detail"] = reason.clone().into();
    }
    if let Some(account) = &report.account {
        doc["cloud"]["account"] = json!({ "uid": account, "type": "AWS Account", "type_id": 10 });
    }
    if let Some(region) = &report.region {
        doc["cloud"]["region"] = region.clone().into();
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{StepRecord, StepStatus};

    fn report(function: &str, outcome: Outcome) -> Report {
        let mut r = Report::for_test(outcome, vec![StepRecord::new("isolate-eni", "eni-1", StepStatus::Done, "")]);
        r.function = function.to_owned();
        r.finding_type = "Backdoor:EC2/C&CActivity.B!DNS".to_owned();
        r.severity = Some(8.0);
        r.account = Some("111122223333".to_owned());
        r.region = Some("us-east-1".to_owned());
        r
    }

    #[test]
    fn a_contained_quarantine_is_a_successful_network_isolation() {
        let doc = document(&report("quarantine-instance", Outcome::Contained), 1_700_000_000_000);
        assert_eq!(doc["class_uid"], 7004);
        assert_eq!(doc["activity_id"], 1);
        assert_eq!(doc["type_uid"], 700401);
        assert_eq!(doc["category_uid"], 7);
        assert_eq!(doc["status_id"], 1);
        assert_eq!(doc["severity_id"], 4);
        assert_eq!(doc["metadata"]["version"], OCSF_VERSION);
        assert_eq!(doc["cloud"]["account"]["uid"], "111122223333");
        assert_eq!(doc["unmapped"]["guardduty_responder_report"]["steps"][0]["action"], "isolate-eni");
    }

    #[test]
    fn each_function_has_its_class_and_partial_is_never_success() {
        let doc = document(&report("disable-iam-user", Outcome::Partial), 0);
        assert_eq!((doc["class_uid"].as_u64(), doc["activity_id"].as_u64()), (Some(7001), Some(2)));
        assert_eq!(doc["status_id"], 99);
        assert_eq!(doc["status"], "Partial");
        let doc = document(&report("restore-cloudtrail", Outcome::Failed), 0);
        assert_eq!((doc["type_uid"].as_u64(), doc["status_id"].as_u64()), (Some(700103), Some(2)));
        let mut object = report("protect-s3-bucket", Outcome::Contained);
        object.finding_type = "Object:S3/MaliciousFile".to_owned();
        assert_eq!(document(&object, 0)["class_uid"], 7002);
        assert_eq!(severity_id(Some(9.5)), 5);
        assert_eq!(severity_id(Some(5.0)), 3);
        assert_eq!(severity_id(Some(2.0)), 2);
    }
}
