//! Applications: the clients of Castellan inside a tenant.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplicationKind {
    Public,
    Confidential,
    Service,
}

impl ApplicationKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(Self::Public),
            "confidential" => Some(Self::Confidential),
            "service" => Some(Self::Service),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Confidential => "confidential",
            Self::Service => "service",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub client_id: String,
    pub name: String,
    pub kind: ApplicationKind,
    /// HMAC-SHA-256 of the client secret under the master key.
    #[serde(skip_serializing)]
    pub secret_hash: Option<Vec<u8>>,
    pub kumusoft_tag: Option<String>,
    pub mosip_app_id: Option<String>,
    pub roles: Vec<String>,
    pub allowed_ips: Vec<String>,
    pub callback_url: Option<String>,
    pub redirect_uris: Vec<String>,
    /// OTPs go through one channel per request (MOSIP's pre-registration rule).
    pub single_otp_channel: bool,
    pub active: bool,
    pub created_at: i64,
}
