//! Fault injection between the SDK and the emulator.
//!
//! [`FaultInjector`] wraps the SDK's own HTTP client. Every request passes
//! through it and is recorded (service, API action, which occurrence of that
//! action in the run, attempt, when it started and ended, how it was
//! answered). When armed, it answers one occurrence of one action, and every
//! retry of it, with a fault instead of the emulator's answer:
//!
//! - [`Fault::Throttle`]: the service's throttling error, on every attempt;
//! - [`Fault::ThrottleOnce`]: throttling on the first attempt only (the SDK's
//!   retry must carry the call through);
//! - [`Fault::ServerError`]: an HTTP 500 with the service's internal error;
//! - [`Fault::AccessDenied`]: the service's access-denied error (403);
//! - [`Fault::Timeout`]: the request *reaches the emulator and takes effect*,
//!   but its answer is lost: the connection times out reading it (the
//!   client's read timeout), the worst case for idempotency.
//!
//! Errors are written in each protocol's own shape (EC2 query, AWS query,
//! JSON), so the SDK parses them as it would AWS's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

/// How the armed call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    Throttle,
    ThrottleOnce,
    ServerError,
    AccessDenied,
    Timeout,
}

impl Fault {
    pub const ALL: [Fault; 5] =
        [Fault::Throttle, Fault::ThrottleOnce, Fault::ServerError, Fault::AccessDenied, Fault::Timeout];

    /// Whether the failure is one a later retry of the event can get past.
    pub fn transient(self) -> bool {
        !matches!(self, Fault::AccessDenied)
    }

    /// Whether the SDK's own retries make the call succeed in the end.
    pub fn clears(self) -> bool {
        matches!(self, Fault::ThrottleOnce)
    }
}

/// One request as it passed through.
#[derive(Debug, Clone)]
pub struct Call {
    pub service: String,
    pub action: String,
    /// What the call acts on, as a name that is the same in every world the
    /// tests seed: the label given to the resource id it names (see
    /// [`FaultInjector::label`]), or the id's kind (`sg`, `snap`) when it has
    /// none, qualified by the attribute an attribute call reads or changes.
    pub target: String,
    /// 1 for the first call of this action on this target in the run, 2 for
    /// the second… (retries of one call share it). Counting per target keeps
    /// concurrent calls on different resources from trading numbers between
    /// runs.
    pub occurrence: usize,
    pub attempt: u32,
    pub body: String,
    pub started: Instant,
    pub ended: Instant,
    pub status: u16,
    pub fault: Option<Fault>,
}

impl Call {
    pub fn ok(&self) -> bool {
        self.fault.is_none() && (200..300).contains(&self.status)
    }

    /// The value of the request parameter `name`: from the form of a query
    /// protocol request, or the top level of a JSON one.
    pub fn param(&self, name: &str) -> Option<String> {
        param(&self.body, name)
    }

    /// The tags a tagging request writes (EC2's `Tag.N`, IAM's
    /// `Tags.member.N`), key → value.
    pub fn tags(&self) -> std::collections::BTreeMap<String, String> {
        let pairs = form(&self.body);
        let mut keys = std::collections::BTreeMap::new();
        let mut values = HashMap::new();
        for (k, v) in pairs {
            let Some((prefix, field)) = k.rsplit_once('.') else { continue };
            if !(prefix.starts_with("Tag.") || prefix.starts_with("Tags.member.")) {
                continue;
            }
            match field {
                "Key" => {
                    keys.insert(prefix.to_owned(), v);
                }
                "Value" => {
                    values.insert(prefix.to_owned(), v);
                }
                _ => {}
            }
        }
        keys.into_iter().map(|(prefix, key)| (key, values.remove(&prefix).unwrap_or_default())).collect()
    }

    /// Every value of the request parameters whose name matches `pattern`
    /// once its list indexes are taken out (`Tag.N.Key` for `Tag.1.Key`,
    /// `Tag.2.Key`…), in order.
    pub fn params_like(&self, pattern: &str) -> Vec<String> {
        form(&self.body).into_iter().filter(|(k, _)| unindexed(k) == pattern).map(|(_, v)| v).collect()
    }
}

