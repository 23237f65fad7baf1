//! Connections: silent and trickling clients are closed after the header timeout, idle keep-alive
//! connections after the keep-alive timeout, the caps close connections at accept, and a body
//! declared larger than the limit is refused at once.

use std::time::Duration;

use castellan_testkit::{TestApp, TestOptions, spawn_app_with};
use reqwest::Method;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn spawn(adjust: impl FnOnce(&mut castellan_server::Settings) + Send + 'static) -> TestApp {
    spawn_app_with(TestOptions { settings: Some(Box::new(adjust)), ..TestOptions::default() }).await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(("127.0.0.1", app.port)).await.unwrap()
}

/// Reads until the server closes the connection (EOF or reset) and returns what it sent, or
/// `None` if it was still open after `bound`.
async fn read_until_closed(stream: &mut TcpStream, bound: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let read_all = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(bound, read_all).await.ok()?;
    Some(received)
}

/// `/health` through a client of its own (no pooled connection) that gives up after a second.
async fn health_within_a_second(app: &TestApp) -> Result<u16, reqwest::Error> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(1)).build().unwrap();
    client.get(app.url("/health")).send().await.map(|r| r.status().as_u16())
}

#[tokio::test]
async fn silent_and_trickling_connections_leave_health_answering_and_are_closed_after_the_header_timeout() {
    let app = spawn(|s| {
        s.header_read_timeout_seconds = 1;
        s.max_connections = 1000;
        s.max_connections_per_ip = 1000;
    })
    .await;
    let mut held = Vec::new();
    for i in 0..300 {
        let mut stream = connect(&app).await;
        if i % 2 == 1 {
            // A head that never ends.
            stream.write_all(b"GET /health HTTP/1.1\r\nHost: castellan\r\nX-Slow: ").await.unwrap();
        }
        held.push(stream);
    }
    assert_eq!(health_within_a_second(&app).await.unwrap(), 200);
    // Every one of them is closed within the timeout (and a generous margin), none answered.
    let readers: Vec<_> = held
        .into_iter()
        .map(|mut s| tokio::spawn(async move { read_until_closed(&mut s, Duration::from_secs(15)).await }))
        .collect();
    let mut closed = Vec::new();
    for r in readers {
        closed.push(r.await.unwrap());
    }
    let still_open = closed.iter().filter(|c| c.is_none()).count();
    assert_eq!(still_open, 0, "{still_open} of 300 connections still open");
    assert!(closed.iter().flatten().all(|bytes| bytes.is_empty()), "a timed-out connection got an answer");
    assert_eq!(health_within_a_second(&app).await.unwrap(), 200);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let app = spawn(|s| {
        s.header_read_timeout_seconds = 60;
        s.keep_alive_timeout_seconds = 1;
    })
    .await;
    let mut stream = connect(&app).await;
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: castellan\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
    let rest = read_until_closed(&mut stream, Duration::from_secs(15)).await;
    assert_eq!(rest.as_deref(), Some(&b""[..]), "the idle connection must be closed, without another answer");
}

#[tokio::test]
async fn a_keep_alive_connection_may_idle_past_the_header_timeout() {
    // The header timeout bounds sending a request, not the pause between two of them.
    let app = spawn(|s| {
        s.header_read_timeout_seconds = 1;
        s.keep_alive_timeout_seconds = 60;
    })
    .await;
    let mut stream = connect(&app).await;
    let mut buf = [0u8; 4096];
    for _ in 0..2 {
        stream.write_all(b"GET /health HTTP/1.1\r\nHost: castellan\r\n\r\n").await.unwrap();
        let n = stream.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
        // Well past the 1 s header timeout, so a timeout wrongly applied to the pause would
        // have closed the connection.
        tokio::time::sleep(Duration::from_millis(1800)).await;
    }
}

