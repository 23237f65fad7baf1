//! eauthenticator: the REST API, the hosted page (over plain HTTP; the browser suite drives it in
//! Chromium), result callbacks and the console's JSON operations.

use std::time::Duration;

use castellan_core::clock::Clock;
use castellan_core::crypto::{base32, totp};
use castellan_testkit::{HttpSink, TestApp, TestOptions, spawn_app, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::outbox_message;

const CONSOLE_PASSWORD: &str = "console-pass-123";
/// 160 bits, Base32.
pub(crate) const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
pub(crate) const REDIRECT: &str = "https://portal.example.com/2fa/done";

async fn call(app: &TestApp, method: Method, path: &str, bearer: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let mut rb = app.request(method, path);
    if let Some(t) = bearer {
        rb = rb.bearer_auth(t);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    castellan_testkit::send(rb).await
}

/// A verified, signed-in console account; returns its bearer token.
pub async fn console_account(app: &TestApp, email: &str) -> String {
    let (s, b) =
        call(app, Method::POST, "/console/api/register", None, Some(json!({"email": email, "password": CONSOLE_PASSWORD}))).await;
    assert_eq!(s, 202, "{b}");
    let mail = outbox_message(app, email, 1).await;
    let body = mail["body"].as_str().unwrap();
    let token = body.split("token=").nth(1).unwrap().split(|c: char| c.is_whitespace()).next().unwrap();
    let (s, b) = call(app, Method::POST, "/console/api/verify-email", None, Some(json!({"token": token}))).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) =
        call(app, Method::POST, "/console/api/sign-in", None, Some(json!({"email": email, "password": CONSOLE_PASSWORD}))).await;
    assert_eq!(s, 200, "{b}");
    b["token"].as_str().unwrap().to_string()
}

/// An application of hosted 2FA.
pub struct HostedApp {
    pub id: String,
    pub client_id: String,
    pub api_key: String,
    pub callback_secret: String,
    /// The owning console account's bearer token.
    pub console: String,
}

pub async fn hosted_app(app: &TestApp, console: &str, callback_url: &str, allowed_ips: &[&str]) -> HostedApp {
    let body = json!({
        "name": "Demo Portal",
        "allowed_ips": allowed_ips,
        "callback_url": callback_url,
        "redirect_uris": [REDIRECT, "http://127.0.0.1:9/popup-landing"],
    });
    let (s, b) = call(app, Method::POST, "/console/api/applications", Some(console), Some(body)).await;
    assert_eq!(s, 201, "{b}");
    HostedApp {
        id: b["application"]["id"].as_str().unwrap().to_string(),
        client_id: b["application"]["client_id"].as_str().unwrap().to_string(),
        api_key: b["api_key"].as_str().unwrap().to_string(),
        callback_secret: b["callback_secret"].as_str().unwrap().to_string(),
        console: console.to_string(),
    }
}

pub async fn api(app: &TestApp, path: &str, key: Option<&str>, body: Value) -> (u16, Value) {
    let mut rb = app.request(Method::POST, &format!("/authen-api/api/v1{path}")).json(&body);
    if let Some(k) = key {
        rb = rb.header("X-API-Key", k);
    }
    castellan_testkit::send(rb).await
}

pub async fn enable(app: &TestApp, h: &HostedApp, email: &str, secret: &str, alg: &str, digits: u32) -> (u16, Value) {
    let body = json!({"email": email, "client_id": h.client_id, "secret": secret, "action": "ENABLE", "type": "TOTP",
        "algorithm": alg, "digits": digits, "period": 30});
    api(app, "/mfa/toggle", Some(&h.api_key), body).await
}

pub async fn session_token(app: &TestApp, h: &HostedApp, email: &str) -> String {
    let (s, b) = api(app, "/session-token", Some(&h.api_key), json!({"email": email, "client_id": h.client_id})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["code"], "SUCCESS");
    b["data"]["session_token"].as_str().unwrap().to_string()
}

pub(crate) fn totp_code(app: &TestApp, secret: &str, alg: totp::TotpAlgorithm, digits: u32) -> String {
    totp::totp(alg, &base32::decode(secret).unwrap(), app.clock.now(), 30, digits)
}

/// The hosted page's query string.
pub(crate) fn page_query(method: &str, token: &str, redirect: &str, state: Option<&str>) -> String {
    let mut q = format!("signin_method={method}&session_token={token}&redirect_uri={}", enc(redirect));
    if let Some(s) = state {
        q.push_str(&format!("&state={}", enc(s)));
    }
    q
}

fn enc(s: &str) -> String {
    totp::pct(s)
}

async fn page(app: &TestApp, query: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = app.request(Method::GET, &format!("/start-authentication?{query}")).send().await.unwrap();
    let (s, h) = (r.status().as_u16(), r.headers().clone());
    (s, h, r.text().await.unwrap())
}

pub(crate) async fn submit(
    app: &TestApp,
    action: &str,
    query: &str,
    code: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut form = query.to_string();
    if let Some(c) = code {
        form.push_str(&format!("&code={c}"));
    }
    let r = app
        .request(Method::POST, &format!("/start-authentication/{action}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", app.address.clone())
        .body(form)
        .send()
        .await
        .unwrap();
    let (s, h) = (r.status().as_u16(), r.headers().clone());
    (s, h, r.text().await.unwrap())
}

pub(crate) fn hex_hmac(secret: &[u8], data: &str) -> String {
    use aws_lc_rs::hmac;
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), data.as_bytes());
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A sink, an account, an application calling back to the sink, and a user with TOTP.
async fn fixture(app: &TestApp, sink: &HttpSink) -> HostedApp {
    let console = console_account(app, &format!("biz-{}@example.com", uuid::Uuid::new_v4().simple())).await;
    let h = hosted_app(app, &console, &format!("{}/2fa/callback", sink.url), &["127.0.0.1", "::1"]).await;
    let (s, b) = enable(app, &h, "jane@example.com", SECRET, "SHA1", 6).await;
    assert_eq!((s, &b), (200, &json!({"code": "SUCCESS", "message": "Success", "data": ""})));
    h
}

#[tokio::test]
async fn api_keys_are_checked_with_the_client_id_the_address_and_the_state() {
    let app = spawn_app().await;
    let sink = HttpSink::start(200, "{}").await;
    let h = fixture(&app, &sink).await;
    let body = json!({"email": "jane@example.com", "client_id": h.client_id});
    let (s, b) = api(&app, "/session-token", None, body.clone()).await;
    assert_eq!((s, b["code"].as_str()), (401, Some("UNAUTHORIZED")), "missing key: {b}");
    let (s, b) = api(&app, "/session-token", Some("cas_key_wrong"), body.clone()).await;
    assert_eq!((s, b["code"].as_str()), (401, Some("UNAUTHORIZED")), "wrong key: {b}");
    // Another application's key, even of the same account, is not this client's.
    let console = console_account(&app, "other-biz@example.com").await;
    let other = hosted_app(&app, &console, &format!("{}/cb", sink.url), &["127.0.0.1"]).await;
    let (s, b) = api(&app, "/session-token", Some(&other.api_key), body.clone()).await;
    assert_eq!((s, b["code"].as_str()), (401, Some("UNAUTHORIZED")), "other key: {b}");
    // Malformed body.
    let r = app
        .request(Method::POST, "/authen-api/api/v1/session-token")
        .header("X-API-Key", &h.api_key)
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b, json!({"code": "INVALID_REQUEST", "message": "get session token failed", "data": ""}));
    // Unknown user / no factor.
    let (s, b) =
        api(&app, "/session-token", Some(&h.api_key), json!({"email": "nobody@example.com", "client_id": h.client_id})).await;
    assert_eq!((s, b), (400, json!({"code": "INVALID_REQUEST", "message": "get session token failed", "data": ""})));
    // Inactive.
    let (s, _) =
        call(&app, Method::POST, &format!("/console/api/applications/{}/deactivate", other.id), Some(&console), None).await;
    assert_eq!(s, 200);
    let (s, b) =
        api(&app, "/session-token", Some(&other.api_key), json!({"email": "x@example.com", "client_id": other.client_id})).await;
    assert_eq!((s, b), (403, json!({"code": "INACTIVE", "message": "client not active", "data": null})));
    // Works again once active.
    let (s, _) =
        call(&app, Method::POST, &format!("/console/api/applications/{}/activate", other.id), Some(&console), None).await;
    assert_eq!(s, 200);
    let (s, b) =
        api(&app, "/session-token", Some(&other.api_key), json!({"email": "x@example.com", "client_id": other.client_id})).await;
    assert_eq!((s, b["code"].as_str()), (400, Some("INVALID_REQUEST")));
}

