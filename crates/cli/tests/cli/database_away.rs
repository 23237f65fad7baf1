//! PostgreSQL taken away under load, from two nodes: a PostgreSQL server of the test's own (made
//! with initdb, so it can be stopped) serves two `castellan serve` processes while clients log in
//! and refresh on both. It is stopped, started again, and then has its backends killed with
//! `pg_terminate_backend`. While it is down every dialect answers at once with 503 and
//! `Retry-After` in its own shape, `/ready` says unavailable and `/health` ok; within 5 s of its
//! return both nodes serve again; every refresh token answered as issued works exactly once; the
//! outbox worker delivers again; a hosted 2FA code sent during the outage leaves the verification
//! open, and after it the right code goes through, its callback delivered. Runs with the PostgreSQL suite (`CASTELLAN_TEST_DATABASE_URL`),
//! and prints why it skips where PostgreSQL's programs cannot be run.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{MASTER_KEY, Server, free_port, temp_dir};

const ADMIN: &str = "database-away-admin-token-41c9";
const BANK: &str = "awaybank";
const PASSWORD: &str = "Away-Passw0rd!";
const CLIENTS: usize = 6;
/// How soon after the database returns both nodes must serve again.
const BACK_WITHIN: Duration = Duration::from_secs(5);
/// How long any answer may take while the database is down, once the node has noticed (the
/// watcher pings every 500 ms).
const PROMPT: Duration = Duration::from_millis(500);
/// How long a request caught by the outage itself may wait: the pool's acquire timeout (3 s) and
/// some slack for a loaded machine.
const CAUGHT: Duration = Duration::from_secs(5);

/// A PostgreSQL server in a directory of its own, run as the `postgres` user when the test runs
/// as root (PostgreSQL refuses to run as root).
struct OwnPostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    run_as: Option<String>,
}

