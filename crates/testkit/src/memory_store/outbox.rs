//! Messages waiting for delivery.

use super::*;
use castellan_core::store::OutboxStore;

impl State {
    fn message_mut(&mut self, id: Uuid) -> Option<&mut MessageRow> {
        self.outbox.iter_mut().find(|m| m.message.id == id)
    }
}

#[async_trait]
impl OutboxStore for MemoryStore {
    async fn enqueue_message(&self, m: &OutboundMessage) -> StoreResult<()> {
        texts([Some(m.recipient.as_str()), Some(&m.subject), Some(&m.body), Some(&m.status), m.transport.as_deref()])?;
        let mut s = self.state();
        unique(&[(s.outbox.iter().any(|x| x.message.id == m.id), ConflictOn::Other)])?;
        s.outbox.push(MessageRow { message: m.clone(), lease_until: None });
        Ok(())
    }

    async fn claim_messages(&self, now: i64, lease_seconds: i64, limit: u32) -> StoreResult<Vec<OutboundMessage>> {
        let mut s = self.state();
        let mut due: Vec<&mut MessageRow> = s
            .outbox
            .iter_mut()
            .filter(|m| {
                m.message.status == "pending" && m.message.next_attempt_at <= now && m.lease_until.is_none_or(|l| l <= now)
            })
            .collect();
        due.sort_by_key(|m| m.message.next_attempt_at);
        Ok(due
            .into_iter()
            .take(limit as usize)
            .map(|m| {
                m.lease_until = Some(now + lease_seconds);
                m.message.attempts = m.message.attempts.saturating_add(1);
                m.message.clone()
            })
            .collect())
    }

    async fn mark_message_sent(&self, id: Uuid, transport: &str, now: i64) -> StoreResult<()> {
        text(transport)?;
        if let Some(m) = self.state().message_mut(id) {
            m.message.status = "sent".into();
            m.message.transport = Some(transport.to_string());
            m.message.sent_at = Some(now);
            m.lease_until = None;
        }
        Ok(())
    }

    async fn mark_message_failed(&self, id: Uuid, error: &str, retry_at: Option<i64>) -> StoreResult<()> {
        text(error)?;
        if let Some(m) = self.state().message_mut(id) {
            m.message.status = if retry_at.is_some() { "pending" } else { "failed" }.into();
            m.message.next_attempt_at = retry_at.unwrap_or(m.message.next_attempt_at);
            m.message.last_error = Some(error.to_string());
            m.lease_until = None;
        }
        Ok(())
    }

    async fn list_messages(&self, to: Option<&str>, transport: Option<&str>, limit: u32) -> StoreResult<Vec<OutboundMessage>> {
        texts([to, transport])?;
        let s = self.state();
        let mut listed: Vec<OutboundMessage> = s
            .outbox
            .iter()
            .map(|m| &m.message)
            .filter(|m| to.is_none_or(|to| m.recipient == to))
            .filter(|m| transport.is_none() || m.transport.as_deref() == transport)
            .cloned()
            .collect();
        listed.sort_by_key(|x| std::cmp::Reverse((x.created_at, x.id)));
        listed.truncate(limit as usize);
        Ok(listed)
    }
}
