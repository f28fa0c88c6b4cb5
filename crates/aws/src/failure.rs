//! One shape for every failed AWS call: the error code and message (kept
//! through `ProvideErrorMetadata`, which converting to a service `Error`
//! would lose), and whether trying again later can help.

use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// How a failure should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Throttling, 5xx, timeouts, network: Lambda should retry the event.
    Transient,
    /// `AccessDenied` and friends: a retry will not help; fix the role.
    Denied,
    /// The resource does not exist.
    NotFound,
    /// Anything else the service refused.
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsFailure {
    pub kind: FailureKind,
    pub code: Option<String>,
    pub message: String,
}

impl AwsFailure {
    pub fn retryable(&self) -> bool {
        self.kind == FailureKind::Transient
    }

    pub fn is_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// A failure that did not come from an AWS call (an impossible response).
    pub fn rejected(message: impl Into<String>) -> Self {
        AwsFailure { kind: FailureKind::Rejected, code: None, message: message.into() }
    }
}

/// A call's answer, or `None` where the service answered one of `codes`
/// (the thing asked about is not there); any other failure stays one.
pub fn absent_on<T, E>(result: Result<T, E>, codes: &[&str]) -> Result<Option<T>, AwsFailure>
where
    AwsFailure: From<E>,
{
    match result.map_err(AwsFailure::from) {
        Ok(value) => Ok(Some(value)),
        Err(f) if codes.iter().any(|c| f.is_code(c)) => Ok(None),
        Err(f) => Err(f),
    }
}

impl fmt::Display for AwsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

const SERVER_SIDE: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "Unavailable",
    "RequestTimeout",
    "RequestTimeoutException",
    "ServiceFailure",
];

const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthFailure",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "OptInRequired",
];

fn is_not_found(code: &str) -> bool {
    code == "NoSuchEntity"
        || code == "ResourceNotFoundException"
        || code == "TrailNotFoundException"
        || code.ends_with(".NotFound")
        || code.ends_with("NotFound")
}

impl<E> From<SdkError<E, HttpResponse>> for AwsFailure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    fn from(err: SdkError<E, HttpResponse>) -> Self {
        let code = err.code().map(str::to_owned);
        let message = err
            .message()
            .map(str::to_owned)
            .unwrap_or_else(|| aws_smithy_types::error::display::DisplayErrorContext(&err).to_string());
        let status = match &err {
            SdkError::ServiceError(ctx) => Some(ctx.raw().status().as_u16()),
            SdkError::ResponseError(ctx) => Some(ctx.raw().status().as_u16()),
            _ => None,
        };
        let kind = match (&err, code.as_deref()) {
            (SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_), _) => {
                FailureKind::Transient
            }
            (_, Some(c)) if THROTTLING.contains(&c) || SERVER_SIDE.contains(&c) => FailureKind::Transient,
            (_, Some(c)) if DENIED.contains(&c) => FailureKind::Denied,
            (_, Some(c)) if is_not_found(c) => FailureKind::NotFound,
            _ if status.is_some_and(|s| s >= 500 || s == 429) => FailureKind::Transient,
            _ if status == Some(403) => FailureKind::Denied,
            _ => FailureKind::Rejected,
        };
        AwsFailure { kind, code, message }
    }
}
