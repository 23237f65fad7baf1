//! Applications, their API keys and callback secrets.

use async_trait::async_trait;

use super::*;

#[async_trait]
pub trait ApplicationStore: Send + Sync {
    async fn insert_application(&self, a: &Application) -> StoreResult<()>;
    async fn update_application(&self, a: &Application) -> StoreResult<()>;
    async fn application_by_client_id(&self, tenant: TenantId, client_id: &str) -> StoreResult<Option<Application>>;
    async fn application_by_id(&self, tenant: TenantId, id: AppId) -> StoreResult<Option<Application>>;
    async fn list_applications(&self, tenant: TenantId) -> StoreResult<Vec<Application>>;
    async fn delete_application(&self, tenant: TenantId, id: AppId) -> StoreResult<bool>;
    /// The application `dialect` knows as `alias`, in whichever tenant: aliases are unique per
    /// dialect server-wide because the alias alone selects the tenant. Applications are written
    /// with their aliases, in one transaction; an alias taken is a `Conflict` on the dialect's
    /// alias field.
    async fn application_by_alias(&self, dialect: Dialect, alias: &str) -> StoreResult<Option<Application>>;
    async fn insert_api_key(&self, tenant: TenantId, app: AppId, prefix: &str, key_hash: &[u8], now: i64) -> StoreResult<()>;
    /// The application an unrevoked API key (by HMAC) belongs to, in whichever tenant.
    async fn application_by_api_key(&self, key_hash: &[u8]) -> StoreResult<Option<Application>>;
    /// The display prefix of the application's unrevoked API key.
    async fn api_key_prefix(&self, tenant: TenantId, app: AppId) -> StoreResult<Option<String>>;
    /// Revokes every key of the application.
    async fn revoke_api_keys(&self, tenant: TenantId, app: AppId, now: i64) -> StoreResult<()>;
    async fn set_callback_secret(&self, tenant: TenantId, app: AppId, sealed: &[u8]) -> StoreResult<()>;
    async fn callback_secret(&self, tenant: TenantId, app: AppId) -> StoreResult<Option<Vec<u8>>>;
    /// Keeps (or, with `None`, forgets) the sealed client secret of a `client_secret_jwt` client.
    async fn set_client_secret_seal(&self, tenant: TenantId, app: AppId, sealed: Option<&[u8]>) -> StoreResult<()>;
    async fn client_secret_seal(&self, tenant: TenantId, app: AppId) -> StoreResult<Option<Vec<u8>>>;
}
