//! OpenID Connect: authorization codes and remembered consents.

use super::*;

const CODE_COLS: &str = "code_hash, tenant_id, application_id, user_id, session_id, data, expires_at, used_at, created_at";
const CONSENT_COLS: &str = "tenant_id, user_id, application_id, scopes, created_at, updated_at";

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
}
