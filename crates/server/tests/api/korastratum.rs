//! The korastratum contract, endpoint by endpoint.

use castellan_testkit::{TestOptions, spawn_app, spawn_app_with};
use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn login_returns_user_tokens_and_tenant_as_the_contract_shows() {
    let app = spawn_app().await;
    let (slug, uid) = kora_tenant(&app).await;
    let body = json!({"email": "user@example.com", "password": PASSWORD,
        "deviceInfo": {"deviceId": "device-uuid", "platform": "ios", "osVersion": "17.0", "appVersion": "1.0.0"}});
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/login", &slug, None, Some(body)).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["success"], true);
    let d = &b["data"];
    assert_eq!(d["user"]["id"], uid);
    assert_eq!(d["user"]["email"], "user@example.com");
    assert_eq!(d["user"]["firstName"], "John");
    assert_eq!(d["user"]["lastName"], "Doe");
    assert_eq!(d["user"]["role"], "user");
    assert_eq!(d["user"]["kycStatus"], "verified");
    assert_eq!(d["user"]["kycLevel"], 3);
    assert_eq!(d["user"]["mfaEnabled"], false);
    assert_eq!(d["tokens"]["expiresIn"], 86400);
    assert_eq!(d["tokens"]["tokenType"], "Bearer");
    assert!(d["tokens"]["accessToken"].as_str().unwrap().split('.').count() == 3);
    assert!(d["tokens"]["refreshToken"].as_str().unwrap().len() >= 43);
    assert_eq!(d["tenant"]["name"], slug);
    assert_eq!(d["tenant"]["displayName"], "First Microfinance Bank");
    // The tenant can be addressed by UUID as well.
    let (s, _) = login(&app, d["tenant"]["id"].as_str().unwrap(), "user@example.com", PASSWORD).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn missing_and_unknown_tenants_are_refused() {
    let app = spawn_app().await;
    let (s, b) = castellan_testkit::send(
        app.request(Method::POST, "/api/v1/auth/login").json(&json!({"email": "a@b.co", "password": "x"})),
    )
    .await;
    assert_error(s, &b, 400, "TENANT_REQUIRED");
    let (s, b) = login(&app, "no-such-bank", "a@b.co", "x").await;
    assert_error(s, &b, 404, "TENANT_NOT_FOUND");
}

#[tokio::test]
async fn a_tenant_of_another_profile_is_not_served_by_korastratum() {
    let app = spawn_app().await;
    let (s, _) = app.admin(Method::POST, "/tenants", Some(json!({"slug": "plain", "display_name": "Plain"}))).await;
    assert_eq!(s, 201);
    let (s, b) = login(&app, "plain", "a@b.co", PASSWORD).await;
    assert_error(s, &b, 404, "TENANT_NOT_FOUND");
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (s1, b1) = login(&app, &slug, "user@example.com", "Wrong-pass1!").await;
    let (s2, b2) = login(&app, &slug, "nobody@example.com", "Wrong-pass1!").await;
    assert_error(s1, &b1, 401, "INVALID_CREDENTIALS");
    assert_eq!((s1, b1), (s2, b2));
}

#[tokio::test]
async fn access_token_of_one_tenant_is_refused_at_another() {
    let app = spawn_app().await;
    let (a, _) = kora_tenant(&app).await;
    let (b, _) = kora_tenant(&app).await;
    let (access, _) = tokens(&app, &a).await;
    let (s, _) = app.kora(Method::GET, "/api/v1/auth/sessions", &a, Some(&access), None).await;
    assert_eq!(s, 200);
    let (s, body) = app.kora(Method::GET, "/api/v1/auth/sessions", &b, Some(&access), None).await;
    assert_error(s, &body, 401, "UNAUTHORIZED");
}

#[tokio::test]
async fn access_token_verifies_with_a_standard_jwt_library_and_the_exported_secret() {
    use base64::Engine;
    let app = spawn_app().await;
    let (slug, uid) = kora_tenant(&app).await;
    let (access, _) = tokens(&app, &slug).await;
    let (s, k) = app.admin(Method::GET, &format!("/tenants/{slug}/keys/hs256"), None).await;
    assert_eq!(s, 200, "{k}");
    let secret = base64::engine::general_purpose::STANDARD.decode(k["secret"].as_str().unwrap()).unwrap();
    assert!(secret.len() >= 32);
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.set_issuer(&["bankapp-api"]);
    v.set_audience(&["bankapp-client"]);
    let data = jsonwebtoken::decode::<serde_json::Value>(&access, &jsonwebtoken::DecodingKey::from_secret(&secret), &v).unwrap();
    let c = data.claims;
    assert_eq!(c["userId"], uid);
    assert_eq!(c["email"], "user@example.com");
    assert_eq!(c["role"], "user");
    assert_eq!(c["permissions"], json!(["transfer", "bill_payment"]));
    assert_eq!(c["mfaEnabled"], false);
    assert_eq!(c["kycStatus"], "verified");
    assert_eq!(c["kycLevel"], 3);
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 86400);
    assert!(c["sid"].as_str().unwrap().starts_with("sess_"));
    assert!(c["jti"].is_string() && c["sub"] == uid && c["tenantId"].is_string());
    // Another secret does not verify it.
    assert!(jsonwebtoken::decode::<serde_json::Value>(&access, &jsonwebtoken::DecodingKey::from_secret(&[7u8; 32]), &v).is_err());
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_the_session() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (access, rt1) = tokens(&app, &slug).await;
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/refresh", &slug, None, Some(json!({"refreshToken": rt1}))).await;
    assert_eq!(s, 200, "{b}");
    let rt2 = b["data"]["tokens"]["refreshToken"].as_str().unwrap().to_string();
    let access2 = b["data"]["tokens"]["accessToken"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    assert_eq!(b["data"]["user"]["email"], "user@example.com");
    // The first token again: reuse. The session dies, and with it the newest tokens.
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/refresh", &slug, None, Some(json!({"refreshToken": rt1}))).await;
    assert_error(s, &b, 401, "REFRESH_TOKEN_REUSED");
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/refresh", &slug, None, Some(json!({"refreshToken": rt2}))).await;
    assert_error(s, &b, 401, "INVALID_REFRESH_TOKEN");
    for token in [&access, &access2] {
        let (s, b) = app.kora(Method::GET, "/api/v1/auth/sessions", &slug, Some(token), None).await;
        assert_error(s, &b, 401, "UNAUTHORIZED");
    }
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/refresh", &slug, None, Some(json!({"refreshToken": "made-up"}))).await;
    assert_error(s, &b, 401, "INVALID_REFRESH_TOKEN");
}

#[tokio::test]
async fn fifty_concurrent_refreshes_of_one_token_have_exactly_one_winner() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (_, rt) = tokens(&app, &slug).await;
    let calls = (0..50).map(|_| {
        let rb = app
            .request(Method::POST, "/api/v1/auth/refresh")
            .header("X-Tenant-ID", slug.clone())
            .json(&json!({"refreshToken": rt}));
        castellan_testkit::send(rb)
    });
    let results = futures_join_all(calls).await;
    let winners = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(winners, 1, "{results:?}");
    assert!(results.iter().filter(|(s, _)| *s != 200).all(|(s, b)| *s == 401 && b["error"]["code"] == "REFRESH_TOKEN_REUSED"));
}

