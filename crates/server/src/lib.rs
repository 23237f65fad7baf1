//! Castellan's HTTP application: shared middleware, the dialects, the admin API, pages and
//! operational endpoints. It talks to the domain only through `castellan_core::Core`; it has no
//! access to SQL.

pub mod admin;
pub mod api;
pub mod app;
pub mod bootstrap;
pub mod client;
pub mod connections;
pub mod dialects;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod rate_limit;
pub mod settings;
pub mod state;

pub use app::Application;
pub use settings::Settings;
pub use state::AppState;
