//! Signing keys: per tenant, private material sealed with the master key.

use super::ids::TenantId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyAlg {
    HS256,
    RS256,
    ES256,
    EdDSA,
}

impl KeyAlg {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "HS256" => Self::HS256,
            "RS256" => Self::RS256,
            "ES256" => Self::ES256,
            "EdDSA" => Self::EdDSA,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    Active,
    Retiring,
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Retiring => "retiring",
            Self::Retired => "retired",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => Self::Active,
            "retiring" => Self::Retiring,
            "retired" => Self::Retired,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SigningKey {
    pub kid: String,
    pub tenant_id: TenantId,
    pub alg: KeyAlg,
    pub state: KeyState,
    /// Sealed private key (PKCS#8 DER) or HS256 secret.
    pub private_sealed: Vec<u8>,
    /// Public JWK (empty object for HS256).
    pub public_jwk: serde_json::Value,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}
