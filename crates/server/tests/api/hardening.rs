//! Hardening: each test pins a defect a new user or an attacker would otherwise meet.

use castellan_core::crypto::totp;
use castellan_testkit::{HttpSink, TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

use crate::eauthenticator::{HostedApp, REDIRECT, SECRET, api, enable, hex_hmac, page_query, session_token, submit, totp_code};

async fn eauth_tenant(app: &TestApp) -> String {
    let slug = format!("portal-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let (s, b) = app
        .admin(Method::POST, "/tenants", Some(json!({"slug": slug, "display_name": "Portal", "profile": "eauthenticator"})))
        .await;
    assert_eq!(s, 201, "{b}");
    slug
}

/// An application made through the admin API, with an API key.
async fn admin_hosted_app(app: &TestApp, tenant: &str, body: Value) -> (Value, String) {
    let (s, created) = app.admin(Method::POST, &format!("/tenants/{tenant}/applications"), Some(body)).await;
    assert_eq!(s, 201, "{created}");
    let client_id = created["client_id"].as_str().unwrap().to_string();
    let (s, key) = app.admin(Method::POST, &format!("/tenants/{tenant}/applications/{client_id}/api-keys"), None).await;
    assert_eq!(s, 201, "{key}");
    (created, key["api_key"].as_str().unwrap().to_string())
}

/// Runs a hosted sign-in to its end; returns the callback's query and signature header.
async fn sign_in_through_the_hosted_page(app: &TestApp, h: &HostedApp, sink: &HttpSink) -> (String, String) {
    let (s, b) = enable(app, h, "jane@example.com", SECRET, "SHA1", 6).await;
    assert_eq!(s, 200, "{b}");
    let token = session_token(app, h, "jane@example.com").await;
    let q = page_query("redirect", &token, REDIRECT, None);
    let code = totp_code(app, SECRET, totp::TotpAlgorithm::Sha1, 6);
    let (s, headers, html) = submit(app, "verify", &q, Some(&code)).await;
    assert_eq!(s, 302, "{html}");
    assert_eq!(headers["location"].to_str().unwrap(), format!("{REDIRECT}?session_token={token}"));
    let calls = sink.requests();
    let last = calls.last().expect("a callback");
    (last.query.clone().unwrap(), last.header("x-castellan-signature").unwrap().to_string())
}

fn signature_matches(secret: &str, query: &str, header: &str) -> bool {
    let (t, v1) = header.split_once(',').unwrap();
    let t = t.strip_prefix("t=").unwrap();
    v1.strip_prefix("v1=").unwrap() == hex_hmac(secret.as_bytes(), &format!("{t}.{query}"))
}

#[tokio::test]
async fn an_application_made_through_the_admin_api_completes_a_hosted_sign_in_with_its_callback_secret() {
    let app = spawn_app().await;
    let sink = HttpSink::start(200, "{}").await;
    let tenant = eauth_tenant(&app).await;
    let body = json!({"name": "Admin Portal", "kind": "public", "allowed_ips": ["127.0.0.1", "::1"],
        "callback_url": format!("{}/2fa/callback", sink.url), "redirect_uris": [REDIRECT]});
    let (created, api_key) = admin_hosted_app(&app, &tenant, body).await;
    let secret = created["callback_secret"].as_str().expect("callback_secret shown once").to_string();
    let client_id = created["client_id"].as_str().unwrap().to_string();
    let (_, shown) = app.admin(Method::GET, &format!("/tenants/{tenant}/applications/{client_id}"), None).await;
    assert!(shown.get("callback_secret").is_none(), "{shown}");
    let h = HostedApp {
        id: String::new(),
        client_id: client_id.clone(),
        api_key,
        callback_secret: secret.clone(),
        console: String::new(),
    };
    let (query, sig) = sign_in_through_the_hosted_page(&app, &h, &sink).await;
    assert!(signature_matches(&secret, &query, &sig), "signed with the secret as shown");

    // Rotation: the new secret signs, the old one no longer does.
    let (s, b) = app.admin(Method::POST, &format!("/tenants/{tenant}/applications/{client_id}/callback-secret"), None).await;
    assert_eq!(s, 200, "{b}");
    let rotated = b["callback_secret"].as_str().unwrap().to_string();
    assert_ne!(rotated, secret);
    let (query, sig) = sign_in_through_the_hosted_page(&app, &h, &sink).await;
    assert!(signature_matches(&rotated, &query, &sig) && !signature_matches(&secret, &query, &sig));
}

#[tokio::test]
async fn a_patch_that_adds_a_callback_url_makes_a_callback_secret_and_every_field_is_checked() {
    let app = spawn_app().await;
    let sink = HttpSink::start(200, "{}").await;
    let tenant = eauth_tenant(&app).await;
    let body =
        json!({"name": "Later Portal", "kind": "public", "allowed_ips": ["127.0.0.1", "::1"], "redirect_uris": [REDIRECT]});
    let (created, api_key) = admin_hosted_app(&app, &tenant, body).await;
    assert!(created.get("callback_secret").is_none(), "no callback URL, no secret: {created}");
    let client_id = created["client_id"].as_str().unwrap().to_string();
    let path = format!("/tenants/{tenant}/applications/{client_id}");
    let (s, b) = app.admin(Method::POST, &format!("{path}/callback-secret"), None).await;
    assert_eq!(s, 400, "no callback URL to sign for: {b}");

    // Bad fields are refused by the PATCH as they are by the console, and nothing changes.
    for bad in [
        json!({"callback_url": "ftp://example.com/cb"}),
        json!({"callback_url": "not a url"}),
        json!({"allowed_ips": ["10.0.0.0/33"]}),
        json!({"allowed_ips": ["example.com"]}),
        json!({"redirect_uris": ["javascript:alert(1)"]}),
        json!({"redirect_uris": ["https://example.com/done#frag"]}),
        json!({"name": ""}),
    ] {
        let (s, b) = app.admin(Method::PATCH, &path, Some(bad.clone())).await;
        assert_eq!(s, 400, "{bad} → {b}");
        assert_eq!(b["error"]["code"], "invalid_request", "{b}");
    }
    let (_, now) = app.admin(Method::GET, &path, None).await;
    assert_eq!(now["allowed_ips"], json!(["127.0.0.1", "::1"]));
    assert_eq!(now["callback_url"], Value::Null);

    let (s, b) = app.admin(Method::PATCH, &path, Some(json!({"callback_url": format!("{}/cb", sink.url)}))).await;
    assert_eq!(s, 200, "{b}");
    let secret = b["callback_secret"].as_str().expect("the first callback URL brings a secret").to_string();
    let (s, b) = app.admin(Method::PATCH, &path, Some(json!({"name": "Renamed"}))).await;
    assert_eq!(s, 200, "{b}");
    assert!(b.get("callback_secret").is_none(), "a later PATCH keeps the secret: {b}");
    let h = HostedApp { id: String::new(), client_id, api_key, callback_secret: secret.clone(), console: String::new() };
    let (query, sig) = sign_in_through_the_hosted_page(&app, &h, &sink).await;
    assert!(signature_matches(&secret, &query, &sig));
}

#[tokio::test]
async fn admin_created_callback_urls_follow_the_private_address_rule() {
    let app = castellan_testkit::spawn_app_with(castellan_testkit::TestOptions {
        settings: Some(Box::new(|s| s.allow_private_callbacks = Some(false))),
        ..Default::default()
    })
    .await;
    let tenant = eauth_tenant(&app).await;
    for url in ["http://93.184.216.34/cb", "https://127.0.0.1/cb", "https://10.1.2.3/cb", "https://localhost/cb"] {
        let body = json!({"name": "P", "kind": "public", "callback_url": url});
        let (s, b) = app.admin(Method::POST, &format!("/tenants/{tenant}/applications"), Some(body)).await;
        assert_eq!(s, 400, "{url} → {b}");
        assert!(b["error"]["message"].as_str().unwrap().contains("callback_url"), "{b}");
    }
    let (s, b) = app.admin(Method::GET, &format!("/tenants/{tenant}/applications"), None).await;
    assert_eq!((s, b), (200, json!([])), "nothing stored");
    let _ = api;
}

/// A korastratum tenant whose user has TOTP on, the clock past the enrolment code's step;
/// returns (slug, user id, TOTP secret).
async fn totp_user(app: &TestApp) -> (String, String, String) {
    use crate::helpers::{enable_totp, kora_tenant, tokens};
    let (slug, uid) = kora_tenant(app).await;
    let (access, _) = tokens(app, &slug).await;
    let secret = enable_totp(app, &slug, &access).await;
    app.clock.advance(30);
    (slug, uid, secret)
}

async fn audit_count(app: &TestApp, tenant: &str, user: &str, action: &str) -> Vec<Value> {
    let (s, events) =
        app.admin(Method::GET, &format!("/tenants/{tenant}/audit?user_id={user}&action={action}&limit=500"), None).await;
    assert_eq!(s, 200, "{events}");
    events.as_array().unwrap().clone()
}

#[tokio::test]
async fn every_verify_login_attempt_is_audited_and_a_lock_said_in_a_race_stays() {
    use crate::helpers::{PASSWORD, code, login};
    let app = spawn_app().await;
    let (slug, uid, secret) = totp_user(&app).await;
    let (s, b) = login(&app, &slug, "user@example.com", PASSWORD).await;
    assert_eq!(s, 200, "{b}");
    let mfa = b["data"]["mfaToken"].as_str().unwrap().to_string();
    let before = audit_count(&app, &slug, &uid, "login.totp").await.len();

    // 30 at once, one token, the right code.
    let body = json!({"mfaToken": mfa, "token": code(&app, &secret, 0)});
    let calls = (0..30).map(|_| app.kora(Method::POST, "/api/v1/auth/2fa/verify-login", &slug, None, Some(body.clone())));
    let answers = crate::helpers::join_all(calls.collect()).await;
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert!(statuses.iter().filter(|s| **s == 200).count() <= 1, "{statuses:?}");
    let events = audit_count(&app, &slug, &uid, "login.totp").await;
    assert_eq!(events.len() - before, 30, "one event per attempt: {statuses:?}");

    // Refused attempts on the spent token are events too.
    for _ in 0..3 {
        let (s, _) = app.kora(Method::POST, "/api/v1/auth/2fa/verify-login", &slug, None, Some(body.clone())).await;
        assert_ne!(s, 200);
    }
    assert_eq!(audit_count(&app, &slug, &uid, "login.totp").await.len() - before, 33);

    // If the race locked the account, it is still locked: the right password is refused as locked.
    if statuses.contains(&423) {
        let (s, b) = login(&app, &slug, "user@example.com", PASSWORD).await;
        assert_eq!(s, 423, "a locked account stays locked: {b}");
    }
}

#[tokio::test]
async fn a_lock_from_wrong_passwords_refuses_the_right_code_on_a_token_issued_before() {
    use crate::helpers::{PASSWORD, code, login};
    let app = spawn_app().await;
    let (slug, _, secret) = totp_user(&app).await;
    let (_, b) = login(&app, &slug, "user@example.com", PASSWORD).await;
    let mfa = b["data"]["mfaToken"].as_str().unwrap().to_string();
    // Wrong passwords up to the threshold lock the account...
    let mut last = 0;
    for _ in 0..20 {
        let (s, _) = login(&app, &slug, "user@example.com", "wrong-Password-1!").await;
        last = s;
        if s == 423 {
            break;
        }
    }
    assert_eq!(last, 423);
    // ...and neither a right code on a token issued before nor the right password lifts it.
    let body = json!({"mfaToken": mfa, "token": code(&app, &secret, 0)});
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/2fa/verify-login", &slug, None, Some(body)).await;
    assert_eq!(s, 423, "{b}");
    let (s, b) = login(&app, &slug, "user@example.com", PASSWORD).await;
    assert_eq!(s, 423, "{b}");
}

#[tokio::test]
async fn the_dev_callback_receiver_checks_signatures_and_exists_only_in_development_mode() {
    let app = spawn_app().await;
    let sink = HttpSink::start(200, "{}").await;
    let tenant = eauth_tenant(&app).await;
    let receiver = format!("{}/dev/callback-receiver", app.address);
    let body = json!({"name": "Receiver Portal", "kind": "public", "allowed_ips": ["127.0.0.1", "::1"],
        "callback_url": receiver, "redirect_uris": [REDIRECT]});
    let (created, api_key) = admin_hosted_app(&app, &tenant, body).await;
    let secret = created["callback_secret"].as_str().unwrap().to_string();
    let h = HostedApp {
        id: String::new(),
        client_id: created["client_id"].as_str().unwrap().to_string(),
        api_key,
        callback_secret: secret.clone(),
        console: String::new(),
    };
    let (s, b) = enable(&app, &h, "jane@example.com", SECRET, "SHA1", 6).await;
    assert_eq!(s, 200, "{b}");
    let token = session_token(&app, &h, "jane@example.com").await;
    let query = format!("result=true&session_token={token}");
    let t = 1_700_000_000;
    let good = format!("t={t},v1={}", hex_hmac(secret.as_bytes(), &format!("{t}.{query}")));
    let bad = format!("t={t},v1={}", hex_hmac(b"not the secret", &format!("{t}.{query}")));
    let get = |sig: Option<String>, q: String| {
        let mut rb = app.client.get(format!("{receiver}?{q}"));
        if let Some(s) = sig {
            rb = rb.header("X-Castellan-Signature", s);
        }
        castellan_testkit::send(rb)
    };
    assert_eq!(get(Some(good), query.clone()).await.0, 200);
    assert_eq!(get(Some(bad), query.clone()).await.0, 401);
    assert_eq!(get(None, query.clone()).await.0, 401);
    assert_eq!(get(None, "result=true".into()).await.0, 400);
    let (s, list) = app.admin(Method::GET, "/outbox?to=callback-receiver", None).await;
    assert_eq!(s, 200, "{list}");
    let subjects: Vec<&str> = list.as_array().unwrap().iter().map(|m| m["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects.iter().filter(|s| s.ends_with("signature valid")).count(), 1, "{subjects:?}");
    assert_eq!(subjects.iter().filter(|s| s.ends_with("signature INVALID")).count(), 2, "{subjects:?}");
    drop(sink);

    let prod = castellan_testkit::spawn_app_with(castellan_testkit::TestOptions {
        settings: Some(Box::new(|s| s.dev = false)),
        ..Default::default()
    })
    .await;
    let r = prod.client.get(format!("{}/dev/callback-receiver?{query}", prod.address)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

/// Every answer of these is in its surface's own shape: JSON envelope or HTML page, never
/// axum's plain-text rejections.
#[tokio::test]
async fn unreadable_paths_queries_and_forms_are_answered_in_the_surfaces_own_shape() {
    let app = spawn_app().await;
    let get = |path: String| {
        let rb = app.client.get(format!("{}{path}", app.address)).bearer_auth(&app.admin_token);
        async move {
            let r = rb.send().await.unwrap();
            let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
            (r.status().as_u16(), ct, r.text().await.unwrap())
        }
    };
    for path in
        ["/admin/v1/outbox?limit=AAA", "/admin/v1/tenants/default/audit?since=9223372036854775808", "/dev/outbox?to=a&to=b"]
    {
        let (s, ct, body) = get(path.to_string()).await;
        assert_eq!((s, ct.as_str()), (400, "application/json"), "{path}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["code"], "invalid_request", "{path}: {body}");
    }
    let (s, ct, body) = get("/admin/v1/tenants/default/users?limit=AAA".into()).await;
    assert_eq!((s, ct.as_str()), (400, "application/json"), "{body}");

    // The console API: a non-UUID id after the sign-in check, in the console's JSON shape.
    let console = crate::eauthenticator::console_account(&app, "shape@example.com").await;
    for (method, path) in [
        (Method::GET, "/console/api/applications/null%2Cnull"),
        (Method::POST, "/console/api/applications/false/activate"),
        (Method::GET, "/console/api/applications/1/verifications"),
    ] {
        let (s, b) = castellan_testkit::send(app.request(method.clone(), path).bearer_auth(&console)).await;
        assert_eq!((s, &b["error"]["code"]), (400, &json!("invalid_request")), "{path}: {b}");
        let (s, b) = castellan_testkit::send(app.request(method, path)).await;
        assert_eq!((s, &b["error"]["code"]), (401, &json!("unauthorized")), "not signed in comes first: {path}: {b}");
    }

    // Pages: a JSON body is a 415 page, a repeated field a 400 page, not text.
    for (path, ct, body, want) in [
        ("/console/sign-in", "application/json", r#"{"email":"a@example.com"}"#, 415),
        ("/console/register", "text/plain", "email=a@example.com", 415),
        ("/start-authentication/verify", "application/x-www-form-urlencoded", "code=&code=1", 400),
        ("/start-authentication/reject", "application/json", "{}", 415),
    ] {
        let r = app
            .request(Method::POST, path)
            .header("content-type", ct)
            .header("origin", app.address.clone())
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let got = r.headers()["content-type"].to_str().unwrap().to_string();
        assert_eq!((status, got.starts_with("text/html")), (want, true), "{path} ({ct}): {got}");
    }
    let r = app.request(Method::GET, "/start-authentication?signin_method=a&signin_method=b").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
}

/// A callback URL this server refuses to call (here: made private behind the admin API's back,
/// as a configuration change would) fails the verification at its first try instead of being
/// retried for the whole window.
#[tokio::test]
async fn a_callback_the_server_refuses_to_send_fails_at_once_and_says_why() {
    let app = castellan_testkit::spawn_app_with(castellan_testkit::TestOptions {
        settings: Some(Box::new(|s| s.allow_private_callbacks = Some(false))),
        ..Default::default()
    })
    .await;
    let tenant = eauth_tenant(&app).await;
    let body = json!({"name": "P", "kind": "public", "allowed_ips": ["127.0.0.1", "::1"], "redirect_uris": [REDIRECT]});
    let (created, api_key) = admin_hosted_app(&app, &tenant, body).await;
    let t = app.core.tenants().find_tenant(&tenant).await.unwrap();
    let client_id = created["client_id"].as_str().unwrap().to_string();
    let mut stored = app.core.applications().get_application(&t, &client_id).await.unwrap();
    stored.callback_url = Some("http://127.0.0.1:9/cb".into());
    app.core.applications().save_application(&stored).await.unwrap();
    let secret = app.core.hosted_apps().rotate_callback_secret(&t, &stored).await.unwrap();
    let h = HostedApp { id: String::new(), client_id, api_key, callback_secret: secret, console: String::new() };
    let (s, b) = enable(&app, &h, "jane@example.com", SECRET, "SHA1", 6).await;
    assert_eq!(s, 200, "{b}");
    let token = session_token(&app, &h, "jane@example.com").await;
    let q = page_query("redirect", &token, REDIRECT, None);
    let (_, headers, html) = submit(&app, "verify", &q, Some(&totp_code(&app, SECRET, totp::TotpAlgorithm::Sha1, 6))).await;
    let location = headers.get("location").map(|l| l.to_str().unwrap().to_string()).unwrap_or_default();
    assert!(html.contains("INTERNAL_SERVER_ERROR") || location.contains("INTERNAL_SERVER_ERROR"), "{location} {html}");
    let (_, events) = app.admin(Method::GET, &format!("/tenants/{tenant}/audit?action=hosted.callback"), None).await;
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 1, "one try, not retried: {events:?}");
    assert_eq!(events[0]["outcome"], "failed");
    assert!(events[0]["detail"]["error"].as_str().unwrap().contains("not https to a public address"), "{events:?}");
}

async fn lockout_threshold(app: &TestApp, tenant: &str) -> u32 {
    let (s, p) = app.admin(Method::GET, &format!("/tenants/{tenant}/policy"), None).await;
    assert_eq!(s, 200, "{p}");
    p["lockout"]["threshold"].as_u64().unwrap() as u32
}

#[tokio::test]
async fn wrong_second_factor_codes_lock_even_when_the_password_is_given_again_between_them() {
    use crate::helpers::{PASSWORD, code, login};
    let app = spawn_app().await;
    let (slug, uid, secret) = totp_user(&app).await;
    let threshold = lockout_threshold(&app, &slug).await;
    let wrong = if code(&app, &secret, 0) == "000000" { "111111" } else { "000000" };
    let mut statuses = Vec::new();
    for _ in 0..threshold {
        // A fresh mfaToken each time: the right password, then a wrong code.
        let (s, b) = login(&app, &slug, "user@example.com", PASSWORD).await;
        assert_eq!(s, 200, "the password alone is right and the codes are not yet locked: {b}");
        let mfa = b["data"]["mfaToken"].as_str().unwrap().to_string();
        let (s, _) = app
            .kora(Method::POST, "/api/v1/auth/2fa/verify-login", &slug, None, Some(json!({"mfaToken": mfa, "token": wrong})))
            .await;
        statuses.push(s);
    }
    assert_eq!(statuses.last(), Some(&423), "the codes' counter locks at the threshold: {statuses:?}");
    // Now the account is locked on every path: the password login, whether right or wrong...
    let (s, b) = login(&app, &slug, "user@example.com", PASSWORD).await;
    assert_eq!(s, 423, "{b}");
    let (s, b) = login(&app, &slug, "user@example.com", "Wrong-Password-1!").await;
    assert_eq!(s, 423, "the same answer for a wrong password: {b}");
    // ...until an admin unlocks it.
    let (s, b) = app.admin(Method::POST, &format!("/tenants/{slug}/users/{uid}/unlock"), None).await;
    assert!(s == 200 || s == 204, "{b}");
    let (_, b) = login(&app, &slug, "user@example.com", PASSWORD).await;
    let mfa = b["data"]["mfaToken"].as_str().unwrap().to_string();
    let body = json!({"mfaToken": mfa, "token": code(&app, &secret, 0)});
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/2fa/verify-login", &slug, None, Some(body)).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn the_one_shot_totp_login_counts_wrong_codes_apart_from_the_password() {
    use crate::helpers::{PASSWORD, code};
    let app = spawn_app().await;
    let (slug, _, secret) = totp_user(&app).await;
    let threshold = lockout_threshold(&app, &slug).await;
    let wrong = if code(&app, &secret, 0) == "000000" { "111111" } else { "000000" };
    let mut last = 0;
    for _ in 0..threshold {
        let body = json!({"email": "user@example.com", "password": PASSWORD, "totpCode": wrong});
        last = app.kora(Method::POST, "/api/v1/auth/login", &slug, None, Some(body)).await.0;
    }
    assert_eq!(last, 423);
    let one_shot = json!({"email": "user@example.com", "password": PASSWORD, "totpCode": code(&app, &secret, 0)});
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/login", &slug, None, Some(one_shot)).await;
    assert_eq!(s, 423, "{b}");
}

#[tokio::test]
async fn wrong_passwords_short_of_the_threshold_then_the_right_one_sign_in() {
    use crate::helpers::{PASSWORD, kora_tenant, login};
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let threshold = lockout_threshold(&app, &slug).await;
    for _ in 0..threshold - 1 {
        let (s, b) = login(&app, &slug, "user@example.com", "Wrong-Password-1!").await;
        assert_eq!(s, 401, "{b}");
    }
    let (s, b) = login(&app, &slug, "user@example.com", PASSWORD).await;
    assert_eq!(s, 200, "the N-th attempt, right, signs in: {b}");
    // And the counter starts again from zero.
    for _ in 0..threshold - 1 {
        let (s, _) = login(&app, &slug, "user@example.com", "Wrong-Password-1!").await;
        assert_eq!(s, 401);
    }
    let (s, b) = login(&app, &slug, "user@example.com", PASSWORD).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn an_application_alias_changed_through_the_admin_api_moves_with_it_and_stays_unique() {
    use crate::helpers::{KUMU_PASSWORD, assert_kumu, kumu_app, kumu_login, kumu_tenant};
    let app = spawn_app().await;
    let (slug, tag, _) = kumu_tenant(&app).await;
    let (_, apps) = app.admin(Method::GET, &format!("/tenants/{slug}/applications"), None).await;
    let client_id = apps[0]["client_id"].as_str().unwrap().to_string();
    let path = format!("/tenants/{slug}/applications/{client_id}");
    // Renamed: the new tag signs in, the old one names nothing.
    let renamed = format!("{tag}_NEW");
    let (s, b) = app.admin(Method::PATCH, &path, Some(json!({"kumusoft_tag": renamed}))).await;
    assert_eq!((s, b["kumusoft_tag"].as_str()), (200, Some(renamed.as_str())), "{b}");
    let (s, b) = kumu_login(&app, "user_8742", KUMU_PASSWORD, &renamed).await;
    assert_kumu(s, &b, 200, "00");
    let (s, b) = kumu_login(&app, "user_8742", KUMU_PASSWORD, &tag).await;
    assert_kumu(s, &b, 403, "06");
    // Another application cannot take it, and the refusal names the field.
    kumu_app(&app, &slug, &tag).await;
    let (_, apps) = app.admin(Method::GET, &format!("/tenants/{slug}/applications"), None).await;
    let other = apps.as_array().unwrap().iter().find(|a| a["kumusoft_tag"] == json!(tag)).unwrap()["client_id"].clone();
    let (s, b) = app
        .admin(
            Method::PATCH,
            &format!("/tenants/{slug}/applications/{}", other.as_str().unwrap()),
            Some(json!({"kumusoft_tag": renamed})),
        )
        .await;
    assert_eq!(s, 409, "{b}");
    assert!(b.to_string().contains("kumusoft_tag"), "{b}");
    // Emptied: the application has no tag any more, and the tag signs in nowhere.
    let (s, b) = app.admin(Method::PATCH, &path, Some(json!({"kumusoft_tag": ""}))).await;
    assert_eq!((s, &b["kumusoft_tag"]), (200, &Value::Null), "{b}");
    let (s, b) = kumu_login(&app, "user_8742", KUMU_PASSWORD, &renamed).await;
    assert_kumu(s, &b, 403, "06");
}
