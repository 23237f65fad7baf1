//! Hosted verifications and their result callbacks.

use super::*;
use castellan_core::store::HostedStore;

impl State {
    fn verification_mut(&mut self, tenant: TenantId, id: Uuid) -> Option<&mut Verification> {
        self.verifications.iter_mut().find(|v| v.tenant_id == tenant && v.id == id)
    }
}

#[async_trait]
impl HostedStore for MemoryStore {
    async fn insert_verification(&self, v: &Verification) -> StoreResult<()> {
        texts([Some(v.email.as_str()), v.ip.as_deref()])?;
        let mut s = self.state();
        unique(&[(s.verifications.iter().any(|x| x.id == v.id), None)])?;
        s.require_tenant(v.tenant_id)?;
        s.require_application(v.application_id)?;
        s.require_user(v.user_id)?;
        s.verifications.push(v.clone());
        Ok(())
    }

    async fn verification(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Verification>> {
        Ok(self.state().verifications.iter().find(|v| v.tenant_id == tenant && v.id == id).cloned())
    }

    async fn locate_verification(&self, id: Uuid) -> StoreResult<Option<Verification>> {
        Ok(self.state().verifications.iter().find(|v| v.id == id).cloned())
    }

    async fn move_verification(
        &self,
        tenant: TenantId,
        id: Uuid,
        from: VerificationStatus,
        to: VerificationStatus,
        ip: Option<&str>,
        now: i64,
    ) -> StoreResult<bool> {
        texts([ip])?;
        let finished = !matches!(to, VerificationStatus::Pending | VerificationStatus::Verified);
        let mut s = self.state();
        let Some(v) = s.verification_mut(tenant, id).filter(|v| v.status == from) else {
            return Ok(false);
        };
        v.status = to;
        if let Some(ip) = ip {
            v.ip = Some(ip.to_string());
        }
        if finished {
            v.finished_at = Some(now);
        }
        Ok(true)
    }

    async fn fail_verification(&self, tenant: TenantId, id: Uuid, ip: Option<&str>) -> StoreResult<Option<u32>> {
        texts([ip])?;
        let mut s = self.state();
        let Some(v) = s.verification_mut(tenant, id).filter(|v| v.status == VerificationStatus::Pending) else {
            return Ok(None);
        };
        v.tries = v.tries.saturating_add(1);
        if let Some(ip) = ip {
            v.ip = Some(ip.to_string());
        }
        Ok(Some(v.tries))
    }

    async fn list_verifications(&self, tenant: TenantId, app: AppId, limit: u32) -> StoreResult<Vec<Verification>> {
        let s = self.state();
        let mut listed: Vec<Verification> =
            s.verifications.iter().filter(|v| v.tenant_id == tenant && v.application_id == app).cloned().collect();
        listed.sort_by_key(|x| std::cmp::Reverse((x.created_at, x.id)));
        listed.truncate(limit as usize);
        Ok(listed)
    }

    async fn insert_callback(&self, c: &Callback) -> StoreResult<()> {
        texts([Some(c.url.as_str()), Some(&c.query), c.last_error.as_deref()])?;
        let mut s = self.state();
        unique(&[
            (s.callbacks.iter().any(|x| x.callback.id == c.id), None),
            (s.callbacks.iter().any(|x| x.callback.verification_id == c.verification_id), None),
        ])?;
        s.require_tenant(c.tenant_id)?;
        s.require_application(c.application_id)?;
        s.callbacks.push(CallbackRow { callback: c.clone(), lease_until_ms: None });
        Ok(())
    }

    async fn callback_of(&self, tenant: TenantId, verification: Uuid) -> StoreResult<Option<Callback>> {
        let s = self.state();
        let found = s.callbacks.iter().find(|c| c.callback.tenant_id == tenant && c.callback.verification_id == verification);
        Ok(found.map(|c| c.callback.clone()))
    }

    async fn claim_callbacks(&self, now_ms: i64, lease_until_ms: i64, limit: u32) -> StoreResult<Vec<Callback>> {
        let mut s = self.state();
        let mut due: Vec<&mut CallbackRow> = s
            .callbacks
            .iter_mut()
            .filter(|c| {
                c.callback.status == CallbackStatus::Pending
                    && c.callback.next_attempt_ms <= now_ms
                    && c.lease_until_ms.is_none_or(|l| l <= now_ms)
            })
            .collect();
        due.sort_by_key(|c| c.callback.next_attempt_ms);
        Ok(due
            .into_iter()
            .take(limit as usize)
            .map(|c| {
                c.lease_until_ms = Some(lease_until_ms);
                c.callback.tries = c.callback.tries.saturating_add(1);
                c.callback.clone()
            })
            .collect())
    }

    async fn record_callback_try(
        &self,
        id: Uuid,
        status: CallbackStatus,
        next_attempt_ms: i64,
        last_status: Option<u16>,
        last_error: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        texts([last_error])?;
        let mut s = self.state();
        if let Some(c) = s.callbacks.iter_mut().find(|c| c.callback.id == id) {
            c.callback.status = status;
            c.callback.next_attempt_ms = next_attempt_ms;
            c.callback.last_status = last_status;
            c.callback.last_error = last_error.map(str::to_string);
            c.callback.finished_at = (status != CallbackStatus::Pending).then_some(now);
            c.lease_until_ms = None;
        }
        Ok(())
    }
}
