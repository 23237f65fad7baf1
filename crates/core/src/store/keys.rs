//! Signing keys.

use async_trait::async_trait;

use super::*;

#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn insert_key(&self, k: &SigningKey) -> StoreResult<()>;
    async fn list_keys(&self, tenant: TenantId) -> StoreResult<Vec<SigningKey>>;
    /// Every tenant's keys (the shared JWKS), newest first.
    async fn list_all_keys(&self) -> StoreResult<Vec<SigningKey>>;
    /// Moves a key to `state`; leaving `Active` records `now` as the moment it stopped signing.
    async fn set_key_state(&self, tenant: TenantId, kid: &str, state: KeyState, now: i64) -> StoreResult<()>;
}
