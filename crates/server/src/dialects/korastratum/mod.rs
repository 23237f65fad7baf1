//! Dialect `korastratum`: tenant-scoped banking auth (HS256 JWT, single-use refresh, TOTP 2FA,
//! sessions, lockout, registration and password reset). Contract: docs/dialects/korastratum.md.

mod dto;
mod error;
mod extract;
mod handlers;
mod schemas;

use crate::api::Api;

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
        .get("/api/v1/auth/sessions", handlers::list_sessions)
        .delete("/api/v1/auth/sessions/{id}", handlers::revoke_session)
        .post("/api/v1/auth/logout", handlers::logout)
        .post("/api/v1/auth/logout-all", handlers::logout_all)
        .post("/api/v1/registration/register", handlers::register)
        .post("/api/v1/registration/verify-email", handlers::verify_email)
        .post("/api/v1/registration/forgot-password", handlers::forgot_password)
        .post("/api/v1/registration/reset-password", handlers::reset_password)
}
