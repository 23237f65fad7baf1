//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0). A client that registered a
//! `backchannel_logout_uri` and was given tokens in a sign-in session is remembered with it;
//! when the session ends, however it ends, each such client is sent a logout token through the
//! callbacks outbox: stored first, retried with back-off, the same outbound URL rules.
//!
//! The token's claims are stored, not the token: it is signed at each try, so a delivery that
//! succeeds after minutes of retries still carries a fresh `iat` and `exp`.

use serde_json::{Value, json};

use super::ACCESS_PROFILE;
use crate::core::Core;
use crate::error::{CoreError, CoreResult};
use crate::model::{
    Application, Callback, CallbackKind, CallbackStatus, Dialect, Session, SessionClient, SessionId, Tenant, TenantId, UserId,
    new_id,
};

/// The `events` member that makes a JWT a logout token.
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The JOSE `typ` of a logout token (explicit typing keeps it from passing for an ID token).
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";
/// How long a logout token is valid after it is signed.
const LOGOUT_TOKEN_TTL_SECONDS: i64 = 120;
/// How long a client that does not answer is tried again.
const LOGOUT_WINDOW_MS: i64 = 10 * 60 * 1000;

impl Core {
    /// Remembers that `client` was given tokens in `session`, if it wants to hear of its end.
    pub(crate) async fn track_logout_client(&self, tenant: &Tenant, client: &Application, session: &Session) -> CoreResult<()> {
        if client.oauth.backchannel_logout_uri.is_none() {
            return Ok(());
        }
        let entry = SessionClient { session_id: session.id.clone(), application_id: client.id, user_id: session.user_id };
        Ok(self.store.track_session_client(tenant.id, &entry, self.now()).await?)
    }

    /// Ends a session (false if it had ended already) and tells its clients. Only OpenID Connect
    /// sign-ins have clients to tell: other dialects' logouts write nothing more.
    pub(crate) async fn end_session(&self, tenant: TenantId, session: &Session) -> CoreResult<bool> {
        if session.dialect != Dialect::Oidc {
            return Ok(self.store.revoke_session(tenant, session.user_id, &session.id, self.now()).await?);
        }
        self.end_session_by_id(tenant, session.user_id, &session.id).await
    }

    /// [`Self::end_session`] for a session known only by its id.
    pub(crate) async fn end_session_by_id(&self, tenant: TenantId, user: UserId, session: &SessionId) -> CoreResult<bool> {
        let ended = self.store.revoke_session(tenant, user, session, self.now()).await?;
        self.sessions_ended(tenant, user, Some(session)).await?;
        Ok(ended)
    }

    /// Ends every session of the user (how many were alive) and tells their clients.
    pub(crate) async fn end_user_sessions(&self, tenant: TenantId, user: UserId) -> CoreResult<u64> {
        let ended = self.store.revoke_user_sessions(tenant, user, self.now()).await?;
        self.sessions_ended(tenant, user, None).await?;
        Ok(ended)
    }

    /// Queues a logout token for each client of the user's ended session (of all their sessions
    /// when `session` is `None`). Called after the session was revoked: a crash between the two
    /// leaves a client uninformed, never a session alive.
    async fn sessions_ended(&self, tenant: TenantId, user: UserId, session: Option<&SessionId>) -> CoreResult<()> {
        let clients = self.store.take_session_clients(tenant, user, session).await?;
        if clients.is_empty() {
            return Ok(());
        }
        let tenant = self.tenants().find_tenant(&tenant.to_string()).await?;
        for c in clients {
            let app = match self.store.application_by_id(tenant.id, c.application_id).await? {
                Some(app) if app.active => app,
                _ => continue,
            };
            // The URI may have been removed since the tokens were issued.
            let Some(url) = app.oauth.backchannel_logout_uri.clone() else { continue };
            let id = new_id();
            let claims = json!({
                "iss": self.realm_issuer(&tenant),
                "aud": app.client_id,
                "sub": c.user_id.to_string(),
                "sid": c.session_id,
                "events": {LOGOUT_EVENT: {}},
                "jti": id.to_string(),
            });
            let now = self.clock.now_ms();
            let cb = Callback {
                id,
                tenant_id: tenant.id,
                application_id: app.id,
                kind: CallbackKind::Logout,
                verification_id: id,
                url,
                query: claims.to_string(),
                status: CallbackStatus::Pending,
                tries: 0,
                next_attempt_ms: now,
                deadline_ms: now + LOGOUT_WINDOW_MS,
                last_status: None,
                last_error: None,
                created_at: self.now(),
                finished_at: None,
            };
            self.store.insert_callback(&cb).await?;
        }
        self.callbacks_ready.notify_one();
        Ok(())
    }

    /// The logout token of a queued logout, signed now with the tenant's current key.
    pub(crate) async fn logout_token(&self, cb: &Callback) -> CoreResult<String> {
        let tenant = self.tenants().find_tenant(&cb.tenant_id.to_string()).await?;
        let mut claims: Value = serde_json::from_str(&cb.query).map_err(CoreError::internal)?;
        let now = self.now();
        claims["iat"] = json!(now);
        claims["exp"] = json!(now + LOGOUT_TOKEN_TTL_SECONDS);
        self.signing_keys().sign_token(&tenant, ACCESS_PROFILE.algs, LOGOUT_TOKEN_TYP, &claims).await
    }
}
