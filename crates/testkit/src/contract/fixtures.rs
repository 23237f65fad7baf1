//! Rows for the checks: each valid on its own, with the fields a check does not care about filled.

use std::future::Future;
use std::sync::Arc;

use castellan_core::model::*;
pub(crate) use castellan_core::store::ConflictOn;
use castellan_core::store::{Store, StoreError, StoreResult};
use serde_json::json;

pub(crate) type Db = Arc<dyn Store>;

pub fn tenant() -> Tenant {
    Tenant {
        id: new_id().into(),
        slug: format!("t{}", &new_id().simple().to_string()[20..]),
        display_name: "T".into(),
        profile: Profile::Dialect(Dialect::Korastratum),
        dialects: vec![Dialect::Korastratum],
        issuer: "i".into(),
        audience: "a".into(),
        policy: Policy::of_dialect(Dialect::Korastratum),
        created_at: 1,
    }
}

/// A tenant, stored.
pub(crate) async fn stored_tenant(store: &Db) -> Tenant {
    let t = tenant();
    store.insert_tenant(&t).await.unwrap();
    t
}

pub fn user(t: &Tenant, email: &str) -> User {
    User {
        id: new_id().into(),
        tenant_id: t.id,
        email: Some(email.into()),
        username: None,
        phone: None,
        password_hash: Some("$argon2id$x".into()),
        first_name: None,
        last_name: None,
        role: "user".into(),
        roles: vec![],
        permissions: vec!["p".into()],
        attributes: json!({"uin": new_id().to_string()}),
        email_verified: false,
        phone_verified: false,
        active: true,
        mfa_enabled: false,
        created_at: 1,
        updated_at: 1,
    }
}

/// A user of `t` with only the identifiers given (and a uin of its own).
pub fn bare_user(t: &Tenant, email: Option<&str>, username: Option<&str>, phone: Option<&str>) -> User {
    User {
        email: email.map(str::to_string),
        username: username.map(str::to_string),
        phone: phone.map(str::to_string),
        ..user(t, "unused@example.com")
    }
}

/// A user of `t` with a fresh email, stored.
pub(crate) async fn stored_user(store: &Db, t: &Tenant) -> User {
    let u = user(t, &format!("{}@example.com", new_id().simple()));
    store.insert_user(&u).await.unwrap();
    u
}

pub fn app(t: &Tenant) -> Application {
    Application {
        id: new_id().into(),
        tenant_id: t.id,
        client_id: format!("client-{}", new_id().simple()),
        name: "App".into(),
        kind: ApplicationKind::Confidential,
        secret_hash: Some(vec![1, 2, 3]),
        aliases: Default::default(),
        roles: vec!["r".into()],
        allowed_ips: vec!["10.0.0.0/8".into()],
        callback_url: Some("https://example.com/cb".into()),
        redirect_uris: vec!["https://example.com/r".into()],
        single_otp_channel: false,
        hosted_webauthn: false,
        active: true,
        created_at: 1,
        oauth: OAuthClient {
            post_logout_redirect_uris: vec!["https://example.com/bye".into()],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scopes: vec!["openid".into(), "email".into()],
            token_endpoint_auth_method: Some(AuthMethod::ClientSecretPost),
            first_party: true,
            access_token_audience: Some("api".into()),
            ..OAuthClient::default()
        },
    }
}

/// An application of `t` that dialects know by `aliases`.
pub(crate) fn aliased(t: &Tenant, aliases: &[(Dialect, &str)]) -> Application {
    Application { aliases: aliases.iter().map(|(d, a)| (*d, a.to_string())).collect(), ..app(t) }
}

/// An application of `t`, stored.
pub(crate) async fn stored_app(store: &Db, t: &Tenant) -> Application {
    let a = app(t);
    store.insert_application(&a).await.unwrap();
    a
}

pub(crate) fn session(u: &User, last_active: i64, expires_at: i64) -> Session {
    Session {
        id: Session::new_id(),
        tenant_id: u.tenant_id,
        user_id: u.id,
        application_id: None,
        dialect: Dialect::Korastratum,
        device: json!({"name": "phone"}),
        ip: Some("192.0.2.1".into()),
        user_agent: Some("ua".into()),
        created_at: 1,
        last_active,
        expires_at,
        revoked_at: None,
    }
}

pub(crate) fn refresh_token(s: &Session, hash: &[u8], expires_at: i64) -> RefreshToken {
    RefreshToken {
        id: new_id(),
        tenant_id: s.tenant_id,
        session_id: s.id.clone(),
        client: None,
        token_hash: hash.to_vec(),
        expires_at,
        used_at: None,
        created_at: 1,
    }
}

