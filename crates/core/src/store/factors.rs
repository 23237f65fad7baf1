//! TOTP factors: the user's own, and per-application ones of hosted verification.

use async_trait::async_trait;
use uuid::Uuid;

use super::*;

#[async_trait]
pub trait FactorStore: Send + Sync {
    async fn upsert_totp(&self, f: &TotpFactor) -> StoreResult<()>;
    async fn totp_by_user(&self, tenant: Uuid, user: Uuid) -> StoreResult<Option<TotpFactor>>;
    async fn enable_totp(&self, tenant: Uuid, user: Uuid) -> StoreResult<()>;
    async fn delete_totp(&self, tenant: Uuid, user: Uuid) -> StoreResult<bool>;
    /// Records `step` as used if it is newer than the last one; false means a replay.
    async fn advance_totp_step(&self, tenant: Uuid, user: Uuid, step: i64) -> StoreResult<bool>;
    async fn upsert_app_totp(&self, f: &AppTotpFactor) -> StoreResult<()>;
    async fn app_totp(&self, tenant: Uuid, app: Uuid, user: Uuid) -> StoreResult<Option<AppTotpFactor>>;
    async fn delete_app_totp(&self, tenant: Uuid, app: Uuid, user: Uuid) -> StoreResult<bool>;
    /// Records `step` as used if it is newer than the last one; false means a replay.
    async fn advance_app_totp_step(&self, tenant: Uuid, app: Uuid, user: Uuid, step: i64) -> StoreResult<bool>;
}
