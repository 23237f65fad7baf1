//! Applications of hosted 2FA: created by console accounts, called with an API key from an
//! allowed address, telling their backend the result through a signed callback.

use std::net::IpAddr;

use reqwest::Url;
use serde_json::json;
use uuid::Uuid;

use super::ClientContext;
use super::applications::{API_KEY_DOMAIN, ApplicationPatch, Lists, NewApplication};
use super::audit::Attempt;
use crate::core::Core;
use crate::error::{CoreError, CoreResult};
use crate::model::AppId;
use crate::model::AuditAction;
use crate::model::{Application, ApplicationKind, Tenant, Verification};
use crate::net::{self, Cidr};

const MAX_LIST: usize = 50;

/// What a console account sets on an application.
#[derive(Debug, Clone, Default)]
pub struct HostedAppSettings {
    pub name: Option<String>,
    pub allowed_ips: Option<Vec<String>>,
    pub callback_url: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    /// Whether the hosted page offers the user's passkeys and security keys beside the code.
    pub webauthn: Option<bool>,
}

/// An application as its console shows it.
#[derive(Debug, Clone)]
pub struct HostedAppView {
    pub app: Application,
    /// The display prefix of its API key.
    pub key_prefix: Option<String>,
}

/// A new application with its secrets, shown once.
#[derive(Debug, Clone)]
pub struct HostedAppCreated {
    pub app: Application,
    pub api_key: String,
    /// The API key's display prefix.
    pub api_key_prefix: String,
    pub callback_secret: String,
}

/// Refusals of an outbound URL, naming the setting a test setup on one machine needs.
const NOT_HTTPS: &str = "must be https (plain http only with allow_private_callbacks, for development and tests)";
const PRIVATE: &str = "must not point to a private address (loopback and private addresses only with allow_private_callbacks, for development and tests)";

fn seal_context(app: &Application) -> String {
    format!("callback-secret/{}/{}", app.tenant_id, app.id)
}

/// Checks an allow-list of addresses and CIDR blocks; `required`: at least one (an application
/// that calls the hosted 2FA API needs one).
pub(crate) fn check_allow_list(list: &[String], required: bool) -> CoreResult<Vec<String>> {
    crate::model::text::check_all("allowed_ips", list)?;
    let list: Vec<String> = list.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    if (required && list.is_empty()) || list.len() > MAX_LIST {
        return Err(CoreError::field("allowed_ips", format!("1-{MAX_LIST} addresses or CIDR blocks")));
    }
    if let Some(bad) = list.iter().find(|s| Cidr::parse(s).is_none()) {
        return Err(CoreError::field("allowed_ips", format!("not an IP address or CIDR block: {bad}")));
    }
    Ok(list)
}

/// Whether `host` names this machine or a private network by name alone.
fn is_local_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost") || h.ends_with(".local") || h.ends_with(".internal")
}

fn host_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(a) => Some(IpAddr::V4(a)),
        url::Host::Ipv6(a) => Some(IpAddr::V6(a)),
        url::Host::Domain(_) => None,
    }
}

/// Hosted-verification applications: API keys, allow-lists, callbacks: `core.hosted_apps()`.
pub struct HostedApps<'a>(&'a Core);

impl Core {
    pub fn hosted_apps(&self) -> HostedApps<'_> {
        HostedApps(self)
    }
}

impl std::ops::Deref for HostedApps<'_> {
    type Target = Core;
    fn deref(&self) -> &Core {
        self.0
    }
}

