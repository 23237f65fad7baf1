//! Tenants.

use super::*;
use castellan_core::store::TenantStore;

fn tenant_texts(t: &Tenant) -> StoreResult<()> {
    texts([Some(t.slug.as_str()), Some(&t.display_name), Some(&t.issuer), Some(&t.audience)])
}

#[async_trait]
impl TenantStore for MemoryStore {
    async fn insert_tenant(&self, t: &Tenant) -> StoreResult<()> {
        tenant_texts(t)?;
        let mut s = self.state();
        unique(&[(s.tenants.iter().any(|x| x.id == t.id), None), (s.tenants.iter().any(|x| x.slug == t.slug), Some("slug"))])?;
        s.tenants.push(t.clone());
        Ok(())
    }

    async fn update_tenant(&self, t: &Tenant) -> StoreResult<()> {
        tenant_texts(t)?;
        let mut s = self.state();
        if let Some(row) = s.tenants.iter_mut().find(|x| x.id == t.id) {
            row.display_name = t.display_name.clone();
            row.dialects = t.dialects.clone();
            row.issuer = t.issuer.clone();
            row.audience = t.audience.clone();
            row.policy = t.policy.clone();
        }
        Ok(())
    }

    async fn tenant_by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        Ok(self.state().tenants.iter().find(|t| t.id == id).cloned())
    }

    async fn tenant_by_slug(&self, slug: &str) -> StoreResult<Option<Tenant>> {
        text(slug)?;
        Ok(self.state().tenants.iter().find(|t| t.slug == slug).cloned())
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        let mut all = self.state().tenants.clone();
        all.sort_by(|a, b| a.slug.cmp(&b.slug));
        Ok(all)
    }

    async fn delete_tenant(&self, id: TenantId) -> StoreResult<bool> {
        let mut s = self.state();
        let found = s.tenants.iter().any(|t| t.id == id);
        if found {
            s.remove_tenant(id);
        }
        Ok(found)
    }
}
