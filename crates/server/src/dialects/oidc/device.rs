//! The device page (RFC 8628 §3.3): the user enters the code their device shows, then signs in
//! and allows or denies on the same pages as the code flow.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::authorize::{Guard, Render, fault, field, page_form, page_realm};
use super::pages::{self, Realm};
use super::{FORM_COOKIE, SSO_COOKIE, base_path, cookie, form_token, pairs, set_cookie};
use crate::client::Ctx;
use crate::state::AppState;
use castellan_core::model::Tenant;
use castellan_core::services::provider::Progress;

/// The code form, with the browser's form token (set as its cookie).
fn code_form(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    code: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let base = base_path(state, tenant);
    let realm = Realm { base: &base, name: &tenant.display_name };
    let token = form_token(headers);
    let mut r = pages::device_code(&realm, &token, code, error, status);
    set_cookie(state, &mut r, &base, FORM_COOKIE, &token, Some(3600), "Lax");
    r
}

/// The device page (GET): the code form, filled in from `user_code` (the verification URI
/// complete's); the user still confirms it.
#[utoipa::path(get, path = "/realms/{tenant}/device", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)"),
        ("user_code" = Option<String>, Query, description = "The device's code, filled into the form")),
    responses((status = 200, description = "The code form", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String)))]
pub async fn device_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let tenant = match page_realm(&state, &slug).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let params = pairs(query.unwrap_or_default().as_bytes());
    let code: String = field(&params, "user_code").chars().take(32).collect();
    code_form(&state, &tenant, &headers, &code, None, StatusCode::OK)
}

/// The device page's code: on to sign-in and consent, or the form again.
#[utoipa::path(post, path = "/realms/{tenant}/device", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    request_body(content = super::schemas::OidcDeviceCodeForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The sign-in or consent page", content_type = "text/html", body = String),
        (status = 400, description = "An unknown, expired or already used code: the form again", content_type = "text/html", body = String),
        (status = 403, description = "A cross-site form", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String),
        (status = 429, description = "Too many wrong codes from this address or for this realm", content_type = "text/html", body = String)))]
pub async fn device_code(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let (tenant, params) = match page_form(&state, &headers, &slug, &body, Guard::FormToken).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let typed: String = field(&params, "user_code").chars().take(32).collect();
    // Only wrong codes spend: a guesser runs out, a user who typed one right never waits.
    let limited = state.user_code_limiter.peek(ctx.ip).and_then(|()| state.user_code_tenant_limiter.peek(tenant.id));
    if let Err(wait) = limited {
        let msg = format!("Too many wrong codes. Try again in {wait} seconds.");
        return code_form(&state, &tenant, &headers, &typed, Some(&msg), StatusCode::TOO_MANY_REQUESTS);
    }
    let oidc = state.core.provider();
    let (app, request) = match oidc.device_request(&tenant, &typed, &ctx.client).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            let _ = state.user_code_limiter.check(ctx.ip);
            let _ = state.user_code_tenant_limiter.check(tenant.id);
            let msg = "That code is not right, has expired or was already used. Check your device.";
            return code_form(&state, &tenant, &headers, &typed, Some(msg), StatusCode::BAD_REQUEST);
        }
        Err(e) => return fault(e),
    };
    let signed_in = match oidc.signed_in(&tenant, cookie(&headers, SSO_COOKIE)).await {
        Ok(s) => s,
        Err(e) => return fault(e),
    };
    match oidc.authorize(&tenant, &app, request, signed_in.as_ref(), Progress::default(), &ctx.client).await {
        Ok(step) => {
            Render { state: &state, tenant: &tenant, headers: &headers, error: None, status: StatusCode::OK }.step(step, &[])
        }
        Err(e) => fault(e),
    }
}
