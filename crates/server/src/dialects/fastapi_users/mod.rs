//! Dialect `fastapi-users`: the fastapi-users library's form-encoded JWT login and its companion
//! routes, for one configured tenant. Contract: docs/dialects/fastapi-users.md.

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
}
