//! Sessions, refresh tokens, and access tokens ended early.

use super::*;

#[async_trait]
impl SessionStore for SqlStore {
    async fn revoke_token(&self, tenant: TenantId, jti: &str, expires_at: i64, now: i64) -> StoreResult<()> {
        execute!(self, "DELETE FROM revoked_tokens WHERE expires_at < $1", now).map(|_| ())?;
        let sql = "INSERT INTO revoked_tokens (jti, tenant_id, expires_at) VALUES ($1,$2,$3) ON CONFLICT (jti) DO NOTHING";
        execute!(self, sql, jti, tenant.to_string(), expires_at).map(|_| ())
    }

    async fn token_revoked(&self, jti: &str) -> StoreResult<bool> {
        let row: Option<(i64,)> = on_pool!(self, |p| sqlx::query_as("SELECT expires_at FROM revoked_tokens WHERE jti=$1")
            .bind(jti)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        Ok(row.is_some())
    }

    async fn insert_session(&self, s: &Session) -> StoreResult<()> {
        let sql = format!("INSERT INTO sessions ({SESSION_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)");
        execute!(
            self,
            sql,
            s.id.as_str(),
            s.tenant_id.to_string(),
            s.user_id.to_string(),
            s.application_id.map(|a| a.to_string()),
            s.dialect.as_str(),
            to_json(&s.device),
            s.ip.clone(),
            s.user_agent.clone(),
            s.created_at,
            s.last_active,
            s.expires_at,
            s.revoked_at
        )
        .map(|_| ())
    }

    async fn session_of_refresh_token(&self, tenant: TenantId, token_hash: &[u8], now: i64) -> StoreResult<Option<Session>> {
        let cols = SESSION_COLS.split(',').map(|c| format!("s.{}", c.trim())).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {cols} FROM refresh_tokens r JOIN sessions s ON s.tenant_id=r.tenant_id AND s.id=r.session_id \
             WHERE r.tenant_id=$1 AND r.token_hash=$2 AND r.used_at IS NULL AND r.expires_at > $3"
        );
        fetch_optional!(self, SessionRow, sql, tenant.to_string(), token_hash, now)
    }

    async fn session_by_id(&self, tenant: TenantId, id: &SessionId) -> StoreResult<Option<Session>> {
        let sql = format!("SELECT {SESSION_COLS} FROM sessions WHERE tenant_id=$1 AND id=$2");
        fetch_optional!(self, SessionRow, sql, tenant.to_string(), id.as_str())
    }

    async fn list_live_sessions(&self, tenant: TenantId, user: UserId, now: i64) -> StoreResult<Vec<Session>> {
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
        all(rows.into_iter().filter(SessionRow::of_known_dialect).collect())
    }

    async fn touch_session(&self, tenant: TenantId, id: &SessionId, now: i64) -> StoreResult<()> {
        execute!(
            self,
            "UPDATE sessions SET last_active=$3 WHERE tenant_id=$1 AND id=$2 AND last_active < $3",
            tenant.to_string(),
            id.as_str(),
            now
        )
        .map(|_| ())
    }

    async fn revoke_session(&self, tenant: TenantId, user: UserId, id: &SessionId, now: i64) -> StoreResult<bool> {
        let sql = "UPDATE sessions SET revoked_at=$4 WHERE tenant_id=$1 AND user_id=$2 AND id=$3 AND revoked_at IS NULL";
        execute!(self, sql, tenant.to_string(), user.to_string(), id.as_str(), now).map(|n| n > 0)
    }

    async fn revoke_user_sessions(&self, tenant: TenantId, user: UserId, now: i64) -> StoreResult<u64> {
        let sql =
            "UPDATE sessions SET revoked_at=$3 WHERE tenant_id=$1 AND user_id=$2 AND revoked_at IS NULL AND expires_at > $3";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(user.to_string())
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
            .map_err(db_err))
    }

    async fn insert_refresh_token(&self, r: &RefreshToken) -> StoreResult<()> {
        let sql = insert_refresh_sql();
        on_writer!(self, |p| bind_refresh!(sqlx::query(AssertSqlSafe(sql)), r).execute(p).await.map(|_| ()).map_err(db_err))
    }

    async fn consume_refresh_token(&self, tenant: TenantId, token_hash: &[u8], now: i64) -> StoreResult<Option<RefreshToken>> {
        let sql = consume_refresh_sql();
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
        let consume = consume_refresh_sql();
        let insert = insert_refresh_sql();
        let audit = insert_audit_sql();
        let row = on_writer!(self, |p| async {
            let mut tx = p.begin().await?;
            let row = sqlx::query_as::<_, RefreshRow>(AssertSqlSafe(consume))
                .bind(tenant.to_string())
                .bind(old_hash)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            if row.is_none() {
                tx.rollback().await?;
                return Ok(None);
            }
            bind_refresh!(sqlx::query(AssertSqlSafe(insert)), new).execute(&mut *tx).await?;
            bind_audit!(sqlx::query(AssertSqlSafe(audit)), event).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(row)
        }
        .await
        .map_err(db_err))?;
        one(row)
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
