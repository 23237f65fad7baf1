//! The account page (`/realms/<tenant>/account`): a signed-in user's passkeys and security keys
//! (add, rename, remove) and recovery codes. Signed out, or signed in more than ten minutes ago,
//! it is the realm's sign-in page, which comes back here: a stolen SSO cookie alone cannot plant a
//! passkey or remove a key.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use castellan_core::CoreError;
use castellan_core::model::{CredentialKind, Tenant, WebauthnCredential};
use castellan_core::services::passkeys::RECENT_SIGN_IN;
use castellan_core::services::provider::{Progress, SignedIn};
use uuid::Uuid;

use super::authorize::{Guard, Render, fault, field, page_form, page_realm};
use super::pages::{self, Realm, hidden, see_other};
use super::passkeys::{json_error, json_fault, options_json};
use super::{SSO_COOKIE, base_path, cookie};
use crate::client::Ctx;
use crate::pages::kit::{Opener, cross_site, escape, page};
use crate::state::AppState;

pub(super) fn account_url(state: &AppState, tenant: &Tenant) -> String {
    format!("{}/realms/{}/account", state.core.config.public_url.trim_end_matches('/'), tenant.slug)
}

/// The account page, or the sign-in page that leads to it.
#[utoipa::path(get, path = "/realms/{tenant}/account", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    responses((status = 200, description = "The account page (passkeys, security keys, recovery codes); signed out, the sign-in page", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String)))]
pub async fn account_page(State(state): State<AppState>, headers: HeaderMap, Path(slug): Path<String>) -> Response {
    let tenant = match page_realm(&state, &slug).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let oidc = state.core.provider();
    let signed_in = match oidc.signed_in(&tenant, cookie(&headers, SSO_COOKIE)).await {
        Ok(s) => s,
        Err(e) => return fault(e),
    };
    let recent = |s: &SignedIn| state.core.now() - s.auth_time() <= RECENT_SIGN_IN;
    let Some(signed_in) = signed_in.filter(recent) else {
        // Signed out, or signed in too long ago to change how one signs in: sign in (again).
        return match oidc.account_sign_in(&tenant, &account_url(&state, &tenant)) {
            Ok(step) => {
                let back = vec![];
                Render { state: &state, tenant: &tenant, headers: &headers, error: None, status: StatusCode::OK }
                    .step(step, &back)
            }
            Err(e) => fault(e),
        };
    };
    let passkeys = state.core.passkeys();
    let user = signed_in.user.id;
    let listed = (
        passkeys.list(&tenant, user).await,
        passkeys.recovery_codes_left(&tenant, user).await,
        state.core.sessions().list_sessions(&tenant, user).await,
        state.core.totp().totp_status(&tenant, &signed_in.user).await,
    );
    let (credentials, left, sessions, totp) = match listed {
        (Ok(c), Ok(l), Ok(s), Ok(t)) => (c, l, s, t),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => return fault(e),
    };
    let base = base_path(&state, &tenant);
    let realm = Realm { base: &base, name: &tenant.display_name };
    let csrf = oidc.csrf_token(&signed_in.session.id);
    let shown = Shown { credentials: &credentials, recovery_left: left, sessions: &sessions, totp_on: totp.enabled };
    render(&realm, &signed_in, &shown, &csrf, passkeys.available(&tenant))
}

/// What the account page lists.
struct Shown<'a> {
    credentials: &'a [WebauthnCredential],
    recovery_left: u32,
    sessions: &'a [castellan_core::model::Session],
    /// Whether an authenticator app is set up.
    totp_on: bool,
}

fn sessions_html(base: &str, token: &str, signed_in: &SignedIn, sessions: &[castellan_core::model::Session]) -> String {
    let items: String = sessions
        .iter()
        .map(|s| {
            let here = s.id == signed_in.session.id;
            let end = if here {
                "<span class=\"muted\">this browser</span>".to_string()
            } else {
                format!(
                    "<form method=\"post\" action=\"{base}/account/sessions/{id}/end\" class=\"end-form\">{token}\
                     <button type=\"submit\" class=\"secondary\">End</button></form>",
                    id = escape(s.id.as_str())
                )
            };
            format!(
                "<li data-session=\"{id}\"><strong>{agent}</strong> <span class=\"muted\">{ip}, signed in {since}, \
                 last active {last}</span> {end}</li>",
                id = escape(s.id.as_str()),
                agent = escape(s.user_agent.as_deref().unwrap_or(s.dialect.as_str())),
                ip = escape(s.ip.as_deref().unwrap_or("address unknown")),
                since = day(s.created_at),
                last = day(s.last_active),
            )
        })
        .collect();
    format!("<h2>Where you are signed in</h2><ul id=\"sessions\">{items}</ul>")
}

