//! Dialect `fastapi-users`: the fastapi-users library's form-encoded JWT login and its companion
//! routes, for one configured tenant. Contract: docs/dialects/fastapi-users.md.

mod body;
mod error;
mod handlers;
mod schemas;

use crate::api::Api;

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
