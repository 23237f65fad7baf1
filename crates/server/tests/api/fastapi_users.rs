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
