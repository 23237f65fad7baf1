//! OpenID Connect: authorization codes, remembered consents, device authorizations, pushed
//! requests and the one-time JWT identifiers seen recently.

use super::*;
use castellan_core::store::DeviceDecision;

const CODE_COLS: &str = "code_hash, tenant_id, application_id, user_id, session_id, data, expires_at, used_at, created_at";
const CONSENT_COLS: &str = "tenant_id, user_id, application_id, scopes, created_at, updated_at";
const DEVICE_COLS: &str = "device_hash, tenant_id, application_id, user_code_hash, scopes, status, user_id, session_id, \
                           data, interval_seconds, polled_at, slowed, expires_at, created_at";
const PUSHED_COLS: &str = "request_hash, tenant_id, application_id, params, expires_at, used_at, created_at";

/// How long a spent or expired code is kept: long enough for a replay to be recognised as one.
const CODE_KEPT_SECONDS: i64 = 3600;

#[async_trait]
impl AuthorizationStore for SqlStore {
    async fn insert_authorization_code(&self, c: &AuthorizationCode, now: i64) -> StoreResult<()> {
        execute!(self, "DELETE FROM oidc_codes WHERE expires_at < $1", now - CODE_KEPT_SECONDS)?;
        let sql = format!("INSERT INTO oidc_codes ({CODE_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)");
        execute!(
            self,
            sql,
            c.code_hash.clone(),
            c.tenant_id.to_string(),
            c.application_id.to_string(),
            c.user_id.to_string(),
            c.session_id.as_str(),
            to_json(&c.data),
            c.expires_at,
            c.used_at,
            c.created_at
        )
        .map(|_| ())
    }

    async fn authorization_code(&self, tenant: TenantId, code_hash: &[u8]) -> StoreResult<Option<AuthorizationCode>> {
        let sql = format!("SELECT {CODE_COLS} FROM oidc_codes WHERE tenant_id=$1 AND code_hash=$2");
        fetch_optional!(self, CodeRow, sql, tenant.to_string(), code_hash)
    }

    async fn redeem_authorization_code(&self, tenant: TenantId, code_hash: &[u8], now: i64) -> StoreResult<bool> {
        let sql = "UPDATE oidc_codes SET used_at=$3 WHERE tenant_id=$1 AND code_hash=$2 AND used_at IS NULL AND expires_at > $3";
        Ok(execute!(self, sql, tenant.to_string(), code_hash, now)? == 1)
    }

