//! Challenges: one-time codes and emailed secrets bound to a user.

use async_trait::async_trait;
use uuid::Uuid;

use super::*;

#[async_trait]
pub trait ChallengeStore: Send + Sync {
    async fn insert_challenge(&self, c: &Challenge) -> StoreResult<()>;
    async fn challenge_by_id(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Challenge>>;
    /// The challenge with this id, in whichever tenant (a client names only the id; the tenant
    /// comes from the challenge itself).
    async fn locate_challenge(&self, id: Uuid) -> StoreResult<Option<Challenge>>;
    /// Replaces the code of an unconsumed challenge whose code is still `old_hash` (a concurrent
    /// re-issue wins once), with a new expiry and context.
    async fn reissue_challenge(
        &self,
        tenant: TenantId,
        id: Uuid,
        old_hash: &[u8],
        new_hash: &[u8],
        expires_at: i64,
        data: &serde_json::Value,
    ) -> StoreResult<bool>;
    async fn challenge_by_secret(
        &self,
        tenant: TenantId,
        kind: ChallengeKind,
        secret_hash: &[u8],
    ) -> StoreResult<Option<Challenge>>;
    /// Counts a failed attempt; returns the new count.
    async fn fail_challenge(&self, tenant: TenantId, id: Uuid) -> StoreResult<u32>;
    /// Consumes the challenge if it is unconsumed, unexpired and has attempts left; exactly one
    /// concurrent caller gets true.
    async fn consume_challenge(&self, tenant: TenantId, id: Uuid, now: i64) -> StoreResult<bool>;
    async fn consume_user_challenges(&self, tenant: TenantId, user: UserId, kind: ChallengeKind, now: i64) -> StoreResult<()>;
}
