//! The browser suite: Debian's Chromium, driven by playwright-core (tests/browser).
//! - eauthenticator.mjs: the console and the hosted 2FA page. This harness starts Castellan, a
//!   callback receiver and two more localhost origins (the business's portal and an attacker).
//! - oidc.mjs: the OpenID Connect pages, with openid-client as the relying party. This harness
//!   makes the realm, its clients and users, and serves the relying party's origin.
//!
//! Without Chromium, Node.js or the npm packages each test prints a skip line and passes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::Uri;
use axum::response::{Html, IntoResponse};
use castellan_core::clock::{Clock, FakeClock};
use castellan_core::crypto::{base32, totp};
use castellan_testkit::{HttpSink, TestApp, spawn_app};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

/// One Chromium at a time: the machine is small, and the scripts time their waits.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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

/// Chromium, if it and Node.js with these packages of tests/browser are here; else a skip line.
fn prerequisites(packages: &[&str]) -> Option<PathBuf> {
    let modules = workspace().join("tests/browser/node_modules");
    let node = std::process::Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let Some(chrome) = chromium() else {
        println!("SKIP browser tests: no Chromium (install Debian's chromium, or set CASTELLAN_CHROMIUM)");
        return None;
    };
    if !node || !packages.iter().all(|p| modules.join(p).exists()) {
        println!("SKIP browser tests: needs Node.js and `npm install` in tests/browser ({})", packages.join(", "));
        return None;
    }
    Some(chrome)
}