#[tokio::test]
async fn callers_outside_the_allow_list_are_refused_and_forwarded_for_is_believed_only_from_trusted_proxies() {
    // No trusted proxies: X-Forwarded-For is ignored.
    let app = spawn_app().await;
    let console = console_account(&app, "ips@example.com").await;
    let h = hosted_app(&app, &console, "http://127.0.0.1:9/cb", &["203.0.113.0/24", "2001:db8::/32"]).await;
    let body = json!({"email": "jane@example.com", "client_id": h.client_id});
    let (s, b) = api(&app, "/session-token", Some(&h.api_key), body.clone()).await;
    assert_eq!((s, b["code"].as_str()), (403, Some("FORBIDDEN")), "{b}");
    let rb = app
        .request(Method::POST, "/authen-api/api/v1/session-token")
        .header("X-API-Key", &h.api_key)
        .header("X-Forwarded-For", "203.0.113.9")
        .json(&body);
    let (s, b) = castellan_testkit::send(rb).await;
    assert_eq!((s, b["code"].as_str()), (403, Some("FORBIDDEN")), "spoofed X-Forwarded-For believed: {b}");

    // Behind a trusted proxy (this test's loopback), the forwarded address counts, v4 and v6.
    let proxied = spawn_app_with(TestOptions {
        settings: Some(Box::new(|s| s.trusted_proxies = vec!["127.0.0.1/32".into()])),
        ..TestOptions::default()
    })
    .await;
    let console = console_account(&proxied, "ips2@example.com").await;
    let h = hosted_app(&proxied, &console, "http://127.0.0.1:9/cb", &["203.0.113.0/24", "2001:db8::/32"]).await;
    for (xff, want) in [("203.0.113.9", 400), ("2001:db8:5::1", 400), ("198.51.100.1", 403), ("10.0.0.1, 203.0.113.9", 400)] {
        let rb = proxied
            .request(Method::POST, "/authen-api/api/v1/session-token")
            .header("X-API-Key", &h.api_key)
            .header("X-Forwarded-For", xff)
            .json(&json!({"email": "nobody@example.com", "client_id": h.client_id}));
        let (s, b) = castellan_testkit::send(rb).await;
        // 400: past the address check (the user has no factor); 403: refused at it.
        assert_eq!(s, want, "{xff}: {b}");
    }
}

