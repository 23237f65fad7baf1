//! Content types: a JSON endpoint takes a non-empty body only when it is declared
//! `application/json` or `application/*+json`, so that a page on another site cannot post to it
//! with a CORS "simple request" (`text/plain`, a form, multipart, or no type at all). Each dialect
//! refuses in its own shape; form endpoints take only forms; bodiless requests need no type.

use castellan_core::clock::Clock;
use castellan_core::crypto::{base32, totp};
use castellan_testkit::{HttpSink, TestApp, send, spawn_app};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::helpers::*;

/// The types a browser sends cross-site without a preflight, and no type at all.
const SIMPLE: [Option<&str>; 5] = [
    Some("text/plain"),
    Some("text/plain; charset=utf-8"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=x"),
    None,
];

/// JSON types a client may declare.
const JSON_TYPES: [&str; 3] = ["application/json", "application/json; charset=utf-8", "application/vnd.api+json"];

/// A request with exactly this body and, if given, this `Content-Type`.
fn raw(app: &TestApp, method: Method, path: &str, content_type: Option<&str>, body: &str) -> RequestBuilder {
    let rb = app.request(method, path).body(body.to_string());
    match content_type {
        Some(ct) => rb.header("content-type", ct),
        None => rb,
    }
}

async fn sessions_of(app: &TestApp, tenant: &str, user: &str) -> usize {
    let (s, b) = app.admin(Method::GET, &format!("/tenants/{tenant}/users/{user}/sessions"), None).await;
    assert_eq!(s, 200, "{b}");
    b.as_array().unwrap().len()
}

// ---- korastratum ----

fn kora(app: &TestApp, path: &str, slug: &str, content_type: Option<&str>, body: &str) -> RequestBuilder {
    raw(app, Method::POST, path, content_type, body).header("X-Tenant-ID", slug)
}

fn assert_kora_media_type(status: u16, body: &Value, what: &str) {
    assert_error(status, body, 400, "VALIDATION_ERROR");
    assert_eq!(body["error"]["details"], json!({"Content-Type": "must be application/json"}), "{what}: {body}");
}

#[tokio::test]
async fn korastratum_refuses_a_login_not_declared_json_and_issues_no_tokens() {
    let app = spawn_app().await;
    let (slug, user) = kora_tenant(&app).await;
    let body = json!({"email": "user@example.com", "password": PASSWORD}).to_string();
    for ct in SIMPLE {
        let (s, b) = send(kora(&app, "/api/v1/auth/login", &slug, ct, &body)).await;
        assert_kora_media_type(s, &b, &format!("{ct:?}"));
    }
    let form = format!("email=user%40example.com&password={}", totp::pct(PASSWORD));
    let (s, b) = send(kora(&app, "/api/v1/auth/login", &slug, Some("application/x-www-form-urlencoded"), &form)).await;
    assert_kora_media_type(s, &b, "form");
    assert_eq!(sessions_of(&app, &slug, &user).await, 0, "no session was opened");
    for ct in JSON_TYPES {
        let (s, b) = send(kora(&app, "/api/v1/auth/login", &slug, Some(ct), &body)).await;
        assert_eq!(s, 200, "{ct}: {b}");
        assert!(b["data"]["tokens"]["accessToken"].is_string(), "{ct}: {b}");
    }
}

#[tokio::test]
async fn every_korastratum_json_endpoint_checks_the_type_and_bodiless_posts_need_none() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (access, refresh) = tokens(&app, &slug).await;
    let paths = [
        "/api/v1/auth/refresh",
        "/api/v1/auth/2fa/verify-login",
        "/api/v1/auth/2fa/verify-setup",
        "/api/v1/auth/2fa/disable",
        "/api/v1/registration/register",
        "/api/v1/registration/verify-email",
        "/api/v1/registration/forgot-password",
        "/api/v1/registration/reset-password",
    ];
    for path in paths {
        let rb = kora(&app, path, &slug, Some("text/plain"), &json!({"refreshToken": refresh}).to_string()).bearer_auth(&access);
        let (s, b) = send(rb).await;
        assert_kora_media_type(s, &b, path);
    }
    // The refresh token was not spent by the refused call.
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/refresh", &slug, None, Some(json!({"refreshToken": refresh}))).await;
    assert_eq!(s, 200, "{b}");
    let access = b["data"]["tokens"]["accessToken"].as_str().unwrap().to_string();
    // No body, no type: the field is missing, the type is not asked for.
    let (s, b) = send(kora(&app, "/api/v1/auth/refresh", &slug, None, "")).await;
    assert_error(s, &b, 400, "VALIDATION_ERROR");
    assert!(b["error"]["details"].get("refreshToken").is_some(), "{b}");
    for path in ["/api/v1/auth/2fa/setup", "/api/v1/auth/2fa/status", "/api/v1/auth/logout"] {
        let (s, b) = send(kora(&app, path, &slug, None, "").bearer_auth(&access)).await;
        assert_eq!(s, 200, "{path}: {b}");
    }
}

