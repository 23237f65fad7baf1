//! The admin capability: an [`AdminAccess`] exists only after the bearer token checked out.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::AdminError;
use crate::dialects::json::parse_json;
use crate::state::AppState;

/// Proof that the caller presented a valid admin token. Its field is private: no handler can
/// make one up.
pub struct AdminAccess(());

impl FromRequestParts<AppState> for AdminAccess {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AdminError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or("");
        let unauthorized = || AdminError::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid admin token is required");
        if token.is_empty() {
            return Err(unauthorized());
        }
        let given = state.core.admin_tokens().admin_token_digest(token);
        let bootstrap = state
            .settings
            .admin_token
            .as_ref()
            .filter(|t| !t.0.is_empty())
            .is_some_and(|t| castellan_core::crypto::ct_eq(&state.core.admin_tokens().admin_token_digest(&t.0), &given));
        if bootstrap || state.core.admin_tokens().check_admin_token(token).await? {
            Ok(AdminAccess(()))
        } else if token.matches('.').count() == 2 {
            // A user's access token is a credential, just not an admin one.
            Err(AdminError::new(StatusCode::FORBIDDEN, "forbidden", "this token does not grant admin access"))
        } else {
            Err(unauthorized())
        }
    }
}

/// A JSON body for the admin API. A body of another media type is 415 `unsupported_media_type`:
/// the API is Castellan's own, so it answers with HTTP's own status.
pub struct AJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for AJson<T> {
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AdminError> {
        match parse_json(req, state).await {
            Ok(v) => Ok(AJson(v)),
            Err(e) if e.media_type => Err(AdminError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Content-Type must be application/json",
            )),
            Err(e) => Err(e.into()),
        }
    }
}

/// A query string; one that cannot be read (a number that is not one, a field repeated) is a
/// 400 in the admin API's shape rather than axum's plain text.
pub struct AQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for AQuery<T> {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AdminError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(AQuery(v)),
            Err(e) => {
                let why = e.body_text();
                Err(AdminError::bad_request(format!("query: {}", why.trim_start_matches("Failed to deserialize query string: "))))
            }
        }
    }
}
