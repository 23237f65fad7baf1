//! A dialect defined here, outside the server crate, mounted through the same registration as
//! Castellan's own: one route that signs in with a password through the core and answers a
//! signed token. Nothing else in the server knows it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use castellan_core::model::{Dialect, KeyAlg};
use castellan_core::services::login::{LoginOutcome, PasswordLogin};
use castellan_server::AppState;
use castellan_server::api::Api;
use castellan_server::client::Ctx;
use castellan_server::dialects::DialectMount;
use castellan_server::dialects::mount::OpenApi;
use castellan_server::settings::Settings;
use castellan_testkit::{TestApp, TestOptions, send, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{KUMU_PASSWORD, kumu_tenant};
use crate::kumusoft::verify_with_jwks;

const TOY: &str = "toy";
/// The core keeps each protocol's sessions apart by a `Dialect`; a dialect added for real gets its
/// own variant, a toy defined in a test borrows one whose tenants it signs in.
const TOY_SESSIONS: Dialect = Dialect::Kumusoft;

struct Toy;

impl DialectMount for Toy {
    fn name(&self) -> &'static str {
        TOY
    }

    fn router(&self, _settings: &Settings) -> Api {
        Api::default().post("/toy/sign-in", sign_in)
    }

    fn openapi(&self) -> OpenApi {
        serde_json::from_value(json!({
            "openapi": "3.1.0",
            "info": { "title": "toy", "version": "1" },
            "paths": { "/toy/sign-in": { "post": {
                "tags": ["toy"], "operationId": "sign_in",
                "responses": { "200": { "description": "A signed token" } }
            } } }
        }))
        .unwrap()
    }

    fn prefixes(&self, _settings: &Settings) -> Vec<String> {
        vec!["/toy".into()]
    }

    fn not_found(&self) -> Option<Response> {
        Some((StatusCode::NOT_FOUND, Json(json!({ "toy": "no such page" }))).into_response())
    }

    fn body_too_large(&self, reason: &str) -> Option<Response> {
        Some(Json(json!({ "toy": reason })).into_response())
    }
}

/// `{"tenant", "username", "password"}` → `{"token"}`, signed with the tenant's asymmetric key.
async fn sign_in(State(state): State<AppState>, ctx: Ctx, Json(body): Json<Value>) -> Response {
    let field = |k: &str| body[k].as_str().unwrap_or_default().to_string();
    let Ok(tenant) = state.core.tenants().find_tenant(&field("tenant")).await else {
        return (StatusCode::NOT_FOUND, Json(json!({ "toy": "no such tenant" }))).into_response();
    };
    let login = PasswordLogin {
        identifier: field("username"),
        password: field("password"),
        totp_code: None,
        device: json!({}),
        dialect: TOY_SESSIONS,
        keys_as_second_factor: false,
    };
    let Ok(LoginOutcome::Authenticated(auth)) = state.core.login().login_with_password(&tenant, login, &ctx.client).await else {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "toy": "refused" }))).into_response();
    };
    let now = state.core.now();
    let claims = json!({
        "sub": auth.user.id, "sid": auth.session.id, "iss": tenant.issuer, "aud": TOY, "iat": now, "exp": now + 300,
    });
    match state.core.signing_keys().sign_token(&tenant, &[KeyAlg::RS256, KeyAlg::ES256], "JWT", &claims).await {
        Ok(token) => Json(json!({ "token": token })).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn spawn_with_toy(adjust: impl FnOnce(&mut Settings) + Send + 'static) -> TestApp {
    spawn_app_with(TestOptions { extra_dialects: vec![&Toy], settings: Some(Box::new(adjust)), ..TestOptions::default() }).await
}

async fn toy_sign_in(app: &TestApp, tenant: &str, password: &str) -> (u16, Value) {
    let body = json!({ "tenant": tenant, "username": "user_8742", "password": password });
    send(app.request(Method::POST, "/toy/sign-in").json(&body)).await
}

#[tokio::test]
async fn a_dialect_defined_outside_the_server_signs_in_and_its_token_verifies_with_the_tenants_keys() {
    let app = spawn_with_toy(|_| {}).await;
    let (slug, _, _) = kumu_tenant(&app).await;

    let (status, body) = toy_sign_in(&app, &slug, KUMU_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap();
    let tenant = app.core.tenants().find_tenant(&slug).await.unwrap();
    let jwks = app.url(&format!("/t/{slug}/.well-known/jwks.json"));
    let claims = verify_with_jwks(&jwks, token, &tenant.issuer, TOY).await.unwrap();
    let sessions = app.core.sessions().list_sessions(&tenant, claims["sub"].as_str().unwrap().parse().unwrap()).await.unwrap();
    assert!(sessions.iter().any(|s| claims["sid"] == s.id.as_str() && s.dialect == TOY_SESSIONS), "{sessions:?}");

    let (status, body) = toy_sign_in(&app, &slug, "wrong password").await;
    assert_eq!((status, body), (401, json!({ "toy": "refused" })));
}

#[tokio::test]
async fn a_mounted_dialect_answers_refusals_under_its_prefix_and_is_documented() {
    let app = spawn_with_toy(|s| s.body_limit_bytes = 256).await;

    let (status, body) = send(app.request(Method::GET, "/toy/no-such-page")).await;
    assert_eq!((status, body), (404, json!({ "toy": "no such page" })));
    let oversized = json!({ "tenant": "x".repeat(1024) });
    let (status, body) = send(app.request(Method::POST, "/toy/sign-in").json(&oversized)).await;
    assert_eq!((status, body), (413, json!({ "toy": "larger than 256 bytes" })));

    // Castellan's own dialects keep their answers beside it.
    let (status, body) = send(app.request(Method::GET, "/api/v1/no-such-page")).await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("NOT_FOUND")), "{body}");
    let (status, body) = send(app.request(Method::GET, "/elsewhere")).await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")), "{body}");

    let (_, doc) = send(app.request(Method::GET, "/openapi.json")).await;
    assert_eq!(doc["paths"]["/toy/sign-in"]["post"]["operationId"], "toy.sign_in");
    assert!(doc["paths"]["/api/v1/auth/login"]["post"].is_object());
}
