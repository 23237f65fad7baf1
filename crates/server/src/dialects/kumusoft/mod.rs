//! Dialect `kumusoft`: identifier + password, then a one-time code (email, SMS or authenticator),
//! then an RS256 JWT verified through JWKS. Contract: docs/dialects/kumusoft.md.

mod dto;
mod error;
mod handlers;
mod schemas;

use crate::api::Api;

pub use handlers::ApiDoc;

use castellan_core::model::Dialect;

pub const DIALECT: Dialect = Dialect::Kumusoft;

/// The prefix the OpenAPI document is written with; a configured prefix replaces it.
pub const DOCUMENTED_PREFIX: &str = "/v1/auth";

pub fn router(prefix: &str) -> Api {
    Api::default()
        .post(&format!("{prefix}/login"), handlers::login)
        .post(&format!("{prefix}/otp/verify"), handlers::verify_otp)
        .post(&format!("{prefix}/otp/resend"), handlers::resend_otp)
        .post(&format!("{prefix}/token/refresh"), handlers::refresh)
        .post(&format!("{prefix}/logout"), handlers::logout)
        .get(&format!("{prefix}/me"), handlers::me)
        .get(&format!("{prefix}/.well-known/jwks.json"), crate::ops::jwks)
}
