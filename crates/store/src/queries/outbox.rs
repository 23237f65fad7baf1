//! Messages waiting for delivery.

use super::*;

#[async_trait]
impl OutboxStore for SqlStore {
    async fn enqueue_message(&self, m: &OutboundMessage) -> StoreResult<()> {
        let sql = format!("INSERT INTO outbox ({MESSAGE_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)");
        execute!(
            self,
            sql,
            m.id.to_string(),
            m.tenant_id.map(|t| t.to_string()),
            m.channel.as_str(),
            &m.recipient,
            &m.subject,
            &m.body,
            &m.status,
            m.transport.clone(),
            i64::from(m.attempts),
            m.next_attempt_at,
            m.last_error.clone(),
            m.created_at,
            m.sent_at
        )
        .map(|_| ())
    }

    async fn claim_messages(&self, now: i64, lease_seconds: i64, limit: u32) -> StoreResult<Vec<OutboundMessage>> {
        // The outer WHERE repeats the conditions so that PostgreSQL re-checks them on the locked
        // row: of two nodes that picked the same id, only one updates it.
        let sql = format!(
            "UPDATE outbox SET lease_until=$2, attempts=attempts+1 WHERE id IN (SELECT id FROM outbox WHERE status='pending' \
             AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) ORDER BY next_attempt_at LIMIT $3) \
             AND status='pending' AND (lease_until IS NULL OR lease_until <= $1) RETURNING {MESSAGE_COLS}"
        );
        fetch_all!(self, MessageRow, sql, now, now + lease_seconds, i64::from(limit))
    }

    async fn mark_message_sent(&self, id: Uuid, transport: &str, now: i64) -> StoreResult<()> {
        execute!(
            self,
            "UPDATE outbox SET status='sent', transport=$2, sent_at=$3, lease_until=NULL WHERE id=$1",
            id.to_string(),
            transport,
            now
        )
        .map(|_| ())
    }

    async fn mark_message_failed(&self, id: Uuid, error: &str, retry_at: Option<i64>) -> StoreResult<()> {
        let sql = "UPDATE outbox SET status = CASE WHEN $3 IS NULL THEN 'failed' ELSE 'pending' END, \
                   next_attempt_at = COALESCE($3, next_attempt_at), last_error=$2, lease_until=NULL WHERE id=$1";
        execute!(self, sql, id.to_string(), error, retry_at).map(|_| ())
    }

    async fn list_messages(&self, to: Option<&str>, transport: Option<&str>, limit: u32) -> StoreResult<Vec<OutboundMessage>> {
        let sql = format!(
            "SELECT {MESSAGE_COLS} FROM outbox WHERE ($1 IS NULL OR recipient=$1) AND ($2 IS NULL OR transport=$2) \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        fetch_all!(self, MessageRow, sql, to, transport, i64::from(limit))
    }
}
