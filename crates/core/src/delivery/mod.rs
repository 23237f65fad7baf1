//! Outbound messages: queued in the store first, then delivered by a worker with retries, so a
//! crash or a dead mail server loses nothing.

pub mod callback_client;
pub mod callbacks;
pub mod dev_receiver;
pub mod sms;
pub mod smtp;
mod stats;
pub mod templates;
pub mod worker;

pub use stats::DeliveryStats;

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use crate::core::Core;
use crate::error::CoreResult;
use crate::model::TenantId;
use crate::model::{Channel, OutboundMessage, new_id};

/// Something that delivers an email now, or says why it could not.
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// The transport's name, recorded on each message it sent (`smtp`, `outbox`).
    fn name(&self) -> &'static str;
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String>;
}

/// Something that delivers a text message now, or says why it could not.
#[async_trait]
pub trait SmsSender: Send + Sync + 'static {
    /// The transport's name, recorded on each message it sent (`twilio`, `outbox`, …).
    fn name(&self) -> &'static str;
    /// `id` is the outbox message id, for providers that take a reference.
    async fn send(&self, to: &str, body: &str, id: &str) -> Result<(), String>;
}

/// The transports the delivery worker sends through.
#[derive(Clone)]
pub struct Transports {
    pub mail: Arc<dyn Mailer>,
    pub sms: Arc<dyn SmsSender>,
}

impl Transports {
    /// Everything kept in the development outbox.
    pub fn dev_outbox() -> Self {
        Transports { mail: Arc::new(DevOutbox), sms: Arc::new(DevOutbox) }
    }
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

#[async_trait]
impl SmsSender for DevOutbox {
    fn name(&self) -> &'static str {
        "outbox"
    }
    async fn send(&self, to: &str, _body: &str, _id: &str) -> Result<(), String> {
        tracing::info!(to, "text message kept in the development outbox");
        Ok(())
    }
}

impl Core {
    /// Queues a message for delivery and wakes the worker; returns its id.
    pub async fn enqueue(
        &self,
        tenant: Option<TenantId>,
        channel: Channel,
        to: &str,
        subject: &str,
        body: &str,
    ) -> CoreResult<Uuid> {
        let now = self.now();
        let id = new_id();
        self.store
            .enqueue_message(&OutboundMessage {
                id,
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
        Ok(id)
    }

    /// Messages delivered through the development outbox, newest first.
    pub async fn dev_outbox(&self, to: Option<&str>, limit: u32) -> CoreResult<Vec<OutboundMessage>> {
        crate::model::text::check_opt("to", to)?;
        Ok(self.store.list_messages(to, Some("outbox"), limit.clamp(1, 1000)).await?)
    }
}