impl OwnPostgres {
    fn command(&self, program: &str) -> Command {
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(self.bin.join(program));
                c
            }
            None => Command::new(self.bin.join(program)),
        }
    }

    fn init() -> Result<OwnPostgres, String> {
        let bin = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
            .ok_or("no initdb and pg_ctl (pg_config --bindir)")?;
        let run_as = if Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n")) {
            if !Command::new("id").arg("postgres").output().is_ok_and(|o| o.status.success()) {
                return Err("running as root and there is no postgres user to run PostgreSQL as".into());
            }
            Some("postgres".to_string())
        } else {
            None
        };
        // Made by initdb itself, so it belongs to whoever runs PostgreSQL.
        let dir = std::env::temp_dir().join(format!("castellan-own-pg-{}", uuid::Uuid::new_v4().simple()));
        let pg = OwnPostgres { bin, dir, port: free_port(), run_as };
        let out = pg
            .command("initdb")
            .arg("-D")
            .arg(&pg.dir)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"])
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(pg)
    }

    fn start(&self) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.display());
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.dir)
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "30", "-o", &options, "start"])
            .output()
            .unwrap();
        assert!(out.status.success(), "pg_ctl start: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// A fast shutdown: open transactions are rolled back and every client disconnected.
    fn stop(&self) {
        let out = self.command("pg_ctl").arg("-D").arg(&self.dir).args(["-w", "-m", "fast", "stop"]).output().unwrap();
        assert!(out.status.success(), "pg_ctl stop: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").arg("-D").arg(&self.dir).args(["-w", "-m", "immediate", "stop"]).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn admin(node: &Server, method: Method, path: &str, body: Option<Value>) -> Value {
    let (s, b) = node.call(method, &format!("/admin/v1{path}"), Some(ADMIN), body).await;
    assert!(s == 200 || s == 201, "{path}: {s} {b}");
    b
}

/// What the clients saw.
#[derive(Default)]
struct Seen {
    /// Answers given while a node had not yet noticed the outage, or after it had.
    slowest: std::sync::Mutex<Duration>,
    unavailable: AtomicUsize,
    refreshed: AtomicUsize,
}

/// One client: logs in, then refreshes, each request on the other node; a 503 keeps the token for
/// the next try. Returns the latest token and those it spent.
async fn client(
    nodes: Arc<Vec<String>>,
    email: String,
    stop: Arc<AtomicBool>,
    seen: Arc<Seen>,
) -> Result<(String, Vec<String>), String> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let mut turn = 0usize;
    let mut post = async |path: &str, body: Value| -> Result<(u16, Value, Option<String>), String> {
        turn += 1;
        let url = format!("{}{path}", nodes[turn % nodes.len()]);
        let sent = Instant::now();
        let r =
            http.post(&url).header("x-tenant-id", BANK).json(&body).send().await.map_err(|e| format!("{url}: no answer: {e}"))?;
        let took = sent.elapsed();
        let status = r.status().as_u16();
        let retry_after = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let mut slowest = seen.slowest.lock().unwrap();
        *slowest = (*slowest).max(took);
        Ok((status, body, retry_after))
    };
    let mut latest = loop {
        let (s, b, _) = post("/api/v1/auth/login", json!({"email": email, "password": PASSWORD})).await?;
        match s {
            200 => break b["data"]["tokens"]["refreshToken"].as_str().ok_or(format!("login: {b}"))?.to_string(),
            503 => tokio::time::sleep(Duration::from_millis(50)).await,
            _ => return Err(format!("login of {email}: {s} {b}")),
        }
    };
    let mut spent = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let (s, b, retry_after) = post("/api/v1/auth/refresh", json!({"refreshToken": latest})).await?;
        match s {
            200 => {
                let next = b["data"]["tokens"]["refreshToken"].as_str().ok_or(format!("refresh: {b}"))?;
                spent.push(std::mem::replace(&mut latest, next.to_string()));
                seen.refreshed.fetch_add(1, Ordering::Relaxed);
            }
            503 => {
                if b["error"]["code"] != "SERVICE_UNAVAILABLE" || retry_after.as_deref() != Some("5") {
                    return Err(format!("a refresh refused while the database was away: {b} (Retry-After {retry_after:?})"));
                }
                seen.unavailable.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            _ => return Err(format!("an answered refresh token was refused: {s} {b}")),
        }
    }
    Ok((latest, spent))
}

/// A dialect's request, and whether an answer has the shape of its "try again later".
type Probe = (&'static str, reqwest::RequestBuilder, fn(&Value) -> bool);

/// One request per dialect that needs the database, with the shape its answer must have while
/// the database is down.
async fn probe_dialects(node: &str, tag: &str) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let kora = http
        .post(format!("{node}/api/v1/auth/login"))
        .header("x-tenant-id", BANK)
        .json(&json!({"email": "nobody@away.example", "password": PASSWORD}));
    let kumu = http
        .post(format!("{node}/v1/auth/login"))
        .json(&json!({"identifier": "nobody@away.example", "password": PASSWORD, "tagId": tag}));
    let fastapi = http
        .post(format!("{node}/auth/jwt/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("username=nobody%40away.example&password={PASSWORD}"));
    let oidc = http
        .post(format!("{node}/realms/awayoidc/protocol/openid-connect/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&client_id=no-such-client&client_secret=s");
    let eauth = http
        .post(format!("{node}/authen-api/api/v1/session-token"))
        .header("x-api-key", "no-such-key")
        .json(&json!({"email": "nobody@away.example", "client_id": "no-such-client"}));
    let admin = http.get(format!("{node}/admin/v1/tenants/{BANK}/users")).bearer_auth(ADMIN);
    let ready = http.get(format!("{node}/ready"));
    let checks: [Probe; 7] = [
        ("korastratum", kora, |b| b["error"]["code"] == "SERVICE_UNAVAILABLE"),
        ("kumusoft", kumu, |b| b["status"]["returnCode"] == "99"),
        ("fastapi-users", fastapi, |b| b["detail"] == "Service Unavailable"),
        ("oidc", oidc, |b| b["error"] == "temporarily_unavailable"),
        ("eauthenticator", eauth, |b| b["code"] == "SERVICE_UNAVAILABLE"),
        ("admin", admin, |b| b["error"]["code"] == "unavailable"),
        ("/ready", ready, |b| b["status"] == "unavailable"),
    ];
    for (what, rb, shape) in checks {
        let sent = Instant::now();
        let r = rb.send().await.unwrap_or_else(|e| panic!("{what} on {node}: no answer: {e}"));
        let took = sent.elapsed();
        let status = r.status().as_u16();
        let retry_after = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 503, "{what} on {node} with the database down: {body}");
        assert!(shape(&body), "{what} on {node}: not its dialect's shape: {body}");
        assert_eq!(retry_after.as_deref(), Some("5"), "{what} on {node}");
        assert!(took <= PROMPT, "{what} on {node} took {took:?} with the database down");
    }
    let health = http.get(format!("{node}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200, "/health stays up");
}

/// Waits until `/ready` on `node` answers `want`; how long that took.
async fn ready_becomes(node: &str, want: u16, within: Duration) -> Duration {
    let since = Instant::now();
    loop {
        let status = reqwest::get(format!("{node}/ready")).await.map(|r| r.status().as_u16()).unwrap_or(0);
        if status == want {
            return since.elapsed();
        }
        assert!(since.elapsed() < within, "{node}/ready is still {status}, not {want}, after {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A login and a refresh answered on `node`: it serves.
async fn serves(node: &str) -> bool {
    let http = reqwest::Client::new();
    let login = http
        .post(format!("{node}/api/v1/auth/login"))
        .header("x-tenant-id", BANK)
        .json(&json!({"email": "probe@away.example", "password": PASSWORD}));
    let Ok(r) = login.send().await else { return false };
    if r.status() != 200 {
        return false;
    }
    let b: Value = r.json().await.unwrap_or(Value::Null);
    let refresh = http
        .post(format!("{node}/api/v1/auth/refresh"))
        .header("x-tenant-id", BANK)
        .json(&json!({"refreshToken": b["data"]["tokens"]["refreshToken"]}));
    refresh.send().await.is_ok_and(|r| r.status() == 200)
}

async fn both_serve_within(nodes: &[String], within: Duration) -> Duration {
    let since = Instant::now();
    for node in nodes {
        while !serves(node).await {
            assert!(since.elapsed() < within, "{node} does not serve {within:?} after the database returned");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    since.elapsed()
}

const HOSTED_REDIRECT: &str = "https://portal.away.example/done";
const HOSTED_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// An eauthenticator application (made through the admin API, calling back to `callback`), a
/// user with its authenticator app, and an open verification: its session token and the code
/// of the moment.
async fn hosted_verification(node: &Server, callback: &str) -> (String, String) {
    admin(
        node,
        Method::POST,
        "/tenants",
        Some(json!({"slug": "awayportal", "display_name": "Away Portal", "profile": "eauthenticator"})),
    )
    .await;
    let app = json!({"name": "Portal", "kind": "confidential", "allowed_ips": ["127.0.0.1"],
        "callback_url": format!("{callback}/2fa/callback"), "redirect_uris": [HOSTED_REDIRECT]});
    let created = admin(node, Method::POST, "/tenants/awayportal/applications", Some(app)).await;
    let client_id = created["client_id"].as_str().unwrap().to_string();
    let key = admin(node, Method::POST, &format!("/tenants/awayportal/applications/{client_id}/api-keys"), None).await;
    let api_key = key["api_key"].as_str().unwrap().to_string();
    let client = reqwest::Client::new();
    let api = |path: &str, body: Value| {
        client.post(format!("{}/authen-api/api/v1{path}", node.url)).header("X-API-Key", api_key.clone()).json(&body)
    };
    let toggle = json!({"email": "jane@away.example", "client_id": client_id, "secret": HOSTED_SECRET, "action": "ENABLE",
        "type": "TOTP", "algorithm": "SHA1", "digits": 6, "period": 30});
    let (s, b) = castellan_testkit::send(api("/mfa/toggle", toggle)).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) =
        castellan_testkit::send(api("/session-token", json!({"email": "jane@away.example", "client_id": client_id}))).await;
    assert_eq!(s, 200, "{b}");
    (b["data"]["session_token"].as_str().unwrap().to_string(), crate::common::totp_now(HOSTED_SECRET))
}

/// A password-reset mail asked for on `node` reaches the mail server: the outbox worker runs.
async fn mail_goes_out(node: &str, sink: &castellan_testkit::SmtpSink, n: usize) {
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{node}/api/v1/registration/forgot-password"))
        .header("x-tenant-id", BANK)
        .json(&json!({"email": "probe@away.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    sink.wait_for("probe@away.example", n).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_stopped_restarted_and_its_backends_killed_under_load_on_two_nodes() {
    if castellan_testkit::engine() == "sqlite" {
        println!("skip: the PostgreSQL outage test runs with the PostgreSQL suite (CASTELLAN_TEST_DATABASE_URL)");
        return;
    }
    let pg = match OwnPostgres::init() {
        Ok(pg) => pg,
        Err(why) => {
            println!("SKIP PostgreSQL outage test: {why}");
            return;
        }
    };
    let _measured = crate::common::MEASURED.lock().await;
    pg.start();
    let sink = castellan_testkit::SmtpSink::start().await;
    let dir = temp_dir("database-away");
    let env = |name: &str| {
        vec![
            ("CASTELLAN_DATA_DIR", dir.join(name).display().to_string()),
            ("CASTELLAN_DATABASE_URL", pg.url()),
            ("CASTELLAN_MASTER_KEY", MASTER_KEY.to_string()),
            ("CASTELLAN_ADMIN_TOKEN", ADMIN.to_string()),
            ("CASTELLAN_PUBLIC_URL", "http://away.test".to_string()),
            ("CASTELLAN_SMTP_URL", format!("smtp://127.0.0.1:{}?tls=none", sink.port)),
            ("CASTELLAN_ARGON2_MEMORY_KIB", "64".to_string()),
            ("CASTELLAN_ARGON2_ITERATIONS", "1".to_string()),
            ("CASTELLAN_AUTH_RATE_LIMIT_PER_MINUTE", "1000000000".to_string()),
            ("CASTELLAN_LOG", "warn".to_string()),
            // The hosted 2FA callback goes to a receiver on loopback.
            ("CASTELLAN_ALLOW_PRIVATE_CALLBACKS", "true".to_string()),
        ]
    };
    let a = Server::start(&env("a"), &dir.join("a.log")).await;
    let b = Server::start(&env("b"), &dir.join("b.log")).await;
    let nodes = Arc::new(vec![a.url.clone(), b.url.clone()]);

    admin(&a, Method::POST, "/tenants", Some(json!({"slug": BANK, "display_name": "Away Bank", "profile": "korastratum"}))).await;
    for i in 0..CLIENTS {
        let user = json!({"email": format!("c{i}@away.example"), "password": PASSWORD, "email_verified": true});
        admin(&a, Method::POST, &format!("/tenants/{BANK}/users"), Some(user)).await;
    }
    let probe = json!({"email": "probe@away.example", "password": PASSWORD, "email_verified": true});
    admin(&a, Method::POST, &format!("/tenants/{BANK}/users"), Some(probe)).await;
    admin(&a, Method::POST, "/tenants", Some(json!({"slug": "awaykumu", "display_name": "Away Kumu", "profile": "kumusoft"})))
        .await;
    let tag = "AWAY_PORTAL";
    admin(
        &a,
        Method::POST,
        "/tenants/awaykumu/applications",
        Some(json!({"name": "Portal", "kind": "public", "kumusoft_tag": tag})),
    )
    .await;
    admin(&a, Method::POST, "/tenants", Some(json!({"slug": "awayoidc", "display_name": "Away OIDC", "profile": "oidc"}))).await;
    admin(&a, Method::POST, "/tenants", Some(json!({"slug": "kyc", "display_name": "KYC", "profile": "fastapi-users"}))).await;
    mail_goes_out(&a.url, &sink, 1).await;
    let receiver = castellan_testkit::HttpSink::start(200, "{}").await;
    let (hosted_token, hosted_code) = hosted_verification(&a, &receiver.url).await;

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Seen::default());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| tokio::spawn(client(nodes.clone(), format!("c{i}@away.example"), stop.clone(), seen.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(seen.refreshed.load(Ordering::Relaxed) > 0, "no load ran before the outage");

    // 1. Stopped: both nodes notice, and every dialect answers 503 at once.
    pg.stop();
    let stopped = Instant::now();
    for node in nodes.iter() {
        ready_becomes(node, 503, Duration::from_secs(3)).await;
    }
    for node in nodes.iter() {
        probe_dialects(node, tag).await;
    }
    // A code sent to the hosted page: nothing changes, and the page asks to try again.
    let r = a.submit_hosted_code(&hosted_token, HOSTED_REDIRECT, &hosted_code).await;
    assert_eq!(r.status(), 503);
    let page = r.text().await.unwrap();
    assert!(page.contains("Temporarily unavailable") || page.contains("The service is unavailable for a moment"), "{page}");
    assert!(!page.contains("INTERNAL_SERVER_ERROR") && !page.contains("REJECT"), "the verification was ended: {page}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let refreshed_while_down = seen.refreshed.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(seen.refreshed.load(Ordering::Relaxed), refreshed_while_down, "a refresh answered 200 with the database down");
    assert!(seen.unavailable.load(Ordering::Relaxed) > 0, "the clients never saw the outage");
    println!("down for {:?}", stopped.elapsed());

    // 2. Started again: both nodes serve within 5 s, without a restart; mail goes out again.
    pg.start();
    let took = both_serve_within(&nodes, BACK_WITHIN).await;
    println!("both nodes served again {took:?} after PostgreSQL accepted connections");
    mail_goes_out(&b.url, &sink, 2).await;
    // The same verification, still open: the right code goes through once its callback is made.
    let r = b.submit_hosted_code(&hosted_token, HOSTED_REDIRECT, &hosted_code).await;
    assert_eq!(r.status(), 302, "{}", r.text().await.unwrap_or_default());
    assert_eq!(receiver.requests().len(), 1, "one callback, after the outage");
    let before = seen.refreshed.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(seen.refreshed.load(Ordering::Relaxed) > before, "the clients' refreshes did not resume");

    // 3. Every backend killed: connections are replaced, and the nodes serve on.
    let killed = {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&pg.url()).await.unwrap();
        let killed: Vec<(bool,)> = sqlx::query_as(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = 'postgres'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let _ = conn.close().await;
        killed.len()
    };
    assert!(killed > 2, "only {killed} backends to kill");
    let took = both_serve_within(&nodes, BACK_WITHIN).await;
    println!("{killed} backends killed; both nodes served {took:?} later");
    mail_goes_out(&a.url, &sink, 3).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);

    // Every refresh token answered as issued: the latest works once, every spent one is refused.
    let http = reqwest::Client::new();
    let mut refreshes = 0;
    for h in clients {
        let (latest, spent) =
            h.await.unwrap().unwrap_or_else(|e| panic!("{e}\nnode A:\n{}\nnode B:\n{}", a.log_text(), b.log_text()));
        refreshes += spent.len();
        for (i, token) in std::iter::once(&latest).chain(&spent).enumerate() {
            let want = if i == 0 { 200 } else { 401 };
            let r = http
                .post(format!("{}/api/v1/auth/refresh", nodes[i % 2]))
                .header("x-tenant-id", BANK)
                .json(&json!({"refreshToken": token}));
            let (s, body) = castellan_testkit::send(r).await;
            assert_eq!(s, want, "token #{i} of a chain of {}: {body}", spent.len() + 1);
        }
        // The latest, once more: spent now.
        let r = http
            .post(format!("{}/api/v1/auth/refresh", nodes[0]))
            .header("x-tenant-id", BANK)
            .json(&json!({"refreshToken": latest}));
        assert_eq!(castellan_testkit::send(r).await.0, 401);
    }
    let slowest = *seen.slowest.lock().unwrap();
    println!(
        "{refreshes} refreshes, {} answered 503 while away; slowest answer {slowest:?}",
        seen.unavailable.load(Ordering::Relaxed)
    );
    assert!(slowest <= CAUGHT, "a request waited {slowest:?}");
    for node in [&a, &b] {
        let log = node.log_text();
        assert!(!log.contains("panicked"), "{log}");
        // One outage: the stop. Killed backends are replaced without the node counting the
        // database as down.
        assert_eq!(log.matches("database unreachable").count(), 1, "the outages in the log:\n{log}");
        assert_eq!(log.matches("database reachable again").count(), 1, "the returns in the log:\n{log}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
