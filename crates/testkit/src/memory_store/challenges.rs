//! Challenges: one-time codes and emailed secrets bound to a user.

use super::*;
use castellan_core::store::ChallengeStore;

impl State {
    fn challenge_mut(&mut self, tenant: TenantId, id: Uuid) -> Option<&mut Challenge> {
        self.challenges.iter_mut().find(|c| c.tenant_id == tenant && c.id == id)
    }
}

#[async_trait]
impl ChallengeStore for MemoryStore {
    async fn insert_challenge(&self, c: &Challenge) -> StoreResult<()> {
        let mut s = self.state();
        unique(&[(s.challenges.iter().any(|x| x.id == c.id), None)])?;
        s.require_tenant(c.tenant_id)?;
        s.require_user(c.user_id)?;
        s.challenges.push(c.clone());
        Ok(())
    }

    async fn challenge_by_id(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Challenge>> {
        Ok(self.state().challenges.iter().find(|c| c.tenant_id == tenant && c.id == id).cloned())
    }

    async fn locate_challenge(&self, id: Uuid) -> StoreResult<Option<Challenge>> {
        Ok(self.state().challenges.iter().find(|c| c.id == id).cloned())
    }

    async fn reissue_challenge(
        &self,
        tenant: TenantId,
        id: Uuid,
        old_hash: &[u8],
        new_hash: &[u8],
        expires_at: i64,
        data: &serde_json::Value,
    ) -> StoreResult<bool> {
        let mut s = self.state();
        Ok(match s.challenge_mut(tenant, id).filter(|c| c.secret_hash == old_hash && c.consumed_at.is_none()) {
            Some(c) => {
                c.secret_hash = new_hash.to_vec();
                c.expires_at = expires_at;
                c.data = data.clone();
                true
            }
            None => false,
        })
    }

    async fn challenge_by_secret(
        &self,
        tenant: TenantId,
        kind: ChallengeKind,
        secret_hash: &[u8],
    ) -> StoreResult<Option<Challenge>> {
        let s = self.state();
        Ok(s.challenges.iter().find(|c| c.tenant_id == tenant && c.kind == kind && c.secret_hash == secret_hash).cloned())
    }

    async fn fail_challenge(&self, tenant: TenantId, id: Uuid) -> StoreResult<u32> {
        let mut s = self.state();
        Ok(match s.challenge_mut(tenant, id) {
            Some(c) => {
                c.attempts = c.attempts.saturating_add(1);
                c.attempts
            }
            // No such challenge: as many tries as there can be.
            None => u32::MAX,
        })
    }

    async fn consume_challenge(&self, tenant: TenantId, id: Uuid, now: i64) -> StoreResult<bool> {
        let mut s = self.state();
        let spendable = |c: &&mut Challenge| c.consumed_at.is_none() && c.expires_at > now && c.attempts < c.max_attempts;
        Ok(match s.challenge_mut(tenant, id).filter(spendable) {
            Some(c) => {
                c.consumed_at = Some(now);
                true
            }
            None => false,
        })
    }

    async fn consume_user_challenges(&self, tenant: TenantId, user: UserId, kind: ChallengeKind, now: i64) -> StoreResult<()> {
        let mut s = self.state();
        for c in s.challenges.iter_mut().filter(|c| c.tenant_id == tenant && c.user_id == user && c.kind == kind) {
            if c.consumed_at.is_none() {
                c.consumed_at = Some(now);
            }
        }
        Ok(())
    }
}
