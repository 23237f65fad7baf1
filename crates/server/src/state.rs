//! What every handler can reach.

use std::sync::Arc;

use castellan_core::Core;

use crate::client::TrustedProxies;
use crate::dialects::DialectMount;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimiter;
use crate::settings::Settings;

#[derive(Clone)]
pub struct AppState {
    pub core: Arc<Core>,
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
    pub proxies: Arc<TrustedProxies>,
    pub auth_limiter: Arc<RateLimiter>,
    /// Wrong user codes on the device page, per address and per tenant (RFC 8628 §5.1).
    pub user_code_limiter: Arc<RateLimiter>,
    pub user_code_tenant_limiter: Arc<RateLimiter<castellan_core::model::TenantId>>,
    /// Dynamic client registrations per address.
    pub registration_limiter: Arc<RateLimiter>,
    /// The dialects mounted, in registration order.
    pub dialects: Arc<[&'static dyn DialectMount]>,
    /// Turns true when the server starts shutting down: long waits give up.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}
