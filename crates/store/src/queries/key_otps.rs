//! One-time codes by key (a phone number, an email, a MOSIP key).

use super::*;

#[async_trait]
impl KeyOtpStore for SqlStore {
    async fn put_key_otp(&self, o: &KeyOtp, now: i64) -> StoreResult<bool> {
        let purge = "DELETE FROM key_otps WHERE expires_at < $1 AND (frozen_until IS NULL OR frozen_until < $1)";
        execute!(self, purge, now - 3600).map(|_| ())?;
        let sql = format!(
            "INSERT INTO key_otps ({KEY_OTP_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) \
             ON CONFLICT (tenant_id, key_hash) DO UPDATE SET user_id=excluded.user_id, \
             application_id=excluded.application_id, secret_hash=excluded.secret_hash, \
             attempts=excluded.attempts, max_attempts=excluded.max_attempts, expires_at=excluded.expires_at, \
             frozen_until=excluded.frozen_until, created_at=excluded.created_at \
             WHERE key_otps.frozen_until IS NULL OR key_otps.frozen_until <= $11"
        );
        execute!(
            self,
            sql,
            o.tenant_id.to_string(),
            o.key_hash.clone(),
            o.user_id.map(|u| u.to_string()),
            o.application_id.map(|a| a.to_string()),
            o.secret_hash.clone(),
            i64::from(o.attempts),
            i64::from(o.max_attempts),
            o.expires_at,
            o.frozen_until,
            o.created_at,
            now
        )
        .map(|n| n > 0)
    }

    async fn key_otp(&self, tenant: TenantId, key_hash: &[u8]) -> StoreResult<Option<KeyOtp>> {
        let sql = format!("SELECT {KEY_OTP_COLS} FROM key_otps WHERE tenant_id=$1 AND key_hash=$2");
        fetch_optional!(self, KeyOtpRow, sql, tenant.to_string(), key_hash)
    }

    async fn latest_key_otp(&self, key_hash: &[u8], now: i64) -> StoreResult<Option<KeyOtp>> {
        let sql = format!(
            "SELECT {KEY_OTP_COLS} FROM key_otps WHERE key_hash=$1 \
             ORDER BY CASE WHEN expires_at > $2 THEN 1 ELSE 0 END DESC, created_at DESC, expires_at DESC LIMIT 1"
        );
        fetch_optional!(self, KeyOtpRow, sql, key_hash, now)
    }

    async fn fail_key_otp(
        &self,
        tenant: TenantId,
        key_hash: &[u8],
        secret_hash: &[u8],
        freeze_until: Option<i64>,
    ) -> StoreResult<Option<KeyOtp>> {
        let sql = format!(
            "UPDATE key_otps SET attempts = attempts + 1, \
             frozen_until = CASE WHEN attempts + 1 >= max_attempts AND $4 IS NOT NULL THEN $4 ELSE frozen_until END \
             WHERE tenant_id=$1 AND key_hash=$2 AND secret_hash=$3 RETURNING {KEY_OTP_COLS}"
        );
        fetch_optional!(self, KeyOtpRow, sql, tenant.to_string(), key_hash, secret_hash, freeze_until)
    }

    async fn consume_key_otp(&self, tenant: TenantId, key_hash: &[u8], secret_hash: &[u8], now: i64) -> StoreResult<bool> {
        let sql = "DELETE FROM key_otps WHERE tenant_id=$1 AND key_hash=$2 AND secret_hash=$3 AND expires_at > $4 \
                   AND attempts < max_attempts AND (frozen_until IS NULL OR frozen_until <= $4)";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(key_hash)
            .bind(secret_hash)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(db_err))
    }
}
