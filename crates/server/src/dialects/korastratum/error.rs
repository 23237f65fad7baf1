//! The korastratum error envelope and the mapping of core errors onto its codes.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use castellan_core::{ConflictOn, CoreError};
use serde_json::{Value, json};

use crate::dialects::json::BodyError;

#[derive(Debug)]
pub struct KoraError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Option<Value>,
    retry_after: Option<i64>,
}

impl KoraError {
    pub fn new(status: StatusCode, code: &'static str, message: &str) -> Self {
        KoraError { status, code, message: message.to_string(), details: None, retry_after: None }
    }

    pub fn validation(field: &str, reason: &str) -> Self {
        KoraError {
            details: Some(json!({ field: reason })),
            ..Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "The request is invalid")
        }
    }

    pub fn rate_limited(seconds: i64) -> Self {
        KoraError { retry_after: Some(seconds), ..Self::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", "Too many requests") }
    }
}

impl From<BodyError> for KoraError {
    fn from(e: BodyError) -> Self {
        KoraError::validation(&e.field, &e.reason)
    }
}

impl From<CoreError> for KoraError {
    fn from(e: CoreError) -> Self {
        use StatusCode as S;
        match e {
            CoreError::Validation(map) => {
                KoraError { details: Some(json!(map)), ..Self::new(S::BAD_REQUEST, "VALIDATION_ERROR", "The request is invalid") }
            }
            CoreError::TenantNotFound => Self::new(S::NOT_FOUND, "TENANT_NOT_FOUND", "Tenant not found"),
            CoreError::InvalidCredentials | CoreError::EmailNotVerified => {
                Self::new(S::UNAUTHORIZED, "INVALID_CREDENTIALS", "Invalid email or password")
            }
            CoreError::AccountLocked { retry_after_seconds } => KoraError {
                details: Some(json!({ "retryAfterSeconds": retry_after_seconds })),
                retry_after: Some(retry_after_seconds),
                ..Self::new(S::LOCKED, "ACCOUNT_LOCKED", "Too many failed attempts; the account is locked")
            },
            CoreError::InvalidMfaCode => Self::new(S::UNAUTHORIZED, "INVALID_MFA_CODE", "Invalid two-factor code"),
            CoreError::Unauthorized | CoreError::Forbidden => {
                Self::new(S::UNAUTHORIZED, "UNAUTHORIZED", "Authentication required")
            }
            CoreError::InvalidRefreshToken => {
                Self::new(S::UNAUTHORIZED, "INVALID_REFRESH_TOKEN", "Invalid or expired refresh token")
            }
            CoreError::RefreshTokenReused => {
                Self::new(S::UNAUTHORIZED, "REFRESH_TOKEN_REUSED", "Refresh token already used; the session has been revoked")
            }
            CoreError::WeakPassword(rules) => KoraError {
                details: Some(json!({ "unmetRules": rules })),
                ..Self::new(S::BAD_REQUEST, "WEAK_PASSWORD", "The password does not meet the requirements")
            },
            // The contract names EMAIL_TAKEN; the other identifiers get codes of the same form.
            CoreError::Conflict(ConflictOn::Email) => {
                Self::new(S::CONFLICT, "EMAIL_TAKEN", "An account with this email already exists")
            }
            CoreError::Conflict(ConflictOn::Phone) => {
                Self::new(S::CONFLICT, "PHONE_TAKEN", "An account with this phone number already exists")
            }
            CoreError::Conflict(ConflictOn::Username) => {
                Self::new(S::CONFLICT, "USERNAME_TAKEN", "An account with this username already exists")
            }
            CoreError::Conflict(_) => Self::new(S::CONFLICT, "CONFLICT", "This value is already taken"),
            CoreError::InvalidToken => Self::new(S::BAD_REQUEST, "INVALID_RESET_TOKEN", "Invalid or expired token"),
            // One-time-code login is not part of this contract; these cannot arise here.
            CoreError::UnknownApplication
            | CoreError::OtpExpired
            | CoreError::ChallengeExhausted
            | CoreError::UserNotFound
            | CoreError::NoChannelAddress
            | CoreError::TooManyChannels => Self::new(S::UNAUTHORIZED, "UNAUTHORIZED", "Authentication required"),
            CoreError::InvalidOtp { .. } => Self::new(S::UNAUTHORIZED, "INVALID_MFA_CODE", "Invalid two-factor code"),
            CoreError::NotFound | CoreError::Disabled => Self::new(S::NOT_FOUND, "NOT_FOUND", "Not found"),
            CoreError::RateLimited { retry_after_seconds } => Self::rate_limited(retry_after_seconds),
            CoreError::Overloaded => Self::rate_limited(1),
            CoreError::Storage(cause) if castellan_core::error::unavailable(cause.as_ref()) => {
                tracing::warn!(cause = %castellan_core::error::Chain(cause.as_ref()), "korastratum: database unavailable");
                Self::new(S::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", "Service temporarily unavailable")
            }
            CoreError::Storage(cause) | CoreError::Internal(cause) => {
                tracing::error!(cause = %castellan_core::error::Chain(cause.as_ref()), "korastratum: internal error");
                Self::new(S::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "Internal error")
            }
        }
    }
}

impl IntoResponse for KoraError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(d) = self.details {
            error["details"] = d;
        }
        let mut response = (self.status, Json(json!({ "success": false, "error": error }))).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

pub type KoraResult<T> = Result<T, KoraError>;
