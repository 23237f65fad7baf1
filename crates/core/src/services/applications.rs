//! Applications: clients of Castellan inside a tenant, their secrets and API keys.

use crate::core::Core;
use crate::error::{CoreError, CoreResult};
use crate::model::{Application, ApplicationKind, Tenant, new_id};
use crate::store::StoreError;

const SECRET_DOMAIN: &str = "client-secret";
const API_KEY_DOMAIN: &str = "api-key";

/// What an operator gives to create an application.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub name: String,
    pub kind: ApplicationKind,
    pub client_id: Option<String>,
    pub kumusoft_tag: Option<String>,
    pub mosip_app_id: Option<String>,
    pub roles: Vec<String>,
    pub allowed_ips: Vec<String>,
    pub callback_url: Option<String>,
    pub redirect_uris: Vec<String>,
    pub single_otp_channel: Option<String>,
    pub active: bool,
}

fn check_client_id(s: &str) -> CoreResult<()> {
    let ok = (1..=100).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c));
    if ok { Ok(()) } else { Err(CoreError::field("client_id", "1-100 of A-Z a-z 0-9 . _ - :")) }
}

impl Core {
    /// Creates an application; confidential and service clients get a secret, returned once.
    pub async fn create_application(&self, tenant: &Tenant, new: NewApplication) -> CoreResult<(Application, Option<String>)> {
        if new.name.trim().is_empty() || new.name.len() > 200 {
            return Err(CoreError::field("name", "must be 1-200 characters"));
        }
        let client_id = new.client_id.unwrap_or_else(|| format!("app_{}", new_id().simple()));
        check_client_id(&client_id)?;
        let secret = match new.kind {
            ApplicationKind::Public => None,
            _ => Some(format!("cas_secret_{}", crate::crypto::random_token())),
        };
        let app = Application {
            id: new_id(),
            tenant_id: tenant.id,
            client_id,
            name: new.name.trim().to_string(),
            kind: new.kind,
            secret_hash: secret.as_ref().map(|s| self.master.mac(SECRET_DOMAIN, s.as_bytes())),
            kumusoft_tag: new.kumusoft_tag,
            mosip_app_id: new.mosip_app_id,
            roles: new.roles,
            allowed_ips: new.allowed_ips,
            callback_url: new.callback_url,
            redirect_uris: new.redirect_uris,
            single_otp_channel: new.single_otp_channel,
            active: new.active,
            created_at: self.now(),
        };
        self.store.insert_application(&app).await.map_err(|e| match e {
            StoreError::Conflict => CoreError::Conflict("client_id"),
            other => other.into(),
        })?;
        Ok((app, secret))
    }

    pub async fn get_application(&self, tenant: &Tenant, client_id: &str) -> CoreResult<Application> {
        self.store.application_by_client_id(tenant.id, client_id).await?.ok_or(CoreError::NotFound)
    }

    pub async fn application_by_id(&self, tenant: &Tenant, id: uuid::Uuid) -> CoreResult<Application> {
        self.store.application_by_id(tenant.id, id).await?.ok_or(CoreError::NotFound)
    }

    pub async fn list_applications(&self, tenant: &Tenant) -> CoreResult<Vec<Application>> {
        Ok(self.store.list_applications(tenant.id).await?)
    }

    pub async fn save_application(&self, app: &Application) -> CoreResult<()> {
        self.store.update_application(app).await.map_err(|e| match e {
            StoreError::Conflict => CoreError::Conflict("client_id"),
            other => other.into(),
        })?;
        self.apps_by_tag.clear();
        Ok(())
    }

    pub async fn delete_application(&self, tenant: &Tenant, client_id: &str) -> CoreResult<()> {
        let app = self.get_application(tenant, client_id).await?;
        self.store.delete_application(tenant.id, app.id).await?;
        self.apps_by_tag.clear();
        Ok(())
    }

    /// The active application with this kumusoft tag and its tenant, if that tenant is served by
    /// `dialect`; anything else is `UnknownApplication`.
    pub async fn application_by_tag(&self, tag: &str, dialect: &str) -> CoreResult<(Application, Tenant)> {
        if tag.is_empty() || tag.len() > 100 {
            return Err(CoreError::UnknownApplication);
        }
        let app = match self.apps_by_tag.get(&tag.to_string()) {
            Some(app) => app,
            None => {
                let app = self.store.application_by_kumusoft_tag(tag).await?.ok_or(CoreError::UnknownApplication)?;
                self.apps_by_tag.put(tag.to_string(), app.clone());
                app
            }
        };
        let tenant = self.find_tenant(&app.tenant_id.to_string()).await.map_err(|_| CoreError::UnknownApplication)?;
        if !app.active || !tenant.serves(dialect) {
            return Err(CoreError::UnknownApplication);
        }
        Ok((app, tenant))
    }

    /// A new client secret (the old one stops working), returned once.
    pub async fn rotate_client_secret(&self, tenant: &Tenant, client_id: &str) -> CoreResult<String> {
        let mut app = self.get_application(tenant, client_id).await?;
        if app.kind == ApplicationKind::Public {
            return Err(CoreError::field("kind", "public clients have no secret"));
        }
        let secret = format!("cas_secret_{}", crate::crypto::random_token());
        app.secret_hash = Some(self.master.mac(SECRET_DOMAIN, secret.as_bytes()));
        self.save_application(&app).await?;
        Ok(secret)
    }

    /// Whether `secret` is the application's client secret (constant-time on the HMACs).
    pub fn check_client_secret(&self, app: &Application, secret: &str) -> bool {
        let given = self.master.mac(SECRET_DOMAIN, secret.as_bytes());
        app.secret_hash.as_deref().is_some_and(|h| crate::crypto::ct_eq(h, &given))
    }

    /// A new API key (256 random bits), returned once with its display prefix.
    pub async fn create_api_key(&self, tenant: &Tenant, client_id: &str) -> CoreResult<(String, String)> {
        let app = self.get_application(tenant, client_id).await?;
        let key = format!("cas_key_{}", crate::crypto::random_token());
        let prefix: String = key.chars().take(14).collect();
        self.store
            .insert_api_key(tenant.id, app.id, &prefix, &self.master.mac(API_KEY_DOMAIN, key.as_bytes()), self.now())
            .await?;
        Ok((key, prefix))
    }
}
