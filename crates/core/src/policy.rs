//! What the operator allows the responder to do, as data. Built once from
//! [`Settings`](crate::Settings) at start-up; read by [`decide`](crate::decide)
//! and by the executors (for the live exemption-tag check).

use crate::finding::AccountId;
use crate::pattern::Pattern;

/// Which accounts the responder may act in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedAccounts {
    /// Only the account the function runs in (the default).
    HomeOnly,
    /// Exactly these.
    Listed(Vec<AccountId>),
    /// Any account (`ALLOWED_ACCOUNTS=*`).
    Any,
}

#[derive(Debug, Clone)]
pub struct Policy {
    /// Findings below this severity are not remediated (default 7.0, High).
    pub remediation_threshold: f64,
    /// Findings below this severity are not alerted on (default 4.0, Medium).
    pub alert_threshold: f64,
    /// Resources carrying this tag with value `true` are never touched.
    pub exempt_tag: String,
    /// IAM principals (names or ARNs, `*` wildcards) never touched.
    pub protected_principals: Vec<Pattern>,
    pub allowed_accounts: AllowedAccounts,
    /// The account the function runs in, learned from STS at start-up.
    pub home_account: Option<AccountId>,
    /// Act on generated sample findings (default no: they carry dummy ids).
    pub act_on_samples: bool,
    /// Act on archived findings (default no).
    pub act_on_archived: bool,
    /// Contain on `*:IAMUser/AnomalousBehavior` findings (default: alert only).
    pub contain_anomalous_behavior: bool,
    /// On instance credential exfiltration, revoke every session of the
    /// instance's role (default no: deny only the stolen session, so the
    /// role's other instances keep working).
    pub exfiltration_revokes_all_sessions: bool,
    /// Turn the account's S3 public access block back on when it is turned
    /// off (default yes); off, that finding is alerted only.
    pub protect_account_public_access: bool,
    /// Isolate databases on successful malicious logins (default yes);
    /// off, database findings are alerted only.
    pub isolate_databases: bool,
    /// Isolate an EKS node or ECS container instance as a whole even when
    /// the finding names the pod or task (default no: the container
    /// playbook contains the workload, not its neighbours).
    pub isolate_container_nodes: bool,
    /// When a finding implicates a service's image, scale the service to 0
    /// (its desired count recorded for release) so it does not start the
    /// image again (default no: an outage is a person's call).
    pub scale_down_services: bool,
    /// Plan and report, change nothing.
    pub dry_run: bool,
    /// Findings a person approves before anything changes.
    pub approval: Approval,
}

/// Approval mode: findings matching any of these are only proposed (the
/// plan reported, nothing changed) until a person approves them with the
/// Security Hub custom action or `responder respond`. Empty: none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Approval {
    /// `APPROVAL_FINDING_TYPES`: finding type patterns (`*` wildcards).
    pub finding_types: Vec<Pattern>,
    /// `APPROVAL_ACCOUNTS`: the accounts whose findings wait (`*`: all).
    pub accounts: Vec<AccountId>,
    pub all_accounts: bool,
    /// `APPROVAL_TAGS`: `key` or `key=value`; a resource the finding shows
    /// with such a tag waits. Read from the finding: waiting for a person
    /// is the cautious side, so a hint is enough to hold back.
    pub tags: Vec<(String, Option<String>)>,
}

