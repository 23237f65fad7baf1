//! Dialect `fastapi-users`: the fastapi-users library's form-encoded JWT login and its companion
//! routes, for one configured tenant. Contract: docs/dialects/fastapi-users.md.

mod body;
mod error;
mod handlers;

use crate::api::Api;

pub use handlers::ApiDoc;

pub const DIALECT: &str = "fastapi-users";

pub fn router() -> Api {
    Api::default()
        .post("/auth/jwt/login", handlers::login)
        .post("/auth/jwt/logout", handlers::logout)
        .get("/users/me", handlers::me)
        .patch("/users/me", handlers::update_me)
        .post("/auth/register", handlers::register)
        .post("/auth/request-verify-token", handlers::request_verify_token)
        .post("/auth/verify", handlers::verify)
        .post("/auth/forgot-password", handlers::forgot_password)
        .post("/auth/reset-password", handlers::reset_password)
}
