//! Admin API tokens (HMAC'd).

use super::*;
use castellan_core::store::AdminTokenStore;

#[async_trait]
impl AdminTokenStore for MemoryStore {
    async fn insert_admin_token(&self, id: Uuid, token_hash: &[u8], label: &str, _now: i64) -> StoreResult<()> {
        text(label)?;
        let mut s = self.state();
        unique(&[
            (s.admin_tokens.iter().any(|t| t.id == id), ConflictOn::Other),
            (s.admin_tokens.iter().any(|t| t.token_hash == token_hash), ConflictOn::Other),
        ])?;
        s.admin_tokens.push(AdminTokenRow { id, token_hash: token_hash.to_vec() });
        Ok(())
    }

    async fn admin_token_exists(&self, token_hash: &[u8]) -> StoreResult<bool> {
        Ok(self.state().admin_tokens.iter().any(|t| t.token_hash == token_hash))
    }
}
