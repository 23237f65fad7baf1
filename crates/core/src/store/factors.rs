//! TOTP factors: the user's own, and per-application ones of hosted verification.

use async_trait::async_trait;

use super::*;

#[async_trait]
pub trait FactorStore: Send + Sync {
    async fn upsert_totp(&self, f: &TotpFactor) -> StoreResult<()>;
    async fn totp_by_user(&self, tenant: TenantId, user: UserId) -> StoreResult<Option<TotpFactor>>;
    async fn enable_totp(&self, tenant: TenantId, user: UserId) -> StoreResult<()>;
    async fn delete_totp(&self, tenant: TenantId, user: UserId) -> StoreResult<bool>;
    /// Records `step` as used if it is newer than the last one; false means a replay.
    async fn advance_totp_step(&self, tenant: TenantId, user: UserId, step: i64) -> StoreResult<bool>;
    async fn upsert_app_totp(&self, f: &AppTotpFactor) -> StoreResult<()>;
    async fn app_totp(&self, tenant: TenantId, app: AppId, user: UserId) -> StoreResult<Option<AppTotpFactor>>;
    async fn delete_app_totp(&self, tenant: TenantId, app: AppId, user: UserId) -> StoreResult<bool>;
    /// Records `step` as used if it is newer than the last one; false means a replay.
    async fn advance_app_totp_step(&self, tenant: TenantId, app: AppId, user: UserId, step: i64) -> StoreResult<bool>;
}
