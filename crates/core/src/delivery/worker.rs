//! The delivery worker: leases due messages, sends them, retries with exponential back-off and
//! gives up (visibly, in the audit log) after a bounded number of attempts.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;

use super::Transports;
use super::stats::Outcome;
use crate::core::Core;
use crate::model::AuditAction;
use crate::model::{Channel, OutboundMessage};
use crate::services::ClientContext;

const MAX_ATTEMPTS: u32 = 8;
/// A claimed message is this node's for so long; an attempt (bounded by the delivery timeout,
/// at most 50 s) ends well before another node may take it.
const LEASE_SECONDS: i64 = 60;
const BATCH: u32 = 16;
/// Messages being handed over at once, at most.
const IN_FLIGHT: usize = 64;

/// Seconds to wait before attempt `n + 1` after `n` failures: 5 s, 10 s, 20 s … capped at 1 h.
pub fn backoff(failures: u32) -> i64 {
    (5i64 << failures.saturating_sub(1).min(10)).min(3600)
}

/// Runs until `shutdown` turns true, then lets the attempts under way end. Messages are sent side
/// by side, each attempt bounded by the delivery timeout, and new ones are claimed while others
/// are still being handed over: a mail server that accepts and never answers holds up no text
/// message and no other mail.
pub async fn run(core: Arc<Core>, transports: Transports, mut shutdown: watch::Receiver<bool>) {
    let mut sending = tokio::task::JoinSet::new();
    loop {
        while sending.try_join_next().is_some() {}
        if *shutdown.borrow() {
            while sending.join_next().await.is_some() {}
            return;
        }
        let room = IN_FLIGHT.saturating_sub(sending.len()).min(BATCH as usize) as u32;
        let mut full = false;
        if room > 0 {
            match core.store.claim_messages(core.now(), LEASE_SECONDS, room).await {
                Ok(batch) => {
                    full = batch.len() as u32 == room;
                    for m in batch {
                        let (core, transports) = (core.clone(), transports.clone());
                        sending.spawn(async move { deliver(&core, &transports, m).await });
                    }
                }
                Err(e) => tracing::error!(error = %e, "outbox: cannot claim messages"),
            }
        }
        if full {
            continue;
        }
        tokio::select! {
            _ = core.outbox_ready.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => {}
            Some(_) = sending.join_next(), if !sending.is_empty() => {}
        }
    }
}

async fn deliver(core: &Core, transports: &Transports, m: OutboundMessage) {
    let limit = core.config.delivery_timeout;
    let timed_out = || format!("no answer within {} s", limit.as_secs());
    let (result, transport) = match m.channel {
        Channel::Email => {
            let sent = tokio::time::timeout(limit, transports.mail.send(&m.recipient, &m.subject, &m.body)).await;
            (sent.unwrap_or_else(|_| Err(timed_out())), transports.mail.name())
        }
        Channel::Sms => {
            let sent = tokio::time::timeout(limit, transports.sms.send(&m.recipient, &m.body, &m.id.to_string())).await;
            (sent.unwrap_or_else(|_| Err(timed_out())), transports.sms.name())
        }
    };
    let outcome = match result {
        Ok(()) => {
            core.delivery_stats.record(m.channel, Outcome::Sent);
            core.store.mark_message_sent(m.id, transport, core.now()).await
        }
        Err(error) => {
            tracing::warn!(id = %m.id, attempts = m.attempts, %error, "outbox: delivery failed");
            // `attempts` already counts this one (the claim increments it).
            let retry_at = (m.attempts < MAX_ATTEMPTS).then(|| core.now() + backoff(m.attempts));
            core.delivery_stats.record(m.channel, if retry_at.is_some() { Outcome::Retrying } else { Outcome::GaveUp });
            // Every failure is in the audit log, so an operator sees a provider outage before the
            // last retry gives up.
            core.audit(
                m.tenant_id,
                None,
                AuditAction::MessageFailed,
                if retry_at.is_some() { "retrying" } else { "gave_up" },
                &ClientContext::default(),
                json!({"message": m.id, "channel": m.channel.as_str(), "transport": transport, "attempt": m.attempts, "error": error}),
            )
            .await;
            core.store.mark_message_failed(m.id, &error, retry_at).await
        }
    };
    if let Err(e) = outcome {
        tracing::error!(error = %e, id = %m.id, "outbox: cannot record delivery outcome");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_from_five_seconds_up_to_an_hour() {
        assert_eq!([1, 2, 3, 4].map(super::backoff), [5, 10, 20, 40]);
        assert_eq!(super::backoff(30), 3600);
    }
}
