//! Signing keys.

use super::*;
use castellan_core::store::KeyStore;

/// Newest first; keys made in the same second by kid.
fn newest_first(keys: &mut [SigningKey]) {
    keys.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.kid.cmp(&b.kid)));
}

#[async_trait]
impl KeyStore for MemoryStore {
    async fn insert_key(&self, k: &SigningKey) -> StoreResult<()> {
        text(&k.kid)?;
        let mut s = self.state();
        unique(&[(s.signing_keys.iter().any(|x| x.kid == k.kid), None)])?;
        s.require_tenant(k.tenant_id)?;
        s.signing_keys.push(k.clone());
        Ok(())
    }

    async fn list_keys(&self, tenant: TenantId) -> StoreResult<Vec<SigningKey>> {
        let mut keys: Vec<SigningKey> = self.state().signing_keys.iter().filter(|k| k.tenant_id == tenant).cloned().collect();
        newest_first(&mut keys);
        Ok(keys)
    }

    async fn list_all_keys(&self) -> StoreResult<Vec<SigningKey>> {
        let mut keys = self.state().signing_keys.clone();
        newest_first(&mut keys);
        Ok(keys)
    }

    async fn set_key_state(&self, tenant: TenantId, kid: &str, state: KeyState, now: i64) -> StoreResult<()> {
        text(kid)?;
        let mut s = self.state();
        if let Some(k) = s.signing_keys.iter_mut().find(|k| k.tenant_id == tenant && k.kid == kid) {
            k.state = state;
            k.retired_at = (state != KeyState::Active).then_some(now);
        }
        Ok(())
    }
}
