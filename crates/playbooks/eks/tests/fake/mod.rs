//! A fake Kubernetes API server, in-process on a free loopback port: it
//! keeps objects by path (GET, list with label and field selectors, POST,
//! PUT, merge PATCH, DELETE, as the API server answers them), answers from
//! a table of canned responses first, and records every request.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The collections the fake knows: the last segment of a collection path.
const COLLECTIONS: &[&str] = &["pods", "nodes", "networkpolicies", "rolebindings", "clusterrolebindings", "configmaps"];

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    pub body: Option<Value>,
}

impl Recorded {
    /// `METHOD path`, as the tests list them.
    pub fn call(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

#[derive(Debug)]
struct Canned {
    method: String,
    path: String,
    status: u16,
    body: Value,
}

#[derive(Debug, Default)]
struct State {
    objects: BTreeMap<String, Value>,
    requests: Vec<Recorded>,
    canned: Vec<Canned>,
    version: u64,
}

#[derive(Debug, Clone)]
pub struct FakeApi {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl FakeApi {
    pub async fn start() -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeApi { url, state }
    }

    /// A client of this server, as production builds one.
    pub fn client(&self) -> kube::Client {
        responder_eks::client_at(&self.url, Some("test-token".into()), None).unwrap()
    }

    /// Stores `object` at `path` (its full API path).
    pub fn put(&self, path: &str, object: Value) {
        let mut s = self.state.lock().unwrap();
        s.version += 1;
        let mut object = object;
        object["metadata"]["resourceVersion"] = json!(s.version.to_string());
        object["metadata"]["uid"] = json!(format!("uid-{}", s.version));
        object["metadata"]["creationTimestamp"] = json!("2024-01-01T00:00:00Z");
        s.objects.insert(path.to_owned(), object);
    }

    pub fn object(&self, path: &str) -> Option<Value> {
        self.state.lock().unwrap().objects.get(path).cloned()
    }

    /// Answers `method path` with `status` and `body`, before any stored state.
    pub fn answer(&self, method: &str, path: &str, status: u16, body: Value) {
        self.state.lock().unwrap().canned.push(Canned { method: method.into(), path: path.into(), status, body });
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Every request as `METHOD path`.
    pub fn calls(&self) -> Vec<String> {
        self.requests().iter().map(Recorded::call).collect()
    }

    /// Requests that could change something.
    pub fn writes(&self) -> Vec<String> {
        self.requests().iter().filter(|r| r.method != "GET").map(Recorded::call).collect()
    }

    pub fn forget_requests(&self) {
        self.state.lock().unwrap().requests.clear();
    }
}

/// A `Status` failure, as the API server sends it.
pub fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code })
}

fn respond(code: u16, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = hyper::StatusCode::from_u16(code).unwrap();
    response.headers_mut().insert("content-type", "application/json".parse().unwrap());
    response
}