#[tokio::test]
async fn toggle_checks_the_factor_and_session_tokens_carry_the_contract_claims() {
    let app = spawn_app().await;
    let sink = HttpSink::start(200, "{}").await;
    let h = fixture(&app, &sink).await;
    // 80 bits is too short; not Base32; unknown type or action.
    let (s, b) = enable(&app, &h, "short@example.com", "JBSWY3DPEHPK3PXP", "SHA1", 6).await;
    assert_eq!((s, b), (400, json!({"code": "INVALID_REQUEST", "message": "toggle failed", "data": ""})));
    let (s, _) = enable(&app, &h, "x@example.com", "not base32!", "SHA1", 6).await;
    assert_eq!(s, 400);
    let (s, _) = enable(&app, &h, "x@example.com", SECRET, "MD5", 6).await;
    assert_eq!(s, 400);
    let (s, _) = enable(&app, &h, "x@example.com", SECRET, "SHA1", 7).await;
    assert_eq!(s, 400);
    let bad_type = json!({"email": "x@example.com", "client_id": h.client_id, "secret": SECRET, "action": "ENABLE", "type": "HOTP",
        "algorithm": "SHA1", "digits": 6, "period": 30});
    assert_eq!(api(&app, "/mfa/toggle", Some(&h.api_key), bad_type).await.0, 400);
    // DISABLE of a user without a factor fails; of one with a factor succeeds, then no token.
    let disable = |email: &str| json!({"email": email, "client_id": h.client_id, "action": "DISABLE", "type": "TOTP", "algorithm": "SHA1", "digits": 6, "period": 30});
    assert_eq!(api(&app, "/mfa/toggle", Some(&h.api_key), disable("nobody@example.com")).await.0, 400);

    let token = session_token(&app, &h, "jane@example.com").await;
    let header: Value = serde_json::from_slice(&base64_url(token.split('.').next().unwrap())).unwrap();
    assert_eq!(header["alg"], "HS256");
    let claims: Value = serde_json::from_slice(&base64_url(token.split('.').nth(1).unwrap())).unwrap();
    assert_eq!(claims["email"], "jane@example.com");
    assert_eq!(claims["client_id"], h.client_id.as_str());
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 120);
    assert!(claims["jti"].is_string());

    let (s, b) = api(&app, "/mfa/toggle", Some(&h.api_key), disable("jane@example.com")).await;
    assert_eq!((s, b["code"].as_str()), (200, Some("SUCCESS")));
    let (s, _) =
        api(&app, "/session-token", Some(&h.api_key), json!({"email": "jane@example.com", "client_id": h.client_id})).await;
    assert_eq!(s, 400, "a disabled factor still gets session tokens");
}

fn base64_url(s: &str) -> Vec<u8> {
    castellan_core::crypto::b64url_decode(s).unwrap()
}

#[tokio::test]
async fn provision_returns_the_documented_otpauth_url_and_enables_nothing() {
    let app = spawn_app().await;
    let sink = HttpSink::start(200, "{}").await;
    let h = fixture(&app, &sink).await;
    let (s, b) =
        api(&app, "/mfa/provision", Some(&h.api_key), json!({"email": "new@example.com", "client_id": h.client_id})).await;
    assert_eq!((s, b["code"].as_str()), (200, Some("SUCCESS")), "{b}");
    let secret = b["data"]["secret"].as_str().unwrap();
    assert!(base32::decode(secret).unwrap().len() >= 16);
    let want = format!(
        "otpauth://totp/Demo%20Portal:new@example.com?secret={secret}&issuer=Demo%20Portal&algorithm=SHA1&digits=6&client_id={}&email=new@example.com",
        h.client_id
    );
    assert_eq!(b["data"]["otpauth_url"], want.as_str());
    assert!(b["data"]["qr_svg"].as_str().unwrap().starts_with("<svg"));
    let (s, _) =
        api(&app, "/session-token", Some(&h.api_key), json!({"email": "new@example.com", "client_id": h.client_id})).await;
    assert_eq!(s, 400, "provisioned but not enabled");
    let (s, _) = enable(&app, &h, "new@example.com", secret, "SHA1", 6).await;
    assert_eq!(s, 200);
    session_token(&app, &h, "new@example.com").await;
}

