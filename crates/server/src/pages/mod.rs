//! Server-rendered pages that emailed links open: confirm an email address, choose a new
//! password. Plain HTML forms; no script, no external assets. A GET never changes anything (link
//! scanners follow links); the action happens on the form's POST.

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, Json};
use castellan_core::CoreError;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::OpenApi;

use crate::api::Api;

pub mod kit;
use crate::client::Ctx;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(paths(verify_email_page, verify_email_submit, reset_password_page, reset_password_submit, style_asset, passkeys_asset), tags((name = "pages", description = "Pages opened from emailed links")))]
pub struct ApiDoc;

pub fn router() -> Api {
    Api::default()
        .get("/t/{tenant}/verify-email", verify_email_page)
        .post("/t/{tenant}/verify-email", verify_email_submit)
        .get("/t/{tenant}/reset-password", reset_password_page)
        .post("/t/{tenant}/reset-password", reset_password_submit)
        .get(kit::STYLE_PATH, kit::style)
        .get(kit::PASSKEYS_JS_PATH, kit::passkeys_js)
}

/// The pages' stylesheet.
#[utoipa::path(get, path = "/static/castellan.css", tag = "pages",
    responses((status = 200, description = "CSS", content_type = "text/css", body = String)))]
#[allow(dead_code)]
async fn style_asset() {}

/// The script of the passkey and security-key buttons and forms on every hosted page that has
/// them (OpenID Connect sign-in and account pages, the hosted 2FA page).
#[utoipa::path(get, path = "/static/passkeys.js", tag = "pages",
    responses((status = 200, description = "JavaScript", content_type = "text/javascript", body = String)))]
#[allow(dead_code)]
async fn passkeys_asset() {}

/// A page's query string; one that cannot be read (a repeated or mistyped field) reads as empty,
/// so the page answers as to a link without its parameters rather than with axum's plain text.
pub struct QueryOrEmpty<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequestParts<S> for QueryOrEmpty<T> {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(QueryOrEmpty(Query::<T>::from_request_parts(parts, state).await.map(|Query(q)| q).unwrap_or_default()))
    }
}

#[derive(Default, Deserialize, utoipa::IntoParams)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct VerifyForm {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page with Castellan's layout and headers that forbid framing and outside resources.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>body{{font-family:system-ui,sans-serif;max-width:26rem;margin:2rem auto;padding:0 1rem;color:#222}}\
         input,button{{font-size:1rem;padding:.6rem;width:100%;box-sizing:border-box;margin:.3rem 0}}button{{background:#1f4b99;color:#fff;border:0;border-radius:4px}}\
         .err{{color:#a00}}.ok{{color:#060}}</style></head><body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    );
    let mut r = (status, Html(html)).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The tenant a link names; an unknown one is the 404 page, and a failure to look it up the
/// error page (not a link that reads as invalid).
async fn tenant(state: &AppState, t: &str) -> Result<castellan_core::model::Tenant, Response> {
    state.core.tenants().find_tenant(t).await.map_err(|e| match e {
        CoreError::TenantNotFound => not_found(),
        e => error_page(e),
    })
}

fn not_found() -> Response {
    page(StatusCode::NOT_FOUND, "Not found", "<p>This link is not valid.</p>")
}

/// The confirm-email page: a button that confirms.
#[utoipa::path(get, path = "/t/{tenant}/verify-email", tag = "pages", params(("tenant" = String, Path, description = "Tenant slug"), TokenQuery),
    responses((status = 200, description = "The page, with a button that confirms", content_type = "text/html", body = String),
        (status = 404, description = "No such tenant", content_type = "text/html", body = String)))]
pub async fn verify_email_page(
    State(state): State<AppState>,
    Path(t): Path<String>,
    QueryOrEmpty(q): QueryOrEmpty<TokenQuery>,
) -> Response {
    let tenant = match tenant(&state, &t).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let body = format!(
        "<p>Confirm your email address for {}.</p><form method=\"post\"><input type=\"hidden\" name=\"token\" value=\"{}\"><button type=\"submit\">Confirm email</button></form>",
        escape(&tenant.display_name),
        escape(&q.token)
    );
    page(StatusCode::OK, "Confirm your email", &body)
}

/// Confirms the email address.
#[utoipa::path(post, path = "/t/{tenant}/verify-email", tag = "pages", params(("tenant" = String, Path, description = "Tenant slug")), request_body(content = VerifyForm, content_type = "application/x-www-form-urlencoded"), responses((status = 200, description = "Confirmed", content_type = "text/html", body = String), (status = 400, description = "Invalid or used link", content_type = "text/html", body = String),
        (status = 404, description = "No such tenant", content_type = "text/html", body = String)))]
pub async fn verify_email_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(t): Path<String>,
    form: Result<Form<VerifyForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let tenant = match tenant(&state, &t).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let token = form.map(|f| f.0.token).unwrap_or_default();
    match state.core.registrations().verify_email(&tenant, &token, &ctx.client).await {
        Ok(_) => page(StatusCode::OK, "Email confirmed", "<p class=\"ok\">Thank you: your email address is confirmed.</p>"),
        Err(CoreError::InvalidToken) => {
            page(StatusCode::BAD_REQUEST, "Link not valid", "<p class=\"err\">This link has expired or was already used.</p>")
        }
        Err(e) => error_page(e),
    }
}

