//! UserInfo (OpenID Connect Core §5.3): the bearer token in the header, or on POST in the form
//! (RFC 6750 §2.2), never both; a DPoP-bound token with the `DPoP` scheme and its proof.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use castellan_core::services::provider::{DpopRequest, TokenScheme, UserinfoError};

use super::authorize::form;
use super::error::{bearer_error, challenge_error, core_error, no_store, realm_not_found, with_dpop_nonce};
use super::realm;
use crate::state::AppState;

/// UserInfo, with the access token in the Authorization header.
#[utoipa::path(get, path = "/realms/{tenant}/protocol/openid-connect/userinfo", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    security(("bearer" = [])),
    responses((status = 200, description = "sub and the claims of the token's scopes", body = super::schemas::OidcUserInfo),
        (status = 401, description = "No token, or invalid_token (WWW-Authenticate: Bearer)", body = crate::openapi::schemas::OAuthError),
        (status = 403, description = "insufficient_scope: the token was not granted openid", body = crate::openapi::schemas::OAuthError),
        (status = 404, description = "No such realm", body = crate::openapi::schemas::OAuthError)))]
pub async fn userinfo_get(State(state): State<AppState>, headers: HeaderMap, Path(slug): Path<String>) -> Response {
    let token = presented(&headers);
    answer(&state, &slug, token, &headers, "GET").await
}

/// The access token of the Authorization header and its scheme: `Bearer`, or `DPoP` (RFC 9449 §7.1).
fn presented(headers: &HeaderMap) -> Option<(String, TokenScheme)> {
    if let Some(t) = crate::dialects::bearer(headers) {
        return Some((t.to_string(), TokenScheme::Bearer));
    }
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("dpop") && !token.is_empty() && token.len() < 8192)
        .then(|| (token.to_string(), TokenScheme::Dpop))
}

/// UserInfo, with the access token in the header or the form.
#[utoipa::path(post, path = "/realms/{tenant}/protocol/openid-connect/userinfo", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    request_body(content = super::schemas::OidcUserinfoForm, content_type = "application/x-www-form-urlencoded", description = "access_token (or the Authorization header)"),
    responses((status = 200, description = "sub and the claims of the token's scopes", body = super::schemas::OidcUserInfo),
        (status = 400, description = "invalid_request: a token in both places", body = crate::openapi::schemas::OAuthError),
        (status = 401, description = "No token, or invalid_token", body = crate::openapi::schemas::OAuthError),
        (status = 403, description = "insufficient_scope", body = crate::openapi::schemas::OAuthError),
        (status = 404, description = "No such realm", body = crate::openapi::schemas::OAuthError)))]
pub async fn userinfo_post(State(state): State<AppState>, headers: HeaderMap, Path(slug): Path<String>, body: Bytes) -> Response {
    let in_header = presented(&headers);
    let in_form = form(&headers, &body)
        .and_then(|p| p.into_iter().find(|(k, _)| k == "access_token").map(|(_, v)| v))
        .filter(|v| !v.is_empty())
        .map(|t| (t, TokenScheme::Bearer));
    let token = match (in_header, in_form) {
        (Some(_), Some(_)) => {
            let why = ("invalid_request", "the token is given in more than one place");
            return bearer_error(StatusCode::BAD_REQUEST, &slug, Some(why));
        }
        (a, b) => a.or(b),
    };
    answer(&state, &slug, token, &headers, "POST").await
}

async fn answer(
    state: &AppState,
    slug: &str,
    token: Option<(String, TokenScheme)>,
    headers: &HeaderMap,
    method: &str,
) -> Response {
    let tenant = match realm(state, slug).await {
        Ok(Some(t)) => t,
        Ok(None) => return realm_not_found(),
        Err(e) => return core_error(e, slug),
    };
    let Some((token, scheme)) = token else { return bearer_error(StatusCode::UNAUTHORIZED, slug, None) };
    let Ok(proof) = super::token::dpop_header(headers) else {
        return challenge_error("DPoP", StatusCode::BAD_REQUEST, slug, Some(("invalid_dpop_proof", "one DPoP header at most")));
    };
    let provider = state.core.provider();
    let challenge = if scheme == TokenScheme::Dpop { "DPoP" } else { "Bearer" };
    let answer = match provider.userinfo(&tenant, &token, scheme, DpopRequest { proof, method }).await {
        Ok(claims) => no_store(StatusCode::OK, claims),
        Err(UserinfoError::UseDpopNonce) => challenge_error(
            "DPoP",
            StatusCode::UNAUTHORIZED,
            slug,
            Some(("use_dpop_nonce", "send the server's nonce (the DPoP-Nonce header) in the proof")),
        ),
        Err(UserinfoError::InvalidDpopProof(why)) => {
            challenge_error("DPoP", StatusCode::UNAUTHORIZED, slug, Some(("invalid_dpop_proof", why)))
        }
        Err(UserinfoError::InvalidToken) => {
            challenge_error(challenge, StatusCode::UNAUTHORIZED, slug, Some(("invalid_token", "the access token is not valid")))
        }
        Err(UserinfoError::NoUser) => bearer_error(
            StatusCode::UNAUTHORIZED,
            slug,
            Some(("invalid_token", "the access token stands for a client, not a user")),
        ),
        Err(UserinfoError::InsufficientScope) => {
            bearer_error(StatusCode::FORBIDDEN, slug, Some(("insufficient_scope", "the token was not granted openid")))
        }
        Err(UserinfoError::Core(e)) => core_error(e, slug),
    };
    match proof {
        Some(_) => with_dpop_nonce(answer, &provider.dpop_nonce(&tenant)),
        None => answer,
    }
}