/// A parameter name with each list index replaced by `N`.
fn unindexed(name: &str) -> String {
    name.split('.')
        .map(|part| if part.bytes().all(|b| b.is_ascii_digit()) { "N" } else { part })
        .collect::<Vec<_>>()
        .join(".")
}

fn param(body: &str, name: &str) -> Option<String> {
    if body.trim_start().starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(body).ok()?;
        return json.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    }
    form(body).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// The pairs of a form-encoded body, decoded.
fn form(body: &str) -> Vec<(String, String)> {
    body.split('&').filter_map(|pair| pair.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect()
}

/// Decodes URL (form) encoding, as IAM returns policy documents in.
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Debug, Default)]
struct State {
    armed: Option<(String, String, usize, Fault)>,
    /// resource id → the label it has in every world
    labels: Vec<(String, String)>,
    /// (action, target) → invocation ids, in the order first seen
    invocations: HashMap<(String, String), Vec<String>>,
    attempts: HashMap<String, u32>,
    calls: Vec<Call>,
    /// action → its request rate limit, as a token bucket: a call finding
    /// it empty is throttled, as the service throttles it.
    limits: HashMap<String, Bucket>,
}

/// A token bucket, as EC2 meters each API: `capacity` calls at once, then
/// `per_second` more each second.
#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    capacity: f64,
    per_second: f64,
    filled: Instant,
}

impl Bucket {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.filled).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + refill).min(self.capacity);
        self.filled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// An HTTP client for `SdkConfig` that records and, when armed, injects faults.
#[derive(Debug, Clone, Default)]
pub struct FaultInjector {
    state: Arc<Mutex<State>>,
}

impl FaultInjector {
    pub fn new() -> Self {
        FaultInjector::default()
    }

    /// An HTTP client that sends through `inner` (the SDK's default client).
    pub fn client(&self, inner: SharedHttpClient) -> SharedHttpClient {
        let injector = self.clone();
        http_client_fn(move |settings, components| {
            SharedHttpConnector::new(Connector {
                inner: inner.http_connector(settings, components),
                injector: injector.clone(),
            })
        })
    }

    /// Fails the `occurrence`-th call of `action` on `target` (and its
    /// retries) with `fault`.
    pub fn arm(&self, action: &str, target: &str, occurrence: usize, fault: Fault) {
        self.lock().armed = Some((action.to_owned(), target.to_owned(), occurrence, fault));
    }

    /// Meters `action` with a request rate limit from now on: `capacity`
    /// calls at once, then `per_second` a second; the rest are throttled
    /// (every attempt that finds the bucket empty), however long it lasts.
    pub fn rate_limit(&self, action: &str, capacity: u32, per_second: f64) {
        let bucket = Bucket { tokens: capacity.into(), capacity: capacity.into(), per_second, filled: Instant::now() };
        self.lock().limits.insert(action.to_owned(), bucket);
    }

    /// Names the resource `id` as `label` in the calls' targets.
    pub fn label(&self, id: &str, label: &str) {
        if !id.is_empty() {
            self.lock().labels.push((id.to_owned(), label.to_owned()));
        }
    }

    pub fn disarm(&self) {
        self.lock().armed = None;
    }

    /// Forgets what was recorded, so occurrences count from the next call.
    pub fn reset(&self) {
        let mut state = self.lock();
        state.invocations.clear();
        state.attempts.clear();
        state.calls.clear();
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug)]
struct Connector {
    inner: SharedHttpConnector,
    injector: FaultInjector,
}

/// Request parameters that name the resource a call acts on, most specific
/// first (an access key before its user: two keys of one user are changed
/// at once).
const TARGET_PARAMS: &[&str] = &[
    "AccessKeyId",
    "NetworkInterfaceId",
    "ResourceId.1",
    "InstanceId",
    "InstanceIds.member.1",
    "AssociationId",
    "GroupId",
    "GroupName",
    "VolumeId",
    "UserName",
    "RoleName",
    "TopicArn",
    "Name",
    "DBInstanceIdentifier",
    "DBClusterIdentifier",
    "ResourceName",
    "TargetGroupArn",
    "LoadBalancerName",
    "SourceSnapshotId",
    "SnapshotId",
    "ImageId",
];

