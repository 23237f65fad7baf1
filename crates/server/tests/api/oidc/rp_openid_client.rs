//! npm's `openid-client` as the client (tests/browser/clients.mjs, run with Node): the device
//! flow and pushed authorization requests as that library does them. The user's part is done
//! here with the harness's `Browser`, at the script's request. Without Node.js or the package
//! (`npm ci` in tests/browser), each test prints a skip line and passes.

use std::path::PathBuf;
use std::process::Stdio;

use castellan_testkit::spawn_app;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::*;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Node with openid-client, or a skip line.
fn node_with_openid_client() -> bool {
    let node = std::process::Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let package = workspace().join("tests/browser/node_modules/openid-client").exists();
    if !(node && package) {
        println!("SKIP openid-client tests: needs Node.js and `npm ci` in tests/browser");
    }
    node && package
}

/// What the harness does at the script's requests.
enum Request {
    Advance(i64),
    Device(String),
    Authorize(String),
    /// A client to register with this public key.
    Register(serde_json::Value),
}

/// Runs a scenario of clients.mjs, answering its requests with `answer`; the `OK` lines it printed.
async fn run<F>(app: &TestApp, vars: &[(&str, String)], mut answer: F) -> Vec<String>
where
    F: AsyncFnMut(Request) -> Option<String>,
{
    let root = workspace();
    let mut child = tokio::process::Command::new("node")
        .arg(root.join("tests/browser/clients.mjs"))
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .env("ISSUER", format!("{}/realms/{}", app.address, vars_get(vars, "REALM")))
        .current_dir(root.join("tests/browser"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut oks = Vec::new();
    let limit = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let line = tokio::time::timeout_at(limit, out.next_line()).await.expect("the script answers within 2 minutes");
        let Some(line) = line.unwrap() else { break };
        let (word, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let reply = match word {
            "ADVANCE" => answer(Request::Advance(rest.parse().unwrap())).await,
            "DEVICE" => answer(Request::Device(rest.to_string())).await,
            "AUTHORIZE" => answer(Request::Authorize(rest.to_string())).await,
            "REGISTER" => answer(Request::Register(serde_json::from_str(rest).unwrap())).await,
            "OK" => {
                oks.push(rest.to_string());
                None
            }
            "DONE" => break,
            _ => panic!("unexpected line from the script: {line}"),
        };
        if let Some(reply) = reply {
            stdin.write_all(format!("{reply}\n").as_bytes()).await.unwrap();
        }
    }
    let status = child.wait_with_output().await.unwrap();
    assert!(status.status.success(), "clients.mjs failed: {}", String::from_utf8_lossy(&status.stderr));
    oks
}

/// Alice signs in on the authorization page at `url` and allows: the harness's `CALLBACK` answer.
async fn sign_in_and_allow(app: &TestApp, realm: &Realm, url: &str) -> String {
    let mut browser = Browser::new(app);
    let login = browser.get(url).await;
    let consent = browser.sign_in(realm, &login, EMAIL, PASSWORD).await;
    let back = browser.decide(realm, &consent, "allow").await;
    assert_eq!(back.status, 303, "{}", back.body);
    format!("CALLBACK {}", back.location())
}

fn vars_get<'v>(vars: &'v [(&str, String)], name: &str) -> &'v str {
    vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str()).unwrap_or_default()
}

