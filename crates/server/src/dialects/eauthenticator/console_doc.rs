//! The console's pages and the embedded assets, for the OpenAPI document (the handlers live in
//! `console` and `html`; these stubs only describe them).

#![allow(dead_code)]

/// The console: to the applications if signed in, else to sign-in.
#[utoipa::path(get, path = "/console", tag = "eauthenticator-console",
    responses((status = 303, description = "To /console/apps when signed in, else to /console/sign-in", headers(("Location" = String, description = "Where to go next")))))]
pub async fn console_home() {}

/// The registration form (sets the form's CSRF cookie).
#[utoipa::path(get, path = "/console/register", tag = "eauthenticator-console",
    responses((status = 200, description = "The form", content_type = "text/html", body = String)))]
pub async fn register_form() {}

/// Registers an account; the confirmation link is mailed.
#[utoipa::path(post, path = "/console/register", tag = "eauthenticator-console", request_body(content = super::console::CredentialsForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Check your email, or the form again with the reason", content_type = "text/html", body = String),
        ConsoleFormRefusals))]
pub async fn register_submit() {}

/// The sign-in form (sets the form's CSRF cookie).
#[utoipa::path(get, path = "/console/sign-in", tag = "eauthenticator-console",
    responses((status = 200, description = "The form", content_type = "text/html", body = String)))]
pub async fn sign_in_form() {}

/// Signs in; sets the HttpOnly, SameSite=Strict session cookie.
#[utoipa::path(post, path = "/console/sign-in", tag = "eauthenticator-console", request_body(content = super::console::CredentialsForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Signed in: to /console/apps, with the session cookie", headers(("Location" = String, description = "Where to go next"))),
        (status = 200, description = "The form again: wrong credentials or too many attempts", content_type = "text/html", body = String),
        ConsoleFormRefusals))]
pub async fn sign_in_submit() {}

/// Signs out.
#[utoipa::path(post, path = "/console/sign-out", tag = "eauthenticator-console", request_body(content = super::console::CsrfForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "To /console/sign-in (the session cookie cleared)", headers(("Location" = String, description = "Where to go next"))),
        ConsoleFormRefusals))]
pub async fn sign_out_submit() {}

/// The account's applications.
#[utoipa::path(get, path = "/console/apps", tag = "eauthenticator-console",
    responses((status = 200, description = "The list", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in: to /console/sign-in", headers(("Location" = String, description = "Where to go next")))))]
pub async fn apps_page() {}

/// The form that creates an application.
#[utoipa::path(get, path = "/console/apps/new", tag = "eauthenticator-console",
    responses((status = 200, description = "The form", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in: to /console/sign-in", headers(("Location" = String, description = "Where to go next")))))]
pub async fn new_app_form() {}

/// Creates an application; shows the API key and callback secret once.
#[utoipa::path(post, path = "/console/apps/new", tag = "eauthenticator-console", request_body(content = super::console::AppForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The new application's key and secret, or the form again with the reason", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in: to /console/sign-in", headers(("Location" = String, description = "Where to go next"))),
        ConsoleFormRefusals))]
pub async fn new_app_submit() {}

/// An application: settings, key prefix, status, recent verifications.
#[utoipa::path(get, path = "/console/apps/{id}", tag = "eauthenticator-console", params(("id" = String, Path, format = "uuid", description = "The application id")),
    responses((status = 200, description = "The application", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in: to /console/sign-in", headers(("Location" = String, description = "Where to go next"))),
        (status = 404, description = "No such application of the account", content_type = "text/html", body = String)))]
pub async fn app_page() {}

/// Saves an application's settings (the form as at creation).
#[utoipa::path(post, path = "/console/apps/{id}", tag = "eauthenticator-console", params(("id" = String, Path, format = "uuid", description = "The application id")), request_body(content = super::console::AppForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The application, saved or with the reason", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in: to /console/sign-in", headers(("Location" = String, description = "Where to go next"))),
        ConsoleFormRefusals,
        (status = 404, description = "No such application of the account", content_type = "text/html", body = String)))]
pub async fn app_update() {}

/// A new API key, shown once; the old one stops working.
#[utoipa::path(post, path = "/console/apps/{id}/rotate-key", tag = "eauthenticator-console", params(("id" = String, Path, format = "uuid", description = "The application id")), request_body(content = super::console::CsrfForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The application with the new key", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in: to /console/sign-in", headers(("Location" = String, description = "Where to go next"))),
        ConsoleFormRefusals,
        (status = 404, description = "No such application of the account", content_type = "text/html", body = String)))]
pub async fn app_rotate_key() {}

/// A new callback secret, shown once.
#[utoipa::path(post, path = "/console/apps/{id}/rotate-callback-secret", tag = "eauthenticator-console", params(("id" = String, Path, format = "uuid", description = "The application id")), request_body(content = super::console::CsrfForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The application with the new secret", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in: to /console/sign-in", headers(("Location" = String, description = "Where to go next"))),
        ConsoleFormRefusals,
        (status = 404, description = "No such application of the account", content_type = "text/html", body = String)))]
pub async fn app_rotate_secret() {}

/// Activates or deactivates the application (`active=true|false`).
#[utoipa::path(post, path = "/console/apps/{id}/active", tag = "eauthenticator-console", params(("id" = String, Path, format = "uuid", description = "The application id")), request_body(content = super::console::ActiveForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The application", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in: to /console/sign-in", headers(("Location" = String, description = "Where to go next"))),
        ConsoleFormRefusals,
        (status = 404, description = "No such application of the account", content_type = "text/html", body = String)))]
pub async fn app_set_active() {}

/// The hosted page's script (postMessage to the registered origin).
#[utoipa::path(get, path = "/static/hosted.js", tag = "eauthenticator",
    responses((status = 200, description = "JavaScript", content_type = "text/javascript", body = String)))]
pub async fn hosted_asset() {}

/// The console's script (copy buttons).
#[utoipa::path(get, path = "/static/console.js", tag = "eauthenticator",
    responses((status = 200, description = "JavaScript", content_type = "text/javascript", body = String)))]
pub async fn console_asset() {}

/// How every console form post can be refused before it is looked at: an HTML page each.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ConsoleFormRefusals {
    /// The form could not be read (a field repeated or of the wrong type)
    #[response(status = 400, content_type = "text/html")]
    Unreadable(String),
    /// Sent from another site, or a missing or wrong CSRF token
    #[response(status = 403, content_type = "text/html")]
    CrossSite(String),
    /// Not sent as application/x-www-form-urlencoded
    #[response(status = 415, content_type = "text/html")]
    NotAForm(String),
}
