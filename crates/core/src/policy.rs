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
    /// Plan and report, change nothing.
    pub dry_run: bool,
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
            protect_account_public_access: true,
            dry_run: false,
        }
    }
}

impl Policy {
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
