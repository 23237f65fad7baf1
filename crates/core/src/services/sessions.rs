//! Sessions and refresh tokens: start (with eviction past the limit), validate (idle and absolute
//! expiry, coalesced activity writes), rotate refresh tokens atomically with reuse detection.

use serde_json::{Value, json};

use super::ClientContext;
use super::audit::Attempt;
use crate::core::Core;
use crate::error::{CoreError, CoreResult};
use crate::model::AuditAction;
use crate::model::Dialect;
use crate::model::{AppId, ClientGrant, SessionId, UserId};
use crate::model::{Application, AuditEvent, RefreshToken, Session, Tenant, User, new_id};
use crate::store::SessionOpening;
use uuid::Uuid;

/// Activity is written at most this often per session, so reads are not writes.
const TOUCH_INTERVAL: i64 = 60;

/// A signed-in user: the session and a fresh refresh token (shown once).
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: User,
    pub session: Session,
    pub refresh_token: String,
    pub refresh_expires_at: i64,
}

/// What a refresh requires of the application its session was opened through. It is checked
/// before the token is spent, so a refusal here rotates nothing: the same token works again once
/// the application is back.
#[derive(Debug, Clone, Copy)]
pub enum ApplicationGuard {
    /// Nothing: the session's application does not matter to the dialect.
    Any,
    /// The session's application must still exist in the tenant, be active and pass `admits`
    /// (say, still carry the alias the dialect's tokens name); else `UnknownApplication`.
    Active { admits: fn(&Application) -> bool },
    /// The token must have been issued to this client (OpenID Connect, whose sessions serve
    /// several clients); another client's live token is refused unspent (one whose session has
    /// ended is spent as any dead token is), and its successor is bound to the same client.
    /// A token bound to a key (its grant's `jkt`, DPoP) needs that key's thumbprint here too.
    IssuedTo(AppId, Option<Thumbprint>),
}

/// A key's JWK thumbprint (RFC 7638), base64url: always 43 characters.
pub type Thumbprint = [u8; 43];

/// A rotated refresh token, the session's application when the guard checked it, and the grant
/// the token carried when it was bound to a client.
#[derive(Debug, Clone)]
pub struct Refreshed {
    pub auth: Authenticated,
    pub application: Option<Application>,
    pub grant: Option<serde_json::Value>,
}

/// Sessions and refresh tokens: `core.sessions()`.
pub struct Sessions<'a>(&'a Core);

impl Core {
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions(self)
    }
}

impl std::ops::Deref for Sessions<'_> {
    type Target = Core;
    fn deref(&self) -> &Core {
        self.0
    }
}

