//! Users and their passwords.

use async_trait::async_trait;

use super::*;

#[async_trait]
pub trait UserStore: Send + Sync {
    async fn insert_user(&self, u: &User) -> StoreResult<()>;
    async fn update_user(&self, u: &User) -> StoreResult<()>;
    async fn user_by_id(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>>;
    async fn user_by_identifier(&self, tenant: TenantId, id: &Identifier) -> StoreResult<Option<User>>;
    /// The user whose `uin` attribute is `uin`.
    async fn user_by_uin(&self, tenant: TenantId, uin: &str) -> StoreResult<Option<User>>;
    async fn list_users(&self, tenant: TenantId, filter: &UserFilter) -> StoreResult<Vec<User>>;
    async fn delete_user(&self, tenant: TenantId, id: UserId) -> StoreResult<bool>;
    /// Replaces the hash only if it is still `expected` (a concurrent change wins).
    async fn replace_password_hash(
        &self,
        tenant: TenantId,
        user: UserId,
        expected: &str,
        new: &str,
        now: i64,
    ) -> StoreResult<bool>;
}
