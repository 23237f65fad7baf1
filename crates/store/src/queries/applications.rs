//! Applications, their API keys and callback secrets.

use super::*;

const INSERT_ALIAS: &str = "INSERT INTO application_aliases (dialect, alias, tenant_id, application_id) VALUES ($1,$2,$3,$4)";

/// `cols` with each column qualified by `table`.
fn prefixed(table: &str, cols: &str) -> String {
    cols.split(", ").map(|c| format!("{table}.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

/// The error of an application write: a clash on an alias is a conflict on that dialect's alias
/// field (the store cannot tell which alias from the engine's message, the loop knows).
fn alias_err((dialect, e): (Option<Dialect>, sqlx::Error)) -> StoreError {
    match (dialect, &e) {
        (Some(d), sqlx::Error::Database(db)) if db.is_unique_violation() => StoreError::Conflict(ConflictOn::Alias(d)),
        _ => db_err(e),
    }
}

impl SqlStore {
    /// The application with its aliases filled in.
    async fn with_aliases(&self, app: Option<Application>) -> StoreResult<Option<Application>> {
        let Some(mut app) = app else { return Ok(None) };
        let sql = "SELECT application_id, dialect, alias FROM application_aliases WHERE application_id=$1";
        let rows: Vec<AliasRow> =
            on_pool!(self, |p| sqlx::query_as::<_, AliasRow>(sql).bind(app.id.to_string()).fetch_all(p).await.map_err(db_err))?;
        for row in rows {
            let (_, dialect, alias) = row.parse()?;
            app.aliases.insert(dialect, alias);
        }
        Ok(Some(app))
    }
}

#[async_trait]
impl ApplicationStore for SqlStore {
    async fn insert_application(&self, a: &Application) -> StoreResult<()> {
        let sql = format!("INSERT INTO applications ({APP_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)");
        let written = on_writer!(self, |p| async {
            let mut tx = p.begin().await.map_err(|e| (None, e))?;
            sqlx::query(AssertSqlSafe(sql))
                .bind(a.id.to_string())
                .bind(a.tenant_id.to_string())
                .bind(&a.client_id)
                .bind(&a.name)
                .bind(a.kind.as_str())
                .bind(a.secret_hash.clone())
                .bind(to_json(&a.roles))
                .bind(to_json(&a.allowed_ips))
                .bind(a.callback_url.clone())
                .bind(to_json(&a.redirect_uris))
                .bind(a.single_otp_channel.then_some("true"))
                .bind(a.active)
                .bind(a.created_at)
                .bind(to_json(&a.oauth))
                .bind(a.hosted_webauthn)
                .execute(&mut *tx)
                .await
                .map_err(|e| (None, e))?;
            for (dialect, alias) in &a.aliases {
                sqlx::query(INSERT_ALIAS)
                    .bind(dialect.as_str())
                    .bind(alias)
                    .bind(a.tenant_id.to_string())
                    .bind(a.id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| (Some(*dialect), e))?;
            }
            tx.commit().await.map_err(|e| (None, e))
        }
        .await);
        written.map_err(alias_err)
    }

    async fn update_application(&self, a: &Application) -> StoreResult<()> {
        let sql = "UPDATE applications SET name=$3, secret_hash=$4, roles=$5, allowed_ips=$6, \
                   callback_url=$7, redirect_uris=$8, single_otp_channel=$9, active=$10, oidc=$11, hosted_webauthn=$12 WHERE tenant_id=$1 AND id=$2";
        let written = on_writer!(self, |p| async {
            let mut tx = p.begin().await.map_err(|e| (None, e))?;
            let updated = sqlx::query(sql)
                .bind(a.tenant_id.to_string())
                .bind(a.id.to_string())
                .bind(&a.name)
                .bind(a.secret_hash.clone())
                .bind(to_json(&a.roles))
                .bind(to_json(&a.allowed_ips))
                .bind(a.callback_url.clone())
                .bind(to_json(&a.redirect_uris))
                .bind(a.single_otp_channel.then_some("true"))
                .bind(a.active)
                .bind(to_json(&a.oauth))
                .bind(a.hosted_webauthn)
                .execute(&mut *tx)
                .await
                .map_err(|e| (None, e))?;
            // No such application in this tenant: its aliases are not this update's to write (the
            // id may be another tenant's application).
            if updated.rows_affected() == 0 {
                return Ok(());
            }
            sqlx::query("DELETE FROM application_aliases WHERE tenant_id=$1 AND application_id=$2")
                .bind(a.tenant_id.to_string())
                .bind(a.id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(|e| (None, e))?;
            for (dialect, alias) in &a.aliases {
                sqlx::query(INSERT_ALIAS)
                    .bind(dialect.as_str())
                    .bind(alias)
                    .bind(a.tenant_id.to_string())
                    .bind(a.id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| (Some(*dialect), e))?;
            }
            tx.commit().await.map_err(|e| (None, e))
        }
        .await);
        written.map_err(alias_err)
    }

    async fn application_by_client_id(&self, tenant: TenantId, client_id: &str) -> StoreResult<Option<Application>> {
        let sql = format!("SELECT {APP_COLS} FROM applications WHERE tenant_id=$1 AND client_id=$2");
        let app = fetch_optional!(self, ApplicationRow, sql, tenant.to_string(), client_id)?;
        self.with_aliases(app).await
    }

    async fn application_by_alias(&self, dialect: Dialect, alias: &str) -> StoreResult<Option<Application>> {
        let cols = prefixed("a", APP_COLS);
        let sql = format!(
            "SELECT {cols} FROM application_aliases x JOIN applications a ON a.id = x.application_id \
             WHERE x.dialect=$1 AND x.alias=$2"
        );
        let app = fetch_optional!(self, ApplicationRow, sql, dialect.as_str(), alias)?;
        self.with_aliases(app).await
    }

    async fn application_by_id(&self, tenant: TenantId, id: AppId) -> StoreResult<Option<Application>> {
        let sql = format!("SELECT {APP_COLS} FROM applications WHERE tenant_id=$1 AND id=$2");
        let app = fetch_optional!(self, ApplicationRow, sql, tenant.to_string(), id.to_string())?;
        self.with_aliases(app).await
    }

    async fn list_applications(&self, tenant: TenantId) -> StoreResult<Vec<Application>> {
        let sql = format!("SELECT {APP_COLS} FROM applications WHERE tenant_id=$1 ORDER BY created_at, id");
        let mut apps: Vec<Application> = fetch_all!(self, ApplicationRow, sql, tenant.to_string())?;
        let sql = "SELECT application_id, dialect, alias FROM application_aliases WHERE tenant_id=$1";
        let aliases: Vec<AliasRow> =
            on_pool!(self, |p| sqlx::query_as::<_, AliasRow>(sql).bind(tenant.to_string()).fetch_all(p).await.map_err(db_err))?;
        for row in aliases {
            let (app, dialect, alias) = row.parse()?;
            if let Some(a) = apps.iter_mut().find(|a| a.id == app.into()) {
                a.aliases.insert(dialect, alias);
            }
        }
        Ok(apps)
    }

    async fn delete_application(&self, tenant: TenantId, id: AppId) -> StoreResult<bool> {
        execute!(self, "DELETE FROM applications WHERE tenant_id=$1 AND id=$2", tenant.to_string(), id.to_string()).map(|n| n > 0)
    }

    async fn insert_api_key(&self, tenant: TenantId, app: AppId, prefix: &str, key_hash: &[u8], now: i64) -> StoreResult<()> {
        let sql = "INSERT INTO api_keys (id, tenant_id, application_id, prefix, key_hash, created_at) VALUES ($1,$2,$3,$4,$5,$6)";
        execute!(self, sql, new_id().to_string(), tenant.to_string(), app.to_string(), prefix, key_hash, now).map(|_| ())
    }

    async fn application_by_api_key(&self, key_hash: &[u8]) -> StoreResult<Option<Application>> {
        let cols = prefixed("a", APP_COLS);
        let sql = format!(
            "SELECT {cols} FROM api_keys k JOIN applications a ON a.id = k.application_id \
             WHERE k.key_hash=$1 AND k.revoked_at IS NULL"
        );
        let app = fetch_optional!(self, ApplicationRow, sql, key_hash)?;
        self.with_aliases(app).await
    }

    async fn api_key_prefix(&self, tenant: TenantId, app: AppId) -> StoreResult<Option<String>> {
        let sql = "SELECT prefix FROM api_keys WHERE tenant_id=$1 AND application_id=$2 AND revoked_at IS NULL \
                   ORDER BY created_at DESC, id DESC LIMIT 1";
        on_pool!(self, |p| sqlx::query_scalar::<_, String>(sql)
            .bind(tenant.to_string())
            .bind(app.to_string())
            .fetch_optional(p)
            .await
            .map_err(db_err))
    }

    async fn revoke_api_keys(&self, tenant: TenantId, app: AppId, now: i64) -> StoreResult<()> {
        let sql = "UPDATE api_keys SET revoked_at=$3 WHERE tenant_id=$1 AND application_id=$2 AND revoked_at IS NULL";
        execute!(self, sql, tenant.to_string(), app.to_string(), now).map(|_| ())
    }

    async fn set_callback_secret(&self, tenant: TenantId, app: AppId, sealed: &[u8]) -> StoreResult<()> {
        let sql = "UPDATE applications SET callback_secret_sealed=$3 WHERE tenant_id=$1 AND id=$2";
        execute!(self, sql, tenant.to_string(), app.to_string(), sealed).map(|_| ())
    }

    async fn callback_secret(&self, tenant: TenantId, app: AppId) -> StoreResult<Option<Vec<u8>>> {
        self.sealed_column("SELECT callback_secret_sealed FROM applications WHERE tenant_id=$1 AND id=$2", tenant, app).await
    }

    async fn set_client_secret_seal(&self, tenant: TenantId, app: AppId, sealed: Option<&[u8]>) -> StoreResult<()> {
        let sql = "UPDATE applications SET client_secret_sealed=$3 WHERE tenant_id=$1 AND id=$2";
        execute!(self, sql, tenant.to_string(), app.to_string(), sealed).map(|_| ())
    }

    async fn client_secret_seal(&self, tenant: TenantId, app: AppId) -> StoreResult<Option<Vec<u8>>> {
        self.sealed_column("SELECT client_secret_sealed FROM applications WHERE tenant_id=$1 AND id=$2", tenant, app).await
    }
}

impl SqlStore {
    /// One sealed secret of an application (`sql` selects the column), if it has one.
    async fn sealed_column(&self, sql: &'static str, tenant: TenantId, app: AppId) -> StoreResult<Option<Vec<u8>>> {
        let got = on_pool!(self, |p| sqlx::query_scalar::<_, Option<Vec<u8>>>(sql)
            .bind(tenant.to_string())
            .bind(app.to_string())
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        Ok(got.flatten())
    }
}
