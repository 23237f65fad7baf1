//! Messages waiting for delivery.

use async_trait::async_trait;
use uuid::Uuid;

use super::*;

#[async_trait]
pub trait OutboxStore: Send + Sync {
    async fn enqueue_message(&self, m: &OutboundMessage) -> StoreResult<()>;
    /// Leases up to `limit` due messages for `lease_seconds`; no two callers get the same message.
    async fn claim_messages(&self, now: i64, lease_seconds: i64, limit: u32) -> StoreResult<Vec<OutboundMessage>>;
    async fn mark_message_sent(&self, id: Uuid, transport: &str, now: i64) -> StoreResult<()>;
    async fn mark_message_failed(&self, id: Uuid, error: &str, retry_at: Option<i64>) -> StoreResult<()>;
    async fn list_messages(&self, to: Option<&str>, transport: Option<&str>, limit: u32) -> StoreResult<Vec<OutboundMessage>>;
}