/// Joins futures without pulling in the futures crate.
pub async fn futures_join_all<F: std::future::Future + Send + 'static>(futs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn totp_setup_verify_and_login_with_mfa_token_or_totp_code() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (access, _) = tokens(&app, &slug).await;
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/2fa/status", &slug, Some(&access), None).await;
    assert_eq!((s, &b["data"]), (200, &json!({"enabled": false, "pending": false})));
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/2fa/setup", &slug, Some(&access), None).await;
    assert_eq!(s, 200, "{b}");
    let secret = b["data"]["secret"].as_str().unwrap().to_string();
    let url = b["data"]["otpauthUrl"].as_str().unwrap();
    assert!(url.starts_with("otpauth://totp/First%20Microfinance%20Bank:user@example.com?secret="), "{url}");
    assert!(url.contains("&issuer=First%20Microfinance%20Bank&algorithm=SHA1&digits=6&period=30"));
    assert!(b["data"]["qrCodeUrl"].as_str().unwrap().starts_with("data:image/png;base64,"));
    assert!(castellan_core::crypto::base32::decode(&secret).unwrap().len() >= 20);
    // Pending: logins still need no code.
    let (_, b) = app.kora(Method::POST, "/api/v1/auth/2fa/status", &slug, Some(&access), None).await;
    assert_eq!(b["data"], json!({"enabled": false, "pending": true}));
    let (s, _) = login(&app, &slug, "user@example.com", PASSWORD).await;
    assert_eq!(s, 200);
    let (s, b) =
        app.kora(Method::POST, "/api/v1/auth/2fa/verify-setup", &slug, Some(&access), Some(json!({"token": "000000"}))).await;
    assert_error(s, &b, 401, "INVALID_MFA_CODE");
    let (s, _) = app
        .kora(Method::POST, "/api/v1/auth/2fa/verify-setup", &slug, Some(&access), Some(json!({"token": code(&app, &secret, 0)})))
        .await;
    assert_eq!(s, 200);

    // Login without a code: mfaRequired and a single-use mfaToken.
    app.clock.advance(30);
    let (s, b) = login(&app, &slug, "user@example.com", PASSWORD).await;
    assert_eq!(s, 200);
    assert_eq!(b["data"]["mfaRequired"], true);
    assert_eq!(b["data"]["methods"], json!(["totp"]));
    assert!(b["data"].get("tokens").is_none());
    let mfa = b["data"]["mfaToken"].as_str().unwrap().to_string();
    let (s, b) = app
        .kora(Method::POST, "/api/v1/auth/2fa/verify-login", &slug, None, Some(json!({"mfaToken": mfa, "token": "123456"})))
        .await;
    assert_error(s, &b, 401, "INVALID_MFA_CODE");
    let good = code(&app, &secret, 0);
    let (s, b) =
        app.kora(Method::POST, "/api/v1/auth/2fa/verify-login", &slug, None, Some(json!({"mfaToken": mfa, "token": good}))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["user"]["mfaEnabled"], true);
    assert!(b["data"]["tokens"]["accessToken"].is_string());
    let (s, b) = app
        .kora(
            Method::POST,
            "/api/v1/auth/2fa/verify-login",
            &slug,
            None,
            Some(json!({"mfaToken": mfa, "token": code(&app, &secret, 1)})),
        )
        .await;
    assert_error(s, &b, 401, "INVALID_MFA_CODE");

    // Login with the code in one call; the same code again is a replay.
    app.clock.advance(30);
    let c = code(&app, &secret, 0);
    let body = json!({"email": "user@example.com", "password": PASSWORD, "totpCode": c});
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/login", &slug, None, Some(body.clone())).await;
    assert_eq!(s, 200, "{b}");
    assert!(b["data"]["tokens"]["accessToken"].is_string());
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/login", &slug, None, Some(body)).await;
    assert_error(s, &b, 401, "INVALID_MFA_CODE");

    // Disable needs a valid current code.
    let access = b["data"]["tokens"]["accessToken"].as_str().map(str::to_string).unwrap_or(access);
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/2fa/disable", &slug, Some(&access), Some(json!({"token": "000000"}))).await;
    assert_error(s, &b, 401, "INVALID_MFA_CODE");
    app.clock.advance(30);
    let (s, _) = app
        .kora(Method::POST, "/api/v1/auth/2fa/disable", &slug, Some(&access), Some(json!({"token": code(&app, &secret, 0)})))
        .await;
    assert_eq!(s, 200);
    let (s, b) = login(&app, &slug, "user@example.com", PASSWORD).await;
    assert_eq!(s, 200);
    assert!(b["data"]["tokens"].is_object());
}

