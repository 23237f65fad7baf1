//! Hosted verifications and their result callbacks.

use super::*;

#[async_trait]
impl HostedStore for SqlStore {
    async fn insert_verification(&self, v: &Verification) -> StoreResult<()> {
        let sql = format!("INSERT INTO verifications ({VERIFICATION_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)");
        execute!(
            self,
            sql,
            v.id.to_string(),
            v.tenant_id.to_string(),
            v.application_id.to_string(),
            v.user_id.to_string(),
            &v.email,
            v.status.as_str(),
            i64::from(v.tries),
            v.ip.clone(),
            v.expires_at,
            v.finished_at,
            v.created_at
        )
        .map(|_| ())
    }

    async fn verification(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Verification>> {
        let sql = format!("SELECT {VERIFICATION_COLS} FROM verifications WHERE tenant_id=$1 AND id=$2");
        fetch_optional!(self, VerificationRow, sql, tenant.to_string(), id.to_string())
    }

    async fn locate_verification(&self, id: Uuid) -> StoreResult<Option<Verification>> {
        let sql = format!("SELECT {VERIFICATION_COLS} FROM verifications WHERE id=$1");
        fetch_optional!(self, VerificationRow, sql, id.to_string())
    }

    async fn move_verification(
        &self,
        tenant: TenantId,
        id: Uuid,
        from: VerificationStatus,
        to: VerificationStatus,
        ip: Option<&str>,
        now: i64,
    ) -> StoreResult<bool> {
        let finished = (!matches!(to, VerificationStatus::Pending | VerificationStatus::Verified)).then_some(now);
        let sql = "UPDATE verifications SET status=$4, ip=COALESCE($5, ip), finished_at=COALESCE($6, finished_at) \
                   WHERE tenant_id=$1 AND id=$2 AND status=$3";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(id.to_string())
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(ip)
            .bind(finished)
            .execute(p)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(db_err))
    }

    async fn fail_verification(&self, tenant: TenantId, id: Uuid, ip: Option<&str>) -> StoreResult<Option<u32>> {
        let sql = "UPDATE verifications SET tries=tries+1, ip=COALESCE($3, ip) WHERE tenant_id=$1 AND id=$2 \
                   AND status='pending' RETURNING tries";
        let got = on_writer!(self, |p| sqlx::query_scalar::<_, i64>(sql)
            .bind(tenant.to_string())
            .bind(id.to_string())
            .bind(ip)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        Ok(got.map(|t| t as u32))
    }

    async fn list_verifications(&self, tenant: TenantId, app: AppId, limit: u32) -> StoreResult<Vec<Verification>> {
        let sql = format!(
            "SELECT {VERIFICATION_COLS} FROM verifications WHERE tenant_id=$1 AND application_id=$2 \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        fetch_all!(self, VerificationRow, sql, tenant.to_string(), app.to_string(), i64::from(limit))
    }

    async fn insert_callback(&self, c: &Callback) -> StoreResult<()> {
        let sql = format!("INSERT INTO callbacks ({CALLBACK_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)");
        execute!(
            self,
            sql,
            c.id.to_string(),
            c.tenant_id.to_string(),
            c.application_id.to_string(),
            c.verification_id.to_string(),
            &c.url,
            &c.query,
            c.status.as_str(),
            i64::from(c.tries),
            c.next_attempt_ms,
            c.deadline_ms,
            c.last_status.map(i64::from),
            c.last_error.clone(),
            c.created_at,
            c.finished_at,
            c.kind.as_str()
        )
        .map(|_| ())
    }

    async fn callback_of(&self, tenant: TenantId, verification: Uuid) -> StoreResult<Option<Callback>> {
        let sql = format!("SELECT {CALLBACK_COLS} FROM callbacks WHERE tenant_id=$1 AND verification_id=$2");
        fetch_optional!(self, CallbackRow, sql, tenant.to_string(), verification.to_string())
    }

    async fn claim_callbacks(&self, now_ms: i64, lease_until_ms: i64, limit: u32) -> StoreResult<Vec<Callback>> {
        // As `claim_messages`: the outer WHERE is re-checked on the locked row.
        let sql = format!(
            "UPDATE callbacks SET lease_until_ms=$2, tries=tries+1 WHERE id IN (SELECT id FROM callbacks WHERE \
             status='pending' AND next_attempt_ms <= $1 AND (lease_until_ms IS NULL OR lease_until_ms <= $1) \
             ORDER BY next_attempt_ms LIMIT $3) AND status='pending' AND (lease_until_ms IS NULL OR lease_until_ms <= $1) \
             RETURNING {CALLBACK_COLS}"
        );
        fetch_all!(self, CallbackRow, sql, now_ms, lease_until_ms, i64::from(limit))
    }

    async fn record_callback_try(
        &self,
        id: Uuid,
        status: CallbackStatus,
        next_attempt_ms: i64,
        last_status: Option<u16>,
        last_error: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        let finished = (status != CallbackStatus::Pending).then_some(now);
        let sql = "UPDATE callbacks SET status=$2, next_attempt_ms=$3, last_status=$4, last_error=$5, finished_at=$6, \
                   lease_until_ms=NULL WHERE id=$1";
        execute!(self, sql, id.to_string(), status.as_str(), next_attempt_ms, last_status.map(i64::from), last_error, finished)
            .map(|_| ())
    }
}
