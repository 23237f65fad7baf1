//! Audit events: recorded for every login attempt, token event, factor and admin change.
//!
//! Events are written in group commits: a request queues its event and goes on; one writer at a
//! time takes everything queued and stores it in one transaction, so under load many events share
//! one commit instead of queueing one by one for the database's writer. A reader on this node
//! (the audit listing) first waits for what was queued before it asked.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;
use uuid::Uuid;

use super::ClientContext;
use crate::core::Core;
use crate::error::CoreResult;
use crate::model::audit::AuditFilter;
use crate::model::{AuditEvent, Tenant, new_id};
use crate::store::Store;

/// Past this many waiting events, a request waits for the writer before it is answered.
const MAX_QUEUED_EVENTS: usize = 10_000;

/// Events waiting for the writer, and how far it has come.
#[derive(Default)]
pub struct AuditQueue {
    pending: std::sync::Mutex<Vec<AuditEvent>>,
    flushing: AtomicBool,
    queued: AtomicU64,
    written: AtomicU64,
    progress: Notify,
}

impl AuditQueue {
    /// Queues an event; returns how many are waiting.
    fn push(&self, event: AuditEvent) -> usize {
        let Ok(mut pending) = self.pending.lock() else { return 0 };
        pending.push(event);
        // Counted under the lock, so `settled` never waits for an event the writer cannot see yet.
        self.queued.fetch_add(1, Ordering::AcqRel);
        pending.len()
    }

    fn take(&self) -> Vec<AuditEvent> {
        self.pending.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default()
    }

    fn is_empty(&self) -> bool {
        self.pending.lock().map(|p| p.is_empty()).unwrap_or(true)
    }

    /// Becomes the writer unless there is one.
    fn claim(&self) -> bool {
        self.flushing.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// Writes batches until nothing is queued. An event that cannot be written is logged: the
    /// request it recorded has already been answered.
    async fn drain(self: Arc<Self>, store: Arc<dyn Store>) {
        loop {
            let batch = self.take();
            if batch.is_empty() {
                self.flushing.store(false, Ordering::Release);
                // An event queued after the take, whose sender still saw a writer at work.
                if self.is_empty() || !self.claim() {
                    return;
                }
                continue;
            }
            if let Err(e) = store.insert_audit_batch(&batch).await {
                // One bad event must not take the others with it.
                tracing::warn!(error = %e, events = batch.len(), "audit batch refused; writing its events one by one");
                for event in &batch {
                    if let Err(e) = store.insert_audit(event).await {
                        tracing::error!(error = %e, action = %event.action, "audit event not recorded");
                    }
                }
            }
            self.written.fetch_add(batch.len() as u64, Ordering::AcqRel);
            self.progress.notify_waiters();
        }
    }

    /// Waits (at most a few seconds) until every event queued before the call is stored.
    pub async fn settled(&self) {
        let target = self.queued.load(Ordering::Acquire);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let notified = self.progress.notified();
            if self.written.load(Ordering::Acquire) >= target {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                tracing::warn!("audit writer did not catch up within 5 s");
                return;
            }
        }
    }
}

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
        let waiting = self.audit_queue.push(event);
        if self.audit_queue.claim() {
            tokio::spawn(self.audit_queue.clone().drain(self.store.clone()));
        }
        if waiting > MAX_QUEUED_EVENTS {
            // The database is falling behind: requests wait for it rather than memory growing.
            self.audit_settled().await;
        }
    }

    /// Waits until the events recorded so far are stored (before reading them back, or exiting).
    pub async fn audit_settled(&self) {
        self.audit_queue.settled().await;
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
        crate::model::text::check_opt("action", filter.action.as_deref())?;
        self.audit_settled().await;
        Ok(self.store.list_audit(tenant.id, &filter).await?)
    }
}
