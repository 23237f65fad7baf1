//! Admin API tokens (HMAC'd).

use super::*;

#[async_trait]
impl AdminTokenStore for SqlStore {
    async fn insert_admin_token(&self, id: Uuid, token_hash: &[u8], label: &str, now: i64) -> StoreResult<()> {
        execute!(
            self,
            "INSERT INTO admin_tokens (id, token_hash, label, created_at) VALUES ($1,$2,$3,$4)",
            id.to_string(),
            token_hash,
            label,
            now
        )
        .map(|_| ())
    }

    async fn admin_token_exists(&self, token_hash: &[u8]) -> StoreResult<bool> {
        let got: Option<(i64,)> =
            on_pool!(self, |p| sqlx::query_as("SELECT CAST(1 AS BIGINT) FROM admin_tokens WHERE token_hash=$1")
                .bind(token_hash)
                .fetch_optional(p)
                .await
                .map_err(db_err))?;
        Ok(got.is_some())
    }
}