#[tokio::test]
async fn a_sixth_session_evicts_the_least_recently_active_one() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let mut sessions = Vec::new();
    for _ in 0..5 {
        sessions.push(tokens(&app, &slug).await.0);
        app.clock.advance(61);
    }
    // Session 0 becomes the most recently active; session 1 is now the least recently active.
    let (s, _) = app.kora(Method::GET, "/api/v1/auth/sessions", &slug, Some(&sessions[0]), None).await;
    assert_eq!(s, 200);
    app.clock.advance(61);
    let (sixth, _) = tokens(&app, &slug).await;
    let (s, b) = app.kora(Method::GET, "/api/v1/auth/sessions", &slug, Some(&sixth), None).await;
    assert_eq!(s, 200);
    let list = b["data"].as_array().unwrap();
    assert_eq!(list.len(), 5, "{b}");
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    let (s, _) = app.kora(Method::GET, "/api/v1/auth/sessions", &slug, Some(&sessions[1]), None).await;
    assert_eq!(s, 401, "the least recently active session should have ended");
    let (s, _) = app.kora(Method::GET, "/api/v1/auth/sessions", &slug, Some(&sessions[0]), None).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn a_session_idle_for_thirty_minutes_expires() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (access, refresh) = tokens(&app, &slug).await;
    app.clock.advance(29 * 60);
    let (s, _) = app.kora(Method::GET, "/api/v1/auth/sessions", &slug, Some(&access), None).await;
    assert_eq!(s, 200, "activity at 29 minutes keeps the session");
    app.clock.advance(29 * 60);
    let (s, _) = app.kora(Method::GET, "/api/v1/auth/sessions", &slug, Some(&access), None).await;
    assert_eq!(s, 200);
    app.clock.advance(31 * 60);
    let (s, b) = app.kora(Method::GET, "/api/v1/auth/sessions", &slug, Some(&access), None).await;
    assert_error(s, &b, 401, "UNAUTHORIZED");
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/refresh", &slug, None, Some(json!({"refreshToken": refresh}))).await;
    assert_error(s, &b, 401, "INVALID_REFRESH_TOKEN");
}

