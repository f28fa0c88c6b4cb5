//! The AWS clients a playbook uses, built from one `SdkConfig` in exactly one
//! place ([`load_sdk_config`]). A [`Cloud`] is the clients for one account and
//! region: the few every function needs (STS, SNS, GuardDuty, Security Hub)
//! and the
//! playbook's own service clients `C` (see [`Clients`]); [`Clouds`] hands out
//! a `Cloud` per (account, region), built once and kept for the life of a warm
//! container. This crate links no service SDK beyond those (and S3, for
//! the evidence store): each
//! playbook crate brings its own, so a function binary links only the
//! clients it calls.

use std::collections::HashMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use responder_core::AccountId;
use tokio::sync::Mutex;

use crate::failure::{AwsFailure, FailureKind};

/// A playbook's own service clients, built from the configuration of one
/// account and region.
pub trait Clients: Clone + fmt::Debug + Send + Sync + 'static {
    fn new(config: &SdkConfig) -> Self;
}

/// No service clients: the functions that only publish.
impl Clients for () {
    fn new(_: &SdkConfig) -> Self {}
}

/// Clients for one account and region; derefs to the playbook's own.
#[derive(Debug, Clone)]
pub struct Cloud<C = ()> {
    pub account: Option<AccountId>,
    pub region: String,
    pub sns: aws_sdk_sns::Client,
    pub sts: aws_sdk_sts::Client,
    pub guardduty: aws_sdk_guardduty::Client,
    pub securityhub: aws_sdk_securityhub::Client,
    pub clients: C,
}

impl<C: Clients> Cloud<C> {
    pub fn new(config: &SdkConfig) -> Self {
        Cloud {
            account: None,
            region: config.region().map(|r| r.to_string()).unwrap_or_default(),
            sns: aws_sdk_sns::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
            guardduty: aws_sdk_guardduty::Client::new(config),
            securityhub: aws_sdk_securityhub::Client::new(config),
            clients: C::new(config),
        }
    }
}

impl<C> Cloud<C> {
    /// The same account, region and shared clients, with another family's
    /// service clients: for a playbook that hands part of its work to
    /// another's (a function's role sessions to `responder-iam`).
    pub fn with_clients<D>(&self, clients: D) -> Cloud<D> {
        Cloud {
            account: self.account.clone(),
            region: self.region.clone(),
            sns: self.sns.clone(),
            sts: self.sts.clone(),
            guardduty: self.guardduty.clone(),
            securityhub: self.securityhub.clone(),
            clients,
        }
    }
}

impl<C> Deref for Cloud<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.clients
    }
}

impl<C> DerefMut for Cloud<C> {
    fn deref_mut(&mut self) -> &mut C {
        &mut self.clients
    }
}

/// Loads the SDK configuration from the environment: the Lambda role's
/// credentials in AWS, `AWS_ENDPOINT_URL` and dummy keys against the emulator.
pub async fn load_sdk_config() -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts());
    // The SDK's own settings, where the deployment sets them, win.
    let set = |name| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let loader = if set("AWS_RETRY_MODE") || set("AWS_MAX_ATTEMPTS") { loader } else { loader.retry_config(retries()) };
    loader.load().await
}

/// How calls are retried. A burst of findings shares the account's request
/// rate limits, so throttling is expected, not exceptional: adaptive mode
/// (each client slows its own sending once it is throttled, instead of
/// every sandbox retrying at full speed), more attempts than the SDK's
/// default 3, and back-off capped at 5 s so that eight attempts still fit
/// the operation timeout below. What is still throttled after that is a
/// retryable failure: the event is delivered again.
pub fn retries() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::adaptive().with_max_attempts(8).with_max_backoff(Duration::from_secs(5))
}

/// Bounds on every call, so a stalled endpoint costs a retry instead of the
/// whole invocation: a playbook wave must fit the deadline budget.
pub fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(25))
        .build()
}

/// Who this process runs as: its account, and its role name when it runs
/// as an assumed role (as a Lambda function does).
#[derive(Debug, Clone)]
pub struct Identity {
    pub account: AccountId,
    pub arn: String,
    pub role_name: Option<String>,
}

