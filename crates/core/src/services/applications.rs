//! Applications: clients of Castellan inside a tenant, their secrets and API keys.

use std::collections::BTreeMap;

use super::audit::Attempt;
use crate::core::Core;
use crate::error::{ConflictOn, CoreError, CoreResult};
use crate::model::AppId;
use crate::model::AuditAction;
use crate::model::Dialect;
use crate::model::oauth::KNOWN_SCOPES;
use crate::model::{Application, ApplicationKind, AuthMethod, GrantType, OAuthClient, Tenant, new_id, text};
use crate::store::StoreError;

const SECRET_DOMAIN: &str = "client-secret";
pub(crate) const API_KEY_DOMAIN: &str = "api-key";

/// What an operator gives to create an application.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub name: String,
    pub kind: ApplicationKind,
    pub client_id: Option<String>,
    /// The names dialects know the application by; an empty name is none.
    pub aliases: BTreeMap<Dialect, String>,
    pub roles: Vec<String>,
    pub allowed_ips: Vec<String>,
    pub callback_url: Option<String>,
    pub redirect_uris: Vec<String>,
    pub single_otp_channel: bool,
    /// The eauthenticator hosted page offers passkeys and security keys beside the code.
    pub hosted_webauthn: bool,
    pub active: bool,
    /// Its settings as an OpenID Connect client (the defaults of its kind when left empty).
    pub oauth: OAuthClient,
    /// A secret chosen elsewhere, for a client moved from another server that keeps its
    /// configuration; `None`: a new one is made and returned once.
    pub client_secret: Option<String>,
}

/// A partial update of an application: the admin API's, the CLI's and a console's. `None` leaves a
/// field as it is; every given field is checked as at creation.
#[derive(Debug, Clone, Default)]
pub struct ApplicationPatch {
    pub name: Option<String>,
    /// Aliases to set; an empty name removes the dialect's alias.
    pub aliases: BTreeMap<Dialect, String>,
    pub roles: Option<Vec<String>>,
    pub allowed_ips: Option<Vec<String>>,
    pub callback_url: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub single_otp_channel: Option<bool>,
    pub hosted_webauthn: Option<bool>,
    pub active: Option<bool>,
    pub oauth: OAuthPatch,
}

/// A partial update of an application's OpenID Connect settings; `None` leaves a field as it is.
/// For the optional fields, `Some(None)` clears them.
#[derive(Debug, Clone, Default)]
pub struct OAuthPatch {
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<GrantType>>,
    pub scopes: Option<Vec<String>>,
    pub token_endpoint_auth_method: Option<Option<AuthMethod>>,
    pub first_party: Option<bool>,
    pub require_pkce: Option<bool>,
    pub access_token_audience: Option<Option<String>>,
    pub introspect_any: Option<bool>,
    pub backchannel_logout_uri: Option<Option<String>>,
    pub require_par: Option<bool>,
    pub dpop_bound: Option<bool>,
    pub jwks: Option<Option<serde_json::Value>>,
    pub jwks_uri: Option<Option<String>>,
    pub exchange_audiences: Option<Vec<String>>,
    pub exchange_delegation: Option<bool>,
}

impl OAuthPatch {
    fn apply(self, to: &mut OAuthClient) {
        macro_rules! set {
            ($($field:ident),*) => { $(if let Some(v) = self.$field { to.$field = v; })* };
        }
        set!(
            post_logout_redirect_uris,
            grant_types,
            scopes,
            token_endpoint_auth_method,
            first_party,
            require_pkce,
            access_token_audience,
            introspect_any,
            backchannel_logout_uri,
            require_par,
            dpop_bound,
            jwks,
            jwks_uri,
            exchange_audiences,
            exchange_delegation
        );
    }
}

/// A new application and the secrets made for it, each shown once.
#[derive(Debug, Clone)]
pub struct CreatedApplication {
    pub app: Application,
    /// Confidential and service clients.
    pub client_secret: Option<String>,
    /// Applications with a callback URL: the key of the callbacks' HMAC-SHA256 signature (its
    /// UTF-8 bytes, as shown).
    pub callback_secret: Option<String>,
}

