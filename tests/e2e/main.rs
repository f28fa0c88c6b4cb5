//! End-to-end tests: the real handler against the AWS emulator, asserting
//! the resulting AWS state. One binary, one shared emulator, one VPC per test.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod burst;
mod concurrency;
mod credentials;
mod cross_account;
mod ecs;
mod eks;
mod evidence;
mod lambda;
mod notify;
mod posture;
mod quarantine;
mod rds;
mod requests;
mod s3;
mod securityhub;
mod verify;

use aws_config::SdkConfig;
use responder_e2e::{emulator_endpoint, sdk_config};

/// The emulator's SDK configuration.
pub async fn cloud() -> SdkConfig {
    sdk_config(&emulator_endpoint()).await
}

pub use responder_e2e::responder;
