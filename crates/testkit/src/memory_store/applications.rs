//! Applications, their aliases, API keys and callback secrets.

use std::collections::BTreeMap;

use super::*;
use castellan_core::store::ApplicationStore;

fn application_texts(a: &Application) -> StoreResult<()> {
    // The lists are stored as JSON, which escapes NUL: only the plain columns can refuse it.
    texts([Some(a.client_id.as_str()), Some(&a.name), a.callback_url.as_deref()])
}

impl State {
    fn application(&self, tenant: TenantId, id: AppId) -> Option<&ApplicationRow> {
        self.applications.iter().find(|a| a.app.tenant_id == tenant && a.app.id == id)
    }

    /// The application with the aliases `rows` holds for it.
    fn with_aliases<'a>(&'a self, row: &ApplicationRow, rows: impl Iterator<Item = &'a AliasRow>) -> Application {
        let aliases: BTreeMap<Dialect, String> =
            rows.filter(|x| x.application_id == row.app.id).map(|x| (x.dialect, x.alias.clone())).collect();
        Application { aliases, ..row.app.clone() }
    }

    /// The application with all its aliases.
    fn read_application(&self, row: &ApplicationRow) -> Application {
        self.with_aliases(row, self.application_aliases.iter())
    }

    /// Whether `app`'s aliases could be written beside those of the other applications: each
    /// one's text, then its clash, in the order they are written. A clash is a conflict on the
    /// dialect's alias field.
    fn check_aliases(&self, app: &Application) -> StoreResult<()> {
        for (dialect, alias) in &app.aliases {
            text(alias)?;
            let taken =
                self.application_aliases.iter().any(|x| x.application_id != app.id && x.dialect == *dialect && x.alias == *alias);
            unique(&[(taken, ConflictOn::Alias(*dialect))])?;
        }
        Ok(())
    }

    fn write_aliases(&mut self, app: &Application) {
        self.application_aliases.retain(|x| x.application_id != app.id);
        self.application_aliases.extend(app.aliases.iter().map(|(dialect, alias)| AliasRow {
            dialect: *dialect,
            alias: alias.clone(),
            tenant_id: app.tenant_id,
            application_id: app.id,
        }));
    }
}

#[async_trait]
impl ApplicationStore for MemoryStore {
    async fn insert_application(&self, a: &Application) -> StoreResult<()> {
        application_texts(a)?;
        let mut s = self.state();
        unique(&[
            (s.applications.iter().any(|r| r.app.id == a.id), ConflictOn::Other),
            (s.applications.iter().any(|r| r.app.client_id == a.client_id), ConflictOn::ClientId),
        ])?;
        s.require_tenant(a.tenant_id)?;
        s.check_aliases(a)?;
        s.write_aliases(a);
        let app = Application { aliases: BTreeMap::new(), ..a.clone() };
        s.applications.push(ApplicationRow { app, callback_secret_sealed: None, client_secret_sealed: None });
        Ok(())
    }

    async fn update_application(&self, a: &Application) -> StoreResult<()> {
        application_texts(a)?;
        let mut s = self.state();
        let Some(i) = s.applications.iter().position(|r| r.app.tenant_id == a.tenant_id && r.app.id == a.id) else {
            return Ok(());
        };
        s.check_aliases(a)?;
        s.write_aliases(a);
        let row = &mut s.applications[i].app;
        row.name = a.name.clone();
        row.secret_hash = a.secret_hash.clone();
        row.roles = a.roles.clone();
        row.allowed_ips = a.allowed_ips.clone();
        row.callback_url = a.callback_url.clone();
        row.redirect_uris = a.redirect_uris.clone();
        row.single_otp_channel = a.single_otp_channel;
        row.hosted_webauthn = a.hosted_webauthn;
        row.active = a.active;
        row.oauth = a.oauth.clone();
        Ok(())
    }