fn reset_form(token: &str, message: &str) -> String {
    format!(
        "{message}<form method=\"post\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
         <label>New password<input type=\"password\" name=\"password\" autocomplete=\"new-password\" required></label>\
         <label>Repeat it<input type=\"password\" name=\"confirm\" autocomplete=\"new-password\" required></label>\
         <button type=\"submit\">Set password</button></form>",
        escape(token)
    )
}

/// The choose-a-new-password page.
#[utoipa::path(get, path = "/t/{tenant}/reset-password", tag = "pages", params(("tenant" = String, Path, description = "Tenant slug"), TokenQuery),
    responses((status = 200, description = "The form", content_type = "text/html", body = String), (status = 400, description = "Invalid or used link", content_type = "text/html", body = String),
        (status = 404, description = "No such tenant", content_type = "text/html", body = String)))]
pub async fn reset_password_page(
    State(state): State<AppState>,
    Path(t): Path<String>,
    QueryOrEmpty(q): QueryOrEmpty<TokenQuery>,
) -> Response {
    let tenant = match tenant(&state, &t).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match state.core.registrations().reset_token_is_valid(&tenant, &q.token).await {
        Ok(true) => page(StatusCode::OK, "Choose a new password", &reset_form(&q.token, "")),
        Ok(false) => {
            page(StatusCode::BAD_REQUEST, "Link not valid", "<p class=\"err\">This link has expired or was already used.</p>")
        }
        Err(e) => error_page(e),
    }
}

/// Sets the new password.
#[utoipa::path(post, path = "/t/{tenant}/reset-password", tag = "pages", params(("tenant" = String, Path, description = "Tenant slug")), request_body(content = ResetForm, content_type = "application/x-www-form-urlencoded"), responses((status = 200, description = "Changed", content_type = "text/html", body = String),
        (status = 400, description = "Invalid link, passwords that differ, or a weak password: the form again", content_type = "text/html", body = String),
        (status = 404, description = "No such tenant", content_type = "text/html", body = String)))]
pub async fn reset_password_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(t): Path<String>,
    form: Result<Form<ResetForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let tenant = match tenant(&state, &t).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Ok(Form(f)) = form else {
        return page(StatusCode::BAD_REQUEST, "Link not valid", "<p class=\"err\">The form could not be read.</p>");
    };
    if f.password != f.confirm {
        return page(
            StatusCode::BAD_REQUEST,
            "Choose a new password",
            &reset_form(&f.token, "<p class=\"err\">The two passwords differ.</p>"),
        );
    }
    match state.core.registrations().reset_password(&tenant, &f.token, &f.password, &ctx.client).await {
        Ok(()) => {
            page(StatusCode::OK, "Password changed", "<p class=\"ok\">Your password is changed. You can sign in with it now.</p>")
        }
        Err(CoreError::WeakPassword(rules)) => {
            let msg = format!("<p class=\"err\">This password does not meet the rules: {}.</p>", escape(&rules.join(", ")));
            page(StatusCode::BAD_REQUEST, "Choose a new password", &reset_form(&f.token, &msg))
        }
        Err(CoreError::InvalidToken) => {
            page(StatusCode::BAD_REQUEST, "Link not valid", "<p class=\"err\">This link has expired or was already used.</p>")
        }
        Err(e) => error_page(e),
    }
}

/// A core error the page has no answer of its own for. Every variant is listed, so a new one is
/// placed here on purpose.
fn error_page(e: CoreError) -> Response {
    tracing::error!(error = %castellan_core::error::Chain(&e), "page");
    match e {
        CoreError::Overloaded | CoreError::RateLimited { .. } => {
            (StatusCode::TOO_MANY_REQUESTS, Json(serde_json::json!({"error": "busy"}))).into_response()
        }
        CoreError::Validation(_)
        | CoreError::TenantNotFound
        | CoreError::InvalidCredentials
        | CoreError::EmailNotVerified
        | CoreError::AccountLocked { .. }
        | CoreError::InvalidMfaCode
        | CoreError::Unauthorized
        | CoreError::UnknownApplication
        | CoreError::InvalidOtp { .. }
        | CoreError::OtpExpired
        | CoreError::ChallengeExhausted
        | CoreError::UserNotFound
        | CoreError::NoChannelAddress
        | CoreError::TooManyChannels
        | CoreError::InvalidRefreshToken
        | CoreError::RefreshTokenReused
        | CoreError::WeakPassword(_)
        | CoreError::Conflict(_)
        | CoreError::InvalidToken
        | CoreError::NotFound
        | CoreError::Forbidden
        | CoreError::Disabled
        | CoreError::Storage(_)
        | CoreError::Internal(_) => {
            page(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "<p class=\"err\">Please try again later.</p>")
        }
    }
}
