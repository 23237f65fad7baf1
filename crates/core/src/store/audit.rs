//! The audit log.

use async_trait::async_trait;

use super::*;

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn insert_audit(&self, e: &AuditEvent) -> StoreResult<()>;
    /// Several events in one transaction: all or none.
    async fn insert_audit_batch(&self, events: &[AuditEvent]) -> StoreResult<()>;
    async fn list_audit(&self, tenant: TenantId, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>>;
    /// Events that name no tenant (attempts with an unknown token or API key), newest first.
    async fn list_unscoped_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>>;
}
