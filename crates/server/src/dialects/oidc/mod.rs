//! Dialect `oidc`: an OpenID Connect provider and OAuth 2.1 authorization server on Keycloak's
//! paths (`/realms/<tenant>/…`). Contract: docs/dialects/oidc.md. The rules are the core's
//! (`services::provider`); this module reads requests, sets cookies and renders pages.

mod account;
mod account_page;
mod account_totp;
mod authorize;
mod device;
mod discovery;
mod error;
mod logout;
mod pages;
mod passkeys;
mod registration;
mod schemas;
mod token;
mod userinfo;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use castellan_core::CoreError;
use castellan_core::model::{Dialect, Tenant};
use utoipa::OpenApi as _;

use crate::api::Api;
use crate::dialects::mount::{DialectMount, OpenApi};
use crate::settings::Settings;
use crate::state::AppState;

pub use discovery::ApiDoc;

pub const DIALECT: Dialect = Dialect::Oidc;

/// The browser's sign-in to a realm.
const SSO_COOKIE: &str = "castellan_sso";
/// The double-submit CSRF token of the sign-in forms (before anyone is signed in). `SameSite=Lax`:
/// a browser arriving from the relying party (a cross-site navigation) sends it, so an open tab's
/// token is kept rather than replaced; the token in the form and the cross-site check guard the
/// POSTs.
const FORM_COOKIE: &str = "castellan_oidc_form";

pub fn router() -> Api {
    const P: &str = "/realms/{tenant}/protocol/openid-connect";
    Api::default()
        .get("/realms/{tenant}/.well-known/openid-configuration", discovery::configuration)
        .get("/.well-known/oauth-authorization-server/realms/{tenant}", discovery::configuration)
        .get(&format!("{P}/auth"), authorize::authorize_get)
        .post(&format!("{P}/auth"), authorize::authorize_post)
        .post("/realms/{tenant}/login", authorize::login)
        .post("/realms/{tenant}/login/totp", authorize::login_totp)
        .post("/realms/{tenant}/login/second-factor", authorize::login_second_factor)
        .post("/realms/{tenant}/login/second-factor/options", passkeys::second_factor_options)
        .post("/realms/{tenant}/login/passkey/options", passkeys::passkey_options)
        .post("/realms/{tenant}/login/passkey", passkeys::login_passkey)
        .get("/realms/{tenant}/account", account_page::account_page)
        .post("/realms/{tenant}/account/passkeys/options", account_page::credential_options)
        .post("/realms/{tenant}/account/passkeys", account_page::add_credential)
        .post("/realms/{tenant}/account/passkeys/{id}/rename", account_page::rename_credential)
        .post("/realms/{tenant}/account/passkeys/{id}/delete", account_page::remove_credential)
        .post("/realms/{tenant}/account/recovery-codes", account_page::recovery_codes)
        .post("/realms/{tenant}/account/totp", account_totp::begin)
        .post("/realms/{tenant}/account/totp/confirm", account_totp::confirm)
        .post("/realms/{tenant}/account/totp/remove", account_totp::remove)
        .post("/realms/{tenant}/account/sessions/{id}/end", account_page::end_session)
        .post("/realms/{tenant}/account/password", account_page::change_password)
        .post("/realms/{tenant}/consent", authorize::consent)
        .get("/realms/{tenant}/forgot-password", account::forgot_password_page)
        .post("/realms/{tenant}/forgot-password", account::forgot_password)
        .post(&format!("{P}/auth/device"), token::device_authorization)
        .post(&format!("{P}/ext/par/request"), token::pushed_request)
        .get("/realms/{tenant}/device", device::device_page)
        .post("/realms/{tenant}/device", device::device_code)
        .post(&format!("{P}/token"), token::token)
        .post(&format!("{P}/token/introspect"), token::introspect)
        .post(&format!("{P}/revoke"), token::revoke)
        .get(&format!("{P}/userinfo"), userinfo::userinfo_get)
        .post(&format!("{P}/userinfo"), userinfo::userinfo_post)
        .get(&format!("{P}/logout"), logout::logout_get)
        .post(&format!("{P}/logout"), logout::logout_post)
        .get(pages::FORM_POST_JS_PATH, pages::form_post_js)
        .post("/realms/{tenant}/clients-registrations/openid-connect", registration::register)
        .get("/realms/{tenant}/clients-registrations/openid-connect/{client_id}", registration::read)
        .put("/realms/{tenant}/clients-registrations/openid-connect/{client_id}", registration::update)
        .delete("/realms/{tenant}/clients-registrations/openid-connect/{client_id}", registration::delete)
}

/// The OpenID Connect dialect as the application mounts it.
pub struct Oidc;

impl DialectMount for Oidc {
    fn name(&self) -> &'static str {
        DIALECT.as_str()
    }

    fn router(&self, _settings: &Settings) -> Api {
        router()
    }

    fn openapi(&self) -> OpenApi {
        ApiDoc::openapi()
    }

    fn prefixes(&self, _settings: &Settings) -> Vec<String> {
        vec!["/realms".into()]
    }

    fn not_found(&self) -> Option<Response> {
        Some(error::realm_not_found())
    }
}

/// The tenant a realm path names, if it exists and is served by OpenID Connect. A lookup that
/// fails for another reason is the caller's to answer as a fault.
async fn realm(state: &AppState, slug: &str) -> Result<Option<Tenant>, CoreError> {
    match state.core.tenants().find_tenant(slug).await {
        Ok(t) if t.serves(DIALECT) && t.slug == slug => Ok(Some(t)),
        Ok(_) | Err(CoreError::TenantNotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `<public url's path>/realms/<slug>`: where the realm's pages post to and its cookies live.
fn base_path(state: &AppState, tenant: &Tenant) -> String {
    let public = &state.core.config.public_url;
    let path = url::Url::parse(public).map(|u| u.path().trim_end_matches('/').to_string()).unwrap_or_default();
    format!("{path}/realms/{}", tenant.slug)
}

/// A cookie of the request.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// The sign-in forms' CSRF token: the browser's, if it has one, so that every open sign-in tab
/// keeps working; else a new one.
fn form_token(headers: &HeaderMap) -> String {
    match cookie(headers, FORM_COOKIE) {
        Some(t) if t.len() == 43 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => t.to_string(),
        _ => castellan_core::crypto::random_token(),
    }
}

/// Sets a cookie scoped to the realm: HttpOnly, Secure unless the server is plain-http.
fn set_cookie(state: &AppState, r: &mut Response, path: &str, name: &str, value: &str, max_age: Option<i64>, same_site: &str) {
    let secure = if state.core.config.public_url.starts_with("http://") { "" } else { "; Secure" };
    let age = max_age.map(|a| format!("; Max-Age={a}")).unwrap_or_default();
    let c = format!("{name}={value}; Path={path}{age}; HttpOnly; SameSite={same_site}{secure}");
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The parameters of a query string or form body, repeats kept (a repeated parameter is an error
/// the core reports).
fn pairs(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw).map(|(k, v)| (k.into_owned(), v.into_owned())).take(100).collect()
}
