//! TOTP factors: the user's own, and per-application ones of hosted verification.

use super::*;
use castellan_core::store::FactorStore;

#[async_trait]
impl FactorStore for MemoryStore {
    async fn upsert_totp(&self, f: &TotpFactor) -> StoreResult<()> {
        text(&f.algorithm)?;
        let mut s = self.state();
        // Keyed by user alone; a replacement keeps the row's tenant, as the SQL upsert does.
        if let Some(row) = s.totp_factors.iter_mut().find(|x| x.user_id == f.user_id) {
            *row = TotpFactor { tenant_id: row.tenant_id, ..f.clone() };
            return Ok(());
        }
        s.require_user(f.user_id)?;
        s.require_tenant(f.tenant_id)?;
        s.totp_factors.push(f.clone());
        Ok(())
    }

    async fn totp_by_user(&self, tenant: TenantId, user: UserId) -> StoreResult<Option<TotpFactor>> {
        Ok(self.state().totp_factors.iter().find(|f| f.tenant_id == tenant && f.user_id == user).cloned())
    }

    async fn enable_totp(&self, tenant: TenantId, user: UserId) -> StoreResult<()> {
        let mut s = self.state();
        if let Some(f) = s.totp_factors.iter_mut().find(|f| f.tenant_id == tenant && f.user_id == user) {
            f.enabled = true;
        }
        Ok(())
    }

    async fn delete_totp(&self, tenant: TenantId, user: UserId) -> StoreResult<bool> {
        let mut s = self.state();
        let before = s.totp_factors.len();
        s.totp_factors.retain(|f| !(f.tenant_id == tenant && f.user_id == user));
        Ok(s.totp_factors.len() < before)
    }

    async fn advance_totp_step(&self, tenant: TenantId, user: UserId, step: i64) -> StoreResult<bool> {
        let mut s = self.state();
        let row = s.totp_factors.iter_mut().find(|f| f.tenant_id == tenant && f.user_id == user);
        Ok(advance(row.map(|f| &mut f.last_step), step))
    }

    async fn upsert_app_totp(&self, f: &AppTotpFactor) -> StoreResult<()> {
        text(&f.algorithm)?;
        let mut s = self.state();
        // Keyed by (application, user); a replacement keeps the row's tenant.
        if let Some(row) = s.app_totp_factors.iter_mut().find(|x| x.application_id == f.application_id && x.user_id == f.user_id)
        {
            *row = AppTotpFactor { tenant_id: row.tenant_id, ..f.clone() };
            return Ok(());
        }
        s.require_tenant(f.tenant_id)?;
        s.require_application(f.application_id)?;
        s.require_user(f.user_id)?;
        s.app_totp_factors.push(f.clone());
        Ok(())
    }

    async fn app_totp(&self, tenant: TenantId, app: AppId, user: UserId) -> StoreResult<Option<AppTotpFactor>> {
        let s = self.state();
        Ok(s.app_totp_factors.iter().find(|f| f.tenant_id == tenant && f.application_id == app && f.user_id == user).cloned())
    }

    async fn delete_app_totp(&self, tenant: TenantId, app: AppId, user: UserId) -> StoreResult<bool> {
        let mut s = self.state();
        let before = s.app_totp_factors.len();
        s.app_totp_factors.retain(|f| !(f.tenant_id == tenant && f.application_id == app && f.user_id == user));
        Ok(s.app_totp_factors.len() < before)
    }

    async fn advance_app_totp_step(&self, tenant: TenantId, app: AppId, user: UserId, step: i64) -> StoreResult<bool> {
        let mut s = self.state();
        let row = s.app_totp_factors.iter_mut().find(|f| f.tenant_id == tenant && f.application_id == app && f.user_id == user);
        Ok(advance(row.map(|f| &mut f.last_step), step))
    }
}

/// Records `step` as the last one used if it is newer; false if it is not (a replay) or there is
/// no factor.
fn advance(last_step: Option<&mut Option<i64>>, step: i64) -> bool {
    match last_step {
        Some(last) if last.is_none_or(|l| l < step) => {
            *last = Some(step);
            true
        }
        _ => false,
    }
}
