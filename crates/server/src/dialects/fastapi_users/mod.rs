//! Dialect `fastapi-users`: the fastapi-users library's form-encoded JWT login and its companion
//! routes, for one configured tenant. Contract: docs/dialects/fastapi-users.md.

mod body;
mod error;
mod handlers;
mod schemas;
mod settings;

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use utoipa::OpenApi as _;

use crate::api::Api;
use crate::dialects::mount::{DialectMount, OpenApi};
use crate::settings::{KeyKind, Settings};

pub use handlers::ApiDoc;

use castellan_core::model::Dialect;

pub const DIALECT: Dialect = Dialect::FastapiUsers;

/// One mount: where, and for which tenant (none: `kyc` if it exists, else `default`).
#[derive(Debug, Clone)]
pub struct Mount {
    pub tenant: Option<String>,
}

/// The paths of one mount, relative to its prefix, as the OpenAPI document lists them.
pub const PATHS: &[&str] = &[
    "/auth/jwt/login",
    "/auth/jwt/logout",
    "/users/me",
    "/auth/register",
    "/auth/request-verify-token",
    "/auth/verify",
    "/auth/forgot-password",
    "/auth/reset-password",
];

/// Every configured mount: (prefix, tenant).
pub fn router(mounts: &[(String, Option<String>)]) -> Api {
    let mut api = Api::default();
    for (prefix, tenant) in mounts {
        let mut one = Api::default()
            .post(&format!("{prefix}/auth/jwt/login"), handlers::login)
            .post(&format!("{prefix}/auth/jwt/logout"), handlers::logout)
            .get(&format!("{prefix}/users/me"), handlers::me)
            .patch(&format!("{prefix}/users/me"), handlers::update_me)
            .post(&format!("{prefix}/auth/register"), handlers::register)
            .post(&format!("{prefix}/auth/request-verify-token"), handlers::request_verify_token)
            .post(&format!("{prefix}/auth/verify"), handlers::verify)
            .post(&format!("{prefix}/auth/forgot-password"), handlers::forgot_password)
            .post(&format!("{prefix}/auth/reset-password"), handlers::reset_password);
        one.router = one.router.layer(axum::Extension(std::sync::Arc::new(Mount { tenant: tenant.clone() })));
        api = api.merge(one);
    }
    api
}

/// The fastapi-users dialect as the application mounts it: once per configured mount.
pub struct FastapiUsers;

impl DialectMount for FastapiUsers {
    fn name(&self) -> &'static str {
        DIALECT.as_str()
    }

    fn section(&self) -> &'static str {
        "fastapi_users"
    }

    fn settings_keys(&self) -> &'static [(&'static str, KeyKind)] {
        settings::KEYS
    }

    fn router(&self, settings: &Settings) -> Api {
        router(&settings.fastapi_users_mounts())
    }

    fn openapi(&self) -> OpenApi {
        ApiDoc::openapi()
    }

    /// The root mount's paths, again under each further prefix, each operation id marked with it.
    fn document_paths(&self, settings: &Settings, paths: &mut Map<String, Value>) {
        for (prefix, _) in settings.fastapi_users_mounts().iter().filter(|(p, _)| !p.is_empty()) {
            for path in PATHS {
                if let Some(mut item) = paths.get(*path).cloned() {
                    let ops = item.as_object_mut().into_iter().flat_map(|ops| ops.values_mut());
                    for op in ops.filter_map(Value::as_object_mut) {
                        if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                            let id = format!("{id}@{prefix}");
                            op.insert("operationId".into(), id.into());
                        }
                    }
                    paths.insert(format!("{prefix}{path}"), item);
                }
            }
        }
    }

    fn prefixes(&self, settings: &Settings) -> Vec<String> {
        settings.fastapi_users_mounts().iter().flat_map(|(p, _)| [format!("{p}/auth"), format!("{p}/users")]).collect()
    }

    fn body_too_large(&self, _reason: &str) -> Option<Response> {
        Some(Json(json!({ "detail": "Content Too Large" })).into_response())
    }
}
