//! The sign-in page's "Forgot your password?": a form for the email address; the mailed link
//! opens the reset page every tenant has (`/t/<tenant>/reset-password`, one use).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::authorize::{Guard, page_form, page_realm};
use super::pages::{self, Realm};
use super::{FORM_COOKIE, base_path, form_token, set_cookie};
use crate::client::Ctx;
use crate::state::AppState;

/// The forgot-password form.
#[utoipa::path(get, path = "/realms/{tenant}/forgot-password", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    responses((status = 200, description = "The form: an email address", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String)))]
pub async fn forgot_password_page(State(state): State<AppState>, headers: HeaderMap, Path(slug): Path<String>) -> Response {
    let tenant = match page_realm(&state, &slug).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let base = base_path(&state, &tenant);
    let token = form_token(&headers);
    let mut r = pages::forgot_password(&Realm { base: &base, name: &tenant.display_name }, &token, None);
    set_cookie(&state, &mut r, &base, FORM_COOKIE, &token, Some(3600), "Lax");
    r
}

/// Mails a reset link to the address, if it has an account.
#[utoipa::path(post, path = "/realms/{tenant}/forgot-password", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    request_body(content = super::schemas::OidcForgotPasswordForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The same answer whether or not the address has an account; a link is mailed if it does", content_type = "text/html", body = String),
        (status = 403, description = "A cross-site form", content_type = "text/html", body = String),
        (status = 429, description = "Rate limited", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String)))]
pub async fn forgot_password(
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
    if let Err(wait) = state.auth_limiter.check(ctx.ip) {
        let msg = format!("Too many requests. Try again in {wait} seconds.");
        return pages::error(StatusCode::TOO_MANY_REQUESTS, &msg);
    }
    let email = params.iter().find(|(k, _)| k == "email").map(|(_, v)| v.trim()).unwrap_or_default();
    if !email.is_empty() && email.len() <= 320 {
        state.core.forgot_password(&tenant, email, &ctx.client);
    }
    let base = base_path(&state, &tenant);
    pages::reset_requested(&Realm { base: &base, name: &tenant.display_name })
}
