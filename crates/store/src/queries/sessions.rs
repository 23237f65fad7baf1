//! Sessions, refresh tokens, and access tokens ended early.

use castellan_core::store::SessionOpening;

use super::rotations;
use super::*;

#[async_trait]
impl SessionStore for SqlStore {
    async fn revoke_token(&self, tenant: TenantId, jti: &str, expires_at: i64, now: i64) -> StoreResult<()> {
        execute!(self, "DELETE FROM revoked_tokens WHERE expires_at < $1", now).map(|_| ())?;
        let sql = "INSERT INTO revoked_tokens (jti, tenant_id, expires_at) VALUES ($1,$2,$3) ON CONFLICT (jti) DO NOTHING";
        let written = execute!(self, sql, jti, tenant.to_string(), expires_at).map(|_| ());
        if written.is_ok() {
            self.hot.denied_now(jti, expires_at, now);
        } else {
            // Whether it committed is unknown: the list is read again.
            self.hot.forget_everything();
        }
        written
    }

    async fn token_revoked(&self, jti: &str) -> StoreResult<bool> {
        if let Some(denied) = self.hot.denied(jti) {
            return Ok(denied);
        }
        let row: Option<(i64,)> = on_pool!(self, |p| sqlx::query_as("SELECT expires_at FROM revoked_tokens WHERE jti=$1")
            .bind(jti)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        Ok(row.is_some())
    }

    async fn insert_session(&self, s: &Session) -> StoreResult<()> {
        let sql = format!("INSERT INTO sessions ({SESSION_COLS}) VALUES {}", placeholder_rows(12, 1));
        let written =
            on_writer!(self, |p| bind_session!(sqlx::query(AssertSqlSafe(sql)), s).execute(p).await.map(|_| ()).map_err(db_err));
        self.hot.user_sessions_changed(s.tenant_id, s.user_id, false);
        written
    }

    async fn open_session(&self, opening: &SessionOpening) -> StoreResult<Option<Vec<SessionId>>> {
        // The hot state hears of it from the writing task (`Openings`).
        self.openings.submit(opening.clone()).await
    }

    async fn session_of_refresh_token(
        &self,
        tenant: TenantId,
        token_hash: &[u8],
        now: i64,
    ) -> StoreResult<Option<(Session, Option<ClientGrant>)>> {
        if let Some((id, client)) = self.hot.refresh_session(tenant, token_hash, now) {
            return Ok(self.session_by_id(tenant, &id).await?.map(|s| (s, client)));
        }
        let cols = SESSION_COLS.split(',').map(|c| format!("s.{}", c.trim())).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {cols}, r.application_id AS token_application_id, r.grant_data AS token_grant_data \
             FROM refresh_tokens r JOIN sessions s ON s.tenant_id=r.tenant_id AND s.id=r.session_id \
             WHERE r.tenant_id=$1 AND r.token_hash=$2 AND r.used_at IS NULL AND r.expires_at > $3"
        );
        fetch_optional!(self, SessionOfTokenRow, sql, tenant.to_string(), token_hash, now)
    }

    async fn session_by_id(&self, tenant: TenantId, id: &SessionId) -> StoreResult<Option<Session>> {
        if let Some(s) = self.hot.session(tenant, id) {
            return Ok(Some(s));
        }
        let epoch = self.hot.epoch();
        let sql = format!("SELECT {SESSION_COLS} FROM sessions WHERE tenant_id=$1 AND id=$2");
        let session: Option<Session> = fetch_optional!(self, SessionRow, sql, tenant.to_string(), id.as_str())?;
        if let Some(s) = &session {
            self.hot.put_session(epoch, s);
        }
        Ok(session)
    }

    async fn list_live_sessions(&self, tenant: TenantId, user: UserId, now: i64) -> StoreResult<Vec<Session>> {
        if let Some(live) = self.hot.live_sessions(tenant, user, now) {
            return Ok(live);
        }
        let epoch = self.hot.epoch();
        let sql = format!(
            "SELECT {SESSION_COLS} FROM sessions WHERE tenant_id=$1 AND user_id=$2 AND revoked_at IS NULL AND expires_at > $3 \
             ORDER BY last_active DESC, id DESC"
        );
        let rows: Vec<SessionRow> = on_pool!(self, |p| sqlx::query_as::<_, SessionRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(user.to_string())
            .bind(now)
            .fetch_all(p)
            .await
            .map_err(db_err))?;
        // A session of a dialect this version does not know (written by an earlier one) cannot be
        // used here; it must not keep the user's other sessions from being listed.
        let live: Vec<Session> = all(rows.into_iter().filter(SessionRow::of_known_dialect).collect())?;
        self.hot.put_live_sessions(epoch, tenant, user, &live);
        Ok(live)
    }

