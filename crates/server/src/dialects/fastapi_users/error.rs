//! fastapi-users' answers to failure: `{"detail": "CODE"}`, FastAPI's 422 validation list, and a
//! 401 with `WWW-Authenticate: Bearer`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use castellan_core::CoreError;
use serde_json::{Value, json};

#[derive(Debug)]
pub struct FuError {
    status: StatusCode,
    detail: Value,
    retry_after: Option<i64>,
}

impl FuError {
    /// 400 `{"detail": code}`.
    pub fn bad_request(code: &str) -> Self {
        FuError { status: StatusCode::BAD_REQUEST, detail: json!(code), retry_after: None }
    }

    /// 400 `{"detail": {"code": code, "reason": reason}}`.
    pub fn bad_request_with_reason(code: &str, reason: &str) -> Self {
        FuError { status: StatusCode::BAD_REQUEST, detail: json!({ "code": code, "reason": reason }), retry_after: None }
    }

    pub fn not_found() -> Self {
        FuError { status: StatusCode::NOT_FOUND, detail: json!("Not Found"), retry_after: None }
    }

    pub fn unauthorized() -> Self {
        FuError { status: StatusCode::UNAUTHORIZED, detail: json!("Unauthorized"), retry_after: None }
    }

    /// 422 with FastAPI's list of `{type, loc, msg, input}` (plus `ctx` where FastAPI sends one).
    pub fn unprocessable(errors: Vec<Value>) -> Self {
        FuError { status: StatusCode::UNPROCESSABLE_ENTITY, detail: Value::Array(errors), retry_after: None }
    }

    pub fn too_many(seconds: i64) -> Self {
        FuError { status: StatusCode::TOO_MANY_REQUESTS, detail: json!("TOO_MANY_REQUESTS"), retry_after: Some(seconds) }
    }
}

/// One entry of a 422 list: a required body field that is absent.
pub fn missing(field: &str) -> Value {
    json!({ "type": "missing", "loc": ["body", field], "msg": "Field required", "input": null })
}

impl From<CoreError> for FuError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::RateLimited { retry_after_seconds } => Self::too_many(retry_after_seconds),
            CoreError::Overloaded => Self::too_many(1),
            CoreError::Unauthorized | CoreError::Forbidden | CoreError::InvalidToken => Self::unauthorized(),
            CoreError::NotFound | CoreError::Disabled | CoreError::TenantNotFound => {
                FuError { status: StatusCode::NOT_FOUND, detail: json!("Not Found"), retry_after: None }
            }
            CoreError::Validation(map) => Self::unprocessable(
                map.iter()
                    .map(|(field, reason)| json!({"type": "value_error", "loc": ["body", field], "msg": reason, "input": null}))
                    .collect(),
            ),
            CoreError::Storage(cause) if castellan_core::error::unavailable(cause.as_ref()) => {
                tracing::warn!(cause = %castellan_core::error::Chain(cause.as_ref()), "fastapi-users: database unavailable");
                FuError { status: StatusCode::SERVICE_UNAVAILABLE, detail: json!("Service Unavailable"), retry_after: Some(5) }
            }
            CoreError::Storage(cause) | CoreError::Internal(cause) => {
                tracing::error!(cause = %castellan_core::error::Chain(cause.as_ref()), "fastapi-users: internal error");
                FuError { status: StatusCode::INTERNAL_SERVER_ERROR, detail: json!("Internal Server Error"), retry_after: None }
            }
            // The handlers answer the contract's own codes for these where the contract has one;
            // elsewhere the reason is the detail.
            e @ (CoreError::InvalidCredentials
            | CoreError::EmailNotVerified
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
            | CoreError::WeakPassword(_)
            | CoreError::Conflict(_)) => Self::bad_request(&e.to_string()),
        }
    }
}

impl IntoResponse for FuError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "detail": self.detail }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

pub type FuResult<T> = Result<T, FuError>;