#[tokio::test]
async fn openid_client_runs_the_device_flow_polling_until_the_user_allows() {
    if !node_with_openid_client() {
        return;
    }
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let grants = json!(["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]);
    create_client(&app, &realm.slug, json!({"name": "TV", "kind": "public", "client_id": "tv", "grant_types": grants})).await;
    let vars = [("SCENARIO", "device".to_string()), ("REALM", realm.slug.clone()), ("CLIENT_ID", "tv".to_string())];
    let mut device_page = None;
    let mut polls = 0;
    let oks = run(&app, &vars, async |request| match request {
        Request::Device(uri) => {
            device_page = Some(uri);
            None
        }
        Request::Advance(seconds) => {
            polls += 1;
            // The user allows after the first poll: the library hears authorization_pending
            // once, waits, and polls again.
            if polls == 2 {
                let uri = device_page.take().expect("the device page's address came first");
                let mut phone = Browser::new(&app);
                let form = phone.get(&uri).await;
                let (csrf, code) = (form.field("csrf").unwrap(), form.field("user_code").unwrap());
                let login = phone.post(&format!("{}/device", realm.base()), &[("csrf", &csrf), ("user_code", &code)]).await;
                let consent = phone.sign_in(&realm, &login, EMAIL, PASSWORD).await;
                let done = phone.decide(&realm, &consent, "allow").await;
                assert!(done.body.contains("data-outcome=\"approved\""), "{}", done.body);
            }
            app.clock.advance(seconds);
            Some("ok".into())
        }
        _ => panic!("no authorization request or registration in the device flow"),
    })
    .await;
    assert_eq!(oks, vec![format!("device {}", realm.user_id)]);
    assert!(polls >= 3, "a pending poll, the one with tokens, and the refresh: {polls}");
}

#[tokio::test]
async fn openid_client_pushes_its_authorization_request() {
    if !node_with_openid_client() {
        return;
    }
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let vars = [
        ("SCENARIO", "par".to_string()),
        ("REALM", realm.slug.clone()),
        ("CLIENT_ID", realm.web.clone()),
        ("CLIENT_SECRET", realm.web_secret.clone()),
        ("REDIRECT_URI", WEB_REDIRECT.to_string()),
    ];
    let oks = run(&app, &vars, async |request| match request {
        Request::Authorize(url) => Some(sign_in_and_allow(&app, &realm, &url).await),
        _ => panic!("only an authorization request"),
    })
    .await;
    assert_eq!(oks, vec![format!("par {}", realm.user_id)]);
}

#[tokio::test]
async fn openid_client_authenticates_with_private_key_jwt() {
    if !node_with_openid_client() {
        return;
    }
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let vars = [("SCENARIO", "private_key_jwt".to_string()), ("REALM", realm.slug.clone()), ("CLIENT_ID", "pkj".to_string())];
    let oks = run(&app, &vars, async |request| match request {
        Request::Register(jwk) => {
            let body = json!({"name": "Keyed", "kind": "service", "client_id": "pkj",
                              "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [jwk]}});
            create_client(&app, &realm.slug, body).await;
            Some("ok".into())
        }
        _ => panic!("only a registration"),
    })
    .await;
    assert_eq!(oks, vec!["private_key_jwt pkj".to_string()]);
}

#[tokio::test]
async fn openid_client_signs_its_authorization_request() {
    if !node_with_openid_client() {
        return;
    }
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let vars = [
        ("SCENARIO", "jar".to_string()),
        ("REALM", realm.slug.clone()),
        ("CLIENT_ID", "jar".to_string()),
        ("REDIRECT_URI", WEB_REDIRECT.to_string()),
    ];
    let mut browser = Browser::new(&app);
    let oks = run(&app, &vars, async |request| match request {
        Request::Register(jwk) => {
            let body = json!({"name": "Signed", "kind": "confidential", "client_id": "jar", "first_party": true,
                              "redirect_uris": [WEB_REDIRECT], "token_endpoint_auth_method": "private_key_jwt",
                              "jwks": {"keys": [jwk]}});
            create_client(&app, &realm.slug, body).await;
            Some("ok".into())
        }
        Request::Authorize(url) => {
            let login = browser.get(&url).await;
            let back = browser.sign_in(&realm, &login, EMAIL, PASSWORD).await;
            assert_eq!(back.status, 303, "{}", back.body);
            Some(format!("CALLBACK {}", back.location()))
        }
        _ => panic!("a registration and an authorization request"),
    })
    .await;
    assert_eq!(oks, vec![format!("jar {}", realm.user_id)]);
}

#[tokio::test]
async fn openid_client_binds_tokens_to_its_dpop_key() {
    if !node_with_openid_client() {
        return;
    }
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let redirect = "http://127.0.0.1:43123/spa/callback";
    let vars = [
        ("SCENARIO", "dpop".to_string()),
        ("REALM", realm.slug.clone()),
        ("CLIENT_ID", "spa".to_string()),
        ("REDIRECT_URI", redirect.to_string()),
    ];
    let oks = run(&app, &vars, async |request| match request {
        Request::Authorize(url) => {
            let mut browser = Browser::new(&app);
            let login = browser.get(&url).await;
            let back = browser.sign_in(&realm, &login, EMAIL, PASSWORD).await;
            assert_eq!(back.status, 303, "{}", back.body);
            Some(format!("CALLBACK {}", back.location()))
        }
        _ => panic!("only an authorization request"),
    })
    .await;
    assert_eq!(oks, vec![format!("dpop {}", realm.user_id)]);
}

#[tokio::test]
async fn openid_client_registers_itself_and_signs_a_user_in_as_an_mcp_client_would() {
    if !node_with_openid_client() {
        return;
    }
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let path = format!("/tenants/{}/policy", realm.slug);
    let (_, mut policy) = app.admin(reqwest::Method::GET, &path, None).await;
    policy["client_registration"] = json!("protected");
    assert_eq!(app.admin(reqwest::Method::PUT, &path, Some(policy)).await.0, 200);
    let (s, issued) =
        app.admin(reqwest::Method::POST, &format!("/tenants/{}/registration-tokens", realm.slug), Some(json!({}))).await;
    assert_eq!(s, 201, "{issued}");
    let vars = [
        ("SCENARIO", "dcr".to_string()),
        ("REALM", realm.slug.clone()),
        ("REDIRECT_URI", "http://127.0.0.1/mcp/callback".to_string()),
        ("INITIAL_ACCESS_TOKEN", issued["token"].as_str().unwrap().to_string()),
    ];
    let oks = run(&app, &vars, async |request| match request {
        Request::Authorize(url) => Some(sign_in_and_allow(&app, &realm, &url).await),
        _ => panic!("only an authorization request"),
    })
    .await;
    assert_eq!(oks, vec![format!("dcr {}", realm.user_id)]);
}

#[tokio::test]
async fn openid_client_authenticates_with_client_secret_jwt() {
    if !node_with_openid_client() {
        return;
    }
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let created = create_client(
        &app,
        &realm.slug,
        json!({"name": "HMAC signer", "kind": "service", "client_id": "hs", "token_endpoint_auth_method": "client_secret_jwt"}),
    )
    .await;
    let vars = [
        ("SCENARIO", "client_secret_jwt".to_string()),
        ("REALM", realm.slug.clone()),
        ("CLIENT_ID", "hs".to_string()),
        ("CLIENT_SECRET", created["client_secret"].as_str().unwrap().to_string()),
    ];
    let oks = run(&app, &vars, async |_| panic!("nothing to do for the harness")).await;
    assert_eq!(oks, vec!["client_secret_jwt hs".to_string()]);
}