impl HostedApps<'_> {
    /// Checks a callback URL: https to a public address (by name and by what the name resolves
    /// to now), unless private callbacks are allowed (development), which also allows http.
    pub async fn check_callback_url(&self, raw: &str) -> CoreResult<String> {
        self.check_outbound_url("callback_url", raw).await
    }

    /// Checks a URL this server will call (`field` names it in errors) by the callbacks' rules.
    pub(crate) async fn check_outbound_url(&self, field: &'static str, raw: &str) -> CoreResult<String> {
        crate::model::text::check(field, raw)?;
        let bad = |why: &str| CoreError::field(field, why.to_string());
        let url = Url::parse(raw.trim()).map_err(|_| bad("not an absolute URL"))?;
        if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
            return Err(bad("no fragment or credentials allowed"));
        }
        let host = url.host_str().ok_or_else(|| bad("no host"))?.to_string();
        if self.config.allow_private_callbacks {
            return match url.scheme() {
                "https" | "http" => Ok(url.to_string()),
                _ => Err(bad("must be https")),
            };
        }
        if url.scheme() != "https" {
            return Err(bad(NOT_HTTPS));
        }
        if let Some(ip) = host_ip(&url) {
            return if net::is_public(ip) { Ok(url.to_string()) } else { Err(bad(PRIVATE)) };
        }
        if is_local_name(&host) {
            return Err(bad(PRIVATE));
        }
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<IpAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| bad("host does not resolve"))?
            .map(|a| a.ip())
            .collect();
        if addrs.is_empty() || addrs.iter().any(|ip| !net::is_public(*ip)) {
            return Err(bad(PRIVATE));
        }
        Ok(url.to_string())
    }

    /// Checks redirect URIs: absolute http(s) URLs without fragment; plain http only for this
    /// machine (or when private callbacks are allowed).
    /// `required`: at least one.
    pub(crate) fn check_redirect_uris(&self, list: &[String], required: bool) -> CoreResult<Vec<String>> {
        crate::model::text::check_all("redirect_uris", list)?;
        let bad = |why: String| CoreError::field("redirect_uris", why);
        let list: Vec<String> = list.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        if (required && list.is_empty()) || list.len() > MAX_LIST {
            return Err(bad(format!("1-{MAX_LIST} URLs")));
        }
        for raw in &list {
            let url = Url::parse(raw).map_err(|_| bad(format!("not an absolute URL: {raw}")))?;
            let local = url.host_str().is_some_and(|h| is_local_name(h) || h == "127.0.0.1" || h == "[::1]");
            let ok_scheme = url.scheme() == "https" || (url.scheme() == "http" && (local || self.config.allow_private_callbacks));
            if !ok_scheme || url.host_str().is_none() || url.fragment().is_some() || !url.username().is_empty() {
                return Err(bad(format!("must be an https URL without fragment: {raw}")));
            }
        }
        Ok(list)
    }

    /// Creates an application in the account's tenant: a UUID client id, an API key and a
    /// callback secret (both returned once).
    pub async fn create_hosted_app(
        &self,
        tenant: &Tenant,
        s: HostedAppSettings,
        ctx: &ClientContext,
    ) -> CoreResult<HostedAppCreated> {
        let name = s.name.unwrap_or_default();
        let allowed_ips = check_allow_list(&s.allowed_ips.unwrap_or_default(), true)?;
        let callback_url = self.check_callback_url(s.callback_url.as_deref().unwrap_or_default()).await?;
        let redirect_uris = self.check_redirect_uris(&s.redirect_uris.unwrap_or_default(), true)?;
        let created = self
            .applications()
            .create_application(
                tenant,
                NewApplication {
                    name,
                    kind: ApplicationKind::Public,
                    client_id: Some(Uuid::new_v4().to_string()),
                    aliases: Default::default(),
                    roles: vec![],
                    allowed_ips,
                    callback_url: Some(callback_url),
                    redirect_uris,
                    single_otp_channel: false,
                    hosted_webauthn: s.webauthn.unwrap_or(false),
                    active: true,
                    oauth: Default::default(),
                    client_secret: None,
                },
            )
            .await?;
        let app = created.app;
        let (api_key, api_key_prefix) = self.applications().create_api_key(tenant, &app.client_id).await?;
        let callback_secret = created.callback_secret.ok_or_else(|| CoreError::internal("no callback secret made"))?;
        self.audit(
            Some(tenant.id),
            None,
            AuditAction::HostedAppCreate,
            "success",
            &with_app(ctx, &app),
            json!({"clientId": app.client_id}),
        )
        .await;
        Ok(HostedAppCreated { app, api_key, api_key_prefix, callback_secret })
    }

    /// Changes what is given, through the same merge as every other change of an application;
    /// the allow-list and the redirect URIs cannot be emptied.
    pub async fn update_hosted_app(
        &self,
        tenant: &Tenant,
        id: AppId,
        s: HostedAppSettings,
        ctx: &ClientContext,
    ) -> CoreResult<HostedAppView> {
        let app = self.applications().application_by_id(tenant, id).await?;
        let patch = ApplicationPatch {
            name: s.name,
            allowed_ips: s.allowed_ips,
            callback_url: s.callback_url,
            redirect_uris: s.redirect_uris,
            hosted_webauthn: s.webauthn,
            ..ApplicationPatch::default()
        };
        // A console's application has had its callback secret since creation: none is made here.
        let (app, _) = self.applications().patch_application(tenant, app, patch, Lists::Required).await?;
        self.audit(Some(tenant.id), None, AuditAction::HostedAppUpdate, "success", &with_app(ctx, &app), json!({})).await;
        self.hosted_app_view(app).await
    }

    /// The account's applications as its console lists them.
    pub async fn hosted_apps(&self, tenant: &Tenant) -> CoreResult<Vec<HostedAppView>> {
        let mut views = Vec::new();
        for app in self.applications().list_applications(tenant).await? {
            views.push(self.hosted_app_view(app).await?);
        }
        Ok(views)
    }

    /// One of the account's applications; `NotFound` if it is not the account's.
    pub async fn hosted_app(&self, tenant: &Tenant, id: AppId) -> CoreResult<HostedAppView> {
        self.hosted_app_view(self.applications().application_by_id(tenant, id).await?).await
    }

    /// One of the account's applications with its `limit` most recent verifications.
    pub async fn hosted_app_with_verifications(
        &self,
        tenant: &Tenant,
        id: AppId,
        limit: u32,
    ) -> CoreResult<(HostedAppView, Vec<Verification>)> {
        let view = self.hosted_app(tenant, id).await?;
        let recent = self.hosted().recent_verifications(tenant, &view.app, limit).await?;
        Ok((view, recent))
    }

    async fn hosted_app_view(&self, app: Application) -> CoreResult<HostedAppView> {
        let key_prefix = self.api_key_prefix(&app).await?;
        Ok(HostedAppView { app, key_prefix })
    }

    /// A new API key; every earlier key stops working at once.
    pub async fn rotate_hosted_api_key(&self, tenant: &Tenant, id: AppId, ctx: &ClientContext) -> CoreResult<String> {
        let app = self.applications().application_by_id(tenant, id).await?;
        self.store.revoke_api_keys(tenant.id, app.id, self.now()).await?;
        let (key, _) = self.applications().create_api_key(tenant, &app.client_id).await?;
        self.audit(Some(tenant.id), None, AuditAction::HostedAppRotateKey, "success", &with_app(ctx, &app), json!({})).await;
        Ok(key)
    }

    /// Sets an API key and callback secret chosen elsewhere (fixtures, an application moved from
    /// another server); earlier keys stop working.
    pub async fn import_hosted_secrets(
        &self,
        tenant: &Tenant,
        app: &Application,
        api_key: &str,
        callback_secret: &str,
    ) -> CoreResult<()> {
        if api_key.len() < 16 || callback_secret.len() < 16 {
            return Err(CoreError::field("api_key", "API key and callback secret need 16 characters or more"));
        }
        self.store.revoke_api_keys(tenant.id, app.id, self.now()).await?;
        let prefix: String = api_key.chars().take(14).collect();
        self.store
            .insert_api_key(tenant.id, app.id, &prefix, &self.master.mac(API_KEY_DOMAIN, api_key.as_bytes()), self.now())
            .await?;
        let sealed = self.master.seal(&seal_context(app), callback_secret.as_bytes())?;
        Ok(self.store.set_callback_secret(tenant.id, app.id, &sealed).await?)
    }

    /// A new callback secret, returned once; only an application with a callback URL has one.
    pub async fn rotate_callback_secret(&self, tenant: &Tenant, app: &Application) -> CoreResult<String> {
        if tenant.id != app.tenant_id {
            return Err(CoreError::NotFound);
        }
        if app.callback_url.is_none() {
            return Err(CoreError::field("callback_url", "the application has no callback URL"));
        }
        let secret = format!("cbs_{}", crate::crypto::random_token());
        self.store_callback_secret(app, &secret).await?;
        Ok(secret)
    }

    async fn store_callback_secret(&self, app: &Application, secret: &str) -> CoreResult<()> {
        let sealed = self.master.seal(&seal_context(app), secret.as_bytes())?;
        Ok(self.store.set_callback_secret(app.tenant_id, app.id, &sealed).await?)
    }

    pub(crate) async fn callback_secret(&self, app: &Application) -> CoreResult<Vec<u8>> {
        let sealed = self.store.callback_secret(app.tenant_id, app.id).await?.ok_or(CoreError::NotFound)?;
        self.master.open(&seal_context(app), &sealed)
    }

    /// Turns the application on or off (an inactive one's API calls are refused).
    pub async fn set_hosted_app_active(
        &self,
        tenant: &Tenant,
        id: AppId,
        active: bool,
        ctx: &ClientContext,
    ) -> CoreResult<HostedAppView> {
        let app = self.applications().application_by_id(tenant, id).await?;
        let patch = ApplicationPatch { active: Some(active), ..ApplicationPatch::default() };
        let (app, _) = self.applications().patch_application(tenant, app, patch, Lists::Required).await?;
        let action = if active { AuditAction::HostedAppActivate } else { AuditAction::HostedAppDeactivate };
        self.audit(Some(tenant.id), None, action, "success", &with_app(ctx, &app), json!({})).await;
        self.hosted_app_view(app).await
    }

    /// The display prefix of the application's API key.
    pub async fn api_key_prefix(&self, app: &Application) -> CoreResult<Option<String>> {
        Ok(self.store.api_key_prefix(app.tenant_id, app.id).await?)
    }

    /// The application `client_id` if `key` is its API key and `ip` is on its allow-list.
    /// `Unauthorized`: no such key, or the key of another application. `Forbidden`: the address
    /// is not allowed. `Disabled`: the application is inactive. Every check is one
    /// `api_key.authenticate` event, success included; an unknown key names no tenant, so neither
    /// does its event.
    pub async fn authenticate_api_key(
        &self,
        key: &str,
        client_id: &str,
        ip: IpAddr,
        ctx: &ClientContext,
    ) -> CoreResult<(Application, Tenant)> {
        let mut attempt = Attempt::new(None, AuditAction::ApiKeyAuthenticate);
        attempt.note("clientId", client_id.chars().take(100).collect::<String>());
        let result = async {
            if key.is_empty() || key.len() > 200 {
                return Err(attempt.refuse("failure", "malformed key", CoreError::Unauthorized));
            }
            // Looked up by HMAC: the comparison happens on a keyed digest, so the time it takes says
            // nothing about how much of a guess was right.
            let hash = self.master.mac(API_KEY_DOMAIN, key.as_bytes());
            let Some(app) = self.store.application_by_api_key(&hash).await? else {
                return Err(attempt.refuse("failure", "unknown key", CoreError::Unauthorized));
            };
            attempt.tenant = Some(app.tenant_id);
            attempt.application = Some(app.id);
            if !crate::crypto::ct_eq(app.client_id.as_bytes(), client_id.as_bytes()) {
                return Err(attempt.refuse("failure", "key of another application", CoreError::Unauthorized));
            }
            if !net::allowed(&app.allowed_ips, ip) {
                return Err(attempt.refuse("forbidden", "address not allowed", CoreError::Forbidden));
            }
            if !app.active {
                return Err(attempt.refuse("disabled", "application inactive", CoreError::Disabled));
            }
            let tenant = self.tenants().find_tenant(&app.tenant_id.to_string()).await?;
            Ok((app, tenant))
        }
        .await;
        self.record_attempt(attempt, ctx, &result).await;
        result
    }
}

pub(crate) fn with_app(ctx: &ClientContext, app: &Application) -> ClientContext {
    let mut ctx = ctx.clone();
    ctx.application_id = Some(app.id);
    ctx
}
