//! `castellan serve` killed with SIGKILL five times under load, restarted each time on the same
//! data directory: whatever it answered survives. Every refresh token a client was answered works
//! exactly once, every answered registration can log in, and the SQLite file passes
//! `PRAGMA integrity_check` (on PostgreSQL, with `CASTELLAN_TEST_DATABASE_URL`, the same load and
//! checks run without the pragma).
//!
//! With PostgreSQL the same runs on two nodes as well: node A is killed five times while node B
//! keeps serving, and the clients' requests alternate between them.
//!
//! The binary under test is the one cargo built for this test, or the one `CASTELLAN_CRASH_BINARY`
//! names (e.g. `CASTELLAN_CRASH_BINARY=target/release/castellan cargo test -p castellan --test cli crash`).
//!
//! A request in flight when the kill hits may have been served with its answer lost. Clients keep
//! only what they were answered and send a cut-off request again once the server is back; the
//! second answer says whether the first took effect.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{free_port, temp_dir};

const ADMIN: &str = "crash-test-admin-token-5b2e91";
const TENANT: &str = "crashbank";
const PASSWORD: &str = "Crash-Passw0rd!";
const KILLS: usize = 5;
const REFRESHERS: usize = 4;
const REGISTRARS: usize = 2;
/// How long a cut-off request is sent again before the server counts as gone for good.
const BACK_WITHIN: Duration = Duration::from_secs(30);

fn binary() -> PathBuf {
    std::env::var_os("CASTELLAN_CRASH_BINARY").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_castellan")), PathBuf::from)
}

/// A number in `lo..hi`, different on every run: the kills land at different moments each time.
fn random_between(lo: u64, hi: u64) -> u64 {
    lo + (uuid::Uuid::new_v4().as_u128() % u128::from(hi - lo)) as u64
}

/// One `serve` process; dropping it kills it.
struct Serve {
    child: Child,
}

impl Serve {
    /// Starts the binary on a free port and waits for /health; returns it with its base URL.
    async fn start(env: &[(&str, String)], log: &Path) -> (Serve, String) {
        let port = free_port();
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let mut cmd = Command::new(binary());
        cmd.arg("serve");
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("CASTELLAN_")) {
            cmd.env_remove(k);
        }
        cmd.env("CASTELLAN_LISTEN", format!("127.0.0.1:{port}")).envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::from(out)).spawn().unwrap();
        let mut serve = Serve { child };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if reqwest::get(format!("{url}/health")).await.is_ok_and(|r| r.status().is_success()) {
                return (serve, url);
            }
            if let Ok(Some(status)) = serve.child.try_wait() {
                panic!("serve exited with {status}: {}", std::fs::read_to_string(log).unwrap_or_default());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("serve did not answer /health: {}", std::fs::read_to_string(log).unwrap_or_default());
    }

    /// SIGKILL: no shutdown handler runs, no buffer is flushed.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The clients' way to the server, which moves to a new port at each restart.
#[derive(Clone)]
struct Link {
    url: Arc<RwLock<String>>,
    /// A second node that is never killed: every other request goes there.
    steady: Option<String>,
    turn: Arc<AtomicUsize>,
    /// Successful answers from the steady node.
    steady_answers: Arc<AtomicUsize>,
    client: reqwest::Client,
    /// Requests cut off by a kill (or sent while the server was down).
    cut_off: Arc<AtomicUsize>,
}

