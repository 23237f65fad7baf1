//! Admin API tokens (HMAC'd).

use async_trait::async_trait;
use uuid::Uuid;

use super::*;

#[async_trait]
pub trait AdminTokenStore: Send + Sync {
    async fn insert_admin_token(&self, id: Uuid, token_hash: &[u8], label: &str, now: i64) -> StoreResult<()>;
    async fn admin_token_exists(&self, token_hash: &[u8]) -> StoreResult<bool>;
}
