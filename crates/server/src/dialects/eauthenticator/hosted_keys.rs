//! The hosted page's passkeys and security keys, where the application offers them: the
//! challenge for the user's keys and their answer (a try, as a code is), and, after a right code,
//! the offer to add a first key before the user goes on. The ceremonies are the core's
//! (`hosted_page`, `passkeys`); this module reads the forms and renders.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use castellan_core::CoreError;
use castellan_core::services::hosted_page::PageAction;
use castellan_core::services::passkeys::Begun;
use serde::Deserialize;
use serde_json::json;

use super::error::Refusal;
use super::extract::PageForm;
use super::hosted::{
    Method, Params, Target, dead_end, hidden_params, method_of, opener_of, refused, result_attrs, result_url, run, too_many,
};
use super::html::{self, HOSTED_JS_PATH, PASSKEYS_JS_PATH, escape, page_with_scripts};
use crate::client::Ctx;
use crate::state::AppState;

/// A key's answer, or a new key, sent from the page.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = HostedKeyForm)]
pub struct KeyForm {
    #[serde(flatten)]
    params: Params,
    /// The ceremony token that came with the challenge.
    #[serde(default)]
    ceremony: String,
    /// The browser's answer (PublicKeyCredential as WebAuthn JSON).
    #[serde(default)]
    credential: String,
}

/// The button that asks the user's keys, posting their answer: hidden until the page's script
/// finds the browser can use keys; a browser that cannot is told so, where the key is the only way.
pub(super) fn key_form(hidden: &str, only_way: bool) -> String {
    let cannot = if only_way {
        "<p class=\"err\" id=\"no-webauthn\">This browser cannot use security keys here (it needs WebAuthn and \
         JavaScript). Open this page in another browser, or ask the service for another way to confirm it is you.</p>"
    } else {
        ""
    };
    format!(
        "<form method=\"post\" action=\"/start-authentication/key\" id=\"key-form\" \
         data-options=\"/start-authentication/key/options\">{hidden}\
         <input type=\"hidden\" name=\"ceremony\"><input type=\"hidden\" name=\"credential\">\
         <button type=\"button\" id=\"key-button\" hidden>Use your security key or passkey</button>{cannot}</form>"
    )
}

/// How the user goes on to the business's page once verified: a link (redirect) or a button
/// that posts the result to the opener (popup).
fn go_on(t: &Target, token: &str, label: &str, secondary: bool) -> String {
    let class = if secondary { "secondary" } else { "" };
    match t.method {
        Method::Redirect => format!(
            "<a class=\"button {class}\" id=\"continue\" href=\"{}\">{label}</a>",
            escape(&result_url(t, &[("session_token", token)]))
        ),
        Method::Popup => format!(
            "<button type=\"button\" id=\"continue\" class=\"{class}\" {}>{label}</button>",
            result_attrs(t, Some(token), None)
        ),
    }
}

fn verified_page(app_name: &str, t: &Target, body: &str) -> Response {
    let mut r = page_with_scripts(StatusCode::OK, app_name, body, &[HOSTED_JS_PATH, PASSKEYS_JS_PATH], &[], opener_of(t));
    // The page carries a registration meant for this answer alone.
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Verified, and the application offers keys to a user who has none: add one, or go on.
pub(super) fn offer_page(app_name: &str, p: &Params, t: &Target, begun: Begun) -> Response {
    let body = format!(
        "<h1>Verified</h1><p id=\"offer\">Next time, a security key or a passkey on this device can confirm it is you \
         instead of a code.</p>\
         <form method=\"post\" action=\"/start-authentication/add-key\" id=\"register-form\" data-begun=\"{begun}\">{hidden}\
         <input type=\"hidden\" name=\"kind\" value=\"security_key\"><input type=\"hidden\" name=\"ceremony\">\
         <input type=\"hidden\" name=\"credential\">\
         <button type=\"button\" id=\"add-security-key\" data-kind=\"security_key\">Add a security key or passkey</button>\
         <p class=\"err\" role=\"alert\" id=\"register-error\" hidden></p></form>{go_on}",
        begun = escape(&begun.into_json().to_string()),
        hidden = hidden_params(p, t),
        go_on = go_on(t, &p.session_token, "Not now, continue", true),
    );
    verified_page(app_name, t, &body)
}

/// The challenge for the user's keys, for the page's script.
#[utoipa::path(post, path = "/start-authentication/key/options", tag = "eauthenticator",
    request_body(content = Params, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "`publicKey`: PublicKeyCredentialRequestOptions as WebAuthn JSON (the user's credentials, user verification required); `ceremony`: the token the answer is posted with", body = Object),
        (status = 400, description = "A token that opens nothing, a verification no longer open, keys not offered, or a redirect URI not the application's: `{\"code\": \"INVALID_REQUEST\", \"message\", \"data\": null}`", body = Object),
        (status = 403, description = "Sent from another site", body = Object),
        (status = 415, description = "Not a form", content_type = "text/html", body = String)))]
