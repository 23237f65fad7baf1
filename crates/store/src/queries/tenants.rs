//! Tenants.

use super::*;

#[async_trait]
impl TenantStore for SqlStore {
    async fn insert_tenant(&self, t: &Tenant) -> StoreResult<()> {
        let sql = format!("INSERT INTO tenants ({TENANT_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)");
        execute!(
            self,
            sql,
            t.id.to_string(),
            &t.slug,
            &t.display_name,
            t.profile.as_str(),
            to_json(&t.dialects),
            &t.issuer,
            &t.audience,
            to_json(&t.policy),
            t.created_at
        )
        .map(|_| ())
    }

    async fn update_tenant(&self, t: &Tenant) -> StoreResult<()> {
        let sql = "UPDATE tenants SET display_name=$2, dialects=$3, issuer=$4, audience=$5, policy=$6 WHERE id=$1";
        execute!(self, sql, t.id.to_string(), &t.display_name, to_json(&t.dialects), &t.issuer, &t.audience, to_json(&t.policy))
            .map(|_| ())
    }

    async fn tenant_by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLS} FROM tenants WHERE id=$1");
        fetch_optional!(self, TenantRow, sql, id.to_string())
    }

    async fn tenant_by_slug(&self, slug: &str) -> StoreResult<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLS} FROM tenants WHERE slug=$1");
        fetch_optional!(self, TenantRow, sql, slug)
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        let sql = format!("SELECT {TENANT_COLS} FROM tenants ORDER BY slug");
        fetch_all!(self, TenantRow, sql)
    }

    async fn delete_tenant(&self, id: TenantId) -> StoreResult<bool> {
        let deleted = execute!(self, "DELETE FROM tenants WHERE id=$1", id.to_string()).map(|n| n > 0);
        self.hot.forget_everything();
        deleted
    }
}