#[tokio::test]
async fn a_right_code_calls_back_signed_then_redirects_with_the_token_and_state() {
    let app = spawn_app().await;
    let sink = HttpSink::start(200, "{}").await;
    let h = fixture(&app, &sink).await;
    let token = session_token(&app, &h, "jane@example.com").await;
    let q = page_query("redirect", &token, REDIRECT, Some("st-42"));
    let (s, headers, html) = page(&app, &q).await;
    assert_eq!(s, 200);
    assert!(html.contains("Demo Portal") && html.contains("j***@example.com"), "{html}");
    assert!(!html.contains("jane@example.com"));
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(headers["cross-origin-opener-policy"], "same-origin");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(headers["strict-transport-security"].to_str().unwrap().contains("max-age="));

    let code = totp_code(&app, SECRET, totp::TotpAlgorithm::Sha1, 6);
    let (s, headers, _) = submit(&app, "verify", &q, Some(&code)).await;
    assert_eq!(s, 302);
    let location = headers["location"].to_str().unwrap();
    assert_eq!(location, format!("{REDIRECT}?session_token={token}&state=st-42"));
    // The backend heard first, signed.
    let calls = sink.requests();
    assert_eq!(calls.len(), 1, "the callback came before the redirect");
    let call = &calls[0];
    assert_eq!((call.method.as_str(), call.path.as_str()), ("GET", "/2fa/callback"));
    let query = call.query.clone().unwrap();
    assert_eq!(query, format!("result=true&session_token={token}"));
    let sig = call.header("x-castellan-signature").unwrap();
    let (t, v1) = sig.split_once(',').unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((now - t.parse::<i64>().unwrap()).abs() < 300);
    assert_eq!(v1.strip_prefix("v1=").unwrap(), hex_hmac(h.callback_secret.as_bytes(), &format!("{t}.{query}")));
    assert_ne!(v1.strip_prefix("v1=").unwrap(), hex_hmac(b"another secret", &format!("{t}.{query}")));

    // Single use: the page and the form refuse the token now.
    let (s, _, html) = page(&app, &q).await;
    assert_eq!(s, 200);
    assert!(html.contains("data-code=\"TIMEOUT\""), "{html}");
    let code = totp_code(&app, SECRET, totp::TotpAlgorithm::Sha1, 6);
    let (s, headers, html) = submit(&app, "verify", &q, Some(&code)).await;
    assert_eq!(s, 200);
    assert!(headers.get("location").is_none() && html.contains("No access"));
    assert_eq!(sink.requests().len(), 1, "no second callback");

    // The console lists it, masked.
    let (s, list) = call_console_verifications(&app, &h).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["verifications"][0]["email"], "j***@example.com");
    assert_eq!(list["verifications"][0]["ip"], "127.0.0.1");
    assert_eq!(list["verifications"][0]["result"], "succeeded");
}

async fn call_console_verifications(app: &TestApp, h: &HostedApp) -> (u16, Value) {
    call(app, Method::GET, &format!("/console/api/applications/{}/verifications", h.id), Some(&h.console), None).await
}

#[tokio::test]
async fn sha256_eight_digit_factors_verify_and_wrong_codes_run_out_after_five() {
    let app = spawn_app().await;
    let sink = HttpSink::start(200, "{}").await;
    let h = fixture(&app, &sink).await;
    let secret256 = base32::encode(b"12345678901234567890123456789012");
    let (s, b) = enable(&app, &h, "eight@example.com", &secret256, "SHA256", 8).await;
    assert_eq!(s, 200, "{b}");
    let token = session_token(&app, &h, "eight@example.com").await;
    let q = page_query("redirect", &token, REDIRECT, None);
    let (_, _, html) = page(&app, &q).await;
    assert!(html.contains("8-digit"), "{html}");
    let six = totp_code(&app, &secret256, totp::TotpAlgorithm::Sha256, 6);
    let (s, _, html) = submit(&app, "verify", &q, Some(&six)).await;
    assert_eq!(s, 200);
    assert!(html.contains("4 tries left"), "{html}");
    let code = totp_code(&app, &secret256, totp::TotpAlgorithm::Sha256, 8);
    let (s, headers, _) = submit(&app, "verify", &q, Some(&code)).await;
    assert_eq!(s, 302);
    assert_eq!(headers["location"].to_str().unwrap(), format!("{REDIRECT}?session_token={token}"));

    // Five wrong codes: REJECT, and the backend hears result=false.
    let token = session_token(&app, &h, "jane@example.com").await;
    let q = page_query("redirect", &token, REDIRECT, Some("s1"));
    for left in [4, 3, 2, 1] {
        let (_, _, html) = submit(&app, "verify", &q, Some("000000")).await;
        assert!(html.contains(&format!("{left} tr")), "{left}: {html}");
    }
    let (s, _, html) = submit(&app, "verify", &q, Some("000000")).await;
    assert_eq!(s, 200);
    assert!(html.contains("data-code=\"REJECT\""), "{html}");
    assert!(html.contains(&format!("href=\"{REDIRECT}?error=REJECT&amp;state=s1\"")), "{html}");
    let last = sink.requests().pop().unwrap();
    assert_eq!(last.query.unwrap(), format!("result=false&session_token={token}"));
    // A right code after that changes nothing.
    let code = totp_code(&app, SECRET, totp::TotpAlgorithm::Sha1, 6);
    let (_, headers, html) = submit(&app, "verify", &q, Some(&code)).await;
    assert!(headers.get("location").is_none() && html.contains("data-code=\"REJECT\""));
}

