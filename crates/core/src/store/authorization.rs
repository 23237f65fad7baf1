//! OpenID Connect: authorization codes, remembered consents, device authorizations, pushed
//! requests, and the one-time JWT identifiers seen recently.

use async_trait::async_trait;

use super::*;

#[async_trait]
pub trait AuthorizationStore: Send + Sync {
    /// Stores a new code; codes expired for an hour or more are dropped on the way.
    async fn insert_authorization_code(&self, code: &AuthorizationCode, now: i64) -> StoreResult<()>;
    async fn authorization_code(&self, tenant: TenantId, code_hash: &[u8]) -> StoreResult<Option<AuthorizationCode>>;
    /// Marks an unused, unexpired code used; exactly one concurrent caller gets true.
    async fn redeem_authorization_code(&self, tenant: TenantId, code_hash: &[u8], now: i64) -> StoreResult<bool>;
    /// Stores the consent, replacing the user's earlier one for the same client.
    async fn upsert_consent(&self, grant: &ConsentGrant) -> StoreResult<()>;
    async fn consent(&self, tenant: TenantId, user: UserId, app: AppId) -> StoreResult<Option<ConsentGrant>>;
    /// The user's consents, oldest first.
    async fn list_consents(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<ConsentGrant>>;
    async fn delete_consent(&self, tenant: TenantId, user: UserId, app: AppId) -> StoreResult<bool>;

    /// Stores a new device authorization; those expired for an hour or more are dropped on the
    /// way. A user code already in use is `Conflict`.
    async fn insert_device_grant(&self, grant: &DeviceGrant, now: i64) -> StoreResult<()>;
    async fn device_grant_by_user_code(&self, tenant: TenantId, user_code_hash: &[u8]) -> StoreResult<Option<DeviceGrant>>;
    /// Approves (with who, in which sign-in, and what was granted) or denies a pending,
    /// unexpired authorization; exactly one concurrent caller gets true.
    async fn decide_device_grant(
        &self,
        tenant: TenantId,
        device_hash: &[u8],
        decision: DeviceDecision<'_>,
        now: i64,
    ) -> StoreResult<bool>;
    /// Records a poll: a poll sooner than the interval after the last one grows the interval by
    /// 5 seconds and is marked `slowed`. The authorization as it stands after the poll.
    async fn poll_device_grant(&self, tenant: TenantId, device_hash: &[u8], now: i64) -> StoreResult<Option<DeviceGrant>>;
    /// Marks an approved, unexpired authorization redeemed; exactly one concurrent caller gets true.
    async fn redeem_device_grant(&self, tenant: TenantId, device_hash: &[u8], now: i64) -> StoreResult<bool>;
    /// Stores a pushed request; those expired for an hour or more are dropped on the way.
    async fn insert_pushed_request(&self, request: &PushedRequest, now: i64) -> StoreResult<()>;
    /// Spends an unused, unexpired pushed request of `app`: exactly one concurrent caller gets
    /// it. Another client's request is not spent.
    async fn take_pushed_request(
        &self,
        tenant: TenantId,
        app: AppId,
        request_hash: &[u8],
        now: i64,
    ) -> StoreResult<Option<PushedRequest>>;
    /// Remembers a one-time JWT identifier until `expires_at`: true the first time, false when it
    /// was seen before (by any node). Expired ones are dropped on the way now and then.
    async fn first_sight_of_jti(&self, tenant: TenantId, jti_hash: &[u8], expires_at: i64, now: i64) -> StoreResult<bool>;
    /// Remembers that the client was given tokens in the session (once per pair).
    async fn track_session_client(&self, tenant: TenantId, client: &SessionClient, now: i64) -> StoreResult<()>;
    /// Forgets and returns the clients of the user's session (of all their sessions when
    /// `session` is `None`); two concurrent callers never both get the same one.
    async fn take_session_clients(
        &self,
        tenant: TenantId,
        user: UserId,
        session: Option<&SessionId>,
    ) -> StoreResult<Vec<SessionClient>>;
    /// Stores a registration token; a client's earlier registration access token is replaced.
    async fn insert_registration_token(&self, token: &RegistrationToken) -> StoreResult<()>;
    /// Spends one use of an unexpired initial access token; exactly as many concurrent callers
    /// get true as it had uses left.
    async fn spend_initial_access_token(&self, tenant: TenantId, token_hash: &[u8], now: i64) -> StoreResult<bool>;
    /// The client a registration access token manages.
    async fn client_of_registration_token(&self, tenant: TenantId, token_hash: &[u8]) -> StoreResult<Option<AppId>>;
}

/// What the user decided of a device authorization.
#[derive(Debug, Clone, Copy)]
pub enum DeviceDecision<'a> {
    Approve { user: UserId, session: &'a SessionId, data: &'a serde_json::Value },
    Deny,
}
