//! The hosted 2FA page (`/start-authentication`): the user types the code of their authenticator
//! app; the backend is told the result first (signed callback), the browser second (a redirect,
//! or a `postMessage` to the opener in a popup).

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use castellan_core::CoreError;
use castellan_core::model::{CallbackStatus, VerificationStatus};
use castellan_core::services::hosted_2fa::{CodeOutcome, OpenVerification, registered_redirect};
use serde::Deserialize;
use url::Url;

use super::extract::PageForm;
use super::html::{self, HOSTED_JS_PATH, Opener, escape, mask_email, page};
use crate::client::Ctx;
use crate::pages::QueryOrEmpty;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Redirect,
    Popup,
}

/// The page's parameters, from the query (GET) or the form (POST).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
#[schema(as = HostedParams)]
pub struct Params {
    /// `redirect` or `popup`.
    #[serde(default)]
    signin_method: String,
    #[serde(default)]
    session_token: String,
    /// One of the application's redirect URIs, exactly (popup: or the origin of one).
    #[serde(default)]
    redirect_uri: String,
    /// Echoed back whenever given.
    #[serde(default)]
    state: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = HostedCodeForm)]
pub struct CodeForm {
    #[serde(flatten)]
    params: Params,
    #[serde(default)]
    code: String,
}

/// The failure codes the business's page receives.
#[derive(Debug, Clone, Copy)]
enum Failure {
    Reject,
    Timeout,
    Internal,
}

impl Failure {
    fn code(self) -> &'static str {
        match self {
            Failure::Reject => "REJECT",
            Failure::Timeout => "TIMEOUT",
            Failure::Internal => "INTERNAL_SERVER_ERROR",
        }
    }

    /// How a finished verification reads on a page opened again: its own failure, and TIMEOUT
    /// for a token already used (that attempt is over).
    fn of(status: VerificationStatus) -> Failure {
        match status {
            VerificationStatus::Rejected => Failure::Reject,
            VerificationStatus::Failed => Failure::Internal,
            _ => Failure::Timeout,
        }
    }
}

/// Where the result goes, once the redirect URI is known to be the application's.
struct Target {
    method: Method,
    redirect_uri: String,
    /// `scheme://host[:port]` of the redirect URI: the only `postMessage` target.
    origin: String,
    state: Option<String>,
}

/// Where the result goes, if the redirect URI is the application's (see
/// [`registered_redirect`]).
fn registered_target(open: &OpenVerification, p: &Params, method: Method) -> Option<Target> {
    let origin = registered_redirect(&open.app, &p.redirect_uri, method == Method::Popup)?;
    Some(Target { method, redirect_uri: p.redirect_uri.clone(), origin, state: p.state.clone().filter(|s| !s.is_empty()) })
}

fn method_of(p: &Params) -> Option<Method> {
    match p.signin_method.as_str() {
        "redirect" => Some(Method::Redirect),
        "popup" => Some(Method::Popup),
        _ => None,
    }
}

/// A page that redirects nowhere: the request itself cannot be trusted with a destination.
fn dead_end(status: StatusCode, title: &str, text: &str) -> Response {
    page(status, title, &format!("<h1>{}</h1><p>{}</p>", escape(title), escape(text)), None, &[], Opener::Isolated)
}

/// `uri` with `pairs` added to its query.
fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    match Url::parse(uri) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
            }
            u.to_string()
        }
        Err(_) => uri.to_string(),
    }
}

fn opener_of(t: &Target) -> Opener {
    if t.method == Method::Popup { Opener::Kept } else { Opener::Isolated }
}

/// "You have no access", with a Sign in button that hands the failure to the business's page.
fn failure_page(t: &Target, failure: Failure) -> Response {
    let code = failure.code();
    let why = match failure {
        Failure::Reject => "The sign-in was rejected.",
        Failure::Timeout => "This sign-in request has expired or was already used.",
        Failure::Internal => "The application could not be told of the result.",
    };
    let button = match t.method {
        Method::Redirect => {
            let mut pairs = vec![("error", code)];
            if let Some(s) = &t.state {
                pairs.push(("state", s));
            }
            format!("<a class=\"button\" id=\"sign-in\" href=\"{}\">Sign in</a>", escape(&with_query(&t.redirect_uri, &pairs)))
        }
        Method::Popup => format!(
            "<button type=\"button\" id=\"sign-in\" data-post-result=\"1\" data-target-origin=\"{}\" data-state=\"{}\" \
             data-has-state=\"{}\" data-error=\"{code}\">Sign in</button>",
            escape(&t.origin),
            escape(t.state.as_deref().unwrap_or_default()),
            t.state.is_some()
        ),
    };
    let body = format!(
        "<h1>No access</h1><p class=\"err\" id=\"failure\" data-code=\"{code}\">You do not have access. {why}</p>{button}"
    );
    page(StatusCode::OK, "No access", &body, Some(HOSTED_JS_PATH), &[], opener_of(t))
}

