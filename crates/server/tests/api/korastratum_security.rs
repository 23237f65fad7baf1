//! docs/security.md rows that korastratum's features cover, each test named after its row.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use castellan_testkit::spawn_app;
use reqwest::Method;
use serde_json::json;

use crate::helpers::*;
use crate::korastratum::futures_join_all;

async fn register(app: &castellan_testkit::TestApp, slug: &str, email: &str, password: &str) -> (u16, serde_json::Value) {
    let body = json!({"email": email, "password": password, "firstName": "T", "lastName": "U"});
    app.kora(Method::POST, "/api/v1/registration/register", slug, None, Some(body)).await
}

#[tokio::test]
async fn row01_seven_characters_refused_eight_accepted() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (s, b) = register(&app, &slug, "a@example.com", "Ab1!xyz").await;
    assert_error(s, &b, 400, "WEAK_PASSWORD");
    assert!(b["error"]["details"]["unmetRules"].as_array().unwrap().contains(&json!("min_length:8")));
    let (s, _) = register(&app, &slug, "b@example.com", "Ab1!wxyz").await;
    assert_eq!(s, 201);
}

#[tokio::test]
async fn row02_long_unicode_password_is_not_truncated() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let pw = "Aa1! correct horse 🐎 battery staple ✓ and a few more words to pass 80 bytes";
    assert!(pw.len() >= 80);
    let (s, _) = register(&app, &slug, "long@example.com", pw).await;
    assert_eq!(s, 201);
    let (s, _) = login(&app, &slug, "long@example.com", pw).await;
    assert_eq!(s, 200);
    let shorter: String = pw.chars().take(pw.chars().count() - 1).collect();
    let (s, _) = login(&app, &slug, "long@example.com", &shorter).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn row03_lowercase_passphrase_is_accepted_by_the_default_profile() {
    let app = spawn_app().await;
    let (s, _) = app.admin(Method::POST, "/tenants", Some(json!({"slug": "plain", "display_name": "Plain"}))).await;
    assert_eq!(s, 201);
    let (s, b) = app
        .admin(
            Method::POST,
            "/tenants/plain/users",
            Some(json!({"email": "p@example.com", "password": "correct horse battery staple"})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
}

#[tokio::test]
async fn row04_a_top_list_password_is_refused_with_a_policy_error() {
    let app = spawn_app().await;
    let (s, _) = app.admin(Method::POST, "/tenants", Some(json!({"slug": "plain", "display_name": "Plain"}))).await;
    assert_eq!(s, 201);
    let (s, b) =
        app.admin(Method::POST, "/tenants/plain/users", Some(json!({"email": "p@example.com", "password": "password123"}))).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("weak_password")));
    let (slug, _) = kora_tenant(&app).await;
    let (s, b) = register(&app, &slug, "c@example.com", "Password123!").await;
    assert_error(s, &b, 400, "WEAK_PASSWORD");
}

#[tokio::test]
async fn row06_two_users_with_one_password_get_different_argon2id_hashes() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let b_id = create_user(&app, &slug, "second@example.com").await;
    let t = app.core.tenants().find_tenant(&slug).await.unwrap();
    let a = app.core.users().find_user(&t, "user@example.com").await.unwrap().unwrap().password_hash.unwrap();
    let b = app.core.users().get_user(&t, b_id.parse().unwrap()).await.unwrap().password_hash.unwrap();
    assert!(a.starts_with("$argon2id$") && b.starts_with("$argon2id$"));
    assert_ne!(a, b);
}

