//! # responder-core
//!
//! Everything guardduty-responder *decides*, with nothing it *does*. This crate
//! reads a GuardDuty finding as EventBridge delivers it, classifies what it is
//! about, and turns it into a [`Plan`] or a reasoned [`Skip`] under a
//! [`Policy`]. It never talks to AWS: the `responder-aws` crate carries plans
//! out and fills in a [`Report`].
//!
//! Keeping the decisions pure means "what would happen for this finding?" is
//! answered by calling [`decide`] on a fixture, with no mocks and no network,
//! and the whole table of fixtures × expected decisions is a unit test.
//!
//! Layout:
//! - [`event`]: parsing the raw Lambda payload into a [`Finding`], with
//!   `InvalidEvent` errors that name the problem.
//! - [`finding`]: the typed finding (camelCase, unknown fields ignored) and the
//!   value types that cannot hold bad values ([`Severity`], [`FindingType`],
//!   [`AccountId`], [`InstanceId`]).
//! - [`target`]: what the finding is about ([`Target`]).
//! - [`policy`] and [`settings`]: what the operator allows, from environment
//!   variables validated once at start-up.
//! - [`plan`]: [`decide`], the heart of it; each function's own decision is
//!   in `playbooks/<family>.rs`.
//! - [`report`]: what a function answers and publishes.
//! - [`verify`]: comparing an event's finding with GuardDuty's own.
//! - [`request`]: a person's request (Security Hub custom actions), and
//!   GuardDuty's own finding as the event the functions handle.
//! - [`suppress`]: the GuardDuty filter that would archive a finding's kind.
//! - [`ocsf`]: a report as an OCSF remediation activity, for a SIEM.

pub mod event;
pub mod finding;
pub mod metrics;
pub mod ocsf;
pub mod pattern;
pub mod plan;
pub mod playbooks;
pub mod policy;
pub mod posture;
pub mod record;
pub mod report;
pub mod request;
pub mod revocation;
pub mod settings;
pub mod suppress;
pub mod target;
pub mod verify;

pub use event::{InvalidEvent, parse_event};
pub use finding::{AccountId, Finding, FindingType, InstanceId, Severity, SeverityLabel};
pub use plan::{Decision, Function, Plan, Skip, decide};
pub use policy::Policy;
pub use report::{Outcome, Report, StepRecord, StepStatus};
pub use settings::Settings;
pub use target::Target;

/// Tag keys the responder reads and writes. One prefix, so operators can
/// find (and IAM conditions can scope) everything this project touches.
pub mod tags {
    /// Prefix of every tag key the responder writes.
    pub const PREFIX: &str = "guardduty-responder:";
    /// Default exemption tag; the value must be `true`.
    pub const EXEMPT: &str = "guardduty-responder:exempt";
    /// On isolation and untrack security groups: which role the group plays.
    pub const GROUP_ROLE: &str = "guardduty-responder:group";
    /// Finding that caused the quarantine (instance, snapshots).
    pub const FINDING_ID: &str = "guardduty-responder:finding-id";
    /// When the quarantine happened (RFC 3339, UTC).
    pub const QUARANTINED_AT: &str = "guardduty-responder:quarantined-at";
    /// `quarantined`, `partial`, or `released`.
    pub const STATUS: &str = "guardduty-responder:status";
    /// On each ENI: the security groups of each of the instance's ENIs
    /// before quarantine (`eni-1=sg-a,sg-b;eni-2=sg-c`, the same value on
    /// all of them, written in one request; continued in `...:2`, `...:3`
    /// when longer than a tag value holds). Records written by earlier
    /// versions hold one ENI's groups (`sg-a,sg-b`) and still read.
    pub const ORIGINAL_GROUPS: &str = "guardduty-responder:original-groups";
    /// On the instance: the recorded state before quarantine (JSON, chunked
    /// the same way).
    pub const ORIGINAL_STATE: &str = "guardduty-responder:original-state";
    /// On the instance: the load balancer memberships quarantine took out
    /// (JSON, chunked the same way).
    pub const ORIGINAL_TARGETS: &str = "guardduty-responder:original-targets";
    /// On evidence copies in the security account: the snapshot copied and
    /// the account it came from.
    pub const SOURCE_SNAPSHOT: &str = "guardduty-responder:source-snapshot";
    pub const SOURCE_ACCOUNT: &str = "guardduty-responder:source-account";
    /// On a malicious object version: where its evidence copy is.
    pub const MALWARE_COPY: &str = "guardduty-responder:evidence-copy";
    /// On a snapshot or image: who it was shared with before the responder
    /// took the shares away (JSON, chunked).
    pub const ORIGINAL_SHARING: &str = "guardduty-responder:original-sharing";
    /// On the instance: the malware scan the responder started, and for
    /// which finding (`SCAN-ID FINDING-ID`).
    pub const MALWARE_SCAN: &str = "guardduty-responder:malware-scan";
    /// On snapshots: the volume and instance they were taken of.
    pub const SOURCE_VOLUME: &str = "guardduty-responder:volume-id";
    pub const SOURCE_INSTANCE: &str = "guardduty-responder:instance-id";
    /// On users and roles: when the responder revoked older sessions.
    pub const REVOKED_AT: &str = "guardduty-responder:revoked-at";
    /// On users: the access keys the responder deactivated (comma-separated,
    /// chunked like the ENI records).
    pub const DEACTIVATED_KEYS: &str = "guardduty-responder:deactivated-keys";
    /// On users: `if-present` in the record written before the console
    /// password is deleted; then `true` when there was one (the responder
    /// deleted it), `false` when there was none.
    pub const LOGIN_PROFILE_DELETED: &str = "guardduty-responder:login-profile-deleted";
    /// On users and roles: the cutoff of an `AWSRevokeOlderSessions` policy
    /// that was there before the responder first acted, so release puts it
    /// back instead of deleting it.
    pub const PREVIOUS_REVOCATION: &str = "guardduty-responder:previous-revocation";
    /// On a role: the sessions the responder denied alone (comma-separated
    /// session names), in its stolen-sessions policy.
    pub const STOLEN_SESSIONS: &str = "guardduty-responder:stolen-sessions";
}
