//! Test harness: `spawn_app()` starts the real server on 127.0.0.1:0 over a fresh database
//! (a temporary SQLite file, or a new PostgreSQL database when `CASTELLAN_TEST_DATABASE_URL` is
//! set), with a fake clock and weak hashing; `TestApp` talks to it over HTTP.

pub mod authenticator;
pub mod contract;
pub mod http_sink;
pub mod memory_store;
pub mod smtp;

use std::sync::Arc;

use castellan_core::Core;
use castellan_core::clock::FakeClock;
use castellan_server::app::StopHandle;
use castellan_server::dialects::DialectMount;
use castellan_server::settings::Secret;
use castellan_server::{Application, Settings, bootstrap};
use castellan_store::SqlStore;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use sqlx::Connection;

pub use http_sink::{HttpSink, Recorded};
pub use memory_store::MemoryStore;
pub use smtp::{SmtpSink, silent_server};

/// The database the tests run on: `sqlite` or `postgres`.
pub fn engine() -> &'static str {
    if std::env::var("CASTELLAN_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) { "postgres" } else { "sqlite" }
}

/// A fresh, empty database URL.
pub async fn fresh_database_url() -> String {
    match std::env::var("CASTELLAN_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("castellan_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn =
                sqlx::PgConnection::connect(&admin_url).await.unwrap_or_else(|e| fail(&format!("connect {admin_url}: {e}")));
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| fail(&format!("create database: {e}")));
            let _ = conn.close().await;
            match admin_url.rfind('/') {
                Some(i) if admin_url[..i].ends_with(|c: char| c != '/') => format!("{}/{name}", &admin_url[..i]),
                _ => format!("{}/{name}", admin_url.trim_end_matches('/')),
            }
        }
        _ => {
            let dir = std::env::temp_dir().join(format!("castellan-test-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir).unwrap_or_else(|e| fail(&format!("temp dir: {e}")));
            let db = dir.join("castellan.db");
            std::fs::copy(migrated_sqlite_template().await, &db).unwrap_or_else(|e| fail(&format!("copy template: {e}")));
            format!("sqlite://{}", db.display())
        }
    }
}

/// A SQLite database with every migration applied, made once per test process: each test starts
/// from a copy instead of migrating a database of its own (the store still checks the migrations
/// when it opens the copy).
async fn migrated_sqlite_template() -> &'static std::path::Path {
    static TEMPLATE: tokio::sync::OnceCell<std::path::PathBuf> = tokio::sync::OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let dir = std::env::temp_dir().join(format!("castellan-template-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir).unwrap_or_else(|e| fail(&format!("temp dir: {e}")));
            let db = dir.join("template.db");
            let store = SqlStore::connect(&format!("sqlite://{}", db.display()))
                .await
                .unwrap_or_else(|e| fail(&format!("template: {e}")));
            // Closing checkpoints the write-ahead log into the file, so the file alone is whole.
            store.close().await;
            let wal = dir.join("template.db-wal");
            if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
                fail("the template's write-ahead log was not checkpointed on close");
            }
            db
        })
        .await
        .as_path()
}

#[track_caller]
pub(crate) fn fail(msg: &str) -> ! {
    #[allow(clippy::panic)]
    {
        panic!("{msg}")
    }
}

/// A running server and what a test needs to drive it.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    /// `http://…` of `metrics_listen`, when the settings give one.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub clock: Arc<FakeClock>,
    pub core: Arc<Core>,
    pub admin_token: String,
    pub database_url: String,
    pub settings: Settings,
    pub smtp: Option<SmtpSink>,
    /// The dialects mounted besides Castellan's own.
    extra_dialects: Vec<&'static dyn DialectMount>,
    stop: StopHandle,
    serving: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Adjusts settings before a test server starts.
pub type SettingsHook = Box<dyn FnOnce(&mut Settings) + Send>;

/// Options of a test server.
#[derive(Default)]
pub struct TestOptions {
    /// Deliver email to a local SMTP sink instead of the dev outbox.
    pub smtp: bool,
    /// Adjust the settings before start.
    pub settings: Option<SettingsHook>,
    /// Dialects to mount besides Castellan's own, after them.
    pub extra_dialects: Vec<&'static dyn DialectMount>,
}

/// The database at `url`'s own check of itself (`PRAGMA integrity_check` on SQLite): `ok`, or
/// what is wrong.
pub async fn database_integrity(url: &str) -> String {
    let store = SqlStore::connect_without_migrating(url).await.unwrap_or_else(|e| fail(&format!("store: {e}")));
    store.integrity_check().await.unwrap_or_else(|e| fail(&format!("integrity check: {e}")))
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestOptions::default()).await
}

