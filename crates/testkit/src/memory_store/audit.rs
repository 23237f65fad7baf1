//! The audit log.

use super::*;
use castellan_core::model::audit::AuditFilter;
use castellan_core::store::AuditStore;

impl State {
    /// Whether `e` could be stored after the events of `batch` before it.
    pub(super) fn check_audit_event(&self, e: &AuditEvent, batch: &[AuditEvent]) -> StoreResult<()> {
        texts([Some(e.action.as_str()), Some(&e.outcome), e.ip.as_deref(), e.user_agent.as_deref()])?;
        unique(&[(self.audit_events.iter().chain(batch).any(|x| x.id == e.id), None)])
    }

    /// The events of `tenant` (or of none) that pass `f`, newest first, at most `f.limit`.
    fn audit_listing(&self, tenant: Option<TenantId>, f: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        texts([f.action.as_deref()])?;
        let since = f.since.unwrap_or(0);
        let mut events: Vec<AuditEvent> = self
            .audit_events
            .iter()
            .filter(|e| e.tenant_id == tenant && e.created_at >= since)
            .filter(|e| f.user_id.is_none() || e.user_id == f.user_id)
            .filter(|e| f.action.is_none() || Some(&e.action) == f.action.as_ref())
            .cloned()
            .collect();
        events.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id)));
        events.truncate(f.limit as usize);
        Ok(events)
    }
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn insert_audit(&self, e: &AuditEvent) -> StoreResult<()> {
        let mut s = self.state();
        s.check_audit_event(e, &[])?;
        s.audit_events.push(e.clone());
        Ok(())
    }

    async fn insert_audit_batch(&self, events: &[AuditEvent]) -> StoreResult<()> {
        let mut s = self.state();
        for (i, e) in events.iter().enumerate() {
            s.check_audit_event(e, &events[..i])?;
        }
        s.audit_events.extend_from_slice(events);
        Ok(())
    }

    async fn list_audit(&self, tenant: TenantId, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        self.state().audit_listing(Some(tenant), filter)
    }

    async fn list_unscoped_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        self.state().audit_listing(None, filter)
    }
}
