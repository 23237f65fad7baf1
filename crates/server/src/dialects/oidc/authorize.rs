//! The authorization endpoint and the sign-in pages it leads through: password, second factor,
//! consent. Each step asks the core what comes next and renders it.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use castellan_core::CoreError;
use castellan_core::model::{Application, Tenant};
use castellan_core::services::login::SecondFactor;
use castellan_core::services::provider::{AuthorizationRequest, Progress, Rejected, Step};

use super::pages::{self, Realm, origin_of};
use super::{FORM_COOKIE, SSO_COOKIE, base_path, cookie, form_token, pairs, realm, set_cookie};
use crate::client::Ctx;
use crate::pages::kit::cross_site;
use crate::state::AppState;

/// The form body of a request, if it is one.
pub(super) fn form(headers: &HeaderMap, body: &Bytes) -> Option<Vec<(String, String)>> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mime = ct.split(';').next().unwrap_or_default().trim();
    mime.eq_ignore_ascii_case("application/x-www-form-urlencoded").then(|| pairs(body))
}

pub(super) fn field<'p>(params: &'p [(String, String)], name: &str) -> &'p str {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default()
}

/// The page for a fault: the server cannot answer now.
pub(super) fn fault(e: CoreError) -> Response {
    match e {
        CoreError::Overloaded | CoreError::RateLimited { .. } => {
            pages::error(StatusCode::TOO_MANY_REQUESTS, "Too many attempts. Wait a moment and try again.")
        }
        e => {
            tracing::error!(error = %castellan_core::error::Chain(&e), "oidc pages");
            pages::error(StatusCode::SERVICE_UNAVAILABLE, "The server cannot answer now. Try again in a moment.")
        }
    }
}

fn unknown_realm() -> Response {
    pages::error(StatusCode::NOT_FOUND, "There is no such realm here.")
}

/// The realm of a page request, or the page that says why there is none.
pub(super) async fn page_realm(state: &AppState, slug: &str) -> Result<Tenant, Response> {
    match realm(state, slug).await {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(unknown_realm()),
        Err(e) => Err(fault(e)),
    }
}

/// What renders a step: the realm, the request's headers (its form cookie), and a message to
/// show on the page.
pub(super) struct Render<'a> {
    pub(super) state: &'a AppState,
    pub(super) tenant: &'a Tenant,
    pub(super) headers: &'a HeaderMap,
    pub(super) error: Option<&'a str>,
    pub(super) status: StatusCode,
}

impl Render<'_> {
    fn sign_in<'a>(
        &'a self,
        realm: &'a Realm<'a>,
        client_name: &'a str,
        sealed: &'a str,
        csrf: &'a str,
        back_to: &'a [String],
    ) -> pages::SignIn<'a> {
        let passkeys = self.state.core.passkeys().available(self.tenant);
        pages::SignIn { realm, client_name, sealed, csrf, error: self.error, back_to, status: self.status, passkeys }
    }

    pub(super) fn step(&self, step: Step, back_to: &[String]) -> Response {
        let base = base_path(self.state, self.tenant);
        let realm = Realm { base: &base, name: &self.tenant.display_name };
        match step {
            Step::SendBack(back) => pages::send_back(&back),
            Step::Login { request, client_name, login_hint } => {
                let token = form_token(self.headers);
                let form = self.sign_in(&realm, &client_name, &request, &token, back_to);
                let mut r = pages::login(&form, login_hint.as_deref());
                set_cookie(self.state, &mut r, &base, FORM_COOKIE, &token, Some(3600), "Lax");
                r
            }
            Step::SecondFactor { request, mfa_token, client_name, methods } => {
                let token = form_token(self.headers);
                let form = self.sign_in(&realm, &client_name, &request, &token, back_to);
                let mut r = pages::second_factor(&form, &mfa_token, &methods);
                set_cookie(self.state, &mut r, &base, FORM_COOKIE, &token, Some(3600), "Lax");
                r
            }
            Step::Consent { request, client_name, scopes, csrf, user, user_code } => {
                pages::consent(&realm, &client_name, &scopes, &request, &csrf, &user, user_code.as_deref(), back_to)
            }
            Step::DeviceDone { client_name, outcome } => pages::device_done(&client_name, outcome),
            Step::EnrolPasskey { request, client_name, csrf } => {
                pages::enrol_passkey(&realm, &client_name, &request, &csrf, back_to)
            }
        }
    }
}

