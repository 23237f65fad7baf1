//! The account page's authenticator app: set one up (scan, then prove it with a code) or remove
//! it. Like the rest of the account page, it needs a sign-in from the last ten minutes; every
//! change is mailed to the user.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use castellan_core::CoreError;
use castellan_core::model::Tenant;
use castellan_core::services::totp::TotpEnrollment;

use super::account_page::{account_error, account_form, account_url};
use super::authorize::{fault, field};
use super::base_path;
use super::pages::{hidden, see_other};
use crate::client::Ctx;
use crate::pages::kit::{Opener, escape, page};
use crate::state::AppState;

/// The account page's section: set up, or remove.
pub(super) fn section(base: &str, token: &str, on: bool) -> String {
    let (status, form) = if on {
        (
            "<p id=\"totp-on\">An authenticator app is set up: a sign-in with your password asks for its code.</p>",
            format!(
                "<form method=\"post\" action=\"{base}/account/totp/remove\" id=\"totp-remove-form\">{token}\
                 <button type=\"submit\" class=\"secondary\" id=\"remove-totp\">Remove the authenticator app</button></form>"
            ),
        )
    } else {
        (
            "<p id=\"totp-off\">An authenticator app on your phone makes a new six-digit code every 30 seconds; once it \
             is set up, a sign-in with your password asks for one.</p>",
            format!(
                "<form method=\"post\" action=\"{base}/account/totp\" id=\"totp-setup-form\">{token}\
                 <button type=\"submit\" class=\"secondary\" id=\"set-up-totp\">Set up an authenticator app</button></form>"
            ),
        )
    };
    format!("<h2>Authenticator app</h2>{status}{form}")
}

/// The QR code, the secret for typing in, and the form that proves the app has it.
fn enrolment_page(state: &AppState, tenant: &Tenant, csrf: &str, e: &TotpEnrollment, error: Option<&str>) -> Response {
    let base = base_path(state, tenant);
    let error = error.map(|m| format!("<p class=\"err\" role=\"alert\" id=\"error\">{}</p>", escape(m))).unwrap_or_default();
    let body = format!(
        "<h1>Set up an authenticator app</h1>\
         <p>Scan the code with your app, or type the key into it. Then enter the six-digit code it shows.</p>\
         <img id=\"totp-qr\" src=\"{qr}\" alt=\"QR code of the key\" width=\"200\" height=\"200\">\
         <p>Key: <code id=\"totp-secret\">{secret}</code></p>{error}\
         <form method=\"post\" action=\"{base}/account/totp/confirm\" id=\"totp-confirm-form\">{token}\
         <label for=\"code\">Code</label><input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" \
         pattern=\"[0-9]{{6}}\" minlength=\"6\" maxlength=\"6\" required autofocus>\
         <button type=\"submit\" id=\"confirm-totp\">Turn it on</button></form>\
         <p><a href=\"{back}\" id=\"back\">Back to your account</a></p>",
        qr = escape(&e.qr_png_data_url),
        secret = escape(&e.secret),
        token = hidden("csrf", csrf),
        back = escape(&account_url(state, tenant)),
    );
    let status = if error.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let mut r = page(status, "Set up an authenticator app", &body, None, &[], Opener::Isolated);
    // The key is a secret: no cache keeps it.
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Starts setting up an authenticator app: a new key, off until a code proves the app has it.
#[utoipa::path(post, path = "/realms/{tenant}/account/totp", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    request_body(content = super::schemas::OidcAccountForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The key as a QR code and as text, and the form for the app's first code", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in, or signed in more than ten minutes ago: to the account page", headers(("Location" = String, description = "The account page"))),
        (status = 400, description = "An authenticator app is already set up", content_type = "text/html", body = String),
        (status = 403, description = "A cross-site form or a wrong CSRF token", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String)))]
pub async fn begin(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let (tenant, signed_in, params) = match account_form(&state, &headers, &slug, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    match state.core.totp().begin_totp_enrollment(&tenant, &signed_in.user, &ctx.client).await {
        Ok(e) => enrolment_page(&state, &tenant, field(&params, "csrf"), &e, None),
        Err(CoreError::Validation(_)) => {
            account_error(&state, &tenant, "An authenticator app is already set up. Remove it first to set up another.")
        }
        Err(e) => fault(e),
    }
}

/// Turns the authenticator app on with its first code.
#[utoipa::path(post, path = "/realms/{tenant}/account/totp/confirm", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    request_body(content = super::schemas::OidcAccountTotpForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "On (or not signed in): to the account page", headers(("Location" = String, description = "The account page"))),
        (status = 400, description = "A wrong code: the same key and the form again; or nothing being set up", content_type = "text/html", body = String),
        (status = 403, description = "A cross-site form or a wrong CSRF token", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String),
        (status = 429, description = "Rate limited", content_type = "text/html", body = String)))]
pub async fn confirm(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let (tenant, signed_in, params) = match account_form(&state, &headers, &slug, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    if let Err(wait) = state.auth_limiter.check(ctx.ip) {
        let mut r = account_error(&state, &tenant, &format!("Too many attempts. Try again in {wait} seconds."));
        *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        return r;
    }
    let totp = state.core.totp();
    match totp.confirm_totp_enrollment(&tenant, &signed_in.user, field(&params, "code"), &ctx.client).await {
        Ok(()) => see_other(&account_url(&state, &tenant)),
        Err(CoreError::InvalidMfaCode) => match totp.pending_totp_enrollment(&tenant, &signed_in.user).await {
            Ok(Some(e)) => {
                let msg = "That code is not right. Check the app shows this account, and enter its newest code.";
                enrolment_page(&state, &tenant, field(&params, "csrf"), &e, Some(msg))
            }
            Ok(None) => account_error(&state, &tenant, "Nothing is being set up. Start again from your account."),
            Err(e) => fault(e),
        },
        Err(CoreError::Validation(_)) => {
            account_error(&state, &tenant, "Nothing is being set up, or it is already on. Start again from your account.")
        }
        Err(e) => fault(e),
    }
}

/// Removes the authenticator app (or one half set up).
#[utoipa::path(post, path = "/realms/{tenant}/account/totp/remove", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    request_body(content = super::schemas::OidcAccountForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Removed (or not signed in): to the account page", headers(("Location" = String, description = "The account page"))),
        (status = 400, description = "No authenticator app to remove", content_type = "text/html", body = String),
        (status = 403, description = "A cross-site form or a wrong CSRF token", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String)))]
pub async fn remove(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let (tenant, signed_in, _) = match account_form(&state, &headers, &slug, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    match state.core.totp().remove_own_totp(&tenant, &signed_in.user, &ctx.client).await {
        Ok(()) => see_other(&account_url(&state, &tenant)),
        Err(CoreError::NotFound) => account_error(&state, &tenant, "There is no authenticator app to remove."),
        Err(e) => fault(e),
    }
}
