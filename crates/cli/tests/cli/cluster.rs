//! Two `castellan serve` processes on one database: a login started on node A finishes on
//! node B, and a key rotated through node A reaches node B's JWKS within the cache TTL. Runs on
//! PostgreSQL only: a SQLite database is served by one process.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

const ADMIN: &str = "cluster-test-admin-token-7d1e";
const TTL_SECONDS: u64 = 2;

struct Node {
    url: String,
    child: Child,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start(database_url: &str, master_key: &str, dir: &std::path::Path) -> Node {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_castellan"))
        .arg("serve")
        .env("CASTELLAN_LISTEN", format!("127.0.0.1:{port}"))
        .env("CASTELLAN_DATA_DIR", dir)
        .env("CASTELLAN_DATABASE_URL", database_url)
        .env("CASTELLAN_MASTER_KEY", master_key)
        .env("CASTELLAN_ADMIN_TOKEN", ADMIN)
        .env("CASTELLAN_PUBLIC_URL", "http://cluster.test")
        .env("CASTELLAN_ARGON2_MEMORY_KIB", "64")
        .env("CASTELLAN_ARGON2_ITERATIONS", "1")
        .env("CASTELLAN_CACHE_TTL_SECONDS", TTL_SECONDS.to_string())
        .env("CASTELLAN_DEV", "true")
        .env("CASTELLAN_AUTH_RATE_LIMIT_PER_MINUTE", "100000")
        .env("CASTELLAN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let node = Node { url: format!("http://127.0.0.1:{port}"), child };
    for _ in 0..600 {
        if reqwest::get(format!("{}/health", node.url)).await.is_ok_and(|r| r.status().is_success()) {
            return node;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("node on port {port} did not start");
}

async fn call(node: &Node, method: Method, path: &str, bearer: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut rb = client.request(method, format!("{}{path}", node.url));
    if let Some(t) = bearer {
        rb = rb.bearer_auth(t);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    castellan_testkit::send(rb).await
}

async fn kids(node: &Node) -> Vec<String> {
    let (_, set) = call(node, Method::GET, "/.well-known/jwks.json", None, None).await;
    set["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect()
}

/// Two nodes on a fresh PostgreSQL database, started one after the other (the first runs the
/// migrations); `None` on SQLite, which one process serves (operator.rs checks that a second
/// refuses). The machine is held for the test's measurements until the cluster is dropped.
struct Cluster {
    a: Node,
    b: Node,
    dir: std::path::PathBuf,
    _measured: tokio::sync::MutexGuard<'static, ()>,
}

async fn two_nodes() -> Option<Cluster> {
    if castellan_testkit::engine() == "sqlite" {
        println!("skip: several nodes need PostgreSQL (CASTELLAN_TEST_DATABASE_URL)");
        return None;
    }
    let measured = crate::common::MEASURED.lock().await;
    let database_url = castellan_testkit::fresh_database_url().await;
    let dir = std::env::temp_dir().join(format!("castellan-cluster-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let master_key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let a = start(&database_url, master_key, &dir.join("a")).await;
    let b = start(&database_url, master_key, &dir.join("b")).await;
    Some(Cluster { a, b, dir, _measured: measured })
}

#[tokio::test]
async fn a_login_moves_between_nodes_and_a_rotated_key_reaches_the_other_node_within_the_ttl() {
    let Some(Cluster { a, b, dir, _measured }) = two_nodes().await else { return };

    let (s, t) = call(
        &a,
        Method::POST,
        "/admin/v1/tenants",
        Some(ADMIN),
        Some(json!({"slug": "kumusoft", "display_name": "Kumusoft", "profile": "kumusoft"})),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    let app_body = json!({"name": "Member Portal", "kind": "public", "kumusoft_tag": "ZED_INVESTA_MEMBER_PORTAL"});
    let (s, r) = call(&a, Method::POST, "/admin/v1/tenants/kumusoft/applications", Some(ADMIN), Some(app_body)).await;
    assert_eq!(s, 201, "{r}");
    let user = json!({"email": "user_8742@example.com", "password": "P@ssw0rd!92X", "first_name": "John", "last_name": "Doe", "email_verified": true});
    let (s, r) = call(&a, Method::POST, "/admin/v1/tenants/kumusoft/users", Some(ADMIN), Some(user)).await;
    assert_eq!(s, 201, "{r}");

    // Phase 1 on node A.
    let login = json!({"identifier": "user_8742@example.com", "password": "P@ssw0rd!92X", "tagId": "ZED_INVESTA_MEMBER_PORTAL"});
    let (s, started) = call(&a, Method::POST, "/v1/auth/login", None, Some(login)).await;
    assert_eq!(s, 200, "{started}");
    // The code, as node B's development outbox shows it.
    let mut code = String::new();
    for _ in 0..200 {
        let (_, list) = call(&b, Method::GET, "/admin/v1/outbox?to=user_8742@example.com", Some(ADMIN), None).await;
        if let Some(body) = list.as_array().and_then(|l| l.first()).and_then(|m| m["body"].as_str()) {
            code = body.split_whitespace().find(|w| w.len() == 6 && w.bytes().all(|c| c.is_ascii_digit())).unwrap().to_string();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(code.len(), 6, "no code delivered");
    // Phase 2 on node B.
    let verify = json!({"userId": started["data"]["userId"], "otp": code, "challengeId": started["data"]["challengeId"]});
    let (s, tokens) = call(&b, Method::POST, "/v1/auth/otp/verify", None, Some(verify)).await;
    assert_eq!(s, 200, "{tokens}");
    let access = tokens["data"]["accessToken"].as_str().unwrap().to_string();
    // Node A honours node B's token.
    let (s, me) = call(&a, Method::GET, "/v1/auth/me", Some(&access), None).await;
    assert_eq!(s, 200, "{me}");

    // Key rotation through node A, seen by node B's JWKS within the TTL.
    let before = kids(&b).await;
    assert_eq!(before.len(), 1, "{before:?}");
    let (s, rotated) =
        call(&a, Method::POST, "/admin/v1/tenants/kumusoft/keys/rotate", Some(ADMIN), Some(json!({"alg": "RS256"}))).await;
    assert_eq!(s, 201, "{rotated}");
    let new_kid = rotated["kid"].as_str().unwrap().to_string();
    let rotated_at = Instant::now();
    while !kids(&b).await.contains(&new_kid) {
        assert!(
            rotated_at.elapsed() < Duration::from_secs(TTL_SECONDS) + Duration::from_millis(1500),
            "node B still serves {before:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(kids(&b).await.contains(&before[0]), "the retiring key must stay published");
    // Node B signs with the new key; node A still accepts the token signed before the rotation.
    let (s, refreshed) =
        call(&b, Method::POST, "/v1/auth/token/refresh", None, Some(json!({"refreshToken": tokens["data"]["refreshToken"]})))
            .await;
    assert_eq!(s, 200, "{refreshed}");
    let header = refreshed["data"]["accessToken"].as_str().unwrap().split('.').next().unwrap().to_string();
    let header: Value = serde_json::from_slice(&base64url(&header)).unwrap();
    assert_eq!(header["kid"], json!(new_kid));
    let (s, me) = call(&a, Method::GET, "/v1/auth/me", Some(refreshed["data"]["accessToken"].as_str().unwrap()), None).await;
    assert_eq!(s, 200, "{me}");
    let (s, _) = call(&b, Method::POST, "/v1/auth/logout", Some(&access), None).await;
    assert_eq!(s, 200);
    let took = refused_within(&a, "/v1/auth/me", &[], &access).await;
    assert!(took <= REVOCATION_BOUND, "a session ended on B is ended on A within {REVOCATION_BOUND:?}, not {took:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// How long a revocation on one node may take to be refused on another (p99).
const REVOCATION_BOUND: Duration = Duration::from_millis(50);

/// Polls `path` on `node` with `access` until it is refused (401); how long that took.
async fn refused_within(node: &Node, path: &str, headers: &[(&str, &str)], access: &str) -> Duration {
    let client = reqwest::Client::new();
    let since = Instant::now();
    loop {
        let mut rb = client.get(format!("{}{path}", node.url)).bearer_auth(access);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if rb.send().await.unwrap().status() == 401 {
            return since.elapsed();
        }
        assert!(since.elapsed() < Duration::from_secs(2), "still accepted two seconds after the revocation");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Two processes on PostgreSQL: a logout on A is refused on B within 50 ms at p99, each node
/// holding the session in memory when it ends.
#[tokio::test]
async fn a_logout_on_one_process_is_refused_on_the_other_within_50_ms_at_p99() {
    let Some(Cluster { a, b, dir, _measured }) = two_nodes().await else { return };
    let tenant = json!({"slug": "bank", "display_name": "Bank", "profile": "korastratum"});
    let (s, t) = call(&a, Method::POST, "/admin/v1/tenants", Some(ADMIN), Some(tenant)).await;
    assert_eq!(s, 201, "{t}");
    let user = json!({"email": "user@example.com", "password": "SecurePass123!", "first_name": "John", "last_name": "Doe"});
    let (s, u) = call(&a, Method::POST, "/admin/v1/tenants/bank/users", Some(ADMIN), Some(user)).await;
    assert_eq!(s, 201, "{u}");
    let client = reqwest::Client::new();
    let kora = |node: &Node, path: &str| client.post(format!("{}{path}", node.url)).header("X-Tenant-ID", "bank");
    let mut took = Vec::new();
    for _ in 0..40 {
        let login = json!({"email": "user@example.com", "password": "SecurePass123!"});
        let (s, body) = castellan_testkit::send(kora(&a, "/api/v1/auth/login").json(&login)).await;
        assert_eq!(s, 200, "{body}");
        let access = body["data"]["tokens"]["accessToken"].as_str().unwrap().to_string();
        for _ in 0..2 {
            let r = client.get(format!("{}/api/v1/auth/sessions", b.url)).header("X-Tenant-ID", "bank").bearer_auth(&access);
            assert_eq!(r.send().await.unwrap().status(), 200);
        }
        let (s, _) = castellan_testkit::send(kora(&a, "/api/v1/auth/logout").bearer_auth(&access)).await;
        assert_eq!(s, 200);
        took.push(refused_within(&b, "/api/v1/auth/sessions", &[("X-Tenant-ID", "bank")], &access).await);
    }
    took.sort();
    let p99 = took[(took.len() * 99).div_ceil(100) - 1];
    assert!(p99 <= REVOCATION_BOUND, "p99 {p99:?}: {took:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn base64url(s: &str) -> Vec<u8> {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = A.iter().position(|&x| x == c).unwrap() as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    out
}
