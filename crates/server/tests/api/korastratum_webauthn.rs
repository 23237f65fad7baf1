//! Korastratum's 2FA with WebAuthn: a security key added with an access token, then the second
//! step of every login; refusals in the dialect's own error shape.

use castellan_testkit::authenticator::{Behaviour, SoftAuthenticator};
use castellan_testkit::spawn_app;
use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_security_key_added_through_the_api_is_the_second_step_of_every_login() {
    let app = spawn_app().await;
    let (tenant, _) = kora_tenant(&app).await;
    let origin = app.address.replace("127.0.0.1", "localhost");
    let (_, mut policy) = app.admin(Method::GET, &format!("/tenants/{tenant}/policy"), None).await;
    policy["webauthn"] = json!({"rp_id": "localhost", "origins": [origin]});
    assert_eq!(app.admin(Method::PUT, &format!("/tenants/{tenant}/policy"), Some(policy)).await.0, 200);
    let (access, _) = tokens(&app, &tenant).await;
    let b = Behaviour::at(&origin);
    let mut auth = SoftAuthenticator::new();

    // Add a key: options, the authenticator's answer, the credential.
    let (s, opts) =
        app.kora(Method::POST, "/api/v1/auth/2fa/webauthn/register-options", &tenant, Some(&access), Some(json!({}))).await;
    assert_eq!(s, 200, "{opts}");
    assert_eq!(opts["data"]["publicKey"]["authenticatorSelection"]["residentKey"], "discouraged", "a security key by default");
    let made = auth.register(&opts["data"], &b);
    let body = json!({"ceremony": opts["data"]["ceremony"], "credential": made, "name": "YubiKey"});
    let (s, added) =
        app.kora(Method::POST, "/api/v1/auth/2fa/webauthn/register", &tenant, Some(&access), Some(body.clone())).await;
    assert_eq!(s, 200, "{added}");
    assert_eq!((added["data"]["kind"].as_str(), added["data"]["name"].as_str()), (Some("security_key"), Some("YubiKey")));
    // The same answer again: its ceremony is spent.
    let (s, again) = app.kora(Method::POST, "/api/v1/auth/2fa/webauthn/register", &tenant, Some(&access), Some(body)).await;
    assert_error(s, &again, 400, "VALIDATION_ERROR");
    assert!(again["error"]["details"]["ceremony"].is_string(), "{again}");

    // Login now asks for the key.
    let (s, l) = login(&app, &tenant, "user@example.com", PASSWORD).await;
    assert_eq!(s, 200, "{l}");
    assert_eq!(l["data"]["mfaRequired"], true);
    assert_eq!(l["data"]["methods"], json!(["webauthn"]));
    let mfa = l["data"]["mfaToken"].as_str().unwrap();
    let (s, o) =
        app.kora(Method::POST, "/api/v1/auth/2fa/webauthn/login-options", &tenant, None, Some(json!({"mfaToken": mfa}))).await;
    assert_eq!(s, 200, "{o}");
    // A wrong origin: refused as a wrong code, and the token stays usable.
    let wrong = auth.assert(0, &o["data"], &Behaviour { origin: "https://evil.example".into(), ..b.clone() });
    let body = json!({"mfaToken": mfa, "ceremony": o["data"]["ceremony"], "credential": wrong});
    let (s, e) = app.kora(Method::POST, "/api/v1/auth/2fa/webauthn/verify-login", &tenant, None, Some(body)).await;
    assert_error(s, &e, 401, "INVALID_MFA_CODE");
    let (_, o) =
        app.kora(Method::POST, "/api/v1/auth/2fa/webauthn/login-options", &tenant, None, Some(json!({"mfaToken": mfa}))).await;
    let right = auth.assert(0, &o["data"], &b);
    let body = json!({"mfaToken": mfa, "ceremony": o["data"]["ceremony"], "credential": right});
    let (s, t) = app.kora(Method::POST, "/api/v1/auth/2fa/webauthn/verify-login", &tenant, None, Some(body.clone())).await;
    assert_eq!(s, 200, "{t}");
    assert!(t["data"]["tokens"]["accessToken"].is_string());
    // The token was spent by that login.
    let (s, e) = app.kora(Method::POST, "/api/v1/auth/2fa/webauthn/verify-login", &tenant, None, Some(body)).await;
    assert_error(s, &e, 401, "INVALID_MFA_CODE");

    // A recovery code finishes a login's second step once, through the contract's verify-login.
    let (s, made) = app.kora(Method::POST, "/api/v1/auth/2fa/recovery-codes", &tenant, Some(&access), None).await;
    assert_eq!(s, 200, "{made}");
    let code = made["data"]["codes"][0].as_str().unwrap().to_string();
    let (_, l) = login(&app, &tenant, "user@example.com", PASSWORD).await;
    assert_eq!(l["data"]["methods"], json!(["webauthn", "recovery_code"]));
    let body = json!({"mfaToken": l["data"]["mfaToken"], "token": code});
    let (s, t) = app.kora(Method::POST, "/api/v1/auth/2fa/verify-login", &tenant, None, Some(body)).await;
    assert_eq!(s, 200, "{t}");
    let (_, l) = login(&app, &tenant, "user@example.com", PASSWORD).await;
    let body = json!({"mfaToken": l["data"]["mfaToken"], "token": code});
    let (s, e) = app.kora(Method::POST, "/api/v1/auth/2fa/verify-login", &tenant, None, Some(body)).await;
    assert_error(s, &e, 401, "INVALID_MFA_CODE");

    // Listed, removed; then the password alone logs in again.
    let (s, list) = app.kora(Method::GET, "/api/v1/auth/2fa/webauthn/credentials", &tenant, Some(&access), None).await;
    assert_eq!(s, 200, "{list}");
    let id = list["data"][0]["id"].as_str().unwrap().to_string();
    assert!(list["data"][0]["lastUsedAt"].is_number(), "{list}");
    let path = format!("/api/v1/auth/2fa/webauthn/credentials/{id}");
    let (s, d) = app.kora(Method::DELETE, &path, &tenant, Some(&access), None).await;
    assert_eq!(s, 200, "{d}");
    let (s, d) = app.kora(Method::DELETE, &path, &tenant, Some(&access), None).await;
    assert_error(s, &d, 404, "NOT_FOUND");
    let (s, l) = login(&app, &tenant, "user@example.com", PASSWORD).await;
    assert_eq!(s, 200, "{l}");
    assert!(l["data"]["tokens"]["accessToken"].is_string(), "{l}");
    // Eleven minutes after the login, keys cannot be changed with its token.
    app.clock.advance(660);
    let (s, e) =
        app.kora(Method::POST, "/api/v1/auth/2fa/webauthn/register-options", &tenant, Some(&access), Some(json!({}))).await;
    assert_error(s, &e, 401, "REAUTHENTICATION_REQUIRED");
    // Without an access token, nothing of it answers.
    let (s, e) = app.kora(Method::GET, "/api/v1/auth/2fa/webauthn/credentials", &tenant, None, None).await;
    assert_error(s, &e, 401, "UNAUTHORIZED");
}
