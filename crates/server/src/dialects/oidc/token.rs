//! The token endpoint, introspection (RFC 7662) and revocation (RFC 7009): client
//! authentication read from the request, the rest the core's.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use castellan_core::model::{Application, AuditAction, Tenant};
use castellan_core::services::provider::{ClientAuth, DpopRequest, OAuthError, ProviderError};
use serde_json::json;

use super::authorize::form;
use super::error::{core_error, no_store, oauth_error, oidc_error, realm_not_found, with_dpop_nonce};
use super::realm;
use crate::client::Ctx;
use crate::state::AppState;

fn field<'p>(params: &'p [(String, String)], name: &str) -> Option<&'p str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// The client assertion type of `private_key_jwt` (RFC 7523 §2.2).
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// `Authorization: Basic` credentials, each half form-urldecoded (RFC 6749 §2.3.1). `Err` for a
/// Basic header that cannot be read.
fn basic(headers: &HeaderMap) -> Result<Option<(String, String)>, ()> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| ())?;
    let Some(encoded) = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic ")) else { return Ok(None) };
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| ())?;
    let text = String::from_utf8(decoded).map_err(|_| ())?;
    let (id, secret) = text.split_once(':').ok_or(())?;
    let unescape = |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Ok(Some((unescape(id).ok_or(())?, unescape(secret).ok_or(())?)))
}

/// How the request authenticates its client.
fn client_auth(headers: &HeaderMap, params: &[(String, String)]) -> ClientAuth {
    let Ok(basic) = basic(headers) else { return ClientAuth::Missing };
    let (form_id, form_secret) = (field(params, "client_id"), field(params, "client_secret"));
    if let Some(kind) = field(params, "client_assertion_type") {
        if basic.is_some() || form_secret.is_some() {
            return ClientAuth::Several;
        }
        return match (kind, field(params, "client_assertion")) {
            (JWT_BEARER, Some(assertion)) => {
                ClientAuth::Assertion { client_id: form_id.map(str::to_string), assertion: assertion.to_string() }
            }
            _ => ClientAuth::Missing,
        };
    }
    match (basic, form_id, form_secret) {
        (Some(_), _, Some(_)) => ClientAuth::Several,
        (Some((id, _)), Some(form_id), None) if id != form_id => ClientAuth::Several,
        (Some((client_id, secret)), _, None) => ClientAuth::Basic { client_id, secret },
        (None, Some(id), Some(secret)) => ClientAuth::Post { client_id: id.to_string(), secret: secret.to_string() },
        (None, Some(id), None) => ClientAuth::Public { client_id: id.to_string() },
        (None, None, _) => ClientAuth::Missing,
    }
}

/// The realm, the form and the authenticated client of a request to the token endpoint family.
async fn authenticated(
    state: &AppState,
    ctx: &Ctx,
    headers: &HeaderMap,
    slug: &str,
    body: &Bytes,
    action: AuditAction,
) -> Result<(Tenant, Application, Vec<(String, String)>), Response> {
    let tenant = match realm(state, slug).await {
        Ok(Some(t)) => t,
        Ok(None) => return Err(realm_not_found()),
        Err(e) => return Err(core_error(e, slug)),
    };
    let Some(params) = form(headers, body) else {
        let e = OAuthError::new("invalid_request", "the body must be application/x-www-form-urlencoded");
        return Err(oauth_error(&e, slug));
    };
    // Failed client authentications are what a guesser makes: each spends a token of the
    // address's bucket, and an address with none left is refused before its next try is looked
    // at. A correctly configured client spends nothing.
    let limited = |wait| core_error(castellan_core::CoreError::RateLimited { retry_after_seconds: wait }, slug);
    if let Err(wait) = state.auth_limiter.peek(ctx.ip) {
        return Err(limited(wait));
    }
    let auth = client_auth(headers, &params);
    match state.core.provider().authenticate_client(&tenant, auth, action, &ctx.client).await {
        Ok(client) => Ok((tenant, client, params)),
        Err(e) => {
            let _ = state.auth_limiter.check(ctx.ip);
            Err(oidc_error(e, slug))
        }
    }
}