/// The origins a page's forms may end at: the client's redirect URI, where the step after the
/// form sends the browser.
pub(super) fn back_to(redirect_uri: &str) -> Vec<String> {
    origin_of(redirect_uri).into_iter().collect()
}

/// Authorization endpoint (GET).
#[utoipa::path(get, path = "/realms/{tenant}/protocol/openid-connect/auth", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    description = "Authorization endpoint (authorization code flow, PKCE S256). Parameters: response_type=code, client_id, \
        redirect_uri, scope, state, nonce, code_challenge, code_challenge_method, response_mode (query, form_post), prompt, \
        max_age, login_hint, id_token_hint, ui_locales, claims_locales, acr_values, claims, display. Answers with the sign-in \
        or consent page, or sends the browser back to the client with code, state and iss (or error, error_description, \
        state, iss).",
    responses((status = 200, description = "The sign-in, second-factor or consent page; or the form_post page", content_type = "text/html", body = String),
        (status = 303, description = "Back to the client's redirect URI", headers(("Location" = String, description = "The redirect URI with code, state and iss (or error, error_description, state, iss)"))),
        (status = 400, description = "Unknown client or unregistered redirect URI: an error page, never a redirect", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String)))]
pub async fn authorize_get(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(slug): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = pairs(query.unwrap_or_default().as_bytes());
    authorize(state, ctx, headers, slug, params).await
}

/// Authorization endpoint (POST): the same parameters as a form.
#[utoipa::path(post, path = "/realms/{tenant}/protocol/openid-connect/auth", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    request_body(content = super::schemas::OidcAuthorizeForm, content_type = "application/x-www-form-urlencoded", description = "The same parameters as GET"),
    responses((status = 200, description = "A page", content_type = "text/html", body = String),
        (status = 303, description = "Back to the client's redirect URI", headers(("Location" = String, description = "The redirect URI with code, state and iss (or error, error_description, state, iss)"))),
        (status = 400, description = "An error page", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String)))]
pub async fn authorize_post(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let Some(params) = form(&headers, &body) else {
        return pages::error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "The request must be a form.");
    };
    authorize(state, ctx, headers, slug, params).await
}

async fn authorize(state: AppState, ctx: Ctx, headers: HeaderMap, slug: String, params: Vec<(String, String)>) -> Response {
    let tenant = match page_realm(&state, &slug).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let oidc = state.core.provider();
    let (app, request) = match oidc.parse_authorization(&tenant, &params).await {
        Ok(Ok(found)) => found,
        Ok(Err(Rejected::Page(why))) => return pages::error(StatusCode::BAD_REQUEST, &why),
        Ok(Err(Rejected::SendBack(back, e))) => {
            let client_id = field(&params, "client_id").chars().take(100).collect::<String>();
            oidc.record_authorize_error(&tenant, &client_id, e.error, &ctx.client).await;
            return pages::send_back(&back);
        }
        Err(e) => return fault(e),
    };
    let signed_in = match oidc.signed_in(&tenant, cookie(&headers, SSO_COOKIE)).await {
        Ok(s) => s,
        Err(e) => return fault(e),
    };
    let back = back_to(&request.redirect_uri);
    match oidc.authorize(&tenant, &app, request, signed_in.as_ref(), Progress::default(), &ctx.client).await {
        Ok(step) => {
            Render { state: &state, tenant: &tenant, headers: &headers, error: None, status: StatusCode::OK }.step(step, &back)
        }
        Err(e) => fault(e),
    }
}

