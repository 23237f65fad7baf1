//! The storage contract. Every method that touches tenant data takes the tenant, so no query can
//! wander across tenants. Implementations live in `castellan-store` (SQLite and PostgreSQL).

use async_trait::async_trait;
use uuid::Uuid;

use crate::model::audit::AuditFilter;
use crate::model::*;

/// A storage failure, already stripped of driver types.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated; the field it guards, when the store knows it (`email`,
    /// `phone`, `username`, `uin`, `slug`, `client_id`, …). A clash of confusable skeletons is
    /// reported as the field whose skeleton it is.
    #[error("unique constraint violated")]
    Conflict(Option<&'static str>),
    /// The database cannot store a text (PostgreSQL and NUL). The core refuses such text before it
    /// gets here; this keeps a missed path a validation error instead of a server error.
    #[error("text the database cannot store")]
    InvalidText,
    #[error("{0}")]
    Backend(String),
}

impl From<StoreError> for crate::CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(field) => crate::CoreError::Conflict(field.unwrap_or("value")),
            StoreError::InvalidText => crate::CoreError::field("input", crate::model::text::CONTROL),
            StoreError::Backend(m) => crate::CoreError::Storage(m),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Outcome of reserving one login attempt against a lockout counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptReservation {
    /// The attempt may proceed; `failures` counts it (it is forgiven on success).
    Allowed { failures: u32 },
    /// Locked until this epoch second.
    Locked { until: i64 },
}