#[tokio::test]
async fn row07_imported_bcrypt_and_pbkdf2_hashes_log_in_once_then_are_argon2id() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    // Hashes made the way other systems make them (cost-4 bcrypt; PBKDF2-SHA256, 1000 rounds).
    let bc = bcrypt_for("Imported#Pass1");
    let pb = pbkdf2_for("Imported#Pass2");
    for (email, hash, pw) in [("bc@example.com", bc, "Imported#Pass1"), ("pb@example.com", pb, "Imported#Pass2")] {
        let (s, b) = app
            .admin(Method::POST, &format!("/tenants/{slug}/users"), Some(json!({"email": email, "password_hash": hash})))
            .await;
        assert_eq!(s, 201, "{b}");
        let (s, _) = login(&app, &slug, email, pw).await;
        assert_eq!(s, 200);
        let t = app.core.tenants().find_tenant(&slug).await.unwrap();
        let stored = app.core.users().find_user(&t, email).await.unwrap().unwrap().password_hash.unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        let (s, _) = login(&app, &slug, email, pw).await;
        assert_eq!(s, 200);
    }
}

fn bcrypt_for(pw: &str) -> String {
    castellan_core::crypto::password::test_support::bcrypt_hash(pw)
}

fn pbkdf2_for(pw: &str) -> String {
    castellan_core::crypto::password::test_support::pbkdf2_hash(pw)
}

#[tokio::test]
async fn row08_locked_account_gets_the_same_answer_for_the_right_password() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    for _ in 0..5 {
        login(&app, &slug, "user@example.com", "Wrong-pass1!").await;
    }
    let (s1, b1) = login(&app, &slug, "user@example.com", PASSWORD).await;
    let (s2, b2) = login(&app, &slug, "user@example.com", "Wrong-pass1!").await;
    assert_error(s1, &b1, 423, "ACCOUNT_LOCKED");
    assert_eq!(s1, s2);
    assert_eq!(b1["error"]["code"], b2["error"]["code"]);
}

#[tokio::test]
async fn row08_unknown_emails_lock_too_so_a_423_proves_nothing() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    for _ in 0..4 {
        login(&app, &slug, "ghost@example.com", "Wrong-pass1!").await;
    }
    let (s, b) = login(&app, &slug, "ghost@example.com", "Wrong-pass1!").await;
    assert_error(s, &b, 423, "ACCOUNT_LOCKED");
}

#[tokio::test]
async fn row10_twenty_parallel_bad_logins_at_four_failures_let_no_extra_guess_through() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    for _ in 0..4 {
        login(&app, &slug, "user@example.com", "Wrong-pass1!").await;
    }
    let before = app.core.hasher.hashes_computed();
    let calls = (0..20).map(|_| {
        let rb = app
            .request(Method::POST, "/api/v1/auth/login")
            .header("X-Tenant-ID", slug.clone())
            .json(&json!({"email": "user@example.com", "password": "Wrong-pass1!"}));
        castellan_testkit::send(rb)
    });
    let results = futures_join_all(calls).await;
    assert!(results.iter().all(|(s, _)| *s == 423), "{results:?}");
    assert_eq!(app.core.hasher.hashes_computed() - before, 1, "exactly one more password guess was checked");
}

#[tokio::test]
async fn row11_admin_unlock_lifts_the_lock_and_locks_are_per_tenant() {
    let app = spawn_app().await;
    let (a, uid) = kora_tenant(&app).await;
    let (b, _) = kora_tenant(&app).await;
    for _ in 0..5 {
        login(&app, &a, "user@example.com", "Wrong-pass1!").await;
    }
    let (s, _) = login(&app, &a, "user@example.com", PASSWORD).await;
    assert_eq!(s, 423);
    let (s, _) = login(&app, &b, "user@example.com", PASSWORD).await;
    assert_eq!(s, 200, "same email in another tenant is not locked");
    let (s, _) = app.admin(Method::POST, &format!("/tenants/{a}/users/{uid}/unlock"), None).await;
    assert_eq!(s, 204);
    let (s, _) = login(&app, &a, "user@example.com", PASSWORD).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn row12_unknown_wrong_and_disabled_look_identical() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let disabled = create_user(&app, &slug, "off@example.com").await;
    let (s, _) = app.admin(Method::PATCH, &format!("/tenants/{slug}/users/{disabled}"), Some(json!({"active": false}))).await;
    assert_eq!(s, 200);
    let mut answers = Vec::new();
    for (email, pw) in [("nobody@example.com", PASSWORD), ("user@example.com", "Wrong-pass1!"), ("off@example.com", PASSWORD)] {
        let r = app
            .request(Method::POST, "/api/v1/auth/login")
            .header("X-Tenant-ID", &slug)
            .json(&json!({"email": email, "password": pw}))
            .send()
            .await
            .unwrap();
        let mut headers: Vec<(String, String)> = r
            .headers()
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "date" | "x-request-id" | "content-length"))
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        headers.sort();
        answers.push((r.status().as_u16(), headers, r.text().await.unwrap()));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[1], answers[2]);
}