fn day(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at).map(|t| t.date().to_string()).unwrap_or_default()
}

fn render(realm: &Realm<'_>, signed_in: &SignedIn, shown: &Shown<'_>, csrf: &str, available: bool) -> Response {
    let Shown { credentials, recovery_left, sessions, totp_on } = *shown;
    let base = realm.base;
    let token = hidden("csrf", csrf);
    let items: String = credentials
        .iter()
        .map(|c| {
            let kind = match c.kind {
                CredentialKind::Passkey => "passkey",
                CredentialKind::SecurityKey => "security key",
            };
            let used = c.last_used_at.map(|t| format!(", last used {}", day(t))).unwrap_or_default();
            format!(
                "<li data-credential=\"{id}\" data-kind=\"{k}\"><strong class=\"credential-name\">{name}</strong> \
                 <span class=\"muted\">· {kind}, added {added}{used}</span>\
                 <form method=\"post\" action=\"{base}/account/passkeys/{id}/rename\" class=\"rename-form\">{token}\
                 <label for=\"rename-{id}\">New name</label><input id=\"rename-{id}\" name=\"name\" maxlength=\"64\" value=\"{name}\" required>\
                 <button type=\"submit\" class=\"secondary\">Rename</button></form>\
                 <form method=\"post\" action=\"{base}/account/passkeys/{id}/delete\" class=\"delete-form\">{token}\
                 <button type=\"submit\" class=\"secondary\" id=\"delete-{id}\">Remove</button></form></li>",
                id = c.id,
                k = c.kind.as_str(),
                name = escape(&c.name),
                added = day(c.created_at),
            )
        })
        .collect();
    let list = if credentials.is_empty() {
        "<p id=\"no-credentials\">You have no passkeys or security keys yet.</p>".to_string()
    } else {
        format!("<ul id=\"credentials\">{items}</ul>")
    };
    let add = if available {
        format!(
            "<form method=\"post\" action=\"{base}/account/passkeys\" id=\"register-form\" \
             data-options=\"{base}/account/passkeys/options\">{token}\
             <input type=\"hidden\" name=\"kind\" value=\"passkey\"><input type=\"hidden\" name=\"ceremony\">\
             <input type=\"hidden\" name=\"credential\">\
             <label for=\"credential-name\">Name (optional)</label>\
             <input id=\"credential-name\" name=\"name\" maxlength=\"64\" autocomplete=\"off\" placeholder=\"Laptop, phone, key on my keyring\">\
             <button type=\"button\" id=\"add-passkey\" data-kind=\"passkey\">Add a passkey</button> \
             <button type=\"button\" id=\"add-security-key\" data-kind=\"security_key\" class=\"secondary\">Add a security key</button>\
             <p class=\"err\" role=\"alert\" id=\"register-error\" hidden></p></form>"
        )
    } else {
        "<p id=\"passkeys-unavailable\" class=\"muted\">Passkeys are not set up on this server: a relying party needs a \
         domain name. An operator sets the server's public URL to one (CASTELLAN_PUBLIC_URL, e.g. http://localhost:8080 \
         for a trial), or the realm's webauthn.rp_id and origins.</p>"
            .to_string()
    };
    let body = format!(
        "<h1>Your account</h1><p class=\"muted\">Signed in to {realm} as <strong id=\"account-user\">{user}</strong>.</p>\
         <h2>Passkeys and security keys</h2>\
         <p>A passkey signs you in without your password; a security key confirms it is you after your password. Once \
         you have either, a sign-in with your password asks for it too: make recovery codes below in case you lose it.</p>\
         {list}{add}{totp}\
         <h2>Recovery codes</h2><p id=\"recovery-left\" data-left=\"{recovery_left}\">{recovery_left} unused recovery codes.</p>\
         <p class=\"muted\">Each works once, in place of your security key or authenticator app, if you lose it. Making new ones voids the old.</p>\
         <form method=\"post\" action=\"{base}/account/recovery-codes\" id=\"recovery-codes-form\">{token}\
         <button type=\"submit\" id=\"new-recovery-codes\" class=\"secondary\">Make new recovery codes</button></form>\
         {sessions}\
         <h2>Password</h2><p class=\"muted\">A new password ends every sign-in, this one too.</p>\
         <form method=\"post\" action=\"{base}/account/password\" id=\"password-form\">{token}\
         <label for=\"current-password\">Current password</label>\
         <input id=\"current-password\" name=\"current_password\" type=\"password\" autocomplete=\"current-password\" required>\
         <label for=\"new-password\">New password</label>\
         <input id=\"new-password\" name=\"new_password\" type=\"password\" autocomplete=\"new-password\" required>\
         <button type=\"submit\" id=\"change-password\" class=\"secondary\">Change the password</button></form>\
         <p><a href=\"{base}/protocol/openid-connect/logout\" id=\"sign-out\">Sign out</a></p>",
        sessions = sessions_html(base, &token, signed_in, sessions),
        totp = super::account_totp::section(base, &token, totp_on),
        realm = escape(realm.name),
        user = escape(&castellan_core::services::provider::preferred_username(&signed_in.user).unwrap_or_default()),
    );
    let script = available.then_some(pages::PASSKEYS_JS_PATH);
    let mut r = page(StatusCode::OK, "Your account", &body, script, &[], Opener::Isolated);
    r.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    r
}

