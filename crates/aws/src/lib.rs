//! # responder-aws
//!
//! The only crate that talks to AWS. It carries out the plans
//! `responder-core` makes, one playbook module each, through thin adapters
//! per service, and holds the Lambda glue every function binary shares.
//!
//! - [`cloud`]: the one place an `SdkConfig` and its clients are built.
//! - [`failure`]: AWS errors as code, message and whether a retry helps.
//! - [`ec2`], [`autoscaling`]: service adapters.
//! - [`quarantine`], [`release`]: the EC2 playbooks.
//! - [`credentials`]: the IAM playbooks (revoke role sessions, disable users) and their release.
//! - [`iam`]: IAM adapter.
//! - [`cloudtrail`]: the restore-cloudtrail playbook and the activity look-up for alerts.
//! - [`notify`]: publishing reports.
//! - [`posture`]: check-posture, the CloudTrail heartbeat and monitoring posture.
//! - [`verify`]: the gate every change waits behind, the finding confirmed with GuardDuty.
//! - [`responder`]: one invocation, parse to publish.
//! - [`lambda`]: the runtime glue.
//!
//! It is not a general AWS library: each adapter function exists because a
//! playbook calls it, and returns only what that playbook reads.

pub mod autoscaling;
pub mod cloud;
pub mod cloudtrail;
pub mod credentials;
pub mod ec2;
pub mod failure;
pub mod iam;
pub mod lambda;
pub mod notify;
pub mod posture;
pub mod quarantine;
pub mod release;
pub mod responder;
pub mod steps;
pub mod verify;

pub use responder::{HandlerError, Responder, report_of};
