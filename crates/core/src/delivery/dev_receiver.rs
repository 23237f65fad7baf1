//! The development callback receiver: in development mode Castellan answers its own result
//! callbacks, so that the hosted 2FA walk-through completes without a second program. It checks
//! the signature as a real backend would and keeps what it got in the development outbox.

use serde_json::json;

use super::callbacks::signature_matches;
use crate::core::Core;
use crate::error::{CoreError, CoreResult};
use crate::model::{Channel, OutboundMessage, new_id};

/// The outbox recipient under which received callbacks are listed.
pub const RECIPIENT: &str = "callback-receiver";

/// What the receiver made of a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedCallback {
    pub result: Option<String>,
    pub signature_valid: bool,
}

fn query_value<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').filter_map(|pair| pair.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v)
}

impl Core {
    /// Checks a callback's `X-Castellan-Signature` against the callback secret of the
    /// application its session token names, and records it. `InvalidToken`: the query names no
    /// session token of this server.
    pub async fn receive_dev_callback(&self, query: &str, signature_header: Option<&str>) -> CoreResult<ReceivedCallback> {
        let token = query_value(query, "session_token").ok_or(CoreError::InvalidToken)?;
        let open = self.hosted().open_verification(token).await?;
        let secret = self.hosted_apps().callback_secret(&open.app).await?;
        let signature_valid = signature_header.is_some_and(|h| signature_matches(&secret, query, h));
        let result = query_value(query, "result").map(str::to_string);
        let now = self.now();
        let verdict = if signature_valid { "valid" } else { "INVALID" };
        self.store
            .enqueue_message(&OutboundMessage {
                id: new_id(),
                tenant_id: Some(open.tenant.id),
                channel: Channel::Email,
                recipient: RECIPIENT.to_string(),
                subject: format!(
                    "callback for {}: result={}, signature {verdict}",
                    open.app.name,
                    result.as_deref().unwrap_or("?")
                ),
                body: json!({"query": query, "signature": signature_header, "signature_valid": signature_valid}).to_string(),
                status: "sent".into(),
                transport: Some("outbox".into()),
                attempts: 1,
                next_attempt_at: now,
                last_error: None,
                created_at: now,
                sent_at: Some(now),
            })
            .await?;
        Ok(ReceivedCallback { result, signature_valid })
    }
}

#[cfg(test)]
mod tests {
    use super::query_value;

    #[test]
    fn query_values_are_found_by_exact_name() {
        let q = "result=true&session_token=abc.def.ghi";
        assert_eq!(query_value(q, "session_token"), Some("abc.def.ghi"));
        assert_eq!(query_value(q, "result"), Some("true"));
        assert_eq!(query_value(q, "token"), None);
    }
}
