//! The kumusoft envelope (`{"status": {"returnCode", "returnMessage"}, "data"}`) and the mapping
//! of core errors onto its return codes.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use castellan_core::CoreError;
use serde_json::{Value, json};

use crate::dialects::json::BodyError;

#[derive(Debug)]
pub struct KumuError {
    status: StatusCode,
    code: &'static str,
    message: String,
    data: Value,
    retry_after: Option<i64>,
}

impl KumuError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        KumuError { status, code, message: message.into(), data: Value::Null, retry_after: None }
    }

    /// `90`: a missing or malformed field, named in the message.
    pub fn validation(field: &str, reason: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "90", format!("{field}: {reason}"))
    }

    /// `05` with `retryAfterSeconds`.
    pub fn too_many(seconds: i64, message: &str) -> Self {
        KumuError {
            data: json!({ "retryAfterSeconds": seconds }),
            retry_after: Some(seconds),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "05", message)
        }
    }
}

impl From<BodyError> for KumuError {
    fn from(e: BodyError) -> Self {
        KumuError::validation(&e.field, &e.reason)
    }
}

impl From<CoreError> for KumuError {
    fn from(e: CoreError) -> Self {
        use StatusCode as S;
        match e {
            // Codes by key are not part of this contract: an unknown user is a failed sign-in.
            CoreError::InvalidCredentials
            | CoreError::EmailNotVerified
            | CoreError::UserNotFound
            | CoreError::NoChannelAddress => Self::new(S::UNAUTHORIZED, "01", "Invalid credentials"),
            CoreError::AccountLocked { retry_after_seconds } => KumuError {
                data: json!({ "retryAfterSeconds": retry_after_seconds }),
                retry_after: Some(retry_after_seconds),
                ..Self::new(S::LOCKED, "02", "Account locked after too many failed attempts")
            },
            CoreError::InvalidOtp { attempts_remaining } => KumuError {
                data: json!({ "attemptsRemaining": attempts_remaining }),
                ..Self::new(S::UNAUTHORIZED, "03", "Invalid OTP")
            },
            CoreError::InvalidMfaCode => Self::new(S::UNAUTHORIZED, "03", "Invalid OTP"),
            CoreError::OtpExpired | CoreError::InvalidToken | CoreError::NotFound => {
                Self::new(S::UNAUTHORIZED, "04", "OTP expired or challenge not found")
            }
            CoreError::ChallengeExhausted => Self::too_many(0, "Too many attempts on this challenge; sign in again"),
            CoreError::RateLimited { retry_after_seconds } => {
                Self::too_many(retry_after_seconds, "Too many requests; try again later")
            }
            CoreError::Overloaded => Self::too_many(1, "Server busy; try again shortly"),
            CoreError::UnknownApplication | CoreError::TenantNotFound | CoreError::Disabled => {
                Self::new(S::FORBIDDEN, "06", "Unknown or inactive application")
            }
            CoreError::InvalidRefreshToken | CoreError::RefreshTokenReused => {
                Self::new(S::UNAUTHORIZED, "07", "Invalid or expired refresh token")
            }
            CoreError::Unauthorized | CoreError::Forbidden => {
                Self::new(S::UNAUTHORIZED, "08", "Missing, invalid or expired access token")
            }
            CoreError::Validation(map) => {
                let message = map.iter().map(|(f, r)| format!("{f}: {r}")).collect::<Vec<_>>().join("; ");
                Self::new(S::BAD_REQUEST, "90", message)
            }
            // Codes go to one channel at a time here; a request cannot ask for more.
            CoreError::WeakPassword(_) | CoreError::Conflict(_) | CoreError::TooManyChannels => {
                Self::new(S::BAD_REQUEST, "90", e.to_string())
            }
            CoreError::Storage(cause) if castellan_core::error::unavailable(cause.as_ref()) => {
                tracing::warn!(cause = %castellan_core::error::Chain(cause.as_ref()), "kumusoft: database unavailable");
                Self::new(S::SERVICE_UNAVAILABLE, "99", "Service temporarily unavailable")
            }
            CoreError::Storage(cause) | CoreError::Internal(cause) => {
                tracing::error!(cause = %castellan_core::error::Chain(cause.as_ref()), "kumusoft: internal error");
                Self::new(S::INTERNAL_SERVER_ERROR, "99", "Internal error")
            }
        }
    }
}

impl IntoResponse for KumuError {
    fn into_response(self) -> Response {
        let body = json!({ "status": { "returnCode": self.code, "returnMessage": self.message }, "data": self.data });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.code == "08" {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

pub type KumuResult<T> = Result<T, KumuError>;