pub async fn spawn_app_with(options: TestOptions) -> TestApp {
    let database_url = fresh_database_url().await;
    let mut settings = Settings::for_test();
    settings.master_key = Some(Secret(base64_key()));
    settings.admin_token = Some(Secret(format!("test-admin-{}", uuid::Uuid::new_v4().simple())));
    settings.database_url = Some(Secret(database_url.clone()));
    let smtp = if options.smtp {
        let sink = SmtpSink::start().await;
        settings.smtp_url = Some(Secret(format!("smtp://127.0.0.1:{}?tls=none", sink.port)));
        Some(sink)
    } else {
        None
    };
    if let Some(adjust) = options.settings {
        adjust(&mut settings);
    }
    let clock = Arc::new(FakeClock::starting_now());
    start(settings, clock, smtp, options.extra_dialects).await
}

fn base64_key() -> String {
    use std::fmt::Write;
    // 32 random bytes, base64 by hand to keep the harness's dependencies small.
    let bytes = castellan_core::crypto::random_bytes::<32>();
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                let _ = write!(out, "{}", A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn start(
    settings: Settings,
    clock: Arc<FakeClock>,
    smtp: Option<SmtpSink>,
    extra_dialects: Vec<&'static dyn DialectMount>,
) -> TestApp {
    let database_url = bootstrap::database_url(&settings);
    let store = Arc::new(SqlStore::connect(&database_url).await.unwrap_or_else(|e| fail(&format!("store: {e}"))));
    // Bound once and handed to the server: the public URL needs the port before the core is made.
    let listener = tokio::net::TcpListener::bind(settings.listen).await.unwrap_or_else(|e| fail(&format!("bind: {e}")));
    let bound = listener.local_addr().unwrap_or_else(|e| fail(&format!("addr: {e}")));
    let mut settings = settings;
    settings.listen = bound;
    let core = bootstrap::core(&settings, store, clock.clone(), bootstrap::public_url(&settings, bound))
        .unwrap_or_else(|e| fail(&e.to_string()));
    let mailer = bootstrap::transports(&settings).unwrap_or_else(|e| fail(&e.to_string()));
    let dialects = castellan_server::dialects::all().into_iter().chain(extra_dialects.iter().copied()).collect();
    let app = Application::build_on(listener, settings.clone(), core.clone(), mailer, dialects)
        .await
        .unwrap_or_else(|e| fail(&format!("build: {e}")));
    let port = app.port();
    let metrics_address = app.metrics_address().map(|a| format!("http://{a}"));
    let (stop, serving) = app.run(false).await;
    let serving = tokio::spawn(serving);
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        metrics_address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|e| fail(&e.to_string())),
        clock,
        core,
        admin_token: settings.admin_token.clone().map(|s| s.0).unwrap_or_default(),
        database_url,
        settings,
        smtp,
        extra_dialects,
        stop,
        serving: Some(serving),
    }
}

impl TestApp {
    /// Stops the server (in-flight requests finish) and starts a new one on the same database,
    /// master key and clock, on a new port.
    pub async fn restart(mut self) -> TestApp {
        self.stop.stop();
        if let Some(s) = self.serving.take() {
            let _ = s.await;
        }
        let mut settings = self.settings.clone();
        settings.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        start(settings, self.clock.clone(), self.smtp.take(), self.extra_dialects.clone()).await
    }

    /// Stops the server and returns once it has finished: requests in flight answered, every
    /// connection closed.
    pub async fn stop(mut self) {
        self.stop.stop();
        if let Some(s) = self.serving.take() {
            let _ = s.await;
        }
    }

    /// A second node: another server on the same database, master key and clock, with caches of
    /// its own.
    pub async fn another_node(&self) -> TestApp {
        let mut settings = self.settings.clone();
        settings.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        start(settings, self.clock.clone(), None, self.extra_dialects.clone()).await
    }

    /// Runs one SQL statement on the server's database behind its back: how a test makes the
    /// store fail (a table renamed away) to see what the server answers then.
    pub async fn sql(&self, statement: &str) {
        let statement = sqlx::AssertSqlSafe(statement.to_string());
        let result = if self.database_url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(&self.database_url)
                .await
                .unwrap_or_else(|e| fail(&format!("connect {}: {e}", self.database_url)));
            sqlx::query(statement).execute(&mut conn).await.map(|_| ())
        } else {
            let mut conn = sqlx::PgConnection::connect(&self.database_url)
                .await
                .unwrap_or_else(|e| fail(&format!("connect {}: {e}", self.database_url)));
            sqlx::query(statement).execute(&mut conn).await.map(|_| ())
        };
        result.unwrap_or_else(|e| fail(&format!("sql: {e}")));
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// An admin API call with the bootstrap token.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut rb = self.request(method, &format!("/admin/v1{path}")).bearer_auth(&self.admin_token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        send(rb).await
    }

    /// A korastratum call: `X-Tenant-ID`, optional bearer, optional JSON body.
    pub async fn kora(
        &self,
        method: Method,
        path: &str,
        tenant: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = self.request(method, path).header("X-Tenant-ID", tenant);
        if let Some(t) = bearer {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        send(rb).await
    }
}

/// Sends and returns (status, JSON body or Null).
pub async fn send(rb: RequestBuilder) -> (u16, Value) {
    let r: Response = rb.send().await.unwrap_or_else(|e| fail(&format!("request: {e}")));
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.stop();
    }
}
