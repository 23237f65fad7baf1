//! [`MemoryStore`]: the storage contract held in memory, a twin of the SQL store for tests that
//! want no database. Every method takes one lock over the whole state, so each is atomic as the
//! SQL statement it mirrors is (one concurrent caller wins a consume, a claim leases a row once).
//!
//! The twin keeps the schema's rules as well as its data:
//! - unique keys fail with `StoreError::Conflict`, naming the key the SQL store names (email,
//!   slug, client id, …, a look-alike's skeleton as its identifier) and `ConflictOn::Other` for the
//!   keys it does not name (ids, token hashes, a callback's verification). Where one row breaks several
//!   keys, the first in PostgreSQL's order is reported (primary key, then the table's unique
//!   keys as declared, then the skeleton indexes); SQLite checks the same keys newest first;
//! - references to a missing tenant, application, user or session fail as a backend error, and
//!   deletes cascade where the schema says `ON DELETE CASCADE`;
//! - text with NUL is refused as `StoreError::InvalidText`, as PostgreSQL refuses it;
//! - lists sort as the queries' `ORDER BY` (text by code point, as SQLite and the C collation).

mod admin_tokens;
mod applications;
mod audit;
mod challenges;
mod factors;
mod hosted;
mod key_otps;
mod keys;
mod lockout;
mod oidc;
mod outbox;
mod passkeys;
mod sessions;
mod tenants;
mod users;

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use castellan_core::model::*;
use castellan_core::store::{ConflictOn, Store, StoreError, StoreResult};
use uuid::Uuid;

/// The whole storage contract in memory. Each store is empty when made and shares nothing with
/// another.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// The state, locked. A panic while it was held leaves no half-written row (every method
    /// checks before it writes), so a poisoned lock is taken as it is.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }
}

/// The tables, each in insertion order (the order in which a query without `ORDER BY` would
/// most likely meet the rows).
#[derive(Default)]
struct State {
    tenants: Vec<Tenant>,
    applications: Vec<ApplicationRow>,
    application_aliases: Vec<AliasRow>,
    api_keys: Vec<ApiKeyRow>,
    users: Vec<UserRow>,
    lockouts: Vec<LockoutRow>,
    totp_factors: Vec<TotpFactor>,
    app_totp_factors: Vec<AppTotpFactor>,
    challenges: Vec<Challenge>,
    key_otps: Vec<KeyOtp>,
    sessions: Vec<Session>,
    refresh_tokens: Vec<RefreshToken>,
    revoked_tokens: Vec<RevokedToken>,
    signing_keys: Vec<SigningKey>,
    audit_events: Vec<AuditEvent>,
    outbox: Vec<MessageRow>,
    verifications: Vec<Verification>,
    callbacks: Vec<CallbackRow>,
    admin_tokens: Vec<AdminTokenRow>,
    oidc_codes: Vec<AuthorizationCode>,
    oidc_consents: Vec<ConsentGrant>,
    device_grants: Vec<DeviceGrant>,
    pushed_requests: Vec<PushedRequest>,
    seen_jtis: std::collections::HashMap<(TenantId, Vec<u8>), i64>,
    session_clients: Vec<(TenantId, SessionClient)>,
    registration_tokens: Vec<RegistrationToken>,
    credentials: Vec<WebauthnCredential>,
    ceremonies: Vec<WebauthnCeremony>,
    /// (tenant, user, code hash, used at).
    recovery_codes: Vec<(TenantId, UserId, Vec<u8>, Option<i64>)>,
}

/// An application (its aliases kept apart, as rows of their own) and the column the domain type
/// does not carry.
struct ApplicationRow {
    app: Application,
    callback_secret_sealed: Option<Vec<u8>>,
    client_secret_sealed: Option<Vec<u8>>,
}

/// The name a dialect knows an application by: unique per dialect, and one per application and
/// dialect.
struct AliasRow {
    dialect: Dialect,
    alias: String,
    tenant_id: TenantId,
    application_id: AppId,
}

struct ApiKeyRow {
    id: Uuid,
    tenant_id: TenantId,
    application_id: AppId,
    prefix: String,
    key_hash: Vec<u8>,
    created_at: i64,
    revoked_at: Option<i64>,
}

/// A user and the columns the store derives from it: the `uin` attribute and the confusable
/// skeletons of email and username, each unique per tenant.
struct UserRow {
    user: User,
    uin: Option<String>,
    email_skeleton: Option<String>,
    username_skeleton: Option<String>,
}

struct LockoutRow {
    tenant_id: TenantId,
    subject: String,
    failures: i64,
    locked_until: Option<i64>,
}

struct RevokedToken {
    jti: String,
    tenant_id: TenantId,
    expires_at: i64,
}

struct MessageRow {
    message: OutboundMessage,
    lease_until: Option<i64>,
}

struct CallbackRow {
    callback: Callback,
    lease_until_ms: Option<i64>,
}

/// The label and creation time are stored by the SQL store but never read back.
struct AdminTokenRow {
    id: Uuid,
    token_hash: Vec<u8>,
}

/// PostgreSQL's refusal of NUL in a text value, bound or compared.
fn text(s: &str) -> StoreResult<()> {
    if s.contains('\0') { Err(StoreError::InvalidText) } else { Ok(()) }
}

/// [`text`] on several values, some of them absent.
fn texts<'a>(values: impl IntoIterator<Item = Option<&'a str>>) -> StoreResult<()> {
    values.into_iter().flatten().try_for_each(text)
}