    async fn upsert_consent(&self, g: &ConsentGrant) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO oidc_consents ({CONSENT_COLS}) VALUES ($1,$2,$3,$4,$5,$6) \
             ON CONFLICT (tenant_id, user_id, application_id) DO UPDATE SET scopes=excluded.scopes, updated_at=excluded.updated_at"
        );
        execute!(
            self,
            sql,
            g.tenant_id.to_string(),
            g.user_id.to_string(),
            g.application_id.to_string(),
            to_json(&g.scopes),
            g.created_at,
            g.updated_at
        )
        .map(|_| ())
    }

    async fn consent(&self, tenant: TenantId, user: UserId, app: AppId) -> StoreResult<Option<ConsentGrant>> {
        let sql = format!("SELECT {CONSENT_COLS} FROM oidc_consents WHERE tenant_id=$1 AND user_id=$2 AND application_id=$3");
        fetch_optional!(self, ConsentRow, sql, tenant.to_string(), user.to_string(), app.to_string())
    }

    async fn list_consents(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<ConsentGrant>> {
        let sql = format!(
            "SELECT {CONSENT_COLS} FROM oidc_consents WHERE tenant_id=$1 AND user_id=$2 ORDER BY created_at, application_id"
        );
        fetch_all!(self, ConsentRow, sql, tenant.to_string(), user.to_string())
    }

    async fn delete_consent(&self, tenant: TenantId, user: UserId, app: AppId) -> StoreResult<bool> {
        let sql = "DELETE FROM oidc_consents WHERE tenant_id=$1 AND user_id=$2 AND application_id=$3";
        Ok(execute!(self, sql, tenant.to_string(), user.to_string(), app.to_string())? == 1)
    }

    async fn insert_device_grant(&self, g: &DeviceGrant, now: i64) -> StoreResult<()> {
        execute!(self, "DELETE FROM oidc_device_grants WHERE expires_at < $1", now - CODE_KEPT_SECONDS)?;
        let sql =
            format!("INSERT INTO oidc_device_grants ({DEVICE_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)");
        execute!(
            self,
            sql,
            g.device_hash.clone(),
            g.tenant_id.to_string(),
            g.application_id.to_string(),
            g.user_code_hash.clone(),
            to_json(&g.scopes),
            g.status.as_str(),
            g.user_id.map(|u| u.to_string()),
            g.session_id.as_ref().map(|s| s.as_str().to_string()),
            to_json(&g.data),
            g.interval,
            g.polled_at,
            i64::from(g.slowed),
            g.expires_at,
            g.created_at
        )
        .map(|_| ())
    }

    async fn device_grant_by_user_code(&self, tenant: TenantId, user_code_hash: &[u8]) -> StoreResult<Option<DeviceGrant>> {
        let sql = format!("SELECT {DEVICE_COLS} FROM oidc_device_grants WHERE tenant_id=$1 AND user_code_hash=$2");
        fetch_optional!(self, DeviceGrantRow, sql, tenant.to_string(), user_code_hash)
    }

    async fn decide_device_grant(
        &self,
        tenant: TenantId,
        device_hash: &[u8],
        decision: DeviceDecision<'_>,
        now: i64,
    ) -> StoreResult<bool> {
        let (status, user, session, data) = match decision {
            DeviceDecision::Approve { user, session, data } => {
                (DeviceStatus::Approved, Some(user.to_string()), Some(session.as_str().to_string()), to_json(data))
            }
            DeviceDecision::Deny => (DeviceStatus::Denied, None, None, "{}".to_string()),
        };
        let sql = "UPDATE oidc_device_grants SET status=$3, user_id=$4, session_id=$5, data=$6 \
                   WHERE tenant_id=$1 AND device_hash=$2 AND status='pending' AND expires_at > $7";
        Ok(execute!(self, sql, tenant.to_string(), device_hash, status.as_str(), user, session, data, now)? == 1)
    }

    async fn poll_device_grant(&self, tenant: TenantId, device_hash: &[u8], now: i64) -> StoreResult<Option<DeviceGrant>> {
        // One statement decides and records, so that polls racing on two nodes see each other.
        let sql = format!(
            "UPDATE oidc_device_grants SET \
               slowed = CASE WHEN polled_at IS NOT NULL AND $3 < polled_at + interval_seconds THEN 1 ELSE 0 END, \
               interval_seconds = CASE WHEN polled_at IS NOT NULL AND $3 < polled_at + interval_seconds \
                                  THEN interval_seconds + 5 ELSE interval_seconds END, \
               polled_at = $3 \
             WHERE tenant_id=$1 AND device_hash=$2 RETURNING {DEVICE_COLS}"
        );
        let row = on_writer!(self, |p| sqlx::query_as::<_, DeviceGrantRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(device_hash)
            .bind(now)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn redeem_device_grant(&self, tenant: TenantId, device_hash: &[u8], now: i64) -> StoreResult<bool> {
        let sql = "UPDATE oidc_device_grants SET status='redeemed' \
                   WHERE tenant_id=$1 AND device_hash=$2 AND status='approved' AND expires_at > $3";
        Ok(execute!(self, sql, tenant.to_string(), device_hash, now)? == 1)
    }

    async fn insert_pushed_request(&self, r: &PushedRequest, now: i64) -> StoreResult<()> {
        execute!(self, "DELETE FROM oidc_pushed_requests WHERE expires_at < $1", now - CODE_KEPT_SECONDS)?;
        let sql = format!("INSERT INTO oidc_pushed_requests ({PUSHED_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7)");
        execute!(
            self,
            sql,
            r.request_hash.clone(),
            r.tenant_id.to_string(),
            r.application_id.to_string(),
            to_json(&r.params),
            r.expires_at,
            r.used_at,
            r.created_at
        )
        .map(|_| ())
    }

    async fn take_pushed_request(
        &self,
        tenant: TenantId,
        app: AppId,
        request_hash: &[u8],
        now: i64,
    ) -> StoreResult<Option<PushedRequest>> {
        let sql = format!(
            "UPDATE oidc_pushed_requests SET used_at=$4 \
             WHERE tenant_id=$1 AND application_id=$2 AND request_hash=$3 AND used_at IS NULL AND expires_at > $4 \
             RETURNING {PUSHED_COLS}"
        );
        let row = on_writer!(self, |p| sqlx::query_as::<_, PushedRequestRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(app.to_string())
            .bind(request_hash)
            .bind(now)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn first_sight_of_jti(&self, tenant: TenantId, jti_hash: &[u8], expires_at: i64, now: i64) -> StoreResult<bool> {
        // Pruning costs a statement: one insert in 64 pays for it.
        if jti_hash.first().is_some_and(|b| b % 64 == 0) {
            execute!(self, "DELETE FROM oidc_seen_jtis WHERE expires_at < $1", now)?;
        }
        let sql = "INSERT INTO oidc_seen_jtis (tenant_id, jti_hash, expires_at) VALUES ($1,$2,$3) \
                   ON CONFLICT (tenant_id, jti_hash) DO NOTHING";
        Ok(execute!(self, sql, tenant.to_string(), jti_hash, expires_at)? == 1)
    }

    async fn track_session_client(&self, tenant: TenantId, c: &SessionClient, now: i64) -> StoreResult<()> {
        let sql = "INSERT INTO oidc_session_clients (tenant_id, session_id, application_id, user_id, created_at) \
                   VALUES ($1,$2,$3,$4,$5) ON CONFLICT (session_id, application_id) DO NOTHING";
        let (session, app, user) = (c.session_id.as_str(), c.application_id.to_string(), c.user_id.to_string());
        execute!(self, sql, tenant.to_string(), session, app, user, now).map(|_| ())
    }

    async fn take_session_clients(
        &self,
        tenant: TenantId,
        user: UserId,
        session: Option<&SessionId>,
    ) -> StoreResult<Vec<SessionClient>> {
        let sql = "DELETE FROM oidc_session_clients WHERE tenant_id=$1 AND user_id=$2 AND ($3 IS NULL OR session_id=$3) \
                   RETURNING session_id, application_id, user_id";
        let rows = on_writer!(self, |p| sqlx::query_as::<_, SessionClientRow>(sql)
            .bind(tenant.to_string())
            .bind(user.to_string())
            .bind(session.map(SessionId::as_str))
            .fetch_all(p)
            .await
            .map_err(db_err))?;
        all(rows)
    }

    async fn insert_registration_token(&self, t: &RegistrationToken) -> StoreResult<()> {
        if let Some(app) = t.application_id {
            execute!(self, "DELETE FROM oidc_registration_tokens WHERE application_id=$1", app.to_string())?;
        }
        let sql = "INSERT INTO oidc_registration_tokens (token_hash, tenant_id, application_id, uses_left, expires_at, created_at) \
                   VALUES ($1,$2,$3,$4,$5,$6)";
        let app = t.application_id.map(|a| a.to_string());
        execute!(
            self,
            sql,
            t.token_hash.clone(),
            t.tenant_id.to_string(),
            app,
            t.uses_left.map(i64::from),
            t.expires_at,
            t.created_at
        )
        .map(|_| ())
    }

    async fn spend_initial_access_token(&self, tenant: TenantId, token_hash: &[u8], now: i64) -> StoreResult<bool> {
        let sql = "UPDATE oidc_registration_tokens SET uses_left=uses_left-1 WHERE tenant_id=$1 AND token_hash=$2 \
                   AND application_id IS NULL AND uses_left > 0 AND expires_at > $3";
        Ok(execute!(self, sql, tenant.to_string(), token_hash, now)? == 1)
    }

    async fn client_of_registration_token(&self, tenant: TenantId, token_hash: &[u8]) -> StoreResult<Option<AppId>> {
        let sql = "SELECT application_id FROM oidc_registration_tokens WHERE tenant_id=$1 AND token_hash=$2 \
                   AND application_id IS NOT NULL";
        let id: Option<String> = on_pool!(self, |p| sqlx::query_scalar(sql)
            .bind(tenant.to_string())
            .bind(token_hash)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        id.map(|i| uuid(&i)).transpose()
    }
}
