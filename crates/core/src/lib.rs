//! Castellan's domain core: tenants, applications, users, factors, challenges, sessions, refresh
//! tokens, signing keys, audit and message delivery. It knows nothing of HTTP or SQL: services are
//! async functions over the [`store::Store`] trait, a [`clock::Clock`] and the OS RNG, reached
//! through one facade per service (`core.sessions()`, `core.hosted()`, …).

mod audit_queue;
pub mod cache;
pub mod clock;
pub mod core;
pub mod crypto;
pub mod delivery;
pub mod error;
pub mod model;
pub mod net;
pub mod services;
pub mod store;

pub use crate::core::{Core, CoreConfig};
pub use crate::error::{CoreError, CoreResult};