pub async fn key_options(State(state): State<AppState>, ctx: Ctx, headers: HeaderMap, PageForm(p): PageForm<Params>) -> Response {
    let refuse = |status: StatusCode, message: &str| {
        (status, Json(json!({"code": "INVALID_REQUEST", "message": message, "data": null}))).into_response()
    };
    if html::cross_site(&headers, &state.core.config.public_url) {
        return refuse(StatusCode::FORBIDDEN, "sent from another site");
    }
    // Each challenge is a stored ceremony: asked for as often as codes may be tried.
    if let Err(wait) = state.auth_limiter.check(ctx.ip) {
        let mut r = refuse(StatusCode::TOO_MANY_REQUESTS, "too many requests");
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let Some(method) = method_of(&p) else {
        return refuse(StatusCode::BAD_REQUEST, "signin_method must be redirect or popup");
    };
    let hosted = state.core.hosted();
    match hosted.hosted_key_options(&p.session_token, &p.redirect_uri, method == Method::Popup).await {
        Ok(begun) => Json(begun.into_json()).into_response(),
        Err(e) => match Refusal::from(e) {
            Refusal::InvalidToken => refuse(StatusCode::BAD_REQUEST, "this sign-in is no longer open for a key"),
            Refusal::Invalid(_) => refuse(StatusCode::BAD_REQUEST, "the redirect URI is not registered for this application"),
            Refusal::NotFound => refuse(StatusCode::BAD_REQUEST, "no key to ask"),
            Refusal::Unavailable(cause) => {
                tracing::warn!(cause = %cause, "hosted page: database unavailable");
                let body = json!({"code": "SERVICE_UNAVAILABLE", "message": "try again shortly", "data": null});
                (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
            }
            r => {
                tracing::error!(refusal = ?r, "hosted page: key options");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({"code": "INTERNAL_SERVER_ERROR", "message": "try again", "data": null})),
                )
                    .into_response()
            }
        },
    }
}

/// A key's answer: a try, as a code.
#[utoipa::path(post, path = "/start-authentication/key", tag = "eauthenticator", request_body(content = KeyForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 302, description = "Redirect method, verified: to the redirect URI with session_token (and state)",
            headers(("Location" = String, description = "The redirect URI with session_token (and state)"))),
        (status = 200, description = "The page again (a key refused spends a try), the popup result page, or the failure page", content_type = "text/html", body = String),
        (status = 400, description = "Unknown method, invalid token or unregistered redirect URI, or a form that cannot be read", content_type = "text/html", body = String),
        (status = 403, description = "Sent from another site", content_type = "text/html", body = String),
        (status = 415, description = "Not sent as application/x-www-form-urlencoded", content_type = "text/html", body = String),
        (status = 429, description = "Too many requests (Retry-After)", content_type = "text/html", body = String)))]
pub async fn key(State(state): State<AppState>, ctx: Ctx, headers: HeaderMap, PageForm(form): PageForm<KeyForm>) -> Response {
    if html::cross_site(&headers, &state.core.config.public_url) {
        return html::forbidden_page();
    }
    if let Err(wait) = state.auth_limiter.check(ctx.ip) {
        return too_many(wait);
    }
    run(&state, &ctx, &form.params, PageAction::Key { ceremony: &form.ceremony, response: &form.credential }).await
}

/// Adds the first key the page offered after a right code; then the user goes on.
#[utoipa::path(post, path = "/start-authentication/add-key", tag = "eauthenticator", request_body(content = KeyForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Added, or refused (why): the page the user goes on from", content_type = "text/html", body = String),
        (status = 400, description = "Unknown method, invalid token, a verification that did not go through, or an unregistered redirect URI", content_type = "text/html", body = String),
        (status = 403, description = "Sent from another site", content_type = "text/html", body = String),
        (status = 415, description = "Not sent as application/x-www-form-urlencoded", content_type = "text/html", body = String),
        (status = 429, description = "Too many requests (Retry-After)", content_type = "text/html", body = String)))]
pub async fn add_key(State(state): State<AppState>, ctx: Ctx, headers: HeaderMap, PageForm(form): PageForm<KeyForm>) -> Response {
    if html::cross_site(&headers, &state.core.config.public_url) {
        return html::forbidden_page();
    }
    if let Err(wait) = state.auth_limiter.check(ctx.ip) {
        return too_many(wait);
    }
    let p = &form.params;
    let Some(method) = method_of(p) else {
        return dead_end(StatusCode::BAD_REQUEST, "Invalid request", "signin_method must be redirect or popup.");
    };
    let hosted = state.core.hosted();
    let popup = method == Method::Popup;
    let added = hosted.hosted_add_key(&p.session_token, &p.redirect_uri, popup, &form.ceremony, &form.credential, &ctx.client);
    let (page, added) = match added.await {
        Ok(found) => found,
        Err(CoreError::InvalidToken) => {
            return dead_end(StatusCode::BAD_REQUEST, "No access", "This sign-in link is not valid for adding a key.");
        }
        Err(e) => return refused(e),
    };
    let target = Target::of(&page, p, method);
    let said = match added {
        Ok(()) => "<p id=\"added\">Your security key is added. Next time it can confirm it is you.</p>".to_string(),
        Err(CoreError::Validation(why)) => {
            let msg = why.values().next().cloned().unwrap_or_default();
            format!("<p class=\"err\" role=\"alert\" id=\"error\">The key was not added: {}.</p>", escape(&msg))
        }
        Err(CoreError::InvalidToken) => {
            "<p class=\"err\" role=\"alert\" id=\"error\">The key was not added: that took too long, or was sent twice.</p>"
                .to_string()
        }
        Err(e) => {
            tracing::error!(error = %castellan_core::error::Chain(&e), "hosted page: adding a key");
            "<p class=\"err\" role=\"alert\" id=\"error\">The key was not added: something went wrong.</p>".to_string()
        }
    };
    let body = format!("<h1>Verified</h1>{said}{}", go_on(&target, &p.session_token, "Continue", false));
    verified_page(&page.app_name, &target, &body)
}
