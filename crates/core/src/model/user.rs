//! Users and their factors.

use super::ids::{TenantId, UserId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: Option<String>,
    pub username: Option<String>,
    pub phone: Option<String>,
    /// PHC string; never leaves the core.
    #[serde(skip_serializing)]
    pub password_hash: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: String,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub attributes: serde_json::Value,
    pub email_verified: bool,
    pub phone_verified: bool,
    pub active: bool,
    pub mfa_enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl User {
    pub fn attribute_str(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(|v| v.as_str())
    }

    /// First and last name, as far as they are known.
    pub fn full_name(&self) -> Option<String> {
        let full = [self.first_name.as_deref(), self.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
        Some(full).filter(|f| !f.trim().is_empty())
    }
}

/// What it takes to create a user; the service fills in ids and times.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub email: Option<String>,
    pub username: Option<String>,
    pub phone: Option<String>,
    pub password: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Option<String>,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub attributes: Option<serde_json::Value>,
    pub email_verified: bool,
    pub phone_verified: bool,
    pub active: bool,
    /// Skip the password policy (imports and admin-set passwords may predate it).
    pub password_is_hash: bool,
}

/// A TOTP factor. The secret is sealed with the master key.
#[derive(Debug, Clone, PartialEq)]
pub struct TotpFactor {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub secret_sealed: Vec<u8>,
    pub algorithm: String,
    pub digits: u32,
    pub period: u32,
    pub enabled: bool,
    /// The last accepted time step: a code for this step or an earlier one is refused.
    pub last_step: Option<i64>,
    pub created_at: i64,
}