/// Who vouches for a page form beside its being sent from this site.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Guard {
    /// The sign-in forms' token: the browser's form cookie, echoed in the form.
    FormToken,
    /// The signed-in session's token, which the handler checks once it has the session.
    Session,
}

/// A page form's realm and fields: the realm must exist and serve the dialect, the body must be
/// a form and, for `Guard::FormToken`, genuine. Any refusal is the page to answer.
pub(super) async fn page_form(
    state: &AppState,
    headers: &HeaderMap,
    slug: &str,
    body: &Bytes,
    guard: Guard,
) -> Result<(Tenant, Vec<(String, String)>), Response> {
    let tenant = page_realm(state, slug).await?;
    let Some(params) = form(headers, body) else {
        return Err(pages::error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "The request must be a form."));
    };
    if guard == Guard::FormToken && !form_genuine(state, headers, &params) {
        return Err(crate::pages::kit::forbidden_page());
    }
    Ok((tenant, params))
}

/// The authorization request a sign-in form carries, and its client; a stale form or a client
/// gone since is a page.
pub(super) async fn resumed(
    state: &AppState,
    tenant: &Tenant,
    sealed: &str,
) -> Result<(Application, AuthorizationRequest), Response> {
    match state.core.provider().resume(tenant, sealed).await {
        Ok(found) => Ok(found),
        Err(CoreError::InvalidToken | CoreError::UnknownApplication) => Err(pages::error(
            StatusCode::BAD_REQUEST,
            "This sign-in page has expired. Go back to the application and start again.",
        )),
        Err(e) => Err(fault(e)),
    }
}

/// Whether a sign-in form (before anyone is signed in) is genuine: same site, and the CSRF
/// token of its cookie.
fn form_genuine(state: &AppState, headers: &HeaderMap, params: &[(String, String)]) -> bool {
    let given = field(params, "csrf");
    !cross_site(headers, &state.core.config.public_url)
        && cookie(headers, FORM_COOKIE)
            .is_some_and(|c| !given.is_empty() && castellan_core::crypto::ct_eq(c.as_bytes(), given.as_bytes()))
}

/// A step after a sign-in: the new SSO cookie set with it.
pub(super) fn signed_in_step(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    step: Step,
    cookie_value: Option<String>,
    back: &[String],
) -> Response {
    let mut r = Render { state, tenant, headers, error: None, status: StatusCode::OK }.step(step, back);
    if let Some(value) = cookie_value {
        set_cookie(state, &mut r, &base_path(state, tenant), SSO_COOKIE, &value, None, "Lax");
    }
    r
}

/// What the sign-in pages say of a refused attempt.
pub(super) fn refusal_message(e: &CoreError) -> Option<&'static str> {
    Some(match e {
        // A locked account answers as a wrong password does (no contract asks otherwise), so the
        // page tells nothing of the lock, nor whether the password was right.
        CoreError::InvalidCredentials | CoreError::Validation(_) | CoreError::AccountLocked { .. } => {
            "The email, username or phone and password do not match."
        }
        CoreError::EmailNotVerified => "Confirm your email address first: follow the link we sent you.",
        CoreError::InvalidMfaCode => "That code is not right, or was just used. Enter the app's newest code.",
        _ => return None,
    })
}

/// The sign-in page's password form.
#[utoipa::path(post, path = "/realms/{tenant}/login", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    request_body(content = super::schemas::OidcLoginForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The next page (second factor, consent) or the form_post page", content_type = "text/html", body = String),
        (status = 303, description = "Signed in: back to the client", headers(("Location" = String, description = "The redirect URI with code, state and iss"))),
        (status = 400, description = "Stale sign-in form", content_type = "text/html", body = String),
        (status = 401, description = "Wrong credentials: the sign-in page again", content_type = "text/html", body = String),
        (status = 403, description = "A cross-site form", content_type = "text/html", body = String),
        (status = 429, description = "Rate limited", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String)))]
