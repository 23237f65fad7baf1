//! OpenID Connect: authorization codes and remembered consents.

use async_trait::async_trait;

use super::*;

#[async_trait]
pub trait AuthorizationStore: Send + Sync {
    /// Stores a new code; codes expired for an hour or more are dropped on the way.
    async fn insert_authorization_code(&self, code: &AuthorizationCode, now: i64) -> StoreResult<()>;
    async fn authorization_code(&self, tenant: TenantId, code_hash: &[u8]) -> StoreResult<Option<AuthorizationCode>>;
    /// Marks an unused, unexpired code used; exactly one concurrent caller gets true.
    async fn redeem_authorization_code(&self, tenant: TenantId, code_hash: &[u8], now: i64) -> StoreResult<bool>;
    /// Stores the consent, replacing the user's earlier one for the same client.
    async fn upsert_consent(&self, grant: &ConsentGrant) -> StoreResult<()>;
    async fn consent(&self, tenant: TenantId, user: UserId, app: AppId) -> StoreResult<Option<ConsentGrant>>;
    /// The user's consents, oldest first.
    async fn list_consents(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<ConsentGrant>>;
    async fn delete_consent(&self, tenant: TenantId, user: UserId, app: AppId) -> StoreResult<bool>;
}