/// The first unique key that `clashes` breaks, in the order given.
fn unique(keys: &[(bool, ConflictOn)]) -> StoreResult<()> {
    match keys.iter().find(|(clash, _)| *clash) {
        Some((_, on)) => Err(StoreError::Conflict(*on)),
        None => Ok(()),
    }
}

/// A row that names a `what` that is not there, as a foreign key refuses it.
fn missing(what: &str) -> StoreError {
    StoreError::message(format!("foreign key constraint failed: no such {what}"))
}

impl State {
    fn require_tenant(&self, id: TenantId) -> StoreResult<()> {
        if self.tenants.iter().any(|t| t.id == id) { Ok(()) } else { Err(missing("tenant")) }
    }

    fn require_application(&self, id: AppId) -> StoreResult<()> {
        if self.applications.iter().any(|a| a.app.id == id) { Ok(()) } else { Err(missing("application")) }
    }

    fn require_user(&self, id: UserId) -> StoreResult<()> {
        if self.users.iter().any(|u| u.user.id == id) { Ok(()) } else { Err(missing("user")) }
    }

    fn require_session(&self, id: &SessionId) -> StoreResult<()> {
        if self.sessions.iter().any(|s| s.id == *id) { Ok(()) } else { Err(missing("session")) }
    }

    /// Deletes the tenant and, as the schema cascades, every row that names it and the rows that
    /// name those.
    fn remove_tenant(&mut self, id: TenantId) {
        self.tenants.retain(|t| t.id != id);
        let apps: Vec<AppId> = self.applications.iter().filter(|a| a.app.tenant_id == id).map(|a| a.app.id).collect();
        apps.into_iter().for_each(|a| self.remove_application(a));
        let users: Vec<UserId> = self.users.iter().filter(|u| u.user.tenant_id == id).map(|u| u.user.id).collect();
        users.into_iter().for_each(|u| self.remove_user(u));
        self.remove_sessions(|s| s.tenant_id == id);
        self.api_keys.retain(|k| k.tenant_id != id);
        self.application_aliases.retain(|x| x.tenant_id != id);
        self.lockouts.retain(|l| l.tenant_id != id);
        self.totp_factors.retain(|f| f.tenant_id != id);
        self.app_totp_factors.retain(|f| f.tenant_id != id);
        self.challenges.retain(|c| c.tenant_id != id);
        self.key_otps.retain(|o| o.tenant_id != id);
        self.refresh_tokens.retain(|r| r.tenant_id != id);
        self.revoked_tokens.retain(|r| r.tenant_id != id);
        self.signing_keys.retain(|k| k.tenant_id != id);
        self.verifications.retain(|v| v.tenant_id != id);
        self.callbacks.retain(|c| c.callback.tenant_id != id);
        self.session_clients.retain(|(t, _)| *t != id);
        self.registration_tokens.retain(|r| r.tenant_id != id);
        self.ceremonies.retain(|c| c.tenant_id != id);
    }

    /// Deletes the application with its aliases, API keys, TOTP factors, verifications and
    /// callbacks.
    fn remove_application(&mut self, id: AppId) {
        self.applications.retain(|a| a.app.id != id);
        self.application_aliases.retain(|x| x.application_id != id);
        self.api_keys.retain(|k| k.application_id != id);
        self.app_totp_factors.retain(|f| f.application_id != id);
        self.verifications.retain(|v| v.application_id != id);
        self.callbacks.retain(|c| c.callback.application_id != id);
        self.oidc_codes.retain(|c| c.application_id != id);
        self.oidc_consents.retain(|c| c.application_id != id);
        self.device_grants.retain(|d| d.application_id != id);
        self.pushed_requests.retain(|p| p.application_id != id);
        self.session_clients.retain(|(_, c)| c.application_id != id);
        self.registration_tokens.retain(|r| r.application_id != Some(id));
    }

    /// Deletes the user with its factors, challenges, sessions, codes and verifications.
    fn remove_user(&mut self, id: UserId) {
        self.users.retain(|u| u.user.id != id);
        self.totp_factors.retain(|f| f.user_id != id);
        self.app_totp_factors.retain(|f| f.user_id != id);
        self.challenges.retain(|c| c.user_id != id);
        self.key_otps.retain(|o| o.user_id != Some(id));
        self.verifications.retain(|v| v.user_id != id);
        self.oidc_codes.retain(|c| c.user_id != id);
        self.oidc_consents.retain(|c| c.user_id != id);
        self.device_grants.retain(|d| d.user_id != Some(id));
        self.credentials.retain(|c| c.user_id != id);
        self.ceremonies.retain(|c| c.user_id != Some(id));
        self.recovery_codes.retain(|r| r.1 != id);
        self.remove_sessions(|s| s.user_id == id);
    }

    /// Deletes the sessions `doomed` picks and their refresh tokens.
    fn remove_sessions(&mut self, doomed: impl Fn(&Session) -> bool) {
        let ids: HashSet<SessionId> = self.sessions.iter().filter(|s| doomed(s)).map(|s| s.id.clone()).collect();
        if ids.is_empty() {
            return;
        }
        self.sessions.retain(|s| !ids.contains(&s.id));
        self.refresh_tokens.retain(|r| !ids.contains(&r.session_id));
        self.session_clients.retain(|(_, c)| !ids.contains(&c.session_id));
    }
}