#[tokio::test]
async fn row13_unknown_user_costs_one_password_hash_like_a_wrong_password() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    for (email, pw) in [("nobody@example.com", "Wrong-pass1!"), ("user@example.com", "Wrong-pass1!"), ("nobody2@example.com", "")]
    {
        let before = app.core.hasher.hashes_computed();
        login(&app, &slug, email, pw).await;
        assert_eq!(app.core.hasher.hashes_computed() - before, 1, "{email}");
    }
}

#[tokio::test]
async fn row22_and_23_previous_step_ok_two_back_and_replays_refused() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (access, _) = tokens(&app, &slug).await;
    let secret = enable_totp(&app, &slug, &access).await;
    let with = |c: String| json!({"email": "user@example.com", "password": PASSWORD, "totpCode": c});
    app.clock.advance(90);
    let (s, _) = app.kora(Method::POST, "/api/v1/auth/login", &slug, None, Some(with(code(&app, &secret, -2)))).await;
    assert_eq!(s, 401, "t-2 refused");
    let (s, _) = app.kora(Method::POST, "/api/v1/auth/login", &slug, None, Some(with(code(&app, &secret, 0)))).await;
    assert_eq!(s, 200, "t accepted");
    let (s, _) = app.kora(Method::POST, "/api/v1/auth/login", &slug, None, Some(with(code(&app, &secret, -1)))).await;
    assert_eq!(s, 401, "an older step after a newer one is refused");
    app.clock.advance(30);
    let (s, _) = app.kora(Method::POST, "/api/v1/auth/login", &slug, None, Some(with(code(&app, &secret, -1)))).await;
    assert_eq!(s, 401, "the code already used, now one step back, is still a replay");
    let (s, _) = app.kora(Method::POST, "/api/v1/auth/login", &slug, None, Some(with(code(&app, &secret, 1)))).await;
    assert_eq!(s, 200, "t+1 accepted");
}

fn forge(header: serde_json::Value, claims: serde_json::Value, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(sig)
    )
}

fn claims_of(token: &str) -> serde_json::Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

fn hs256(secret: &[u8], header: serde_json::Value, claims: serde_json::Value) -> String {
    jsonwebtoken::encode(&serde_json::from_value(header).unwrap(), &claims, &jsonwebtoken::EncodingKey::from_secret(secret))
        .unwrap()
}

async fn secret_of(app: &castellan_testkit::TestApp, slug: &str) -> (String, Vec<u8>) {
    let (_, k) = app.admin(Method::GET, &format!("/tenants/{slug}/keys/hs256"), None).await;
    (k["kid"].as_str().unwrap().to_string(), STANDARD.decode(k["secret"].as_str().unwrap()).unwrap())
}

async fn refused(app: &castellan_testkit::TestApp, slug: &str, token: &str) {
    let (s, b) = app.kora(Method::GET, "/api/v1/auth/sessions", slug, Some(token), None).await;
    assert_error(s, &b, 401, "UNAUTHORIZED");
}

#[tokio::test]
async fn row26_alg_none_and_empty_signature_are_refused() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (access, _) = tokens(&app, &slug).await;
    let claims = claims_of(&access);
    refused(&app, &slug, &forge(json!({"alg": "none", "typ": "JWT"}), claims.clone(), b"")).await;
    let parts: Vec<&str> = access.split('.').collect();
    refused(&app, &slug, &format!("{}.{}.", parts[0], parts[1])).await;
}

