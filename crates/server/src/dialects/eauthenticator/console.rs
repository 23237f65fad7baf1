//! The console's pages (`/console`): register, sign in, applications. Server-rendered forms;
//! every POST carries a CSRF token and must come from this site; the session cookie is HttpOnly,
//! SameSite=Strict and Secure (unless the server itself is plain-http development).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use castellan_core::CoreError;
use castellan_core::model::AppId as Uuid;
use castellan_core::model::{Application, VerificationStatus};
use castellan_core::services::console::ConsoleAccount;
use castellan_core::services::hosted_apps::HostedAppSettings;
use serde::Deserialize;

use super::error::Refusal;
use super::extract::{AppPath, PageForm};
use super::html::{self, CONSOLE_JS_PATH, Opener, escape, mask_email, page};
use crate::client::Ctx;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "castellan_console";
const FORM_COOKIE: &str = "castellan_form";

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

fn secure(state: &AppState) -> bool {
    state.settings.console_cookie_secure.unwrap_or_else(|| !state.core.config.public_url.starts_with("http://"))
}

fn set_cookie(state: &AppState, r: &mut Response, name: &str, value: &str, max_age: i64) {
    let secure = if secure(state) { "; Secure" } else { "" };
    let c = format!("{name}={value}; Path=/console; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}");
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// The signed-in account, with its session token (for the CSRF token); `None` when the cookie
/// names no live session.
async fn account(state: &AppState, headers: &HeaderMap) -> Result<Option<(ConsoleAccount, String)>, CoreError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else { return Ok(None) };
    match state.core.console().console_account(&token).await {
        Ok(a) => Ok(Some((a, token))),
        Err(CoreError::Unauthorized) => Ok(None),
        Err(e) => Err(e),
    }
}

fn shell(title: &str, account: Option<(&ConsoleAccount, &str)>, body: &str) -> Response {
    let nav = match account {
        Some((a, csrf)) => format!(
            "<nav><a href=\"/console/apps\">Applications</a><span class=\"muted\">{}</span>\
             <form method=\"post\" action=\"/console/sign-out\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\" class=\"secondary\" id=\"sign-out\">Sign out</button></form></nav>",
            escape(a.user.email.as_deref().unwrap_or_default()),
            escape(csrf)
        ),
        None => "<nav><a href=\"/console/sign-in\">Sign in</a><a href=\"/console/register\">Register</a></nav>".into(),
    };
    page(StatusCode::OK, title, &format!("{nav}{body}"), Some(CONSOLE_JS_PATH), &[], Opener::Isolated)
}

fn error_html(msg: Option<&str>) -> String {
    msg.map(|m| format!("<p class=\"err\" role=\"alert\" id=\"error\">{}</p>", escape(m))).unwrap_or_default()
}

/// A form shown before sign-in: its CSRF token is a random value in a cookie and in the form
/// (double submit).
fn public_form(state: &AppState, title: &str, action: &str, fields: &str, button: &str, msg: Option<&str>) -> Response {
    let token = castellan_core::crypto::random_token();
    let body = format!(
        "<h1>{t}</h1>{err}<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"csrf\" value=\"{token}\">{fields}\
         <button type=\"submit\" id=\"submit\">{button}</button></form>",
        t = escape(title),
        err = error_html(msg)
    );
    let mut r = shell(title, None, &body);
    set_cookie(state, &mut r, FORM_COOKIE, &token, 3600);
    r
}

fn public_csrf_ok(headers: &HeaderMap, given: &str) -> bool {
    cookie(headers, FORM_COOKIE)
        .is_some_and(|c| !given.is_empty() && castellan_core::crypto::ct_eq(c.as_bytes(), given.as_bytes()))
}

/// Whether a signed-in form's POST is genuine: same site, and the session's CSRF token.
fn guarded(state: &AppState, headers: &HeaderMap, session: &str, given: &str) -> bool {
    !html::cross_site(headers, &state.core.config.public_url) && state.core.console().check_console_csrf(session, given)
}