// ---- kumusoft ----

#[tokio::test]
async fn kumusoft_refuses_bodies_not_declared_json_with_90_and_sends_no_code() {
    let app = spawn_app().await;
    let (_, tag, _) = kumu_tenant(&app).await;
    let login = json!({"identifier": "user_8742@example.com", "password": KUMU_PASSWORD, "tagId": tag}).to_string();
    let before = outbox_count(&app, "user_8742@example.com").await;
    for ct in SIMPLE {
        let (s, b) = send(raw(&app, Method::POST, "/v1/auth/login", ct, &login)).await;
        assert_kumu(s, &b, 400, "90");
        assert_eq!(b["status"]["returnMessage"], "Content-Type: must be application/json", "{ct:?}");
        assert_eq!(b["data"], Value::Null);
    }
    assert_eq!(outbox_count(&app, "user_8742@example.com").await, before, "no code was sent");
    // A right code sent as text is refused and stays usable.
    let (challenge, user, code) = kumu_challenge(&app, &tag).await;
    let verify = json!({"userId": user, "otp": code, "challengeId": challenge}).to_string();
    let (s, b) = send(raw(&app, Method::POST, "/v1/auth/otp/verify", Some("text/plain"), &verify)).await;
    assert_kumu(s, &b, 400, "90");
    let (s, b) = send(raw(&app, Method::POST, "/v1/auth/otp/verify", Some("application/vnd.api+json"), &verify)).await;
    assert_kumu(s, &b, 200, "00");
    let access = b["data"]["accessToken"].as_str().unwrap().to_string();
    let refresh = b["data"]["refreshToken"].as_str().unwrap().to_string();
    for path in ["/v1/auth/otp/resend", "/v1/auth/token/refresh", "/v1/auth/logout"] {
        let body = json!({"refreshToken": refresh, "userId": user, "challengeId": challenge}).to_string();
        let (s, b) = send(raw(&app, Method::POST, path, Some("application/x-www-form-urlencoded"), &body)).await;
        assert_kumu(s, &b, 400, "90");
    }
    let (s, b) = send(raw(&app, Method::POST, "/v1/auth/login", Some("application/json; charset=utf-8"), &login)).await;
    assert_kumu(s, &b, 200, "00");
    // Logout with the bearer and no body needs no type.
    let (s, b) = send(raw(&app, Method::POST, "/v1/auth/logout", None, "").bearer_auth(&access)).await;
    assert_kumu(s, &b, 200, "00");
}

// ---- mosip ----

