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
