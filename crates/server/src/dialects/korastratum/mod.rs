//! Dialect `korastratum`: tenant-scoped banking auth (HS256 JWT, single-use refresh, TOTP 2FA,
//! sessions, lockout, registration and password reset). Contract: docs/dialects/korastratum.md.

mod dto;
mod error;
mod extract;
mod handlers;
mod schemas;
mod webauthn;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa::OpenApi as _;

use crate::api::Api;
use crate::dialects::mount::{DialectMount, OpenApi};
use crate::settings::Settings;

pub use handlers::ApiDoc;

use castellan_core::model::Dialect;

pub const DIALECT: Dialect = Dialect::Korastratum;

pub fn router() -> Api {
    Api::default()
        .post("/api/v1/auth/login", handlers::login)
        .post("/api/v1/auth/refresh", handlers::refresh)
        .post("/api/v1/auth/2fa/verify-login", handlers::verify_login)
        .post("/api/v1/auth/2fa/status", handlers::totp_status)
        .post("/api/v1/auth/2fa/setup", handlers::totp_setup)
        .post("/api/v1/auth/2fa/verify-setup", handlers::totp_verify_setup)
        .post("/api/v1/auth/2fa/disable", handlers::totp_disable)
        .post("/api/v1/auth/2fa/webauthn/register-options", webauthn::webauthn_register_options)
        .post("/api/v1/auth/2fa/webauthn/register", webauthn::webauthn_register)
        .get("/api/v1/auth/2fa/webauthn/credentials", webauthn::webauthn_credentials)
        .delete("/api/v1/auth/2fa/webauthn/credentials/{id}", webauthn::webauthn_remove)
        .post("/api/v1/auth/2fa/webauthn/login-options", webauthn::webauthn_login_options)
        .post("/api/v1/auth/2fa/webauthn/verify-login", webauthn::webauthn_verify_login)
        .post("/api/v1/auth/2fa/recovery-codes", webauthn::recovery_codes)
        .get("/api/v1/auth/sessions", handlers::list_sessions)
        .delete("/api/v1/auth/sessions/{id}", handlers::revoke_session)
        .post("/api/v1/auth/logout", handlers::logout)
        .post("/api/v1/auth/logout-all", handlers::logout_all)
        .post("/api/v1/registration/register", handlers::register)
        .post("/api/v1/registration/verify-email", handlers::verify_email)
        .post("/api/v1/registration/forgot-password", handlers::forgot_password)
        .post("/api/v1/registration/reset-password", handlers::reset_password)
}

/// The korastratum dialect as the application mounts it.
pub struct Korastratum;

impl DialectMount for Korastratum {
    fn name(&self) -> &'static str {
        DIALECT.as_str()
    }

    fn router(&self, _settings: &Settings) -> Api {
        router()
    }

    fn openapi(&self) -> OpenApi {
        ApiDoc::openapi()
    }

    fn prefixes(&self, _settings: &Settings) -> Vec<String> {
        vec!["/api/v1".into()]
    }

    fn not_found(&self) -> Option<Response> {
        let body = json!({ "success": false, "error": { "code": "NOT_FOUND", "message": "Not found" } });
        Some((StatusCode::NOT_FOUND, Json(body)).into_response())
    }

    fn body_too_large(&self, reason: &str) -> Option<Response> {
        let error = json!({ "code": "VALIDATION_ERROR", "message": "The request is invalid", "details": { "body": reason } });
        Some(Json(json!({ "success": false, "error": error })).into_response())
    }
}