#[tokio::test]
async fn mosip_refuses_envelopes_not_declared_json_with_ker_ath_004_and_no_token() {
    let app = spawn_app().await;
    let realm = crate::mosip::realm(&app).await;
    let request = json!({"appId": "admin", "clientId": "mosip-admin-client", "clientSecret": realm.admin_secret,
                         "password": crate::mosip::ADMIN_PASSWORD, "userName": "110006"});
    let body = crate::mosip::envelope("string", request).to_string();
    let path = "/v1/authmanager/authenticate/internal/useridPwd";
    for ct in SIMPLE {
        let r = raw(&app, Method::POST, path, ct, &body).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400, "{ct:?}");
        assert!(r.headers().get("authorization").is_none() && r.headers().get("set-cookie").is_none(), "{ct:?}");
        let b: Value = r.json().await.unwrap();
        crate::mosip::assert_envelope(&b);
        assert_eq!(b["response"], Value::Null);
        assert_eq!(b["errors"][0]["errorCode"], "KER-ATH-004", "{ct:?}: {b}");
        assert_eq!(b["errors"][0]["message"], "Error while validating the request: Content-Type: must be application/json");
    }
    // sendotp as text sends nothing.
    let sendotp = crate::mosip::envelope(
        "string",
        json!({"appId": "ida", "otpChannel": ["email"], "userId": crate::mosip::UIN, "useridtype": "UIN"}),
    );
    let before = outbox_count(&app, "resident@example.com").await;
    let r = raw(&app, Method::POST, "/v1/authmanager/authenticate/sendotp", Some("text/plain"), &sendotp.to_string());
    let (s, b) = send(r).await;
    assert_eq!((s, b["errors"][0]["errorCode"].as_str()), (400, Some("KER-ATH-004")), "{b}");
    assert_eq!(outbox_count(&app, "resident@example.com").await, before);
    let mut refresh = String::new();
    for ct in JSON_TYPES {
        let r = raw(&app, Method::POST, path, Some(ct), &body).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{ct}");
        let b: Value = r.json().await.unwrap();
        crate::mosip::assert_success(200, &b);
        refresh = b["response"]["refreshToken"].as_str().unwrap().to_string();
    }
    // A refresh token sent as text is refused and not spent; the cookie with no body needs no type.
    let refresh_path = "/v1/authmanager/authorize/refreshToken/admin";
    let as_text = crate::mosip::envelope("string", json!({"refreshToken": refresh})).to_string();
    let (s, b) = send(raw(&app, Method::POST, refresh_path, Some("text/plain"), &as_text)).await;
    assert_eq!((s, b["errors"][0]["errorCode"].as_str()), (400, Some("KER-ATH-004")), "{b}");
    let rb = raw(&app, Method::POST, refresh_path, None, "").header("Cookie", format!("refresh_token={refresh}"));
    let (s, b) = send(rb).await;
    crate::mosip::assert_success(s, &b);
}

// ---- eauthenticator ----

const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

fn api_raw(app: &TestApp, path: &str, key: &str, content_type: Option<&str>, body: &Value) -> RequestBuilder {
    raw(app, Method::POST, &format!("/authen-api/api/v1{path}"), content_type, &body.to_string()).header("X-API-Key", key)
}