impl Approval {
    /// Why this finding waits for a person, when it does.
    pub fn needed_for(&self, finding: &crate::Finding) -> Option<String> {
        let kind = finding.finding_type.as_str();
        if let Some(p) = self.finding_types.iter().find(|p| p.matches(kind)) {
            return Some(format!("finding type {kind} matches APPROVAL_FINDING_TYPES {:?}", p.as_str()));
        }
        if self.all_accounts || self.accounts.contains(&finding.account_id) {
            return Some(format!("account {} is in APPROVAL_ACCOUNTS", finding.account_id));
        }
        for tag in finding.resource_tags() {
            let matched = self.tags.iter().find(|(key, value)| {
                *key == tag.key && value.as_ref().is_none_or(|v| v.eq_ignore_ascii_case(tag.value.trim()))
            });
            if let Some((key, value)) = matched {
                let wanted = value.as_ref().map(|v| format!("{key}={v}")).unwrap_or_else(|| key.clone());
                return Some(format!("the resource is tagged {}={} (APPROVAL_TAGS {wanted:?})", tag.key, tag.value));
            }
        }
        None
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            remediation_threshold: 7.0,
            alert_threshold: 4.0,
            exempt_tag: crate::tags::EXEMPT.to_owned(),
            protected_principals: Vec::new(),
            allowed_accounts: AllowedAccounts::HomeOnly,
            home_account: None,
            act_on_samples: false,
            act_on_archived: false,
            contain_anomalous_behavior: false,
            exfiltration_revokes_all_sessions: false,
            isolate_databases: true,
            isolate_container_nodes: false,
            scale_down_services: false,
            protect_account_public_access: true,
            dry_run: false,
            approval: Approval::default(),
        }
    }
}

impl Policy {
    /// The policy a person's request (a Security Hub custom action,
    /// `responder respond`) is decided under: no severity threshold and no
    /// approval mode, because a person chose; every other rule as configured.
    pub fn for_person(&self) -> Policy {
        Policy {
            remediation_threshold: crate::Severity::MIN,
            alert_threshold: crate::Severity::MIN,
            approval: Approval::default(),
            ..self.clone()
        }
    }

    /// Whether the responder may act in `account`. Unknown means no.
    pub fn allows_account(&self, account: &AccountId) -> bool {
        match &self.allowed_accounts {
            AllowedAccounts::Any => true,
            AllowedAccounts::Listed(list) => list.contains(account),
            AllowedAccounts::HomeOnly => self.home_account.as_ref() == Some(account),
        }
    }

    /// Whether a resource with these tags is exempt: the exemption tag with
    /// value `true` (case-insensitive, surrounding spaces ignored).
    pub fn is_exempt<'a>(&self, tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
        tags.into_iter().any(|(k, v)| k == self.exempt_tag && v.trim().eq_ignore_ascii_case("true"))
    }

    /// Whether any protected-principal pattern matches one of the names the
    /// principal goes by (its name, its ARN).
    pub fn protects(&self, names: &[&str]) -> Option<&Pattern> {
        self.protected_principals.iter().find(|p| names.iter().any(|n| p.matches(n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(file: &str) -> crate::Finding {
        let bytes = std::fs::read(format!("{}/../../events/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        crate::parse_event(&bytes).unwrap().finding
    }

    #[test]
    fn approval_holds_back_by_type_account_or_tag_and_nothing_else() {
        let f = finding("ec2-backdoor-c2-activity-critical.json");
        let tag = f.resource_tags().next().expect("the fixture's instance has tags").clone();
        assert_eq!(Approval::default().needed_for(&f), None);
        let by_type = Approval { finding_types: vec![Pattern::new("Backdoor:EC2/*")], ..Approval::default() };
        assert!(by_type.needed_for(&f).unwrap().contains("APPROVAL_FINDING_TYPES"));
        let other_type = Approval { finding_types: vec![Pattern::new("Recon:*")], ..Approval::default() };
        assert_eq!(other_type.needed_for(&f), None);
        let by_account = Approval { accounts: vec![f.account_id.clone()], ..Approval::default() };
        assert!(by_account.needed_for(&f).unwrap().contains("APPROVAL_ACCOUNTS"));
        let other_account =
            Approval { accounts: vec![AccountId::parse("999999999999").unwrap()], ..Approval::default() };
        assert_eq!(other_account.needed_for(&f), None);
        assert!(Approval { all_accounts: true, ..Approval::default() }.needed_for(&f).is_some());
        let by_key = Approval { tags: vec![(tag.key.clone(), None)], ..Approval::default() };
        assert!(by_key.needed_for(&f).unwrap().contains(&tag.key));
        let by_value = Approval { tags: vec![(tag.key.clone(), Some(tag.value.clone()))], ..Approval::default() };
        assert!(by_value.needed_for(&f).is_some());
        let other_value =
            Approval { tags: vec![(tag.key.clone(), Some("no-such-value".into()))], ..Approval::default() };
        assert_eq!(other_value.needed_for(&f), None);
    }
}
