//! # responder-aws
//!
//! The runtime every function shares: what happens around a playbook. It
//! links only the clients every function calls (STS, SNS, GuardDuty, and S3
//! for the evidence record); each playbook crate (`crates/playbooks/*`)
//! brings its own service SDK.
//!
//! - [`cloud`]: the one place an `SdkConfig` and its clients are built, per
//!   account and region, with the playbook's own [`cloud::Clients`].
//! - [`playbook`]: the [`Playbook`] trait a playbook crate implements.
//! - [`failure`]: AWS errors as code, message and whether a retry helps.
//! - [`steps`]: recording what each step did.
//! - [`notify`]: publishing reports.
//! - [`evidence`]: the record each response leaves in the evidence store.
//! - [`verify`]: the gate every change waits behind, the finding confirmed with GuardDuty.
//! - [`responder`]: one invocation, parse to publish, generic over the playbook.
//! - [`lambda`]: the runtime glue.

pub mod cloud;
pub mod evidence;
pub mod failure;
pub mod feedback;
pub mod lambda;
#[cfg(feature = "mocks")]
pub mod mocks;
pub mod notify;
pub mod playbook;
pub mod responder;
pub mod securityhub;
pub mod steps;
pub mod verify;

pub use playbook::{Job, Playbook};
pub use responder::{Answer, Handle, HandlerError, Responder, report_of};