#[tokio::test]
async fn the_eauthenticator_api_refuses_bodies_not_declared_json_with_invalid_request() {
    let app = spawn_app().await;
    let console = crate::eauthenticator::console_account(&app, "ctype-biz@example.com").await;
    let h = crate::eauthenticator::hosted_app(&app, &console, "http://127.0.0.1:9/cb", &["127.0.0.1", "::1"]).await;
    let toggle = json!({"email": "jane@example.com", "client_id": h.client_id, "secret": SECRET, "action": "ENABLE",
                        "type": "TOTP", "algorithm": "SHA1", "digits": 6, "period": 30});
    for ct in SIMPLE {
        let (s, b) = send(api_raw(&app, "/mfa/toggle", &h.api_key, ct, &toggle)).await;
        assert_eq!((s, b), (400, json!({"code": "INVALID_REQUEST", "message": "toggle failed", "data": ""})), "{ct:?}");
    }
    // Nothing was enabled, so there is no session token to have.
    let token_request = json!({"email": "jane@example.com", "client_id": h.client_id});
    let (s, b) = send(api_raw(&app, "/session-token", &h.api_key, Some("application/json"), &token_request)).await;
    assert_eq!((s, b["code"].as_str()), (400, Some("INVALID_REQUEST")), "{b}");
    let (s, b) = send(api_raw(&app, "/mfa/toggle", &h.api_key, Some("application/json; charset=utf-8"), &toggle)).await;
    assert_eq!((s, b["code"].as_str()), (200, Some("SUCCESS")), "{b}");
    for ct in SIMPLE {
        let (s, b) = send(api_raw(&app, "/session-token", &h.api_key, ct, &token_request)).await;
        assert_eq!((s, b), (400, json!({"code": "INVALID_REQUEST", "message": "get session token failed", "data": ""})));
        let provision = json!({"email": "john@example.com", "client_id": h.client_id});
        let (s, b) = send(api_raw(&app, "/mfa/provision", &h.api_key, ct, &provision)).await;
        assert_eq!((s, b["code"].as_str()), (400, Some("INVALID_REQUEST")), "{b}");
    }
    let (s, b) = send(api_raw(&app, "/session-token", &h.api_key, Some("application/vnd.api+json"), &token_request)).await;
    assert_eq!(s, 200, "{b}");
    assert!(b["data"]["session_token"].is_string(), "{b}");
}

