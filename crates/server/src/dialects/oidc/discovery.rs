//! Discovery (OpenID Connect Discovery 1.0, RFC 8414) and the realm's keys: what the provider
//! supports, listed only where it works.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;

use super::error::{core_error, realm_not_found};
use super::realm;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    paths(configuration, oauth_metadata, super::authorize::authorize_get, super::authorize::authorize_post,
          super::authorize::login, super::authorize::login_totp, super::authorize::consent, super::token::token,
          super::token::introspect, super::token::revoke, super::userinfo::userinfo_get, super::userinfo::userinfo_post,
          super::logout::logout_get, super::logout::logout_post, super::account::forgot_password_page,
          super::account::forgot_password, form_post_asset, super::token::device_authorization,
          super::token::pushed_request, super::device::device_page, super::device::device_code,
          super::registration::register, super::registration::read, super::registration::update,
          super::registration::delete, super::authorize::login_second_factor, super::passkeys::passkey_options,
          super::passkeys::login_passkey, super::passkeys::second_factor_options, super::account_page::account_page,
          super::account_page::credential_options, super::account_page::add_credential,
          super::account_page::rename_credential, super::account_page::remove_credential, super::account_page::recovery_codes, super::account_page::end_session,
          super::account_page::change_password, super::account_totp::begin, super::account_totp::confirm,
          super::account_totp::remove),
    tags((name = "oidc", description = "OpenID Connect provider and OAuth 2.1 authorization server on Keycloak's paths: a \
        tenant is a realm (`/realms/{tenant}`), an application a client. Tenants opt in with `oidc` in their dialects."))
)]
pub struct ApiDoc;

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
    let doc = state.core.provider().discovery_document(&tenant);
    let mut r = (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], doc.as_str().to_owned()).into_response();
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

/// The form_post page's script.
#[utoipa::path(get, path = "/static/form-post.js", tag = "oidc",
    responses((status = 200, description = "JavaScript", content_type = "text/javascript", body = String)))]
#[allow(dead_code)]
async fn form_post_asset() {}