/// A form of the account page: the realm, the signed-in browser (its session's CSRF token in
/// the form, sent from this site) and the fields; else the answer to give.
pub(super) async fn account_form(
    state: &AppState,
    headers: &HeaderMap,
    slug: &str,
    body: &Bytes,
) -> Result<(Tenant, SignedIn, Vec<(String, String)>), Response> {
    let (tenant, params) = page_form(state, headers, slug, body, Guard::Session).await?;
    let oidc = state.core.provider();
    let signed_in = match oidc.signed_in(&tenant, cookie(headers, SSO_COOKIE)).await {
        // A sign-in too old to change keys with: the account page signs in again first.
        Ok(Some(s)) if state.core.now() - s.auth_time() <= RECENT_SIGN_IN => s,
        Ok(_) => return Err(see_other(&account_url(state, &tenant))),
        Err(e) => return Err(fault(e)),
    };
    if cross_site(headers, &state.core.config.public_url) || !oidc.check_csrf(&signed_in.session.id, field(&params, "csrf")) {
        return Err(crate::pages::kit::forbidden_page());
    }
    Ok((tenant, signed_in, params))
}

fn kind_of(params: &[(String, String)]) -> Option<CredentialKind> {
    CredentialKind::parse(field(params, "kind"))
}

/// Options for adding a passkey or security key.
#[utoipa::path(post, path = "/realms/{tenant}/account/passkeys/options", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    request_body(content = super::schemas::OidcAccountForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "`publicKey`: PublicKeyCredentialCreationOptions as WebAuthn JSON (user verification required; a passkey asks for a discoverable credential; the user's credentials excluded); `ceremony`: the token the answer is posted with", body = Object),
        (status = 400, description = "No kind, or passkeys not set up for the realm", body = crate::openapi::schemas::OAuthError),
        (status = 303, description = "Not signed in: to the account page", headers(("Location" = String, description = "The account page"))),
        (status = 403, description = "A cross-site form or a wrong CSRF token", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String)))]
pub async fn credential_options(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let (tenant, signed_in, params) = match account_form(&state, &headers, &slug, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let Some(kind) = kind_of(&params) else {
        return json_error(StatusCode::BAD_REQUEST, "invalid_request", "kind must be passkey or security_key");
    };
    match state.core.passkeys().begin_registration(&tenant, &signed_in.user, kind).await {
        Ok(begun) => options_json(begun),
        Err(e) => json_fault(e),
    }
}

/// Adds the passkey or security key the browser made.
#[utoipa::path(post, path = "/realms/{tenant}/account/passkeys", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    request_body(content = super::schemas::OidcAccountForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Added: back to the account page; or, added during a sign-in (`request`), back to the client", headers(("Location" = String, description = "The account page, or the client's redirect URI with code, state and iss"))),
        (status = 200, description = "Added during a sign-in: the request's next page (consent, form_post)", content_type = "text/html", body = String),
        (status = 400, description = "Refused (wrong origin or RP ID, no user verification, a stale or spent ceremony, an authenticator not allowed): why, on a page", content_type = "text/html", body = String),
        (status = 403, description = "A cross-site form or a wrong CSRF token", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String)))]
