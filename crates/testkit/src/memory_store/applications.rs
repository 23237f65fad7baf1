//! Applications, their API keys and callback secrets.

use super::*;
use castellan_core::store::ApplicationStore;

fn application_texts(a: &Application) -> StoreResult<()> {
    // The lists are stored as JSON, which escapes NUL: only the plain columns can refuse it.
    texts([
        Some(a.client_id.as_str()),
        Some(&a.name),
        a.kumusoft_tag.as_deref(),
        a.mosip_app_id.as_deref(),
        a.callback_url.as_deref(),
    ])
}

impl State {
    fn application(&self, tenant: Uuid, id: Uuid) -> Option<&ApplicationRow> {
        self.applications.iter().find(|a| a.app.tenant_id == tenant && a.app.id == id)
    }

    /// The unique keys of `applications` that `a` would break, other than its own row's.
    fn application_clash(&self, a: &Application, insert: bool) -> StoreResult<()> {
        let others = || self.applications.iter().map(|r| &r.app).filter(|o| insert || o.id != a.id);
        let same = |x: &Option<String>, y: &Option<String>| x.is_some() && x == y;
        unique(&[
            (insert && self.applications.iter().any(|r| r.app.id == a.id), None),
            (others().any(|o| o.client_id == a.client_id), Some("client_id")),
            (others().any(|o| same(&o.kumusoft_tag, &a.kumusoft_tag)), Some("kumusoft_tag")),
            (others().any(|o| same(&o.mosip_app_id, &a.mosip_app_id)), Some("mosip_app_id")),
        ])
    }
}

#[async_trait]
impl ApplicationStore for MemoryStore {
    async fn insert_application(&self, a: &Application) -> StoreResult<()> {
        application_texts(a)?;
        let mut s = self.state();
        s.application_clash(a, true)?;
        s.require_tenant(a.tenant_id)?;
        s.applications.push(ApplicationRow { app: a.clone(), callback_secret_sealed: None });
        Ok(())
    }

    async fn update_application(&self, a: &Application) -> StoreResult<()> {
        application_texts(a)?;
        let mut s = self.state();
        let Some(i) = s.applications.iter().position(|r| r.app.tenant_id == a.tenant_id && r.app.id == a.id) else {
            return Ok(());
        };
        // The client id is not rewritten, so it is the stored one that must stay unique.
        let updated = Application { client_id: s.applications[i].app.client_id.clone(), ..a.clone() };
        s.application_clash(&updated, false)?;
        let row = &mut s.applications[i].app;
        row.name = a.name.clone();
        row.secret_hash = a.secret_hash.clone();
        row.kumusoft_tag = a.kumusoft_tag.clone();
        row.mosip_app_id = a.mosip_app_id.clone();
        row.roles = a.roles.clone();
        row.allowed_ips = a.allowed_ips.clone();
        row.callback_url = a.callback_url.clone();
        row.redirect_uris = a.redirect_uris.clone();
        row.single_otp_channel = a.single_otp_channel;
        row.active = a.active;
        Ok(())
    }

    async fn application_by_client_id(&self, tenant: Uuid, client_id: &str) -> StoreResult<Option<Application>> {
        text(client_id)?;
        let s = self.state();
        Ok(s.applications.iter().map(|r| &r.app).find(|a| a.tenant_id == tenant && a.client_id == client_id).cloned())
    }

    async fn application_by_id(&self, tenant: Uuid, id: Uuid) -> StoreResult<Option<Application>> {
        Ok(self.state().application(tenant, id).map(|r| r.app.clone()))
    }

    async fn list_applications(&self, tenant: Uuid) -> StoreResult<Vec<Application>> {
        let s = self.state();
        let mut apps: Vec<Application> =
            s.applications.iter().map(|r| &r.app).filter(|a| a.tenant_id == tenant).cloned().collect();
        apps.sort_by_key(|a| (a.created_at, a.id));
        Ok(apps)
    }

    async fn delete_application(&self, tenant: Uuid, id: Uuid) -> StoreResult<bool> {
        let mut s = self.state();
        let found = s.application(tenant, id).is_some();
        if found {
            s.remove_application(id);
        }
        Ok(found)
    }

    async fn application_by_kumusoft_tag(&self, tag: &str) -> StoreResult<Option<Application>> {
        text(tag)?;
        let s = self.state();
        Ok(s.applications.iter().map(|r| &r.app).find(|a| a.kumusoft_tag.as_deref() == Some(tag)).cloned())
    }

    async fn application_by_mosip_app_id(&self, app_id: &str) -> StoreResult<Option<Application>> {
        text(app_id)?;
        let s = self.state();
        Ok(s.applications.iter().map(|r| &r.app).find(|a| a.mosip_app_id.as_deref() == Some(app_id)).cloned())
    }

    async fn insert_api_key(&self, tenant: Uuid, app: Uuid, prefix: &str, key_hash: &[u8], now: i64) -> StoreResult<()> {
        text(prefix)?;
        let mut s = self.state();
        unique(&[(s.api_keys.iter().any(|k| k.key_hash == key_hash), None)])?;
        s.require_tenant(tenant)?;
        s.require_application(app)?;
        s.api_keys.push(ApiKeyRow {
            id: new_id(),
            tenant_id: tenant,
            application_id: app,
            prefix: prefix.to_string(),
            key_hash: key_hash.to_vec(),
            created_at: now,
            revoked_at: None,
        });
        Ok(())
    }

    async fn application_by_api_key(&self, key_hash: &[u8]) -> StoreResult<Option<Application>> {
        let s = self.state();
        let key = s.api_keys.iter().find(|k| k.key_hash == key_hash && k.revoked_at.is_none());
        Ok(key.and_then(|k| s.applications.iter().find(|a| a.app.id == k.application_id)).map(|a| a.app.clone()))
    }

    async fn api_key_prefix(&self, tenant: Uuid, app: Uuid) -> StoreResult<Option<String>> {
        let s = self.state();
        let live = s.api_keys.iter().filter(|k| k.tenant_id == tenant && k.application_id == app && k.revoked_at.is_none());
        Ok(live.max_by_key(|k| (k.created_at, k.id)).map(|k| k.prefix.clone()))
    }

    async fn revoke_api_keys(&self, tenant: Uuid, app: Uuid, now: i64) -> StoreResult<()> {
        let mut s = self.state();
        for k in s.api_keys.iter_mut().filter(|k| k.tenant_id == tenant && k.application_id == app && k.revoked_at.is_none()) {
            k.revoked_at = Some(now);
        }
        Ok(())
    }

    async fn set_callback_secret(&self, tenant: Uuid, app: Uuid, sealed: &[u8]) -> StoreResult<()> {
        let mut s = self.state();
        if let Some(row) = s.applications.iter_mut().find(|a| a.app.tenant_id == tenant && a.app.id == app) {
            row.callback_secret_sealed = Some(sealed.to_vec());
        }
        Ok(())
    }

    async fn callback_secret(&self, tenant: Uuid, app: Uuid) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.state().application(tenant, app).and_then(|a| a.callback_secret_sealed.clone()))
    }
}
