//! Secrets out of logs: a flow through korastratum and hosted 2FA (with a callback receiver that
//! is down) on a server logging at debug level; nothing the server handed out or was given as a
//! secret appears in its log, and the failing callback's cause does.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{MASTER_KEY, Server, free_port, temp_dir, totp_now};

const ADMIN: &str = "logs-test-admin-token-5b0c9e";
const PASSWORD: &str = "SecurePass123!";
const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

async fn kora(server: &Server, path: &str, tenant: &str, bearer: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut rb = client.post(format!("{}{path}", server.url)).header("X-Tenant-ID", tenant);
    if let Some(t) = bearer {
        rb = rb.bearer_auth(t);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    castellan_testkit::send(rb).await
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_string()
}

#[tokio::test]
async fn no_token_code_or_secret_reaches_the_log_and_a_failing_callback_logs_its_cause() {
    let dir = temp_dir("logs");
    let database_url = castellan_testkit::fresh_database_url().await;
    let env = [
        ("CASTELLAN_DATA_DIR", dir.display().to_string()),
        ("CASTELLAN_DATABASE_URL", database_url),
        ("CASTELLAN_MASTER_KEY", MASTER_KEY.to_string()),
        ("CASTELLAN_ADMIN_TOKEN", ADMIN.to_string()),
        ("CASTELLAN_ARGON2_MEMORY_KIB", "64".to_string()),
        ("CASTELLAN_ARGON2_ITERATIONS", "1".to_string()),
        ("CASTELLAN_DEV", "true".to_string()),
        ("CASTELLAN_CALLBACK_WINDOW_SECONDS", "2".to_string()),
        ("CASTELLAN_LOG", "debug".to_string()),
    ];
    let mut server = Server::start(&env, &dir.join("serve.log")).await;
    let mut secrets: Vec<(String, String)> = vec![("admin token".into(), ADMIN.into()), ("password".into(), PASSWORD.into())];

    // korastratum: login, refresh, TOTP set-up, password reset.
    let (st, b) = server
        .call(
            Method::POST,
            "/admin/v1/tenants",
            Some(ADMIN),
            Some(json!({"slug": "bank", "display_name": "Bank", "profile": "korastratum"})),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let user = json!({"email": "user@example.com", "password": PASSWORD, "first_name": "A", "last_name": "B"});
    let (st, b) = server.call(Method::POST, "/admin/v1/tenants/bank/users", Some(ADMIN), Some(user)).await;
    assert_eq!(st, 201, "{b}");
    let (st, b) =
        kora(&server, "/api/v1/auth/login", "bank", None, Some(json!({"email": "user@example.com", "password": PASSWORD}))).await;
    assert_eq!(st, 200, "{b}");
    let access = s(&b["data"]["tokens"]["accessToken"]);
    let refresh = s(&b["data"]["tokens"]["refreshToken"]);
    let (st, b) = kora(&server, "/api/v1/auth/refresh", "bank", None, Some(json!({"refreshToken": refresh}))).await;
    assert_eq!(st, 200, "{b}");
    secrets.push(("access token".into(), access.clone()));
    secrets.push(("refresh token".into(), refresh));
    secrets.push(("rotated access token".into(), s(&b["data"]["tokens"]["accessToken"])));
    secrets.push(("rotated refresh token".into(), s(&b["data"]["tokens"]["refreshToken"])));
    let (st, b) = kora(&server, "/api/v1/auth/2fa/setup", "bank", Some(&access), None).await;
    assert_eq!(st, 200, "{b}");
    secrets.push(("TOTP secret".into(), s(&b["data"]["secret"])));
    let (st, b) =
        kora(&server, "/api/v1/registration/forgot-password", "bank", None, Some(json!({"email": "user@example.com"}))).await;
    assert_eq!(st, 200, "{b}");
    let mut reset = String::new();
    for _ in 0..100 {
        let (_, list) = server.call(Method::GET, "/admin/v1/outbox?to=user@example.com", Some(ADMIN), None).await;
        if let Some(body) = list.as_array().and_then(|l| l.first()).and_then(|m| m["body"].as_str()) {
            reset = body.split("token=").nth(1).unwrap().split(|c: char| c.is_whitespace()).next().unwrap().to_string();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!reset.is_empty(), "no reset mail");
    secrets.push(("reset token".into(), reset));

    // Hosted 2FA through an application made by the admin API, calling back to a closed port.
    let (st, b) = server
        .call(
            Method::POST,
            "/admin/v1/tenants",
            Some(ADMIN),
            Some(json!({"slug": "portal", "display_name": "Portal", "profile": "eauthenticator"})),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let dead = free_port();
    let app = json!({"name": "Portal", "kind": "confidential", "allowed_ips": ["127.0.0.1"],
        "callback_url": format!("http://127.0.0.1:{dead}/2fa/callback"), "redirect_uris": ["https://portal.example.com/done"]});
    let (st, created) = server.call(Method::POST, "/admin/v1/tenants/portal/applications", Some(ADMIN), Some(app)).await;
    assert_eq!(st, 201, "{created}");
    let client_id = s(&created["client_id"]);
    secrets.push(("client secret".into(), s(&created["client_secret"])));
    secrets.push(("callback secret".into(), s(&created["callback_secret"])));
    let (st, key) = server
        .call(Method::POST, &format!("/admin/v1/tenants/portal/applications/{client_id}/api-keys"), Some(ADMIN), None)
        .await;
    assert_eq!(st, 201, "{key}");
    let api_key = s(&key["api_key"]);
    secrets.push(("API key".into(), api_key.clone()));
    secrets.push(("hosted TOTP secret".into(), TOTP_SECRET.into()));
    let client = reqwest::Client::new();
    let api = |path: &str, body: Value| {
        client.post(format!("{}/authen-api/api/v1{path}", server.url)).header("X-API-Key", api_key.clone()).json(&body)
    };
    let toggle = json!({"email": "jane@example.com", "client_id": client_id, "secret": TOTP_SECRET, "action": "ENABLE",
        "type": "TOTP", "algorithm": "SHA1", "digits": 6, "period": 30});
    let (st, b) = castellan_testkit::send(api("/mfa/toggle", toggle)).await;
    assert_eq!(st, 200, "{b}");
    let (st, b) =
        castellan_testkit::send(api("/session-token", json!({"email": "jane@example.com", "client_id": client_id}))).await;
    assert_eq!(st, 200, "{b}");
    let session_token = s(&b["data"]["session_token"]);
    secrets.push(("session token".into(), session_token.clone()));
    let code = totp_now(TOTP_SECRET);
    let page = server.submit_hosted_code(&session_token, "https://portal.example.com/done", &code).await.text().await.unwrap();
    assert!(page.contains("INTERNAL_SERVER_ERROR"), "the callback never got through: {page}");

    server.stop();
    let log = server.log_text();
    assert!(log.contains("callback failed"), "the failing callback is logged:\n{log}");
    let cause_line = log.lines().find(|l| l.contains("callback failed")).unwrap();
    assert!(cause_line.contains("connect: Connection refused"), "with its cause: {cause_line}");
    assert!(cause_line.contains("/2fa/callback") && !cause_line.contains("session_token"), "{cause_line}");
    for (what, secret) in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "the {what} is in the log:\n{}",
            log.lines().find(|l| l.contains(secret.as_str())).unwrap()
        );
    }
    // The code, too (6 digits could occur by chance in a number, so only as a query value).
    assert!(!log.contains(&format!("code={code}")), "the TOTP code is in the log");
    if std::env::var("KEEP").is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