/// Token endpoint: codes, refresh tokens and client credentials for tokens.
#[utoipa::path(post, path = "/realms/{tenant}/protocol/openid-connect/token", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    description = "Token endpoint. grant_type authorization_code (code, redirect_uri, code_verifier), refresh_token \
        (refresh_token, scope to narrow), client_credentials (scope), urn:ietf:params:oauth:grant-type:device_code \
        (device_code; errors authorization_pending, slow_down, access_denied, expired_token while polling), \
        urn:ietf:params:oauth:grant-type:token-exchange (subject_token, subject_token_type, audience, scope, actor_token, \
        actor_token_type; answers issued_token_type). Client \
        authentication: client_secret_basic, client_secret_post, private_key_jwt (client_assertion), or none \
        (client_id alone) for public clients. A DPoP header (RFC 9449) binds the tokens to its key: token_type DPoP, \
        cnf.jkt in the access token; a proof without the server's nonce gets use_dpop_nonce and a DPoP-Nonce header.",
    request_body(content = super::schemas::OidcTokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "access_token, token_type, expires_in, scope, id_token, refresh_token, refresh_expires_in", body = super::schemas::OidcTokenResponse),
        (status = 400, description = "RFC 6749 §5.2 error: invalid_request, invalid_grant, unauthorized_client, unsupported_grant_type, invalid_scope; RFC 8628 §3.5 authorization_pending, slow_down, access_denied, expired_token; RFC 9449 invalid_dpop_proof, use_dpop_nonce (with DPoP-Nonce)", body = crate::openapi::schemas::OAuthError),
        (status = 401, description = "invalid_client, with WWW-Authenticate: Basic", body = crate::openapi::schemas::OAuthError),
        (status = 404, description = "No such realm", body = crate::openapi::schemas::OAuthError),
        (status = 429, description = "Too many failed client authentications", body = crate::openapi::schemas::OAuthError)))]
pub async fn token(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let (tenant, client, params) = match authenticated(&state, &ctx, &headers, &slug, &body, AuditAction::TokenRequest).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let Ok(proof) = dpop_header(&headers) else {
        let e = OAuthError::new("invalid_dpop_proof", "one DPoP header at most");
        return oauth_error(&e, &slug);
    };
    let dpop = DpopRequest { proof, method: "POST" };
    let answer = match state.core.provider().token(&tenant, &client, &params, dpop, &ctx.client).await {
        Ok(t) => {
            let mut body = json!({
                "access_token": t.access_token,
                "token_type": t.token_type,
                "expires_in": t.expires_in,
                "scope": t.scope,
            });
            if let Some(id) = t.id_token {
                body["id_token"] = json!(id);
            }
            if let Some(issued) = t.issued_token_type {
                body["issued_token_type"] = json!(issued);
            }
            if let Some(r) = t.refresh_token {
                body["refresh_token"] = json!(r);
            }
            if let Some(e) = t.refresh_expires_in {
                body["refresh_expires_in"] = json!(e);
            }
            no_store(StatusCode::OK, body)
        }
        Err(e) => oidc_error(e, &slug),
    };
    // A client that sends proofs gets the nonce for its next one with every answer.
    match proof {
        Some(_) => with_dpop_nonce(answer, &state.core.provider().dpop_nonce(&tenant)),
        None => answer,
    }
}

/// The request's `DPoP` proof, if it has one; `Err` for more than one (RFC 9449 §4.3).
pub(super) fn dpop_header(headers: &HeaderMap) -> Result<Option<&str>, ()> {
    let mut all = headers.get_all("dpop").iter();
    let first = all.next();
    if all.next().is_some() {
        return Err(());
    }
    first.map(|v| v.to_str().map_err(|_| ())).transpose()
}

