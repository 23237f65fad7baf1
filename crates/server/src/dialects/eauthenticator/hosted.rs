//! The hosted 2FA page (`/start-authentication`): the user types the code of their authenticator
//! app; the backend is told the result first (signed callback), the browser second (a redirect,
//! or a `postMessage` to the opener in a popup). The verification itself is the core's
//! (`hosted_page`): this module reads the request and renders the outcome.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use castellan_core::CoreError;
use castellan_core::services::hosted_page::{HostedPage, PageAction, PageFailure, PageOutcome, PageRequest};
use serde::Deserialize;
use url::Url;

use super::error::Refusal;
use super::extract::PageForm;
use super::html::{self, HOSTED_JS_PATH, Opener, PASSKEYS_JS_PATH, escape, mask_email, page, page_with_scripts};
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
    pub(super) signin_method: String,
    #[serde(default)]
    pub(super) session_token: String,
    /// One of the application's redirect URIs, exactly (popup: or the origin of one).
    #[serde(default)]
    pub(super) redirect_uri: String,
    /// Echoed back whenever given.
    #[serde(default)]
    pub(super) state: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = HostedCodeForm)]
pub struct CodeForm {
    #[serde(flatten)]
    params: Params,
    #[serde(default)]
    code: String,
}

/// The code the business's page receives for a failure.
fn failure_code(failure: PageFailure) -> &'static str {
    match failure {
        PageFailure::Rejected => "REJECT",
        PageFailure::TimedOut => "TIMEOUT",
        PageFailure::Internal => "INTERNAL_SERVER_ERROR",
    }
}

/// Where the result goes, once the core has found the redirect URI to be the application's.
pub(super) struct Target {
    pub(super) method: Method,
    pub(super) redirect_uri: String,
    /// `scheme://host[:port]` of the redirect URI: the only `postMessage` target.
    pub(super) origin: String,
    pub(super) state: Option<String>,
}

impl Target {
    pub(super) fn of(page: &HostedPage, p: &Params, method: Method) -> Target {
        Target {
            method,
            redirect_uri: p.redirect_uri.clone(),
            origin: page.origin.clone(),
            state: p.state.clone().filter(|s| !s.is_empty()),
        }
    }
}

pub(super) fn method_of(p: &Params) -> Option<Method> {
    match p.signin_method.as_str() {
        "redirect" => Some(Method::Redirect),
        "popup" => Some(Method::Popup),
        _ => None,
    }
}

/// A page that redirects nowhere: the request itself cannot be trusted with a destination.
pub(super) fn dead_end(status: StatusCode, title: &str, text: &str) -> Response {
    page(status, title, &format!("<h1>{}</h1><p>{}</p>", escape(title), escape(text)), None, &[], Opener::Isolated)
}

