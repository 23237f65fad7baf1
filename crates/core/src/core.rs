//! `Core`: the services' shared context — store, clock, hasher, master key, caches.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::audit_queue::AuditQueue;
use crate::cache::TtlCache;
use crate::clock::Clock;
use crate::crypto::MasterKey;
use crate::crypto::jwt::LoadedKey;
use crate::crypto::password::{Argon2Params, PasswordHasher};
use crate::crypto::sign_stats::SignStats;
use crate::crypto::verified::VerifiedTokens;
use crate::error::CoreResult;
use crate::model::{Application, Dialect, Tenant, TenantId};
use crate::store::prelude::*;

/// Settings the core needs; the server maps its configuration onto these.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Base URL of this deployment, used in emailed links.
    pub public_url: String,
    pub argon2: Argon2Params,
    /// Concurrent password hashes (defaults to the number of cores).
    pub hash_workers: usize,
    /// Callers allowed to wait for a hashing slot before the next is refused.
    pub hash_queue: usize,
    /// How long a node trusts its cached tenants and keys.
    pub cache_ttl: Duration,
    /// Country calling code for phone numbers given without `+`.
    pub default_country_code: String,
    /// Clock skew tolerated on `exp`/`nbf`.
    pub token_leeway_seconds: i64,
    /// Callbacks may go to loopback, private and link-local addresses, and over plain http
    /// (development and tests only).
    pub allow_private_callbacks: bool,
    /// How long a result callback is retried before it is given up.
    pub callback_window: Duration,
    /// How long one attempt to hand a message to its transport may take.
    pub delivery_timeout: Duration,
}

impl Default for CoreConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        CoreConfig {
            public_url: "http://127.0.0.1:8080".into(),
            argon2: Argon2Params::default(),
            hash_workers: cores,
            hash_queue: cores * 32,
            cache_ttl: Duration::from_secs(30),
            default_country_code: "256".into(),
            token_leeway_seconds: 30,
            allow_private_callbacks: false,
            callback_window: Duration::from_secs(30),
            delivery_timeout: Duration::from_secs(20),
        }
    }
}

pub struct Core {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub hasher: PasswordHasher,
    pub(crate) master: MasterKey,
    pub config: CoreConfig,
    pub(crate) tenants: TtlCache<String, Tenant>,
    pub(crate) keys: TtlCache<TenantId, Arc<Vec<LoadedKey>>>,
    /// Serialized JWK sets: one tenant's (`Some`) or everyone's (`None`).
    pub(crate) jwks_cache: TtlCache<Option<TenantId>, Arc<String>>,
    /// Applications by dialect alias.
    pub(crate) apps_by_alias: TtlCache<(Dialect, String), Application>,
    /// Applications by tenant and client id, for the paths that authenticate a client or check
    /// its token on every request (OpenID Connect's token endpoint, introspection).
    pub(crate) apps_by_client_id: TtlCache<(TenantId, String), Application>,
    /// Each realm's OpenID Connect discovery document, serialized.
    pub(crate) discovery_documents: TtlCache<TenantId, Arc<String>>,
    pub sign_stats: SignStats,
    /// Messages sent, failed and given up, for `/metrics`.
    pub delivery_stats: crate::delivery::DeliveryStats,
    /// Tokens whose signature was checked, so the next request with them is not checked again.
    pub(crate) verified_tokens: VerifiedTokens,
    /// Woken when a message is queued, so delivery does not wait for the next poll.
    pub outbox_ready: Notify,
    pub(crate) audit_queue: Arc<AuditQueue>,
    /// Woken when a result callback is due.
    pub callbacks_ready: Arc<Notify>,
    /// Woken (all waiters) whenever a callback try is recorded.
    pub callbacks_settled: Notify,
    pub(crate) callback_client: reqwest::Client,
    /// Clients' key sets fetched from their `jwks_uri`, with when they were fetched.
    pub(crate) client_jwks: TtlCache<String, (std::time::Instant, Arc<jsonwebtoken::jwk::JwkSet>)>,
}

impl Core {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, master_key: &[u8], config: CoreConfig) -> CoreResult<Self> {
        let hasher = PasswordHasher::new(config.argon2, config.hash_workers, config.hash_queue)?;
        let callback_client = crate::delivery::callback_client::http_client(config.allow_private_callbacks)?;
        Ok(Core {
            store,
            clock,
            hasher,
            master: MasterKey::from_bytes(master_key)?,
            tenants: TtlCache::new(config.cache_ttl),
            keys: TtlCache::new(config.cache_ttl),
            jwks_cache: TtlCache::new(config.cache_ttl),
            apps_by_alias: TtlCache::new(config.cache_ttl),
            apps_by_client_id: TtlCache::new(config.cache_ttl),
            discovery_documents: TtlCache::new(config.cache_ttl),
            sign_stats: SignStats::default(),
            delivery_stats: Default::default(),
            verified_tokens: VerifiedTokens::default(),
            config,
            outbox_ready: Notify::new(),
            audit_queue: Arc::default(),
            callbacks_ready: Arc::new(Notify::new()),
            callbacks_settled: Notify::new(),
            callback_client,
            client_jwks: TtlCache::new(crate::services::provider::JWKS_CACHE),
        })
    }

    /// A tenant's issuer as OpenID Connect (and Keycloak's layout) names it:
    /// `<public url>/realms/<slug>`.
    pub fn realm_issuer(&self, tenant: &Tenant) -> String {
        format!("{}/realms/{}", self.config.public_url.trim_end_matches('/'), tenant.slug)
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Whether the store answers (readiness).
    pub async fn ping(&self) -> CoreResult<()> {
        Ok(self.store.ping().await?)
    }

    /// Whether the store's hot state answers from memory now (for the metrics).
    pub fn cache_status(&self) -> Option<crate::store::CacheStatus> {
        self.store.cache_status()
    }
}
