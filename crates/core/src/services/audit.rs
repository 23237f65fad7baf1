//! Audit events: recorded for every login attempt, token event, factor and admin change.
//!
//! An attempt at a credential (a password, a code, a refresh or link token, a client secret, an
//! API key) goes through an [`Attempt`]: whatever ends it — a refusal, a lost race, a storage
//! error, success — it leaves exactly one event, named by the endpoint's action.
//!
//! Events are written in group commits: a request queues its event and goes on; one writer at a
//! time takes everything queued and stores it in one transaction, so under load many events share
//! one commit instead of queueing one by one for the database's writer. A reader on this node
//! (the audit listing) first waits for what was queued before it asked.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::Notify;
use uuid::Uuid;

use super::ClientContext;
use crate::core::Core;
use crate::error::{CoreError, CoreResult};
use crate::model::audit::AuditFilter;
use crate::model::{AuditAction, AuditEvent, Tenant, new_id};
use crate::store::prelude::*;

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

/// One attempt at a credential, and what its event will say. The service fills it in as it
/// learns (tenant, user, why it was refused); [`Core::record_attempt`] writes the event at the end.
#[derive(Debug)]
pub(crate) struct Attempt {
    pub tenant: Option<Uuid>,
    pub user: Option<Uuid>,
    pub action: AuditAction,
    /// The application the event names, when the service learns it (else the caller's).
    pub application: Option<Uuid>,
    outcome: Option<&'static str>,
    reason: Option<&'static str>,
    detail: Map<String, Value>,
    written: bool,
}

impl Attempt {
    pub fn new(tenant: Option<Uuid>, action: AuditAction) -> Self {
        Self { tenant, user: None, action, application: None, outcome: None, reason: None, detail: Map::new(), written: false }
    }

    /// Ends the attempt as refused with `outcome` and a short `reason` (never a secret); returns `error`.
    pub fn refuse(&mut self, outcome: &'static str, reason: &'static str, error: CoreError) -> CoreError {
        self.outcome = Some(outcome);
        self.reason = Some(reason);
        error
    }

    /// The outcome of an attempt that ends well but is not a plain success (`mfa_required`, `queued`).
    pub fn outcome(&mut self, outcome: &'static str) {
        self.outcome = Some(outcome);
    }

    /// Adds a field to the event's details.
    pub fn note(&mut self, key: &str, value: impl Into<Value>) {
        self.detail.insert(key.to_string(), value.into());
    }

    /// The event was stored with the change it records (in the same transaction).
    pub fn written(&mut self) {
        self.written = true;
    }
}

/// The outcome an error stands for when the service named none.
fn outcome_of(e: &CoreError) -> &'static str {
    match e {
        CoreError::AccountLocked { .. } => "locked",
        CoreError::ChallengeExhausted => "exhausted",
        CoreError::OtpExpired => "expired",
        CoreError::RefreshTokenReused => "reused",
        CoreError::RateLimited { .. } => "rate_limited",
        CoreError::Overloaded => "overloaded",
        CoreError::EmailNotVerified => "email_not_verified",
        CoreError::WeakPassword(_) => "weak_password",
        CoreError::Storage(_) | CoreError::Internal(_) => "error",
        _ => "failure",
    }
}

impl Attempt {
    /// The outcome and details of the attempt's event, once it ended with `result`; `None` if
    /// the event was stored already.
    fn event_of<T>(mut self, result: &CoreResult<T>) -> Option<(&'static str, Value)> {
        if self.written {
            return None;
        }
        let outcome = match (self.outcome, result) {
            (Some(o), _) => o,
            (None, Ok(_)) => "success",
            (None, Err(e)) => outcome_of(e),
        };
        if let Err(e) = result
            && !self.detail.contains_key("reason")
        {
            let reason = match (self.reason, e) {
                (Some(r), _) => r.to_string(),
                // The cause of a server error goes to the log, not to the audit trail.
                (None, CoreError::Storage(_) | CoreError::Internal(_)) => "server error".to_string(),
                (None, e) => e.to_string(),
            };
            self.detail.insert("reason".into(), Value::String(reason));
        }
        Some((outcome, Value::Object(self.detail)))
    }
}

impl Core {
    /// Writes the one event of an attempt that ended with `result` (unless it was stored already).
    pub(crate) async fn record_attempt<T>(&self, attempt: Attempt, ctx: &ClientContext, result: &CoreResult<T>) {
        let (tenant, user, action, application) = (attempt.tenant, attempt.user, attempt.action, attempt.application);
        let Some((outcome, detail)) = attempt.event_of(result) else { return };
        let ctx = match application {
            Some(app) => &ClientContext { application_id: Some(app), ..ctx.clone() },
            None => ctx,
        };
        self.audit(tenant, user, action, outcome, ctx, detail).await;
    }

    /// Records an event. A failure to record is logged, never turned into a failed request.
    pub async fn audit(
        &self,
        tenant: Option<Uuid>,
        user: Option<Uuid>,
        action: AuditAction,
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
        action: AuditAction,
        outcome: &str,
        ctx: &ClientContext,
        detail: Value,
    ) -> AuditEvent {
        AuditEvent {
            id: new_id(),
            tenant_id: tenant,
            application_id: ctx.application_id,
            user_id: user,
            action: action.as_str().to_string(),
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

    /// Events that name no tenant: attempts whose token, code key or API key matched nothing.
    pub async fn list_unscoped_audit(&self, mut filter: AuditFilter) -> CoreResult<Vec<AuditEvent>> {
        filter.limit = filter.limit.clamp(1, 1000);
        self.audit_settled().await;
        Ok(self.store.list_unscoped_audit(&filter).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_says_its_outcome_and_why_never_more_than_once() {
        let ok: CoreResult<()> = Ok(());
        assert_eq!(Attempt::new(None, AuditAction::Refresh).event_of(&ok), Some(("success", serde_json::json!({}))));

        let mut queued = Attempt::new(None, AuditAction::OtpSent);
        queued.outcome("queued");
        queued.note("resend", true);
        assert_eq!(queued.event_of(&ok), Some(("queued", serde_json::json!({"resend": true}))));

        let mut refused = Attempt::new(None, AuditAction::Refresh);
        let error = refused.refuse("failure", "unknown token", CoreError::InvalidRefreshToken);
        assert_eq!(refused.event_of::<()>(&Err(error)), Some(("failure", serde_json::json!({"reason": "unknown token"}))));

        // Unnamed refusals take their outcome from the error; server errors keep their cause out.
        let locked: CoreResult<()> = Err(CoreError::AccountLocked { retry_after_seconds: 5 });
        assert_eq!(Attempt::new(None, AuditAction::LoginPassword).event_of(&locked).map(|e| e.0), Some("locked"));
        let broken: CoreResult<()> = Err(CoreError::Storage("disk I/O error at /var/lib/x".into()));
        assert_eq!(
            Attempt::new(None, AuditAction::LoginPassword).event_of(&broken),
            Some(("error", serde_json::json!({"reason": "server error"})))
        );

        let mut stored = Attempt::new(None, AuditAction::Refresh);
        stored.written();
        assert_eq!(stored.event_of(&ok), None);
    }
}
