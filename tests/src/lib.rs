#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
//! Harness for the end-to-end tests: a real AWS emulator (`moto_server`, with
//! the fidelity patches in `tests/emulator/moto_emulator.py`) on a free
//! loopback port, SDK clients pointed at it, and helpers that seed realistic
//! resources. Production code reaches the emulator only through
//! `AWS_ENDPOINT_URL`-style configuration: there is no test branch in it.
//!
//! The emulator is shared by the tests of one binary; each test seeds its own
//! VPC and instances, so tests do not see each other's resources. It is
//! health-checked on every use and restarted if it died. It exits with the
//! test process (it watches the parent PID) and is killed by PID on drop.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

pub mod faults;
pub mod seed;

/// A running emulator process.
#[derive(Debug)]
pub struct Emulator {
    pub port: u16,
    child: Child,
}

impl Emulator {
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn start() -> Result<Emulator, String> {
        let python = python()?;
        let script = root().join("tests/emulator/moto_emulator.py");
        let port = free_port()?;
        let log = std::env::temp_dir().join(format!("guardduty-responder-moto-{port}.log"));
        let log_file = std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let child = Command::new(&python)
            .arg(&script)
            .arg(port.to_string())
            .env("EMULATOR_PARENT_PID", std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start the AWS emulator with {}: {e}", python.display()))?;
        let mut emulator = Emulator { port, child };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if emulator.healthy() {
                return Ok(emulator);
            }
            if let Ok(Some(status)) = emulator.child.try_wait() {
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("the AWS emulator exited ({status}) at start-up:\n{tail}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("the AWS emulator did not answer on port {port} within 60 s (log: {})", log.display()))
    }

    /// Whether the process is still there.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Whether `/moto-api/` answers.
    pub fn healthy(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) =
            std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], self.port).into(), Duration::from_millis(500))
        else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let request = format!("GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n", self.port);
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static EMULATOR: Mutex<Option<Emulator>> = Mutex::new(None);

/// The shared emulator's endpoint, starting (or restarting) it as needed.
/// Panics with a clear message when it cannot start: tests never skip.
pub fn emulator_endpoint() -> String {
    let mut guard = EMULATOR.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = guard.as_mut() {
        // A busy emulator can be slow to answer the health check; only one
        // that has exited is replaced (replacing a live one would pull it
        // from under the tests using it).
        if e.healthy() || e.running() {
            return e.endpoint();
        }
        eprintln!("the AWS emulator exited; starting a new one");
    }
    match Emulator::start() {
        Ok(e) => {
            let endpoint = e.endpoint();
            *guard = Some(e);
            endpoint
        }
        Err(message) => panic!(
            "end-to-end tests need the AWS emulator and it could not start: {message}\nRun `make setup` to install it."
        ),
    }
}

/// SDK configuration for the emulator, as the functions would build it from
/// `AWS_ENDPOINT_URL` and dummy credentials.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    sdk_config_as(endpoint, "testing", "testing").await
}

/// SDK configuration for the emulator that calls with this access key (an
/// IAM user's, when the emulator enforces IAM).
pub async fn sdk_config_as(endpoint: &str, access_key: &str, secret: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(loopback_client())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(access_key, secret, None, None, "emulator"))
        .load()
        .await
}

/// The HTTP client the tests' SDK configurations use: plain HTTP to the
/// emulator. S3 Control puts the account id in front of the endpoint's host
/// (`123456789012.127.0.0.1`), which no resolver here answers; the client
/// sends such a request to the loopback address itself (the account id
/// travels in `x-amz-account-id` too, where the emulator reads it).
pub fn loopback_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_runtime_api::client::http::{
        HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
    };
    #[derive(Debug)]
    struct Loopback(SharedHttpConnector);
    impl HttpConnector for Loopback {
        fn call(&self, mut request: aws_smithy_runtime_api::client::orchestrator::HttpRequest) -> HttpConnectorFuture {
            let uri = request.uri().to_owned();
            if let Some((scheme, rest)) = uri.split_once("://")
                && let Some((prefix, tail)) = rest.split_once('.')
                && prefix.bytes().all(|b| b.is_ascii_digit())
                && tail.starts_with("127.0.0.1")
            {
                let _ = request.set_uri(format!("{scheme}://{tail}"));
            }
            self.0.call(request)
        }
    }
    let inner = aws_smithy_http_client::Builder::new().build_http();
    http_client_fn(move |settings, components| {
        SharedHttpConnector::new(Loopback(inner.http_connector(settings, components)))
    })
}