impl Sessions<'_> {
    /// A new refresh token of the session, bound to `client` if given: the token (shown once) and
    /// its expiry.
    pub async fn issue_refresh_token(
        &self,
        tenant: &Tenant,
        session: &Session,
        client: Option<ClientGrant>,
    ) -> CoreResult<(String, i64)> {
        let (token, rt) = self.new_refresh_token(tenant, session, client);
        self.store.insert_refresh_token(&rt).await?;
        Ok((token, rt.expires_at))
    }

    /// A fresh refresh token for the session, and the record that stores its hash.
    fn new_refresh_token(&self, tenant: &Tenant, session: &Session, client: Option<ClientGrant>) -> (String, RefreshToken) {
        let token = crate::crypto::random_token();
        let now = self.now();
        let rt = RefreshToken {
            id: new_id(),
            tenant_id: tenant.id,
            session_id: session.id.clone(),
            client,
            token_hash: crate::crypto::sha256(token.as_bytes()),
            expires_at: (now + tenant.policy.tokens.refresh_ttl_seconds).min(session.expires_at),
            used_at: None,
            created_at: now,
        };
        (token, rt)
    }

    /// Opens a session; past the tenant's limit the least recently active sessions end.
    pub async fn start_session(
        &self,
        tenant: &Tenant,
        user: User,
        dialect: Dialect,
        device: Value,
        ctx: &ClientContext,
    ) -> CoreResult<Authenticated> {
        let opened = self.open_session(tenant, user, dialect, device, ctx, None, |_| Vec::new()).await?;
        opened.ok_or_else(|| CoreError::internal("a session that spends nothing was refused"))
    }

    /// Opens a session as the reward for the challenge `challenge`, spending it in the same write
    /// with the audit events `events` makes of the new session; `None`, with nothing written, when
    /// another attempt spent it first (or it expired or ran out of tries since it was read).
    #[allow(clippy::too_many_arguments)]
    pub async fn start_session_spending(
        &self,
        tenant: &Tenant,
        user: User,
        dialect: Dialect,
        device: Value,
        ctx: &ClientContext,
        challenge: Uuid,
        events: impl FnOnce(&Session) -> Vec<AuditEvent>,
    ) -> CoreResult<Option<Authenticated>> {
        self.open_session(tenant, user, dialect, device, ctx, Some(challenge), events).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn open_session(
        &self,
        tenant: &Tenant,
        user: User,
        dialect: Dialect,
        device: Value,
        ctx: &ClientContext,
        spends: Option<Uuid>,
        events: impl FnOnce(&Session) -> Vec<AuditEvent>,
    ) -> CoreResult<Option<Authenticated>> {
        let now = self.now();
        let policy = &tenant.policy.sessions;
        let session = Session {
            id: Session::new_id(),
            tenant_id: tenant.id,
            user_id: user.id,
            application_id: ctx.application_id,
            dialect,
            device,
            ip: ctx.ip.clone(),
            user_agent: ctx.user_agent.clone(),
            created_at: now,
            last_active: now,
            expires_at: now + policy.absolute_lifetime_seconds,
            revoked_at: None,
        };
        let (refresh_token, refresh) = self.new_refresh_token(tenant, &session, None);
        let events = events(&session);
        let opening = SessionOpening {
            spends,
            session,
            refresh,
            max_concurrent: policy.max_concurrent,
            idle_timeout: policy.idle_timeout_seconds,
            events,
        };
        let Some(evicted) = self.store.open_session(&opening).await? else {
            return Ok(None);
        };
        for id in evicted {
            let detail = json!({"session": id});
            self.audit(Some(tenant.id), Some(user.id), AuditAction::SessionEvicted, "success", ctx, detail).await;
        }
        let SessionOpening { session, refresh, .. } = opening;
        Ok(Some(Authenticated { user, session, refresh_token, refresh_expires_at: refresh.expires_at }))
    }

    /// The session if it is alive now; counts the call as activity.
    pub async fn live_session(&self, tenant: &Tenant, session_id: &SessionId) -> CoreResult<Session> {
        let now = self.now();
        let session = self.store.session_by_id(tenant.id, session_id).await?.ok_or(CoreError::Unauthorized)?;
        self.keep_alive(tenant, session, now).await
    }

    /// The session if it is alive at `now`, its activity recorded (at most once a minute).
    async fn keep_alive(&self, tenant: &Tenant, mut session: Session, now: i64) -> CoreResult<Session> {
        if !session.is_alive(now, tenant.policy.sessions.idle_timeout_seconds) {
            return Err(CoreError::Unauthorized);
        }
        if now - session.last_active >= TOUCH_INTERVAL {
            self.store.touch_session(tenant.id, &session.id, now).await?;
            session.last_active = now;
        }
        Ok(session)
    }

    /// Rotates a refresh token. Exactly one concurrent caller wins; a token presented again after
    /// use revokes its whole session. The session's application is held to `guard` before anything
    /// is spent. One event per attempt: `refresh` (success, failure, expired) or `refresh.reuse` (a
    /// spent token presented again, a lost race included).
    pub async fn refresh(
        &self,
        tenant: &Tenant,
        token: &str,
        dialect: Dialect,
        guard: ApplicationGuard,
        ctx: &ClientContext,
    ) -> CoreResult<Refreshed> {
        let mut attempt = Attempt::new(Some(tenant.id), AuditAction::Refresh);
        let result = self.try_refresh(tenant, token, dialect, guard, ctx, &mut attempt).await;
        self.record_attempt(attempt, ctx, &result).await;
        result
    }

    async fn try_refresh(
        &self,
        tenant: &Tenant,
        token: &str,
        dialect: Dialect,
        guard: ApplicationGuard,
        ctx: &ClientContext,
        attempt: &mut Attempt,
    ) -> CoreResult<Refreshed> {
        if token.is_empty() || token.len() > 200 {
            return Err(attempt.refuse("failure", "malformed token", CoreError::InvalidRefreshToken));
        }
        let hash = crate::crypto::sha256(token.as_bytes());
        let now = self.now();
        // The session and user are read before the token is spent: once a caller has won the token,
        // a concurrent loser revoking the session (reuse detection) cannot turn the win into a failure.
        let Some((session, client)) = self.store.session_of_refresh_token(tenant.id, &hash, now).await? else {
            // Unknown, spent or expired: spending it again tells which.
            return self.spend_refused(tenant, &hash, now, None, ("expired", "token or session expired"), attempt).await;
        };
        attempt.user = Some(session.user_id);
        attempt.note("session", session.id.clone());
        if session.dialect != dialect {
            // Another dialect's session: its token is not ours to spend, nor to swap for ours.
            return Err(attempt.refuse("failure", "token of another dialect", CoreError::InvalidRefreshToken));
        }
        let user_id = session.user_id;
        let Ok(session) = self.keep_alive(tenant, session, now).await else {
            return self.spend_refused(tenant, &hash, now, Some(user_id), ("expired", "session ended"), attempt).await;
        };
        let Some(user) = self.store.user_by_id(tenant.id, session.user_id).await?.filter(|u| u.active) else {
            return self.spend_refused(tenant, &hash, now, Some(user_id), ("failure", "user gone or inactive"), attempt).await;
        };
        let (application, bound) = self.guard_application(tenant, &session, client, guard, attempt).await?;
        let grant = bound.as_ref().map(|b| b.grant.clone());
        let (refresh_token, next) = self.new_refresh_token(tenant, &session, bound);
        let event = self.audit_event(
            Some(tenant.id),
            Some(user.id),
            AuditAction::Refresh,
            "success",
            ctx,
            json!({"session": session.id}),
        );
        if self.store.rotate_refresh_token(tenant.id, &hash, now, &next, &event).await?.is_none() {
            // Another caller spent it between the read and now.
            return self.refused_refresh(tenant, &hash, attempt).await;
        }
        attempt.written();
        let auth = Authenticated { user, session, refresh_token, refresh_expires_at: next.expires_at };
        Ok(Refreshed { auth, application, grant })
    }

    /// The session's application as the guard requires it, and the client binding the token
    /// hands to its successor; a refusal leaves the token unspent.
    async fn guard_application(
        &self,
        tenant: &Tenant,
        session: &Session,
        issued_to: Option<ClientGrant>,
        guard: ApplicationGuard,
        attempt: &mut Attempt,
    ) -> CoreResult<(Option<Application>, Option<ClientGrant>)> {
        let admits = match guard {
            ApplicationGuard::Any => return Ok((None, None)),
            ApplicationGuard::Active { admits } => admits,
            ApplicationGuard::IssuedTo(client, proven) => {
                attempt.application = Some(client);
                let Some(bound) = issued_to.filter(|c| c.application_id == client) else {
                    return Err(attempt.refuse("failure", "token of another client", CoreError::InvalidRefreshToken));
                };
                if let Some(jkt) = bound.grant.get("jkt").and_then(serde_json::Value::as_str)
                    && !proven.is_some_and(|p| crate::crypto::ct_eq(&p, jkt.as_bytes()))
                {
                    return Err(attempt.refuse("failure", "token bound to another key", CoreError::InvalidRefreshToken));
                }
                return Ok((None, Some(bound)));
            }
        };
        attempt.application = session.application_id;
        let app = match session.application_id {
            Some(id) => self.store.application_by_id(tenant.id, id).await?,
            None => None,
        };
        match app.filter(|a| a.tenant_id == tenant.id && a.active && admits(a)) {
            Some(app) => Ok((Some(app), None)),
            None => Err(attempt.refuse("failure", "application gone or inactive", CoreError::UnknownApplication)),
        }
    }

    /// A token that cannot be honoured (dead session, inactive user, expired) is spent all the same,
    /// so that it cannot be tried again.
    async fn spend_refused(
        &self,
        tenant: &Tenant,
        hash: &[u8],
        now: i64,
        user: Option<UserId>,
        (outcome, reason): (&'static str, &'static str),
        attempt: &mut Attempt,
    ) -> CoreResult<Refreshed> {
        let Some(spent) = self.store.consume_refresh_token(tenant.id, hash, now).await? else {
            return self.refused_refresh(tenant, hash, attempt).await;
        };
        attempt.note("session", spent.session_id.clone());
        attempt.user = match user {
            Some(u) => Some(u),
            None => self.store.session_by_id(tenant.id, &spent.session_id).await?.map(|s| s.user_id),
        };
        Err(attempt.refuse(outcome, reason, CoreError::InvalidRefreshToken))
    }

    /// An unknown token is invalid; a spent one presented again revokes its session.
    async fn refused_refresh(&self, tenant: &Tenant, hash: &[u8], attempt: &mut Attempt) -> CoreResult<Refreshed> {
        let Some(used) = self.store.refresh_token_by_hash(tenant.id, hash).await? else {
            return Err(attempt.refuse("failure", "unknown token", CoreError::InvalidRefreshToken));
        };
        attempt.action = AuditAction::RefreshReuse;
        attempt.note("session", used.session_id.clone());
        let Some(s) = self.store.session_by_id(tenant.id, &used.session_id).await? else {
            return Err(attempt.refuse(
                "reused",
                "spent token presented again; its session is gone",
                CoreError::RefreshTokenReused,
            ));
        };
        attempt.user = Some(s.user_id);
        self.end_session(tenant.id, &s).await?;
        Err(attempt.refuse("session_revoked", "spent token presented again", CoreError::RefreshTokenReused))
    }

    /// The user's live sessions, most recently active first.
    pub async fn list_sessions(&self, tenant: &Tenant, user_id: UserId) -> CoreResult<Vec<Session>> {
        let now = self.now();
        let idle = tenant.policy.sessions.idle_timeout_seconds;
        Ok(self.store.list_live_sessions(tenant.id, user_id, now).await?.into_iter().filter(|s| s.is_alive(now, idle)).collect())
    }

    /// Ends one of the user's sessions; `NotFound` if it is not theirs (or not alive).
    pub async fn revoke_session(
        &self,
        tenant: &Tenant,
        user_id: UserId,
        session_id: &str,
        ctx: &ClientContext,
    ) -> CoreResult<()> {
        crate::model::text::check("id", session_id)?;
        if session_id.len() > 100 || !self.end_session_by_id(tenant.id, user_id, &SessionId::from(session_id)).await? {
            return Err(CoreError::NotFound);
        }
        self.audit(Some(tenant.id), Some(user_id), AuditAction::SessionRevoke, "success", ctx, json!({"session": session_id}))
            .await;
        Ok(())
    }

    /// Ends every session of the user; returns how many were alive.
    pub async fn revoke_all_sessions(&self, tenant: &Tenant, user_id: UserId, ctx: &ClientContext) -> CoreResult<u64> {
        let n = self.end_user_sessions(tenant.id, user_id).await?;
        self.audit(Some(tenant.id), Some(user_id), AuditAction::SessionRevokeAll, "success", ctx, json!({"revoked": n})).await;
        Ok(n)
    }

    /// The tenant a refresh token belongs to, for dialects whose clients send the token alone.
    /// Unknown tokens (and tenants the dialect does not serve) are `InvalidRefreshToken`, and
    /// their attempt (`action`: `refresh` or `logout`) is recorded here: an unknown token names no
    /// tenant, so neither does its event.
    pub async fn tenant_of_refresh_token(
        &self,
        token: &str,
        dialect: Dialect,
        action: AuditAction,
        ctx: &ClientContext,
    ) -> CoreResult<Tenant> {
        let mut attempt = Attempt::new(None, action);
        let result = self.find_tenant_of_refresh_token(token, dialect, &mut attempt).await;
        if result.is_err() {
            self.record_attempt(attempt, ctx, &result).await;
        }
        result
    }

    async fn find_tenant_of_refresh_token(&self, token: &str, dialect: Dialect, attempt: &mut Attempt) -> CoreResult<Tenant> {
        if token.is_empty() || token.len() > 200 {
            return Err(attempt.refuse("failure", "malformed token", CoreError::InvalidRefreshToken));
        }
        let hash = crate::crypto::sha256(token.as_bytes());
        let Some(id) = self.store.tenant_of_refresh_token(&hash).await? else {
            return Err(attempt.refuse("failure", "unknown token", CoreError::InvalidRefreshToken));
        };
        attempt.tenant = Some(id);
        let Ok(tenant) = self.tenants().find_tenant(&id.to_string()).await else {
            return Err(attempt.refuse("failure", "tenant gone", CoreError::InvalidRefreshToken));
        };
        if !tenant.serves(dialect) {
            return Err(attempt.refuse("failure", "tenant not served by this dialect", CoreError::InvalidRefreshToken));
        }
        Ok(tenant)
    }

    /// Ends the session of an unused, unexpired refresh token (logout by refresh token). One
    /// `logout` event, whatever the outcome.
    pub async fn end_session_by_refresh_token(&self, tenant: &Tenant, token: &str, ctx: &ClientContext) -> CoreResult<()> {
        let hash = crate::crypto::sha256(token.as_bytes());
        let now = self.now();
        let mut attempt = Attempt::new(Some(tenant.id), AuditAction::Logout);
        let result = async {
            let Some((session, _)) = self.store.session_of_refresh_token(tenant.id, &hash, now).await? else {
                return Err(attempt.refuse("failure", "token unknown, spent or expired", CoreError::InvalidRefreshToken));
            };
            attempt.user = Some(session.user_id);
            attempt.note("session", session.id.clone());
            self.end_session(tenant.id, &session).await?;
            Ok(())
        }
        .await;
        self.record_attempt(attempt, ctx, &result).await;
        result
    }
}
