//! Challenges: one-time codes and emailed secrets bound to a user.

use super::*;

#[async_trait]
impl ChallengeStore for SqlStore {
    async fn insert_challenge(&self, c: &Challenge) -> StoreResult<()> {
        let sql = format!("INSERT INTO challenges ({CHALLENGE_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)");
        execute!(
            self,
            sql,
            c.id.to_string(),
            c.tenant_id.to_string(),
            c.user_id.to_string(),
            c.kind.as_str(),
            c.secret_hash.clone(),
            i64::from(c.attempts),
            i64::from(c.max_attempts),
            c.expires_at,
            c.consumed_at,
            to_json(&c.data),
            c.created_at
        )
        .map(|_| ())
    }

    async fn challenge_by_id(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Challenge>> {
        let sql = format!("SELECT {CHALLENGE_COLS} FROM challenges WHERE tenant_id=$1 AND id=$2");
        fetch_optional!(self, ChallengeRow, sql, tenant.to_string(), id.to_string())
    }

    async fn locate_challenge(&self, id: Uuid) -> StoreResult<Option<Challenge>> {
        let sql = format!("SELECT {CHALLENGE_COLS} FROM challenges WHERE id=$1");
        fetch_optional!(self, ChallengeRow, sql, id.to_string())
    }

    async fn reissue_challenge(
        &self,
        tenant: TenantId,
        id: Uuid,
        old_hash: &[u8],
        new_hash: &[u8],
        expires_at: i64,
        data: &serde_json::Value,
    ) -> StoreResult<bool> {
        let data = data.to_string();
        on_writer!(self, |p| sqlx::query(
            "UPDATE challenges SET secret_hash=$4, expires_at=$5, data=$6 \
             WHERE tenant_id=$1 AND id=$2 AND secret_hash=$3 AND consumed_at IS NULL"
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(old_hash)
        .bind(new_hash)
        .bind(expires_at)
        .bind(&data)
        .execute(p)
        .await
        .map(|r| r.rows_affected() == 1)
        .map_err(db_err))
    }

    async fn challenge_by_secret(
        &self,
        tenant: TenantId,
        kind: ChallengeKind,
        secret_hash: &[u8],
    ) -> StoreResult<Option<Challenge>> {
        let sql = format!("SELECT {CHALLENGE_COLS} FROM challenges WHERE tenant_id=$1 AND kind=$2 AND secret_hash=$3");
        fetch_optional!(self, ChallengeRow, sql, tenant.to_string(), kind.as_str(), secret_hash)
    }

    async fn fail_challenge(&self, tenant: TenantId, id: Uuid) -> StoreResult<u32> {
        let sql = "UPDATE challenges SET attempts = attempts + 1 WHERE tenant_id=$1 AND id=$2 RETURNING attempts";
        let got: Option<(i64,)> = on_writer!(self, |p| sqlx::query_as(sql)
            .bind(tenant.to_string())
            .bind(id.to_string())
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        Ok(got.map(|(a,)| a as u32).unwrap_or(u32::MAX))
    }

    async fn consume_challenge(&self, tenant: TenantId, id: Uuid, now: i64) -> StoreResult<bool> {
        let sql = "UPDATE challenges SET consumed_at=$3 WHERE tenant_id=$1 AND id=$2 AND consumed_at IS NULL AND expires_at > $3 \
                   AND attempts < max_attempts";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(id.to_string())
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(db_err))
    }

    async fn consume_user_challenges(&self, tenant: TenantId, user: UserId, kind: ChallengeKind, now: i64) -> StoreResult<()> {
        let sql = "UPDATE challenges SET consumed_at=$4 WHERE tenant_id=$1 AND user_id=$2 AND kind=$3 AND consumed_at IS NULL";
        execute!(self, sql, tenant.to_string(), user.to_string(), kind.as_str(), now).map(|_| ())
    }
}