#[tokio::test]
async fn sessions_list_masks_addresses_and_can_be_revoked() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let body =
        json!({"email": "user@example.com", "password": PASSWORD, "deviceInfo": {"platform": "ios", "appVersion": "1.0.0"}});
    let (_, b) = app.kora(Method::POST, "/api/v1/auth/login", &slug, None, Some(body)).await;
    let access = b["data"]["tokens"]["accessToken"].as_str().unwrap().to_string();
    let (other, _) = tokens(&app, &slug).await;
    let (s, b) = app.kora(Method::GET, "/api/v1/auth/sessions", &slug, Some(&access), None).await;
    assert_eq!(s, 200);
    let list = b["data"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let me = list.iter().find(|s| s["current"] == true).unwrap();
    assert_eq!(me["deviceInfo"], json!({"platform": "ios", "appVersion": "1.0.0"}));
    assert_eq!(me["ipAddress"], "127.0.xx.xx");
    assert!(me["lastActive"].as_str().unwrap().ends_with('Z'));
    let other_id = list.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_string();
    let (s, b) = app.kora(Method::DELETE, &format!("/api/v1/auth/sessions/{other_id}"), &slug, Some(&access), None).await;
    assert_eq!((s, &b), (200, &json!({"success": true, "data": null})));
    let (s, _) = app.kora(Method::GET, "/api/v1/auth/sessions", &slug, Some(&other), None).await;
    assert_eq!(s, 401);
    let (s, b) = app.kora(Method::DELETE, "/api/v1/auth/sessions/sess_0000", &slug, Some(&access), None).await;
    assert_error(s, &b, 404, "NOT_FOUND");
}

