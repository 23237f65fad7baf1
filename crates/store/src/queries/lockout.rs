//! Lockout counters, keyed by subject (`user:<id>` or a normalised unknown identifier).

use super::*;

#[async_trait]
impl LockoutStore for SqlStore {
    async fn reserve_attempt(
        &self,
        tenant: TenantId,
        subject: &str,
        threshold: u32,
        now: i64,
        lock_seconds: i64,
    ) -> StoreResult<AttemptReservation> {
        // One statement: count this attempt; the attempt that reaches the threshold sets the lock
        // at once (a success lifts it), so concurrent attempts can never slip past the threshold.
        // An attempt refused as locked is counted too (the lock kept as it is): a success
        // reserved before it then sees the count moved past its own and stays refused, so a
        // lock once said is never lifted by a concurrent success.
        let sql = "INSERT INTO lockouts (tenant_id, subject, failures, locked_until) \
                   VALUES ($1, $2, 1, CASE WHEN 1 >= $3 THEN $4 + $5 ELSE NULL END) \
                   ON CONFLICT (tenant_id, subject) DO UPDATE SET \
                     failures = CASE WHEN lockouts.locked_until IS NOT NULL AND lockouts.locked_until <= $4 THEN 1 ELSE lockouts.failures + 1 END, \
                     locked_until = CASE \
                       WHEN lockouts.locked_until IS NOT NULL AND lockouts.locked_until > $4 AND lockouts.failures >= $3 \
                         THEN lockouts.locked_until \
                       WHEN (CASE WHEN lockouts.locked_until IS NOT NULL AND lockouts.locked_until <= $4 THEN 1 ELSE lockouts.failures + 1 END) >= $3 \
                         THEN $4 + $5 \
                       ELSE NULL END \
                   RETURNING failures, locked_until";
        let threshold = i64::from(threshold);
        let (failures, until): (i64, Option<i64>) = on_writer!(self, |p| sqlx::query_as(sql)
            .bind(tenant.to_string())
            .bind(subject)
            .bind(threshold)
            .bind(now)
            .bind(lock_seconds)
            .fetch_one(p)
            .await
            .map_err(db_err))?;
        // Past the threshold only when the count had reached it before this attempt: refused.
        if failures > threshold {
            return Ok(AttemptReservation::Locked { until: until.unwrap_or(now + lock_seconds) });
        }
        Ok(AttemptReservation::Allowed { failures: failures as u32 })
    }

    async fn clear_attempts(&self, tenant: TenantId, subject: &str) -> StoreResult<()> {
        execute!(self, "DELETE FROM lockouts WHERE tenant_id=$1 AND subject=$2", tenant.to_string(), subject).map(|_| ())
    }

    async fn settle_success(&self, tenant: TenantId, subject: &str, failures: u32, now: i64) -> StoreResult<bool> {
        let sql = "DELETE FROM lockouts WHERE tenant_id=$1 AND subject=$2 \
                   AND (locked_until IS NULL OR locked_until <= $3 OR failures <= $4)";
        execute!(self, sql, tenant.to_string(), subject, now, i64::from(failures)).map(|_| ())?;
        Ok(self.locked_until(tenant, subject, now).await?.is_none())
    }

    async fn locked_until(&self, tenant: TenantId, subject: &str, now: i64) -> StoreResult<Option<i64>> {
        let row: Option<(i64,)> = on_writer!(self, |p| sqlx::query_as(
            "SELECT locked_until FROM lockouts WHERE tenant_id=$1 AND subject=$2 AND locked_until > $3"
        )
        .bind(tenant.to_string())
        .bind(subject)
        .bind(now)
        .fetch_optional(p)
        .await
        .map_err(db_err))?;
        Ok(row.map(|(u,)| u))
    }
}