    async fn application_by_client_id(&self, tenant: TenantId, client_id: &str) -> StoreResult<Option<Application>> {
        text(client_id)?;
        let s = self.state();
        let row = s.applications.iter().find(|r| r.app.tenant_id == tenant && r.app.client_id == client_id);
        Ok(row.map(|r| s.read_application(r)))
    }

    async fn application_by_id(&self, tenant: TenantId, id: AppId) -> StoreResult<Option<Application>> {
        let s = self.state();
        Ok(s.application(tenant, id).map(|r| s.read_application(r)))
    }

    async fn list_applications(&self, tenant: TenantId) -> StoreResult<Vec<Application>> {
        let s = self.state();
        let mut apps: Vec<Application> = s
            .applications
            .iter()
            .filter(|r| r.app.tenant_id == tenant)
            .map(|r| s.with_aliases(r, s.application_aliases.iter().filter(|x| x.tenant_id == tenant)))
            .collect();
        apps.sort_by_key(|a| (a.created_at, a.id));
        Ok(apps)
    }

    async fn delete_application(&self, tenant: TenantId, id: AppId) -> StoreResult<bool> {
        let mut s = self.state();
        let found = s.application(tenant, id).is_some();
        if found {
            s.remove_application(id);
        }
        Ok(found)
    }

    async fn application_by_alias(&self, dialect: Dialect, alias: &str) -> StoreResult<Option<Application>> {
        text(alias)?;
        let s = self.state();
        let named = s.application_aliases.iter().find(|x| x.dialect == dialect && x.alias == alias);
        let row = named.and_then(|x| s.applications.iter().find(|r| r.app.id == x.application_id));
        Ok(row.map(|r| s.read_application(r)))
    }

    async fn insert_api_key(&self, tenant: TenantId, app: AppId, prefix: &str, key_hash: &[u8], now: i64) -> StoreResult<()> {
        text(prefix)?;
        let mut s = self.state();
        unique(&[(s.api_keys.iter().any(|k| k.key_hash == key_hash), ConflictOn::Other)])?;
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
        let row = key.and_then(|k| s.applications.iter().find(|a| a.app.id == k.application_id));
        Ok(row.map(|r| s.read_application(r)))
    }

    async fn api_key_prefix(&self, tenant: TenantId, app: AppId) -> StoreResult<Option<String>> {
        let s = self.state();
        let live = s.api_keys.iter().filter(|k| k.tenant_id == tenant && k.application_id == app && k.revoked_at.is_none());
        Ok(live.max_by_key(|k| (k.created_at, k.id)).map(|k| k.prefix.clone()))
    }

    async fn revoke_api_keys(&self, tenant: TenantId, app: AppId, now: i64) -> StoreResult<()> {
        let mut s = self.state();
        for k in s.api_keys.iter_mut().filter(|k| k.tenant_id == tenant && k.application_id == app && k.revoked_at.is_none()) {
            k.revoked_at = Some(now);
        }
        Ok(())
    }

    async fn set_callback_secret(&self, tenant: TenantId, app: AppId, sealed: &[u8]) -> StoreResult<()> {
        let mut s = self.state();
        if let Some(row) = s.applications.iter_mut().find(|a| a.app.tenant_id == tenant && a.app.id == app) {
            row.callback_secret_sealed = Some(sealed.to_vec());
        }
        Ok(())
    }

    async fn callback_secret(&self, tenant: TenantId, app: AppId) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.state().application(tenant, app).and_then(|a| a.callback_secret_sealed.clone()))
    }

    async fn set_client_secret_seal(&self, tenant: TenantId, app: AppId, sealed: Option<&[u8]>) -> StoreResult<()> {
        let mut s = self.state();
        if let Some(row) = s.applications.iter_mut().find(|a| a.app.tenant_id == tenant && a.app.id == app) {
            row.client_secret_sealed = sealed.map(<[u8]>::to_vec);
        }
        Ok(())
    }

    async fn client_secret_seal(&self, tenant: TenantId, app: AppId) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.state().application(tenant, app).and_then(|a| a.client_secret_sealed.clone()))
    }
}