/// The target of a request: see [`Call::target`].
fn target_of(action: &str, body: &str, labels: &[(String, String)]) -> String {
    let Some(value) = TARGET_PARAMS.iter().find_map(|p| param(body, p)) else {
        return "-".to_owned();
    };
    let mut target = value.clone();
    for (id, label) in labels {
        target = target.replace(id.as_str(), label);
    }
    if target == value {
        // An id of a resource the run made itself: its kind.
        let kind =
            value.rsplit_once('-').filter(|(_, hex)| hex.len() >= 8 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        target = kind.map_or_else(|| "other".to_owned(), |(kind, _)| kind.to_owned());
    }
    if let Some(attribute) = param(body, "Attribute") {
        target = format!("{target}/{attribute}");
    } else if action.starts_with("Modify") && action.ends_with("Attribute") {
        let mut changed: Vec<String> = form(body)
            .into_iter()
            .map(|(k, _)| unindexed(&k))
            .filter(|k| !["Action", "Version"].contains(&k.as_str()) && !TARGET_PARAMS.contains(&k.as_str()))
            .collect();
        changed.sort();
        changed.dedup();
        target = format!("{target}/{}", changed.join(","));
    }
    target
}

/// The service (from the signature's credential scope) and the API action.
fn identify(request: &HttpRequest, body: &str) -> (String, String) {
    let service = request
        .headers()
        .get("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|scope| scope.split('/').nth(3))
        .unwrap_or("?")
        .to_owned();
    let action = match request.headers().get("x-amz-target") {
        Some(target) => target.rsplit('.').next().unwrap_or(target).to_owned(),
        None => match body.split('&').find_map(|pair| pair.strip_prefix("Action=")) {
            Some(action) => action.to_owned(),
            None => rest_action(&service, request.method(), request.uri()).unwrap_or("?").to_owned(),
        },
    };
    (service, action)
}

/// The action of a REST request (GuardDuty's, Security Hub's, Lambda's, S3's:
/// the operations the responder calls), from its method and path.
fn rest_action(service: &str, method: &str, uri: &str) -> Option<&'static str> {
    let query = uri.split_once('?').map_or("", |(_, q)| q);
    let has = |key: &str| query.split('&').any(|p| p.split('=').next() == Some(key));
    let path = uri.split('?').next().unwrap_or(uri);
    let path = path.split_once("://").map_or(path, |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (service, method, parts.as_slice()) {
        ("guardduty", "GET", ["detector"]) => Some("ListDetectors"),
        ("guardduty", "POST", ["detector"]) => Some("CreateDetector"),
        ("guardduty", "GET", ["detector", _]) => Some("GetDetector"),
        ("guardduty", "POST", ["detector", _, "findings", "get"]) => Some("GetFindings"),
        ("guardduty", "POST", ["detector", _, "findings", "feedback"]) => Some("UpdateFindingsFeedback"),
        ("guardduty", "POST", ["detector", _, "findings", "archive"]) => Some("ArchiveFindings"),
        ("guardduty", "POST", ["detector", _, "filter"]) => Some("CreateFilter"),
        ("securityhub", "PATCH", ["findings", "batchupdate"]) => Some("BatchUpdateFindings"),
        ("lambda", "GET", [_, "functions", _]) => Some("GetFunction"),
        ("lambda", "GET", [_, "functions", _, "concurrency"]) => Some("GetFunctionConcurrency"),
        ("lambda", "PUT", [_, "functions", _, "concurrency"]) => Some("PutFunctionConcurrency"),
        ("lambda", "DELETE", [_, "functions", _, "concurrency"]) => Some("DeleteFunctionConcurrency"),
        ("lambda", "GET", [_, "functions", _, "url"]) => Some("GetFunctionUrlConfig"),
        ("lambda", "PUT", [_, "functions", _, "url"]) => Some("UpdateFunctionUrlConfig"),
        ("lambda", "POST", [_, "functions", _, "versions"]) => Some("PublishVersion"),
        ("lambda", "GET", [_, "event-source-mappings"]) => Some("ListEventSourceMappings"),
        ("lambda", "PUT", [_, "event-source-mappings", _]) => Some("UpdateEventSourceMapping"),
        ("lambda", "POST", [_, "tags", _]) => Some("TagResource"),
        ("lambda", "DELETE", [_, "tags", _]) => Some("UntagResource"),
        // S3 Control: the account's block, as IAM names it.
        ("s3", "GET", ["v20180820", "configuration", "publicAccessBlock"]) => Some("GetAccountPublicAccessBlock"),
        ("s3", "PUT" | "DELETE", ["v20180820", "configuration", "publicAccessBlock"]) => {
            Some("PutAccountPublicAccessBlock")
        }
        // S3 (path style), named as IAM names them: a delete is a put there.
        ("guardduty", "POST", ["malware-scan", "start"]) => Some("StartMalwareScan"),
        ("guardduty", "POST", ["detector", _, "malware-scans"]) => Some("DescribeMalwareScans"),
        // Objects, as IAM authorizes them (a copy is a put; a head is a get).
        ("s3", "GET", [_, _, ..]) if has("tagging") && has("versionId") => Some("GetObjectVersionTagging"),
        ("s3", "GET", [_, _, ..]) if has("tagging") => Some("GetObjectTagging"),
        ("s3", "PUT", [_, _, ..]) if has("tagging") && has("versionId") => Some("PutObjectVersionTagging"),
        ("s3", "PUT", [_, _, ..]) if has("tagging") => Some("PutObjectTagging"),
        ("s3", "GET" | "HEAD", [_, _, ..]) if has("versionId") => Some("GetObjectVersion"),
        ("s3", "GET" | "HEAD", [_, _, ..]) => Some("GetObject"),
        ("s3", "PUT", [_, _, ..]) => Some("PutObject"),
        ("s3", "DELETE", [_, _, ..]) if has("versionId") => Some("DeleteObjectVersion"),
        ("s3", "DELETE", [_, _, ..]) => Some("DeleteObject"),
        ("s3", "GET", [_]) if has("policy") => Some("GetBucketPolicy"),
        ("s3", "GET", [_]) if has("tagging") => Some("GetBucketTagging"),
        ("s3", "PUT" | "DELETE", [_]) if has("tagging") => Some("PutBucketTagging"),
        ("s3", "GET", [_]) if has("publicAccessBlock") => Some("GetBucketPublicAccessBlock"),
        ("s3", "PUT" | "DELETE", [_]) if has("publicAccessBlock") => Some("PutBucketPublicAccessBlock"),
        _ => None,
    }
}

/// The error a service sends for `fault`, in its protocol's shape.
fn error_response(service: &str, json: bool, fault: Fault) -> HttpResponse {
    let (status, code) = match (service, fault) {
        ("s3" | "s3control", Fault::Throttle | Fault::ThrottleOnce) => (503, "SlowDown"),
        ("s3" | "s3control", Fault::ServerError) => (500, "InternalError"),
        ("s3" | "s3control", _) => (403, "AccessDenied"),
        ("lambda", Fault::Throttle | Fault::ThrottleOnce) => (429, "TooManyRequestsException"),
        ("lambda", Fault::ServerError) => (500, "ServiceException"),
        ("lambda", _) => (403, "AccessDeniedException"),
        ("ec2", Fault::Throttle | Fault::ThrottleOnce) => (503, "RequestLimitExceeded"),
        ("ec2", Fault::ServerError) => (500, "InternalError"),
        ("ec2", _) => (403, "UnauthorizedOperation"),
        (_, Fault::Throttle | Fault::ThrottleOnce) if json => (400, "ThrottlingException"),
        (_, Fault::Throttle | Fault::ThrottleOnce) => (400, "Throttling"),
        (_, Fault::ServerError) if json => (500, "InternalFailure"),
        (_, Fault::ServerError) => (500, "ServiceFailure"),
        (_, _) if json => (403, "AccessDeniedException"),
        (_, _) => (403, "AccessDenied"),
    };
    let message = format!("injected fault: {code}");
    let (content_type, body) = if service == "s3" {
        (
            "application/xml",
            format!("<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault</RequestId></Error>"),
        )
    } else if service == "ec2" {
        (
            "text/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>fault</RequestID></Response>"
            ),
        )
    } else if json {
        ("application/x-amz-json-1.1", format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}"))
    } else {
        (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
            ),
        )
    };
    let mut response =
        HttpResponse::new(StatusCode::try_from(status).unwrap_or_else(|_| unreachable!()), SdkBody::from(body));
    response.headers_mut().insert("content-type", content_type);
    if json {
        response.headers_mut().insert("x-amzn-errortype", code);
    }
    response
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request.body().bytes().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
        let (service, action) = identify(&request, &body);
        // JSON errors for the JSON protocols: awsJson (an X-Amz-Target
        // header) and restJson (GuardDuty).
        let json = request.headers().get("x-amz-target").is_some() || service == "guardduty" || service == "lambda";
        // REST calls name their resource in the path, not the body.
        let path = request.uri().split('?').next().unwrap_or_default();
        let path =
            path.split_once("://").map_or(path, |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..])).to_owned();
        let invocation = request.headers().get("amz-sdk-invocation-id").unwrap_or("").to_owned();
        let (target, occurrence, attempt, fault) = {
            let mut state = self.injector.lock();
            let mut target = target_of(&action, &body, &state.labels);
            if target == "-" && (service == "s3" || service == "lambda") {
                target = state.labels.iter().fold(path.clone(), |t, (id, label)| t.replace(id.as_str(), label));
            }
            let seen = state.invocations.entry((action.clone(), target.clone())).or_default();
            let occurrence = match seen.iter().position(|i| *i == invocation) {
                Some(i) => i + 1,
                None => {
                    seen.push(invocation.clone());
                    seen.len()
                }
            };
            let attempt = {
                let n = state.attempts.entry(format!("{action}/{invocation}")).or_insert(0);
                *n += 1;
                *n
            };
            let fault = match &state.armed {
                Some((a, t, o, f)) if *a == action && *t == target && *o == occurrence => match f {
                    Fault::ThrottleOnce if attempt > 1 => None,
                    f => Some(*f),
                },
                _ => match state.limits.get_mut(&action).map(Bucket::take) {
                    Some(false) => Some(Fault::Throttle),
                    _ => None,
                },
            };
            (target, occurrence, attempt, fault)
        };
        let started = Instant::now();
        let injector = self.injector.clone();
        let inner = self.inner.clone();
        let record = move |status: u16| Call {
            service: service.clone(),
            action: action.clone(),
            target: target.clone(),
            occurrence,
            attempt,
            body: body.clone(),
            started,
            ended: Instant::now(),
            status,
            fault,
        };
        HttpConnectorFuture::new(async move {
            match fault {
                None => {
                    let response = inner.call(request).await;
                    let status = response.as_ref().map(|r| r.status().as_u16()).unwrap_or(0);
                    injector.lock().calls.push(record(status));
                    response
                }
                Some(Fault::Timeout) => {
                    // The call takes effect; its answer is lost.
                    let response = inner.call(request).await;
                    let status = response.as_ref().map(|r| r.status().as_u16()).unwrap_or(0);
                    injector.lock().calls.push(record(status));
                    Err(ConnectorError::timeout("injected fault: no answer within the read timeout".into()))
                }
                Some(f) => {
                    // S3 Control signs as S3 but wraps its errors as the query protocols do.
                    let service = record(0).service;
                    let shape = if service == "s3" && path.starts_with("/v20180820") { "s3control" } else { &service };
                    let response = error_response(shape, json, f);
                    injector.lock().calls.push(record(response.status().as_u16()));
                    Ok(response)
                }
            }
        })
    }
}
