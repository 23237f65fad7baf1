//! The browser suite: Debian's Chromium, driven by playwright-core (tests/browser), through the
//! console and the hosted 2FA page. This harness starts Castellan, a callback receiver and two
//! more localhost origins (the business's portal and an attacker), then runs the script.
//! Without Chromium, Node.js or playwright-core it prints a skip line and passes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse};
use castellan_core::clock::{Clock, FakeClock};
use castellan_core::crypto::{base32, totp};
use castellan_testkit::{HttpSink, spawn_app};
use serde::Deserialize;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn chromium() -> Option<PathBuf> {
    let candidates =
        [std::env::var("CASTELLAN_CHROMIUM").ok(), Some("/usr/bin/chromium".into()), Some("/usr/bin/chromium-browser".into())];
    candidates.into_iter().flatten().map(PathBuf::from).find(|p| p.exists())
}

/// The page a portal (or an attacker) serves: opens the hosted page in a popup and records every
/// message it receives, with its origin.
const OPENER: &str = r#"<!doctype html><html><body><h1 id="who"></h1><button id="open">Sign in with 2FA</button>
<script>
window.received = [];
document.getElementById("who").textContent = location.origin;
window.addEventListener("message", function (e) { window.received.push({origin: e.origin, data: e.data}); });
document.getElementById("open").addEventListener("click", function () {
  var url = new URLSearchParams(location.search).get("url");
  window.popup = window.open(url, "_blank", "width=500,height=600");
});
</script></body></html>"#;

/// An attacker's page that frames the hosted page.
const FRAMER: &str = r#"<!doctype html><html><body><iframe id="f" width="400" height="400"></iframe>
<script>document.getElementById("f").src = new URLSearchParams(location.search).get("url");</script></body></html>"#;

#[derive(Deserialize)]
struct TotpQuery {
    secret: String,
    #[serde(default)]
    advance: i64,
}

/// Test-only controls: the code of a secret at the server's (fake) time, and moving that time.
async fn control(State(clock): State<Arc<FakeClock>>, Query(q): Query<TotpQuery>) -> impl IntoResponse {
    if q.advance > 0 {
        clock.advance(q.advance);
        return "advanced".to_string();
    }
    let key = base32::decode(&q.secret).unwrap_or_default();
    totp::totp(totp::TotpAlgorithm::Sha1, &key, clock.now(), 30, 6)
}

async fn serve(router: axum::Router, host: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{host}:{port}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_and_hosted_page_in_chromium() {
    let root = workspace();
    let script = root.join("tests/browser/eauthenticator.mjs");
    let playwright = root.join("tests/browser/node_modules/playwright-core");
    let node = std::process::Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let Some(chrome) = chromium() else {
        println!("SKIP browser tests: no Chromium (install Debian's chromium, or set CASTELLAN_CHROMIUM)");
        return;
    };
    if !node || !playwright.exists() {
        println!("SKIP browser tests: needs Node.js and `npm install` in tests/browser (playwright-core)");
        return;
    }
    let app = spawn_app().await;
    let sink = HttpSink::start(200, "{}").await;
    let portal_pages = axum::Router::new()
        .route("/opener", axum::routing::get(|| async { Html(OPENER) }))
        .route("/landing", axum::routing::get(|| async { Html("<!doctype html><h1 id=\"landed\">Portal</h1>") }))
        .route("/framer", axum::routing::get(|| async { Html(FRAMER) }))
        .route("/control", axum::routing::get(control))
        .with_state(app.clock.clone());
    // Two origins that differ from Castellan's (127.0.0.1) and from each other.
    let portal = serve(portal_pages.clone(), "localhost").await;
    let attacker = serve(portal_pages, "127.0.0.1").await;
    let artifacts = root.join("target/browser-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let mut command = std::process::Command::new("node");
    command
        .arg(&script)
        .env("CASTELLAN_URL", &app.address)
        .env("PORTAL_URL", &portal)
        .env("ATTACKER_URL", &attacker)
        .env("CALLBACK_URL", format!("{}/2fa/callback", sink.url))
        .env("CHROMIUM", &chrome)
        .env("ARTIFACTS", &artifacts)
        .env("NODE_PATH", root.join("tests/browser/node_modules"))
        .current_dir(root.join("tests/browser"));
    // Blocking, on a thread of its own: the servers keep running on the runtime meanwhile.
    let out = tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "browser script failed:\n{stdout}\n{stderr}");
    // The backend heard of each success before the browser did (the script checked the order;
    // here, that the callbacks were real and carried the tokens).
    let calls = sink.requests();
    assert!(
        calls.iter().filter(|c| c.query.as_deref().is_some_and(|q| q.starts_with("result=true"))).count() >= 2,
        "{} callbacks",
        calls.len()
    );
    assert!(calls.iter().any(|c| c.query.as_deref().is_some_and(|q| q.starts_with("result=false"))));
}