pub async fn login(
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
    let sealed = field(&params, "request");
    let oidc = state.core.provider();
    let (app, request) = match resumed(&state, &tenant, sealed).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let back = back_to(&request.redirect_uri);
    let again = |error: &str, status: StatusCode| {
        let step = Step::Login { request: sealed.to_string(), client_name: app.name.clone(), login_hint: None };
        Render { state: &state, tenant: &tenant, headers: &headers, error: Some(error), status }.step(step, &back)
    };
    if let Err(wait) = state.auth_limiter.check(ctx.ip) {
        return again(&format!("Too many attempts. Try again in {wait} seconds."), StatusCode::TOO_MANY_REQUESTS);
    }
    let replacing = oidc.signed_in(&tenant, cookie(&headers, SSO_COOKIE)).await.ok().flatten();
    let (identifier, password) = (field(&params, "identifier"), field(&params, "password"));
    match oidc.sign_in(&tenant, sealed, identifier, password, replacing.as_ref(), &ctx.client).await {
        Ok((step, cookie_value)) => signed_in_step(&state, &tenant, &headers, step, cookie_value, &back),
        Err(e) => match refusal_message(&e) {
            Some(msg) => again(msg, StatusCode::UNAUTHORIZED),
            None => fault(e),
        },
    }
}

/// The second-factor page's TOTP code form (kept at its own path for the forms already out).
#[utoipa::path(post, path = "/realms/{tenant}/login/totp", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    request_body(content = super::schemas::OidcTotpForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The next page (consent) or the form_post page", content_type = "text/html", body = String),
        (status = 303, description = "Signed in: back to the client", headers(("Location" = String, description = "The redirect URI with code, state and iss"))),
        (status = 401, description = "Wrong code: the code page again", content_type = "text/html", body = String),
        (status = 403, description = "A cross-site form", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String),
        (status = 400, description = "Stale sign-in form, or an unknown method", content_type = "text/html", body = String),
        (status = 429, description = "Rate limited: the page again", content_type = "text/html", body = String)))]
pub async fn login_totp(state: State<AppState>, ctx: Ctx, headers: HeaderMap, slug: Path<String>, body: Bytes) -> Response {
    login_second_factor(state, ctx, headers, slug, body).await
}

/// The second-factor page's forms: `method` is `totp` (with `code`), `webauthn` (with
/// `ceremony` and `credential`, the assertion as WebAuthn JSON) or `recovery_code` (with `code`).
#[utoipa::path(post, path = "/realms/{tenant}/login/second-factor", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    request_body(content = super::schemas::OidcSecondFactorForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The next page (consent) or the form_post page", content_type = "text/html", body = String),
        (status = 303, description = "Signed in: back to the client", headers(("Location" = String, description = "The redirect URI with code, state and iss"))),
        (status = 401, description = "Refused: the second-factor page again, or the sign-in page once the token is spent", content_type = "text/html", body = String),
        (status = 403, description = "A cross-site form", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String),
        (status = 400, description = "Stale sign-in form, or an unknown method", content_type = "text/html", body = String),
        (status = 429, description = "Rate limited: the page again", content_type = "text/html", body = String)))]
