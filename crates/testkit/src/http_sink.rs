//! A local HTTP server that records every request and answers from a script: it stands in for an
//! SMS provider, a callback receiver or an attacker's JWKS host.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// One request as the sink received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// The body as `application/x-www-form-urlencoded` pairs.
    pub fn form(&self) -> BTreeMap<String, String> {
        url_decode_pairs(&self.body)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
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

fn url_decode_pairs(s: &str) -> BTreeMap<String, String> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (url_decode(k), url_decode(v)),
            None => (url_decode(p), String::new()),
        })
        .collect()
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    script: VecDeque<(u16, String, std::time::Duration)>,
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    default: Arc<(u16, String)>,
}

/// A running sink; it stops when dropped.
pub struct HttpSink {
    pub url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

async fn record(State(shared): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, 1 << 20).await.unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.to_str().unwrap_or_default().to_string()))
            .collect(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    let (status, body, delay) = {
        let mut inner = shared.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.requests.push(recorded);
        inner.script.pop_front().unwrap_or_else(|| (shared.default.0, shared.default.1.clone(), std::time::Duration::ZERO))
    };
    tokio::time::sleep(delay).await;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (status, [("content-type", "application/json")], Body::from(body)).into_response()
}

impl HttpSink {
    /// Answers every request with `status` and `body` unless a scripted answer is queued.
    pub async fn start(status: u16, body: &str) -> HttpSink {
        let shared = Shared { inner: Arc::default(), default: Arc::new((status, body.to_string())) };
        let router = axum::Router::new().fallback(record).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| crate::fail(&format!("bind: {e}")));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        HttpSink { url: format!("http://127.0.0.1:{port}"), shared, task }
    }

    /// Queues the answer to the next unanswered request.
    pub fn respond_next(&self, status: u16, body: &str) {
        self.respond_next_after(status, body, std::time::Duration::ZERO);
    }

    /// Queues the answer to the next unanswered request, given only after `delay` (a receiver
    /// slow enough for something to happen while the request is in flight).
    pub fn respond_next_after(&self, status: u16, body: &str, delay: std::time::Duration) {
        let mut inner = self.shared.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.script.push_back((status, body.to_string(), delay));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.inner.lock().unwrap_or_else(|e| e.into_inner()).requests.clone()
    }

    /// Waits (up to 10 s) until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Recorded> {
        for _ in 0..200 {
            let got = self.requests();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        crate::fail(&format!("expected {n} requests, got {}", self.requests().len()))
    }
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}
