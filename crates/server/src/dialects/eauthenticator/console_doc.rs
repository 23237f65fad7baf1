//! The console's pages and the embedded assets, for the OpenAPI document (the handlers live in
//! `console` and `html`; these stubs only describe them).

#![allow(dead_code)]

/// The console: to the applications if signed in, else to sign-in.
#[utoipa::path(get, path = "/console", tag = "eauthenticator-console", responses((status = 303, description = "HTML")))]
pub async fn console_home() {}

/// The registration form.
#[utoipa::path(get, path = "/console/register", tag = "eauthenticator-console", responses((status = 200, description = "HTML")))]
pub async fn register_form() {}

/// Registers an account (form: csrf, email, password); the confirmation link is mailed.
#[utoipa::path(post, path = "/console/register", tag = "eauthenticator-console", responses((status = 200, description = "HTML")))]
pub async fn register_submit() {}

/// The sign-in form.
#[utoipa::path(get, path = "/console/sign-in", tag = "eauthenticator-console", responses((status = 200, description = "HTML")))]
pub async fn sign_in_form() {}

/// Signs in (form: csrf, email, password); sets the HttpOnly, SameSite=Strict session cookie.
#[utoipa::path(post, path = "/console/sign-in", tag = "eauthenticator-console", responses((status = 303, description = "HTML")))]
pub async fn sign_in_submit() {}

/// Signs out (form: csrf).
#[utoipa::path(post, path = "/console/sign-out", tag = "eauthenticator-console", responses((status = 303, description = "HTML")))]
pub async fn sign_out_submit() {}

/// The account's applications.
#[utoipa::path(get, path = "/console/apps", tag = "eauthenticator-console", responses((status = 200, description = "HTML")))]
pub async fn apps_page() {}

/// The form that creates an application.
#[utoipa::path(get, path = "/console/apps/new", tag = "eauthenticator-console", responses((status = 200, description = "HTML")))]
pub async fn new_app_form() {}

/// Creates an application (form: csrf, name, allowed_ips, callback_url, redirect_uris); shows the API key and callback secret once.
#[utoipa::path(post, path = "/console/apps/new", tag = "eauthenticator-console", responses((status = 200, description = "HTML")))]
pub async fn new_app_submit() {}

/// An application: settings, key prefix, status, recent verifications.
#[utoipa::path(get, path = "/console/apps/{id}", tag = "eauthenticator-console", params(("id" = String, Path, description = "The application id (UUID)")), responses((status = 200, description = "HTML")))]
pub async fn app_page() {}

/// Saves an application's settings (form as at creation).
#[utoipa::path(post, path = "/console/apps/{id}", tag = "eauthenticator-console", params(("id" = String, Path, description = "The application id (UUID)")), responses((status = 200, description = "HTML")))]
pub async fn app_update() {}

/// A new API key, shown once; the old one stops working.
#[utoipa::path(post, path = "/console/apps/{id}/rotate-key", tag = "eauthenticator-console", params(("id" = String, Path, description = "The application id (UUID)")), responses((status = 200, description = "HTML")))]
pub async fn app_rotate_key() {}

/// A new callback secret, shown once.
#[utoipa::path(post, path = "/console/apps/{id}/rotate-callback-secret", tag = "eauthenticator-console", params(("id" = String, Path, description = "The application id (UUID)")), responses((status = 200, description = "HTML")))]
pub async fn app_rotate_secret() {}

/// Activates or deactivates the application (form: csrf, active=true|false).
#[utoipa::path(post, path = "/console/apps/{id}/active", tag = "eauthenticator-console", params(("id" = String, Path, description = "The application id (UUID)")), responses((status = 200, description = "HTML")))]
pub async fn app_set_active() {}

/// The pages' stylesheet.
#[utoipa::path(get, path = "/static/castellan.css", tag = "eauthenticator", responses((status = 200, description = "HTML")))]
pub async fn style_asset() {}

/// The hosted page's script (postMessage to the registered origin).
#[utoipa::path(get, path = "/static/hosted.js", tag = "eauthenticator", responses((status = 200, description = "HTML")))]
pub async fn hosted_asset() {}

/// The console's script (copy buttons).
#[utoipa::path(get, path = "/static/console.js", tag = "eauthenticator", responses((status = 200, description = "HTML")))]
pub async fn console_asset() {}