/// A tenant, a user, a session alive until 1000 and its unused refresh token `[9; 32]`, stored.
pub(crate) async fn refresh_fixture(store: &Db) -> (Tenant, Session, RefreshToken) {
    let t = stored_tenant(store).await;
    let u = stored_user(store, &t).await;
    let s = session(&u, 1, 1000);
    store.insert_session(&s).await.unwrap();
    let rt = refresh_token(&s, &[9; 32], 1000);
    store.insert_refresh_token(&rt).await.unwrap();
    (t, s, rt)
}

pub(crate) fn event(tenant: Option<TenantId>, action: &str) -> AuditEvent {
    AuditEvent {
        id: new_id(),
        tenant_id: tenant,
        application_id: None,
        user_id: None,
        action: action.into(),
        outcome: "success".into(),
        ip: None,
        user_agent: None,
        detail: json!({}),
        created_at: 5,
    }
}

pub(crate) fn challenge(u: &User, kind: ChallengeKind, secret: &[u8]) -> Challenge {
    Challenge {
        id: new_id(),
        tenant_id: u.tenant_id,
        user_id: u.id,
        kind,
        secret_hash: secret.to_vec(),
        attempts: 0,
        max_attempts: 3,
        expires_at: 1_000,
        consumed_at: None,
        data: json!({"device": "phone"}),
        created_at: 1,
    }
}

pub(crate) fn key_otp(t: &Tenant, key: &[u8], secret: &[u8], now: i64) -> KeyOtp {
    KeyOtp {
        tenant_id: t.id,
        key_hash: key.to_vec(),
        user_id: None,
        application_id: None,
        secret_hash: secret.to_vec(),
        attempts: 0,
        max_attempts: 3,
        expires_at: now + 180,
        frozen_until: None,
        created_at: now,
    }
}

pub(crate) fn signing_key(t: &Tenant, kid: &str, created_at: i64) -> SigningKey {
    SigningKey {
        kid: kid.into(),
        tenant_id: t.id,
        alg: KeyAlg::ES256,
        state: KeyState::Active,
        private_sealed: vec![7; 16],
        public_jwk: json!({"kty": "EC", "kid": kid}),
        created_at,
        retired_at: None,
    }
}

pub(crate) fn totp(u: &User) -> TotpFactor {
    TotpFactor {
        user_id: u.id,
        tenant_id: u.tenant_id,
        secret_sealed: vec![1; 20],
        algorithm: "SHA1".into(),
        digits: 6,
        period: 30,
        enabled: false,
        last_step: None,
        created_at: 1,
    }
}

pub(crate) fn app_totp(a: &Application, u: &User) -> AppTotpFactor {
    AppTotpFactor {
        tenant_id: a.tenant_id,
        application_id: a.id,
        user_id: u.id,
        secret_sealed: vec![2; 20],
        algorithm: "SHA256".into(),
        digits: 8,
        period: 60,
        last_step: None,
        created_at: 1,
    }
}

pub(crate) fn verification(a: &Application, u: &User, created_at: i64) -> Verification {
    Verification {
        id: new_id(),
        tenant_id: a.tenant_id,
        application_id: a.id,
        user_id: u.id,
        email: u.email.clone().unwrap_or_default(),
        status: VerificationStatus::Pending,
        tries: 0,
        ip: None,
        expires_at: created_at + 300,
        finished_at: None,
        created_at,
    }
}

pub(crate) fn callback(v: &Verification, next_attempt_ms: i64) -> Callback {
    Callback {
        id: new_id(),
        tenant_id: v.tenant_id,
        application_id: v.application_id,
        kind: CallbackKind::Result,
        verification_id: v.id,
        url: "https://example.com/result".into(),
        query: format!("id={}", v.id),
        status: CallbackStatus::Pending,
        tries: 0,
        next_attempt_ms,
        deadline_ms: next_attempt_ms + 60_000,
        last_status: None,
        last_error: None,
        created_at: 1,
        finished_at: None,
    }
}

pub(crate) fn message(recipient: &str, next_attempt_at: i64, created_at: i64) -> OutboundMessage {
    OutboundMessage {
        id: new_id(),
        tenant_id: None,
        channel: Channel::Email,
        recipient: recipient.into(),
        subject: "s".into(),
        body: "b".into(),
        status: "pending".into(),
        transport: None,
        attempts: 0,
        next_attempt_at,
        last_error: None,
        created_at,
        sent_at: None,
    }
}

/// The key a write's unique violation names; anything but a conflict fails the check.
pub(crate) fn conflict<T: std::fmt::Debug>(result: StoreResult<T>) -> ConflictOn {
    match result {
        Err(StoreError::Conflict(on)) => on,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// Runs `n` copies of `attempt` at once; how many returned true.
pub(crate) async fn winners<F, Fut>(n: usize, attempt: F) -> usize
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = bool> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(attempt(i))).collect();
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap());
    }
    won
}