#[tokio::test]
async fn logout_ends_the_current_session_and_logout_all_every_session() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (a1, _) = tokens(&app, &slug).await;
    let (a2, _) = tokens(&app, &slug).await;
    let (a3, r3) = tokens(&app, &slug).await;
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/logout", &slug, Some(&a1), None).await;
    assert_eq!((s, &b), (200, &json!({"success": true, "data": null})));
    let (s, _) = app.kora(Method::GET, "/api/v1/auth/sessions", &slug, Some(&a1), None).await;
    assert_eq!(s, 401);
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/logout-all", &slug, Some(&a2), None).await;
    assert_eq!((s, &b), (200, &json!({"success": true, "data": {"revoked": 2}})));
    let (s, _) = app.kora(Method::GET, "/api/v1/auth/sessions", &slug, Some(&a3), None).await;
    assert_eq!(s, 401);
    let (s, _) = app.kora(Method::POST, "/api/v1/auth/refresh", &slug, None, Some(json!({"refreshToken": r3}))).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn five_failures_lock_the_account_until_the_duration_passes() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    for i in 1..=4 {
        let (s, b) = login(&app, &slug, "user@example.com", "Wrong-pass1!").await;
        assert_error(s, &b, 401, "INVALID_CREDENTIALS");
        let _ = i;
    }
    let (s, b) = login(&app, &slug, "user@example.com", "Wrong-pass1!").await;
    assert_error(s, &b, 423, "ACCOUNT_LOCKED");
    assert_eq!(b["error"]["details"]["retryAfterSeconds"], 900);
    // The right password does not get in while locked, and says so with Retry-After.
    let r = app
        .request(Method::POST, "/api/v1/auth/login")
        .header("X-Tenant-ID", &slug)
        .json(&json!({"email": "user@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 423);
    let retry: i64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry));
    app.clock.advance(901);
    let (s, _) = login(&app, &slug, "user@example.com", PASSWORD).await;
    assert_eq!(s, 200);
    // A success resets the count: four more failures do not lock.
    for _ in 0..4 {
        let (s, _) = login(&app, &slug, "user@example.com", "Wrong-pass1!").await;
        assert_eq!(s, 401);
    }
    let (s, _) = login(&app, &slug, "user@example.com", PASSWORD).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn registration_creates_a_user_sends_a_verification_email_and_refuses_duplicates() {
    let app = spawn_app_with(TestOptions { smtp: true, ..Default::default() }).await;
    let (slug, _) = kora_tenant(&app).await;
    let body = json!({"email": "New.Person@Example.com", "password": "Another@Pass9", "firstName": "Ada", "lastName": "Obi", "phone": "+256700000009"});
    let (s, b) = app.kora(Method::POST, "/api/v1/registration/register", &slug, None, Some(body.clone())).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["data"]["user"]["email"], "new.person@example.com");
    assert_eq!(b["data"]["user"]["emailVerified"], false);
    let (s, b2) = app.kora(Method::POST, "/api/v1/registration/register", &slug, None, Some(body)).await;
    assert_error(s, &b2, 409, "EMAIL_TAKEN");
    // Unverified users can log in on this dialect.
    let (s, _) = login(&app, &slug, "new.person@example.com", "Another@Pass9").await;
    assert_eq!(s, 200);
    let mail = app.smtp.as_ref().unwrap().wait_for("new.person@example.com", 1).await;
    let body = mail.body();
    let token = link_token(&body, &format!("/t/{slug}/verify-email?token="));
    let (s, b) = app.kora(Method::POST, "/api/v1/registration/verify-email", &slug, None, Some(json!({"token": token}))).await;
    assert_eq!((s, &b["data"]["emailVerified"]), (200, &json!(true)), "{b}");
    let (s, b) = app.kora(Method::POST, "/api/v1/registration/verify-email", &slug, None, Some(json!({"token": token}))).await;
    assert_error(s, &b, 400, "INVALID_RESET_TOKEN");
}