/// Success: the backend has the result; now the browser.
fn success(t: &Target, token: &str) -> Response {
    match t.method {
        Method::Redirect => {
            let mut pairs = vec![("session_token", token)];
            if let Some(s) = &t.state {
                pairs.push(("state", s));
            }
            let mut r = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&with_query(&t.redirect_uri, &pairs)) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        Method::Popup => {
            let body = format!(
                "<h1>Verified</h1><p id=\"done\" data-post-result=\"1\" data-auto=\"1\" data-target-origin=\"{}\" \
                 data-session-token=\"{}\" data-state=\"{}\" data-has-state=\"{}\">You can close this window.</p>",
                escape(&t.origin),
                escape(token),
                escape(t.state.as_deref().unwrap_or_default()),
                t.state.is_some()
            );
            page(StatusCode::OK, "Verified", &body, Some(HOSTED_JS_PATH), &[], Opener::Kept)
        }
    }
}

/// The code form.
fn code_page(open: &OpenVerification, p: &Params, t: &Target, error: Option<&str>) -> Response {
    let hidden = format!(
        "<input type=\"hidden\" name=\"signin_method\" value=\"{}\"><input type=\"hidden\" name=\"session_token\" value=\"{}\">\
         <input type=\"hidden\" name=\"redirect_uri\" value=\"{}\">{}",
        escape(&p.signin_method),
        escape(&p.session_token),
        escape(&p.redirect_uri),
        t.state.as_deref().map(|s| format!("<input type=\"hidden\" name=\"state\" value=\"{}\">", escape(s))).unwrap_or_default()
    );
    let digits = open.digits;
    let error = error.map(|e| format!("<p class=\"err\" id=\"error\" role=\"alert\">{}</p>", escape(e))).unwrap_or_default();
    let body = format!(
        "<h1>{app}</h1><p>Enter the {digits}-digit code from your authenticator app for <strong id=\"email\">{email}</strong>.</p>{error}\
         <form method=\"post\" action=\"/start-authentication/verify\" id=\"verify-form\">{hidden}\
         <label for=\"code\">Code</label><input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" \
         pattern=\"[0-9]{{{digits}}}\" minlength=\"{digits}\" maxlength=\"{digits}\" required autofocus>\
         <button type=\"submit\" id=\"verify\">Verify</button></form>\
         <form method=\"post\" action=\"/start-authentication/reject\" id=\"reject-form\">{hidden}\
         <button type=\"submit\" class=\"secondary\" id=\"reject\">This wasn't me</button></form>",
        app = escape(&open.app.name),
        email = escape(&mask_email(&open.verification.email)),
    );
    // A redirect that follows the form's POST must be allowed by `form-action` too.
    let targets = if t.method == Method::Redirect { vec![t.origin.clone()] } else { vec![] };
    page(StatusCode::OK, &open.app.name, &body, Some(HOSTED_JS_PATH), &targets, opener_of(t))
}

/// Everything a request must pass before the page does anything: a known method, a genuine
/// token and a registered redirect URI. `Err` is the page to show instead. `attempt`: the
/// request sends a code or a rejection, so a token that opens nothing is audited.
async fn prepare(state: &AppState, p: &Params, attempt: Option<&Ctx>) -> Result<(OpenVerification, Target), Response> {
    let Some(method) = method_of(p) else {
        return Err(dead_end(StatusCode::BAD_REQUEST, "Invalid request", "signin_method must be redirect or popup."));
    };
    let opened = match attempt {
        Some(ctx) => state.core.open_verification_attempt(&p.session_token, &ctx.0).await,
        None => state.core.open_verification(&p.session_token).await,
    };
    let open = match opened {
        Ok(o) => o,
        Err(CoreError::InvalidToken) => {
            return Err(dead_end(StatusCode::BAD_REQUEST, "No access", "This sign-in link is not valid."));
        }
        Err(e) => {
            tracing::error!(error = %e, "hosted page");
            return Err(dead_end(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "Please try again later."));
        }
    };
    let Some(target) = registered_target(&open, p, method) else {
        return Err(dead_end(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "The redirect URI is not registered for this application.",
        ));
    };
    Ok((open, target))
}

/// The verification's state as a page, if it is not open for a code.
async fn closed(state: &AppState, ctx: &Ctx, open: &OpenVerification, t: &Target) -> Option<Response> {
    let now = state.core.now();
    if open.verification.status == VerificationStatus::Pending && open.expired(now) {
        let _ = state.core.time_out_verification(open, &ctx.0).await;
        return Some(failure_page(t, Failure::Timeout));
    }
    (open.verification.status != VerificationStatus::Pending).then(|| failure_page(t, Failure::of(open.verification.status)))
}

/// The hosted 2FA page.
#[utoipa::path(get, path = "/start-authentication", tag = "eauthenticator", params(Params),
    responses((status = 200, description = "The code page, or the failure page (REJECT, TIMEOUT)", content_type = "text/html", body = String),
        (status = 400, description = "Unknown method, invalid token or unregistered redirect URI: an error page that redirects nowhere", content_type = "text/html", body = String)))]