const CREDENTIAL_FIELDS: &str = "<label for=\"email\">Email</label><input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required>\
     <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>";

pub async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match account(&state, &headers).await {
        Ok(Some(_)) => see_other("/console/apps"),
        Ok(None) => see_other("/console/sign-in"),
        Err(e) => failure_page(None, e),
    }
}

pub async fn register_page(State(state): State<AppState>) -> Response {
    let fields = CREDENTIAL_FIELDS.replace("current-password", "new-password");
    public_form(&state, "Create a console account", "/console/register", &fields, "Register", None)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CredentialsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn register(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    PageForm(f): PageForm<CredentialsForm>,
) -> Response {
    if html::cross_site(&headers, &state.core.config.public_url) || !public_csrf_ok(&headers, &f.csrf) {
        return html::forbidden_page();
    }
    let fields = CREDENTIAL_FIELDS.replace("current-password", "new-password");
    match state.core.console().register_console_account(&f.email, &f.password, &ctx.client).await {
        Ok(()) => shell(
            "Check your email",
            None,
            "<h1>Check your email</h1><p id=\"registered\">We sent a link to confirm your address. Open it, then sign in.</p>",
        ),
        Err(e) => public_form(&state, "Create a console account", "/console/register", &fields, "Register", Some(&message(e))),
    }
}

pub async fn sign_in_page(State(state): State<AppState>) -> Response {
    public_form(&state, "Sign in to the console", "/console/sign-in", CREDENTIAL_FIELDS, "Sign in", None)
}

pub async fn sign_in(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    PageForm(f): PageForm<CredentialsForm>,
) -> Response {
    if html::cross_site(&headers, &state.core.config.public_url) || !public_csrf_ok(&headers, &f.csrf) {
        return html::forbidden_page();
    }
    if let Err(wait) = state.auth_limiter.check(ctx.ip) {
        let msg = format!("Too many attempts; try again in {wait} s.");
        return public_form(&state, "Sign in to the console", "/console/sign-in", CREDENTIAL_FIELDS, "Sign in", Some(&msg));
    }
    match state.core.console().sign_in_console(&f.email, &f.password, &ctx.client).await {
        Ok((token, _)) => {
            let mut r = see_other("/console/apps");
            set_cookie(&state, &mut r, SESSION_COOKIE, &token, 12 * 3600);
            set_cookie(&state, &mut r, FORM_COOKIE, "", 0);
            r
        }
        Err(e) => {
            public_form(&state, "Sign in to the console", "/console/sign-in", CREDENTIAL_FIELDS, "Sign in", Some(&message(e)))
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn sign_out(State(state): State<AppState>, ctx: Ctx, headers: HeaderMap, PageForm(f): PageForm<CsrfForm>) -> Response {
    let (a, session) = match account(&state, &headers).await {
        Ok(Some(x)) => x,
        Ok(None) => return see_other("/console/sign-in"),
        Err(e) => return failure_page(None, e),
    };
    if !guarded(&state, &headers, &session, &f.csrf) {
        return html::forbidden_page();
    }
    match state.core.console().sign_out_console(&session, &ctx.client).await {
        // Ended meanwhile (expired, or signed out elsewhere): signed out all the same.
        Ok(()) | Err(CoreError::Unauthorized) => {}
        // The session may still be alive: saying "signed out" would be wrong.
        Err(e) => return failure_page(Some((&a, &state.core.console().console_csrf_token(&session))), e),
    }
    let mut r = see_other("/console/sign-in");
    set_cookie(&state, &mut r, SESSION_COOKIE, "", 0);
    r
}

/// What a console user reads for a core error.
fn message(e: CoreError) -> String {
    say(Refusal::from(e))
}

fn say(r: Refusal) -> String {
    match r {
        Refusal::Invalid(message) => message,
        Refusal::WrongCredentials | Refusal::Unauthorized => "Wrong email or password.".into(),
        Refusal::EmailNotVerified => "Wrong email or password, or the email is not confirmed yet.".into(),
        Refusal::Locked(seconds) => format!("Too many attempts; try again in {seconds} s."),
        Refusal::Disabled => "Registration is closed.".into(),
        Refusal::NotFound => "Not found.".into(),
        Refusal::Conflict(field) => format!("That {field} is already taken."),
        Refusal::Unavailable(cause) => {
            tracing::warn!(cause = %cause, "console: database unavailable");
            "The service is unavailable for a moment; please try again shortly.".into()
        }
        r @ (Refusal::Forbidden | Refusal::InvalidToken | Refusal::Unexpected(_) | Refusal::Internal(_)) => {
            tracing::error!(refusal = ?r, "console");
            "Something went wrong; please try again.".into()
        }
    }
}

/// A page that has nothing to show for a core error: the sign-in page for a session that ended,
/// 404 for an application that is not the account's, and otherwise an error (500) rather than a
/// page that reads as empty.
fn failure_page(account: Option<(&ConsoleAccount, &str)>, e: CoreError) -> Response {
    match Refusal::from(e) {
        Refusal::Unauthorized => see_other("/console/sign-in"),
        Refusal::NotFound => not_found(account),
        r @ Refusal::Unavailable(_) => {
            let mut page = error_page(account, &say(r));
            *page.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            page
        }
        r @ (Refusal::Invalid(_)
        | Refusal::WrongCredentials
        | Refusal::EmailNotVerified
        | Refusal::Locked(_)
        | Refusal::Forbidden
        | Refusal::Disabled
        | Refusal::InvalidToken
        | Refusal::Conflict(_)
        | Refusal::Unexpected(_)
        | Refusal::Internal(_)) => error_page(account, &say(r)),
    }
}

/// "Something went wrong" (500) in the console's layout.
fn error_page(account: Option<(&ConsoleAccount, &str)>, message: &str) -> Response {
    let body = format!("<h1>Something went wrong</h1>{}", error_html(Some(message)));
    let mut r = shell("Something went wrong", account, &body);
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r
}

fn status_text(app: &Application) -> &'static str {
    if app.active { "active" } else { "inactive" }
}

pub async fn apps(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (a, _, csrf) = match signed_in(&state, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let list = match state.core.applications().list_applications(&a.tenant).await {
        Ok(list) => list,
        Err(e) => return failure_page(Some((&a, &csrf)), e),
    };
    let rows: String = list
        .iter()
        .map(|app| {
            format!(
                "<tr><td><a href=\"/console/apps/{}\">{}</a></td><td class=\"wide\"><code>{}</code></td><td>{}</td></tr>",
                app.id,
                escape(&app.name),
                escape(&app.client_id),
                status_text(app)
            )
        })
        .collect();
    let table = if list.is_empty() {
        "<p class=\"muted\">No applications yet.</p>".to_string()
    } else {
        format!("<table id=\"apps\"><tr><th>Name</th><th class=\"wide\">Client ID</th><th>Status</th></tr>{rows}</table>")
    };
    let body = format!(
        "<h1>Applications</h1>{table}<a class=\"button\" id=\"create\" href=\"/console/apps/new\">Create application</a>"
    );
    shell("Applications", Some((&a, &csrf)), &body)
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct AppForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    /// One address or CIDR per line (or comma-separated).
    #[serde(default)]
    allowed_ips: String,
    #[serde(default)]
    callback_url: String,
    /// One URI per line.
    #[serde(default)]
    redirect_uris: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    webauthn: Option<String>,
}

impl AppForm {
    fn settings(&self) -> HostedAppSettings {
        HostedAppSettings {
            name: Some(self.name.clone()),
            allowed_ips: Some(lines(&self.allowed_ips)),
            callback_url: Some(self.callback_url.clone()),
            redirect_uris: Some(lines(&self.redirect_uris)),
            webauthn: Some(self.webauthn.is_some()),
        }
    }
}

fn lines(s: &str) -> Vec<String> {
    s.split(['\n', ',']).map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
}

fn app_fields(f: &AppForm) -> String {
    format!(
        "<label for=\"name\">Name</label><input id=\"name\" name=\"name\" required maxlength=\"200\" value=\"{}\">\
         <label for=\"allowed_ips\">Server IP allow-list <span class=\"muted\">(one address or CIDR per line)</span></label>\
         <textarea id=\"allowed_ips\" name=\"allowed_ips\" required>{}</textarea>\
         <label for=\"callback_url\">Callback URL</label><input id=\"callback_url\" name=\"callback_url\" type=\"url\" required value=\"{}\">\
         <label for=\"redirect_uris\">Redirect URIs <span class=\"muted\">(one per line, exact match)</span></label>\
         <textarea id=\"redirect_uris\" name=\"redirect_uris\" required>{}</textarea>\
         <label class=\"check\"><input type=\"checkbox\" id=\"webauthn\" name=\"webauthn\" value=\"on\"{}> \
         Offer security keys and passkeys on the hosted page, beside the code</label>",
        escape(&f.name),
        escape(&f.allowed_ips),
        escape(&f.callback_url),
        escape(&f.redirect_uris),
        if f.webauthn.is_some() { " checked" } else { "" }
    )
}

fn new_app_page(a: &ConsoleAccount, csrf: &str, f: &AppForm, msg: Option<&str>) -> Response {
    let body = format!(
        "<h1>Create application</h1>{}<form method=\"post\" action=\"/console/apps/new\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">{}\
         <button type=\"submit\" id=\"submit\">Create</button></form>",
        error_html(msg),
        escape(csrf),
        app_fields(f)
    );
    shell("Create application", Some((a, csrf)), &body)
}

pub async fn new_app_page_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match signed_in(&state, &headers).await {
        Ok((a, _, csrf)) => new_app_page(&a, &csrf, &AppForm::default(), None),
        Err(r) => r,
    }
}

/// A secret shown once, with a copy button.
fn once(id: &str, label: &str, value: &str) -> String {
    format!(
        "<label>{label}</label><code class=\"secret\" id=\"{id}\">{}</code>\
         <button type=\"button\" class=\"secondary\" data-copy=\"{id}\">Copy</button>",
        escape(value)
    )
}

pub async fn create_app(State(state): State<AppState>, ctx: Ctx, headers: HeaderMap, PageForm(f): PageForm<AppForm>) -> Response {
    let (a, session, csrf) = match signed_in(&state, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !guarded(&state, &headers, &session, &f.csrf) {
        return html::forbidden_page();
    }
    match state.core.hosted_apps().create_hosted_app(&a.tenant, f.settings(), &ctx.client).await {
        Ok(created) => {
            let body = format!(
                "<h1>{}</h1><p class=\"ok\">Application created. Copy the API key and the callback secret now: they are not shown again.</p>\
                 <div class=\"card\"><label>Client ID</label><code id=\"client-id\">{}</code>{}{}</div>\
                 <a class=\"button\" href=\"/console/apps/{}\" id=\"continue\">Continue</a>",
                escape(&created.app.name),
                escape(&created.app.client_id),
                once("api-key", "API key", &created.api_key),
                once("callback-secret", "Callback secret", &created.callback_secret),
                created.app.id
            );
            shell("Application created", Some((&a, &csrf)), &body)
        }
        Err(e) => new_app_page(&a, &csrf, &f, Some(&message(e))),
    }
}

/// The application's page, read afresh (its key prefix changes with a rotation), with `notice`
/// above it.
async fn app_page(state: &AppState, a: &ConsoleAccount, csrf: &str, id: Uuid, notice: &str) -> Response {
    let (view, recent) = match state.core.hosted_apps().hosted_app_with_verifications(&a.tenant, id, 50).await {
        Ok(x) => x,
        Err(e) => return failure_page(Some((a, csrf)), e),
    };
    let (app, prefix) = (&view.app, view.key_prefix.as_deref().unwrap_or_default());
    let rows: String = recent
        .iter()
        .map(|v| {
            let time = castellan_core::clock::rfc3339(v.created_at);
            let result = match v.status {
                VerificationStatus::Succeeded => "success",
                VerificationStatus::Pending => "pending",
                VerificationStatus::Verified => "verified, telling the backend",
                VerificationStatus::Rejected => "rejected",
                VerificationStatus::TimedOut => "timed out",
                VerificationStatus::Failed => "callback failed",
            };
            format!(
                "<tr><td>{time}</td><td>{}</td><td>{result}</td><td class=\"wide\">{}</td></tr>",
                escape(&mask_email(&v.email)),
                escape(v.ip.as_deref().unwrap_or("-"))
            )
        })
        .collect();
    let form = AppForm {
        csrf: String::new(),
        name: app.name.clone(),
        allowed_ips: app.allowed_ips.join("\n"),
        callback_url: app.callback_url.clone().unwrap_or_default(),
        redirect_uris: app.redirect_uris.join("\n"),
        webauthn: app.hosted_webauthn.then(|| "on".to_string()),
    };
    let hidden = format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", escape(csrf));
    let (toggle_label, toggle_value, toggle_class) =
        if app.active { ("Deactivate", "false", "danger") } else { ("Activate", "true", "secondary") };
    let body = format!(
        "<h1>{name}</h1>{notice}<div class=\"card\"><label>Client ID</label><code id=\"client-id\">{client_id}</code>\
         <label>API key</label><code id=\"key-prefix\">{prefix}…</code><label>Status</label><span id=\"status\">{status}</span></div>\
         <form method=\"post\" action=\"/console/apps/{id}/rotate-key\">{hidden}<button type=\"submit\" class=\"secondary\" id=\"rotate-key\">Rotate API key</button></form>\
         <form method=\"post\" action=\"/console/apps/{id}/rotate-callback-secret\">{hidden}<button type=\"submit\" class=\"secondary\" id=\"rotate-secret\">New callback secret</button></form>\
         <form method=\"post\" action=\"/console/apps/{id}/active\">{hidden}<input type=\"hidden\" name=\"active\" value=\"{toggle_value}\">\
         <button type=\"submit\" class=\"{toggle_class}\" id=\"toggle-active\">{toggle_label}</button></form>\
         <h2>Settings</h2>{keys_off}<form method=\"post\" action=\"/console/apps/{id}\">{hidden}{fields}<button type=\"submit\" id=\"save\">Save</button></form>\
         <h2>Recent verifications</h2><table id=\"verifications\"><tr><th>Time</th><th>Email</th><th>Result</th><th class=\"wide\">IP</th></tr>{rows}</table>",
        name = escape(&app.name),
        client_id = escape(&app.client_id),
        prefix = escape(prefix),
        status = status_text(app),
        id = app.id,
        fields = app_fields(&form),
        keys_off = keys_off(state, a, app),
    );
    shell(&app.name, Some((a, csrf)), &body)
}

/// Where security keys are on but this server cannot offer them, why: the page would otherwise
/// look as if they worked.
fn keys_off(state: &AppState, a: &ConsoleAccount, app: &Application) -> &'static str {
    if app.hosted_webauthn && !state.core.passkeys().available(&a.tenant) {
        "<p class=\"err\" id=\"keys-unavailable\">Security keys are on, but this server cannot offer them yet: keys \
         need a domain name, and the server's public URL is on an IP address. Its operator sets CASTELLAN_PUBLIC_URL to \
         a name.</p>"
    } else {
        ""
    }
}

/// A signed-in page: the account and its CSRF token; otherwise the way to the sign-in page.
async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<(ConsoleAccount, String, String), Response> {
    let (a, session) = match account(state, headers).await {
        Ok(Some(x)) => x,
        Ok(None) => return Err(see_other("/console/sign-in")),
        Err(e) => return Err(failure_page(None, e)),
    };
    let csrf = state.core.console().console_csrf_token(&session);
    Ok((a, session, csrf))
}

/// A form posted about one of the account's applications: signed in, same site, the session's
/// CSRF token, and an application the account owns.
async fn app_form(
    state: &AppState,
    headers: &HeaderMap,
    given_csrf: &str,
    id: Option<Uuid>,
) -> Result<(ConsoleAccount, String, Application), Response> {
    let (a, session, csrf) = signed_in(state, headers).await?;
    if !guarded(state, headers, &session, given_csrf) {
        return Err(html::forbidden_page());
    }
    let Some(id) = id else { return Err(not_found(Some((&a, &csrf)))) };
    match state.core.applications().application_by_id(&a.tenant, id).await {
        Ok(app) => Ok((a, csrf, app)),
        Err(e) => Err(failure_page(Some((&a, &csrf)), e)),
    }
}

fn not_found(account: Option<(&ConsoleAccount, &str)>) -> Response {
    let mut r = shell("Not found", account, "<h1>Not found</h1><p>No such application.</p>");
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

pub async fn app_detail(State(state): State<AppState>, headers: HeaderMap, AppPath(id): AppPath) -> Response {
    let (a, _, csrf) = match signed_in(&state, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(id) = id else { return not_found(Some((&a, &csrf))) };
    app_page(&state, &a, &csrf, id, "").await
}

pub async fn update_app(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    AppPath(id): AppPath,
    PageForm(f): PageForm<AppForm>,
) -> Response {
    let (a, csrf, app) = match app_form(&state, &headers, &f.csrf, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state.core.hosted_apps().update_hosted_app(&a.tenant, app.id, f.settings(), &ctx.client).await {
        Ok(_) => app_page(&state, &a, &csrf, app.id, "<p class=\"ok\" id=\"notice\">Saved.</p>").await,
        Err(e) => app_page(&state, &a, &csrf, app.id, &error_html(Some(&message(e)))).await,
    }
}

pub async fn rotate_key(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    AppPath(id): AppPath,
    PageForm(f): PageForm<CsrfForm>,
) -> Response {
    let (a, csrf, app) = match app_form(&state, &headers, &f.csrf, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state.core.hosted_apps().rotate_hosted_api_key(&a.tenant, app.id, &ctx.client).await {
        Ok(key) => {
            let notice = format!(
                "<div class=\"card\"><p class=\"ok\">New API key. The old one no longer works. Copy it now: it is not shown again.</p>{}</div>",
                once("api-key", "API key", &key)
            );
            app_page(&state, &a, &csrf, app.id, &notice).await
        }
        Err(e) => app_page(&state, &a, &csrf, app.id, &error_html(Some(&message(e)))).await,
    }
}

pub async fn rotate_callback_secret(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppPath(id): AppPath,
    PageForm(f): PageForm<CsrfForm>,
) -> Response {
    let (a, csrf, app) = match app_form(&state, &headers, &f.csrf, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state.core.hosted_apps().rotate_callback_secret(&a.tenant, &app).await {
        Ok(secret) => {
            let notice = format!(
                "<div class=\"card\"><p class=\"ok\">New callback secret: callbacks are signed with it from now on.</p>{}</div>",
                once("callback-secret", "Callback secret", &secret)
            );
            app_page(&state, &a, &csrf, app.id, &notice).await
        }
        Err(e) => app_page(&state, &a, &csrf, app.id, &error_html(Some(&message(e)))).await,
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ActiveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    active: String,
}

pub async fn set_active(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    AppPath(id): AppPath,
    PageForm(f): PageForm<ActiveForm>,
) -> Response {
    let (a, csrf, app) = match app_form(&state, &headers, &f.csrf, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state.core.hosted_apps().set_hosted_app_active(&a.tenant, app.id, f.active == "true", &ctx.client).await {
        Ok(_) => app_page(&state, &a, &csrf, app.id, "<p class=\"ok\" id=\"notice\">Saved.</p>").await,
        Err(e) => app_page(&state, &a, &csrf, app.id, &error_html(Some(&message(e)))).await,
    }
}
