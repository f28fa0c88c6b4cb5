//! isolate-database: which RDS Protection findings isolate the database.

use crate::finding::Finding;
use crate::plan::{Plan, Scope, Skip};
use crate::policy::Policy;
use crate::target::Target;

use super::{gates, matches_any, severity_gate};

/// Successful logins the database is isolated on.
const DATABASE_TYPES: &[&str] = &[
    "CredentialAccess:RDS/MaliciousIPCaller.SuccessfulLogin",
    "CredentialAccess:RDS/TorIPCaller.SuccessfulLogin",
    "CredentialAccess:RDS/AnomalousBehavior.SuccessfulBruteForce",
];

/// An unusual but successful login: isolated only when the policy opts in.
const DATABASE_ANOMALY_TYPES: &[&str] = &["CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin"];

/// isolate-database.
pub(crate) fn isolate_database(target: Target, finding: &Finding, policy: &Policy, scope: Scope) -> Result<Plan, Skip> {
    let finding_type = finding.finding_type.as_str();
    let Target::Database { instance_id, cluster_id } = target else {
        return Err(Skip::NotForThisFunction(match target {
            Target::Unsupported { reason } if finding.resource.resource_type == "RDSDBInstance" => reason,
            _ => "the finding is not about an RDS database".into(),
        }));
    };
    if matches_any(DATABASE_ANOMALY_TYPES, finding_type) {
        if !policy.contain_anomalous_behavior {
            return Err(Skip::TypeNotHandled(format!("{finding_type} (set CONTAIN_ANOMALOUS_BEHAVIOR to isolate)")));
        }
    } else if !matches_any(DATABASE_TYPES, finding_type) {
        return Err(Skip::TypeNotHandled(finding_type.to_owned()));
    }
    if !policy.isolate_databases {
        return Err(Skip::TypeNotHandled(format!(
            "{finding_type}: databases are alert-only (ISOLATE_DATABASES is false)"
        )));
    }
    gates(finding, policy)?;
    severity_gate(finding, policy)?;
    let login_user = finding.resource.rds_db_user_details.as_ref().and_then(|u| u.user.clone());
    Ok(Plan::IsolateDatabase { scope, instance_id, cluster_id, login_user })
}
