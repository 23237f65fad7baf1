//! Audit events: recorded for every login attempt, token event, factor and admin change.

use serde_json::Value;
use uuid::Uuid;

use super::ClientContext;
use crate::core::Core;
use crate::error::CoreResult;
use crate::model::audit::AuditFilter;
use crate::model::{AuditEvent, Tenant, new_id};

impl Core {
    /// Records an event. A failure to record is logged, never turned into a failed request.
    pub async fn audit(
        &self,
        tenant: Option<Uuid>,
        user: Option<Uuid>,
        action: &str,
        outcome: &str,
        ctx: &ClientContext,
        detail: Value,
    ) {
        let event = AuditEvent {
            id: new_id(),
            tenant_id: tenant,
            application_id: ctx.application_id,
            user_id: user,
            action: action.to_string(),
            outcome: outcome.to_string(),
            ip: ctx.ip.clone(),
            user_agent: ctx.user_agent.clone(),
            detail,
            created_at: self.now(),
        };
        if let Err(e) = self.store.insert_audit(&event).await {
            tracing::error!(error = %e, action, "audit event not recorded");
        }
    }

    pub async fn list_audit(&self, tenant: &Tenant, mut filter: AuditFilter) -> CoreResult<Vec<AuditEvent>> {
        filter.limit = filter.limit.clamp(1, 1000);
        Ok(self.store.list_audit(tenant.id, &filter).await?)
    }
}