pub async fn own_identity<C>(cloud: &Cloud<C>) -> Result<Identity, AwsFailure> {
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

/// The role the functions assume in member accounts.
#[derive(Debug, Clone)]
pub struct MemberRole {
    pub name: String,
    pub external_id: Option<String>,
}

impl MemberRole {
    /// `MEMBER_ROLE_NAME` with `MEMBER_ROLE_EXTERNAL_ID`, when a name is set.
    pub fn of(settings: &responder_core::Settings) -> Option<MemberRole> {
        let name = settings.member_role_name.clone()?;
        Some(MemberRole { name, external_id: settings.member_role_external_id.clone() })
    }
}

/// Member credentials are renewed when they have less than this left.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// Hands out a [`Cloud`] per (account, region), each built once. In the
/// function's own account its own credentials are used; in a member account
/// the member role is assumed (with the external id) once per (account,
/// region) and the credentials kept until shortly before they expire.
#[derive(Debug)]
pub struct Clouds<C = ()> {
    base: SdkConfig,
    home: Cloud<C>,
    member_role: Option<MemberRole>,
    cache: Mutex<HashMap<(String, String), CachedCloud<C>>>,
}

/// Clients, and when their credentials expire (`None`: the function's own).
type CachedCloud<C> = (Arc<Cloud<C>>, Option<SystemTime>);

impl<C: Clients> Clouds<C> {
    pub fn new(base: SdkConfig, home_account: Option<AccountId>) -> Self {
        Self::with_member_role(base, home_account, None)
    }

    pub fn with_member_role(base: SdkConfig, home_account: Option<AccountId>, member_role: Option<MemberRole>) -> Self {
        let home = Cloud::new(&base);
        Self::around(base, home, home_account, member_role)
    }

    /// Like [`Clouds::with_member_role`], around clients of `base` already
    /// built (the function's own, built at start-up).
    pub fn around(
        base: SdkConfig,
        mut home: Cloud<C>,
        home_account: Option<AccountId>,
        member_role: Option<MemberRole>,
    ) -> Self {
        home.account = home_account;
        Clouds { base, home, member_role, cache: Mutex::new(HashMap::new()) }
    }

    /// The clients of the account and region the function runs in.
    pub fn home(&self) -> &Cloud<C> {
        &self.home
    }

    /// Whether acting in `account` means assuming the member role.
    pub fn is_member(&self, account: &AccountId) -> bool {
        self.home.account.as_ref() != Some(account)
    }

    /// The clients for acting in `account` and `region`. The policy has
    /// already checked the account against ALLOWED_ACCOUNTS.
    pub async fn for_scope(&self, account: &AccountId, region: &str) -> Result<Arc<Cloud<C>>, AwsFailure> {
        let key = (account.to_string(), region.to_owned());
        let mut cache = self.cache.lock().await;
        if let Some((cloud, expires)) = cache.get(&key) {
            let fresh =
                expires.is_none_or(|e| e.duration_since(SystemTime::now()).is_ok_and(|left| left > RENEW_BEFORE));
            if fresh {
                return Ok(cloud.clone());
            }
        }
        let (cloud, expires) = if !self.is_member(account) {
            let cloud = if region == self.home.region {
                self.home.clone()
            } else {
                let mut cloud = Cloud::new(&self.base.to_builder().region(Region::new(region.to_owned())).build());
                cloud.account = Some(account.clone());
                cloud
            };
            (cloud, None)
        } else {
            self.assume_member_role(account, region).await?
        };
        let cloud = Arc::new(cloud);
        cache.insert(key, (cloud.clone(), expires));
        Ok(cloud)
    }

    async fn assume_member_role(
        &self,
        account: &AccountId,
        region: &str,
    ) -> Result<(Cloud<C>, Option<SystemTime>), AwsFailure> {
        let Some(role) = &self.member_role else {
            return Err(AwsFailure {
                kind: FailureKind::Denied,
                code: None,
                message: format!(
                    "account {account} is not the function's own ({}) and MEMBER_ROLE_NAME is not set",
                    self.home.account.as_ref().map(AccountId::as_str).unwrap_or("unknown")
                ),
            });
        };
        let role_arn = format!("arn:{}:iam::{account}:role/{}", partition_of(region), role.name);
        let out = self
            .home
            .sts
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("guardduty-responder")
            .set_external_id(role.external_id.clone())
            .send()
            .await
            .map_err(|e| {
                let mut failure = AwsFailure::from(e);
                failure.message = format!("cannot assume {role_arn}: {}", failure.message);
                failure
            })?;
        let creds = out.credentials().ok_or_else(|| AwsFailure::rejected("AssumeRole returned no credentials"))?;
        let expires = SystemTime::try_from(*creds.expiration()).ok();
        let credentials = aws_credential_types::Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            Some(creds.session_token().to_owned()),
            expires,
            "guardduty-responder-member-role",
        );
        let config = self
            .base
            .to_builder()
            .region(Region::new(region.to_owned()))
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials))
            .build();
        let mut cloud = Cloud::new(&config);
        cloud.account = Some(account.clone());
        Ok((cloud, expires))
    }
}

/// The partition a region belongs to.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}
