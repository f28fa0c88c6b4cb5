//! The AWS clients a playbook uses, built from one `SdkConfig` in exactly one
//! place ([`load_sdk_config`]). A [`Cloud`] is the clients for one account and
//! region; [`Clouds`] hands out a `Cloud` per (account, region), built once and
//! kept for the life of a warm container.

use std::collections::HashMap;
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use responder_core::AccountId;
use tokio::sync::Mutex;

use crate::failure::AwsFailure;

/// Clients for one account and region.
#[derive(Debug, Clone)]
pub struct Cloud {
    pub account: Option<AccountId>,
    pub region: String,
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub sns: aws_sdk_sns::Client,
    pub sts: aws_sdk_sts::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
}

impl Cloud {
    pub fn new(config: &SdkConfig) -> Self {
        Cloud {
            account: None,
            region: config.region().map(|r| r.to_string()).unwrap_or_default(),
            ec2: aws_sdk_ec2::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
            autoscaling: aws_sdk_autoscaling::Client::new(config),
            cloudtrail: aws_sdk_cloudtrail::Client::new(config),
        }
    }
}

/// Loads the SDK configuration from the environment: the Lambda role's
/// credentials in AWS, `AWS_ENDPOINT_URL` and dummy keys against the emulator.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// Who this process runs as: its account, and its role name when it runs
/// as an assumed role (as a Lambda function does).
#[derive(Debug, Clone)]
pub struct Identity {
    pub account: AccountId,
    pub arn: String,
    pub role_name: Option<String>,
}

pub async fn own_identity(cloud: &Cloud) -> Result<Identity, AwsFailure> {
    let out = cloud.sts.get_caller_identity().send().await?;
    let account = AccountId::parse(out.account().unwrap_or_default()).map_err(AwsFailure::rejected)?;
    let arn = out.arn().unwrap_or_default().to_owned();
    // arn:aws:sts::123456789012:assumed-role/ROLE/SESSION
    let role_name = arn
        .split_once(":assumed-role/")
        .and_then(|(_, rest)| rest.split('/').next())
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    Ok(Identity { account, arn, role_name })
}

/// Hands out a [`Cloud`] per (account, region), each built once.
#[derive(Debug)]
pub struct Clouds {
    base: SdkConfig,
    home: Cloud,
    cache: Mutex<HashMap<(String, String), Arc<Cloud>>>,
}

impl Clouds {
    pub fn new(base: SdkConfig, home_account: Option<AccountId>) -> Self {
        let mut home = Cloud::new(&base);
        home.account = home_account;
        Clouds { base, home, cache: Mutex::new(HashMap::new()) }
    }

    /// The clients of the account and region the function runs in.
    pub fn home(&self) -> &Cloud {
        &self.home
    }

    /// The clients for acting in `account` and `region`. Acting in another
    /// account than the function's own is refused: the policy has already
    /// checked the allowed list, and without a member role there is no way in.
    pub async fn for_scope(&self, account: &AccountId, region: &str) -> Result<Arc<Cloud>, AwsFailure> {
        if self.home.account.as_ref() != Some(account) {
            return Err(AwsFailure::rejected(format!(
                "account {account} is not the function's own account ({}) and no member role is configured",
                self.home.account.as_ref().map(AccountId::as_str).unwrap_or("unknown")
            )));
        }
        let key = (account.to_string(), region.to_owned());
        let mut cache = self.cache.lock().await;
        if let Some(cloud) = cache.get(&key) {
            return Ok(cloud.clone());
        }
        let cloud = if region == self.home.region {
            self.home.clone()
        } else {
            let config = self.base.to_builder().region(Region::new(region.to_owned())).build();
            let mut cloud = Cloud::new(&config);
            cloud.account = Some(account.clone());
            cloud
        };
        let cloud = Arc::new(cloud);
        cache.insert(key, cloud.clone());
        Ok(cloud)
    }
}