pub async fn login_second_factor(
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
    let (sealed, mfa_token) = (field(&params, "request"), field(&params, "mfa_token"));
    let oidc = state.core.provider();
    let (app, request) = match resumed(&state, &tenant, sealed).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let back = back_to(&request.redirect_uri);
    let methods: Vec<String> = field(&params, "methods")
        .split(',')
        .filter(|m| matches!(*m, "totp" | "webauthn" | "recovery_code"))
        .map(str::to_string)
        .collect();
    let methods = if methods.is_empty() { vec!["totp".to_string()] } else { methods };
    let again = |msg: &str, status: StatusCode| {
        let step = Step::SecondFactor {
            request: sealed.into(),
            mfa_token: mfa_token.into(),
            client_name: app.name.clone(),
            methods: methods.clone(),
        };
        Render { state: &state, tenant: &tenant, headers: &headers, error: Some(msg), status }.step(step, &back)
    };
    if let Err(wait) = state.auth_limiter.check(ctx.ip) {
        return again(&format!("Too many attempts. Try again in {wait} seconds."), StatusCode::TOO_MANY_REQUESTS);
    }
    let factor = match field(&params, "method") {
        "" | "totp" => SecondFactor::Totp(field(&params, "code")),
        "webauthn" => SecondFactor::Key { ceremony: field(&params, "ceremony"), response: field(&params, "credential") },
        "recovery_code" => SecondFactor::RecoveryCode(field(&params, "code")),
        _ => return again("Choose one of the ways offered.", StatusCode::BAD_REQUEST),
    };
    let replacing = oidc.signed_in(&tenant, cookie(&headers, SSO_COOKIE)).await.ok().flatten();
    match oidc.sign_in_second(&tenant, sealed, mfa_token, factor, replacing.as_ref(), &ctx.client).await {
        Ok((step, cookie_value)) => signed_in_step(&state, &tenant, &headers, step, cookie_value, &back),
        // Refused: the same token again while it has tries left; a spent or locked one goes
        // back to the password.
        Err(CoreError::InvalidMfaCode) => {
            let msg = match factor {
                SecondFactor::Key { .. } => "That security key or passkey was not accepted. Try again.",
                SecondFactor::RecoveryCode(_) => "That recovery code is not right, or was used before.",
                SecondFactor::Totp(_) => "That code is not right, or was just used. Enter the app's newest code.",
            };
            again(msg, StatusCode::UNAUTHORIZED)
        }
        Err(e) => match refusal_message(&e) {
            Some(msg) => {
                let step = Step::Login { request: sealed.into(), client_name: app.name.clone(), login_hint: None };
                Render { state: &state, tenant: &tenant, headers: &headers, error: Some(msg), status: StatusCode::UNAUTHORIZED }
                    .step(step, &back)
            }
            None => fault(e),
        },
    }
}

/// The consent page's Allow or Deny.
#[utoipa::path(post, path = "/realms/{tenant}/consent", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    request_body(content = super::schemas::OidcConsentForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Back to the client: a code, or error=access_denied", headers(("Location" = String, description = "The redirect URI"))),
        (status = 200, description = "The form_post page", content_type = "text/html", body = String),
        (status = 400, description = "Stale form, or no longer signed in", content_type = "text/html", body = String),
        (status = 403, description = "A cross-site form or a wrong CSRF token", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String)))]
pub async fn consent(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    // The consent form's token is the signed-in session's, checked below.
    let (tenant, params) = match page_form(&state, &headers, &slug, &body, Guard::Session).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let oidc = state.core.provider();
    let signed_in = match oidc.signed_in(&tenant, cookie(&headers, SSO_COOKIE)).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return pages::error(
                StatusCode::BAD_REQUEST,
                "You are no longer signed in. Go back to the application and start again.",
            );
        }
        Err(e) => return fault(e),
    };
    if cross_site(&headers, &state.core.config.public_url) || !oidc.check_csrf(&signed_in.session.id, field(&params, "csrf")) {
        return crate::pages::kit::forbidden_page();
    }
    let allow = match field(&params, "decision") {
        "allow" => true,
        "deny" => false,
        _ => return pages::error(StatusCode::BAD_REQUEST, "Choose Allow or Deny."),
    };
    match oidc.consent(&tenant, field(&params, "request"), &signed_in, allow, &ctx.client).await {
        Ok(step) => {
            Render { state: &state, tenant: &tenant, headers: &headers, error: None, status: StatusCode::OK }.step(step, &[])
        }
        Err(CoreError::InvalidToken | CoreError::UnknownApplication) => {
            pages::error(StatusCode::BAD_REQUEST, "This page has expired. Go back to the application and start again.")
        }
        Err(e) => fault(e),
    }
}
