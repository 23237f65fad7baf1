//! WebAuthn credentials, ceremonies and recovery codes.

use super::*;
use castellan_core::store::PasskeyStore;

#[async_trait]
impl PasskeyStore for MemoryStore {
    async fn insert_credential(&self, c: &WebauthnCredential) -> StoreResult<()> {
        texts([Some(c.credential_id.as_str()), Some(c.name.as_str()), Some(c.data.as_str()), c.aaguid.as_deref()])?;
        let mut s = self.state();
        if s.credentials.iter().any(|x| x.id == c.id || (x.tenant_id == c.tenant_id && x.credential_id == c.credential_id)) {
            return Err(StoreError::Conflict(ConflictOn::Other));
        }
        s.require_tenant(c.tenant_id)?;
        s.require_user(c.user_id)?;
        s.credentials.push(c.clone());
        Ok(())
    }

    async fn credentials_of(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<WebauthnCredential>> {
        let mut found: Vec<_> =
            self.state().credentials.iter().filter(|c| c.tenant_id == tenant && c.user_id == user).cloned().collect();
        found.sort_by_key(|c| (c.created_at, c.id.to_string()));
        Ok(found)
    }

    async fn credential_by_credential_id(
        &self,
        tenant: TenantId,
        credential_id: &str,
    ) -> StoreResult<Option<WebauthnCredential>> {
        Ok(self.state().credentials.iter().find(|c| c.tenant_id == tenant && c.credential_id == credential_id).cloned())
    }

    async fn record_credential_use(&self, tenant: TenantId, id: Uuid, u: &CredentialUse) -> StoreResult<bool> {
        text(&u.data)?;
        let mut s = self.state();
        let Some(c) = s.credentials.iter_mut().find(|c| c.tenant_id == tenant && c.id == id) else { return Ok(false) };
        if !(c.sign_count < u.sign_count || (c.sign_count == 0 && u.sign_count == 0)) {
            return Ok(false);
        }
        c.sign_count = u.sign_count;
        c.backup_state = u.backup_state;
        c.data = u.data.clone();
        c.last_used_at = Some(u.at);
        Ok(true)
    }

    async fn rename_credential(&self, tenant: TenantId, user: UserId, id: Uuid, name: &str) -> StoreResult<bool> {
        text(name)?;
        let mut s = self.state();
        let found = s.credentials.iter_mut().find(|c| c.tenant_id == tenant && c.user_id == user && c.id == id);
        Ok(found.map(|c| c.name = name.to_string()).is_some())
    }

    async fn delete_credential(&self, tenant: TenantId, user: UserId, id: Uuid) -> StoreResult<bool> {
        let mut s = self.state();
        let before = s.credentials.len();
        s.credentials.retain(|c| !(c.tenant_id == tenant && c.user_id == user && c.id == id));
        Ok(s.credentials.len() < before)
    }

    async fn insert_ceremony(&self, c: &WebauthnCeremony, now: i64) -> StoreResult<()> {
        texts([Some(c.purpose.as_str()), Some(c.state.as_str())])?;
        let mut s = self.state();
        s.ceremonies.retain(|x| x.expires_at >= now);
        if s.ceremonies.iter().any(|x| x.token_hash == c.token_hash) {
            return Err(StoreError::Conflict(ConflictOn::Other));
        }
        s.require_tenant(c.tenant_id)?;
        if let Some(u) = c.user_id {
            s.require_user(u)?;
        }
        s.ceremonies.push(c.clone());
        Ok(())
    }

    async fn take_ceremony(&self, tenant: TenantId, token_hash: &[u8], now: i64) -> StoreResult<Option<WebauthnCeremony>> {
        let mut s = self.state();
        let Some(i) = s.ceremonies.iter().position(|c| c.tenant_id == tenant && c.token_hash == token_hash) else {
            return Ok(None);
        };
        let c = s.ceremonies.remove(i);
        Ok((c.expires_at > now).then_some(c))
    }

    async fn replace_recovery_codes(&self, tenant: TenantId, user: UserId, hashes: &[Vec<u8>], _now: i64) -> StoreResult<()> {
        let mut s = self.state();
        s.require_tenant(tenant)?;
        s.require_user(user)?;
        // Checked whole before anything changes, as the SQL transaction rolls back whole.
        let distinct: std::collections::HashSet<&Vec<u8>> = hashes.iter().collect();
        if distinct.len() < hashes.len() {
            return Err(StoreError::Conflict(ConflictOn::Other));
        }
        s.recovery_codes.retain(|r| !(r.0 == tenant && r.1 == user));
        s.recovery_codes.extend(hashes.iter().map(|h| (tenant, user, h.clone(), None)));
        Ok(())
    }

    async fn spend_recovery_code(&self, tenant: TenantId, user: UserId, hash: &[u8], now: i64) -> StoreResult<bool> {
        let mut s = self.state();
        let found = s.recovery_codes.iter_mut().find(|r| r.0 == tenant && r.1 == user && r.2 == hash && r.3.is_none());
        Ok(found.map(|r| r.3 = Some(now)).is_some())
    }

    async fn recovery_codes_left(&self, tenant: TenantId, user: UserId) -> StoreResult<u32> {
        Ok(self.state().recovery_codes.iter().filter(|r| r.0 == tenant && r.1 == user && r.3.is_none()).count() as u32)
    }
}
