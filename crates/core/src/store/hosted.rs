//! Hosted verifications and their result callbacks.

use async_trait::async_trait;
use uuid::Uuid;

use super::*;

#[async_trait]
pub trait HostedStore: Send + Sync {
    async fn insert_verification(&self, v: &Verification) -> StoreResult<()>;
    async fn verification(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Verification>>;
    /// The verification with this id in whichever tenant (a session token names only its `jti`).
    async fn locate_verification(&self, id: Uuid) -> StoreResult<Option<Verification>>;
    /// Moves the verification from `from` to `to` (recording `ip` if given, and `now` as the end
    /// if `to` is final); exactly one concurrent caller gets true.
    async fn move_verification(
        &self,
        tenant: TenantId,
        id: Uuid,
        from: VerificationStatus,
        to: VerificationStatus,
        ip: Option<&str>,
        now: i64,
    ) -> StoreResult<bool>;
    /// Counts a wrong code against a pending verification; the new count, or `None` if it was not
    /// pending.
    async fn fail_verification(&self, tenant: TenantId, id: Uuid, ip: Option<&str>) -> StoreResult<Option<u32>>;
    /// The application's verifications, newest first.
    async fn list_verifications(&self, tenant: TenantId, app: AppId, limit: u32) -> StoreResult<Vec<Verification>>;
    /// Stores a callback; a second one for the same verification is a `Conflict`.
    async fn insert_callback(&self, c: &Callback) -> StoreResult<()>;
    async fn callback_of(&self, tenant: TenantId, verification: Uuid) -> StoreResult<Option<Callback>>;
    /// Leases up to `limit` pending callbacks due at `now_ms` until `lease_until_ms`; no two
    /// callers get the same one. Each lease counts a try.
    async fn claim_callbacks(&self, now_ms: i64, lease_until_ms: i64, limit: u32) -> StoreResult<Vec<Callback>>;
    /// Records a try's outcome: the new status, when to try next, and what the receiver said.
    async fn record_callback_try(
        &self,
        id: Uuid,
        status: CallbackStatus,
        next_attempt_ms: i64,
        last_status: Option<u16>,
        last_error: Option<&str>,
        now: i64,
    ) -> StoreResult<()>;
}
