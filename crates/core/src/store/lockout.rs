//! Lockout counters, keyed by subject (`user:<id>` or a normalised unknown identifier).

use async_trait::async_trait;

use super::*;

#[async_trait]
pub trait LockoutStore: Send + Sync {
    async fn reserve_attempt(
        &self,
        tenant: TenantId,
        subject: &str,
        threshold: u32,
        now: i64,
        lock_seconds: i64,
    ) -> StoreResult<AttemptReservation>;
    async fn clear_attempts(&self, tenant: TenantId, subject: &str) -> StoreResult<()>;
    /// After a successful attempt that was the `failures`-th reserved: clears the counter unless
    /// the subject is locked by attempts reserved after it (those were told "locked", and a
    /// locked account stays locked). True if cleared (or nothing was counted).
    async fn settle_success(&self, tenant: TenantId, subject: &str, failures: u32, now: i64) -> StoreResult<bool>;
    /// Until when `subject` is locked, if it is at `now`; counts nothing.
    async fn locked_until(&self, tenant: TenantId, subject: &str, now: i64) -> StoreResult<Option<i64>>;
}