/// The token of the first link in `body` that contains `marker`.
pub fn link_token(body: &str, marker: &str) -> String {
    let start = body.find(marker).unwrap_or_else(|| panic!("no link with {marker} in:\n{body}")) + marker.len();
    body[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

#[tokio::test]
async fn weak_passwords_are_refused_with_the_unmet_rules() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let body = json!({"email": "weak@example.com", "password": "weakpass", "firstName": "W", "lastName": "P"});
    let (s, b) = app.kora(Method::POST, "/api/v1/registration/register", &slug, None, Some(body)).await;
    assert_error(s, &b, 400, "WEAK_PASSWORD");
    assert_eq!(b["error"]["details"]["unmetRules"], json!(["uppercase", "digit", "special:@$!%*?&"]));
}

#[tokio::test]
async fn a_reset_link_arrives_over_smtp_works_once_and_ends_every_session() {
    let app = spawn_app_with(TestOptions { smtp: true, ..Default::default() }).await;
    let (slug, _) = kora_tenant(&app).await;
    let (access, _) = tokens(&app, &slug).await;
    let (s, b) = app
        .kora(Method::POST, "/api/v1/registration/forgot-password", &slug, None, Some(json!({"email": "user@example.com"})))
        .await;
    assert_eq!((s, &b), (200, &json!({"success": true, "data": null})));
    let (s, b2) = app
        .kora(Method::POST, "/api/v1/registration/forgot-password", &slug, None, Some(json!({"email": "nobody@example.com"})))
        .await;
    assert_eq!((s, b2), (200, b));
    let mail = app.smtp.as_ref().unwrap().wait_for("user@example.com", 1).await;
    assert!(mail.header("Subject").unwrap().contains("Reset your First Microfinance Bank password"));
    let body = mail.body();
    assert!(body.contains(&format!("{}/t/{slug}/reset-password?token=", app.address)), "{body}");
    let token = link_token(&body, "reset-password?token=");
    // The page opens the form; a weak password does not burn the token.
    let page = app.request(Method::GET, &format!("/t/{slug}/reset-password?token={token}")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let (s, b) = app
        .kora(
            Method::POST,
            "/api/v1/registration/reset-password",
            &slug,
            None,
            Some(json!({"token": token, "newPassword": "short"})),
        )
        .await;
    assert_error(s, &b, 400, "WEAK_PASSWORD");
    let form = app
        .request(Method::POST, &format!("/t/{slug}/reset-password"))
        .form(&[("token", token.as_str()), ("password", "NewSecurePass456!"), ("confirm", "NewSecurePass456!")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    assert!(form.text().await.unwrap().contains("Password changed"));
    // Once only.
    let (s, b) = app
        .kora(
            Method::POST,
            "/api/v1/registration/reset-password",
            &slug,
            None,
            Some(json!({"token": token, "newPassword": "Other@Pass789"})),
        )
        .await;
    assert_error(s, &b, 400, "INVALID_RESET_TOKEN");
    let (s, _) = app.kora(Method::GET, "/api/v1/auth/sessions", &slug, Some(&access), None).await;
    assert_eq!(s, 401, "sessions end on reset");
    let (s, _) = login(&app, &slug, "user@example.com", PASSWORD).await;
    assert_eq!(s, 401);
    let (s, _) = login(&app, &slug, "user@example.com", "NewSecurePass456!").await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn malformed_bodies_get_the_error_envelope_never_a_500() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let cases: Vec<(&str, String)> = vec![
        ("malformed", "{\"email\": ".to_string()),
        ("wrong type", "{\"email\": 5, \"password\": \"x\"}".to_string()),
        ("missing field", "{\"email\": \"a@b.co\"}".to_string()),
        ("array", "[1,2,3]".to_string()),
        ("huge", format!("{{\"email\": \"{}\", \"password\": \"x\"}}", "a".repeat(1024 * 1024))),
    ];
    for (name, body) in cases {
        // A body past the limit is refused as soon as its Content-Length is read: 413.
        let want = if name == "huge" { 413 } else { 400 };
        let r = app
            .request(Method::POST, "/api/v1/auth/login")
            .header("X-Tenant-ID", &slug)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        let b: serde_json::Value = r.json().await.unwrap_or_default();
        assert_error(s, &b, want, "VALIDATION_ERROR");
        assert!(b["error"]["details"].is_object(), "{name}: {b}");
    }
    let r = app
        .request(Method::POST, "/api/v1/auth/login")
        .header("X-Tenant-ID", &slug)
        .header("content-type", "application/json")
        .body("{\"email\": 5, \"password\": \"x\"}")
        .send()
        .await
        .unwrap();
    let b: serde_json::Value = r.json().await.unwrap();
    assert!(b["error"]["details"]["email"].as_str().unwrap().contains("expected a string"), "{b}");
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/nothing-here", &slug, None, None).await;
    assert_error(s, &b, 404, "NOT_FOUND");
}

#[tokio::test]
async fn a_restart_loses_no_user_session_or_refresh_token() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (access, refresh) = tokens(&app, &slug).await;
    for _ in 0..3 {
        login(&app, &slug, "user@example.com", "Wrong-pass1!").await;
    }
    let app = app.restart().await;
    let (s, _) = app.kora(Method::GET, "/api/v1/auth/sessions", &slug, Some(&access), None).await;
    assert_eq!(s, 200);
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/refresh", &slug, None, Some(json!({"refreshToken": refresh}))).await;
    assert_eq!(s, 200, "{b}");
    // The lockout counter survived too: two more failures lock.
    login(&app, &slug, "user@example.com", "Wrong-pass1!").await;
    let (s, _) = login(&app, &slug, "user@example.com", "Wrong-pass1!").await;
    assert_eq!(s, 423);
}

#[tokio::test]
async fn credential_endpoints_answer_rate_limited_past_the_per_ip_limit() {
    let options = TestOptions { settings: Some(Box::new(|s| s.auth_rate_limit_per_minute = 3)), ..Default::default() };
    let app = spawn_app_with(options).await;
    let (slug, _) = kora_tenant(&app).await;
    for _ in 0..3 {
        let (s, _) = login(&app, &slug, "user@example.com", PASSWORD).await;
        assert_eq!(s, 200);
    }
    let r = app
        .request(Method::POST, "/api/v1/auth/login")
        .header("X-Tenant-ID", &slug)
        .json(&json!({"email": "user@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers()["retry-after"].to_str().unwrap().parse::<i64>().unwrap() >= 1);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_error(429, &b, 429, "RATE_LIMITED");
}
