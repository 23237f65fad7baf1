//! Calls to an application's backend, stored first, then delivered by a worker that retries with
//! back-off until a 2xx or the window closes: hosted verification results (30 s by default),
//! each request signed with `X-Castellan-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
//! t "." query)>`, and OpenID Connect back-channel logouts (10 minutes), whose logout token is
//! itself signed.
//!
//! The store row outlives the process: a restart during the retries resumes them once the lease
//! of the try in flight runs out. Times here are the core clock's milliseconds (the schedule is in
//! fractions of a second), and back-offs wait on that clock, so a test's fake clock runs them
//! without real waiting.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use serde_json::json;
use tokio::sync::watch;
use uuid::Uuid;

use super::callback_client::TRY_TIMEOUT_MS;
use crate::core::Core;
use crate::error::{CoreError, CoreResult};
use crate::model::AuditAction;
use crate::model::TenantId;
use crate::model::{Callback, CallbackKind, CallbackStatus, VerificationStatus, new_id};
use crate::services::ClientContext;
use crate::services::hosted_2fa::OpenVerification;

/// A try not finished by then is presumed lost with its node, and tried again.
const LEASE_MS: i64 = 10_000;
const BATCH: u32 = 32;
pub const SIGNATURE_HEADER: &str = "X-Castellan-Signature";

/// Milliseconds before the try after `tries` failed ones: 250, 500, 1000 … at most 8 s.
pub fn backoff_ms(tries: u32) -> i64 {
    (250i64 << tries.saturating_sub(1).min(5)).min(8_000)
}

