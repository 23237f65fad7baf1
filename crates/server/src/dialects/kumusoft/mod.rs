//! Dialect `kumusoft`: identifier + password, then a one-time code (email, SMS or authenticator),
//! then an RS256 JWT verified through JWKS. Contract: docs/dialects/kumusoft.md.

mod dto;
mod error;
mod handlers;
mod schemas;
mod settings;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa::OpenApi as _;

use crate::api::Api;
use crate::dialects::mount::{DialectMount, OpenApi};
use crate::settings::{KeyKind, Settings};

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

/// The shared JWKS, also under the kumusoft prefix (documentation only: the route is
/// `ops::jwks`).
#[utoipa::path(get, path = "/v1/auth/.well-known/jwks.json", tag = "kumusoft",
    responses((status = 200, description = "A JWK set (RFC 7517)", body = crate::openapi::schemas::JwkSet)))]
#[allow(dead_code)]
async fn kumusoft_jwks() {}

#[derive(utoipa::OpenApi)]
#[openapi(paths(kumusoft_jwks))]
struct JwksDoc;

/// The kumusoft dialect as the application mounts it.
pub struct Kumusoft;

impl DialectMount for Kumusoft {
    fn name(&self) -> &'static str {
        DIALECT.as_str()
    }

    fn settings_keys(&self) -> &'static [(&'static str, KeyKind)] {
        settings::KEYS
    }

    fn router(&self, settings: &Settings) -> Api {
        router(&settings.kumusoft_prefix())
    }

    fn openapi(&self) -> OpenApi {
        let mut doc = ApiDoc::openapi();
        doc.merge(JwksDoc::openapi());
        doc
    }

    fn moved_prefixes(&self, settings: &Settings) -> Vec<(&'static str, String)> {
        vec![(DOCUMENTED_PREFIX, settings.kumusoft_prefix())]
    }

    fn prefixes(&self, settings: &Settings) -> Vec<String> {
        vec![settings.kumusoft_prefix()]
    }

    fn not_found(&self) -> Option<Response> {
        let body = json!({ "status": { "returnCode": "90", "returnMessage": "path: no such endpoint" }, "data": null });
        Some((StatusCode::NOT_FOUND, Json(body)).into_response())
    }

    fn body_too_large(&self, reason: &str) -> Option<Response> {
        let body = json!({ "status": { "returnCode": "90", "returnMessage": format!("body: {reason}") }, "data": null });
        Some(Json(body).into_response())
    }
}
