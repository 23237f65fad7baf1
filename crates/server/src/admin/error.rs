//! Admin API errors: `{"error": {"code", "message"}}` with a fitting status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use castellan_core::CoreError;
use serde_json::json;

use crate::dialects::json::BodyError;

#[derive(Debug)]
pub struct AdminError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl AdminError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AdminError { status, code, message: message.into() }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }
}

impl From<BodyError> for AdminError {
    fn from(e: BodyError) -> Self {
        Self::bad_request(format!("{}: {}", e.field, e.reason))
    }
}

impl From<CoreError> for AdminError {
    fn from(e: CoreError) -> Self {
        use StatusCode as S;
        match e {
            CoreError::Validation(map) => {
                let msg = map.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("; ");
                Self::bad_request(msg)
            }
            CoreError::WeakPassword(rules) => {
                Self::new(S::BAD_REQUEST, "weak_password", format!("unmet rules: {}", rules.join(", ")))
            }
            CoreError::TenantNotFound => Self::new(S::NOT_FOUND, "tenant_not_found", "tenant not found"),
            CoreError::NotFound => Self::new(S::NOT_FOUND, "not_found", "not found"),
            CoreError::Conflict(what) => Self::new(S::CONFLICT, "conflict", format!("{what} already taken")),
            CoreError::Unauthorized | CoreError::InvalidCredentials => {
                Self::new(S::UNAUTHORIZED, "unauthorized", "admin token required")
            }
            CoreError::Forbidden => Self::new(S::FORBIDDEN, "forbidden", "not allowed"),
            CoreError::Disabled => Self::new(S::NOT_FOUND, "not_found", "not available"),
            CoreError::RateLimited { .. } | CoreError::Overloaded => {
                Self::new(S::TOO_MANY_REQUESTS, "rate_limited", "too many requests")
            }
            CoreError::Storage(cause) if castellan_core::error::unavailable(cause.as_ref()) => {
                tracing::warn!(cause = %castellan_core::error::Chain(cause.as_ref()), "admin: database unavailable");
                Self::new(S::SERVICE_UNAVAILABLE, "unavailable", "the database is unavailable; try again")
            }
            CoreError::Storage(cause) | CoreError::Internal(cause) => {
                tracing::error!(cause = %castellan_core::error::Chain(cause.as_ref()), "admin: internal error");
                Self::new(S::INTERNAL_SERVER_ERROR, "internal_error", "internal error")
            }
            // Refusals of the dialects' sign-in flows, which no admin call gives: named as they are.
            e @ (CoreError::EmailNotVerified
            | CoreError::AccountLocked { .. }
            | CoreError::InvalidMfaCode
            | CoreError::UnknownApplication
            | CoreError::InvalidOtp { .. }
            | CoreError::OtpExpired
            | CoreError::ChallengeExhausted
            | CoreError::UserNotFound
            | CoreError::NoChannelAddress
            | CoreError::TooManyChannels
            | CoreError::InvalidRefreshToken
            | CoreError::RefreshTokenReused
            | CoreError::InvalidToken) => Self::bad_request(e.to_string()),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": { "code": self.code, "message": self.message } }))).into_response()
    }
}

pub type AdminResult<T> = Result<T, AdminError>;
