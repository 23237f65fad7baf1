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

use serde_json::{Map, Value};

use super::ClientContext;
use crate::core::Core;
use crate::error::{CoreError, CoreResult};
use crate::model::audit::AuditFilter;
use crate::model::{AppId, TenantId, UserId};
use crate::model::{AuditAction, AuditEvent, Tenant, new_id};

/// Past this many waiting events, a request waits for the writer before it is answered.
const MAX_QUEUED_EVENTS: usize = 10_000;

/// One attempt at a credential, and what its event will say. The service fills it in as it
/// learns (tenant, user, why it was refused); [`Core::record_attempt`] writes the event at the end.
#[derive(Debug)]
pub(crate) struct Attempt {
    pub tenant: Option<TenantId>,
    pub user: Option<UserId>,
    pub action: AuditAction,
    /// The application the event names, when the service learns it (else the caller's).
    pub application: Option<AppId>,
    outcome: Option<&'static str>,
    reason: Option<&'static str>,
    detail: Map<String, Value>,
    written: bool,
}

impl Attempt {
    pub fn new(tenant: Option<TenantId>, action: AuditAction) -> Self {
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

    /// The event `record_attempt` would write for the attempt if it ended well now, for a write
    /// that stores it with its change (the caller then marks the attempt `written`).
    pub(crate) fn success_event(&self, attempt: &Attempt, ctx: &ClientContext) -> AuditEvent {
        let ctx = ClientContext { application_id: attempt.application.or(ctx.application_id), ..ctx.clone() };
        let outcome = attempt.outcome.unwrap_or("success");
        let detail = Value::Object(attempt.detail.clone());
        self.audit_event(attempt.tenant, attempt.user, attempt.action, outcome, &ctx, detail)
    }

    /// Records an event. A failure to record is logged, never turned into a failed request.
    pub async fn audit(
        &self,
        tenant: Option<TenantId>,
        user: Option<UserId>,
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
        tenant: Option<TenantId>,
        user: Option<UserId>,
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
