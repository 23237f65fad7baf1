//! WebAuthn credentials (passkeys and security keys), the ceremonies that register and use them,
//! and recovery codes.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{TenantId, UserId};

/// How a credential was registered: a passkey (discoverable: it signs in without an identifier)
/// or a security key (the second factor after a password).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    Passkey,
    SecurityKey,
}

impl CredentialKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            CredentialKind::Passkey => "passkey",
            CredentialKind::SecurityKey => "security_key",
        }
    }

    pub fn parse(s: &str) -> Option<CredentialKind> {
        match s {
            "passkey" => Some(CredentialKind::Passkey),
            "security_key" => Some(CredentialKind::SecurityKey),
            _ => None,
        }
    }
}

/// One of a user's WebAuthn credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebauthnCredential {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    /// The authenticator's credential id, base64url: unique per tenant.
    pub credential_id: String,
    pub kind: CredentialKind,
    pub name: String,
    /// The relying party library's record of the credential (public key, counter, flags), JSON.
    pub data: String,
    /// The authenticator model, when the authenticator told it (zeros when it did not).
    pub aaguid: Option<String>,
    pub sign_count: u32,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// What a use of a credential changes: the counter, the backup state and the library's record.
#[derive(Debug, Clone)]
pub struct CredentialUse {
    pub sign_count: u32,
    pub backup_state: bool,
    pub data: String,
    pub at: i64,
}

/// A registration or authentication begun and not yet finished: the library's state (its
/// challenge), kept in the database so that any node may finish it, spent once.
#[derive(Debug, Clone)]
pub struct WebauthnCeremony {
    /// An HMAC of the ceremony's token, which the browser holds.
    pub token_hash: Vec<u8>,
    pub tenant_id: TenantId,
    /// The user registering or signing in; none for a passkey sign-in without an identifier.
    pub user_id: Option<UserId>,
    /// `register_passkey`, `register_security_key`, `sign_in`, `second_factor`.
    pub purpose: String,
    pub state: String,
    pub expires_at: i64,
    pub created_at: i64,
}
