//! Applications, their API keys and callback secrets.

use super::*;

#[async_trait]
impl ApplicationStore for SqlStore {
    async fn insert_application(&self, a: &Application) -> StoreResult<()> {
        let sql = format!("INSERT INTO applications ({APP_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)");
        execute!(
            self,
            sql,
            a.id.to_string(),
            a.tenant_id.to_string(),
            &a.client_id,
            &a.name,
            a.kind.as_str(),
            a.secret_hash.clone(),
            a.kumusoft_tag.clone(),
            a.mosip_app_id.clone(),
            to_json(&a.roles),
            to_json(&a.allowed_ips),
            a.callback_url.clone(),
            to_json(&a.redirect_uris),
            a.single_otp_channel.then_some("true"),
            a.active,
            a.created_at
        )
        .map(|_| ())
    }

    async fn update_application(&self, a: &Application) -> StoreResult<()> {
        let sql = "UPDATE applications SET name=$3, secret_hash=$4, kumusoft_tag=$5, mosip_app_id=$6, roles=$7, allowed_ips=$8, \
                   callback_url=$9, redirect_uris=$10, single_otp_channel=$11, active=$12 WHERE tenant_id=$1 AND id=$2";
        execute!(
            self,
            sql,
            a.tenant_id.to_string(),
            a.id.to_string(),
            &a.name,
            a.secret_hash.clone(),
            a.kumusoft_tag.clone(),
            a.mosip_app_id.clone(),
            to_json(&a.roles),
            to_json(&a.allowed_ips),
            a.callback_url.clone(),
            to_json(&a.redirect_uris),
            a.single_otp_channel.then_some("true"),
            a.active
        )
        .map(|_| ())
    }

    async fn application_by_client_id(&self, tenant: Uuid, client_id: &str) -> StoreResult<Option<Application>> {
        let sql = format!("SELECT {APP_COLS} FROM applications WHERE tenant_id=$1 AND client_id=$2");
        fetch_optional!(self, ApplicationRow, sql, tenant.to_string(), client_id)
    }

    async fn application_by_kumusoft_tag(&self, tag: &str) -> StoreResult<Option<Application>> {
        let sql = format!("SELECT {APP_COLS} FROM applications WHERE kumusoft_tag=$1");
        fetch_optional!(self, ApplicationRow, sql, tag)
    }

    async fn application_by_mosip_app_id(&self, app_id: &str) -> StoreResult<Option<Application>> {
        let sql = format!("SELECT {APP_COLS} FROM applications WHERE mosip_app_id=$1");
        fetch_optional!(self, ApplicationRow, sql, app_id)
    }

    async fn application_by_id(&self, tenant: Uuid, id: Uuid) -> StoreResult<Option<Application>> {
        let sql = format!("SELECT {APP_COLS} FROM applications WHERE tenant_id=$1 AND id=$2");
        fetch_optional!(self, ApplicationRow, sql, tenant.to_string(), id.to_string())
    }

    async fn list_applications(&self, tenant: Uuid) -> StoreResult<Vec<Application>> {
        let sql = format!("SELECT {APP_COLS} FROM applications WHERE tenant_id=$1 ORDER BY created_at, id");
        fetch_all!(self, ApplicationRow, sql, tenant.to_string())
    }

    async fn delete_application(&self, tenant: Uuid, id: Uuid) -> StoreResult<bool> {
        execute!(self, "DELETE FROM applications WHERE tenant_id=$1 AND id=$2", tenant.to_string(), id.to_string()).map(|n| n > 0)
    }

    async fn insert_api_key(&self, tenant: Uuid, app: Uuid, prefix: &str, key_hash: &[u8], now: i64) -> StoreResult<()> {
        let sql = "INSERT INTO api_keys (id, tenant_id, application_id, prefix, key_hash, created_at) VALUES ($1,$2,$3,$4,$5,$6)";
        execute!(self, sql, new_id().to_string(), tenant.to_string(), app.to_string(), prefix, key_hash, now).map(|_| ())
    }

    async fn application_by_api_key(&self, key_hash: &[u8]) -> StoreResult<Option<Application>> {
        let cols = APP_COLS.split(", ").map(|c| format!("a.{}", c.trim())).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {cols} FROM api_keys k JOIN applications a ON a.id = k.application_id \
             WHERE k.key_hash=$1 AND k.revoked_at IS NULL"
        );
        fetch_optional!(self, ApplicationRow, sql, key_hash)
    }

    async fn api_key_prefix(&self, tenant: Uuid, app: Uuid) -> StoreResult<Option<String>> {
        let sql = "SELECT prefix FROM api_keys WHERE tenant_id=$1 AND application_id=$2 AND revoked_at IS NULL \
                   ORDER BY created_at DESC, id DESC LIMIT 1";
        on_pool!(self, |p| sqlx::query_scalar::<_, String>(sql)
            .bind(tenant.to_string())
            .bind(app.to_string())
            .fetch_optional(p)
            .await
            .map_err(db_err))
    }

    async fn revoke_api_keys(&self, tenant: Uuid, app: Uuid, now: i64) -> StoreResult<()> {
        let sql = "UPDATE api_keys SET revoked_at=$3 WHERE tenant_id=$1 AND application_id=$2 AND revoked_at IS NULL";
        execute!(self, sql, tenant.to_string(), app.to_string(), now).map(|_| ())
    }

    async fn set_callback_secret(&self, tenant: Uuid, app: Uuid, sealed: &[u8]) -> StoreResult<()> {
        let sql = "UPDATE applications SET callback_secret_sealed=$3 WHERE tenant_id=$1 AND id=$2";
        execute!(self, sql, tenant.to_string(), app.to_string(), sealed).map(|_| ())
    }

    async fn callback_secret(&self, tenant: Uuid, app: Uuid) -> StoreResult<Option<Vec<u8>>> {
        let sql = "SELECT callback_secret_sealed FROM applications WHERE tenant_id=$1 AND id=$2";
        let got = on_pool!(self, |p| sqlx::query_scalar::<_, Option<Vec<u8>>>(sql)
            .bind(tenant.to_string())
            .bind(app.to_string())
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        Ok(got.flatten())
    }
}