/// Runs a script of tests/browser with Node and these variables; its output, printed; panics
/// when it fails.
async fn run_script(name: &str, chrome: &Path, vars: &[(&str, String)]) -> String {
    let root = workspace();
    let artifacts = root.join("target/browser-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let mut command = std::process::Command::new("node");
    command
        .arg(root.join("tests/browser").join(name))
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .env("CHROMIUM", chrome)
        .env("ARTIFACTS", &artifacts)
        .env("NODE_PATH", root.join("tests/browser/node_modules"))
        .current_dir(root.join("tests/browser"));
    // Blocking, on a thread of its own: the servers keep running on the runtime meanwhile.
    let out = tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "browser script {name} failed:\n{stdout}\n{stderr}");
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_and_hosted_page_in_chromium() {
    let Some(chrome) = prerequisites(&["playwright-core"]) else { return };
    let _one = ONE_BROWSER.lock().await;
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
    let vars = [
        ("CASTELLAN_URL", app.address.clone()),
        ("PORTAL_URL", portal),
        ("ATTACKER_URL", attacker),
        ("CALLBACK_URL", format!("{}/2fa/callback", sink.url)),
    ];
    run_script("eauthenticator.mjs", &chrome, &vars).await;
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

/// What reached the relying party's origin: (method, path, the query or the form body).
type Arrivals = Arc<Mutex<Vec<(String, String, String)>>>;

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The relying party's origin: its callbacks show a page, and a `form_post` answer's body is
/// shown in `#posted` for the script's relying party to read (as a server would receive it).
fn relying_party(arrivals: Arrivals, clock: Arc<FakeClock>) -> axum::Router {
    let seen = arrivals.clone();
    let landing = move |uri: Uri| {
        let seen = seen.clone();
        async move {
            let query = uri.query().unwrap_or_default().to_string();
            seen.lock().unwrap().push(("GET".into(), uri.path().to_string(), query));
            Html(format!("<!doctype html><h1 id=\"rp\">Relying party</h1><p id=\"path\">{}</p>", escape_html(uri.path())))
        }
    };
    let posted = move |uri: Uri, body: String| async move {
        arrivals.lock().unwrap().push(("POST".into(), uri.path().to_string(), body.clone()));
        Html(format!("<!doctype html><h1 id=\"rp\">Relying party</h1><pre id=\"posted\">{}</pre>", escape_html(&body)))
    };
    axum::Router::new()
        .route("/callback", axum::routing::get(landing.clone()).post(posted))
        .route("/spa/callback", axum::routing::get(landing.clone()))
        .route("/partner/callback", axum::routing::get(landing.clone()))
        .route("/bye", axum::routing::get(landing))
        .route("/control", axum::routing::get(control))
        .with_state(clock)
}

async fn admin_created(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, created) = app.admin(Method::POST, path, Some(body)).await;
    assert_eq!(status, 201, "{path}: {created}");
    created
}

/// A realm served by the oidc dialect, with its clients on the relying party's origin and two
/// users, one of them with TOTP: the script's variables.
async fn oidc_realm(app: &TestApp, rp: &str) -> Vec<(&'static str, String)> {
    let slug = "acme";
    admin_created(app, "/tenants", json!({"slug": slug, "display_name": "Acme", "profile": "oidc"})).await;
    let users = format!("/tenants/{slug}/users");
    let password = "Wonderland-2026!";
    admin_created(
        app,
        &users,
        json!({"email": "alice@example.com", "password": password, "first_name": "Alice", "last_name": "Liddell",
               "username": "alice", "email_verified": true}),
    )
    .await;
    let bob = admin_created(
        app,
        &users,
        json!({"email": "bob@example.com", "password": password, "first_name": "Bob", "last_name": "Builder",
               "username": "bob", "email_verified": true}),
    )
    .await;
    let totp = admin_created(app, &format!("{users}/{}/totp", bob["id"].as_str().unwrap()), json!({})).await;
    let apps = format!("/tenants/{slug}/applications");
    let web = admin_created(
        app,
        &apps,
        json!({"name": "Acme Web", "kind": "confidential", "client_id": "rp-web", "first_party": true,
               "redirect_uris": [format!("{rp}/callback")], "post_logout_redirect_uris": [format!("{rp}/bye")]}),
    )
    .await;
    admin_created(
        app,
        &apps,
        json!({"name": "Acme SPA", "kind": "public", "client_id": "rp-spa", "first_party": true,
               "redirect_uris": [format!("{rp}/spa/callback")]}),
    )
    .await;
    let partner = admin_created(
        app,
        &apps,
        json!({"name": "Partner Portal", "kind": "confidential", "client_id": "rp-partner",
               "redirect_uris": [format!("{rp}/partner/callback")]}),
    )
    .await;
    vec![
        ("CASTELLAN_URL", app.address.clone()),
        ("ISSUER", format!("{}/realms/{slug}", app.address)),
        ("RP_URL", rp.to_string()),
        ("PASSWORD", password.to_string()),
        ("TOTP_SECRET", totp["secret"].as_str().unwrap().to_string()),
        ("WEB_SECRET", web["client_secret"].as_str().unwrap().to_string()),
        ("PARTNER_SECRET", partner["client_secret"].as_str().unwrap().to_string()),
    ]
}

/// The value of `name` in a query or form body.
fn param(encoded: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(encoded.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_relying_parties_in_chromium() {
    let Some(chrome) = prerequisites(&["playwright-core", "openid-client"]) else { return };
    let _one = ONE_BROWSER.lock().await;
    let app = spawn_app().await;
    let arrivals = Arrivals::default();
    // On localhost: another site than Castellan's 127.0.0.1, as a real relying party is.
    let rp = serve(relying_party(arrivals.clone(), app.clock.clone()), "localhost").await;
    let vars = oidc_realm(&app, &rp).await;
    run_script("oidc.mjs", &chrome, &vars).await;
    // What the browser brought to the relying party, seen from its side.
    let issuer = format!("{}/realms/acme", app.address);
    let arrivals = arrivals.lock().unwrap().clone();
    let at = |method: &str, path: &str| -> Vec<String> {
        arrivals.iter().filter(|(m, p, _)| m == method && p == path).map(|(_, _, q)| q.clone()).collect()
    };
    let codes = at("GET", "/callback");
    assert!(codes.iter().all(|q| param(q, "iss").as_deref() == Some(issuer.as_str())), "{codes:?}");
    assert!(codes.iter().filter(|q| param(q, "code").is_some()).count() >= 3, "{codes:?}");
    assert!(codes.iter().any(|q| param(q, "error").as_deref() == Some("login_required")), "{codes:?}");
    let posted = at("POST", "/callback");
    assert!(!posted.is_empty(), "no form_post answer reached the relying party");
    assert!(posted.iter().all(|b| param(b, "code").is_some() && param(b, "iss").as_deref() == Some(issuer.as_str())));
    let partner = at("GET", "/partner/callback");
    assert!(partner.iter().any(|q| param(q, "error").as_deref() == Some("access_denied")), "{partner:?}");
    assert!(partner.iter().any(|q| param(q, "code").is_some()), "{partner:?}");
    assert_eq!(at("GET", "/spa/callback").len(), 1);
    assert!(at("GET", "/bye").len() >= 2, "both logouts returned to the relying party");
}

/// A server reached, and knowing itself, as `localhost` (a relying party needs a domain name):
/// the app and its port.
async fn on_localhost() -> (TestApp, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let options = castellan_testkit::TestOptions {
        settings: Some(Box::new(move |s: &mut castellan_server::Settings| {
            s.listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            s.public_url = Some(format!("http://localhost:{port}"));
        })),
        ..Default::default()
    };
    (castellan_testkit::spawn_app_with(options).await, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkeys_in_chromium() {
    let Some(chrome) = prerequisites(&["playwright-core"]) else { return };
    let _one = ONE_BROWSER.lock().await;
    // A relying party needs a domain name.
    let (app, port) = on_localhost().await;
    admin_created(&app, "/tenants", json!({"slug": "acme", "display_name": "Acme", "profile": "oidc"})).await;
    let password = "Wonderland-2026!";
    let body = json!({"email": "alice@example.com", "password": password, "username": "alice", "email_verified": true});
    admin_created(&app, "/tenants/acme/users", body).await;
    let vars = [("REALM_URL", format!("http://localhost:{port}/realms/acme")), ("PASSWORD", password.to_string())];
    run_script("passkeys.mjs", &chrome, &vars).await;
    // What the server recorded of it.
    let (_, events) = app.admin(Method::GET, "/tenants/acme/audit?action=login.passkey&limit=100", None).await;
    let outcomes: Vec<&str> = events.as_array().unwrap().iter().filter_map(|e| e["outcome"].as_str()).collect();
    assert!(outcomes.iter().filter(|o| **o == "success").count() >= 2, "{outcomes:?}");
    assert!(outcomes.contains(&"failure"), "{outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosted_page_keys_in_chromium() {
    let Some(chrome) = prerequisites(&["playwright-core"]) else { return };
    let _one = ONE_BROWSER.lock().await;
    // A relying party needs a domain name; the business's portal is another origin (127.0.0.1).
    let (app, port) = on_localhost().await;
    let sink = HttpSink::start(200, "{}").await;
    let portal_pages = axum::Router::new()
        .route("/landing", axum::routing::get(|| async { Html("<!doctype html><h1 id=\"landed\">Portal</h1>") }))
        .route("/control", axum::routing::get(control))
        .with_state(app.clock.clone());
    let portal = serve(portal_pages, "127.0.0.1").await;
    let vars = [
        ("CASTELLAN_URL", format!("http://localhost:{port}")),
        ("PORTAL_URL", portal),
        ("CALLBACK_URL", format!("{}/2fa/callback", sink.url)),
    ];
    run_script("hosted-keys.mjs", &chrome, &vars).await;
    let calls = sink.requests();
    let succeeded = calls.iter().filter(|c| c.query.as_deref().is_some_and(|q| q.starts_with("result=true"))).count();
    assert_eq!(succeeded, 2, "the code, then the key: {} callbacks", calls.len());
}