#[tokio::test]
async fn the_reject_button_and_expiry_end_the_attempt() {
    let app = spawn_app().await;
    let sink = HttpSink::start(200, "{}").await;
    let h = fixture(&app, &sink).await;
    let token = session_token(&app, &h, "jane@example.com").await;
    let q = page_query("redirect", &token, REDIRECT, None);
    let (s, _, html) = submit(&app, "reject", &q, None).await;
    assert_eq!(s, 200);
    assert!(html.contains("data-code=\"REJECT\"") && html.contains(&format!("{REDIRECT}?error=REJECT")), "{html}");
    assert_eq!(sink.wait_for(1).await[0].query.clone().unwrap(), format!("result=false&session_token={token}"));

    let token = session_token(&app, &h, "jane@example.com").await;
    let q = page_query("redirect", &token, REDIRECT, None);
    app.clock.advance(121);
    let (s, _, html) = page(&app, &q).await;
    assert_eq!(s, 200);
    assert!(html.contains("data-code=\"TIMEOUT\"") && html.contains(&format!("{REDIRECT}?error=TIMEOUT")), "{html}");
    let code = totp_code(&app, SECRET, totp::TotpAlgorithm::Sha1, 6);
    let (_, headers, html) = submit(&app, "verify", &q, Some(&code)).await;
    assert!(headers.get("location").is_none() && html.contains("data-code=\"TIMEOUT\""));
    // A forged or garbled token shows the failure UI with no way out to any URL.
    let (s, _, html) = page(&app, &page_query("redirect", "abc.def.ghi", REDIRECT, None)).await;
    assert_eq!(s, 400);
    assert!(!html.contains(REDIRECT));
}

