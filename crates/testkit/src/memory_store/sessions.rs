//! Sessions, refresh tokens, and access tokens ended early.

use super::*;
use castellan_core::store::{SessionOpening, SessionStore};

impl State {
    /// Whether `r` could be stored: its text, its unique keys, the rows it names.
    fn check_refresh_token(&self, r: &RefreshToken) -> StoreResult<()> {
        text(r.session_id.as_str())?;
        unique(&[
            (self.refresh_tokens.iter().any(|x| x.id == r.id), ConflictOn::Other),
            (self.refresh_tokens.iter().any(|x| x.token_hash == r.token_hash), ConflictOn::Other),
        ])?;
        self.require_tenant(r.tenant_id)?;
        self.require_session(&r.session_id)
    }

    fn unused_refresh_token(&mut self, tenant: TenantId, token_hash: &[u8]) -> Option<&mut RefreshToken> {
        self.refresh_tokens.iter_mut().find(|r| r.tenant_id == tenant && r.token_hash == token_hash && r.used_at.is_none())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn revoke_token(&self, tenant: TenantId, jti: &str, expires_at: i64, now: i64) -> StoreResult<()> {
        let mut s = self.state();
        s.revoked_tokens.retain(|r| r.expires_at >= now);
        text(jti)?;
        if s.revoked_tokens.iter().any(|r| r.jti == jti) {
            return Ok(());
        }
        s.require_tenant(tenant)?;
        s.revoked_tokens.push(RevokedToken { jti: jti.to_string(), tenant_id: tenant, expires_at });
        Ok(())
    }

    async fn token_revoked(&self, jti: &str) -> StoreResult<bool> {
        text(jti)?;
        Ok(self.state().revoked_tokens.iter().any(|r| r.jti == jti))
    }

    async fn insert_session(&self, session: &Session) -> StoreResult<()> {
        texts([Some(session.id.as_str()), session.ip.as_deref(), session.user_agent.as_deref()])?;
        let mut s = self.state();
        unique(&[(s.sessions.iter().any(|x| x.id == session.id), ConflictOn::Other)])?;
        s.require_tenant(session.tenant_id)?;
        s.require_user(session.user_id)?;
        s.sessions.push(session.clone());
        Ok(())
    }

    async fn open_session(&self, opening: &SessionOpening) -> StoreResult<Option<Vec<SessionId>>> {
        let session = &opening.session;
        let (tenant, now) = (session.tenant_id, session.created_at);
        texts([Some(session.id.as_str()), session.ip.as_deref(), session.user_agent.as_deref()])?;
        let mut s = self.state();
        // Everything is checked before anything is written: the transaction is all or nothing.
        let challenge = match opening.spends {
            None => None,
            Some(id) => {
                let spendable = |c: &Challenge| {
                    c.tenant_id == tenant
                        && c.id == id
                        && c.consumed_at.is_none()
                        && c.expires_at > now
                        && c.attempts < c.max_attempts
                };
                match s.challenges.iter().position(spendable) {
                    Some(i) => Some(i),
                    None => return Ok(None),
                }
            }
        };
        unique(&[(s.sessions.iter().any(|x| x.id == session.id), ConflictOn::Other)])?;
        s.require_tenant(tenant)?;
        s.require_user(session.user_id)?;
        s.sessions.push(session.clone());
        let events = &opening.events;
        let checked = s
            .check_refresh_token(&opening.refresh)
            .and_then(|()| events.iter().enumerate().try_for_each(|(i, e)| s.check_audit_event(e, &events[..i])));
        if let Err(e) = checked {
            s.sessions.pop();
            return Err(e);
        }
        s.audit_events.extend(opening.events.iter().cloned());
        s.refresh_tokens.push(opening.refresh.clone());
        if let Some(i) = challenge {
            s.challenges[i].consumed_at = Some(now);
        }
        let mut live: Vec<&mut Session> = s
            .sessions
            .iter_mut()
            .filter(|x| x.tenant_id == tenant && x.user_id == session.user_id && x.is_alive(now, opening.idle_timeout))
            .collect();
        live.sort_by(|a, b| (b.last_active, &b.id).cmp(&(a.last_active, &a.id)));
        let mut ended = Vec::new();
        for x in live.into_iter().skip(opening.max_concurrent as usize) {
            x.revoked_at = Some(now);
            ended.push(x.id.clone());
        }
        Ok(Some(ended))
    }

    async fn session_by_id(&self, tenant: TenantId, id: &SessionId) -> StoreResult<Option<Session>> {
        text(id.as_str())?;
        Ok(self.state().sessions.iter().find(|s| s.tenant_id == tenant && s.id == *id).cloned())
    }

    async fn list_live_sessions(&self, tenant: TenantId, user: UserId, now: i64) -> StoreResult<Vec<Session>> {
        let s = self.state();
        let mut live: Vec<Session> = s
            .sessions
            .iter()
            .filter(|x| x.tenant_id == tenant && x.user_id == user && x.revoked_at.is_none() && x.expires_at > now)
            .cloned()
            .collect();
        live.sort_by(|a, b| (b.last_active, &b.id).cmp(&(a.last_active, &a.id)));
        Ok(live)
    }

    async fn touch_session(&self, tenant: TenantId, id: &SessionId, now: i64) -> StoreResult<()> {
        text(id.as_str())?;
        let mut s = self.state();
        if let Some(x) = s.sessions.iter_mut().find(|x| x.tenant_id == tenant && x.id == *id && x.last_active < now) {
            x.last_active = now;
        }
        Ok(())
    }

    async fn revoke_session(&self, tenant: TenantId, user: UserId, id: &SessionId, now: i64) -> StoreResult<bool> {
        text(id.as_str())?;
        let mut s = self.state();
        let row =
            s.sessions.iter_mut().find(|x| x.tenant_id == tenant && x.user_id == user && x.id == *id && x.revoked_at.is_none());
        Ok(row.map(|x| x.revoked_at = Some(now)).is_some())
    }

    async fn revoke_user_sessions(&self, tenant: TenantId, user: UserId, now: i64) -> StoreResult<u64> {
        let mut s = self.state();
        let mut revoked = 0;
        for x in s.sessions.iter_mut() {
            if x.tenant_id == tenant && x.user_id == user && x.revoked_at.is_none() && x.expires_at > now {
                x.revoked_at = Some(now);
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    async fn insert_refresh_token(&self, r: &RefreshToken) -> StoreResult<()> {
        let mut s = self.state();
        s.check_refresh_token(r)?;
        s.refresh_tokens.push(r.clone());
        Ok(())
    }

    async fn consume_refresh_token(&self, tenant: TenantId, token_hash: &[u8], now: i64) -> StoreResult<Option<RefreshToken>> {
        let mut s = self.state();
        Ok(s.unused_refresh_token(tenant, token_hash).map(|r| {
            r.used_at = Some(now);
            r.clone()
        }))
    }

    async fn rotate_refresh_token(
        &self,
        tenant: TenantId,
        old_hash: &[u8],
        now: i64,
        new: &RefreshToken,
        event: &AuditEvent,
    ) -> StoreResult<Option<RefreshToken>> {
        let mut s = self.state();
        // Everything is checked before anything is written: the transaction is all or nothing.
        let Some(i) =
            s.refresh_tokens.iter().position(|r| r.tenant_id == tenant && r.token_hash == old_hash && r.used_at.is_none())
        else {
            return Ok(None);
        };
        s.check_refresh_token(new)?;
        s.check_audit_event(event, &[])?;
        s.refresh_tokens[i].used_at = Some(now);
        let spent = s.refresh_tokens[i].clone();
        s.refresh_tokens.push(new.clone());
        s.audit_events.push(event.clone());
        Ok(Some(spent))
    }

    async fn refresh_token_by_hash(&self, tenant: TenantId, token_hash: &[u8]) -> StoreResult<Option<RefreshToken>> {
        Ok(self.state().refresh_tokens.iter().find(|r| r.tenant_id == tenant && r.token_hash == token_hash).cloned())
    }

    async fn tenant_of_refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<TenantId>> {
        Ok(self.state().refresh_tokens.iter().find(|r| r.token_hash == token_hash).map(|r| r.tenant_id))
    }

    async fn session_of_refresh_token(
        &self,
        tenant: TenantId,
        token_hash: &[u8],
        now: i64,
    ) -> StoreResult<Option<(Session, Option<ClientGrant>)>> {
        let s = self.state();
        let token = s
            .refresh_tokens
            .iter()
            .find(|r| r.tenant_id == tenant && r.token_hash == token_hash && r.used_at.is_none() && r.expires_at > now);
        Ok(token.and_then(|r| {
            let session = s.sessions.iter().find(|x| x.tenant_id == r.tenant_id && x.id == r.session_id)?;
            Some((session.clone(), r.client.clone()))
        }))
    }
}