/// Whether a change may leave an application without the lists hosted 2FA calls it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lists {
    /// Operators may empty the allow-list and the redirect URIs.
    Optional,
    /// A console's application keeps at least one of each, as at its creation.
    Required,
}

fn secret_seal_context(app: &Application) -> String {
    format!("client-secret/{}/{}", app.tenant_id, app.id)
}

fn check_client_id(s: &str) -> CoreResult<()> {
    let ok = (1..=100).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c));
    if ok { Ok(()) } else { Err(CoreError::field("client_id", "1-100 of A-Z a-z 0-9 . _ - :")) }
}

fn check_name(name: &str) -> CoreResult<String> {
    text::check("name", name)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(CoreError::field("name", "must be 1-200 characters"));
    }
    Ok(name.to_string())
}

/// The field an alias is checked and reported under.
fn alias_field(dialect: Dialect) -> CoreResult<&'static str> {
    dialect.alias_field().ok_or_else(|| CoreError::field("aliases", format!("{dialect} applications have no alias")))
}

/// Checks the given aliases; an empty one drops the dialect's alias from `into`.
fn apply_aliases(into: &mut BTreeMap<Dialect, String>, given: BTreeMap<Dialect, String>) -> CoreResult<()> {
    for (dialect, alias) in given {
        match check_alias(alias_field(dialect)?, Some(alias))? {
            Some(alias) => into.insert(dialect, alias),
            None => into.remove(&dialect),
        };
    }
    Ok(())
}

fn check_alias(field: &str, v: Option<String>) -> CoreResult<Option<String>> {
    text::check_opt(field, v.as_deref())?;
    match v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) {
        Some(s) if s.len() > 100 || s.chars().any(char::is_whitespace) => {
            Err(CoreError::field(field, "at most 100 characters, no spaces"))
        }
        other => Ok(other),
    }
}

/// Refuses control characters in everything an application stores as text: the admin API takes
/// its aliases, URLs and lists as given.
fn check_application_texts(app: &Application) -> CoreResult<()> {
    text::check("name", &app.name)?;
    text::check("client_id", &app.client_id)?;
    for (dialect, alias) in &app.aliases {
        text::check(alias_field(*dialect)?, alias)?;
    }
    text::check_all("roles", &app.roles)?;
    text::check_all("allowed_ips", &app.allowed_ips)?;
    text::check_opt("callback_url", app.callback_url.as_deref())?;
    text::check_all("redirect_uris", &app.redirect_uris)
}

