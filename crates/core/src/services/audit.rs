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
        let event = self.audit_event(tenant, user, action, outcome, ctx, detail);
        if let Err(e) = self.store.insert_audit(&event).await {
            tracing::error!(error = %e, action, "audit event not recorded");
        }
    }

    /// An event to be stored together with the change it records.
    pub(crate) fn audit_event(
        &self,
        tenant: Option<Uuid>,
        user: Option<Uuid>,
        action: &str,
        outcome: &str,
        ctx: &ClientContext,
        detail: Value,
    ) -> AuditEvent {
        AuditEvent {
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
        }
    }

    pub async fn list_audit(&self, tenant: &Tenant, mut filter: AuditFilter) -> CoreResult<Vec<AuditEvent>> {
        filter.limit = filter.limit.clamp(1, 1000);
        Ok(self.store.list_audit(tenant.id, &filter).await?)
    }
}