/// Device authorization endpoint (RFC 8628 §3.1).
#[utoipa::path(post, path = "/realms/{tenant}/protocol/openid-connect/auth/device", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    description = "RFC 8628 device authorization: a client with the urn:ietf:params:oauth:grant-type:device_code grant asks \
        for a device code and a user code (8 consonants, shown as XXXX-XXXX) for the user to enter at verification_uri. \
        The device then polls the token endpoint with grant_type=urn:ietf:params:oauth:grant-type:device_code and \
        device_code. Client authentication as at the token endpoint (public clients: client_id alone).",
    request_body(content = super::schemas::OidcDeviceForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "device_code, user_code, verification_uri, verification_uri_complete, expires_in (600), interval (5)", body = super::schemas::OidcDeviceAuthorization),
        (status = 400, description = "invalid_request, unauthorized_client (no device grant)", body = crate::openapi::schemas::OAuthError),
        (status = 401, description = "invalid_client", body = crate::openapi::schemas::OAuthError),
        (status = 404, description = "No such realm", body = crate::openapi::schemas::OAuthError),
        (status = 429, description = "Too many failed client authentications", body = crate::openapi::schemas::OAuthError)))]
pub async fn device_authorization(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let (tenant, client, params) = match authenticated(&state, &ctx, &headers, &slug, &body, AuditAction::DeviceAuthorize).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    match state.core.provider().authorize_device(&tenant, &client, &params, &ctx.client).await {
        Ok(d) => no_store(
            StatusCode::OK,
            json!({
                "device_code": d.device_code,
                "user_code": d.user_code,
                "verification_uri": d.verification_uri,
                "verification_uri_complete": d.verification_uri_complete,
                "expires_in": d.expires_in,
                "interval": d.interval,
            }),
        ),
        Err(e) => oidc_error(e, &slug),
    }
}

/// Pushed authorization request endpoint (RFC 9126).
#[utoipa::path(post, path = "/realms/{tenant}/protocol/openid-connect/ext/par/request", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    description = "RFC 9126: the authorization request's parameters, with client authentication as at the token endpoint. \
        The answer's request_uri is sent to the authorization endpoint with client_id instead of the parameters: once, by \
        the same client, within expires_in (60) seconds. Clients with require_par must use it.",
    request_body(content = super::schemas::OidcAuthorizeForm, content_type = "application/x-www-form-urlencoded", description = "The authorization request's parameters"),
    responses((status = 201, description = "request_uri and expires_in", body = super::schemas::OidcPushedRequest),
        (status = 400, description = "invalid_request, invalid_scope, unauthorized_client, unsupported_response_type", body = crate::openapi::schemas::OAuthError),
        (status = 401, description = "invalid_client", body = crate::openapi::schemas::OAuthError),
        (status = 404, description = "No such realm", body = crate::openapi::schemas::OAuthError),
        (status = 429, description = "Too many failed client authentications", body = crate::openapi::schemas::OAuthError)))]
pub async fn pushed_request(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let (tenant, client, params) = match authenticated(&state, &ctx, &headers, &slug, &body, AuditAction::PushedAuthorize).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    match state.core.provider().push_request(&tenant, &client, &params, &ctx.client).await {
        Ok(p) => no_store(StatusCode::CREATED, json!({"request_uri": p.request_uri, "expires_in": p.expires_in})),
        Err(e) => oidc_error(e, &slug),
    }
}

/// Token introspection (RFC 7662).
#[utoipa::path(post, path = "/realms/{tenant}/protocol/openid-connect/token/introspect", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    description = "RFC 7662. Only authenticated clients; a client sees only its own tokens unless it has introspect_any.",
    request_body(content = super::schemas::OidcTokenQueryForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "{active: false}, or active with scope, client_id, username, token_type, exp, iat, nbf, sub, aud, iss, jti, sid", body = super::schemas::OidcIntrospection),
        (status = 400, description = "invalid_request (no token)", body = crate::openapi::schemas::OAuthError),
        (status = 401, description = "invalid_client", body = crate::openapi::schemas::OAuthError),
        (status = 404, description = "No such realm", body = crate::openapi::schemas::OAuthError)))]