#[tokio::test]
async fn row28_another_tenants_secret_is_refused_and_secrets_are_256_bits() {
    let app = spawn_app().await;
    let (a, _) = kora_tenant(&app).await;
    let (b, _) = kora_tenant(&app).await;
    let (access, _) = tokens(&app, &a).await;
    let (kid_b, secret_b) = secret_of(&app, &b).await;
    assert!(secret_b.len() >= 32);
    let mut claims = claims_of(&access);
    claims["exp"] = json!(claims["exp"].as_i64().unwrap() + 10);
    refused(&app, &a, &hs256(&secret_b, json!({"alg": "HS256", "typ": "JWT", "kid": kid_b}), claims)).await;
}

#[tokio::test]
async fn row29_an_edited_payload_with_the_old_signature_is_refused() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (access, _) = tokens(&app, &slug).await;
    let mut claims = claims_of(&access);
    claims["role"] = json!("admin");
    let parts: Vec<&str> = access.split('.').collect();
    refused(&app, &slug, &format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2])).await;
}

#[tokio::test]
async fn row30_no_exp_expired_and_future_nbf_are_refused() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (access, _) = tokens(&app, &slug).await;
    let (kid, secret) = secret_of(&app, &slug).await;
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
    let base = claims_of(&access);
    // A correctly signed copy is accepted: the forgeries below fail for their one defect.
    let (s, _) =
        app.kora(Method::GET, "/api/v1/auth/sessions", &slug, Some(&hs256(&secret, header.clone(), base.clone())), None).await;
    assert_eq!(s, 200);
    let mut no_exp = base.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    refused(&app, &slug, &hs256(&secret, header.clone(), no_exp)).await;
    let mut nbf = base.clone();
    nbf["nbf"] = json!(base["iat"].as_i64().unwrap() + 3600);
    refused(&app, &slug, &hs256(&secret, header.clone(), nbf)).await;
    app.clock.advance(86400 + 120);
    refused(&app, &slug, &access).await;
}

#[tokio::test]
async fn row31_wrong_issuer_or_audience_is_refused() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (access, _) = tokens(&app, &slug).await;
    let (kid, secret) = secret_of(&app, &slug).await;
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
    for (k, v) in [("iss", "someone-else"), ("aud", "another-client")] {
        let mut c = claims_of(&access);
        c[k] = json!(v);
        refused(&app, &slug, &hs256(&secret, header.clone(), c)).await;
    }
}

#[tokio::test]
async fn row33_odd_kids_are_refused_without_a_500() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (access, _) = tokens(&app, &slug).await;
    let (_, secret) = secret_of(&app, &slug).await;
    for kid in ["../../dev/null", "' OR 1=1--", "unknown"] {
        refused(&app, &slug, &hs256(&secret, json!({"alg": "HS256", "typ": "JWT", "kid": kid}), claims_of(&access))).await;
    }
}

#[tokio::test]
async fn row43_another_users_session_cannot_be_revoked() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    create_user(&app, &slug, "other@example.com").await;
    let (mine, _) = tokens(&app, &slug).await;
    let (_, b) = login(&app, &slug, "other@example.com", PASSWORD).await;
    let theirs = b["data"]["tokens"]["accessToken"].as_str().unwrap().to_string();
    let their_sid = claims_of(&theirs)["sid"].as_str().unwrap().to_string();
    let (s, b) = app.kora(Method::DELETE, &format!("/api/v1/auth/sessions/{their_sid}"), &slug, Some(&mine), None).await;
    assert_error(s, &b, 404, "NOT_FOUND");
    let (s, _) = app.kora(Method::GET, "/api/v1/auth/sessions", &slug, Some(&theirs), None).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn row45_disabling_or_deleting_a_user_kills_their_sessions_at_once() {
    let app = spawn_app().await;
    let (slug, uid) = kora_tenant(&app).await;
    let (access, refresh) = tokens(&app, &slug).await;
    let (s, _) = app.admin(Method::PATCH, &format!("/tenants/{slug}/users/{uid}"), Some(json!({"active": false}))).await;
    assert_eq!(s, 200);
    refused(&app, &slug, &access).await;
    let (s, _) = app.kora(Method::POST, "/api/v1/auth/refresh", &slug, None, Some(json!({"refreshToken": refresh}))).await;
    assert_eq!(s, 401);
    let other = create_user(&app, &slug, "del@example.com").await;
    let (_, b) = login(&app, &slug, "del@example.com", PASSWORD).await;
    let token = b["data"]["tokens"]["accessToken"].as_str().unwrap().to_string();
    let (s, _) = app.admin(Method::DELETE, &format!("/tenants/{slug}/users/{other}"), None).await;
    assert_eq!(s, 204);
    refused(&app, &slug, &token).await;
}

