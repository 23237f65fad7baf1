//! The fastapi-users contract: the form login and its answers, the token as a FastAPI resource
//! server decodes it, logout and the current user.

use base64::Engine;
use castellan_testkit::{TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

pub const PASSWORD: &str = "kyc-Passw0rd-2026";

/// The `kyc` tenant with a verified, an unverified and an inactive user.
pub async fn kyc(app: &TestApp) {
    let (s, t) = app
        .admin(Method::POST, "/tenants", Some(json!({"slug": "kyc", "display_name": "KYC", "profile": "fastapi-users"})))
        .await;
    assert_eq!(s, 201, "{t}");
    for (email, verified, active) in
        [("user@example.com", true, true), ("unverified@example.com", false, true), ("inactive@example.com", true, false)]
    {
        let body = json!({"email": email, "password": PASSWORD, "email_verified": verified, "active": active});
        let (s, u) = app.admin(Method::POST, "/tenants/kyc/users", Some(body)).await;
        assert_eq!(s, 201, "{u}");
    }
}

pub async fn form_login(app: &TestApp, pairs: &[(&str, &str)]) -> (u16, Value) {
    castellan_testkit::send(app.request(Method::POST, "/auth/jwt/login").form(pairs)).await
}

pub async fn token(app: &TestApp) -> String {
    let (s, b) = form_login(app, &[("username", "user@example.com"), ("password", PASSWORD), ("grant_type", "password")]).await;
    assert_eq!(s, 200, "{b}");
    b["access_token"].as_str().unwrap().to_string()
}

async fn me(app: &TestApp, token: &str) -> (u16, Value, Option<String>) {
    let r = app.request(Method::GET, "/users/me").bearer_auth(token).send().await.unwrap();
    let status = r.status().as_u16();
    let www = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
    (status, r.json().await.unwrap_or(Value::Null), www)
}

#[tokio::test]
async fn the_documented_login_answers_a_bearer_token() {
    let app = spawn_app().await;
    kyc(&app).await;
    let (s, b) = form_login(&app, &[("username", "user@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["token_type"], "bearer");
    assert_eq!(b.as_object().unwrap().len(), 2, "no refresh token: {b}");
    let token = b["access_token"].as_str().unwrap();
    let (s, user, _) = me(&app, token).await;
    assert_eq!(s, 200, "{user}");
    assert_eq!(user["email"], "user@example.com");
    assert_eq!(user["is_active"], true);
    assert_eq!(user["is_verified"], true);
    assert_eq!(user["is_superuser"], false);
    assert!(user["id"].is_string());
}

#[tokio::test]
async fn the_token_decodes_as_fastapi_users_decodes_it() {
    let app = spawn_app().await;
    kyc(&app).await;
    let token = token(&app).await;
    let (s, k) = app.admin(Method::GET, "/tenants/kyc/keys/hs256", None).await;
    assert_eq!(s, 200, "{k}");
    let secret = base64::engine::general_purpose::STANDARD.decode(k["secret"].as_str().unwrap()).unwrap();
    // fastapi_users.jwt.decode_jwt: HS256, audience ["fastapi-users:auth"], nothing else.
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.set_audience(&["fastapi-users:auth"]);
    v.required_spec_claims = ["exp", "aud", "sub"].iter().map(|s| s.to_string()).collect();
    let key = jsonwebtoken::DecodingKey::from_secret(&secret);
    let c = jsonwebtoken::decode::<Value>(&token, &key, &v).unwrap().claims;
    assert_eq!(c["aud"], json!(["fastapi-users:auth"]));
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 3600);
    let (_, user, _) = me(&app, &token).await;
    assert_eq!(c["sub"], user["id"]);
    let mut other = v.clone();
    other.set_audience(&["another-audience"]);
    assert!(jsonwebtoken::decode::<Value>(&token, &key, &other).is_err());
}

#[tokio::test]
async fn bad_credentials_and_unverified_users_get_the_librarys_codes() {
    let app = spawn_app().await;
    kyc(&app).await;
    for (user, password) in
        [("user@example.com", "wrong-password"), ("nobody@example.com", PASSWORD), ("inactive@example.com", PASSWORD)]
    {
        let (s, b) = form_login(&app, &[("username", user), ("password", password)]).await;
        assert_eq!((s, b), (400, json!({"detail": "LOGIN_BAD_CREDENTIALS"})), "{user}");
    }
    let (s, b) = form_login(&app, &[("username", "unverified@example.com"), ("password", PASSWORD)]).await;
    assert_eq!((s, b), (400, json!({"detail": "LOGIN_USER_NOT_VERIFIED"})));
    // A wrong password of an unverified user tells nothing about verification.
    let (s, b) = form_login(&app, &[("username", "unverified@example.com"), ("password", "wrong-password")]).await;
    assert_eq!((s, b), (400, json!({"detail": "LOGIN_BAD_CREDENTIALS"})));
}

#[tokio::test]
async fn validation_errors_have_fastapis_422_shape() {
    let app = spawn_app().await;
    kyc(&app).await;
    let missing = |field: &str| json!({"type": "missing", "loc": ["body", field], "msg": "Field required", "input": null});
    let (s, b) = form_login(&app, &[("username", "user@example.com")]).await;
    assert_eq!((s, b), (422, json!({"detail": [missing("password")]})));
    let (s, b) = form_login(&app, &[("username", ""), ("password", "")]).await;
    assert_eq!((s, b), (422, json!({"detail": [missing("username"), missing("password")]})));
    // JSON instead of a form: the form's fields are not there.
    let rb = app.request(Method::POST, "/auth/jwt/login").json(&json!({"username": "user@example.com", "password": PASSWORD}));
    let (s, b) = castellan_testkit::send(rb).await;
    assert_eq!((s, b), (422, json!({"detail": [missing("username"), missing("password")]})));
    let (s, b) =
        form_login(&app, &[("username", "user@example.com"), ("password", PASSWORD), ("grant_type", "client_credentials")]).await;
    assert_eq!(s, 422);
    assert_eq!(
        b,
        json!({"detail": [{"type": "string_pattern_mismatch", "loc": ["body", "grant_type"],
                           "msg": "String should match pattern '^password$'", "input": "client_credentials",
                           "ctx": {"pattern": "^password$"}}]})
    );
}

#[tokio::test]
async fn logout_revokes_the_token_and_bad_tokens_get_401_with_www_authenticate() {
    let app = spawn_app().await;
    kyc(&app).await;
    let token = token(&app).await;
    let other = self::token(&app).await;
    let r = app.request(Method::POST, "/auth/jwt/logout").bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    for t in [token.as_str(), "not-a-token", ""] {
        let (s, b, www) = me(&app, t).await;
        assert_eq!((s, b, www.as_deref()), (401, json!({"detail": "Unauthorized"}), Some("Bearer")), "{t}");
    }
    let r = app.request(Method::POST, "/auth/jwt/logout").bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Another login's token lives on.
    let (s, _, _) = me(&app, &other).await;
    assert_eq!(s, 200);
    // A deactivated user's tokens end at once.
    let (_, users) = app.admin(Method::GET, "/tenants/kyc/users?email=user@example.com", None).await;
    let id = users[0]["id"].as_str().unwrap();
    let (s, _) = app.admin(Method::PATCH, &format!("/tenants/kyc/users/{id}"), Some(json!({"active": false}))).await;
    assert_eq!(s, 200);
    let (s, _, _) = me(&app, &other).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn tokens_of_other_dialects_are_refused() {
    let app = spawn_app().await;
    kyc(&app).await;
    let (bank, _) = crate::helpers::kora_tenant(&app).await;
    let (access, _) = crate::helpers::tokens(&app, &bank).await;
    let (s, _, _) = me(&app, &access).await;
    assert_eq!(s, 401);
    // A tenant that does not serve the dialect answers as an unknown user would.
    let (s, _) = app.admin(Method::PATCH, "/tenants/kyc", Some(json!({"dialects": ["korastratum"]}))).await;
    assert_eq!(s, 200);
    let (s, b) = form_login(&app, &[("username", "user@example.com"), ("password", PASSWORD)]).await;
    assert_eq!((s, b), (400, json!({"detail": "LOGIN_BAD_CREDENTIALS"})));
}

/// The token of the last link mailed to `to`.
async fn mailed_token(app: &TestApp, to: &str, n: usize) -> String {
    let m = crate::helpers::outbox_message(app, to, n).await;
    let body = m["body"].as_str().unwrap();
    let start = body.find("token=").unwrap() + "token=".len();
    body[start..].split_whitespace().next().unwrap().to_string()
}

async fn post_json(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    castellan_testkit::send(app.request(Method::POST, path).json(&body)).await
}

#[tokio::test]
async fn register_verify_and_sign_in() {
    let app = spawn_app().await;
    kyc(&app).await;
    let body = json!({"email": "New@Example.com", "password": PASSWORD, "is_superuser": true, "is_verified": true});
    let (s, u) = post_json(&app, "/auth/register", body).await;
    assert_eq!(s, 201, "{u}");
    assert_eq!(u["email"], "new@example.com");
    assert_eq!(
        (u["is_active"].clone(), u["is_superuser"].clone(), u["is_verified"].clone()),
        (json!(true), json!(false), json!(false))
    );
    let (s, b) = post_json(&app, "/auth/register", json!({"email": "new@example.com", "password": PASSWORD})).await;
    assert_eq!((s, b), (400, json!({"detail": "REGISTER_USER_ALREADY_EXISTS"})));
    let (s, b) = post_json(&app, "/auth/register", json!({"email": "short@example.com", "password": "short"})).await;
    assert_eq!(s, 400);
    assert_eq!(b["detail"]["code"], "REGISTER_INVALID_PASSWORD");
    assert!(b["detail"]["reason"].is_string(), "{b}");
    let (s, b) = post_json(&app, "/auth/register", json!({"email": "not-an-email", "password": PASSWORD})).await;
    assert_eq!(s, 422);
    assert_eq!(b["detail"][0]["type"], "value_error");
    assert_eq!(b["detail"][0]["loc"], json!(["body", "email"]));
    let (s, b) = post_json(&app, "/auth/register", json!({"email": 5})).await;
    assert_eq!(s, 422);
    assert_eq!(b["detail"][0]["type"], "string_type");
    assert_eq!(b["detail"][1], json!({"type": "missing", "loc": ["body", "password"], "msg": "Field required", "input": null}));

    // Not verified yet.
    let (s, b) = form_login(&app, &[("username", "new@example.com"), ("password", PASSWORD)]).await;
    assert_eq!((s, b), (400, json!({"detail": "LOGIN_USER_NOT_VERIFIED"})));
    // A new link on request (202 for anyone), then verification.
    for email in ["new@example.com", "nobody@example.com"] {
        let (s, b) = post_json(&app, "/auth/request-verify-token", json!({"email": email})).await;
        assert_eq!((s, b), (202, Value::Null));
    }
    let token = mailed_token(&app, "new@example.com", 2).await;
    let (s, b) = post_json(&app, "/auth/verify", json!({"token": "bogus"})).await;
    assert_eq!((s, b), (400, json!({"detail": "VERIFY_USER_BAD_TOKEN"})));
    let (s, u) = post_json(&app, "/auth/verify", json!({"token": token})).await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["is_verified"], true);
    let (s, b) = post_json(&app, "/auth/verify", json!({"token": token})).await;
    assert_eq!((s, b), (400, json!({"detail": "VERIFY_USER_BAD_TOKEN"})), "a token works once");
    let (s, _) = form_login(&app, &[("username", "new@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn forgot_and_reset_password() {
    let app = spawn_app().await;
    kyc(&app).await;
    let old = token(&app).await;
    for email in ["user@example.com", "nobody@example.com"] {
        let (s, b) = post_json(&app, "/auth/forgot-password", json!({"email": email})).await;
        assert_eq!((s, b), (202, Value::Null));
    }
    let reset = mailed_token(&app, "user@example.com", 1).await;
    let (s, b) = post_json(&app, "/auth/reset-password", json!({"token": reset, "password": "short"})).await;
    assert_eq!(s, 400);
    assert_eq!(b["detail"]["code"], "RESET_PASSWORD_INVALID_PASSWORD");
    let (s, b) = post_json(&app, "/auth/reset-password", json!({"token": "bogus", "password": "another-Passw0rd-1"})).await;
    assert_eq!((s, b), (400, json!({"detail": "RESET_PASSWORD_BAD_TOKEN"})));
    let (s, b) = post_json(&app, "/auth/reset-password", json!({"token": reset, "password": "another-Passw0rd-1"})).await;
    assert_eq!((s, b), (200, Value::Null));
    let (s, b) = post_json(&app, "/auth/reset-password", json!({"token": reset, "password": "third-Passw0rd-22"})).await;
    assert_eq!((s, b), (400, json!({"detail": "RESET_PASSWORD_BAD_TOKEN"})));
    // The old token died with the sessions; the new password signs in.
    let (s, _, _) = me(&app, &old).await;
    assert_eq!(s, 401);
    let (s, _) = form_login(&app, &[("username", "user@example.com"), ("password", "another-Passw0rd-1")]).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn patch_me_changes_email_and_password() {
    let app = spawn_app().await;
    kyc(&app).await;
    let t = token(&app).await;
    let patch = |token: String, body: Value| {
        let app = &app;
        async move { castellan_testkit::send(app.request(Method::PATCH, "/users/me").bearer_auth(token).json(&body)).await }
    };
    let (s, b) = patch(t.clone(), json!({"password": "short"})).await;
    assert_eq!(s, 400);
    assert_eq!(b["detail"]["code"], "UPDATE_USER_INVALID_PASSWORD");
    let (s, b) = patch(t.clone(), json!({"email": "unverified@example.com"})).await;
    assert_eq!((s, b), (400, json!({"detail": "UPDATE_USER_EMAIL_ALREADY_EXISTS"})));
    let (s, u) = patch(t.clone(), json!({"email": "moved@example.com", "is_superuser": true})).await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(
        (u["email"].clone(), u["is_verified"].clone(), u["is_superuser"].clone()),
        (json!("moved@example.com"), json!(false), json!(false))
    );
    let (s, u) = patch(t.clone(), json!({"password": "changed-Passw0rd-9"})).await;
    assert_eq!(s, 200, "{u}");
    // A password change ends every session, this token's included.
    let (s, _, _) = me(&app, &t).await;
    assert_eq!(s, 401);
    let (s, b) = patch(t, json!({})).await;
    assert_eq!((s, b), (401, json!({"detail": "Unauthorized"})));
}

/// A Python (CASTELLAN_TEST_PYTHON, else `python3`) that can import `modules`, if there is one.
pub(crate) fn python_with(modules: &str) -> Option<String> {
    let python = std::env::var("CASTELLAN_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok =
        std::process::Command::new(&python).args(["-c", &format!("import {modules}")]).output().is_ok_and(|o| o.status.success());
    ok.then_some(python)
}

/// Runs a Python script with `env`; its standard output.
pub(crate) async fn run_python(python: String, script: &'static str, env: Vec<(&'static str, String)>) -> String {
    let out =
        tokio::task::spawn_blocking(move || std::process::Command::new(python).args(["-c", script]).envs(env).output().unwrap())
            .await
            .unwrap();
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The documentation's Python example, with /users/me as the protected resource.
const CLIENT_FLOW: &str = r#"
import os
import requests
login_url = os.environ["BASE"] + "/auth/jwt/login"
payload = {"username": os.environ["API_LOGIN"], "password": os.environ["API_PASSWORD"], "grant_type": "password"}
response = requests.post(login_url, data=payload)
response.raise_for_status()
token = response.json()["access_token"]
headers = {"Authorization": f"Bearer {token}"}
api_response = requests.get(os.environ["BASE"] + "/users/me", headers=headers)
api_response.raise_for_status()
print(api_response.json()["email"])
"#;

#[tokio::test]
async fn the_documented_python_client_flow_works() {
    let Some(python) = python_with("requests") else {
        println!("skipped: no Python with `requests` (set CASTELLAN_TEST_PYTHON)");
        return;
    };
    let app = spawn_app().await;
    kyc(&app).await;
    let env = vec![("BASE", app.address.clone()), ("API_LOGIN", "user@example.com".into()), ("API_PASSWORD", PASSWORD.into())];
    assert_eq!(run_python(python, CLIENT_FLOW, env).await, "user@example.com");
}

/// fastapi_users.jwt.decode_jwt, as a FastAPI resource server runs it with its text SECRET.
const DECODE: &str = r#"
import os
import jwt
claims = jwt.decode(os.environ["TOKEN"], os.environ["SECRET"], audience=["fastapi-users:auth"], algorithms=["HS256"])
print(claims["sub"])
try:
    jwt.decode(os.environ["TOKEN"], os.environ["SECRET"], audience=["another:auth"], algorithms=["HS256"])
    print("wrong audience accepted")
except jwt.InvalidAudienceError:
    pass
"#;

#[tokio::test]
async fn pyjwt_decodes_the_token_as_fastapi_users_does() {
    let Some(python) = python_with("jwt") else {
        println!("skipped: no Python with PyJWT (set CASTELLAN_TEST_PYTHON)");
        return;
    };
    let app = spawn_app().await;
    kyc(&app).await;
    let token = token(&app).await;
    let (s, k) = app.admin(Method::GET, "/tenants/kyc/keys/hs256", None).await;
    assert_eq!(s, 200, "{k}");
    let secret = k["secret_text"].as_str().expect("a text secret").to_string();
    let (_, user, _) = me(&app, &token).await;
    let out = run_python(python, DECODE, vec![("TOKEN", token), ("SECRET", secret)]).await;
    assert_eq!(out, user["id"].as_str().unwrap());
}

#[tokio::test]
async fn a_second_mount_serves_another_tenant() {
    let app = castellan_testkit::spawn_app_with(castellan_testkit::TestOptions {
        settings: Some(Box::new(|s| s.fastapi_users_mounts = vec!["/partners/=partners".into()])),
        ..Default::default()
    })
    .await;
    kyc(&app).await;
    let (s, t) = app
        .admin(
            Method::POST,
            "/tenants",
            Some(json!({"slug": "partners", "display_name": "Partners", "profile": "fastapi-users"})),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    let body = json!({"email": "partner@example.com", "password": PASSWORD, "email_verified": true});
    let (s, u) = app.admin(Method::POST, "/tenants/partners/users", Some(body)).await;
    assert_eq!(s, 201, "{u}");
    let login = |path: &'static str, user: &'static str| {
        let app = &app;
        async move {
            castellan_testkit::send(app.request(Method::POST, path).form(&[("username", user), ("password", PASSWORD)])).await
        }
    };
    let (s, b) = login("/partners/auth/jwt/login", "partner@example.com").await;
    assert_eq!(s, 200, "{b}");
    let partner_token = b["access_token"].as_str().unwrap().to_string();
    // Each mount knows its own tenant's users only, and its own tenant's tokens.
    let (s, b) = login("/partners/auth/jwt/login", "user@example.com").await;
    assert_eq!((s, b), (400, json!({"detail": "LOGIN_BAD_CREDENTIALS"})));
    let (s, _) = login("/auth/jwt/login", "partner@example.com").await;
    assert_eq!(s, 400);
    let r = app.request(Method::GET, "/partners/users/me").bearer_auth(&partner_token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (s, _, _) = me(&app, &partner_token).await;
    assert_eq!(s, 401);
    let (s, doc) = castellan_testkit::send(app.request(Method::GET, "/openapi.json")).await;
    assert_eq!(s, 200);
    assert!(doc["paths"]["/partners/auth/jwt/login"]["post"].is_object());
}

#[tokio::test]
async fn a_token_for_an_email_verified_meanwhile_answers_already_verified() {
    let app = spawn_app().await;
    kyc(&app).await;
    let (s, u) = post_json(&app, "/auth/register", json!({"email": "late@example.com", "password": PASSWORD})).await;
    assert_eq!(s, 201, "{u}");
    let token = mailed_token(&app, "late@example.com", 1).await;
    let id = u["id"].as_str().unwrap();
    let (s, _) = app.admin(Method::PATCH, &format!("/tenants/kyc/users/{id}"), Some(json!({"email_verified": true}))).await;
    assert_eq!(s, 200);
    let (s, b) = post_json(&app, "/auth/verify", json!({"token": token})).await;
    assert_eq!((s, b), (400, json!({"detail": "VERIFY_USER_ALREADY_VERIFIED"})));
}

#[tokio::test]
async fn a_token_lives_its_hour_and_no_longer_and_another_dialects_token_is_refused() {
    let app = spawn_app().await;
    kyc(&app).await;
    let t = token(&app).await;
    app.clock.advance(1900);
    let (s, _, _) = me(&app, &t).await;
    assert_eq!(s, 200, "idle for 31 minutes, still within its hour");
    app.clock.advance(1700 + 31);
    let (s, _, _) = me(&app, &t).await;
    assert_eq!(s, 401);
    // A korastratum token of the same tenant (same HS256 key and audience) is not this dialect's.
    let (s, _) = app.admin(Method::PATCH, "/tenants/kyc", Some(json!({"dialects": ["fastapi-users", "korastratum"]}))).await;
    assert_eq!(s, 200);
    let (s, b) = crate::helpers::login(&app, "kyc", "user@example.com", PASSWORD).await;
    assert_eq!(s, 200, "{b}");
    let kora = b["data"]["tokens"]["accessToken"].as_str().unwrap();
    let (s, _, _) = me(&app, kora).await;
    assert_eq!(s, 401);
    // An empty body is a missing body, as FastAPI says it.
    let (s, b) =
        castellan_testkit::send(app.request(Method::POST, "/auth/register").header("content-type", "application/json")).await;
    assert_eq!((s, b), (422, json!({"detail": [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": null}]})));
}
