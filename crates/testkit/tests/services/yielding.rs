//! A store that yields to the scheduler before every call, as a database round trip does. The
//! memory store answers at once, so on it a service's read and its conditional write run without
//! a pause between them and concurrent attempts rarely overlap; through this wrapper every store
//! call is a point where another attempt can run, and a single-winner rule that leans on anything
//! but the store's own atomic write is caught.

use std::sync::Arc;

use async_trait::async_trait;
use castellan_core::model::audit::AuditFilter;
use castellan_core::model::*;
use castellan_core::store::prelude::*;
use castellan_core::store::{AttemptReservation, DeviceDecision, SessionOpening, StoreResult, UserFilter};
use castellan_testkit::MemoryStore;
use serde_json::Value;
use uuid::Uuid;

/// [`MemoryStore`] with a pause before each call.
pub struct YieldingStore(pub Arc<MemoryStore>);

/// Implements each storage trait by yielding once, then forwarding to the memory store.
macro_rules! yield_then_forward {
    ($($store:ident { $(fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)* })*) => {
        $(
            #[async_trait]
            impl $store for YieldingStore {
                $(
                    async fn $name(&self, $($arg: $ty),*) -> $ret {
                        tokio::task::yield_now().await;
                        self.0.$name($($arg),*).await
                    }
                )*
            }
        )*
    };
}

