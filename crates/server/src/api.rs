//! A router that remembers what it mounts, so a test can hold the OpenAPI document to it.

use axum::Router;
use axum::handler::Handler;
use axum::routing::{delete, get, patch, post, put};

use crate::state::AppState;

pub struct Api {
    pub router: Router<AppState>,
    pub mounted: Vec<(&'static str, String)>,
}

impl Default for Api {
    fn default() -> Self {
        Api { router: Router::new(), mounted: Vec::new() }
    }
}

macro_rules! method {
    ($name:ident, $method:literal) => {
        pub fn $name<H, T>(mut self, path: &str, handler: H) -> Self
        where
            H: Handler<T, AppState>,
            T: 'static,
        {
            self.router = self.router.route(path, $name(handler));
            self.mounted.push(($method, path.to_string()));
            self
        }
    };
}

impl Api {
    method!(get, "get");
    method!(post, "post");
    method!(put, "put");
    method!(patch, "patch");
    method!(delete, "delete");

    pub fn merge(mut self, other: Api) -> Self {
        self.router = self.router.merge(other.router);
        self.mounted.extend(other.mounted);
        self
    }
}