/// `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<query>")>`
pub fn signature(secret: &[u8], t: i64, query: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, format!("{t}.{query}").as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

/// Whether `header` is the signature of `query` under `secret`, for the time it names: exactly
/// what [`signature`] writes, compared in constant time. Whether the time is recent is the
/// receiver's to judge.
pub fn signature_matches(secret: &[u8], query: &str, header: &str) -> bool {
    let Some((t, _)) = header.split_once(',') else { return false };
    let Some(t) = t.strip_prefix("t=").and_then(|t| t.parse::<i64>().ok()) else { return false };
    crate::crypto::ct_eq(signature(secret, t, query).as_bytes(), header.as_bytes())
}

impl Core {
    /// Stores the result callback of a verification (none if the application has no callback
    /// URL) and wakes the worker.
    pub(crate) async fn queue_result_callback(&self, open: &OpenVerification, result: bool) -> CoreResult<()> {
        let Some(url) = open.app.callback_url.as_deref() else {
            // No backend to tell: a verified user is done.
            if result {
                let v = &open.verification;
                self.store
                    .move_verification(
                        v.tenant_id,
                        v.id,
                        VerificationStatus::Verified,
                        VerificationStatus::Succeeded,
                        None,
                        self.now(),
                    )
                    .await?;
            }
            return Ok(());
        };
        let (base, existing) = match url.split_once('?') {
            Some((b, q)) => (b.to_string(), Some(q)),
            None => (url.to_string(), None),
        };
        // The session token is not stored; the callback carries the one the page was given.
        let token = open.token.as_deref().ok_or(CoreError::Internal("verification opened without its token".into()))?;
        let ours = format!("result={result}&session_token={token}");
        let query = match existing.filter(|q| !q.is_empty()) {
            Some(q) => format!("{q}&{ours}"),
            None => ours,
        };
        let now = self.clock.now_ms();
        let cb = Callback {
            id: new_id(),
            tenant_id: open.tenant.id,
            application_id: open.app.id,
            kind: CallbackKind::Result,
            verification_id: open.verification.id,
            url: base,
            query,
            status: CallbackStatus::Pending,
            tries: 0,
            next_attempt_ms: now,
            deadline_ms: now + self.config.callback_window.as_millis() as i64,
            last_status: None,
            last_error: None,
            created_at: self.now(),
            finished_at: None,
        };
        self.store.insert_callback(&cb).await?;
        self.callbacks_ready.notify_one();
        Ok(())
    }

    /// Waits for the verification's callback to be delivered or given up, at most `limit`;
    /// `None` if there is no callback, its status otherwise (still `Pending` after `limit`).
    pub async fn await_callback(
        &self,
        tenant: TenantId,
        verification: Uuid,
        limit: Duration,
    ) -> CoreResult<Option<CallbackStatus>> {
        let until = tokio::time::Instant::now() + limit;
        loop {
            // Registered before the read, so a settlement between the two is not missed.
            let settled = self.callbacks_settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            let Some(cb) = self.store.callback_of(tenant, verification).await? else { return Ok(None) };
            if cb.status != CallbackStatus::Pending || tokio::time::Instant::now() >= until {
                return Ok(Some(cb.status));
            }
            // Another node's worker may settle it: look again now and then.
            tokio::select! {
                _ = settled => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = tokio::time::sleep_until(until) => {}
            }
        }
    }
}

/// Runs until `shutdown` turns true.
pub async fn run(core: Arc<Core>, mut shutdown: watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let now = core.clock.now_ms();
        match core.store.claim_callbacks(now, now + LEASE_MS, BATCH).await {
            Ok(batch) => {
                for cb in batch {
                    let core = core.clone();
                    // Each try on its own task: one slow receiver holds up no one else.
                    tokio::spawn(async move { attempt(&core, cb).await });
                }
            }
            Err(e) => tracing::error!(error = %e, "callbacks: cannot claim"),
        }
        tokio::select! {
            _ = core.callbacks_ready.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Refuses a URL whose host is a literal non-public address (names are checked by the resolver).
fn literal_host_refused(url: &reqwest::Url) -> bool {
    let ip = match url.host() {
        Some(url::Host::Ipv4(a)) => IpAddr::V4(a),
        Some(url::Host::Ipv6(a)) => IpAddr::V6(a),
        _ => return false,
    };
    !crate::net::is_public(ip)
}

async fn attempt(core: &Core, cb: Callback) {
    let started = core.clock.now_ms();
    // `settled`: no later try can go otherwise (a URL this server refuses to call).
    let (delivered, settled, status, error) = if started > cb.deadline_ms {
        (false, true, None, Some("window closed".to_string()))
    } else {
        match send(core, &cb, started).await {
            Ok(s) if (200..300).contains(&s) => (true, true, Some(s), None),
            Ok(s) => (false, false, Some(s), None),
            Err(SendError::Refused(e)) => (false, true, None, Some(e)),
            Err(SendError::Failed(e)) => (false, false, None, Some(e)),
        }
    };
    let now = core.clock.now_ms();
    let next = now + backoff_ms(cb.tries);
    let outcome = if delivered {
        CallbackStatus::Delivered
    } else if !settled && next < cb.deadline_ms {
        CallbackStatus::Pending
    } else {
        CallbackStatus::Failed
    };
    if outcome != CallbackStatus::Pending && cb.kind == CallbackKind::Result {
        // The verification moves first: whoever sees the callback settled (the page waiting for
        // it, or the page opened again) then reads the verification's final state.
        finish(core, &cb, outcome, status, error.as_deref()).await;
    }
    if let Err(e) = core.store.record_callback_try(cb.id, outcome, next, status, error.as_deref(), core.now()).await {
        tracing::error!(error = %e, id = %cb.id, "callbacks: cannot record a try");
        return;
    }
    if outcome == CallbackStatus::Pending {
        tracing::warn!(id = %cb.id, url = redacted(&cb.url), tries = cb.tries, ?status, ?error, "callback failed; retrying");
        let wait = Duration::from_millis((next - now).max(0) as u64);
        let ready = core.callbacks_ready.clone();
        let sleep = core.clock.sleep(wait);
        tokio::spawn(async move {
            sleep.await;
            ready.notify_one();
        });
    }
    if outcome == CallbackStatus::Failed && cb.kind == CallbackKind::Logout {
        tracing::error!(id = %cb.id, url = redacted(&cb.url), tries = cb.tries, ?status, ?error, "back-channel logout given up");
    }
    let ctx = ClientContext { application_id: Some(cb.application_id), ..ClientContext::default() };
    let result = match outcome {
        CallbackStatus::Delivered => "delivered",
        CallbackStatus::Pending => "retrying",
        CallbackStatus::Failed => "failed",
    };
    let (action, detail) = match cb.kind {
        CallbackKind::Result => (
            AuditAction::HostedCallback,
            json!({"verification": cb.verification_id, "try": cb.tries, "status": status, "error": error}),
        ),
        CallbackKind::Logout => {
            (AuditAction::BackchannelLogout, json!({"delivery": cb.id, "try": cb.tries, "status": status, "error": error}))
        }
    };
    core.audit(Some(cb.tenant_id), None, action, result, &ctx, detail).await;
    core.callbacks_settled.notify_waiters();
}

/// A settled callback settles its verification: delivered → succeeded, failed → failed (only
/// for a verified one: a rejection stays a rejection whatever the receiver said).
async fn finish(core: &Core, cb: &Callback, outcome: CallbackStatus, status: Option<u16>, error: Option<&str>) {
    let to = if outcome == CallbackStatus::Delivered { VerificationStatus::Succeeded } else { VerificationStatus::Failed };
    if let Err(e) =
        core.store.move_verification(cb.tenant_id, cb.verification_id, VerificationStatus::Verified, to, None, core.now()).await
    {
        tracing::error!(error = %e, id = %cb.id, "callbacks: cannot settle the verification");
    }
    if outcome == CallbackStatus::Failed {
        tracing::error!(id = %cb.id, url = redacted(&cb.url), tries = cb.tries, ?status, ?error, "callback given up");
    }
}

/// Why a try did not reach the receiver.
enum SendError {
    /// This server will not make the call (a refused URL, an application gone): retrying
    /// cannot help, so the verification fails at once.
    Refused(String),
    /// The call went wrong (network, storage): worth another try.
    Failed(String),
}

async fn send(core: &Core, cb: &Callback, now: i64) -> Result<u16, SendError> {
    let app = core
        .store
        .application_by_id(cb.tenant_id, cb.application_id)
        .await
        .map_err(|e| SendError::Failed(e.to_string()))?
        .ok_or(SendError::Refused("application gone".into()))?;
    if cb.kind == CallbackKind::Logout {
        return send_logout(core, cb, now).await;
    }
    let secret = core
        .hosted_apps()
        .callback_secret(&app)
        .await
        .map_err(|e| SendError::Refused(format!("no callback secret: {}", crate::error::Chain(&e))))?;
    let url = reqwest::Url::parse(&format!("{}?{}", cb.url, cb.query))
        .map_err(|_| SendError::Refused("callback URL unreadable".into()))?;
    if !core.config.allow_private_callbacks && (url.scheme() != "https" || literal_host_refused(&url)) {
        return Err(SendError::Refused(
            "callback URL refused: not https to a public address (allow_private_callbacks is off; development mode \
             turns it on)"
                .into(),
        ));
    }
    let remaining = (cb.deadline_ms - now).clamp(250, TRY_TIMEOUT_MS);
    let response = core
        .callback_client
        .get(url)
        .header(SIGNATURE_HEADER, signature(&secret, now / 1000, &cb.query))
        .timeout(Duration::from_millis(remaining as u64))
        .send()
        .await
        .map_err(|e| SendError::Failed(cause(&e)))?;
    Ok(response.status().as_u16())
}

/// POSTs a logout token (`application/x-www-form-urlencoded`, `logout_token=…`) to the client's
/// back-channel logout URI.
async fn send_logout(core: &Core, cb: &Callback, now: i64) -> Result<u16, SendError> {
    let url = reqwest::Url::parse(&cb.url).map_err(|_| SendError::Refused("logout URI unreadable".into()))?;
    if !core.config.allow_private_callbacks && (url.scheme() != "https" || literal_host_refused(&url)) {
        return Err(SendError::Refused(
            "logout URI refused: not https to a public address (allow_private_callbacks is off)".into(),
        ));
    }
    let token = core.logout_token(cb).await.map_err(|e| SendError::Failed(crate::error::Chain(&e).to_string()))?;
    let body = url::form_urlencoded::Serializer::new(String::new()).append_pair("logout_token", &token).finish();
    let remaining = (cb.deadline_ms - now).clamp(250, TRY_TIMEOUT_MS);
    let response = core
        .callback_client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .timeout(Duration::from_millis(remaining as u64))
        .send()
        .await
        .map_err(|e| SendError::Failed(cause(&e)))?;
    Ok(response.status().as_u16())
}

/// Why a try failed, in words an operator can act on: the kind (timeout, connect, TLS, DNS) and
/// the innermost cause. Never the URL: its query carries the session token.
fn cause(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut innermost: Option<String> = None;
    let mut source = e.source();
    while let Some(s) = source {
        innermost = Some(s.to_string());
        source = s.source();
    }
    let detail = innermost.unwrap_or_default();
    let lower = detail.to_ascii_lowercase();
    let kind = if e.is_timeout() {
        "timeout"
    } else if lower.contains("dns") || lower.contains("lookup") || lower.contains("resolve") {
        "dns"
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        "tls"
    } else if e.is_connect() {
        "connect"
    } else if e.is_redirect() {
        "redirect"
    } else {
        "request"
    };
    // An inner error could still quote the URL (with its query); cut anything after a '?'.
    let detail = detail.split('?').next().unwrap_or_default().trim().to_string();
    if detail.is_empty() { kind.to_string() } else { format!("{kind}: {detail}") }
}

/// The callback URL without its query, for logs.
fn redacted(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_eight_seconds() {
        assert_eq!([1, 2, 3, 4, 5, 6, 7, 20].map(backoff_ms), [250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
    }

    #[test]
    fn signature_is_hmac_sha256_of_time_dot_query() {
        // RFC 4231 test case 2 key/data, rearranged as t "." query: checks the layout only.
        let s = signature(b"key", 1700000000, "result=true&session_token=abc");
        assert!(s.starts_with("t=1700000000,v1="));
        assert_eq!(s.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(s, signature(b"key", 1700000001, "result=true&session_token=abc"));
        assert_ne!(s, signature(b"other", 1700000000, "result=true&session_token=abc"));
    }
}
