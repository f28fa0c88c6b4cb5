//! End-to-end tests: the real handler against the AWS emulator, asserting
//! the resulting AWS state. One binary, one shared emulator, one VPC per test.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod concurrency;
mod credentials;
mod cross_account;
mod notify;
mod posture;
mod quarantine;

use std::collections::HashMap;

use aws_config::SdkConfig;
use responder_aws::Responder;
use responder_core::Settings;
use responder_e2e::{emulator_endpoint, sdk_config};

/// The emulator's SDK configuration.
pub async fn cloud() -> SdkConfig {
    sdk_config(&emulator_endpoint()).await
}

/// A responder with default settings plus `vars`.
pub async fn responder(config: &SdkConfig, vars: &[(&str, &str)]) -> Responder {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let settings = Settings::from_lookup(|k| map.get(k).cloned()).expect("settings");
    Responder::new(settings, config.clone()).await.expect("responder")
}