#[tokio::test]
async fn redirect_uris_must_match_exactly_and_popups_post_only_to_the_registered_origin() {
    let app = spawn_app().await;
    let sink = HttpSink::start(200, "{}").await;
    let h = fixture(&app, &sink).await;
    let token = session_token(&app, &h, "jane@example.com").await;
    for bad in [
        "https://evil.example/2fa/done",
        "//evil.example/2fa/done",
        "https:evil.example",
        "/\\evil.example",
        "https://portal.example.com/2fa/done/../../evil",
        "https://portal.example.com/2fa/done?x=1",
        "https://portal.example.com.evil.example/2fa/done",
        "https://portal.example.com",
    ] {
        let (s, headers, html) = page(&app, &page_query("redirect", &token, bad, None)).await;
        assert_eq!(s, 400, "{bad}");
        assert!(headers.get("location").is_none() && !html.contains("evil") && !html.contains("href=\"http"), "{bad}: {html}");
        let (s, headers, _) = submit(&app, "reject", &page_query("redirect", &token, bad, None), None).await;
        assert!(s == 400 && headers.get("location").is_none(), "{bad}");
    }
    assert!(sink.requests().is_empty(), "a refused redirect ended the attempt");
    // A popup may name the registered origin; its page keeps the opener and posts only there.
    let q = page_query("popup", &token, "https://portal.example.com", Some("pop-1"));
    let (s, headers, _) = page(&app, &q).await;
    assert_eq!(s, 200);
    assert_eq!(headers["cross-origin-opener-policy"], "unsafe-none");
    let code = totp_code(&app, SECRET, totp::TotpAlgorithm::Sha1, 6);
    let (s, headers, html) = submit(&app, "verify", &q, Some(&code)).await;
    assert_eq!(s, 200);
    assert!(headers.get("location").is_none());
    assert!(
        html.contains("data-target-origin=\"https://portal.example.com\"") && html.contains("data-state=\"pop-1\""),
        "{html}"
    );
    assert!(html.contains(&format!("data-session-token=\"{token}\"")));
    // Unknown sign-in methods are refused.
    let (s, _, _) = page(&app, &page_query("iframe", &token, REDIRECT, None)).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn cross_site_posts_to_the_page_and_the_console_are_refused() {
    let app = spawn_app().await;
    let sink = HttpSink::start(200, "{}").await;
    let h = fixture(&app, &sink).await;
    let token = session_token(&app, &h, "jane@example.com").await;
    let q = page_query("redirect", &token, REDIRECT, None);
    let code = totp_code(&app, SECRET, totp::TotpAlgorithm::Sha1, 6);
    for (name, value) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site"), ("origin", "null")] {
        let r = app
            .request(Method::POST, "/start-authentication/verify")
            .header("content-type", "application/x-www-form-urlencoded")
            .header(name, value)
            .body(format!("{q}&code={code}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403, "{name}: {value}");
        let r = app
            .request(Method::POST, "/console/sign-in")
            .header("content-type", "application/x-www-form-urlencoded")
            .header(name, value)
            .body("csrf=x&email=a@example.com&password=b")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403, "console {name}: {value}");
    }
    assert!(sink.requests().is_empty());
    // The console's forms also need their CSRF token.
    let r = app
        .request(Method::POST, "/console/sign-in")
        .form(&[("email", "a@example.com"), ("password", "b")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
}

#[tokio::test]
async fn a_callback_answered_500_is_retried_until_it_succeeds() {
    let app = spawn_app().await;
    let sink = HttpSink::start(200, "{}").await;
    let h = fixture(&app, &sink).await;
    sink.respond_next(500, "{}");
    sink.respond_next(503, "{}");
    let token = session_token(&app, &h, "jane@example.com").await;
    let q = page_query("redirect", &token, REDIRECT, None);
    let code = totp_code(&app, SECRET, totp::TotpAlgorithm::Sha1, 6);
    let (s, headers, _) = submit(&app, "verify", &q, Some(&code)).await;
    assert_eq!(s, 302);
    assert!(headers["location"].to_str().unwrap().contains(&token));
    let calls = sink.requests();
    assert_eq!(calls.len(), 3);
    assert!(calls.iter().all(|c| c.query.as_deref() == Some(format!("result=true&session_token={token}").as_str())));
}

#[tokio::test]
async fn a_callback_that_never_succeeds_ends_in_internal_server_error() {
    let app =
        spawn_app_with(TestOptions { settings: Some(Box::new(|s| s.callback_window_seconds = 2)), ..TestOptions::default() })
            .await;
    let sink = HttpSink::start(500, "{}").await;
    let h = fixture(&app, &sink).await;
    let token = session_token(&app, &h, "jane@example.com").await;
    let q = page_query("redirect", &token, REDIRECT, Some("s"));
    let code = totp_code(&app, SECRET, totp::TotpAlgorithm::Sha1, 6);
    let (s, headers, html) = submit(&app, "verify", &q, Some(&code)).await;
    assert_eq!(s, 200);
    assert!(headers.get("location").is_none());
    assert!(
        html.contains("data-code=\"INTERNAL_SERVER_ERROR\"") && html.contains("error=INTERNAL_SERVER_ERROR&amp;state=s"),
        "{html}"
    );
    assert!(sink.requests().len() >= 3, "retried: {}", sink.requests().len());
    // The page opened again says the same.
    let (_, _, html) = page(&app, &q).await;
    assert!(html.contains("data-code=\"INTERNAL_SERVER_ERROR\""));
}

#[tokio::test]
async fn callbacks_to_private_addresses_are_refused_when_set_and_when_sent() {
    let app = spawn_app_with(TestOptions {
        settings: Some(Box::new(|s| {
            s.allow_private_callbacks = Some(false);
            s.callback_window_seconds = 1;
        })),
        ..TestOptions::default()
    })
    .await;
    let console = console_account(&app, "strict@example.com").await;
    for url in [
        "http://93.184.215.14/cb",
        "https://127.0.0.1/cb",
        "https://169.254.169.254/latest",
        "https://10.0.0.5/cb",
        "https://[::1]/cb",
        "https://[fe80::1]/cb",
        "https://localhost/cb",
        "https://user:pw@93.184.215.14/cb",
    ] {
        let body = json!({"name": "x", "allowed_ips": ["127.0.0.1"], "callback_url": url, "redirect_uris": [REDIRECT]});
        let (s, b) = call(&app, Method::POST, "/console/api/applications", Some(&console), Some(body)).await;
        assert_eq!(s, 400, "{url}: {b}");
    }
    // An address that was public when set and is private when called (as after DNS rebinding)
    // is refused at send time: the sink on loopback never hears a thing.
    let sink = HttpSink::start(200, "{}").await;
    let body = json!({"name": "x", "allowed_ips": ["127.0.0.1"], "callback_url": "https://93.184.215.14/cb", "redirect_uris": [REDIRECT]});
    let (s, b) = call(&app, Method::POST, "/console/api/applications", Some(&console), Some(body)).await;
    assert_eq!(s, 201, "{b}");
    let h = HostedApp {
        id: b["application"]["id"].as_str().unwrap().into(),
        client_id: b["application"]["client_id"].as_str().unwrap().into(),
        api_key: b["api_key"].as_str().unwrap().into(),
        callback_secret: b["callback_secret"].as_str().unwrap().into(),
        console: console.clone(),
    };
    let ctx = castellan_core::services::ClientContext::default();
    let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
    let (stored, _) = app.core.hosted_apps().authenticate_api_key(&h.api_key, &h.client_id, loopback, &ctx).await.unwrap();
    let mut stored = stored.clone();
    stored.callback_url = Some(format!("{}/cb", sink.url));
    app.core.applications().save_application(&stored).await.unwrap();
    assert_eq!(enable(&app, &h, "jane@example.com", SECRET, "SHA1", 6).await.0, 200);
    let token = session_token(&app, &h, "jane@example.com").await;
    let q = page_query("redirect", &token, REDIRECT, None);
    let code = totp_code(&app, SECRET, totp::TotpAlgorithm::Sha1, 6);
    let (_, headers, html) = submit(&app, "verify", &q, Some(&code)).await;
    assert!(headers.get("location").is_none() && html.contains("INTERNAL_SERVER_ERROR"), "{html}");
    assert!(sink.requests().is_empty());
}

#[tokio::test]
async fn a_restart_during_the_retries_does_not_lose_the_callback() {
    let app =
        spawn_app_with(TestOptions { settings: Some(Box::new(|s| s.callback_window_seconds = 25)), ..TestOptions::default() })
            .await;
    let sink = HttpSink::start(200, "{}").await;
    let h = fixture(&app, &sink).await;
    // The first answer is slow, so the restart below lands while that try is in flight and the
    // other tries are still to come.
    sink.respond_next_after(500, "{}", Duration::from_millis(500));
    for _ in 0..2 {
        sink.respond_next(500, "{}");
    }
    let token = session_token(&app, &h, "jane@example.com").await;
    let q = page_query("redirect", &token, REDIRECT, None);
    let code = totp_code(&app, SECRET, totp::TotpAlgorithm::Sha1, 6);
    let client = app.client.clone();
    let url = app.url("/start-authentication/verify");
    let origin = app.address.clone();
    let waiting = tokio::spawn(async move {
        client
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", origin)
            .body(format!("{q}&code={code}"))
            .send()
            .await
    });
    sink.wait_for(1).await;
    assert_eq!(sink.requests().len(), 1, "the restart comes while the first try is in flight");
    let app = app.restart().await;
    // The page waiting on the old node was let go.
    let _ = waiting.await;
    let mut delivered = false;
    for _ in 0..300 {
        let (_, list) = call_console_verifications(&app, &h).await;
        if list["verifications"][0]["result"] == "succeeded" {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(delivered, "callback not delivered after the restart: {} tries", sink.requests().len());
    let calls = sink.requests();
    assert_eq!(calls.len(), 4, "three 500s, then one 200");
}

#[tokio::test]
async fn console_json_rotates_keys_and_keeps_accounts_apart() {
    let app = spawn_app().await;
    let sink = HttpSink::start(200, "{}").await;
    let console = console_account(&app, "owner@example.com").await;
    let h = hosted_app(&app, &console, &format!("{}/cb", sink.url), &["127.0.0.1"]).await;
    // Shown once: later reads carry the prefix only.
    let (s, b) = call(&app, Method::GET, &format!("/console/api/applications/{}", h.id), Some(&console), None).await;
    assert_eq!(s, 200);
    assert!(b.get("api_key").is_none() && b.get("callback_secret").is_none());
    let prefix = b["api_key_prefix"].as_str().unwrap();
    assert!(h.api_key.starts_with(prefix) && prefix.len() < h.api_key.len() / 2);
    assert_eq!(b["allowed_ips"], json!(["127.0.0.1"]));
    // Edit: a bad allow-list is refused, a good one kept.
    let (s, _) = call(
        &app,
        Method::PATCH,
        &format!("/console/api/applications/{}", h.id),
        Some(&console),
        Some(json!({"allowed_ips": ["300.1.1.1"]})),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = call(
        &app,
        Method::PATCH,
        &format!("/console/api/applications/{}", h.id),
        Some(&console),
        Some(json!({"allowed_ips": []})),
    )
    .await;
    assert_eq!(s, 400);
    let (s, b) = call(
        &app,
        Method::PATCH,
        &format!("/console/api/applications/{}", h.id),
        Some(&console),
        Some(json!({"allowed_ips": ["127.0.0.0/8", "::1"]})),
    )
    .await;
    assert_eq!((s, &b["allowed_ips"]), (200, &json!(["127.0.0.0/8", "::1"])));
    // Rotation: the old key stops working.
    let (s, b) = call(&app, Method::POST, &format!("/console/api/applications/{}/rotate-key", h.id), Some(&console), None).await;
    assert_eq!(s, 200);
    let new_key = b["api_key"].as_str().unwrap().to_string();
    let body = json!({"email": "nobody@example.com", "client_id": h.client_id});
    assert_eq!(api(&app, "/session-token", Some(&h.api_key), body.clone()).await.0, 401);
    assert_eq!(api(&app, "/session-token", Some(&new_key), body).await.0, 400);
    // Another account sees none of it.
    let other = console_account(&app, "stranger@example.com").await;
    let (s, _) = call(&app, Method::GET, &format!("/console/api/applications/{}", h.id), Some(&other), None).await;
    assert_eq!(s, 404);
    let (s, b) = call(&app, Method::GET, "/console/api/applications", Some(&other), None).await;
    assert_eq!((s, b["applications"].as_array().unwrap().len()), (200, 0));
    let (s, _) = call(&app, Method::POST, &format!("/console/api/applications/{}/rotate-key", h.id), Some(&other), None).await;
    assert_eq!(s, 404);
    // Signed out: the token is dead.
    assert_eq!(call(&app, Method::POST, "/console/api/sign-out", Some(&console), None).await.0, 204);
    assert_eq!(call(&app, Method::GET, "/console/api/applications", Some(&console), None).await.0, 401);
}

#[tokio::test]
async fn console_accounts_confirm_their_email_and_pages_set_safe_cookies() {
    let app = spawn_app_with(TestOptions {
        settings: Some(Box::new(|s| s.public_url = Some("https://auth.example.test".into()))),
        ..TestOptions::default()
    })
    .await;
    let (s, _) = call(
        &app,
        Method::POST,
        "/console/api/register",
        None,
        Some(json!({"email": "unconfirmed@example.com", "password": CONSOLE_PASSWORD})),
    )
    .await;
    assert_eq!(s, 202);
    let (s, b) = call(
        &app,
        Method::POST,
        "/console/api/sign-in",
        None,
        Some(json!({"email": "unconfirmed@example.com", "password": CONSOLE_PASSWORD})),
    )
    .await;
    assert_eq!(s, 401, "{b}");
    // Registering a taken email answers the same.
    let (s, b) = call(
        &app,
        Method::POST,
        "/console/api/register",
        None,
        Some(json!({"email": "unconfirmed@example.com", "password": CONSOLE_PASSWORD})),
    )
    .await;
    assert_eq!((s, b), (202, json!({"status": "verification_sent"})));
    let (s, _) =
        call(&app, Method::POST, "/console/api/register", None, Some(json!({"email": "weak@example.com", "password": "short"})))
            .await;
    assert_eq!(s, 400);

    // The sign-in page: a CSRF cookie, HttpOnly, SameSite=Strict, Secure (https public URL).
    let r = app.request(Method::GET, "/console/sign-in").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Secure"), "{cookie}");
    let html = r.text().await.unwrap();
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let form_cookie = cookie.split(';').next().unwrap().to_string();
    let email = "pages@example.com";
    console_account(&app, email).await;
    let r = app
        .request(Method::POST, "/console/sign-in")
        .header("cookie", &form_cookie)
        .form(&[("csrf", csrf.as_str()), ("email", email), ("password", CONSOLE_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("castellan_console="))
        .unwrap();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict") && session.contains("Secure"), "{session}");
    let r = app.request(Method::GET, "/console/apps").header("cookie", session.split(';').next().unwrap()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("Create application"));
}

#[tokio::test]
async fn a_store_failure_reads_as_an_error_not_as_an_empty_console() {
    let app = spawn_app().await;
    let sink = HttpSink::start(200, "{}").await;
    let console = console_account(&app, "outage@example.com").await;
    let h = hosted_app(&app, &console, &format!("{}/cb", sink.url), &["127.0.0.1"]).await;
    let cookie = format!("castellan_console={console}");
    let get_page = |path: String| {
        let rb = app.request(Method::GET, &path).header("cookie", &cookie);
        async move {
            let r = rb.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (s, html) = get_page("/console/apps".into()).await;
    assert_eq!(s, 200);
    assert!(html.contains("Demo Portal"), "{html}");

    // The applications cannot be read: not "No applications yet".
    app.sql("ALTER TABLE applications RENAME TO applications_away").await;
    let (s, html) = get_page("/console/apps".into()).await;
    assert_eq!(s, 500, "{html}");
    assert!(html.contains("Something went wrong") && !html.contains("No applications yet"), "{html}");
    assert!(html.contains("id=\"sign-out\""), "still the signed-in console: {html}");
    let (s, b) = call(&app, Method::GET, "/console/api/applications", Some(&console), None).await;
    assert_eq!((s, b), (500, json!({"error": {"code": "internal", "message": "internal error"}})));
    let (s, html) = get_page(format!("/console/apps/{}", h.id)).await;
    assert_eq!(s, 500, "not a missing application: {html}");
    app.sql("ALTER TABLE applications_away RENAME TO applications").await;

    // The verifications cannot be read: not an application with none.
    app.sql("ALTER TABLE verifications RENAME TO verifications_away").await;
    let (s, html) = get_page(format!("/console/apps/{}", h.id)).await;
    assert_eq!(s, 500, "{html}");
    assert!(html.contains("Something went wrong") && !html.contains("id=\"verifications\""), "{html}");
    let (s, _) =
        call(&app, Method::GET, &format!("/console/api/applications/{}/verifications", h.id), Some(&console), None).await;
    assert_eq!(s, 500);
    app.sql("ALTER TABLE verifications_away RENAME TO verifications").await;
    let (s, html) = get_page(format!("/console/apps/{}", h.id)).await;
    assert_eq!(s, 200, "{html}");
}
