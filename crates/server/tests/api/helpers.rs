//! Fixtures shared by the tests.

use castellan_core::crypto::{base32, totp};
use castellan_testkit::TestApp;
use reqwest::Method;
use serde_json::{Value, json};

pub const PASSWORD: &str = "SecurePass123!";

/// A korastratum tenant with one user; returns (slug, user id).
pub async fn kora_tenant(app: &TestApp) -> (String, String) {
    let slug = format!("bank-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let (s, t) = app
        .admin(
            Method::POST,
            "/tenants",
            Some(json!({"slug": slug, "display_name": "First Microfinance Bank", "profile": "korastratum"})),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    let id = create_user(app, &slug, "user@example.com").await;
    (slug, id)
}

pub async fn create_user(app: &TestApp, tenant: &str, email: &str) -> String {
    let body = json!({
        "email": email, "password": PASSWORD, "first_name": "John", "last_name": "Doe", "role": "user",
        "permissions": ["transfer", "bill_payment"], "attributes": {"kycStatus": "verified", "kycLevel": 3}
    });
    let (s, u) = app.admin(Method::POST, &format!("/tenants/{tenant}/users"), Some(body)).await;
    assert_eq!(s, 201, "{u}");
    u["id"].as_str().unwrap().to_string()
}

pub async fn login(app: &TestApp, tenant: &str, email: &str, password: &str) -> (u16, Value) {
    app.kora(Method::POST, "/api/v1/auth/login", tenant, None, Some(json!({"email": email, "password": password}))).await
}

/// Logs in and returns (access token, refresh token).
pub async fn tokens(app: &TestApp, tenant: &str) -> (String, String) {
    let (s, b) = login(app, tenant, "user@example.com", PASSWORD).await;
    assert_eq!(s, 200, "{b}");
    (
        b["data"]["tokens"]["accessToken"].as_str().unwrap().to_string(),
        b["data"]["tokens"]["refreshToken"].as_str().unwrap().to_string(),
    )
}

/// The TOTP code of a base32 secret at the app's clock, `offset_steps` away.
pub fn code(app: &TestApp, secret: &str, offset_steps: i64) -> String {
    use castellan_core::clock::Clock;
    let key = base32::decode(secret).unwrap();
    totp::totp(totp::TotpAlgorithm::Sha1, &key, app.clock.now() + offset_steps * 30, 30, 6)
}

/// Enables TOTP for the logged-in user through the API; returns the secret.
pub async fn enable_totp(app: &TestApp, tenant: &str, access: &str) -> String {
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/2fa/setup", tenant, Some(access), None).await;
    assert_eq!(s, 200, "{b}");
    let secret = b["data"]["secret"].as_str().unwrap().to_string();
    let (s, b) = app
        .kora(Method::POST, "/api/v1/auth/2fa/verify-setup", tenant, Some(access), Some(json!({"token": code(app, &secret, 0)})))
        .await;
    assert_eq!(s, 200, "{b}");
    secret
}

pub fn assert_error(status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["success"], json!(false), "{body}");
    assert_eq!(body["error"]["code"], json!(want_code), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

pub const KUMU_PASSWORD: &str = "P@ssw0rd!92X";

/// A kumusoft tenant with an application and a user (verified email, username, phone);
/// returns (tenant slug, tagId, user id).
pub async fn kumu_tenant(app: &TestApp) -> (String, String, String) {
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let slug = format!("kumu-{suffix}");
    let (s, t) =
        app.admin(Method::POST, "/tenants", Some(json!({"slug": slug, "display_name": "Kumusoft", "profile": "kumusoft"}))).await;
    assert_eq!(s, 201, "{t}");
    let tag = format!("ZED_INVESTA_{}", suffix.to_uppercase());
    kumu_app(app, &slug, &tag).await;
    let body = json!({
        "email": "user_8742@example.com", "username": "user_8742", "phone": "+256700000001",
        "password": KUMU_PASSWORD, "first_name": "John", "last_name": "Doe", "email_verified": true
    });
    let (s, u) = app.admin(Method::POST, &format!("/tenants/{slug}/users"), Some(body)).await;
    assert_eq!(s, 201, "{u}");
    (slug, tag, u["id"].as_str().unwrap().to_string())
}

/// Adds a public application with this kumusoft tag.
pub async fn kumu_app(app: &TestApp, tenant: &str, tag: &str) {
    let body = json!({"name": "Zed Investa Member Portal", "kind": "public", "kumusoft_tag": tag});
    let (s, a) = app.admin(Method::POST, &format!("/tenants/{tenant}/applications"), Some(body)).await;
    assert_eq!(s, 201, "{a}");
}

/// A kumusoft call under the default prefix.
pub async fn kumu(app: &TestApp, method: Method, path: &str, bearer: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let mut rb = app.request(method, &format!("/v1/auth{path}"));
    if let Some(t) = bearer {
        rb = rb.bearer_auth(t);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    castellan_testkit::send(rb).await
}

pub async fn kumu_login(app: &TestApp, identifier: &str, password: &str, tag: &str) -> (u16, Value) {
    kumu(app, Method::POST, "/login", None, Some(json!({"identifier": identifier, "password": password, "tagId": tag}))).await
}

/// Asserts a kumusoft envelope with this status and return code.
pub fn assert_kumu(status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["status"]["returnCode"], json!(want_code), "{body}");
    assert!(body["status"]["returnMessage"].is_string(), "{body}");
}

/// The six-digit code in a message text.
pub fn code_in(text: &str) -> String {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(5))
        .find(|&i| {
            bytes[i..i + 6].iter().all(u8::is_ascii_digit)
                && (i == 0 || !bytes[i - 1].is_ascii_digit())
                && bytes.get(i + 6).is_none_or(|b| !b.is_ascii_digit())
        })
        .map(|i| text[i..i + 6].to_string())
        .unwrap_or_else(|| panic!("no code in {text:?}"))
}

/// The `n`-th message (1-based, oldest first) kept in the development outbox for `to`.
pub async fn outbox_message(app: &TestApp, to: &str, n: usize) -> Value {
    let path = format!("/outbox?to={}&limit=1000", to.replace('+', "%2B"));
    for _ in 0..200 {
        let (s, list) = app.admin(Method::GET, &path, None).await;
        assert_eq!(s, 200, "{list}");
        let list = list.as_array().unwrap().clone();
        if list.len() >= n {
            return list[list.len() - n].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no message #{n} to {to}");
}

/// Logs in and returns (challenge id, user id, the code from the outbox).
pub async fn kumu_challenge(app: &TestApp, tag: &str) -> (String, String, String) {
    let before = outbox_count(app, "user_8742@example.com").await;
    let (s, b) = kumu_login(app, "user_8742@example.com", KUMU_PASSWORD, tag).await;
    assert_kumu(s, &b, 200, "00");
    let m = outbox_message(app, "user_8742@example.com", before + 1).await;
    (
        b["data"]["challengeId"].as_str().unwrap().to_string(),
        b["data"]["userId"].as_str().unwrap().to_string(),
        code_in(m["body"].as_str().unwrap()),
    )
}

pub async fn outbox_count(app: &TestApp, to: &str) -> usize {
    let (_, list) = app.admin(Method::GET, &format!("/outbox?to={}&limit=1000", to.replace('+', "%2B")), None).await;
    list.as_array().map(Vec::len).unwrap_or(0)
}

/// The whole flow; returns the otp/verify data (accessToken, refreshToken, …).
pub async fn kumu_tokens(app: &TestApp, tag: &str) -> Value {
    let (challenge, user, code) = kumu_challenge(app, tag).await;
    let (s, b) =
        kumu(app, Method::POST, "/otp/verify", None, Some(json!({"userId": user, "otp": code, "challengeId": challenge}))).await;
    assert_kumu(s, &b, 200, "00");
    b["data"].clone()
}

/// Polls the futures together (they borrow the app, so they cannot be spawned).
pub async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    use std::pin::Pin;
    use std::task::{Context, Poll};
    let mut pinned: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(move |cx: &mut Context<'_>| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if results[i].is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => results[i] = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending { Poll::Pending } else { Poll::Ready(results.iter_mut().map(|r| r.take().unwrap()).collect()) }
    })
    .await
}

/// How long a revocation on one node may take to be refused on another here (each node holds
/// sessions in memory, kept by a change feed; on SQLite the nodes of one process share it). This
/// suite runs dozens of tests at once on a few cores, so its bound is loose; the 50 ms bound of a
/// deployment is measured by `cli/cluster.rs` on two processes with nothing else running.
pub const REVOCATION_BOUND: std::time::Duration = std::time::Duration::from_millis(500);

/// Polls `refused` until it says so, failing past [`REVOCATION_BOUND`].
pub async fn refused_within_the_bound<F, Fut>(what: &str, refused: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let since = std::time::Instant::now();
    while !refused().await {
        assert!(since.elapsed() <= REVOCATION_BOUND, "{what}: still accepted {:?} after the revocation", since.elapsed());
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}