/// SDK configuration like [`sdk_config`] whose calls pass through
/// `injector`; the SDK makes two attempts with short back-offs, so fault
/// cases stay quick. Attempts time out after `attempt_timeout`: a bound for
/// a stuck emulator, far above any answer's time.
pub async fn faulty_sdk_config(
    endpoint: &str,
    injector: &faults::FaultInjector,
    attempt_timeout: Duration,
) -> SdkConfig {
    use aws_config::retry::RetryConfig;
    use aws_config::timeout::TimeoutConfig;
    recorded_by(&sdk_config(endpoint).await, injector)
        .into_builder()
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(5))
                .with_max_backoff(Duration::from_millis(50)),
        )
        .timeout_config(TimeoutConfig::builder().operation_attempt_timeout(attempt_timeout).build())
        .build()
}

/// `config`, with every call passing through `injector` (which records it,
/// and fails it when armed).
pub fn recorded_by(config: &SdkConfig, injector: &faults::FaultInjector) -> SdkConfig {
    let inner = loopback_client();
    config.to_builder().http_client(injector.client(inner)).build()
}

/// Every function's responder, with the same settings, as a deployment has
/// them: each built as its binary builds it, around its own playbook.
pub struct Responders {
    all: Vec<Box<dyn responder_aws::Handle>>,
}

impl std::fmt::Debug for Responders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.all.iter().map(|r| r.function())).finish()
    }
}

impl Responders {
    /// Handles `payload` as `function` would.
    pub async fn handle(
        &self,
        function: responder_core::Function,
        payload: &[u8],
        deadline: Option<std::time::Instant>,
    ) -> Result<responder_core::Report, responder_aws::HandlerError> {
        let Some(one) = self.all.iter().find(|r| r.function() == function) else {
            panic!("no responder for {function}")
        };
        one.handle(payload, deadline).await
    }

    /// `function`'s whole answer to `payload` (one report per finding).
    pub async fn answer(
        &self,
        function: responder_core::Function,
        payload: &[u8],
    ) -> Result<responder_aws::Answer, responder_aws::HandlerError> {
        let Some(one) = self.all.iter().find(|r| r.function() == function) else {
            panic!("no responder for {function}")
        };
        one.answer(payload, None).await
    }
}

/// Default settings plus `vars`, as the functions read them.
pub fn settings(vars: &[(&str, &str)]) -> responder_core::Settings {
    let map: std::collections::HashMap<String, String> =
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    responder_core::Settings::from_lookup(|k| map.get(k).cloned()).expect("settings")
}

/// A responder per function with default settings plus `vars`.
pub async fn responder(config: &SdkConfig, vars: &[(&str, &str)]) -> Responders {
    let settings = settings(vars);
    let mut all = Vec::new();
    for function in responder_core::Function::ALL {
        all.push(responder_for(function, &settings, config).await);
    }
    Responders { all }
}

/// `function`'s responder, around the playbook its binary serves.
pub async fn responder_for(
    function: responder_core::Function,
    settings: &responder_core::Settings,
    config: &SdkConfig,
) -> Box<dyn responder_aws::Handle> {
    responder_cli::responder_for(function, settings, config).await.expect("responder")
}

/// Empties the emulator (every account and region): for a test binary that
/// owns its emulator and works in batches, so the emulator's state, and with
/// it the time of each call, stays small.
pub fn reset_emulator() {
    bare_request(&emulator_endpoint(), "POST", "/moto-api/reset", "");
}