impl Link {
    /// One korastratum call; an error means no complete answer came back.
    async fn post(&self, path: &str, body: &Value) -> Result<(u16, Value), reqwest::Error> {
        let steady = self.steady.as_ref().filter(|_| self.turn.fetch_add(1, Ordering::Relaxed) % 2 == 1);
        let base = steady.cloned().unwrap_or_else(|| self.url.read().unwrap().clone());
        let r = self.client.post(format!("{base}{path}")).header("x-tenant-id", TENANT).json(body).send().await?;
        let status = r.status().as_u16();
        let text = r.text().await?;
        if steady.is_some() && (200..300).contains(&status) {
            self.steady_answers.fetch_add(1, Ordering::Relaxed);
        }
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// Sends until a complete answer comes back; the flag says whether an earlier attempt was
    /// cut off, in which case that attempt may or may not have taken effect.
    async fn answered(&self, path: &str, body: &Value) -> Result<(u16, Value, bool), String> {
        let mut cut = false;
        let mut down_since: Option<Instant> = None;
        loop {
            match self.post(path, body).await {
                Ok((s, b)) => return Ok((s, b, cut)),
                Err(e) => {
                    if !cut {
                        self.cut_off.fetch_add(1, Ordering::Relaxed);
                    }
                    cut = true;
                    if down_since.get_or_insert_with(Instant::now).elapsed() > BACK_WITHIN {
                        return Err(format!("{path}: no answer for {BACK_WITHIN:?}: {e}"));
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// Logs in (sending again if cut off) and returns the refresh token answered.
async fn login(link: &Link, email: &str) -> Result<String, String> {
    let (s, b, _) = link.answered("/api/v1/auth/login", &json!({"email": email, "password": PASSWORD})).await?;
    match b["data"]["tokens"]["refreshToken"].as_str() {
        Some(t) if s == 200 => Ok(t.to_string()),
        _ => Err(format!("login of {email}: {s} {b}")),
    }
}

/// One client's refresh tokens: the latest answered, and those it has spent.
struct Chain {
    latest: String,
    spent: Vec<String>,
    /// Refreshes served whose answer the kill took (their token is spent; the session ended).
    lost: usize,
}

async fn refresher(link: Link, email: String, stop: Arc<AtomicBool>) -> Result<Chain, String> {
    let mut chain = Chain { latest: login(&link, &email).await?, spent: Vec::new(), lost: 0 };
    while !stop.load(Ordering::Relaxed) {
        let (s, b, cut) = link.answered("/api/v1/auth/refresh", &json!({"refreshToken": chain.latest})).await?;
        match (s, code(&b)) {
            (200, _) => {
                let next = b["data"]["tokens"]["refreshToken"].as_str().ok_or(format!("refresh answer: {b}"))?;
                chain.spent.push(std::mem::replace(&mut chain.latest, next.to_string()));
            }
            // The cut-off refresh was served; presenting its token again is a reuse, which ends
            // the session as it must. The client signs in again.
            (401, "REFRESH_TOKEN_REUSED") if cut => {
                chain.lost += 1;
                chain.spent.push(std::mem::replace(&mut chain.latest, login(&link, &email).await?));
            }
            _ => return Err(format!("an answered refresh token (cut off before: {cut}) was refused: {s} {b}")),
        }
    }
    Ok(chain)
}

/// Accounts registered (each answered 201, or 409 to the second sending of a cut-off
/// registration) and the refresh token of the login each made right after.
struct Registered {
    emails: Vec<String>,
    refresh_tokens: Vec<String>,
}

async fn registrar(link: Link, task: usize, stop: Arc<AtomicBool>) -> Result<Registered, String> {
    let mut done = Registered { emails: Vec::new(), refresh_tokens: Vec::new() };
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let email = format!("reg-{task}-{n}@crash.example");
        let body = json!({"email": email, "password": PASSWORD, "firstName": "Ada", "lastName": "Obi"});
        let (s, b, cut) = link.answered("/api/v1/registration/register", &body).await?;
        match (s, code(&b)) {
            (201, _) => {}
            (409, "EMAIL_TAKEN") if cut => {}
            _ => return Err(format!("registration of {email} (cut off before: {cut}): {s} {b}")),
        }
        done.refresh_tokens.push(login(&link, &email).await?);
        done.emails.push(email);
    }
    Ok(done)
}

/// After the load: the latest token works once, then it and every token spent before are refused.
async fn check_chain(link: Link, chain: Chain) -> Result<(), String> {
    let body = |t: &str| json!({"refreshToken": t});
    let (s, b) = link.post("/api/v1/auth/refresh", &body(&chain.latest)).await.map_err(|e| e.to_string())?;
    if s != 200 {
        return Err(format!("the latest answered refresh token, first use: {s} {b}"));
    }
    for (i, t) in std::iter::once(&chain.latest).chain(&chain.spent).enumerate() {
        let (s, b) = link.post("/api/v1/auth/refresh", &body(t)).await.map_err(|e| e.to_string())?;
        if (s, code(&b)) != (401, "REFRESH_TOKEN_REUSED") {
            return Err(format!("spent refresh token #{i} of {}, used again: {s} {b}", chain.spent.len() + 1));
        }
    }
    Ok(())
}

/// After the load: every registered account logs in, and its login's refresh token works once.
async fn check_registered(link: Link, done: Registered) -> Result<(), String> {
    for (email, token) in done.emails.iter().zip(&done.refresh_tokens) {
        for (want, want_code) in [(200, ""), (401, "REFRESH_TOKEN_REUSED")] {
            let (s, b) = link.post("/api/v1/auth/refresh", &json!({"refreshToken": token})).await.map_err(|e| e.to_string())?;
            if (s, code(&b)) != (want, want_code) {
                return Err(format!("{email}'s login refresh token: {s} {b}, not {want} {want_code}"));
            }
        }
        let (s, b) =
            link.post("/api/v1/auth/login", &json!({"email": email, "password": PASSWORD})).await.map_err(|e| e.to_string())?;
        if s != 200 {
            return Err(format!("registered {email} cannot log in: {s} {b}"));
        }
    }
    Ok(())
}

/// A client's failure, with the log of every `serve` run for context.
fn failed<T>(log: &Path) -> impl Fn(String) -> T + '_ {
    move |e| panic!("{e}\nserve's log:\n{}", std::fs::read_to_string(log).unwrap_or_default())
}

async fn admin(url: &str, method: reqwest::Method, path: &str, body: Value) -> Value {
    let rb = reqwest::Client::new().request(method, format!("{url}/admin/v1{path}")).bearer_auth(ADMIN).json(&body);
    let (s, b) = castellan_testkit::send(rb).await;
    assert!(s == 200 || s == 201, "{path}: {s} {b}");
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_tokens_and_registrations_survive_five_sigkills_and_the_database_stays_intact() {
    crash_under_load(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_one_of_two_nodes_is_killed_five_times_while_the_other_serves_and_nothing_answered_is_lost() {
    if castellan_testkit::engine() == "sqlite" {
        println!("skip: two nodes need PostgreSQL (CASTELLAN_TEST_DATABASE_URL)");
        return;
    }
    crash_under_load(true).await;
}

async fn crash_under_load(two_nodes: bool) {
    let _measured = crate::common::MEASURED.lock().await;
    let started = Instant::now();
    let dir = temp_dir("crash");
    let data = dir.join("data");
    let log = dir.join("serve.log");
    let mut env = vec![
        ("CASTELLAN_DATA_DIR", data.display().to_string()),
        ("CASTELLAN_ADMIN_TOKEN", ADMIN.to_string()),
        ("CASTELLAN_ARGON2_MEMORY_KIB", "64".to_string()),
        ("CASTELLAN_ARGON2_ITERATIONS", "1".to_string()),
        // All the load comes from one address.
        ("CASTELLAN_AUTH_RATE_LIMIT_PER_MINUTE", "1000000000".to_string()),
        ("CASTELLAN_DEV", "true".to_string()),
        ("CASTELLAN_LOG", "warn".to_string()),
    ];
    if castellan_testkit::engine() == "postgres" {
        env.push(("CASTELLAN_DATABASE_URL", castellan_testkit::fresh_database_url().await));
        // Both nodes seal and open secrets with the same key.
        env.push(("CASTELLAN_MASTER_KEY", crate::common::MASTER_KEY.to_string()));
    }
    let (mut serve, url) = Serve::start(&env, &log).await;
    let steady = if two_nodes {
        let mut steady_env = env.clone();
        steady_env.retain(|(k, _)| *k != "CASTELLAN_DATA_DIR");
        steady_env.push(("CASTELLAN_DATA_DIR", dir.join("steady").display().to_string()));
        Some(Serve::start(&steady_env, &dir.join("steady.log")).await)
    } else {
        None
    };
    let tenant = json!({"slug": TENANT, "display_name": "Crash Bank", "profile": "korastratum"});
    admin(&url, reqwest::Method::POST, "/tenants", tenant).await;
    for i in 0..REFRESHERS {
        let user = json!({"email": format!("chain-{i}@crash.example"), "password": PASSWORD, "email_verified": true});
        admin(&url, reqwest::Method::POST, &format!("/tenants/{TENANT}/users"), user).await;
    }

    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let link = Link {
        url: Arc::new(RwLock::new(url)),
        steady: steady.as_ref().map(|(_, url)| url.clone()),
        turn: Arc::new(AtomicUsize::new(0)),
        steady_answers: Arc::new(AtomicUsize::new(0)),
        client,
        cut_off: Arc::new(AtomicUsize::new(0)),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let chains: Vec<_> = (0..REFRESHERS)
        .map(|i| tokio::spawn(refresher(link.clone(), format!("chain-{i}@crash.example"), stop.clone())))
        .collect();
    let registrars: Vec<_> = (0..REGISTRARS).map(|i| tokio::spawn(registrar(link.clone(), i, stop.clone()))).collect();

    let mut served_while_down = 0;
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(random_between(300, 1500))).await;
        serve.kill();
        let before = link.steady_answers.load(Ordering::Relaxed);
        let (next, url) = Serve::start(&env, &log).await;
        served_while_down += link.steady_answers.load(Ordering::Relaxed) - before;
        serve = next;
        *link.url.write().unwrap() = url;
    }
    // The load runs on the last server too; a client stops only once its request is answered.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);

    let mut chain_results = Vec::new();
    for h in chains {
        chain_results.push(h.await.unwrap().unwrap_or_else(failed(&log)));
    }
    let mut registered = Vec::new();
    for h in registrars {
        registered.push(h.await.unwrap().unwrap_or_else(failed(&log)));
    }
    let refreshes: usize = chain_results.iter().map(|c| c.spent.len()).sum();
    let lost: usize = chain_results.iter().map(|c| c.lost).sum();
    let accounts: usize = registered.iter().map(|r| r.emails.len()).sum();
    println!(
        "{refreshes} refreshes ({lost} served with the answer lost), {accounts} registrations, {} requests cut off, load over after {:?}",
        link.cut_off.load(Ordering::Relaxed),
        started.elapsed()
    );
    assert!(refreshes > 0 && accounts > 0, "no load ran");
    assert!(link.cut_off.load(Ordering::Relaxed) >= KILLS, "every kill cuts off the clients at work");
    if steady.is_some() {
        println!("the steady node answered {served_while_down} requests while the other was down");
        assert!(served_while_down > 0, "the steady node answered nothing while the other restarted");
        let text = std::fs::read_to_string(dir.join("steady.log")).unwrap_or_default();
        assert!(!text.contains("panicked"), "{text}");
    }

    let mut checks: Vec<tokio::task::JoinHandle<Result<(), String>>> = Vec::new();
    checks.extend(chain_results.into_iter().map(|c| tokio::spawn(check_chain(link.clone(), c))));
    checks.extend(registered.into_iter().map(|r| tokio::spawn(check_registered(link.clone(), r))));
    for h in checks {
        h.await.unwrap().unwrap_or_else(failed(&log));
    }

    serve.kill();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!text.contains("panicked"), "{text}");
    if castellan_testkit::engine() == "sqlite" {
        integrity_check(&data.join("castellan.db")).await;
    }
    println!("done after {:?}", started.elapsed());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Opens the database as the last kill left it (its WAL is replayed on open) and has SQLite check
/// every page, index and declared foreign key.
async fn integrity_check(path: &Path) {
    use sqlx::Connection;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
    let mut conn = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path)).await.unwrap();
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&mut conn).await.unwrap();
    assert_eq!(integrity, ["ok"]);
    let dangling = sqlx::query("PRAGMA foreign_key_check").fetch_all(&mut conn).await.unwrap();
    assert!(dangling.is_empty(), "{} rows break a foreign key", dangling.len());
    conn.close().await.unwrap();
}