async fn handle(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (content_type, authorization) = (header("content-type"), header("authorization"));
    let bytes = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let body: Option<Value> = if bytes.is_empty() { None } else { serde_json::from_slice(&bytes).ok() };
    let mut s = state.lock().unwrap();
    s.requests.push(Recorded {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        content_type: content_type.clone(),
        authorization,
        body: body.clone(),
    });
    if let Some(c) = s.canned.iter().find(|c| c.method == method && c.path == path) {
        return Ok(respond(c.status, &c.body));
    }
    let last = path.rsplit('/').next().unwrap_or_default();
    let collection = COLLECTIONS.contains(&last);
    let not_found = || respond(404, &status(404, "NotFound", &format!("{path} not found")));
    let answer = match (method.as_str(), collection) {
        ("GET", true) => respond(200, &list(&s.objects, &path, &query)),
        ("GET", false) => s.objects.get(&path).map_or_else(not_found, |o| respond(200, o)),
        ("POST", true) => {
            let mut object = body.unwrap_or_default();
            let name = object["metadata"]["name"].as_str().unwrap_or_default().to_owned();
            let key = format!("{path}/{name}");
            if s.objects.contains_key(&key) {
                respond(409, &status(409, "AlreadyExists", &format!("{last} \"{name}\" already exists")))
            } else {
                s.version += 1;
                object["metadata"]["resourceVersion"] = json!(s.version.to_string());
                object["metadata"]["uid"] = json!(format!("uid-{}", s.version));
                object["metadata"]["creationTimestamp"] = json!("2024-06-01T00:00:00Z");
                s.objects.insert(key, object.clone());
                respond(201, &object)
            }
        }
        ("PUT", false) => match s.objects.get(&path).cloned() {
            None => not_found(),
            Some(old) => {
                let mut object = body.unwrap_or_default();
                if object["metadata"]["resourceVersion"] != old["metadata"]["resourceVersion"] {
                    respond(409, &status(409, "Conflict", "the object has been modified"))
                } else {
                    s.version += 1;
                    object["metadata"]["resourceVersion"] = json!(s.version.to_string());
                    s.objects.insert(path.clone(), object.clone());
                    respond(200, &object)
                }
            }
        },
        ("PATCH", false) if content_type.as_deref() != Some("application/merge-patch+json") => {
            respond(415, &status(415, "UnsupportedMediaType", "only merge patches here"))
        }
        ("PATCH", false) => match s.objects.get(&path).cloned() {
            None => not_found(),
            Some(mut object) => {
                merge(&mut object, &body.unwrap_or_default());
                s.version += 1;
                object["metadata"]["resourceVersion"] = json!(s.version.to_string());
                s.objects.insert(path.clone(), object.clone());
                respond(200, &object)
            }
        },
        ("DELETE", false) => match s.objects.remove(&path) {
            None => not_found(),
            Some(_) => respond(200, &json!({ "kind": "Status", "apiVersion": "v1", "status": "Success" })),
        },
        _ => respond(405, &status(405, "MethodNotAllowed", "not here")),
    };
    Ok(answer)
}

/// RFC 7386: objects merge, `null` removes, anything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    if let Value::Object(t) = target {
        for (k, v) in patch {
            if v.is_null() {
                t.remove(k);
            } else {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

fn list(objects: &BTreeMap<String, Value>, path: &str, query: &str) -> Value {
    let params: BTreeMap<String, String> =
        query.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (k.to_owned(), decode(v))).collect();
    // `/api/v1/pods` lists every namespace's pods.
    let every_namespace = path == "/api/v1/pods";
    let items: Vec<Value> = objects
        .iter()
        .filter(|(key, _)| {
            let (parent, _) = key.rsplit_once('/').unwrap();
            if every_namespace {
                key.starts_with("/api/v1/namespaces/") && parent.ends_with("/pods")
            } else {
                parent == path
            }
        })
        .map(|(_, o)| o)
        .filter(|o| params.get("labelSelector").is_none_or(|s| labels_match(o, s)))
        .filter(|o| params.get("fieldSelector").is_none_or(|s| fields_match(o, s)))
        .cloned()
        .collect();
    json!({ "kind": "List", "apiVersion": "v1", "metadata": { "resourceVersion": "1" }, "items": items })
}

fn labels_match(object: &Value, selector: &str) -> bool {
    let labels = &object["metadata"]["labels"];
    selector.split(',').all(|term| match term.split_once('=') {
        Some((k, v)) => labels[k].as_str() == Some(v),
        None => match term.strip_prefix('!') {
            Some(k) => labels.get(k).is_none(),
            None => labels.get(term).is_some(),
        },
    })
}

fn fields_match(object: &Value, selector: &str) -> bool {
    selector.split(',').all(|term| match term.split_once('=') {
        Some(("spec.nodeName", v)) => object["spec"]["nodeName"].as_str() == Some(v),
        Some(("metadata.name", v)) => object["metadata"]["name"].as_str() == Some(v),
        _ => panic!("the fake does not know the field selector {term}"),
    })
}

fn decode(s: &str) -> String {
    let mut out = Vec::new();
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hex: String = bytes.by_ref().take(2).map(char::from).collect();
                out.push(u8::from_str_radix(&hex, 16).unwrap());
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
    }
    String::from_utf8(out).unwrap()
}
