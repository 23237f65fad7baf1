//! One-time codes by key (a phone number, an email, a MOSIP key).

use async_trait::async_trait;

use super::*;

#[async_trait]
pub trait KeyOtpStore: Send + Sync {
    /// Stores the key's new code (replacing any previous one, attempts reset) unless the key is
    /// frozen at `now`; false means frozen, nothing written. Long-dead codes of other keys go.
    async fn put_key_otp(&self, otp: &KeyOtp, now: i64) -> StoreResult<bool>;
    async fn key_otp(&self, tenant: TenantId, key_hash: &[u8]) -> StoreResult<Option<KeyOtp>>;
    /// The most recently issued code of this key in whichever tenant, a pending one (unexpired at
    /// `now`) before any expired one.
    async fn latest_key_otp(&self, key_hash: &[u8], now: i64) -> StoreResult<Option<KeyOtp>>;
    /// Counts a wrong try against the code `secret_hash`; the try that reaches the limit sets
    /// `frozen_until` to `freeze_until` (if given). Returns the row as it is now.
    async fn fail_key_otp(
        &self,
        tenant: TenantId,
        key_hash: &[u8],
        secret_hash: &[u8],
        freeze_until: Option<i64>,
    ) -> StoreResult<Option<KeyOtp>>;
    /// Deletes the code if it is still `secret_hash`, unexpired, not frozen and has tries left:
    /// exactly one concurrent caller gets true.
    async fn consume_key_otp(&self, tenant: TenantId, key_hash: &[u8], secret_hash: &[u8], now: i64) -> StoreResult<bool>;
}