/// Rate limited: wait this many seconds.
pub(super) fn too_many(wait: i64) -> Response {
    let mut r = dead_end(StatusCode::TOO_MANY_REQUESTS, "Too many requests", "Please wait a moment and try again.");
    if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// The dead end for a request the core refused before it found where the result may go.
pub(super) fn refused(e: CoreError) -> Response {
    match Refusal::from(e) {
        Refusal::InvalidToken => dead_end(StatusCode::BAD_REQUEST, "No access", "This sign-in link is not valid."),
        // The only field the page's call checks is the redirect URI.
        Refusal::Invalid(_) => {
            dead_end(StatusCode::BAD_REQUEST, "Invalid request", "The redirect URI is not registered for this application.")
        }
        Refusal::Unavailable(cause) => {
            tracing::warn!(cause = %cause, "hosted page: database unavailable");
            dead_end(StatusCode::SERVICE_UNAVAILABLE, "Temporarily unavailable", "Please try again in a moment.")
        }
        r @ (Refusal::WrongCredentials
        | Refusal::EmailNotVerified
        | Refusal::Locked(_)
        | Refusal::Unauthorized
        | Refusal::Forbidden
        | Refusal::Disabled
        | Refusal::NotFound
        | Refusal::Conflict(_)
        | Refusal::Unexpected(_)
        | Refusal::Internal(_)) => {
            tracing::error!(refusal = ?r, "hosted page");
            dead_end(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "Please try again later.")
        }
    }
}
/// `uri` with `pairs` added to its query.
pub(super) fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
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

pub(super) fn opener_of(t: &Target) -> Opener {
    if t.method == Method::Popup { Opener::Kept } else { Opener::Isolated }
}

/// The redirect URI with these parameters, and the state when one was given.
pub(super) fn result_url(t: &Target, pairs: &[(&str, &str)]) -> String {
    let mut pairs = pairs.to_vec();
    if let Some(s) = &t.state {
        pairs.push(("state", s));
    }
    with_query(&t.redirect_uri, &pairs)
}

/// The attributes with which the page's script posts a result to the popup's opener, at the
/// redirect URI's origin only: the session token, or the failure's code.
pub(super) fn result_attrs(t: &Target, token: Option<&str>, error: Option<&str>) -> String {
    format!(
        "data-post-result=\"1\" data-target-origin=\"{}\" data-state=\"{}\" data-has-state=\"{}\"{}{}",
        escape(&t.origin),
        escape(t.state.as_deref().unwrap_or_default()),
        t.state.is_some(),
        token.map(|v| format!(" data-session-token=\"{}\"", escape(v))).unwrap_or_default(),
        error.map(|v| format!(" data-error=\"{}\"", escape(v))).unwrap_or_default(),
    )
}

/// "You have no access", with a Sign in button that hands the failure to the business's page.
fn failure_page(t: &Target, failure: PageFailure) -> Response {
    let code = failure_code(failure);
    let why = match failure {
        PageFailure::Rejected => "The sign-in was rejected.",
        PageFailure::TimedOut => "This sign-in request has expired or was already used.",
        PageFailure::Internal => "The application could not be told of the result.",
    };
    let button = match t.method {
        Method::Redirect => {
            format!("<a class=\"button\" id=\"sign-in\" href=\"{}\">Sign in</a>", escape(&result_url(t, &[("error", code)])))
        }
        Method::Popup => {
            format!("<button type=\"button\" id=\"sign-in\" {}>Sign in</button>", result_attrs(t, None, Some(code)))
        }
    };
    let body = format!(
        "<h1>No access</h1><p class=\"err\" id=\"failure\" data-code=\"{code}\">You do not have access. {why}</p>{button}"
    );
    page(StatusCode::OK, "No access", &body, Some(HOSTED_JS_PATH), &[], opener_of(t))
}

/// Success: the backend has the result; now the browser.
pub(super) fn success(t: &Target, token: &str) -> Response {
    match t.method {
        Method::Redirect => {
            let mut r = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&result_url(t, &[("session_token", token)])) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        Method::Popup => {
            let body = format!(
                "<h1>Verified</h1><p id=\"done\" data-auto=\"1\" {}>You can close this window.</p>",
                result_attrs(t, Some(token), None)
            );
            page(StatusCode::OK, "Verified", &body, Some(HOSTED_JS_PATH), &[], Opener::Kept)
        }
    }
}

/// The page's parameters as hidden fields: every form of the page carries them.
pub(super) fn hidden_params(p: &Params, t: &Target) -> String {
    format!(
        "<input type=\"hidden\" name=\"signin_method\" value=\"{}\"><input type=\"hidden\" name=\"session_token\" value=\"{}\">\
         <input type=\"hidden\" name=\"redirect_uri\" value=\"{}\">{}",
        escape(&p.signin_method),
        escape(&p.session_token),
        escape(&p.redirect_uri),
        t.state.as_deref().map(|s| format!("<input type=\"hidden\" name=\"state\" value=\"{}\">", escape(s))).unwrap_or_default()
    )
}

/// The code form, and the key button where the page offers the user's keys.
fn code_page(hosted: &HostedPage, p: &Params, t: &Target, error: Option<&str>) -> Response {
    let hidden = hidden_params(p, t);
    let digits = hosted.digits;
    let error = error.map(|e| format!("<p class=\"err\" id=\"error\" role=\"alert\">{}</p>", escape(e))).unwrap_or_default();
    let email = format!("<strong id=\"email\">{}</strong>", escape(&mask_email(&hosted.email)));
    let ask = match (hosted.code, hosted.keys) {
        (true, true) => format!(
            "Use your security key or passkey, or enter the {digits}-digit code from your authenticator app, for {email}."
        ),
        (false, true) => format!("Use your security key or passkey for {email}."),
        _ => format!("Enter the {digits}-digit code from your authenticator app for {email}."),
    };
    let key_form = if hosted.keys { super::hosted_keys::key_form(&hidden, !hosted.code) } else { String::new() };
    let code_form = if hosted.code || !hosted.keys {
        format!(
            "<form method=\"post\" action=\"/start-authentication/verify\" id=\"verify-form\">{hidden}\
             <label for=\"code\">Code</label><input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" \
             pattern=\"[0-9]{{{digits}}}\" minlength=\"{digits}\" maxlength=\"{digits}\" required autofocus>\
             <button type=\"submit\" id=\"verify\">Verify</button></form>"
        )
    } else {
        String::new()
    };
    let body = format!(
        "<h1>{app}</h1><p>{ask}</p>{error}{key_form}{code_form}\
         <form method=\"post\" action=\"/start-authentication/reject\" id=\"reject-form\">{hidden}\
         <button type=\"submit\" class=\"secondary\" id=\"reject\">This wasn't me</button></form>",
        app = escape(&hosted.app_name),
    );
    // A redirect that follows the form's POST must be allowed by `form-action` too.
    let targets = if t.method == Method::Redirect { vec![t.origin.clone()] } else { vec![] };
    let scripts: &[&str] = if hosted.keys { &[HOSTED_JS_PATH, PASSKEYS_JS_PATH] } else { &[HOSTED_JS_PATH] };
    page_with_scripts(StatusCode::OK, &hosted.app_name, &body, scripts, &targets, opener_of(t))
}

/// Runs the request on the verification (one core call) and renders where it stands.
pub(super) async fn run(state: &AppState, ctx: &Ctx, p: &Params, action: PageAction<'_>) -> Response {
    let Some(method) = method_of(p) else {
        return dead_end(StatusCode::BAD_REQUEST, "Invalid request", "signin_method must be redirect or popup.");
    };
    let request =
        PageRequest { session_token: &p.session_token, redirect_uri: &p.redirect_uri, popup: method == Method::Popup, action };
    let hosted = match state.core.hosted().hosted_page(request, &ctx.client, state.shutdown.clone()).await {
        Ok(h) => h,
        Err(e) => return refused(e),
    };
    let target = Target::of(&hosted, p, method);
    show(hosted, p, &target)
}

/// Where the verification stands, as the page shows it.
pub(super) fn show(hosted: HostedPage, p: &Params, target: &Target) -> Response {
    match hosted.outcome {
        PageOutcome::Code { tries_left: None } => code_page(&hosted, p, target, None),
        PageOutcome::Code { tries_left: Some(n) } => {
            let wrong = if hosted.keys { "Wrong code, or the key was not accepted." } else { "Wrong code." };
            let msg = format!("{wrong} {n} {} left.", if n == 1 { "try" } else { "tries" });
            code_page(&hosted, p, target, Some(&msg))
        }
        PageOutcome::Verified => match hosted.enrol {
            Some(begun) => super::hosted_keys::offer_page(&hosted.app_name, p, target, begun),
            None => success(target, &p.session_token),
        },
        PageOutcome::Failed(failure) => failure_page(target, failure),
        PageOutcome::Unavailable => {
            let mut r = code_page(&hosted, p, target, Some("The service is unavailable for a moment. Please try again."));
            *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            r
        }
    }
}

/// The hosted 2FA page.
#[utoipa::path(get, path = "/start-authentication", tag = "eauthenticator", params(Params),
    responses((status = 200, description = "The code page, or the failure page (REJECT, TIMEOUT)", content_type = "text/html", body = String),
        (status = 400, description = "Unknown method, invalid token or unregistered redirect URI: an error page that redirects nowhere", content_type = "text/html", body = String)))]
pub async fn start(State(state): State<AppState>, ctx: Ctx, QueryOrEmpty(p): QueryOrEmpty<Params>) -> Response {
    // A query that cannot be read names no method: the 400 page.
    run(&state, &ctx, &p, PageAction::Look).await
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
    if let Err(wait) = state.auth_limiter.check(ctx.ip) {
        return too_many(wait);
    }
    run(&state, &ctx, &form.params, PageAction::Code(&form.code)).await
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
    run(&state, &ctx, &p, PageAction::Reject).await
}
