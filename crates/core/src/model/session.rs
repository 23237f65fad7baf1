//! Sessions (signed-in devices) and the refresh tokens that belong to them.

use super::ids::{AppId, SessionId, TenantId, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Dialect;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// `sess_` + 32 hex digits of a UUIDv7 (sortable, unguessable enough for an id that is only ever
    /// honoured for its owner).
    pub id: SessionId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub application_id: Option<AppId>,
    pub dialect: Dialect,
    pub device: serde_json::Value,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub last_active: i64,
    /// Absolute end of life.
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

impl Session {
    pub fn new_id() -> SessionId {
        SessionId::new()
    }

    /// Alive at `now` under an idle timeout.
    pub fn is_alive(&self, now: i64, idle_timeout: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at > now && self.last_active + idle_timeout > now
    }
}

/// The client a refresh token was issued to, and the grant it carries (scopes, authentication
/// time, …, as the dialect wrote them); a rotation hands both to the successor unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientGrant {
    pub application_id: AppId,
    pub grant: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RefreshToken {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub session_id: SessionId,
    /// The client it was issued to and what was granted, where the dialect binds refresh tokens
    /// to clients (OpenID Connect's sessions serve several clients at once).
    pub client: Option<ClientGrant>,
    pub token_hash: Vec<u8>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub created_at: i64,
}