/// Filters of a user listing.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub email: Option<String>,
    pub username: Option<String>,
    pub phone: Option<String>,
    pub limit: u32,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn ping(&self) -> StoreResult<()>;

    // tenants
    async fn insert_tenant(&self, t: &Tenant) -> StoreResult<()>;
    async fn update_tenant(&self, t: &Tenant) -> StoreResult<()>;
    async fn tenant_by_id(&self, id: Uuid) -> StoreResult<Option<Tenant>>;
    async fn tenant_by_slug(&self, slug: &str) -> StoreResult<Option<Tenant>>;
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>>;
    async fn delete_tenant(&self, id: Uuid) -> StoreResult<bool>;

    // applications
    async fn insert_application(&self, a: &Application) -> StoreResult<()>;
    async fn update_application(&self, a: &Application) -> StoreResult<()>;
    async fn application_by_client_id(&self, tenant: Uuid, client_id: &str) -> StoreResult<Option<Application>>;
    async fn application_by_id(&self, tenant: Uuid, id: Uuid) -> StoreResult<Option<Application>>;
    async fn list_applications(&self, tenant: Uuid) -> StoreResult<Vec<Application>>;
    async fn delete_application(&self, tenant: Uuid, id: Uuid) -> StoreResult<bool>;
    /// The application with this kumusoft tag, in whichever tenant: tags are unique server-wide
    /// because the tag alone selects the tenant.
    async fn application_by_kumusoft_tag(&self, tag: &str) -> StoreResult<Option<Application>>;
    /// The application with this MOSIP appId, in whichever tenant (unique server-wide, as tags).
    async fn application_by_mosip_app_id(&self, app_id: &str) -> StoreResult<Option<Application>>;
    async fn insert_api_key(&self, tenant: Uuid, app: Uuid, prefix: &str, key_hash: &[u8], now: i64) -> StoreResult<()>;

    // users
    async fn insert_user(&self, u: &User) -> StoreResult<()>;
    async fn update_user(&self, u: &User) -> StoreResult<()>;
    async fn user_by_id(&self, tenant: Uuid, id: Uuid) -> StoreResult<Option<User>>;
    async fn user_by_identifier(&self, tenant: Uuid, id: &Identifier) -> StoreResult<Option<User>>;
    /// The user whose `uin` attribute is `uin`.
    async fn user_by_uin(&self, tenant: Uuid, uin: &str) -> StoreResult<Option<User>>;
    async fn list_users(&self, tenant: Uuid, filter: &UserFilter) -> StoreResult<Vec<User>>;
    async fn delete_user(&self, tenant: Uuid, id: Uuid) -> StoreResult<bool>;
    /// Replaces the hash only if it is still `expected` (a concurrent change wins).
    async fn replace_password_hash(&self, tenant: Uuid, user: Uuid, expected: &str, new: &str, now: i64) -> StoreResult<bool>;

    // lockout counters, keyed by subject (`user:<id>` or a normalised unknown identifier)
    async fn reserve_attempt(
        &self,
        tenant: Uuid,
        subject: &str,
        threshold: u32,
        now: i64,
        lock_seconds: i64,
    ) -> StoreResult<AttemptReservation>;
    async fn clear_attempts(&self, tenant: Uuid, subject: &str) -> StoreResult<()>;
    /// After a successful attempt that was the `failures`-th reserved: clears the counter unless
    /// the subject is locked by attempts reserved after it (those were told "locked", and a
    /// locked account stays locked). True if cleared (or nothing was counted).
    async fn settle_success(&self, tenant: Uuid, subject: &str, failures: u32, now: i64) -> StoreResult<bool>;
    /// Until when `subject` is locked, if it is at `now`; counts nothing.
    async fn locked_until(&self, tenant: Uuid, subject: &str, now: i64) -> StoreResult<Option<i64>>;

    // TOTP
    async fn upsert_totp(&self, f: &TotpFactor) -> StoreResult<()>;
    async fn totp_by_user(&self, tenant: Uuid, user: Uuid) -> StoreResult<Option<TotpFactor>>;
    async fn enable_totp(&self, tenant: Uuid, user: Uuid) -> StoreResult<()>;
    async fn delete_totp(&self, tenant: Uuid, user: Uuid) -> StoreResult<bool>;
    /// Records `step` as used if it is newer than the last one; false means a replay.
    async fn advance_totp_step(&self, tenant: Uuid, user: Uuid, step: i64) -> StoreResult<bool>;

    // challenges
    async fn insert_challenge(&self, c: &Challenge) -> StoreResult<()>;
    async fn challenge_by_id(&self, tenant: Uuid, id: Uuid) -> StoreResult<Option<Challenge>>;
    /// The challenge with this id, in whichever tenant (a client names only the id; the tenant
    /// comes from the challenge itself).
    async fn locate_challenge(&self, id: Uuid) -> StoreResult<Option<Challenge>>;
    /// Replaces the code of an unconsumed challenge whose code is still `old_hash` (a concurrent
    /// re-issue wins once), with a new expiry and context.
    async fn reissue_challenge(
        &self,
        tenant: Uuid,
        id: Uuid,
        old_hash: &[u8],
        new_hash: &[u8],
        expires_at: i64,
        data: &serde_json::Value,
    ) -> StoreResult<bool>;
    async fn challenge_by_secret(&self, tenant: Uuid, kind: ChallengeKind, secret_hash: &[u8]) -> StoreResult<Option<Challenge>>;
    /// Counts a failed attempt; returns the new count.
    async fn fail_challenge(&self, tenant: Uuid, id: Uuid) -> StoreResult<u32>;
    /// Consumes the challenge if it is unconsumed, unexpired and has attempts left; exactly one
    /// concurrent caller gets true.
    async fn consume_challenge(&self, tenant: Uuid, id: Uuid, now: i64) -> StoreResult<bool>;
    async fn consume_user_challenges(&self, tenant: Uuid, user: Uuid, kind: ChallengeKind, now: i64) -> StoreResult<()>;

    // one-time codes by key
    /// Stores the key's new code (replacing any previous one, attempts reset) unless the key is
    /// frozen at `now`; false means frozen, nothing written. Long-dead codes of other keys go.
    async fn put_key_otp(&self, otp: &KeyOtp, now: i64) -> StoreResult<bool>;
    async fn key_otp(&self, tenant: Uuid, key_hash: &[u8]) -> StoreResult<Option<KeyOtp>>;
    /// The most recently issued code of this key in whichever tenant, a pending one (unexpired at
    /// `now`) before any expired one.
    async fn latest_key_otp(&self, key_hash: &[u8], now: i64) -> StoreResult<Option<KeyOtp>>;
    /// Counts a wrong try against the code `secret_hash`; the try that reaches the limit sets
    /// `frozen_until` to `freeze_until` (if given). Returns the row as it is now.
    async fn fail_key_otp(
        &self,
        tenant: Uuid,
        key_hash: &[u8],
        secret_hash: &[u8],
        freeze_until: Option<i64>,
    ) -> StoreResult<Option<KeyOtp>>;
    /// Deletes the code if it is still `secret_hash`, unexpired, not frozen and has tries left:
    /// exactly one concurrent caller gets true.
    async fn consume_key_otp(&self, tenant: Uuid, key_hash: &[u8], secret_hash: &[u8], now: i64) -> StoreResult<bool>;

    // access tokens ended early
    /// Denies the token `jti` until `expires_at`; entries past their expiry are dropped.
    async fn revoke_token(&self, tenant: Uuid, jti: &str, expires_at: i64, now: i64) -> StoreResult<()>;
    async fn token_revoked(&self, jti: &str) -> StoreResult<bool>;

    // sessions and refresh tokens
    async fn insert_session(&self, s: &Session) -> StoreResult<()>;
    async fn session_by_id(&self, tenant: Uuid, id: &str) -> StoreResult<Option<Session>>;
    /// Sessions not revoked and not past their absolute expiry, most recently active first.
    async fn list_live_sessions(&self, tenant: Uuid, user: Uuid, now: i64) -> StoreResult<Vec<Session>>;
    async fn touch_session(&self, tenant: Uuid, id: &str, now: i64) -> StoreResult<()>;
    async fn revoke_session(&self, tenant: Uuid, user: Uuid, id: &str, now: i64) -> StoreResult<bool>;
    async fn revoke_user_sessions(&self, tenant: Uuid, user: Uuid, now: i64) -> StoreResult<u64>;
    async fn insert_refresh_token(&self, r: &RefreshToken) -> StoreResult<()>;
    /// Marks the token used if it was unused; exactly one concurrent caller gets it back.
    async fn consume_refresh_token(&self, tenant: Uuid, token_hash: &[u8], now: i64) -> StoreResult<Option<RefreshToken>>;
    /// In one transaction: spends the unused token `old_hash` (as `consume_refresh_token`), stores
    /// its successor and records `event`. `None`, with nothing written, if `old_hash` was not there
    /// to spend.
    async fn rotate_refresh_token(
        &self,
        tenant: Uuid,
        old_hash: &[u8],
        now: i64,
        new: &RefreshToken,
        event: &AuditEvent,
    ) -> StoreResult<Option<RefreshToken>>;
    async fn refresh_token_by_hash(&self, tenant: Uuid, token_hash: &[u8]) -> StoreResult<Option<RefreshToken>>;
    /// The tenant of a refresh token (used or not), for dialects whose clients send the token alone.
    async fn tenant_of_refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<Uuid>>;
    /// The session of an unused, unexpired refresh token (alive or not), in one read.
    async fn session_of_refresh_token(&self, tenant: Uuid, token_hash: &[u8], now: i64) -> StoreResult<Option<Session>>;

    // signing keys
    async fn insert_key(&self, k: &SigningKey) -> StoreResult<()>;
    async fn list_keys(&self, tenant: Uuid) -> StoreResult<Vec<SigningKey>>;
    /// Every tenant's keys (the shared JWKS), newest first.
    async fn list_all_keys(&self) -> StoreResult<Vec<SigningKey>>;
    /// Moves a key to `state`; leaving `Active` records `now` as the moment it stopped signing.
    async fn set_key_state(&self, tenant: Uuid, kid: &str, state: KeyState, now: i64) -> StoreResult<()>;

    // audit
    async fn insert_audit(&self, e: &AuditEvent) -> StoreResult<()>;
    /// Several events in one transaction: all or none.
    async fn insert_audit_batch(&self, events: &[AuditEvent]) -> StoreResult<()>;
    async fn list_audit(&self, tenant: Uuid, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>>;
    /// Events that name no tenant (attempts with an unknown token or API key), newest first.
    async fn list_unscoped_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>>;

    // outbox
    async fn enqueue_message(&self, m: &OutboundMessage) -> StoreResult<()>;
    /// Leases up to `limit` due messages for `lease_seconds`; no two callers get the same message.
    async fn claim_messages(&self, now: i64, lease_seconds: i64, limit: u32) -> StoreResult<Vec<OutboundMessage>>;
    async fn mark_message_sent(&self, id: Uuid, transport: &str, now: i64) -> StoreResult<()>;
    async fn mark_message_failed(&self, id: Uuid, error: &str, retry_at: Option<i64>) -> StoreResult<()>;
    async fn list_messages(&self, to: Option<&str>, transport: Option<&str>, limit: u32) -> StoreResult<Vec<OutboundMessage>>;

    // hosted verification (eauthenticator)
    /// The application an unrevoked API key (by HMAC) belongs to, in whichever tenant.
    async fn application_by_api_key(&self, key_hash: &[u8]) -> StoreResult<Option<Application>>;
    /// The display prefix of the application's unrevoked API key.
    async fn api_key_prefix(&self, tenant: Uuid, app: Uuid) -> StoreResult<Option<String>>;
    /// Revokes every key of the application.
    async fn revoke_api_keys(&self, tenant: Uuid, app: Uuid, now: i64) -> StoreResult<()>;
    async fn set_callback_secret(&self, tenant: Uuid, app: Uuid, sealed: &[u8]) -> StoreResult<()>;
    async fn callback_secret(&self, tenant: Uuid, app: Uuid) -> StoreResult<Option<Vec<u8>>>;
    async fn upsert_app_totp(&self, f: &AppTotpFactor) -> StoreResult<()>;
    async fn app_totp(&self, tenant: Uuid, app: Uuid, user: Uuid) -> StoreResult<Option<AppTotpFactor>>;
    async fn delete_app_totp(&self, tenant: Uuid, app: Uuid, user: Uuid) -> StoreResult<bool>;
    /// Records `step` as used if it is newer than the last one; false means a replay.
    async fn advance_app_totp_step(&self, tenant: Uuid, app: Uuid, user: Uuid, step: i64) -> StoreResult<bool>;
    async fn insert_verification(&self, v: &Verification) -> StoreResult<()>;
    async fn verification(&self, tenant: Uuid, id: Uuid) -> StoreResult<Option<Verification>>;
    /// The verification with this id in whichever tenant (a session token names only its `jti`).
    async fn locate_verification(&self, id: Uuid) -> StoreResult<Option<Verification>>;
    /// Moves the verification from `from` to `to` (recording `ip` if given, and `now` as the end
    /// if `to` is final); exactly one concurrent caller gets true.
    async fn move_verification(
        &self,
        tenant: Uuid,
        id: Uuid,
        from: VerificationStatus,
        to: VerificationStatus,
        ip: Option<&str>,
        now: i64,
    ) -> StoreResult<bool>;
    /// Counts a wrong code against a pending verification; the new count, or `None` if it was not
    /// pending.
    async fn fail_verification(&self, tenant: Uuid, id: Uuid, ip: Option<&str>) -> StoreResult<Option<u32>>;
    /// The application's verifications, newest first.
    async fn list_verifications(&self, tenant: Uuid, app: Uuid, limit: u32) -> StoreResult<Vec<Verification>>;
    /// Stores a callback; a second one for the same verification is a `Conflict`.
    async fn insert_callback(&self, c: &Callback) -> StoreResult<()>;
    async fn callback_of(&self, tenant: Uuid, verification: Uuid) -> StoreResult<Option<Callback>>;
    /// Leases up to `limit` pending callbacks due at `now_ms` until `lease_until_ms`; no two
    /// callers get the same one. Each lease counts a try.
    async fn claim_callbacks(&self, now_ms: i64, lease_until_ms: i64, limit: u32) -> StoreResult<Vec<Callback>>;
    /// Records a try's outcome: the new status, when to try next, and what the receiver said.
    async fn record_callback_try(
        &self,
        id: Uuid,
        status: CallbackStatus,
        next_attempt_ms: i64,
        last_status: Option<u16>,
        last_error: Option<&str>,
        now: i64,
    ) -> StoreResult<()>;

    // admin tokens (HMAC'd)
    async fn insert_admin_token(&self, id: Uuid, token_hash: &[u8], label: &str, now: i64) -> StoreResult<()>;
    async fn admin_token_exists(&self, token_hash: &[u8]) -> StoreResult<bool>;
}