/// Checks an application's OpenID Connect settings against its kind, normalising lists. What
/// this server cannot do yet is refused rather than stored as a promise.
async fn check_oauth_client(
    hosted: &super::hosted_apps::HostedApps<'_>,
    kind: ApplicationKind,
    oauth: &mut OAuthClient,
) -> CoreResult<()> {
    fn field(name: &'static str, why: impl Into<String>) -> CoreError {
        CoreError::field(name, why)
    }
    oauth.post_logout_redirect_uris = hosted
        .check_redirect_uris(&oauth.post_logout_redirect_uris, false)
        .map_err(|_| field("post_logout_redirect_uris", "absolute https URLs without fragment (http only for this machine)"))?;
    oauth.grant_types.sort();
    oauth.grant_types.dedup();
    for grant in &oauth.grant_types {
        match grant {
            GrantType::TokenExchange if kind == ApplicationKind::Public => {
                return Err(field("grant_types", "a public client cannot exchange tokens"));
            }
            GrantType::ClientCredentials if kind == ApplicationKind::Public => {
                return Err(field("grant_types", "a public client cannot use client_credentials"));
            }
            _ => {}
        }
    }
    text::check_all("scopes", &oauth.scopes)?;
    oauth.scopes.dedup();
    if let Some(unknown) = oauth.scopes.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return Err(field("scopes", format!("unknown scope {unknown}; known: {}", KNOWN_SCOPES.join(" "))));
    }
    match (oauth.token_endpoint_auth_method, kind) {
        (Some(AuthMethod::PrivateKeyJwt), ApplicationKind::Public) => {
            return Err(field("token_endpoint_auth_method", "a public client has no keys: none"));
        }
        (Some(AuthMethod::PrivateKeyJwt), _) if oauth.jwks.is_none() && oauth.jwks_uri.is_none() => {
            return Err(field("token_endpoint_auth_method", "private_key_jwt needs the client's keys: jwks or jwks_uri"));
        }
        (Some(AuthMethod::None), ApplicationKind::Confidential | ApplicationKind::Service) => {
            return Err(field("token_endpoint_auth_method", "a client with a secret authenticates with it"));
        }
        (Some(m), ApplicationKind::Public) if m != AuthMethod::None => {
            return Err(field("token_endpoint_auth_method", "a public client has no secret: none"));
        }
        _ => {}
    }
    if oauth.introspect_any && kind == ApplicationKind::Public {
        return Err(field("introspect_any", "a public client cannot introspect"));
    }
    text::check_opt("access_token_audience", oauth.access_token_audience.as_deref())?;
    if let Some(aud) = &oauth.access_token_audience
        && (aud.trim().is_empty() || aud.len() > 200)
    {
        return Err(field("access_token_audience", "1-200 characters"));
    }
    text::check_all("exchange_audiences", &oauth.exchange_audiences)?;
    oauth.exchange_audiences.sort();
    oauth.exchange_audiences.dedup();
    if oauth.exchange_audiences.len() > 20 || oauth.exchange_audiences.iter().any(|a| a.trim().is_empty() || a.len() > 200) {
        return Err(field("exchange_audiences", "up to 20 audiences of 1-200 characters"));
    }
    if oauth.jwks.is_some() && oauth.jwks_uri.is_some() {
        return Err(field("jwks", "give jwks or jwks_uri, not both"));
    }
    if let Some(jwks) = &oauth.jwks {
        super::provider::check_client_jwks(jwks).map_err(|why| field("jwks", why))?;
    }
    if let Some(uri) = &oauth.jwks_uri {
        oauth.jwks_uri = Some(hosted.check_outbound_url("jwks_uri", uri).await?);
    }
    if let Some(uri) = &oauth.backchannel_logout_uri {
        oauth.backchannel_logout_uri = Some(hosted.check_outbound_url("backchannel_logout_uri", uri).await?);
    }
    Ok(())
}

/// The conflict of an application write: the alias or client id the store names.
fn application_conflict(e: StoreError) -> CoreError {
    match e {
        StoreError::Conflict(ConflictOn::Other) => CoreError::Conflict(ConflictOn::ClientId),
        StoreError::Conflict(on) => CoreError::Conflict(on),
        other => other.into(),
    }
}

/// Applications: created, changed, looked up, their clients authenticated: `core.applications()`.
pub struct Applications<'a>(&'a Core);

impl Core {
    pub fn applications(&self) -> Applications<'_> {
        Applications(self)
    }
}

impl std::ops::Deref for Applications<'_> {
    type Target = Core;
    fn deref(&self) -> &Core {
        self.0
    }
}

