//! Tenants.

use async_trait::async_trait;

use super::*;

#[async_trait]
pub trait TenantStore: Send + Sync {
    async fn insert_tenant(&self, t: &Tenant) -> StoreResult<()>;
    async fn update_tenant(&self, t: &Tenant) -> StoreResult<()>;
    async fn tenant_by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>>;
    async fn tenant_by_slug(&self, slug: &str) -> StoreResult<Option<Tenant>>;
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>>;
    async fn delete_tenant(&self, id: TenantId) -> StoreResult<bool>;
}
