//! Sessions, refresh tokens, and access tokens ended early.

use async_trait::async_trait;
use uuid::Uuid;

use super::*;

/// A session to open, written in one transaction with everything it takes; the challenge and the
/// user's other sessions are judged at the session's `created_at`.
#[derive(Debug, Clone)]
pub struct SessionOpening {
    /// The challenge this session rewards, spent in the same transaction: if it is no longer there
    /// to spend (used, expired, out of tries), nothing is written.
    pub spends: Option<Uuid>,
    pub session: Session,
    /// Its first refresh token.
    pub refresh: RefreshToken,
    /// How many of the user's live sessions (not idle for `idle_timeout` seconds) may stay open,
    /// this one included; the least recently active past that end.
    pub max_concurrent: u32,
    pub idle_timeout: i64,
    /// Audit events written in the same transaction, if the session is opened.
    pub events: Vec<AuditEvent>,
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Denies the token `jti` until `expires_at`; entries past their expiry are dropped.
    async fn revoke_token(&self, tenant: TenantId, jti: &str, expires_at: i64, now: i64) -> StoreResult<()>;
    async fn token_revoked(&self, jti: &str) -> StoreResult<bool>;
    async fn insert_session(&self, s: &Session) -> StoreResult<()>;
    /// Opens `opening.session` (see [`SessionOpening`]): the ids of the user's sessions it ended,
    /// or `None`, with nothing written, when its challenge was not there to spend. Of concurrent
    /// openings that spend one challenge exactly one gets it.
    async fn open_session(&self, opening: &SessionOpening) -> StoreResult<Option<Vec<SessionId>>>;
    async fn session_by_id(&self, tenant: TenantId, id: &SessionId) -> StoreResult<Option<Session>>;
    /// Sessions not revoked and not past their absolute expiry, most recently active first.
    async fn list_live_sessions(&self, tenant: TenantId, user: UserId, now: i64) -> StoreResult<Vec<Session>>;
    async fn touch_session(&self, tenant: TenantId, id: &SessionId, now: i64) -> StoreResult<()>;
    async fn revoke_session(&self, tenant: TenantId, user: UserId, id: &SessionId, now: i64) -> StoreResult<bool>;
    async fn revoke_user_sessions(&self, tenant: TenantId, user: UserId, now: i64) -> StoreResult<u64>;
    async fn insert_refresh_token(&self, r: &RefreshToken) -> StoreResult<()>;
    /// Marks the token used if it was unused; exactly one concurrent caller gets it back.
    async fn consume_refresh_token(&self, tenant: TenantId, token_hash: &[u8], now: i64) -> StoreResult<Option<RefreshToken>>;
    /// In one transaction: spends the unused token `old_hash` (as `consume_refresh_token`), stores
    /// its successor and records `event`. `None`, with nothing written, if `old_hash` was not there
    /// to spend.
    async fn rotate_refresh_token(
        &self,
        tenant: TenantId,
        old_hash: &[u8],
        now: i64,
        new: &RefreshToken,
        event: &AuditEvent,
    ) -> StoreResult<Option<RefreshToken>>;
    async fn refresh_token_by_hash(&self, tenant: TenantId, token_hash: &[u8]) -> StoreResult<Option<RefreshToken>>;
    /// The tenant of a refresh token (used or not), for dialects whose clients send the token alone.
    async fn tenant_of_refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<TenantId>>;
    /// The session of an unused, unexpired refresh token (alive or not) and the client the token
    /// was issued to, in one read.
    async fn session_of_refresh_token(
        &self,
        tenant: TenantId,
        token_hash: &[u8],
        now: i64,
    ) -> StoreResult<Option<(Session, Option<ClientGrant>)>>;
}
