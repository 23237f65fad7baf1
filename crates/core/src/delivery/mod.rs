//! Outbound messages: queued in the store first, then delivered by a worker with retries, so a
//! crash or a dead mail server loses nothing.

pub mod smtp;
pub mod templates;
pub mod worker;

use async_trait::async_trait;
use uuid::Uuid;

use crate::core::Core;
use crate::error::CoreResult;
use crate::model::{Channel, OutboundMessage, new_id};

/// Something that delivers an email now, or says why it could not.
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// The transport's name, recorded on each message it sent (`smtp`, `outbox`).
    fn name(&self) -> &'static str;
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String>;
}

/// The development outbox: nothing leaves the machine; messages stay readable through
/// `castellan outbox` and, in development mode, `/dev/outbox`.
pub struct DevOutbox;

#[async_trait]
impl Mailer for DevOutbox {
    fn name(&self) -> &'static str {
        "outbox"
    }
    async fn send(&self, to: &str, subject: &str, _body: &str) -> Result<(), String> {
        tracing::info!(to, subject, "message kept in the development outbox");
        Ok(())
    }
}

impl Core {
    /// Queues a message for delivery and wakes the worker.
    pub async fn enqueue(&self, tenant: Option<Uuid>, channel: Channel, to: &str, subject: &str, body: &str) -> CoreResult<()> {
        let now = self.now();
        self.store
            .enqueue_message(&OutboundMessage {
                id: new_id(),
                tenant_id: tenant,
                channel,
                recipient: to.to_string(),
                subject: subject.to_string(),
                body: body.to_string(),
                status: "pending".into(),
                transport: None,
                attempts: 0,
                next_attempt_at: now,
                last_error: None,
                created_at: now,
                sent_at: None,
            })
            .await?;
        self.outbox_ready.notify_one();
        Ok(())
    }

    /// Messages delivered through the development outbox, newest first.
    pub async fn dev_outbox(&self, to: Option<&str>, limit: u32) -> CoreResult<Vec<OutboundMessage>> {
        Ok(self.store.list_messages(to, Some("outbox"), limit.clamp(1, 1000)).await?)
    }
}
