//! Dialect `mosip`: MOSIP's kernel authmanager (OTP, password and client-credential sign-in,
//! token validation and invalidation through cookies) and otpmanager. Contract:
//! docs/dialects/mosip.md.

mod authmanager;
mod dto;
mod envelope;
mod otpmanager;
mod settings;
mod tokens;

use axum::response::Response;
use utoipa::OpenApi as _;

use crate::api::Api;
use crate::dialects::mount::{DialectMount, OpenApi};
use crate::settings::{KeyKind, Settings};

use castellan_core::model::Dialect;

pub const DIALECT: Dialect = Dialect::Mosip;

/// The prefixes the OpenAPI document is written with; configured prefixes replace them.
pub const AUTHMANAGER_PREFIX: &str = "/v1/authmanager";
pub const OTPMANAGER_PREFIX: &str = "/v1/otpmanager";

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(authmanager::sendotp, authmanager::userid_otp, authmanager::userid_pwd, authmanager::client_id_secret_key,
          authmanager::refresh_token, authmanager::validate_token, authmanager::invalidate_token,
          otpmanager::generate, otpmanager::validate),
    components(schemas(dto::RequestEnvelope, dto::ResponseEnvelope, dto::ServiceError, dto::SendOtpRequest,
                       dto::UserIdOtpRequest, dto::UserIdPwdRequest, dto::ClientIdSecretKeyRequest,
                       dto::RefreshTokenRequest, dto::GenerateOtpRequest)),
    tags((name = "mosip", description = "MOSIP kernel authmanager and otpmanager: request envelopes {id, version, requesttime, \
        request}, response envelopes {id, version, ver, responsetime, metadata, response, errors}; errors answer HTTP 200. \
        Field names inside `request` match case-insensitively."))
)]
pub struct ApiDoc;

pub fn router(authmanager: &str, otpmanager: &str) -> Api {
    Api::default()
        .post(&format!("{authmanager}/authenticate/sendotp"), authmanager::sendotp)
        .post(&format!("{authmanager}/authenticate/useridOTP"), authmanager::userid_otp)
        .post(&format!("{authmanager}/authenticate/internal/useridPwd"), authmanager::userid_pwd)
        .post(&format!("{authmanager}/authenticate/clientidsecretkey"), authmanager::client_id_secret_key)
        .post(&format!("{authmanager}/authorize/refreshToken/{{appId}}"), authmanager::refresh_token)
        .get(&format!("{authmanager}/authorize/admin/validateToken"), authmanager::validate_token)
        .post(&format!("{authmanager}/authorize/invalidateToken"), authmanager::invalidate_token)
        .post(&format!("{otpmanager}/otp/generate"), otpmanager::generate)
        .get(&format!("{otpmanager}/otp/validate"), otpmanager::validate)
}

/// A body declared larger than the limit, in MOSIP's envelope (the caller sets the status).
fn body_too_large(reason: &str) -> Response {
    envelope::error_response(None, envelope::MosipError::invalid("body", reason))
}

/// An unknown path under a MOSIP mount, in MOSIP's envelope.
fn not_found() -> Response {
    let mut response = envelope::error_response(None, envelope::MosipError::new("KER-ATH-404", "No such endpoint"));
    *response.status_mut() = axum::http::StatusCode::NOT_FOUND;
    response
}

/// The MOSIP dialect as the application mounts it.
pub struct Mosip;

impl DialectMount for Mosip {
    fn name(&self) -> &'static str {
        DIALECT.as_str()
    }

    fn settings_keys(&self) -> &'static [(&'static str, KeyKind)] {
        settings::KEYS
    }

    fn check_settings(&self, settings: &Settings) -> Vec<String> {
        settings::check(settings)
    }

    fn router(&self, settings: &Settings) -> Api {
        router(&settings.mosip_authmanager_prefix(), &settings.mosip_otpmanager_prefix())
    }

    fn openapi(&self) -> OpenApi {
        ApiDoc::openapi()
    }

    fn moved_prefixes(&self, settings: &Settings) -> Vec<(&'static str, String)> {
        vec![(AUTHMANAGER_PREFIX, settings.mosip_authmanager_prefix()), (OTPMANAGER_PREFIX, settings.mosip_otpmanager_prefix())]
    }

    fn prefixes(&self, settings: &Settings) -> Vec<String> {
        vec![settings.mosip_authmanager_prefix(), settings.mosip_otpmanager_prefix()]
    }

    fn not_found(&self) -> Option<Response> {
        Some(not_found())
    }

    fn body_too_large(&self, reason: &str) -> Option<Response> {
        Some(body_too_large(reason))
    }
}
