//! One-time codes by key (a phone number, an email, a MOSIP key).

use super::*;
use castellan_core::store::KeyOtpStore;

/// How long a dead code (expired, no freeze running) is kept before a new code sweeps it away.
const KEPT_AFTER_DEATH: i64 = 3600;

#[async_trait]
impl KeyOtpStore for MemoryStore {
    async fn put_key_otp(&self, o: &KeyOtp, now: i64) -> StoreResult<bool> {
        let mut s = self.state();
        let dead_before = now - KEPT_AFTER_DEATH;
        s.key_otps.retain(|x| !(x.expires_at < dead_before && x.frozen_until.is_none_or(|f| f < dead_before)));
        if let Some(i) = s.key_otps.iter().position(|x| x.tenant_id == o.tenant_id && x.key_hash == o.key_hash) {
            if s.key_otps[i].frozen_until.is_some_and(|f| f > now) {
                return Ok(false);
            }
            if let Some(user) = o.user_id {
                s.require_user(user)?;
            }
            s.key_otps[i] = o.clone();
            return Ok(true);
        }
        s.require_tenant(o.tenant_id)?;
        if let Some(user) = o.user_id {
            s.require_user(user)?;
        }
        s.key_otps.push(o.clone());
        Ok(true)
    }

    async fn key_otp(&self, tenant: TenantId, key_hash: &[u8]) -> StoreResult<Option<KeyOtp>> {
        Ok(self.state().key_otps.iter().find(|o| o.tenant_id == tenant && o.key_hash == key_hash).cloned())
    }

    async fn latest_key_otp(&self, key_hash: &[u8], now: i64) -> StoreResult<Option<KeyOtp>> {
        let s = self.state();
        let rank = |o: &KeyOtp| (o.expires_at > now, o.created_at, o.expires_at);
        let mut best: Option<&KeyOtp> = None;
        for o in s.key_otps.iter().filter(|o| o.key_hash == key_hash) {
            if best.is_none_or(|b| rank(o) > rank(b)) {
                best = Some(o);
            }
        }
        Ok(best.cloned())
    }

    async fn fail_key_otp(
        &self,
        tenant: TenantId,
        key_hash: &[u8],
        secret_hash: &[u8],
        freeze_until: Option<i64>,
    ) -> StoreResult<Option<KeyOtp>> {
        let mut s = self.state();
        let row = s.key_otps.iter_mut().find(|o| o.tenant_id == tenant && o.key_hash == key_hash && o.secret_hash == secret_hash);
        Ok(row.map(|o| {
            o.attempts = o.attempts.saturating_add(1);
            if o.attempts >= o.max_attempts && freeze_until.is_some() {
                o.frozen_until = freeze_until;
            }
            o.clone()
        }))
    }

    async fn consume_key_otp(&self, tenant: TenantId, key_hash: &[u8], secret_hash: &[u8], now: i64) -> StoreResult<bool> {
        let mut s = self.state();
        let spendable = |o: &KeyOtp| {
            o.tenant_id == tenant
                && o.key_hash == key_hash
                && o.secret_hash == secret_hash
                && o.expires_at > now
                && o.attempts < o.max_attempts
                && o.frozen_until.is_none_or(|f| f <= now)
        };
        let before = s.key_otps.len();
        s.key_otps.retain(|o| !spendable(o));
        Ok(s.key_otps.len() < before)
    }
}