#[tokio::test]
async fn the_console_json_api_answers_415_to_bodies_not_declared_json() {
    let app = spawn_app().await;
    let bearer = crate::eauthenticator::console_account(&app, "ctype-console@example.com").await;
    let credentials = json!({"email": "ctype-console@example.com", "password": "console-pass-123"}).to_string();
    let refused = json!({"error": {"code": "unsupported_media_type", "message": "Content-Type must be application/json"}});
    for ct in SIMPLE {
        let (s, b) = send(raw(&app, Method::POST, "/console/api/sign-in", ct, &credentials)).await;
        assert_eq!((s, &b), (415, &refused), "{ct:?}");
        let rb = raw(&app, Method::POST, "/console/api/applications", ct, r#"{"name": "X"}"#).bearer_auth(&bearer);
        let (s, b) = send(rb).await;
        assert_eq!((s, &b), (415, &refused), "{ct:?}");
    }
    let (s, b) =
        send(raw(&app, Method::POST, "/console/api/register", Some("text/plain"), r#"{"email": "n@example.com"}"#)).await;
    assert_eq!((s, &b), (415, &refused));
    let (s, b) = app.admin(Method::GET, "/outbox?to=n@example.com", None).await;
    assert_eq!((s, b), (200, json!([])), "no account was started");
    let (s, b) = send(raw(&app, Method::GET, "/console/api/applications", None, "").bearer_auth(&bearer)).await;
    assert_eq!((s, &b["applications"]), (200, &json!([])), "no application was made: {b}");
    let (s, b) = send(raw(&app, Method::POST, "/console/api/sign-in", Some("application/vnd.api+json"), &credentials)).await;
    assert_eq!(s, 200, "{b}");
    let second = b["token"].as_str().unwrap().to_string();
    // Bodiless posts need no type.
    let (s, _) = send(raw(&app, Method::POST, "/console/api/sign-out", None, "").bearer_auth(&second)).await;
    assert_eq!(s, 204);
}

#[tokio::test]
async fn form_endpoints_refuse_json_and_still_take_their_forms() {
    let app = spawn_app().await;
    let sink = HttpSink::start(200, "{}").await;
    let console = crate::eauthenticator::console_account(&app, "ctype-forms@example.com").await;
    let h = crate::eauthenticator::hosted_app(&app, &console, &format!("{}/cb", sink.url), &["127.0.0.1", "::1"]).await;
    let (s, b) = crate::eauthenticator::enable(&app, &h, "jane@example.com", SECRET, "SHA1", 6).await;
    assert_eq!(s, 200, "{b}");
    let token = crate::eauthenticator::session_token(&app, &h, "jane@example.com").await;
    let redirect = "https://portal.example.com/2fa/done";
    let code = totp::totp(totp::TotpAlgorithm::Sha1, &base32::decode(SECRET).unwrap(), app.clock.now(), 30, 6);
    let fields = json!({"signin_method": "redirect", "session_token": token, "redirect_uri": redirect, "code": code});
    let r = raw(&app, Method::POST, "/start-authentication/verify", Some("application/json"), &fields.to_string())
        .header("origin", app.address.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    assert!(sink.requests().is_empty(), "no callback for a refused post");
    let form = format!("signin_method=redirect&session_token={token}&redirect_uri={}&code={code}", totp::pct(redirect));
    let r = raw(&app, Method::POST, "/start-authentication/verify", Some("application/x-www-form-urlencoded"), &form)
        .header("origin", app.address.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302);
    // The console's pages: JSON opens no session.
    let r = raw(
        &app,
        Method::POST,
        "/console/sign-in",
        Some("application/json"),
        r#"{"csrf": "x", "email": "ctype-forms@example.com", "password": "console-pass-123"}"#,
    )
    .header("origin", app.address.clone())
    .send()
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    assert!(r.headers().get("set-cookie").is_none());
    // The fastapi-users login is a form: JSON or text finds none of its fields.
    crate::fastapi_users::kyc(&app).await;
    let missing = |field: &str| json!({"type": "missing", "loc": ["body", field], "msg": "Field required", "input": null});
    let login = format!("username=user%40example.com&password={}", crate::fastapi_users::PASSWORD);
    for ct in [Some("text/plain"), Some("application/json"), None] {
        let (s, b) = send(raw(&app, Method::POST, "/auth/jwt/login", ct, &login)).await;
        assert_eq!((s, b), (422, json!({"detail": [missing("username"), missing("password")]})), "{ct:?}");
    }
    let (s, b) = send(raw(&app, Method::POST, "/auth/jwt/login", Some("application/x-www-form-urlencoded"), &login)).await;
    assert_eq!(s, 200, "{b}");
}

// ---- fastapi-users ----

#[tokio::test]
async fn fastapi_users_answers_bodies_not_declared_json_as_fastapi_does() {
    let app = spawn_app().await;
    crate::fastapi_users::kyc(&app).await;
    let not_a_dict = |input: &str| {
        json!({"detail": [{"type": "model_attributes_type", "loc": ["body"],
                           "msg": "Input should be a valid dictionary or object to extract fields from", "input": input}]})
    };
    let missing = |field: &str| json!({"type": "missing", "loc": ["body", field], "msg": "Field required", "input": null});
    let register = json!({"email": "new@example.com", "password": "kyc-Passw0rd-new"}).to_string();
    for ct in SIMPLE {
        // A single-model route (UserCreate) refuses the body as a whole, echoing it.
        let (s, b) = send(raw(&app, Method::POST, "/auth/register", ct, &register)).await;
        assert_eq!((s, b), (422, not_a_dict(&register)), "{ct:?}");
        // Embedded fields (`Body(..., embed=True)`) are each missing.
        let (s, b) = send(raw(&app, Method::POST, "/auth/forgot-password", ct, r#"{"email": "user@example.com"}"#)).await;
        assert_eq!((s, b), (422, json!({"detail": [missing("email")]})), "{ct:?}");
        let (s, b) = send(raw(&app, Method::POST, "/auth/reset-password", ct, r#"{"token": "t", "password": "p"}"#)).await;
        assert_eq!((s, b), (422, json!({"detail": [missing("token"), missing("password")]})), "{ct:?}");
        let (s, b) = send(raw(&app, Method::POST, "/auth/verify", ct, r#"{"token": "t"}"#)).await;
        assert_eq!((s, b), (422, json!({"detail": [missing("token")]})), "{ct:?}");
        let (s, b) = send(raw(&app, Method::POST, "/auth/request-verify-token", ct, r#"{"email": "user@example.com"}"#)).await;
        assert_eq!((s, b), (422, json!({"detail": [missing("email")]})), "{ct:?}");
    }
    assert_eq!(outbox_count(&app, "user@example.com").await, 0, "no reset or verification link was mailed");
    let (s, b) = app.admin(Method::GET, "/tenants/kyc/users?email=new@example.com", None).await;
    assert_eq!((s, b), (200, json!([])), "no account was made");
    // A form to the JSON route echoes the form.
    let form = "email=new%40example.com&password=kyc-Passw0rd-new";
    let (s, b) = send(raw(&app, Method::POST, "/auth/register", Some("application/x-www-form-urlencoded"), form)).await;
    assert_eq!((s, b), (422, not_a_dict(form)));
    // The signed-in user's own changes.
    let token = crate::fastapi_users::token(&app).await;
    let patch = r#"{"email": "changed@example.com"}"#;
    let (s, b) = send(raw(&app, Method::PATCH, "/users/me", Some("text/plain"), patch).bearer_auth(&token)).await;
    assert_eq!((s, b), (422, not_a_dict(patch)));
    let (s, b) = send(raw(&app, Method::GET, "/users/me", None, "").bearer_auth(&token)).await;
    assert_eq!((s, &b["email"]), (200, &json!("user@example.com")), "{b}");
    for (ct, email) in [("application/vnd.api+json", "one@example.com"), ("application/json; charset=utf-8", "two@example.com")] {
        let body = json!({"email": email, "password": "kyc-Passw0rd-new"}).to_string();
        let (s, b) = send(raw(&app, Method::POST, "/auth/register", Some(ct), &body)).await;
        assert_eq!((s, &b["email"]), (201, &json!(email)), "{ct}: {b}");
    }
    // Logout has no body.
    let r = raw(&app, Method::POST, "/auth/jwt/logout", None, "").bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
}

// ---- admin ----

#[tokio::test]
async fn the_admin_api_answers_415_to_bodies_not_declared_json() {
    let app = spawn_app().await;
    let tenant = json!({"slug": "ctype", "display_name": "Content types"}).to_string();
    let refused = json!({"error": {"code": "unsupported_media_type", "message": "Content-Type must be application/json"}});
    for ct in SIMPLE {
        let (s, b) = send(raw(&app, Method::POST, "/admin/v1/tenants", ct, &tenant).bearer_auth(&app.admin_token)).await;
        assert_eq!((s, &b), (415, &refused), "{ct:?}");
    }
    let (s, _) = app.admin(Method::GET, "/tenants/ctype", None).await;
    assert_eq!(s, 404, "no tenant was made");
    // The token is checked before the body.
    let (s, b) = send(raw(&app, Method::POST, "/admin/v1/tenants", Some("text/plain"), &tenant)).await;
    assert_eq!((s, b["error"]["code"].as_str()), (401, Some("unauthorized")));
    let (s, b) = send(
        raw(&app, Method::POST, "/admin/v1/tenants", Some("application/json; charset=utf-8"), &tenant)
            .bearer_auth(&app.admin_token),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let patch = r#"{"display_name": "Renamed"}"#;
    let (s, b) =
        send(raw(&app, Method::PATCH, "/admin/v1/tenants/ctype", Some("text/plain"), patch).bearer_auth(&app.admin_token)).await;
    assert_eq!((s, &b), (415, &refused));
    let (s, b) = send(
        raw(&app, Method::PATCH, "/admin/v1/tenants/ctype", Some("application/merge-patch+json"), patch)
            .bearer_auth(&app.admin_token),
    )
    .await;
    assert_eq!((s, &b["display_name"]), (200, &json!("Renamed")), "{b}");
    // An empty PATCH changes nothing and needs no type.
    let (s, b) = send(raw(&app, Method::PATCH, "/admin/v1/tenants/ctype", None, "").bearer_auth(&app.admin_token)).await;
    assert_eq!((s, &b["display_name"]), (200, &json!("Renamed")), "{b}");
}
