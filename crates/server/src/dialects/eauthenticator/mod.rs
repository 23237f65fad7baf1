//! Dialect `eauthenticator`: hosted 2FA for other people's applications. A console where
//! businesses register applications, a REST API their backends call with an API key, and the
//! page their users finish 2FA on. Contract: docs/dialects/eauthenticator.md.

mod api;
mod console;
mod console_api;
mod console_doc;
mod dev_receiver;
mod error;
mod extract;
mod hosted;
mod hosted_keys;
mod html;
mod schemas;

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa::OpenApi as _;

use crate::api::Api;
use crate::dialects::mount::{DialectMount, OpenApi};
use crate::settings::Settings;

pub const DIALECT: &str = castellan_core::model::Dialect::Eauthenticator.as_str();

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(dev_receiver::receive, api::session_token, api::toggle, api::provision, hosted::start, hosted::verify, hosted::reject,
          hosted_keys::key_options, hosted_keys::key, hosted_keys::add_key,
          console_api::register, console_api::verify_email, console_api::sign_in, console_api::sign_out, console_api::list,
          console_api::create, console_api::get_one, console_api::update, console_api::rotate_key,
          console_api::rotate_callback_secret, console_api::activate, console_api::deactivate, console_api::verifications,
          console_doc::console_home, console_doc::register_form, console_doc::register_submit, console_doc::sign_in_form, console_doc::sign_in_submit, console_doc::sign_out_submit, console_doc::apps_page, console_doc::new_app_form, console_doc::new_app_submit, console_doc::app_page, console_doc::app_update, console_doc::app_rotate_key, console_doc::app_rotate_secret, console_doc::app_set_active, console_doc::hosted_asset, console_doc::console_asset),
    tags((name = "eauthenticator", description = "Hosted 2FA: the REST API (X-API-Key, caller IP allow-list; answers \
        {\"code\", \"message\", \"data\"}) and the hosted page."),
        (name = "eauthenticator-console", description = "The console's operations as JSON (bearer token from sign-in)."))
)]
pub struct ApiDoc;

/// Paths whose handlers wait for a result callback: they get the callback window, not the
/// ordinary request timeout.
const LONG_PATHS: &[&str] = &["/start-authentication/verify", "/start-authentication/key", "/start-authentication/reject"];

pub fn router() -> Api {
    let b = api::BASE;
    Api::default()
        .post(&format!("{b}/session-token"), api::session_token)
        .post(&format!("{b}/mfa/toggle"), api::toggle)
        .post(&format!("{b}/mfa/provision"), api::provision)
        .get(dev_receiver::PATH, dev_receiver::receive)
        .get("/start-authentication", hosted::start)
        .post("/start-authentication/verify", hosted::verify)
        .post("/start-authentication/reject", hosted::reject)
        .post("/start-authentication/key/options", hosted_keys::key_options)
        .post("/start-authentication/key", hosted_keys::key)
        .post("/start-authentication/add-key", hosted_keys::add_key)
        .get(html::HOSTED_JS_PATH, html::hosted_js)
        .get(html::CONSOLE_JS_PATH, html::console_js)
        .get("/console", console::home)
        .get("/console/register", console::register_page)
        .post("/console/register", console::register)
        .get("/console/sign-in", console::sign_in_page)
        .post("/console/sign-in", console::sign_in)
        .post("/console/sign-out", console::sign_out)
        .get("/console/apps", console::apps)
        .get("/console/apps/new", console::new_app_page_get)
        .post("/console/apps/new", console::create_app)
        .get("/console/apps/{id}", console::app_detail)
        .post("/console/apps/{id}", console::update_app)
        .post("/console/apps/{id}/rotate-key", console::rotate_key)
        .post("/console/apps/{id}/rotate-callback-secret", console::rotate_callback_secret)
        .post("/console/apps/{id}/active", console::set_active)
        .post("/console/api/register", console_api::register)
        .post("/console/api/verify-email", console_api::verify_email)
        .post("/console/api/sign-in", console_api::sign_in)
        .post("/console/api/sign-out", console_api::sign_out)
        .get("/console/api/applications", console_api::list)
        .post("/console/api/applications", console_api::create)
        .get("/console/api/applications/{id}", console_api::get_one)
        .patch("/console/api/applications/{id}", console_api::update)
        .post("/console/api/applications/{id}/rotate-key", console_api::rotate_key)
        .post("/console/api/applications/{id}/rotate-callback-secret", console_api::rotate_callback_secret)
        .post("/console/api/applications/{id}/activate", console_api::activate)
        .post("/console/api/applications/{id}/deactivate", console_api::deactivate)
        .get("/console/api/applications/{id}/verifications", console_api::verifications)
}

/// The eauthenticator dialect as the application mounts it.
pub struct Eauthenticator;

impl DialectMount for Eauthenticator {
    fn name(&self) -> &'static str {
        DIALECT
    }

    fn router(&self, _settings: &Settings) -> Api {
        router()
    }

    fn openapi(&self) -> OpenApi {
        ApiDoc::openapi()
    }

    fn prefixes(&self, _settings: &Settings) -> Vec<String> {
        vec!["/authen-api".into()]
    }

    fn body_too_large(&self, reason: &str) -> Option<Response> {
        Some(Json(json!({ "code": "INVALID_REQUEST", "message": format!("request body {reason}"), "data": "" })).into_response())
    }

    fn long_paths(&self) -> &'static [&'static str] {
        LONG_PATHS
    }
}