pub async fn add_credential(
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
    let Some(kind) = kind_of(&params) else {
        return account_error(&state, &tenant, "Choose a passkey or a security key.");
    };
    let (ceremony, credential, name) = (field(&params, "ceremony"), field(&params, "credential"), field(&params, "name"));
    let passkeys = state.core.passkeys();
    let added = passkeys.finish_registration(&tenant, &signed_in.user, kind, ceremony, credential, name, &ctx.client);
    match added.await {
        // Added during a sign-in the tenant asked a passkey of: the request goes on.
        Ok(_) if !field(&params, "request").is_empty() => {
            let oidc = state.core.provider();
            let (app, request) = match oidc.resume(&tenant, field(&params, "request")).await {
                Ok(found) => found,
                Err(_) => return see_other(&account_url(&state, &tenant)),
            };
            let back = super::authorize::back_to(&request.redirect_uri);
            match oidc.authorize(&tenant, &app, request, Some(&signed_in), Progress::default(), &ctx.client).await {
                Ok(step) => Render { state: &state, tenant: &tenant, headers: &headers, error: None, status: StatusCode::OK }
                    .step(step, &back),
                Err(e) => fault(e),
            }
        }
        Ok(_) => see_other(&account_url(&state, &tenant)),
        Err(CoreError::Validation(why)) => {
            let msg = why.values().next().cloned().unwrap_or_default();
            account_error(&state, &tenant, &format!("The key was not added: {msg}."))
        }
        Err(CoreError::InvalidToken) => account_error(&state, &tenant, "That took too long, or was sent twice. Try again."),
        Err(e) => fault(e),
    }
}

pub(super) fn account_error(state: &AppState, tenant: &Tenant, msg: &str) -> Response {
    let body = format!(
        "<h1>Not done</h1><p class=\"err\" role=\"alert\" id=\"error\">{}</p><p><a href=\"{}\" id=\"back\">Back to your account</a></p>",
        escape(msg),
        escape(&account_url(state, tenant))
    );
    page(StatusCode::BAD_REQUEST, "Not done", &body, None, &[], Opener::Isolated)
}

fn credential_id(raw: &str) -> Option<Uuid> {
    Uuid::parse_str(raw).ok()
}

/// Renames a passkey or security key.
#[utoipa::path(post, path = "/realms/{tenant}/account/passkeys/{id}/rename", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)"), ("id" = String, Path, description = "The credential's id")),
    request_body(content = super::schemas::OidcAccountForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Renamed: back to the account page", headers(("Location" = String, description = "The account page"))),
        (status = 400, description = "A name that is empty, too long or has control characters; or no such credential", content_type = "text/html", body = String),
        (status = 403, description = "A cross-site form or a wrong CSRF token", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String)))]