    async fn touch_session(&self, tenant: TenantId, id: &SessionId, now: i64) -> StoreResult<()> {
        let written = execute!(
            self,
            "UPDATE sessions SET last_active=$3 WHERE tenant_id=$1 AND id=$2 AND last_active < $3",
            tenant.to_string(),
            id.as_str(),
            now
        )
        .map(|_| ());
        self.hot.session_changed(tenant, user_of(&self.hot, tenant, id), id);
        written
    }

    async fn revoke_session(&self, tenant: TenantId, user: UserId, id: &SessionId, now: i64) -> StoreResult<bool> {
        let sql = "UPDATE sessions SET revoked_at=$4 WHERE tenant_id=$1 AND user_id=$2 AND id=$3 AND revoked_at IS NULL";
        let revoked = execute!(self, sql, tenant.to_string(), user.to_string(), id.as_str(), now).map(|n| n > 0);
        self.hot.session_changed(tenant, user, id);
        revoked
    }

    async fn revoke_user_sessions(&self, tenant: TenantId, user: UserId, now: i64) -> StoreResult<u64> {
        let sql =
            "UPDATE sessions SET revoked_at=$3 WHERE tenant_id=$1 AND user_id=$2 AND revoked_at IS NULL AND expires_at > $3";
        let revoked = on_writer!(self, |p| sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(user.to_string())
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
            .map_err(db_err));
        self.hot.user_sessions_changed(tenant, user, true);
        revoked
    }

    async fn insert_refresh_token(&self, r: &RefreshToken) -> StoreResult<()> {
        let sql = insert_refresh_sql();
        on_writer!(self, |p| bind_refresh!(sqlx::query(AssertSqlSafe(sql)), r).execute(p).await.map(|_| ()).map_err(db_err))?;
        self.hot.put_refresh(r);
        Ok(())
    }

    async fn consume_refresh_token(&self, tenant: TenantId, token_hash: &[u8], now: i64) -> StoreResult<Option<RefreshToken>> {
        let sql = consume_refresh_sql();
        self.hot.refresh_spent(token_hash);
        fetch_optional!(self, RefreshRow, sql, tenant.to_string(), token_hash, now)
    }

    async fn rotate_refresh_token(
        &self,
        tenant: TenantId,
        old_hash: &[u8],
        now: i64,
        new: &RefreshToken,
        event: &AuditEvent,
    ) -> StoreResult<Option<RefreshToken>> {
        // Forgotten before the spend: from here on the database alone says whether it is unused.
        self.hot.refresh_spent(old_hash);
        let rotation = rotations::Rotation { tenant, old_hash: old_hash.to_vec(), now, new: new.clone(), event: event.clone() };
        // The successor reaches the hot state from the writing task (`Rotations`).
        self.rotations.submit(rotation).await
    }

    async fn refresh_token_by_hash(&self, tenant: TenantId, token_hash: &[u8]) -> StoreResult<Option<RefreshToken>> {
        let sql = format!("SELECT {REFRESH_COLS} FROM refresh_tokens WHERE tenant_id=$1 AND token_hash=$2");
        fetch_optional!(self, RefreshRow, sql, tenant.to_string(), token_hash)
    }

    async fn tenant_of_refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<TenantId>> {
        let id: Option<String> =
            on_pool!(self, |p| sqlx::query_scalar("SELECT tenant_id FROM refresh_tokens WHERE token_hash=$1")
                .bind(token_hash)
                .fetch_optional(p)
                .await
                .map_err(db_err))?;
        id.map(|s| s.parse::<TenantId>().map_err(|e| StoreError::backend("bad uuid in database", e))).transpose()
    }
}

/// The user of a session, as far as this node holds it; a nil id when it does not (the session's
/// own entry is dropped all the same, and a user's list only holds sessions that are held).
fn user_of(hot: &crate::hot::HotState, tenant: TenantId, id: &SessionId) -> UserId {
    hot.session(tenant, id).map_or_else(|| UserId::from(Uuid::nil()), |s| s.user_id)
}
