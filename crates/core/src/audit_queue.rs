//! The audit events a node has queued for its writer: requests queue and are answered, one
//! writer stores everything queued in a single transaction (group commit).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use crate::model::AuditEvent;
use crate::store::prelude::*;

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
    pub(crate) fn push(&self, event: AuditEvent) -> usize {
        let Ok(mut pending) = self.pending.lock() else { return 0 };
        pending.push(event);
        // Counted under the lock, so `settled` never waits for an event the writer cannot see yet.
        self.queued.fetch_add(1, Ordering::AcqRel);
        pending.len()
    }

    pub(crate) fn take(&self) -> Vec<AuditEvent> {
        self.pending.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pending.lock().map(|p| p.is_empty()).unwrap_or(true)
    }

    /// Becomes the writer unless there is one.
    pub(crate) fn claim(&self) -> bool {
        self.flushing.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// Writes batches until nothing is queued. An event that cannot be written is logged: the
    /// request it recorded has already been answered.
    pub(crate) async fn drain(self: Arc<Self>, store: Arc<dyn Store>) {
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
