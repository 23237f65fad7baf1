//! TOTP factors: the user's own, and per-application ones of hosted verification.

use super::*;

#[async_trait]
impl FactorStore for SqlStore {
    async fn upsert_totp(&self, f: &TotpFactor) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO totp_factors ({TOTP_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (user_id) DO UPDATE SET \
             secret_sealed=excluded.secret_sealed, algorithm=excluded.algorithm, digits=excluded.digits, period=excluded.period, \
             enabled=excluded.enabled, last_step=excluded.last_step, created_at=excluded.created_at"
        );
        execute!(
            self,
            sql,
            f.user_id.to_string(),
            f.tenant_id.to_string(),
            f.secret_sealed.clone(),
            &f.algorithm,
            i64::from(f.digits),
            i64::from(f.period),
            f.enabled,
            f.last_step,
            f.created_at
        )
        .map(|_| ())
    }

    async fn totp_by_user(&self, tenant: TenantId, user: UserId) -> StoreResult<Option<TotpFactor>> {
        let sql = format!("SELECT {TOTP_COLS} FROM totp_factors WHERE tenant_id=$1 AND user_id=$2");
        fetch_optional!(self, TotpRow, sql, tenant.to_string(), user.to_string())
    }

    async fn enable_totp(&self, tenant: TenantId, user: UserId) -> StoreResult<()> {
        execute!(
            self,
            "UPDATE totp_factors SET enabled=$3 WHERE tenant_id=$1 AND user_id=$2",
            tenant.to_string(),
            user.to_string(),
            true
        )
        .map(|_| ())
    }

    async fn delete_totp(&self, tenant: TenantId, user: UserId) -> StoreResult<bool> {
        execute!(self, "DELETE FROM totp_factors WHERE tenant_id=$1 AND user_id=$2", tenant.to_string(), user.to_string())
            .map(|n| n > 0)
    }

    async fn advance_totp_step(&self, tenant: TenantId, user: UserId, step: i64) -> StoreResult<bool> {
        let sql =
            "UPDATE totp_factors SET last_step=$3 WHERE tenant_id=$1 AND user_id=$2 AND (last_step IS NULL OR last_step < $3)";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(user.to_string())
            .bind(step)
            .execute(p)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(db_err))
    }

    async fn upsert_app_totp(&self, f: &AppTotpFactor) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO app_totp_factors ({APP_TOTP_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) \
             ON CONFLICT (application_id, user_id) DO UPDATE SET secret_sealed=excluded.secret_sealed, \
             algorithm=excluded.algorithm, digits=excluded.digits, period=excluded.period, last_step=excluded.last_step, \
             created_at=excluded.created_at"
        );
        execute!(
            self,
            sql,
            f.tenant_id.to_string(),
            f.application_id.to_string(),
            f.user_id.to_string(),
            f.secret_sealed.clone(),
            &f.algorithm,
            i64::from(f.digits),
            i64::from(f.period),
            f.last_step,
            f.created_at
        )
        .map(|_| ())
    }

    async fn app_totp(&self, tenant: TenantId, app: AppId, user: UserId) -> StoreResult<Option<AppTotpFactor>> {
        let sql = format!("SELECT {APP_TOTP_COLS} FROM app_totp_factors WHERE tenant_id=$1 AND application_id=$2 AND user_id=$3");
        fetch_optional!(self, AppTotpRow, sql, tenant.to_string(), app.to_string(), user.to_string())
    }

    async fn delete_app_totp(&self, tenant: TenantId, app: AppId, user: UserId) -> StoreResult<bool> {
        let sql = "DELETE FROM app_totp_factors WHERE tenant_id=$1 AND application_id=$2 AND user_id=$3";
        execute!(self, sql, tenant.to_string(), app.to_string(), user.to_string()).map(|n| n > 0)
    }

    async fn advance_app_totp_step(&self, tenant: TenantId, app: AppId, user: UserId, step: i64) -> StoreResult<bool> {
        let sql = "UPDATE app_totp_factors SET last_step=$4 WHERE tenant_id=$1 AND application_id=$2 AND user_id=$3 \
                   AND (last_step IS NULL OR last_step < $4)";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(app.to_string())
            .bind(user.to_string())
            .bind(step)
            .execute(p)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(db_err))
    }
}