/// Holds `cap` silent connections, checks that one more is closed at accept (and so is a request
/// from the same address), then releases them and sees requests answered again.
async fn the_cap_closes_the_next_connection_at_accept(app: &TestApp, cap: usize, metric: &str) {
    let mut held = Vec::new();
    for _ in 0..cap {
        held.push(connect(app).await);
    }
    // The held connections are accepted before the next one (the backlog is served in order),
    // and stay open: the header timeout is long.
    let mut refused = connect(app).await;
    let answer = read_until_closed(&mut refused, Duration::from_secs(10)).await;
    assert_eq!(answer.as_deref(), Some(&b""[..]), "the connection past the cap must be closed at once");
    assert!(health_within_a_second(app).await.is_err(), "a request past the cap must not be served");
    drop(held);
    let mut answered = None;
    for _ in 0..100 {
        if let Ok(status) = health_within_a_second(app).await {
            answered = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answered, Some(200), "released connections must make room again");
    let text = app.request(Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
    let line = format!("castellan_connections_refused_total{{cap=\"{metric}\"}} ");
    let refused: u64 = text.lines().find_map(|l| l.strip_prefix(&line)).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(refused >= 2, "{text}");
}

#[tokio::test]
async fn connections_past_the_per_address_cap_are_closed_at_accept() {
    let app = spawn(|s| {
        s.header_read_timeout_seconds = 60;
        s.max_connections = 1000;
        s.max_connections_per_ip = 4;
    })
    .await;
    the_cap_closes_the_next_connection_at_accept(&app, 4, "max_connections_per_ip").await;
}

#[tokio::test]
async fn connections_past_the_total_cap_are_closed_at_accept() {
    let app = spawn(|s| {
        s.header_read_timeout_seconds = 60;
        s.max_connections = 4;
        s.max_connections_per_ip = 0;
    })
    .await;
    the_cap_closes_the_next_connection_at_accept(&app, 4, "max_connections").await;
}

/// Sends a head declaring a body past the limit and no body; returns (status line, body).
async fn declare_too_much(app: &TestApp, path: &str, extra_headers: &str) -> (String, Value) {
    let mut stream = connect(app).await;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: castellan\r\nContent-Type: application/json\r\n{extra_headers}Content-Length: 10000000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Well under the 30 s request timeout an unanswered body would be held for.
    let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    let answer = String::from_utf8(answer.expect("answered and closed at once")).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.to_ascii_lowercase().contains("connection: close"), "{head}");
    (head.lines().next().unwrap().to_string(), serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_body_declared_larger_than_the_limit_is_refused_at_once_in_each_dialects_shape() {
    let app = spawn(|_| {}).await;
    let (status, body) = declare_too_much(&app, "/api/v1/auth/login", "X-Tenant-ID: fmfb\r\n").await;
    assert_eq!(status, "HTTP/1.1 413 Payload Too Large");
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
    assert_eq!(body["error"]["details"]["body"], "larger than 65536 bytes");

    let (status, body) = declare_too_much(&app, "/v1/auth/login", "").await;
    assert!(status.starts_with("HTTP/1.1 413"));
    assert_eq!(body["status"]["returnCode"], "90");
    assert_eq!(body["status"]["returnMessage"], "body: larger than 65536 bytes");

    let (status, body) = declare_too_much(&app, "/v1/authmanager/authenticate/useridPwd", "").await;
    assert!(status.starts_with("HTTP/1.1 413"));
    assert_eq!(body["errors"][0]["errorCode"], "KER-ATH-004");

    let (status, body) = declare_too_much(&app, "/auth/jwt/login", "").await;
    assert!(status.starts_with("HTTP/1.1 413"));
    assert_eq!(body, serde_json::json!({ "detail": "Content Too Large" }));

    let (status, body) = declare_too_much(&app, "/authen-api/api/v1/session-tokens", "").await;
    assert!(status.starts_with("HTTP/1.1 413"));
    assert_eq!(body["code"], "INVALID_REQUEST");

    let (status, body) = declare_too_much(&app, "/admin/v1/tenants", "").await;
    assert!(status.starts_with("HTTP/1.1 413"));
    assert_eq!(body["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn a_body_within_the_limit_is_still_read() {
    let app = spawn(|s| s.body_limit_bytes = 1024).await;
    let tenant = serde_json::json!({ "slug": "limits", "display_name": "Limits" });
    let (s, b) = app.admin(Method::POST, "/tenants", Some(tenant)).await;
    assert_eq!(s, 201, "{b}");
    let user = serde_json::json!({ "email": "near@example.com", "attributes": { "note": "x".repeat(800) } });
    let (s, b) = app.admin(Method::POST, "/tenants/limits/users", Some(user)).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["attributes"]["note"].as_str().map(str::len), Some(800));
}

#[tokio::test]
async fn a_stop_lets_the_request_in_flight_finish_and_accepts_no_more() {
    let app = spawn(|_| {}).await;
    let port = app.port;
    let body = serde_json::json!({ "slug": "inflight", "display_name": "In flight" }).to_string();
    let (first, rest) = body.split_at(10);
    let mut stream = connect(&app).await;
    let head = format!(
        "POST /admin/v1/tenants HTTP/1.1\r\nHost: castellan\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{first}",
        app.admin_token,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // An idle keep-alive connection does not hold the stop up.
    let idle = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(idle.status(), 200);
    let stopping = tokio::spawn(app.stop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!stopping.is_finished(), "the stop must wait for the request in flight");
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err(), "no new connections once stopping");
    stream.write_all(rest.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await.expect("answered, then closed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    tokio::time::timeout(Duration::from_secs(10), stopping).await.expect("stopped once answered").unwrap();
}