impl Applications<'_> {
    /// Creates an application after checking every field (the same rules as the console's):
    /// confidential and service clients get a client secret, applications with a callback URL a
    /// callback secret; both are returned once.
    pub async fn create_application(&self, tenant: &Tenant, new: NewApplication) -> CoreResult<CreatedApplication> {
        let name = check_name(&new.name)?;
        let client_id = new.client_id.unwrap_or_else(|| format!("app_{}", new_id().simple()));
        check_client_id(&client_id)?;
        let allowed_ips = super::hosted_apps::check_allow_list(&new.allowed_ips, false)?;
        let callback_url = match new.callback_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => Some(self.hosted_apps().check_callback_url(url).await?),
            None => None,
        };
        let redirect_uris = self.hosted_apps().check_redirect_uris(&new.redirect_uris, false)?;
        let (secret, shown) = match (new.kind, new.client_secret) {
            (ApplicationKind::Public, Some(_)) => return Err(CoreError::field("client_secret", "public clients have no secret")),
            (ApplicationKind::Public, None) => (None, false),
            (_, Some(kept)) if (16..=1024).contains(&kept.len()) && !kept.chars().any(char::is_control) => (Some(kept), false),
            (_, Some(_)) => return Err(CoreError::field("client_secret", "16-1024 characters, no control characters")),
            (_, None) => (Some(format!("cas_secret_{}", crate::crypto::random_token())), true),
        };
        let mut aliases = BTreeMap::new();
        apply_aliases(&mut aliases, new.aliases)?;
        let mut oauth = new.oauth;
        check_oauth_client(&self.hosted_apps(), new.kind, &mut oauth).await?;
        let app = Application {
            id: AppId::new(),
            tenant_id: tenant.id,
            client_id,
            name,
            kind: new.kind,
            secret_hash: secret.as_ref().map(|s| self.master.mac(SECRET_DOMAIN, s.as_bytes())),
            aliases,
            roles: new.roles,
            allowed_ips,
            callback_url,
            redirect_uris,
            single_otp_channel: new.single_otp_channel,
            hosted_webauthn: new.hosted_webauthn,
            active: new.active,
            created_at: self.now(),
            oauth,
        };
        check_application_texts(&app)?;
        self.store.insert_application(&app).await.map_err(application_conflict)?;
        if let Some(s) = &secret
            && app.auth_method() == AuthMethod::ClientSecretJwt
        {
            self.keep_secret_for_assertions(&app, s).await?;
        }
        let callback_secret =
            if app.callback_url.is_some() { Some(self.hosted_apps().rotate_callback_secret(tenant, &app).await?) } else { None };
        Ok(CreatedApplication { app, client_secret: secret.filter(|_| shown), callback_secret })
    }

    /// Changes what the patch gives, each field checked as at creation. An application that gets
    /// its first callback URL gets a callback secret, returned here once.
    pub async fn update_application(
        &self,
        tenant: &Tenant,
        client_id: &str,
        patch: ApplicationPatch,
    ) -> CoreResult<(Application, Option<String>)> {
        let app = self.get_application(tenant, client_id).await?;
        self.patch_application(tenant, app, patch, Lists::Optional).await
    }

    /// The one merge of a patch into an application, whoever changes it: every given field is
    /// checked as at creation before anything is stored.
    pub(crate) async fn patch_application(
        &self,
        tenant: &Tenant,
        mut app: Application,
        patch: ApplicationPatch,
        lists: Lists,
    ) -> CoreResult<(Application, Option<String>)> {
        let required = lists == Lists::Required;
        if let Some(name) = patch.name {
            app.name = check_name(&name)?;
        }
        apply_aliases(&mut app.aliases, patch.aliases)?;
        if let Some(roles) = patch.roles {
            app.roles = roles;
        }
        if let Some(list) = patch.allowed_ips {
            app.allowed_ips = super::hosted_apps::check_allow_list(&list, required)?;
        }
        let had_callback = app.callback_url.is_some();
        if let Some(url) = patch.callback_url {
            app.callback_url = Some(self.hosted_apps().check_callback_url(&url).await?);
        }
        if let Some(list) = patch.redirect_uris {
            app.redirect_uris = self.hosted_apps().check_redirect_uris(&list, required)?;
        }
        if let Some(single) = patch.single_otp_channel {
            app.single_otp_channel = single;
        }
        if let Some(on) = patch.hosted_webauthn {
            app.hosted_webauthn = on;
        }
        if let Some(active) = patch.active {
            app.active = active;
        }
        patch.oauth.apply(&mut app.oauth);
        check_oauth_client(&self.hosted_apps(), app.kind, &mut app.oauth).await?;
        self.save_application(&app).await?;
        let needs_secret =
            app.callback_url.is_some() && (!had_callback || self.store.callback_secret(tenant.id, app.id).await?.is_none());
        let callback_secret =
            if needs_secret { Some(self.hosted_apps().rotate_callback_secret(tenant, &app).await?) } else { None };
        Ok((app, callback_secret))
    }

    pub async fn get_application(&self, tenant: &Tenant, client_id: &str) -> CoreResult<Application> {
        // A client id with a control character names no application (see `check_client_id`).
        if client_id.chars().any(char::is_control) {
            return Err(CoreError::NotFound);
        }
        self.store.application_by_client_id(tenant.id, client_id).await?.ok_or(CoreError::NotFound)
    }

    /// The application `client_id` of the tenant, from a per-node cache: a change made on this
    /// node is seen at once, one made on another within the cache's lifetime. For the paths that
    /// look a client up on every request; `None` when there is none (not cached).
    pub async fn cached_by_client_id(&self, tenant: &Tenant, client_id: &str) -> CoreResult<Option<Application>> {
        if client_id.is_empty() || client_id.len() > 100 || client_id.chars().any(char::is_control) {
            return Ok(None);
        }
        let key = (tenant.id, client_id.to_string());
        if let Some(app) = self.apps_by_client_id.get(&key) {
            return Ok(Some(app));
        }
        let found = self.store.application_by_client_id(tenant.id, client_id).await?;
        if let Some(app) = &found {
            self.apps_by_client_id.put(key, app.clone());
        }
        Ok(found)
    }

    pub async fn application_by_id(&self, tenant: &Tenant, id: AppId) -> CoreResult<Application> {
        self.store.application_by_id(tenant.id, id).await?.ok_or(CoreError::NotFound)
    }

    pub async fn list_applications(&self, tenant: &Tenant) -> CoreResult<Vec<Application>> {
        Ok(self.store.list_applications(tenant.id).await?)
    }

    pub async fn save_application(&self, app: &Application) -> CoreResult<()> {
        check_application_texts(app)?;
        self.store.update_application(app).await.map_err(application_conflict)?;
        self.apps_by_alias.clear();
        self.apps_by_client_id.clear();
        Ok(())
    }

    pub async fn delete_application(&self, tenant: &Tenant, client_id: &str) -> CoreResult<()> {
        let app = self.get_application(tenant, client_id).await?;
        self.store.delete_application(tenant.id, app.id).await?;
        self.apps_by_alias.clear();
        self.apps_by_client_id.clear();
        Ok(())
    }

    /// The active application `dialect` knows as `alias`, and its tenant, if that tenant is
    /// served by `dialect`; anything else is `UnknownApplication`.
    pub async fn application_by_alias(&self, dialect: Dialect, alias: &str) -> CoreResult<(Application, Tenant)> {
        if alias.is_empty() || alias.len() > 100 {
            return Err(CoreError::UnknownApplication);
        }
        text::check(dialect.alias_param().unwrap_or("alias"), alias)?;
        let cache_key = (dialect, alias.to_string());
        let app = match self.apps_by_alias.get(&cache_key) {
            Some(app) => app,
            None => {
                let found = self.store.application_by_alias(dialect, alias).await?;
                let app = found.ok_or(CoreError::UnknownApplication)?;
                self.apps_by_alias.put(cache_key, app.clone());
                app
            }
        };
        let tenant = self.tenants().find_tenant(&app.tenant_id.to_string()).await.map_err(|_| CoreError::UnknownApplication)?;
        if !app.active || !tenant.serves(dialect) {
            return Err(CoreError::UnknownApplication);
        }
        Ok((app, tenant))
    }

    /// The active application `client_id` of the tenant, if it is of one of the `accepted` kinds
    /// (never public: a public client has no secret to keep) and `secret` is its client secret;
    /// anything else is `InvalidCredentials`. One `client.authenticate` event per attempt,
    /// whatever the outcome.
    pub async fn authenticate_client(
        &self,
        tenant: &Tenant,
        client_id: &str,
        secret: &str,
        accepted: &[ApplicationKind],
        ctx: &crate::services::ClientContext,
    ) -> CoreResult<Application> {
        let mut attempt = Attempt::new(Some(tenant.id), AuditAction::ClientAuthenticate);
        attempt.note("clientId", client_id.chars().take(100).collect::<String>());
        let result = async {
            text::check("client_id", client_id)?;
            let app = if client_id.is_empty() || client_id.len() > 100 {
                None
            } else {
                self.store.application_by_client_id(tenant.id, client_id).await?
            };
            let app = app.filter(|a| a.active && a.kind != ApplicationKind::Public);
            // The MAC is computed whether or not the client exists: same work either way.
            let right = match &app {
                Some(a) => self.check_client_secret(a, secret),
                None => {
                    let _ = self.master.mac(SECRET_DOMAIN, secret.as_bytes());
                    false
                }
            };
            attempt.application = app.as_ref().map(|a| a.id);
            match app {
                Some(a) if right && !accepted.contains(&a.kind) => {
                    Err(attempt.refuse("failure", "client of a kind not accepted here", CoreError::InvalidCredentials))
                }
                Some(a) if right => Ok(a),
                Some(_) => Err(attempt.refuse("failure", "wrong secret", CoreError::InvalidCredentials)),
                None => Err(attempt.refuse("failure", "unknown, inactive or public client", CoreError::InvalidCredentials)),
            }
        }
        .await;
        self.record_attempt(attempt, ctx, &result).await;
        result
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
        self.keep_secret_for_assertions(&app, &secret).await?;
        Ok(secret)
    }

    /// Keeps the secret sealed for a `client_secret_jwt` client (the server needs the secret
    /// itself to check an HMAC-signed assertion) and forgets any sealed copy for other clients.
    async fn keep_secret_for_assertions(&self, app: &Application, secret: &str) -> CoreResult<()> {
        let sealed = if app.auth_method() == AuthMethod::ClientSecretJwt {
            Some(self.master.seal(&secret_seal_context(app), secret.as_bytes())?)
        } else {
            None
        };
        Ok(self.store.set_client_secret_seal(app.tenant_id, app.id, sealed.as_deref()).await?)
    }

    /// The secret a `client_secret_jwt` client signs its assertions with; `None` when none is kept
    /// (a client switched to the method without a new secret since).
    pub(crate) async fn assertion_secret(&self, app: &Application) -> CoreResult<Option<zeroize::Zeroizing<Vec<u8>>>> {
        let Some(sealed) = self.store.client_secret_seal(app.tenant_id, app.id).await? else { return Ok(None) };
        Ok(Some(zeroize::Zeroizing::new(self.master.open(&secret_seal_context(app), &sealed)?)))
    }

    /// Sets a client secret chosen elsewhere (a client moved from another server keeps its secret).
    pub async fn import_client_secret(&self, tenant: &Tenant, client_id: &str, secret: &str) -> CoreResult<()> {
        if secret.is_empty() || secret.len() > 1024 {
            return Err(CoreError::field("client_secret", "must be 1-1024 characters"));
        }
        let mut app = self.get_application(tenant, client_id).await?;
        if app.kind == ApplicationKind::Public {
            return Err(CoreError::field("kind", "public clients have no secret"));
        }
        app.secret_hash = Some(self.master.mac(SECRET_DOMAIN, secret.as_bytes()));
        self.save_application(&app).await?;
        self.keep_secret_for_assertions(&app, secret).await
    }

    /// The work of a secret check for a client that does not exist, so that an unknown client
    /// answers no faster than a wrong secret.
    pub(crate) fn spend_secret_check(&self, secret: &str) {
        let _ = self.master.mac(SECRET_DOMAIN, secret.as_bytes());
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
        let prefix = self.store_api_key(&app, &key).await?;
        Ok((key, prefix))
    }

    /// Stores `key` (as its HMAC) for the application; returns the display prefix.
    pub(crate) async fn store_api_key(&self, app: &Application, key: &str) -> CoreResult<String> {
        let prefix: String = key.chars().take(14).collect();
        self.store
            .insert_api_key(app.tenant_id, app.id, &prefix, &self.master.mac(API_KEY_DOMAIN, key.as_bytes()), self.now())
            .await?;
        Ok(prefix)
    }
}
