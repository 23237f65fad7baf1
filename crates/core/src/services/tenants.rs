//! Tenants: creation with a profile's defaults, lookup by id or slug (cached), policy updates.

use crate::core::Core;
use crate::error::{ConflictOn, CoreError, CoreResult};
use crate::model::Dialect;
use crate::model::TenantId;
use crate::model::tenant::parse_slug;
use crate::model::{Policy, Profile, Tenant, text};
use crate::store::StoreError;

/// What an operator gives to create a tenant.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub slug: String,
    pub display_name: String,
    pub profile: Profile,
    pub dialects: Option<Vec<String>>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

/// A partial update of a tenant.
#[derive(Debug, Clone, Default)]
pub struct TenantPatch {
    pub display_name: Option<String>,
    pub dialects: Option<Vec<String>>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

/// Refuses control characters in what a tenant stores besides its slug (which is ASCII already).
fn check_tenant_texts(t: &Tenant) -> CoreResult<()> {
    text::check("display_name", &t.display_name)?;
    text::check("issuer", &t.issuer)?;
    text::check("audience", &t.audience)
}

fn parse_dialects(names: &[String]) -> CoreResult<Vec<Dialect>> {
    names
        .iter()
        .map(|n| {
            Dialect::parse(n)
                .filter(|d| Dialect::SERVED.contains(d))
                .ok_or_else(|| CoreError::field("dialects", format!("unknown dialect {n}")))
        })
        .collect()
}

/// Tenants: `core.tenants()`.
pub struct Tenants<'a>(&'a Core);

impl Core {
    pub fn tenants(&self) -> Tenants<'_> {
        Tenants(self)
    }
}

impl std::ops::Deref for Tenants<'_> {
    type Target = Core;
    fn deref(&self) -> &Core {
        self.0
    }
}

impl Tenants<'_> {
    pub async fn create_tenant(&self, new: NewTenant) -> CoreResult<Tenant> {
        let slug = parse_slug(&new.slug).map_err(|e| CoreError::field("slug", e))?;
        if new.display_name.trim().is_empty() || new.display_name.len() > 200 {
            return Err(CoreError::field("display_name", "must be 1-200 characters"));
        }
        let dialects = match &new.dialects {
            Some(names) => parse_dialects(names)?,
            None => new.profile.default_dialects(),
        };
        let (issuer, audience) = new.profile.token_names(&slug, &self.config.public_url);
        let tenant = Tenant {
            id: TenantId::new(),
            slug,
            display_name: new.display_name.trim().to_string(),
            profile: new.profile,
            dialects,
            issuer: new.issuer.unwrap_or(issuer),
            audience: new.audience.unwrap_or(audience),
            policy: new.profile.policy(),
            created_at: self.now(),
        };
        check_tenant_texts(&tenant)?;
        self.store.insert_tenant(&tenant).await.map_err(|e| match e {
            // Ids are fresh: a clash is the slug's.
            StoreError::Conflict(_) => CoreError::Conflict(ConflictOn::Slug),
            other => other.into(),
        })?;
        // Every tenant can sign from the start.
        self.signing_keys().rotate_key(&tenant, tenant.profile.first_key_alg()).await?;
        Ok(tenant)
    }

    /// A tenant by UUID or slug.
    pub async fn find_tenant(&self, id_or_slug: &str) -> CoreResult<Tenant> {
        if let Some(t) = self.tenants.get(&id_or_slug.to_string()) {
            return Ok(t);
        }
        // Ids and slugs never hold control characters: such a name names no tenant (and never
        // reaches the database, which may not be able to store it).
        if id_or_slug.chars().any(char::is_control) {
            return Err(CoreError::TenantNotFound);
        }
        let found = match id_or_slug.parse::<TenantId>() {
            Ok(id) => self.store.tenant_by_id(id).await?,
            Err(_) if id_or_slug.len() <= 63 => self.store.tenant_by_slug(&id_or_slug.to_ascii_lowercase()).await?,
            Err(_) => None,
        };
        let tenant = found.ok_or(CoreError::TenantNotFound)?;
        self.tenants.put(id_or_slug.to_string(), tenant.clone());
        Ok(tenant)
    }

    pub async fn list_tenants(&self) -> CoreResult<Vec<Tenant>> {
        Ok(self.store.list_tenants().await?)
    }

    pub async fn update_tenant(&self, id_or_slug: &str, patch: TenantPatch) -> CoreResult<Tenant> {
        let mut tenant = self.find_tenant(id_or_slug).await?;
        if let Some(name) = patch.display_name {
            if name.trim().is_empty() || name.len() > 200 {
                return Err(CoreError::field("display_name", "must be 1-200 characters"));
            }
            tenant.display_name = name.trim().to_string();
        }
        if let Some(d) = patch.dialects {
            tenant.dialects = parse_dialects(&d)?;
        }
        if let Some(i) = patch.issuer {
            tenant.issuer = i;
        }
        if let Some(a) = patch.audience {
            tenant.audience = a;
        }
        check_tenant_texts(&tenant)?;
        self.store.update_tenant(&tenant).await?;
        self.tenants.clear();
        Ok(tenant)
    }

    pub async fn set_policy(&self, id_or_slug: &str, policy: Policy) -> CoreResult<Tenant> {
        policy.validate().map_err(|e| CoreError::field("policy", e))?;
        let mut tenant = self.find_tenant(id_or_slug).await?;
        tenant.policy = policy;
        self.store.update_tenant(&tenant).await?;
        self.tenants.clear();
        // Discovery names the registration endpoint only while registration is on.
        self.discovery_documents.clear();
        Ok(tenant)
    }

    pub async fn delete_tenant(&self, id_or_slug: &str) -> CoreResult<()> {
        let tenant = self.find_tenant(id_or_slug).await?;
        self.store.delete_tenant(tenant.id).await?;
        self.tenants.clear();
        self.keys.clear();
        self.apps_by_client_id.clear();
        self.discovery_documents.clear();
        Ok(())
    }
}