pub async fn start(State(state): State<AppState>, ctx: Ctx, QueryOrEmpty(p): QueryOrEmpty<Params>) -> Response {
    // A query that cannot be read names no method: the 400 page.
    let (open, target) = match prepare(&state, &p, None).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    if let Some(page) = closed(&state, &ctx, &open, &target).await {
        return page;
    }
    code_page(&open, &p, &target, None)
}

/// How long a page waits for the callback: its whole window, and a little for the last try.
fn settle_limit(state: &AppState) -> Duration {
    Duration::from_secs(state.settings.callback_window_seconds.clamp(1, 600) + 6)
}

/// Waits for the verification's callback to settle. A server shutting down stops waiting (the
/// callback itself is stored and resumes on the next start); the browser is told it failed.
async fn settle(state: &AppState, open: &OpenVerification) -> Option<(VerificationStatus, Option<CallbackStatus>)> {
    let mut shutdown = state.shutdown.clone();
    tokio::select! {
        r = state.core.settle_verification(open, settle_limit(state)) => match r {
            Ok(x) => Some(x),
            Err(e) => {
                tracing::error!(error = %e, "hosted page: settling");
                None
            }
        },
        _ = shutdown.wait_for(|s| *s) => None,
    }
}

/// A code entered on the page.
#[utoipa::path(post, path = "/start-authentication/verify", tag = "eauthenticator", request_body(content = CodeForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 302, description = "Redirect method, verified: to the redirect URI with session_token (and state)",
            headers(("Location" = String, description = "The redirect URI with session_token (and state)"))),
        (status = 200, description = "The page again (wrong code), the popup result page, or the failure page", content_type = "text/html", body = String),
        (status = 400, description = "Unknown method, invalid token or unregistered redirect URI, or a form that cannot be read", content_type = "text/html", body = String),
        (status = 403, description = "Sent from another site", content_type = "text/html", body = String),
        (status = 415, description = "Not sent as application/x-www-form-urlencoded", content_type = "text/html", body = String),
        (status = 429, description = "Too many requests (Retry-After)", content_type = "text/html", body = String)))]
pub async fn verify(State(state): State<AppState>, ctx: Ctx, headers: HeaderMap, PageForm(form): PageForm<CodeForm>) -> Response {
    if html::cross_site(&headers, &state.core.config.public_url) {
        return html::forbidden_page();
    }
    if let Err(wait) = state.auth_limiter.check(ctx.1) {
        let mut r = dead_end(StatusCode::TOO_MANY_REQUESTS, "Too many requests", "Please wait a moment and try again.");
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let p = form.params;
    let (open, target) = match prepare(&state, &p, Some(&ctx)).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    // A verification no longer open is the core's to tell (and to audit, as this attempt).
    let outcome = match state.core.submit_hosted_code(&open, &form.code, &ctx.0).await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "hosted page: code");
            return failure_page(&target, Failure::Internal);
        }
    };
    match outcome {
        CodeOutcome::Wrong { tries_left } => {
            let msg = format!("Wrong code. {tries_left} {} left.", if tries_left == 1 { "try" } else { "tries" });
            code_page(&open, &p, &target, Some(&msg))
        }
        CodeOutcome::Closed(status) => failure_page(&target, Failure::of(status)),
        CodeOutcome::Rejected => {
            // The backend hears of the rejection first, as of a success.
            let _ = settle(&state, &open).await;
            failure_page(&target, Failure::Reject)
        }
        CodeOutcome::Verified => match settle(&state, &open).await {
            Some((VerificationStatus::Succeeded, _) | (_, None) | (_, Some(CallbackStatus::Delivered))) => {
                success(&target, &p.session_token)
            }
            _ => failure_page(&target, Failure::Internal),
        },
    }
}

/// "This wasn't me".
#[utoipa::path(post, path = "/start-authentication/reject", tag = "eauthenticator", request_body(content = Params, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The failure page (REJECT)", content_type = "text/html", body = String),
        (status = 400, description = "Unknown method, invalid token or unregistered redirect URI, or a form that cannot be read", content_type = "text/html", body = String),
        (status = 403, description = "Sent from another site", content_type = "text/html", body = String),
        (status = 415, description = "Not sent as application/x-www-form-urlencoded", content_type = "text/html", body = String)))]
pub async fn reject(State(state): State<AppState>, ctx: Ctx, headers: HeaderMap, PageForm(p): PageForm<Params>) -> Response {
    if html::cross_site(&headers, &state.core.config.public_url) {
        return html::forbidden_page();
    }
    let (open, target) = match prepare(&state, &p, Some(&ctx)).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    match state.core.reject_verification(&open, &ctx.0).await {
        Ok(VerificationStatus::Rejected) => {
            let _ = settle(&state, &open).await;
            failure_page(&target, Failure::Reject)
        }
        Ok(other) => failure_page(&target, Failure::of(other)),
        Err(e) => {
            tracing::error!(error = %e, "hosted page: reject");
            failure_page(&target, Failure::Internal)
        }
    }
}