#[tokio::test]
async fn row47_a_reset_token_works_once_even_when_fifty_requests_use_it_at_once() {
    let app = castellan_testkit::spawn_app_with(castellan_testkit::TestOptions { smtp: true, ..Default::default() }).await;
    let (slug, _) = kora_tenant(&app).await;
    app.kora(Method::POST, "/api/v1/registration/forgot-password", &slug, None, Some(json!({"email": "user@example.com"}))).await;
    let mail = app.smtp.as_ref().unwrap().wait_for("user@example.com", 1).await;
    let token = crate::korastratum::link_token(&mail.body(), "reset-password?token=");
    let password = |i: usize| format!("Concurrent!{i}Pass");
    let calls = (0..50).map(|i| {
        let rb = app
            .request(Method::POST, "/api/v1/registration/reset-password")
            .header("X-Tenant-ID", slug.clone())
            .json(&json!({"token": token, "newPassword": password(i)}));
        castellan_testkit::send(rb)
    });
    let results = futures_join_all(calls).await;
    let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i].0 == 200).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (s, b) in results.iter().filter(|(s, _)| *s != 200) {
        assert_error(*s, b, 400, "INVALID_RESET_TOKEN");
    }
    // The password set is the winner's: no loser wrote its own after the token was spent.
    let loser = (winners[0] + 1) % results.len();
    let (s, _) = login(&app, &slug, "user@example.com", &password(loser)).await;
    assert_eq!(s, 401);
    let (s, b) = login(&app, &slug, "user@example.com", &password(winners[0])).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn row49_a_forged_host_header_does_not_change_the_mailed_link() {
    let app = castellan_testkit::spawn_app_with(castellan_testkit::TestOptions { smtp: true, ..Default::default() }).await;
    let (slug, _) = kora_tenant(&app).await;
    let r = app
        .request(Method::POST, "/api/v1/registration/forgot-password")
        .header("X-Tenant-ID", &slug)
        .header("Host", "evil.example")
        .header("X-Forwarded-Host", "evil.example")
        .json(&json!({"email": "user@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mail = app.smtp.as_ref().unwrap().wait_for("user@example.com", 1).await;
    let body = mail.body();
    assert!(body.contains(&app.address) && !body.contains("evil"), "{body}");
}

#[tokio::test]
async fn row66_same_email_in_two_tenants_stays_apart() {
    let app = spawn_app().await;
    let (a, _) = kora_tenant(&app).await;
    let (b, _) = kora_tenant(&app).await;
    let (_, refresh_a) = tokens(&app, &a).await;
    let (s, body) = app.kora(Method::POST, "/api/v1/auth/refresh", &b, None, Some(json!({"refreshToken": refresh_a}))).await;
    assert_error(s, &body, 401, "INVALID_REFRESH_TOKEN");
    let (s, _) = app.kora(Method::POST, "/api/v1/auth/refresh", &a, None, Some(json!({"refreshToken": refresh_a}))).await;
    assert_eq!(s, 200, "the refresh token of A still works at A");
}

#[tokio::test]
async fn row68_injection_strings_get_a_generic_answer() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    for id in ["' OR '1'='1", "admin'--", "x@y.z' OR 1=1--"] {
        let (s, b) = login(&app, &slug, id, "whatever").await;
        assert_error(s, &b, 401, "INVALID_CREDENTIALS");
    }
    let (s, b) = login(&app, "' OR '1'='1", "a@b.co", "x").await;
    assert_error(s, &b, 404, "TENANT_NOT_FOUND");
    let (s, _) = app.admin(Method::GET, &format!("/tenants/{slug}/users?email=%27%20OR%20%271%27%3D%271"), None).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn row69_a_user_token_on_the_admin_api_is_forbidden_and_logins_are_audited() {
    let app = spawn_app().await;
    let (slug, uid) = kora_tenant(&app).await;
    let (access, _) = tokens(&app, &slug).await;
    let r = app.request(Method::GET, "/admin/v1/tenants").bearer_auth(&access).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = app.request(Method::GET, "/admin/v1/tenants").send().await.unwrap();
    assert_eq!(r.status(), 401);
    login(&app, &slug, "user@example.com", "Wrong-pass1!").await;
    let (s, events) = app.admin(Method::GET, &format!("/tenants/{slug}/audit?user_id={uid}&action=login.password"), None).await;
    assert_eq!(s, 200);
    let outcomes: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, vec!["failure", "success"]);
    assert_eq!(events[0]["ip"], "127.0.0.1");
}

#[tokio::test]
async fn row70_there_is_no_default_admin_credential() {
    let app = spawn_app().await;
    for token in ["admin", "password", "changeme", ""] {
        let r = app.request(Method::GET, "/admin/v1/tenants").bearer_auth(token).send().await.unwrap();
        assert_eq!(r.status(), 401, "{token}");
    }
}

fn sid_of(token: &str) -> String {
    let payload = URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap();
    serde_json::from_slice::<serde_json::Value>(&payload).unwrap()["sid"].as_str().unwrap().to_string()
}

async fn session_count(app: &castellan_testkit::TestApp, slug: &str, access: &str) -> usize {
    let (s, b) = app.kora(Method::GET, "/api/v1/auth/sessions", slug, Some(access), None).await;
    assert_eq!(s, 200, "{b}");
    b["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn row24_a_login_waiting_for_its_second_factor_opens_nothing() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (access, _) = tokens(&app, &slug).await;
    enable_totp(&app, &slug, &access).await;
    let before = session_count(&app, &slug, &access).await;
    app.clock.advance(30);
    let (s, b) = login(&app, &slug, "user@example.com", PASSWORD).await;
    assert_eq!((s, &b["data"]["mfaRequired"]), (200, &json!(true)), "{b}");
    let mfa = b["data"]["mfaToken"].as_str().unwrap();
    // The pending login's token is neither an access token nor a refresh token, and opened no session.
    refused(&app, &slug, mfa).await;
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/refresh", &slug, None, Some(json!({"refreshToken": mfa}))).await;
    assert_error(s, &b, 401, "INVALID_REFRESH_TOKEN");
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/2fa/status", &slug, Some(mfa), None).await;
    assert_error(s, &b, 401, "UNAUTHORIZED");
    assert_eq!(session_count(&app, &slug, &access).await, before);
}

#[tokio::test]
async fn row44_every_login_and_every_second_factor_completion_gets_a_new_session_id() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (first, _) = tokens(&app, &slug).await;
    let (second, refresh) = tokens(&app, &slug).await;
    assert_ne!(sid_of(&first), sid_of(&second));
    let secret = enable_totp(&app, &slug, &second).await;
    app.clock.advance(30);
    let (_, b) = login(&app, &slug, "user@example.com", PASSWORD).await;
    let mfa = b["data"]["mfaToken"].as_str().unwrap().to_string();
    let body = json!({"mfaToken": mfa, "token": code(&app, &secret, 0)});
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/2fa/verify-login", &slug, None, Some(body)).await;
    assert_eq!(s, 200, "{b}");
    let third = b["data"]["tokens"]["accessToken"].as_str().unwrap();
    assert!(![sid_of(&first), sid_of(&second)].contains(&sid_of(third)), "2FA completion opened a session of its own");
    // A refresh continues its session rather than starting one.
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/refresh", &slug, None, Some(json!({"refreshToken": refresh}))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(sid_of(b["data"]["tokens"]["accessToken"].as_str().unwrap()), sid_of(&second));
}
