//! Answers of the token, introspection and revocation endpoints (RFC 6749 §5.2 JSON errors,
//! never cached) and of UserInfo (RFC 6750 `WWW-Authenticate`).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use castellan_core::CoreError;
use castellan_core::services::provider::{OAuthError, ProviderError};
use serde_json::json;

/// A JSON answer that no cache may keep (tokens, errors about them).
pub fn no_store(status: StatusCode, body: serde_json::Value) -> Response {
    let mut r = (status, Json(body)).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// An OAuth error at the token endpoint family. `invalid_client` is 401 with a Basic challenge
/// (RFC 6749 §5.2); the rest are 400.
pub fn oauth_error(e: &OAuthError, realm: &str) -> Response {
    let status = if e.error == "invalid_client" { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
    let mut r = no_store(status, json!({"error": e.error, "error_description": e.description}));
    if status == StatusCode::UNAUTHORIZED
        && let Ok(v) = HeaderValue::from_str(&format!("Basic realm=\"{realm}\""))
    {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// A core failure at the token endpoint family: a storage or internal fault is the server's
/// (logged once, with its causes); overload and rate limits say when to come back.
pub fn core_error(e: CoreError, realm: &str) -> Response {
    let (status, error, description, retry) = match e {
        CoreError::RateLimited { retry_after_seconds } => {
            (StatusCode::TOO_MANY_REQUESTS, "slow_down", "too many requests", Some(retry_after_seconds))
        }
        CoreError::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "server busy", Some(1)),
        CoreError::InvalidRefreshToken | CoreError::RefreshTokenReused => {
            return oauth_error(&OAuthError::new("invalid_grant", "invalid refresh token"), realm);
        }
        CoreError::Storage(cause) if castellan_core::error::unavailable(cause.as_ref()) => {
            tracing::warn!(cause = %castellan_core::error::Chain(cause.as_ref()), "oidc: database unavailable");
            // As every dialect answers it: the header is the middleware's (5 s).
            (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "the database is unavailable", None)
        }
        CoreError::Storage(_) | CoreError::Internal(_) => {
            tracing::error!(error = %castellan_core::error::Chain(&e), "oidc");
            (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "the server cannot answer now", Some(1))
        }
        other => {
            tracing::warn!(error = %other, "oidc: unexpected refusal");
            (StatusCode::BAD_REQUEST, "invalid_request", "the request cannot be honoured", None)
        }
    };
    let mut r = no_store(status, json!({"error": error, "error_description": description}));
    if let Some(s) = retry
        && let Ok(v) = HeaderValue::from_str(&s.max(1).to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

pub fn oidc_error(e: ProviderError, realm: &str) -> Response {
    match e {
        ProviderError::OAuth(e) => oauth_error(&e, realm),
        ProviderError::Core(e) => core_error(e, realm),
    }
}

/// A refusal at a resource endpoint (UserInfo): the challenge says why (RFC 6750 §3).
pub fn bearer_error(status: StatusCode, realm: &str, error: Option<(&str, &str)>) -> Response {
    challenge_error("Bearer", status, realm, error)
}

/// A refusal at a resource endpoint in the scheme the token came with (`Bearer`, or `DPoP`
/// with the algorithms proofs may use, RFC 9449 §7.1).
pub fn challenge_error(scheme: &str, status: StatusCode, realm: &str, error: Option<(&str, &str)>) -> Response {
    let algs = if scheme == "DPoP" { ", algs=\"ES256 EdDSA RS256 PS256\"" } else { "" };
    let challenge = match error {
        Some((code, why)) => format!("{scheme} realm=\"{realm}\"{algs}, error=\"{code}\", error_description=\"{why}\""),
        None => format!("{scheme} realm=\"{realm}\"{algs}"),
    };
    let body = match error {
        Some((code, why)) => json!({"error": code, "error_description": why}),
        None => json!({"error": "invalid_request", "error_description": "no access token"}),
    };
    let mut r = no_store(status, body);
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// Adds the realm's current DPoP nonce to an answer (RFC 9449 §8).
pub fn with_dpop_nonce(mut r: Response, nonce: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(nonce) {
        r.headers_mut().insert("dpop-nonce", v);
    }
    r
}

/// A realm this server does not have, or that is not served by OpenID Connect.
pub fn realm_not_found() -> Response {
    no_store(StatusCode::NOT_FOUND, json!({"error": "not_found", "error_description": "no such realm"}))
}