/// An unsigned request to the emulator (its own API, or a call the tests
/// make without an SDK client); panics unless it answers 200.
pub fn bare_request(endpoint: &str, method: &str, path: &str, body: &str) {
    use std::io::{Read, Write};
    let host = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).expect("connect to the emulator");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 200"), "{method} {path}: {response}");
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Python that has the emulator: `$RESPONDER_PYTHON`, or the project's
/// virtual environment made by `make setup`.
fn python() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("RESPONDER_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let venv = root().join(".tools/venv/bin/python");
    if venv.exists() {
        Ok(venv)
    } else {
        Err(format!("no Python with the emulator at {} (set RESPONDER_PYTHON)", venv.display()))
    }
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free loopback port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// A fixture from `events/`, with its instance id replaced (fixtures carry
/// realistic ids; the emulator makes its own).
pub fn fixture(name: &str) -> serde_json::Value {
    let path = root().join("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fixture's bytes with every occurrence of the instance id it names
/// (`detail.resource.instanceDetails.instanceId`, whatever it is) replaced.
pub fn fixture_for_instance(name: &str, instance_id: &str) -> Vec<u8> {
    let event = fixture(name);
    let named = event["detail"]["resource"]["instanceDetails"]["instanceId"]
        .as_str()
        .unwrap_or_else(|| panic!("{name} names no instance"))
        .to_owned();
    fixture_with(name, &[(named.as_str(), instance_id)])
}

/// The fixture's bytes with its credentials (`accessKeyDetails`) naming
/// `user_name`, and `key` when given, whatever the fixture named: so that a
/// test that expects nothing to change acts on a principal that exists.
pub fn fixture_naming_principal(name: &str, user_name: &str, key: Option<&str>) -> Vec<u8> {
    let mut event = fixture(name);
    let details = event["detail"]["resource"]["accessKeyDetails"]
        .as_object_mut()
        .unwrap_or_else(|| panic!("{name} has no accessKeyDetails"));
    let old = details.get("userName").and_then(|v| v.as_str()).unwrap_or_else(|| panic!("{name} names no user"));
    let old = old.to_owned();
    details.insert("userName".into(), user_name.into());
    if let Some(principal) = details.get("principalId").and_then(|p| p.as_str()).map(|p| p.replace(&old, user_name)) {
        details.insert("principalId".into(), principal.into());
    }
    if let Some(key) = key {
        assert!(details.contains_key("accessKeyId"), "{name} names no access key");
        details.insert("accessKeyId".into(), key.into());
    }
    give_unique_id(&mut event);
    let event = serde_json::to_vec(&event).expect("an event serializes");
    register_finding(&event);
    event
}

/// The fixture's bytes with each `(from, to)` text replaced. A `from` the
/// fixture does not contain fails the test: an event still naming the
/// fixture's own resources would make every "left untouched" check vacuous.
///
/// The finding gets an id of its own (tests run at once, and GuardDuty keeps
/// one finding per id), and is registered with the emulator's GuardDuty, as
/// GuardDuty has the finding of every event it sends. [`forged`] makes one
/// it does not have.
pub fn fixture_with(name: &str, replacements: &[(&str, &str)]) -> Vec<u8> {
    let event = forged(name, replacements);
    register_finding(&event);
    event
}

/// The object key `s3-malicious-object.json` names.
pub const MALICIOUS_KEY: &str = "incoming/invoice 2026-11.pdf.exe";

/// `s3-malicious-object.json` naming `key` at `version` in `bucket`, as
/// GuardDuty has it (see [`fixture_with`]).
pub fn malicious_object_event(bucket: &str, key: &str, version: &str) -> Vec<u8> {
    fixture_with(
        "s3-malicious-object.json",
        &[
            ("uploads-intake-prod", bucket),
            (MALICIOUS_KEY, key),
            ("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo", version),
        ],
    )
}

/// Like [`fixture_with`], but GuardDuty is not told: an event anyone who may
/// invoke a function could make up.
pub fn forged(name: &str, replacements: &[(&str, &str)]) -> Vec<u8> {
    let mut text = serde_json::to_string(&fixture(name)).expect("a fixture serializes");
    for (from, to) in replacements {
        assert!(text.contains(from), "{name} does not contain {from:?}: the seeded resource would not be named");
        text = text.replace(from, to);
    }
    let mut event: serde_json::Value = serde_json::from_str(&text).expect("a fixture is JSON");
    give_unique_id(&mut event);
    serde_json::to_vec(&event).expect("an event serializes")
}

/// Gives the event's finding an id of its own (tests run at once, and
/// GuardDuty keeps one finding per id).
fn give_unique_id(event: &mut serde_json::Value) {
    let Some(detail) = event.get_mut("detail") else { return };
    let Some(old) = detail.get("id").and_then(serde_json::Value::as_str).map(str::to_owned) else { return };
    let new = unique_finding_id(&old);
    detail["id"] = new.clone().into();
    // The finding's ARN (its Security Hub id) ends with the id, as GuardDuty's does.
    if let Some(arn) = detail.get("arn").and_then(serde_json::Value::as_str)
        && let Some((head, _)) = arn.rsplit_once("/finding/")
    {
        detail["arn"] = format!("{head}/finding/{new}").into();
    }
}

/// A Security Hub custom action event (the fixture `name`'s action) on the
/// GuardDuty finding of `event`, as Security Hub sends it.
pub fn custom_action_on(name: &str, event: &[u8]) -> Vec<u8> {
    let finding: serde_json::Value =
        serde_json::from_slice::<serde_json::Value>(event).expect("event")["detail"].clone();
    let mut action = fixture(name);
    let asff = &mut action["detail"]["findings"][0];
    asff["Id"] = finding["arn"].clone();
    asff["AwsAccountId"] = finding["accountId"].clone();
    serde_json::to_vec(&action).expect("JSON")
}

/// A finding id unique in this test run, shaped like GuardDuty's (32 hex).
fn unique_finding_id(original: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let head: String = original.chars().filter(char::is_ascii_hexdigit).take(12).collect();
    format!("{head:0>12}{:08x}{n:012x}", std::process::id())
}

/// Tells the emulator's GuardDuty about the finding of `event` (its
/// receiving account and region), replacing one with the same id.
pub fn register_finding(event: &[u8]) {
    let body = String::from_utf8_lossy(event);
    bare_request(&emulator_endpoint(), "POST", "/moto-api/static/guardduty/findings", &body);
}
