//! The storage contract. Every method that touches tenant data takes the tenant, so no query can
//! wander across tenants. Implementations live in `castellan-store` (SQLite and PostgreSQL).

use async_trait::async_trait;

pub use crate::error::ConflictOn;
use crate::model::audit::AuditFilter;
use crate::model::*;

mod admin_tokens;
mod applications;
mod audit;
mod authorization;
mod challenges;
mod factors;
mod hosted;
mod key_otps;
mod keys;
mod lockout;
mod outbox;
mod passkeys;
mod sessions;
mod tenants;
mod users;

pub use admin_tokens::AdminTokenStore;
pub use applications::ApplicationStore;
pub use audit::AuditStore;
pub use authorization::{AuthorizationStore, DeviceDecision};
pub use challenges::ChallengeStore;
pub use factors::FactorStore;
pub use hosted::HostedStore;
pub use key_otps::KeyOtpStore;
pub use keys::KeyStore;
pub use lockout::LockoutStore;
pub use outbox::OutboxStore;
pub use passkeys::PasskeyStore;
pub use sessions::{SessionOpening, SessionStore};
pub use tenants::TenantStore;
pub use users::UserStore;

/// A storage failure, already stripped of driver types.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated; the key it guards, [`ConflictOn::Other`] when the store
    /// cannot tell. A clash of confusable skeletons is reported as the field whose skeleton it is.
    #[error("unique constraint violated")]
    Conflict(ConflictOn),
    /// The database cannot store a text (PostgreSQL and NUL). The core refuses such text before it
    /// gets here; this keeps a missed path a validation error instead of a server error.
    #[error("text the database cannot store")]
    InvalidText,
    /// The engine failed: what the store was doing, and the driver's error as the source.
    #[error("{context}")]
    Backend {
        context: String,
        #[source]
        source: Option<crate::error::Cause>,
    },
    /// The database cannot take the request now, and may in a moment: unreachable, shutting
    /// down, or out of disk space. Answered 503 with `Retry-After`, not as a server fault.
    #[error("database unavailable: {context}")]
    Unavailable {
        context: String,
        #[source]
        source: Option<crate::error::Cause>,
    },
}

impl From<StoreError> for crate::CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(on) => crate::CoreError::Conflict(on),
            StoreError::InvalidText => crate::CoreError::field("input", crate::model::text::CONTROL),
            e @ (StoreError::Backend { .. } | StoreError::Unavailable { .. }) => crate::CoreError::Storage(Box::new(e)),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// A failure of the engine while doing `context`, caused by `source`.
    pub fn backend(context: impl Into<String>, source: impl Into<crate::error::Cause>) -> Self {
        StoreError::Backend { context: context.into(), source: Some(source.into()) }
    }

    /// A failure that has no underlying error (data the store cannot read back, say).
    pub fn message(context: impl Into<String>) -> Self {
        StoreError::Backend { context: context.into(), source: None }
    }
}

/// Outcome of reserving one login attempt against a lockout counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptReservation {
    /// The attempt may proceed; `failures` counts it (it is forgiven on success).
    Allowed { failures: u32 },
    /// Locked until this epoch second.
    Locked { until: i64 },
}

/// Filters of a user listing.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub email: Option<String>,
    pub username: Option<String>,
    pub phone: Option<String>,
    pub limit: u32,
}

/// The whole storage contract: one trait per aggregate, and the store's own health check.
#[async_trait]
pub trait Store:
    TenantStore
    + ApplicationStore
    + UserStore
    + LockoutStore
    + FactorStore
    + ChallengeStore
    + KeyOtpStore
    + SessionStore
    + KeyStore
    + AuditStore
    + OutboxStore
    + HostedStore
    + AdminTokenStore
    + AuthorizationStore
    + PasskeyStore
    + Send
    + Sync
    + 'static
{
    async fn ping(&self) -> StoreResult<()>;

    /// The state of the store's in-memory hot state, if it keeps one.
    fn cache_status(&self) -> Option<CacheStatus> {
        None
    }
}

/// Whether a store's hot state answers from memory now, and how often its change feed has been
/// (re)established since start: each time, everything held before was forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStatus {
    pub trusted: bool,
    pub resyncs: u64,
}

/// Every storage trait, so a caller's `store.method()` resolves whichever aggregate it belongs to.
pub mod prelude {
    pub use super::{
        AdminTokenStore, ApplicationStore, AuditStore, AuthorizationStore, ChallengeStore, FactorStore, HostedStore, KeyOtpStore,
        KeyStore, LockoutStore, OutboxStore, PasskeyStore, SessionStore, Store, TenantStore, UserStore,
    };
}
