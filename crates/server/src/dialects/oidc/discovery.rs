//! Discovery (OpenID Connect Discovery 1.0, RFC 8414) and the realm's keys: what the provider
//! supports, listed only where it works.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use castellan_core::model::Dialect;
use castellan_core::model::oidc::KNOWN_SCOPES;
use serde_json::json;
use utoipa::OpenApi;

use super::error::{core_error, realm_not_found};
use super::realm;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    paths(configuration, oauth_metadata, certs, super::authorize::authorize_get, super::authorize::authorize_post,
          super::authorize::login, super::authorize::login_totp, super::authorize::consent, super::token::token,
          super::token::introspect, super::token::revoke, super::userinfo::userinfo_get, super::userinfo::userinfo_post,
          super::logout::logout_get, super::logout::logout_post, super::account::forgot_password_page,
          super::account::forgot_password, form_post_asset),
    tags((name = "oidc", description = "OpenID Connect provider and OAuth 2.1 authorization server on Keycloak's paths: a \
        tenant is a realm (`/realms/{tenant}`), an application a client. Tenants opt in with `oidc` in their dialects."))
)]
pub struct ApiDoc;

const CLAIMS: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "sid",
    "at_hash",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "updated_at",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
];

/// The realm's discovery metadata.
#[utoipa::path(get, path = "/realms/{tenant}/.well-known/openid-configuration", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    responses((status = 200, description = "Discovery metadata: issuer, endpoints, what is supported", body = super::schemas::OidcConfiguration),
        (status = 404, description = "No such realm, or not served by OpenID Connect", body = crate::openapi::schemas::OAuthError)))]
pub async fn configuration(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    let tenant = match realm(&state, &slug).await {
        Ok(Some(t)) => t,
        Ok(None) => return realm_not_found(),
        Err(e) => return core_error(e, &slug),
    };
    let issuer = state.core.realm_issuer(&tenant);
    let p = format!("{issuer}/protocol/openid-connect");
    let secret_methods = ["client_secret_basic", "client_secret_post"];
    let doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{p}/auth"),
        "token_endpoint": format!("{p}/token"),
        "userinfo_endpoint": format!("{p}/userinfo"),
        "jwks_uri": format!("{p}/certs"),
        "introspection_endpoint": format!("{p}/token/introspect"),
        "revocation_endpoint": format!("{p}/revoke"),
        "end_session_endpoint": format!("{p}/logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": secret_methods,
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": KNOWN_SCOPES,
        "claims_supported": CLAIMS,
        "claims_parameter_supported": true,
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "display_values_supported": ["page", "popup"],
        "acr_values_supported": ["1", "2"],
        "ui_locales_supported": ["en"],
        "claims_locales_supported": ["en"],
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": false,
    });
    let mut r = (StatusCode::OK, axum::Json(doc)).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    r
}

/// The realm's metadata at RFC 8414's location (served by `configuration`).
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server/realms/{tenant}", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    responses((status = 200, description = "The realm's metadata, as at its openid-configuration", body = super::schemas::OidcConfiguration),
        (status = 404, description = "No such realm", body = crate::openapi::schemas::OAuthError)))]
#[allow(dead_code)]
async fn oauth_metadata() {}

/// The realm's public signing keys: active and retiring. Served for MOSIP's realms too, whose
/// tokens name this layout's issuer.
#[utoipa::path(get, path = "/realms/{tenant}/protocol/openid-connect/certs", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    responses((status = 200, description = "A JWK set (RFC 7517): active and retiring keys", body = crate::openapi::schemas::JwkSet),
        (status = 404, description = "No such realm", body = crate::openapi::schemas::OAuthError)))]
pub async fn certs(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    let tenant = match state.core.tenants().find_tenant(&slug).await {
        Ok(t) if t.slug == slug && (t.serves(Dialect::Oidc) || t.serves(Dialect::Mosip)) => t,
        Ok(_) | Err(castellan_core::CoreError::TenantNotFound) => return realm_not_found(),
        Err(e) => return core_error(e, &slug),
    };
    crate::ops::jwk_set(state.core.signing_keys().jwks(Some(&tenant)).await)
}

/// The form_post page's script.
#[utoipa::path(get, path = "/static/form-post.js", tag = "oidc",
    responses((status = 200, description = "JavaScript", content_type = "text/javascript", body = String)))]
#[allow(dead_code)]
async fn form_post_asset() {}