yield_then_forward! {
    TenantStore {
        fn insert_tenant(t: &Tenant) -> StoreResult<()>;
        fn update_tenant(t: &Tenant) -> StoreResult<()>;
        fn tenant_by_id(id: TenantId) -> StoreResult<Option<Tenant>>;
        fn tenant_by_slug(slug: &str) -> StoreResult<Option<Tenant>>;
        fn list_tenants() -> StoreResult<Vec<Tenant>>;
        fn delete_tenant(id: TenantId) -> StoreResult<bool>;
    }
    ApplicationStore {
        fn insert_application(a: &Application) -> StoreResult<()>;
        fn update_application(a: &Application) -> StoreResult<()>;
        fn application_by_client_id(tenant: TenantId, client_id: &str) -> StoreResult<Option<Application>>;
        fn application_by_id(tenant: TenantId, id: AppId) -> StoreResult<Option<Application>>;
        fn list_applications(tenant: TenantId) -> StoreResult<Vec<Application>>;
        fn delete_application(tenant: TenantId, id: AppId) -> StoreResult<bool>;
        fn application_by_alias(dialect: Dialect, alias: &str) -> StoreResult<Option<Application>>;
        fn insert_api_key(tenant: TenantId, app: AppId, prefix: &str, key_hash: &[u8], now: i64) -> StoreResult<()>;
        fn application_by_api_key(key_hash: &[u8]) -> StoreResult<Option<Application>>;
        fn api_key_prefix(tenant: TenantId, app: AppId) -> StoreResult<Option<String>>;
        fn revoke_api_keys(tenant: TenantId, app: AppId, now: i64) -> StoreResult<()>;
        fn set_callback_secret(tenant: TenantId, app: AppId, sealed: &[u8]) -> StoreResult<()>;
        fn callback_secret(tenant: TenantId, app: AppId) -> StoreResult<Option<Vec<u8>>>;
        fn set_client_secret_seal(tenant: TenantId, app: AppId, sealed: Option<&[u8]>) -> StoreResult<()>;
        fn client_secret_seal(tenant: TenantId, app: AppId) -> StoreResult<Option<Vec<u8>>>;
    }
    UserStore {
        fn insert_user(u: &User) -> StoreResult<()>;
        fn update_user(u: &User) -> StoreResult<()>;
        fn user_by_id(tenant: TenantId, id: UserId) -> StoreResult<Option<User>>;
        fn user_by_identifier(tenant: TenantId, id: &Identifier) -> StoreResult<Option<User>>;
        fn user_by_uin(tenant: TenantId, uin: &str) -> StoreResult<Option<User>>;
        fn list_users(tenant: TenantId, filter: &UserFilter) -> StoreResult<Vec<User>>;
        fn delete_user(tenant: TenantId, id: UserId) -> StoreResult<bool>;
        fn replace_password_hash(tenant: TenantId, user: UserId, expected: &str, new: &str, now: i64) -> StoreResult<bool>;
    }
    LockoutStore {
        fn reserve_attempt(tenant: TenantId, subject: &str, threshold: u32, now: i64, lock_seconds: i64) -> StoreResult<AttemptReservation>;
        fn clear_attempts(tenant: TenantId, subject: &str) -> StoreResult<()>;
        fn settle_success(tenant: TenantId, subject: &str, failures: u32, now: i64) -> StoreResult<bool>;
        fn locked_until(tenant: TenantId, subject: &str, now: i64) -> StoreResult<Option<i64>>;
    }
    FactorStore {
        fn upsert_totp(f: &TotpFactor) -> StoreResult<()>;
        fn totp_by_user(tenant: TenantId, user: UserId) -> StoreResult<Option<TotpFactor>>;
        fn enable_totp(tenant: TenantId, user: UserId) -> StoreResult<()>;
        fn delete_totp(tenant: TenantId, user: UserId) -> StoreResult<bool>;
        fn advance_totp_step(tenant: TenantId, user: UserId, step: i64) -> StoreResult<bool>;
        fn upsert_app_totp(f: &AppTotpFactor) -> StoreResult<()>;
        fn app_totp(tenant: TenantId, app: AppId, user: UserId) -> StoreResult<Option<AppTotpFactor>>;
        fn delete_app_totp(tenant: TenantId, app: AppId, user: UserId) -> StoreResult<bool>;
        fn advance_app_totp_step(tenant: TenantId, app: AppId, user: UserId, step: i64) -> StoreResult<bool>;
    }
    ChallengeStore {
        fn insert_challenge(c: &Challenge) -> StoreResult<()>;
        fn challenge_by_id(tenant: TenantId, id: Uuid) -> StoreResult<Option<Challenge>>;
        fn locate_challenge(id: Uuid) -> StoreResult<Option<Challenge>>;
        fn reissue_challenge(tenant: TenantId, id: Uuid, old_hash: &[u8], new_hash: &[u8], expires_at: i64, data: &Value) -> StoreResult<bool>;
        fn challenge_by_secret(tenant: TenantId, kind: ChallengeKind, secret_hash: &[u8]) -> StoreResult<Option<Challenge>>;
        fn fail_challenge(tenant: TenantId, id: Uuid) -> StoreResult<u32>;
        fn consume_challenge(tenant: TenantId, id: Uuid, now: i64) -> StoreResult<bool>;
        fn consume_user_challenges(tenant: TenantId, user: UserId, kind: ChallengeKind, now: i64) -> StoreResult<()>;
    }
    KeyOtpStore {
        fn put_key_otp(otp: &KeyOtp, now: i64) -> StoreResult<bool>;
        fn key_otp(tenant: TenantId, key_hash: &[u8]) -> StoreResult<Option<KeyOtp>>;
        fn latest_key_otp(key_hash: &[u8], now: i64) -> StoreResult<Option<KeyOtp>>;
        fn fail_key_otp(tenant: TenantId, key_hash: &[u8], secret_hash: &[u8], freeze_until: Option<i64>) -> StoreResult<Option<KeyOtp>>;
        fn consume_key_otp(tenant: TenantId, key_hash: &[u8], secret_hash: &[u8], now: i64) -> StoreResult<bool>;
    }
    SessionStore {
        fn revoke_token(tenant: TenantId, jti: &str, expires_at: i64, now: i64) -> StoreResult<()>;
        fn token_revoked(jti: &str) -> StoreResult<bool>;
        fn insert_session(s: &Session) -> StoreResult<()>;
        fn open_session(opening: &SessionOpening) -> StoreResult<Option<Vec<SessionId>>>;
        fn session_by_id(tenant: TenantId, id: &SessionId) -> StoreResult<Option<Session>>;
        fn list_live_sessions(tenant: TenantId, user: UserId, now: i64) -> StoreResult<Vec<Session>>;
        fn touch_session(tenant: TenantId, id: &SessionId, now: i64) -> StoreResult<()>;
        fn revoke_session(tenant: TenantId, user: UserId, id: &SessionId, now: i64) -> StoreResult<bool>;
        fn revoke_user_sessions(tenant: TenantId, user: UserId, now: i64) -> StoreResult<u64>;
        fn insert_refresh_token(r: &RefreshToken) -> StoreResult<()>;
        fn consume_refresh_token(tenant: TenantId, token_hash: &[u8], now: i64) -> StoreResult<Option<RefreshToken>>;
        fn rotate_refresh_token(tenant: TenantId, old_hash: &[u8], now: i64, new: &RefreshToken, event: &AuditEvent) -> StoreResult<Option<RefreshToken>>;
        fn refresh_token_by_hash(tenant: TenantId, token_hash: &[u8]) -> StoreResult<Option<RefreshToken>>;
        fn tenant_of_refresh_token(token_hash: &[u8]) -> StoreResult<Option<TenantId>>;
        fn session_of_refresh_token(tenant: TenantId, token_hash: &[u8], now: i64) -> StoreResult<Option<(Session, Option<ClientGrant>)>>;
    }
    KeyStore {
        fn insert_key(k: &SigningKey) -> StoreResult<()>;
        fn list_keys(tenant: TenantId) -> StoreResult<Vec<SigningKey>>;
        fn list_all_keys() -> StoreResult<Vec<SigningKey>>;
        fn set_key_state(tenant: TenantId, kid: &str, state: KeyState, now: i64) -> StoreResult<()>;
    }
    AuditStore {
        fn insert_audit(e: &AuditEvent) -> StoreResult<()>;
        fn insert_audit_batch(events: &[AuditEvent]) -> StoreResult<()>;
        fn list_audit(tenant: TenantId, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>>;
        fn list_unscoped_audit(filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>>;
    }
    OutboxStore {
        fn enqueue_message(m: &OutboundMessage) -> StoreResult<()>;
        fn claim_messages(now: i64, lease_seconds: i64, limit: u32) -> StoreResult<Vec<OutboundMessage>>;
        fn mark_message_sent(id: Uuid, transport: &str, now: i64) -> StoreResult<()>;
        fn mark_message_failed(id: Uuid, error: &str, retry_at: Option<i64>) -> StoreResult<()>;
        fn list_messages(to: Option<&str>, transport: Option<&str>, limit: u32) -> StoreResult<Vec<OutboundMessage>>;
    }
    HostedStore {
        fn insert_verification(v: &Verification) -> StoreResult<()>;
        fn verification(tenant: TenantId, id: Uuid) -> StoreResult<Option<Verification>>;
        fn locate_verification(id: Uuid) -> StoreResult<Option<Verification>>;
        fn move_verification(tenant: TenantId, id: Uuid, from: VerificationStatus, to: VerificationStatus, ip: Option<&str>, now: i64) -> StoreResult<bool>;
        fn fail_verification(tenant: TenantId, id: Uuid, ip: Option<&str>) -> StoreResult<Option<u32>>;
        fn list_verifications(tenant: TenantId, app: AppId, limit: u32) -> StoreResult<Vec<Verification>>;
        fn insert_callback(c: &Callback) -> StoreResult<()>;
        fn callback_of(tenant: TenantId, verification: Uuid) -> StoreResult<Option<Callback>>;
        fn claim_callbacks(now_ms: i64, lease_until_ms: i64, limit: u32) -> StoreResult<Vec<Callback>>;
        fn record_callback_try(id: Uuid, status: CallbackStatus, next_attempt_ms: i64, last_status: Option<u16>, last_error: Option<&str>, now: i64) -> StoreResult<()>;
    }
    AdminTokenStore {
        fn insert_admin_token(id: Uuid, token_hash: &[u8], label: &str, now: i64) -> StoreResult<()>;
        fn admin_token_exists(token_hash: &[u8]) -> StoreResult<bool>;
    }
    AuthorizationStore {
        fn insert_authorization_code(code: &AuthorizationCode, now: i64) -> StoreResult<()>;
        fn authorization_code(tenant: TenantId, code_hash: &[u8]) -> StoreResult<Option<AuthorizationCode>>;
        fn redeem_authorization_code(tenant: TenantId, code_hash: &[u8], now: i64) -> StoreResult<bool>;
        fn upsert_consent(grant: &ConsentGrant) -> StoreResult<()>;
        fn consent(tenant: TenantId, user: UserId, app: AppId) -> StoreResult<Option<ConsentGrant>>;
        fn list_consents(tenant: TenantId, user: UserId) -> StoreResult<Vec<ConsentGrant>>;
        fn delete_consent(tenant: TenantId, user: UserId, app: AppId) -> StoreResult<bool>;
        fn insert_device_grant(grant: &DeviceGrant, now: i64) -> StoreResult<()>;
        fn device_grant_by_user_code(tenant: TenantId, user_code_hash: &[u8]) -> StoreResult<Option<DeviceGrant>>;
        fn decide_device_grant(tenant: TenantId, device_hash: &[u8], decision: DeviceDecision<'_>, now: i64) -> StoreResult<bool>;
        fn poll_device_grant(tenant: TenantId, device_hash: &[u8], now: i64) -> StoreResult<Option<DeviceGrant>>;
        fn redeem_device_grant(tenant: TenantId, device_hash: &[u8], now: i64) -> StoreResult<bool>;
        fn insert_pushed_request(request: &PushedRequest, now: i64) -> StoreResult<()>;
        fn take_pushed_request(tenant: TenantId, app: AppId, request_hash: &[u8], now: i64) -> StoreResult<Option<PushedRequest>>;
        fn first_sight_of_jti(tenant: TenantId, jti_hash: &[u8], expires_at: i64, now: i64) -> StoreResult<bool>;
        fn track_session_client(tenant: TenantId, client: &SessionClient, now: i64) -> StoreResult<()>;
        fn take_session_clients(tenant: TenantId, user: UserId, session: Option<&SessionId>) -> StoreResult<Vec<SessionClient>>;
        fn insert_registration_token(token: &RegistrationToken) -> StoreResult<()>;
        fn spend_initial_access_token(tenant: TenantId, token_hash: &[u8], now: i64) -> StoreResult<bool>;
        fn client_of_registration_token(tenant: TenantId, token_hash: &[u8]) -> StoreResult<Option<AppId>>;
    }
    PasskeyStore {
        fn insert_credential(c: &WebauthnCredential) -> StoreResult<()>;
        fn credentials_of(tenant: TenantId, user: UserId) -> StoreResult<Vec<WebauthnCredential>>;
        fn credential_by_credential_id(tenant: TenantId, credential_id: &str) -> StoreResult<Option<WebauthnCredential>>;
        fn record_credential_use(tenant: TenantId, id: Uuid, u: &CredentialUse) -> StoreResult<bool>;
        fn rename_credential(tenant: TenantId, user: UserId, id: Uuid, name: &str) -> StoreResult<bool>;
        fn delete_credential(tenant: TenantId, user: UserId, id: Uuid) -> StoreResult<bool>;
        fn insert_ceremony(c: &WebauthnCeremony, now: i64) -> StoreResult<()>;
        fn take_ceremony(tenant: TenantId, token_hash: &[u8], now: i64) -> StoreResult<Option<WebauthnCeremony>>;
        fn replace_recovery_codes(tenant: TenantId, user: UserId, hashes: &[Vec<u8>], now: i64) -> StoreResult<()>;
        fn spend_recovery_code(tenant: TenantId, user: UserId, hash: &[u8], now: i64) -> StoreResult<bool>;
        fn recovery_codes_left(tenant: TenantId, user: UserId) -> StoreResult<u32>;
    }
}

#[async_trait]
impl Store for YieldingStore {
    async fn ping(&self) -> StoreResult<()> {
        self.0.ping().await
    }
}