pub async fn rename_credential(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path((slug, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (tenant, signed_in, params) = match account_form(&state, &headers, &slug, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let Some(id) = credential_id(&id) else { return account_error(&state, &tenant, "There is no such key.") };
    match state.core.passkeys().rename(&tenant, signed_in.user.id, id, field(&params, "name"), &ctx.client).await {
        Ok(()) => see_other(&account_url(&state, &tenant)),
        Err(CoreError::NotFound) => account_error(&state, &tenant, "There is no such key."),
        Err(CoreError::Validation(_)) => account_error(&state, &tenant, "A name has 1 to 64 characters."),
        Err(e) => fault(e),
    }
}

/// Removes a passkey or security key: it signs in no more.
#[utoipa::path(post, path = "/realms/{tenant}/account/passkeys/{id}/delete", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)"), ("id" = String, Path, description = "The credential's id")),
    request_body(content = super::schemas::OidcAccountForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Removed: back to the account page", headers(("Location" = String, description = "The account page"))),
        (status = 400, description = "No such credential", content_type = "text/html", body = String),
        (status = 403, description = "A cross-site form or a wrong CSRF token", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String)))]
pub async fn remove_credential(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path((slug, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (tenant, signed_in, _) = match account_form(&state, &headers, &slug, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let Some(id) = credential_id(&id) else { return account_error(&state, &tenant, "There is no such key.") };
    match state.core.passkeys().delete(&tenant, signed_in.user.id, id, &ctx.client).await {
        Ok(()) => see_other(&account_url(&state, &tenant)),
        Err(CoreError::NotFound) => account_error(&state, &tenant, "There is no such key."),
        Err(e) => fault(e),
    }
}

/// Ten new recovery codes, shown once; the old ones stop working.
#[utoipa::path(post, path = "/realms/{tenant}/account/recovery-codes", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    request_body(content = super::schemas::OidcAccountForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The new codes, shown this once", content_type = "text/html", body = String),
        (status = 403, description = "A cross-site form or a wrong CSRF token", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in: to the account page", headers(("Location" = String, description = "The account page")))))]
pub async fn recovery_codes(
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
    let codes = match state.core.passkeys().new_recovery_codes(&tenant, &signed_in.user, &ctx.client).await {
        Ok(c) => c,
        Err(e) => return fault(e),
    };
    let items: String = codes.iter().map(|c| format!("<li><code>{}</code></li>", escape(c))).collect();
    let body = format!(
        "<h1>Your recovery codes</h1><p>Keep them somewhere safe, apart from your devices. Each works once. They are not \
         shown again; the codes you had before no longer work.</p><ol id=\"recovery-codes\">{items}</ol>\
         <p><a href=\"{}\" id=\"back\">Back to your account</a></p>",
        escape(&account_url(&state, &tenant))
    );
    let mut r = page(StatusCode::OK, "Your recovery codes", &body, None, &[], Opener::Isolated);
    r.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    r
}

/// Ends one of the user's other sign-ins (any application's).
#[utoipa::path(post, path = "/realms/{tenant}/account/sessions/{id}/end", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)"), ("id" = String, Path, description = "The session's id")),
    request_body(content = super::schemas::OidcAccountForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Ended (or not signed in): to the account page", headers(("Location" = String, description = "The account page"))),
        (status = 400, description = "No such session of the user", content_type = "text/html", body = String),
        (status = 403, description = "A cross-site form or a wrong CSRF token", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String)))]
pub async fn end_session(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path((slug, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (tenant, signed_in, _) = match account_form(&state, &headers, &slug, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    match state.core.sessions().revoke_session(&tenant, signed_in.user.id, &id, &ctx.client).await {
        Ok(()) => see_other(&account_url(&state, &tenant)),
        Err(CoreError::NotFound | CoreError::Validation(_)) => account_error(&state, &tenant, "There is no such sign-in."),
        Err(e) => fault(e),
    }
}

/// Changes the password: the current one first. Every sign-in ends with it.
#[utoipa::path(post, path = "/realms/{tenant}/account/password", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    request_body(content = super::schemas::OidcPasswordForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Changed (every sign-in ended), or not signed in: to the account page", headers(("Location" = String, description = "The account page"))),
        (status = 400, description = "The current password is wrong, or the new one breaks the realm's rules", content_type = "text/html", body = String),
        (status = 403, description = "A cross-site form or a wrong CSRF token", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String),
        (status = 429, description = "Rate limited", content_type = "text/html", body = String)))]
pub async fn change_password(
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
        let msg = format!("Too many attempts. Try again in {wait} seconds.");
        return crate::pages::kit::page(
            StatusCode::TOO_MANY_REQUESTS,
            "Not done",
            &format!("<h1>Not done</h1><p class=\"err\" id=\"error\">{msg}</p>"),
            None,
            &[],
            Opener::Isolated,
        );
    }
    let (current, new) = (field(&params, "current_password"), field(&params, "new_password"));
    match state.core.users().change_password(&tenant, &signed_in.user, current, new, &ctx.client).await {
        Ok(()) => see_other(&account_url(&state, &tenant)),
        Err(CoreError::InvalidCredentials) => account_error(&state, &tenant, "The current password is not right."),
        Err(CoreError::WeakPassword(rules)) => {
            account_error(&state, &tenant, &format!("The new password breaks the rules: {}.", rules.join(", ")))
        }
        Err(CoreError::Validation(_)) => account_error(&state, &tenant, "The new password cannot be used."),
        Err(e) => fault(e),
    }
}
