//! Users and their passwords.

use async_trait::async_trait;
use uuid::Uuid;

use super::*;

#[async_trait]
pub trait UserStore: Send + Sync {
    async fn insert_user(&self, u: &User) -> StoreResult<()>;
    async fn update_user(&self, u: &User) -> StoreResult<()>;
    async fn user_by_id(&self, tenant: Uuid, id: Uuid) -> StoreResult<Option<User>>;
    async fn user_by_identifier(&self, tenant: Uuid, id: &Identifier) -> StoreResult<Option<User>>;
    /// The user whose `uin` attribute is `uin`.
    async fn user_by_uin(&self, tenant: Uuid, uin: &str) -> StoreResult<Option<User>>;
    async fn list_users(&self, tenant: Uuid, filter: &UserFilter) -> StoreResult<Vec<User>>;
    async fn delete_user(&self, tenant: Uuid, id: Uuid) -> StoreResult<bool>;
    /// Replaces the hash only if it is still `expected` (a concurrent change wins).
    async fn replace_password_hash(&self, tenant: Uuid, user: Uuid, expected: &str, new: &str, now: i64) -> StoreResult<bool>;
}