pub async fn introspect(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let (tenant, client, params) = match authenticated(&state, &ctx, &headers, &slug, &body, AuditAction::TokenIntrospect).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    match state.core.provider().introspect(&tenant, &client, field(&params, "token"), &ctx.client).await {
        Ok(answer) => no_store(StatusCode::OK, answer),
        Err(e) => oidc_error(e, &slug),
    }
}

/// Token revocation (RFC 7009).
#[utoipa::path(post, path = "/realms/{tenant}/protocol/openid-connect/revoke", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    description = "RFC 7009. A refresh token ends its session (and every token of it); an access token is denied until it expires. \
        200 for any token string.",
    request_body(content = super::schemas::OidcTokenQueryForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Revoked, or nothing to revoke: an empty body", content_type = "text/plain", body = String),
        (status = 400, description = "invalid_request (no token)", body = crate::openapi::schemas::OAuthError),
        (status = 401, description = "invalid_client", body = crate::openapi::schemas::OAuthError),
        (status = 404, description = "No such realm", body = crate::openapi::schemas::OAuthError)))]
pub async fn revoke(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let (tenant, client, params) = match authenticated(&state, &ctx, &headers, &slug, &body, AuditAction::TokenRevocation).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    match state.core.provider().revoke(&tenant, &client, field(&params, "token"), &ctx.client).await {
        Ok(()) => {
            let mut r = StatusCode::OK.into_response();
            let h = r.headers_mut();
            h.insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
            h.insert(header::CONTENT_TYPE, axum::http::HeaderValue::from_static("text/plain; charset=utf-8"));
            r
        }
        Err(e) => oidc_error(e, &slug),
    }
}

/// Keycloak's back-end logout: `POST …/logout` with client authentication and `refresh_token`.
pub(super) async fn backend_logout(state: &AppState, ctx: &Ctx, headers: &HeaderMap, slug: &str, body: &Bytes) -> Response {
    let (tenant, client, params) = match authenticated(state, ctx, headers, slug, body, AuditAction::SignOut).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let Some(token) = field(&params, "refresh_token") else {
        return oauth_error(&OAuthError::new("invalid_request", "refresh_token is missing"), slug);
    };
    match state.core.provider().logout_by_refresh_token(&tenant, &client, token, &ctx.client).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => oidc_error(ProviderError::Core(e), slug),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_basic(raw: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw));
        h.insert(header::AUTHORIZATION, v.parse().unwrap_or(axum::http::HeaderValue::from_static("x")));
        h
    }

    #[test]
    fn basic_credentials_are_form_urldecoded() {
        assert_eq!(basic(&with_basic("my%3Aclient:s%2Bcret")), Ok(Some(("my:client".into(), "s+cret".into()))));
        assert_eq!(basic(&with_basic("nocolon")), Err(()));
        assert_eq!(basic(&HeaderMap::new()), Ok(None));
    }

    #[test]
    fn one_authentication_method_at_a_time() {
        let p = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        let h = with_basic("a:b");
        assert!(matches!(client_auth(&h, &p(&[("client_secret", "x")])), ClientAuth::Several));
        assert!(matches!(client_auth(&h, &p(&[("client_id", "other")])), ClientAuth::Several));
        assert!(matches!(client_auth(&h, &p(&[("client_id", "a")])), ClientAuth::Basic { .. }));
        let none = HeaderMap::new();
        assert!(matches!(client_auth(&none, &p(&[("client_id", "a"), ("client_secret", "s")])), ClientAuth::Post { .. }));
        assert!(matches!(client_auth(&none, &p(&[("client_id", "a")])), ClientAuth::Public { .. }));
        assert!(matches!(client_auth(&none, &p(&[])), ClientAuth::Missing));
    }
}
