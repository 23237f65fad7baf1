//! Starting the binary and talking to it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

pub const MASTER_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A fresh, empty directory under the system's temporary directory.
pub fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("castellan-{label}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The binary with a clean environment: no `CASTELLAN_*` variable of the caller leaks in.
pub fn castellan(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_castellan"));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("CASTELLAN_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// A `castellan serve` process whose standard error goes to a file the test can read.
pub struct Server {
    pub url: String,
    pub log: PathBuf,
    child: Child,
}

impl Server {
    /// Starts `serve` with these variables (a free listen address unless they name one) and
    /// waits for /health.
    pub async fn start(env: &[(&str, String)], log: &Path) -> Server {
        let port = env
            .iter()
            .find(|(k, _)| *k == "CASTELLAN_LISTEN")
            .and_then(|(_, v)| v.rsplit(':').next()?.parse().ok())
            .unwrap_or_else(free_port);
        let file = std::fs::File::create(log).unwrap();
        let mut cmd = castellan(&["serve"]);
        cmd.env("CASTELLAN_LISTEN", format!("127.0.0.1:{port}"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::from(file)).spawn().unwrap();
        let mut server = Server { url: format!("http://127.0.0.1:{port}"), log: log.to_path_buf(), child };
        for _ in 0..600 {
            if reqwest::get(format!("{}/health", server.url)).await.is_ok_and(|r| r.status().is_success()) {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("serve exited with {status}: {}", std::fs::read_to_string(log).unwrap_or_default());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server.stop();
        panic!("serve on port {port} did not start: {}", std::fs::read_to_string(log).unwrap_or_default());
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn call(&self, method: Method, path: &str, bearer: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let client = reqwest::Client::new();
        let mut rb = client.request(method, format!("{}{path}", self.url));
        if let Some(t) = bearer {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        castellan_testkit::send(rb).await
    }
}

/// The current TOTP code (SHA1, 6 digits, 30 s) of a Base32 secret, by the wall clock.
pub fn totp_now(secret: &str) -> String {
    use castellan_core::crypto::{base32, totp};
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    totp::totp(totp::TotpAlgorithm::Sha1, &base32::decode(secret).unwrap(), now, 30, 6)
}

impl Server {
    /// Submits a code on the hosted 2FA page (redirect mode), as the browser's form does;
    /// redirects are not followed.
    pub async fn submit_hosted_code(&self, session_token: &str, redirect_uri: &str, code: &str) -> reqwest::Response {
        let form = format!(
            "signin_method=redirect&session_token={session_token}&redirect_uri={}&code={code}",
            castellan_core::crypto::totp::pct(redirect_uri)
        );
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        client
            .post(format!("{}/start-authentication/verify", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", self.url.clone())
            .body(form)
            .send()
            .await
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Held by the tests that load the machine (the crash test) and by those that measure a latency
/// bound (the cluster's revocation bound), so that the two never run at once.
pub static MEASURED: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
