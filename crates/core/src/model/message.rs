//! Outbound messages: persisted before sending, so a crash loses nothing.

use super::ids::TenantId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(Self::Email),
            "sms" => Some(Self::Sms),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundMessage {
    pub id: Uuid,
    pub tenant_id: Option<TenantId>,
    pub channel: Channel,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// `pending`, `sent`, `failed` (gave up).
    pub status: String,
    /// Which transport delivered it (`smtp`, `outbox`, …).
    pub transport: Option<String>,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}
