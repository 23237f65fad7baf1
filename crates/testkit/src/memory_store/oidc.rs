//! OpenID Connect: authorization codes and remembered consents.

use super::*;
use castellan_core::store::AuthorizationStore;

/// As the SQL store: spent and expired codes are kept an hour, to recognise a replay.
const CODE_KEPT_SECONDS: i64 = 3600;

#[async_trait]
impl AuthorizationStore for MemoryStore {
    async fn insert_authorization_code(&self, c: &AuthorizationCode, now: i64) -> StoreResult<()> {
        text(c.session_id.as_str())?;
        let mut s = self.state();
        s.oidc_codes.retain(|k| k.expires_at >= now - CODE_KEPT_SECONDS);
        unique(&[(s.oidc_codes.iter().any(|k| k.code_hash == c.code_hash), ConflictOn::Other)])?;
        s.require_tenant(c.tenant_id)?;
        s.require_application(c.application_id)?;
        s.require_user(c.user_id)?;
        s.oidc_codes.push(c.clone());
        Ok(())
    }

    async fn authorization_code(&self, tenant: TenantId, code_hash: &[u8]) -> StoreResult<Option<AuthorizationCode>> {
        let s = self.state();
        Ok(s.oidc_codes.iter().find(|c| c.tenant_id == tenant && c.code_hash == code_hash).cloned())
    }

    async fn redeem_authorization_code(&self, tenant: TenantId, code_hash: &[u8], now: i64) -> StoreResult<bool> {
        let mut s = self.state();
        let found = s
            .oidc_codes
            .iter_mut()
            .find(|c| c.tenant_id == tenant && c.code_hash == code_hash && c.used_at.is_none() && c.expires_at > now);
        Ok(match found {
            Some(c) => {
                c.used_at = Some(now);
                true
            }
            None => false,
        })
    }

    async fn upsert_consent(&self, g: &ConsentGrant) -> StoreResult<()> {
        let mut s = self.state();
        s.require_tenant(g.tenant_id)?;
        s.require_user(g.user_id)?;
        s.require_application(g.application_id)?;
        let same =
            |c: &ConsentGrant| c.tenant_id == g.tenant_id && c.user_id == g.user_id && c.application_id == g.application_id;
        match s.oidc_consents.iter_mut().find(|c| same(c)) {
            Some(c) => {
                c.scopes = g.scopes.clone();
                c.updated_at = g.updated_at;
            }
            None => s.oidc_consents.push(g.clone()),
        }
        Ok(())
    }

    async fn consent(&self, tenant: TenantId, user: UserId, app: AppId) -> StoreResult<Option<ConsentGrant>> {
        let s = self.state();
        Ok(s.oidc_consents.iter().find(|c| c.tenant_id == tenant && c.user_id == user && c.application_id == app).cloned())
    }

    async fn list_consents(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<ConsentGrant>> {
        let s = self.state();
        let mut list: Vec<ConsentGrant> =
            s.oidc_consents.iter().filter(|c| c.tenant_id == tenant && c.user_id == user).cloned().collect();
        list.sort_by_key(|c| (c.created_at, c.application_id.to_string()));
        Ok(list)
    }

    async fn delete_consent(&self, tenant: TenantId, user: UserId, app: AppId) -> StoreResult<bool> {
        let mut s = self.state();
        let before = s.oidc_consents.len();
        s.oidc_consents.retain(|c| !(c.tenant_id == tenant && c.user_id == user && c.application_id == app));
        Ok(s.oidc_consents.len() != before)
    }
}
