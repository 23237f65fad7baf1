//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592). Off unless the
//! tenant's policy turns it on: `protected` asks for an initial access token issued through the
//! admin API, `open` asks for nothing (rate-limited per address by the dialect). Registered
//! clients are checked exactly as the admin API checks clients, are never first-party (their
//! users always see the consent page) and always need PKCE. Each gets a registration access
//! token, kept as an HMAC, that reads, replaces and deletes it.

use serde_json::{Map, Value, json};

use super::grants::ctx_with;
use super::{Provider, ProviderError, ProviderResult, oauth};
use crate::error::CoreError;
use crate::model::oauth::KNOWN_SCOPES;
use crate::model::{
    Application, ApplicationKind, AuditAction, AuthMethod, ClientRegistration, GrantType, OAuthClient, RegistrationToken, Tenant,
};
use crate::services::ClientContext;
use crate::services::applications::{ApplicationPatch, NewApplication, OAuthPatch};

const INITIAL_DOMAIN: &str = "initial-access-token";
const MANAGEMENT_DOMAIN: &str = "registration-access-token";
/// The longest life an initial access token may be given (30 days).
pub const INITIAL_TOKEN_MAX_SECONDS: i64 = 30 * 86400;

/// A client made by registration, with what is shown once.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    pub app: Application,
    pub client_secret: Option<String>,
    pub registration_access_token: String,
}

/// An initial access token, shown once.
#[derive(Debug, Clone)]
pub struct InitialAccessToken {
    pub token: String,
    pub expires_at: i64,
    pub uses: u32,
}

/// The client metadata of a registration or update request, read from RFC 7591 names.
struct Metadata {
    name: String,
    kind: ApplicationKind,
    redirect_uris: Vec<String>,
    oauth: OAuthClient,
}

fn metadata_error(why: impl Into<String>) -> ProviderError {
    oauth("invalid_client_metadata", why)
}

fn strings(body: &Map<String, Value>, name: &str) -> ProviderResult<Option<Vec<String>>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| metadata_error(format!("{name} must be an array of strings"))))
            .collect::<ProviderResult<Vec<_>>>()
            .map(Some),
        Some(_) => Err(metadata_error(format!("{name} must be an array of strings"))),
    }
}

fn string(body: &Map<String, Value>, name: &str) -> ProviderResult<Option<String>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(metadata_error(format!("{name} must be a string"))),
    }
}

fn flag(body: &Map<String, Value>, name: &str) -> ProviderResult<bool> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(metadata_error(format!("{name} must be true or false"))),
    }
}

/// Reads RFC 7591 metadata; what this server does not support is refused, not ignored, when
/// ignoring it would change the client's security (response types, auth methods). For an
/// update (`current`), the auth method, grant types and scope left out keep their registered
/// values: leaving a member out never widens a client or changes its kind.
fn read_metadata(body: &Value, current: Option<&Application>) -> ProviderResult<Metadata> {
    let Some(body) = body.as_object() else { return Err(metadata_error("the request body must be a JSON object")) };
    let redirect_uris = strings(body, "redirect_uris")?.unwrap_or_default();
    let response_types = strings(body, "response_types")?.unwrap_or_else(|| vec!["code".into()]);
    if response_types.iter().any(|r| r != "code") {
        return Err(metadata_error("only the code response type is supported"));
    }
    // RFC 7591 §2: the default grant is authorization_code.
    let grant_types = match (strings(body, "grant_types")?, current) {
        (None, Some(app)) => app.oauth.grant_types.clone(),
        (names, _) => {
            let names = names.unwrap_or_else(|| vec!["authorization_code".into()]);
            let mut grants = Vec::new();
            for g in &names {
                let grant = GrantType::parse(g).ok_or_else(|| metadata_error(format!("unsupported grant type {g}")))?;
                if !grants.contains(&grant) {
                    grants.push(grant);
                }
            }
            grants
        }
    };
    // Exchanging tokens for other audiences is an operator's grant (`exchange_audiences`).
    if grant_types.contains(&GrantType::TokenExchange) {
        return Err(metadata_error("token exchange is granted by an operator, not by registration"));
    }
    let has_code = grant_types.contains(&GrantType::AuthorizationCode)
        || (grant_types.is_empty() && current.is_some_and(|a| a.kind != ApplicationKind::Service));
    if has_code && response_types.is_empty() {
        return Err(metadata_error("authorization_code needs the code response type"));
    }
    if has_code && redirect_uris.is_empty() {
        return Err(oauth("invalid_redirect_uri", "redirect_uris: the code flow needs at least one"));
    }
    let method = match string(body, "token_endpoint_auth_method")?.as_deref() {
        None => current.map_or(AuthMethod::ClientSecretBasic, Application::auth_method),
        Some(m) => AuthMethod::parse(m).ok_or_else(|| metadata_error(format!("unsupported token_endpoint_auth_method {m}")))?,
    };
    let kind = match (method, current) {
        (AuthMethod::None, _) => ApplicationKind::Public,
        _ if grant_types == [GrantType::ClientCredentials] => ApplicationKind::Service,
        // A client made with its kind's default grants keeps its kind.
        (_, Some(app)) if grant_types.is_empty() => app.kind,
        _ => ApplicationKind::Confidential,
    };
    let scopes = match string(body, "scope")? {
        None => current.map(|a| a.oauth.scopes.clone()).unwrap_or_default(),
        Some(s) => {
            let scopes: Vec<String> = s.split(' ').filter(|x| !x.is_empty()).map(str::to_string).collect();
            if let Some(unknown) = scopes.iter().find(|x| !KNOWN_SCOPES.contains(&x.as_str())) {
                return Err(metadata_error(format!("unknown scope {unknown}")));
            }
            scopes
        }
    };
    let name = string(body, "client_name")?.unwrap_or_else(|| "Registered client".into());
    let oauth = OAuthClient {
        post_logout_redirect_uris: strings(body, "post_logout_redirect_uris")?.unwrap_or_default(),
        grant_types,
        scopes,
        token_endpoint_auth_method: Some(method),
        first_party: false,
        require_pkce: true,
        access_token_audience: None,
        introspect_any: false,
        backchannel_logout_uri: string(body, "backchannel_logout_uri")?,
        require_par: flag(body, "require_pushed_authorization_requests")?,
        dpop_bound: flag(body, "dpop_bound_access_tokens")?,
        jwks: body.get("jwks").filter(|v| !v.is_null()).cloned(),
        jwks_uri: string(body, "jwks_uri")?,
        exchange_audiences: Vec::new(),
        exchange_delegation: false,
    };
    Ok(Metadata { name, kind, redirect_uris, oauth })
}

/// A core refusal of the metadata, in RFC 7591's words.
fn refused(e: CoreError) -> ProviderError {
    match e {
        CoreError::Validation(fields) => {
            let why = fields.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; ");
            if fields.contains_key("redirect_uris") { oauth("invalid_redirect_uri", why) } else { metadata_error(why) }
        }
        CoreError::Conflict(_) => metadata_error("a client with this client_id exists"),
        other => ProviderError::Core(other),
    }
}

fn invalid_token() -> ProviderError {
    oauth("invalid_token", "the registration access token is missing, unknown or not this client's")
}

/// The client's metadata under RFC 7591 names, as registered.
pub fn client_metadata(app: &Application) -> Value {
    let o = &app.oauth;
    let grants: Vec<&str> = if o.grant_types.is_empty() {
        match app.kind {
            ApplicationKind::Service => vec!["client_credentials"],
            _ => vec!["authorization_code", "refresh_token"],
        }
    } else {
        o.grant_types.iter().map(|g| g.as_str()).collect()
    };
    let method = o.token_endpoint_auth_method.unwrap_or(match app.kind {
        ApplicationKind::Public => AuthMethod::None,
        _ => AuthMethod::ClientSecretBasic,
    });
    let scope = if o.scopes.is_empty() { KNOWN_SCOPES.join(" ") } else { o.scopes.join(" ") };
    let mut out = json!({
        "client_id": app.client_id,
        "client_id_issued_at": app.created_at,
        "client_name": app.name,
        "redirect_uris": app.redirect_uris,
        "grant_types": grants,
        "response_types": if grants.contains(&"authorization_code") { vec!["code"] } else { vec![] },
        "token_endpoint_auth_method": method.as_str(),
        "scope": scope,
        "post_logout_redirect_uris": o.post_logout_redirect_uris,
        "require_pushed_authorization_requests": o.require_par,
        "dpop_bound_access_tokens": o.dpop_bound,
    });
    for (name, value) in [
        ("backchannel_logout_uri", o.backchannel_logout_uri.clone().map(Value::from)),
        ("jwks_uri", o.jwks_uri.clone().map(Value::from)),
        ("jwks", o.jwks.clone()),
    ] {
        if let Some(v) = value {
            out[name] = v;
        }
    }
    if o.backchannel_logout_uri.is_some() {
        out["backchannel_logout_session_required"] = json!(true);
    }
    out
}

impl Provider<'_> {
    /// An initial access token for the tenant's registration endpoint (admin API).
    pub async fn issue_initial_access_token(
        &self,
        tenant: &Tenant,
        expires_in: i64,
        uses: u32,
        ctx: &ClientContext,
    ) -> crate::error::CoreResult<InitialAccessToken> {
        if !(60..=INITIAL_TOKEN_MAX_SECONDS).contains(&expires_in) {
            return Err(CoreError::field("expires_in", format!("60 to {INITIAL_TOKEN_MAX_SECONDS} seconds")));
        }
        if !(1..=1000).contains(&uses) {
            return Err(CoreError::field("count", "1 to 1000 registrations"));
        }
        let token = crate::crypto::random_token();
        let now = self.now();
        let record = RegistrationToken {
            token_hash: self.master.mac(INITIAL_DOMAIN, token.as_bytes()),
            tenant_id: tenant.id,
            application_id: None,
            uses_left: Some(uses),
            expires_at: Some(now + expires_in),
            created_at: now,
        };
        self.store.insert_registration_token(&record).await?;
        let detail = json!({"count": uses, "expiresAt": now + expires_in});
        self.audit(Some(tenant.id), None, AuditAction::RegistrationTokenIssue, "success", ctx, detail).await;
        Ok(InitialAccessToken { token, expires_at: now + expires_in, uses })
    }

    /// The registration endpoint (RFC 7591 §3). `bearer`: the request's initial access token.
    pub async fn register_client(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        body: &Value,
        ctx: &ClientContext,
    ) -> ProviderResult<RegisteredClient> {
        let result = self.try_register_client(tenant, bearer, body).await;
        let (outcome, app) = match &result {
            Ok(r) => ("success", Some(&r.app)),
            Err(ProviderError::OAuth(e)) => (e.error, None),
            Err(ProviderError::Core(_)) => ("error", None),
        };
        let detail = json!({"clientId": app.map(|a| a.client_id.clone())});
        let ctx = match app {
            Some(app) => ctx_with(ctx, app),
            None => ctx.clone(),
        };
        self.audit(Some(tenant.id), None, AuditAction::ClientRegister, outcome, &ctx, detail).await;
        result
    }

    async fn try_register_client(&self, tenant: &Tenant, bearer: Option<&str>, body: &Value) -> ProviderResult<RegisteredClient> {
        match tenant.policy.client_registration {
            ClientRegistration::Off => {
                return Err(oauth("access_denied", "client registration is not enabled for this realm"));
            }
            ClientRegistration::Open => {}
            ClientRegistration::Protected => {
                let Some(token) = bearer.filter(|t| !t.is_empty() && t.len() <= 200) else {
                    return Err(oauth("invalid_token", "an initial access token is required"));
                };
                let hash = self.master.mac(INITIAL_DOMAIN, token.as_bytes());
                if !self.store.spend_initial_access_token(tenant.id, &hash, self.now()).await? {
                    return Err(oauth("invalid_token", "the initial access token is unknown, expired or used up"));
                }
            }
        }
        let m = read_metadata(body, None)?;
        let created = self
            .applications()
            .create_application(
                tenant,
                NewApplication {
                    name: m.name,
                    kind: m.kind,
                    client_id: Some(format!("dyn-{}", crate::crypto::random_token().chars().take(22).collect::<String>())),
                    aliases: Default::default(),
                    roles: vec![],
                    allowed_ips: vec![],
                    callback_url: None,
                    redirect_uris: m.redirect_uris,
                    single_otp_channel: false,
                    hosted_webauthn: false,
                    active: true,
                    oauth: m.oauth,
                    client_secret: None,
                },
            )
            .await
            .map_err(refused)?;
        let registration_access_token = self.new_registration_access_token(tenant, &created.app).await?;
        Ok(RegisteredClient { app: created.app, client_secret: created.client_secret, registration_access_token })
    }

    async fn new_registration_access_token(&self, tenant: &Tenant, app: &Application) -> ProviderResult<String> {
        let token = crate::crypto::random_token();
        let record = RegistrationToken {
            token_hash: self.master.mac(MANAGEMENT_DOMAIN, token.as_bytes()),
            tenant_id: tenant.id,
            application_id: Some(app.id),
            uses_left: None,
            expires_at: None,
            created_at: self.now(),
        };
        self.store.insert_registration_token(&record).await?;
        Ok(token)
    }

    /// Reads a registered client (RFC 7592 §2.1): one `client.registration_read` event.
    pub async fn read_registered_client(
        &self,
        tenant: &Tenant,
        client_id: &str,
        bearer: Option<&str>,
        ctx: &ClientContext,
    ) -> ProviderResult<Application> {
        let result = self.registered_client(tenant, client_id, bearer).await;
        self.audit_management(tenant, AuditAction::ClientRegistrationRead, client_id, result.as_ref().ok(), &result, ctx).await;
        result
    }

    /// The one event of a use of a registration access token, whatever its outcome.
    async fn audit_management<T>(
        &self,
        tenant: &Tenant,
        action: AuditAction,
        client_id: &str,
        app: Option<&Application>,
        result: &ProviderResult<T>,
        ctx: &ClientContext,
    ) {
        let outcome = match result {
            Ok(_) => "success",
            Err(ProviderError::OAuth(e)) => e.error,
            Err(ProviderError::Core(_)) => "error",
        };
        let detail = json!({"clientId": client_id.chars().take(100).collect::<String>()});
        let ctx = match app {
            Some(app) => ctx_with(ctx, app),
            None => ctx.clone(),
        };
        self.audit(Some(tenant.id), None, action, outcome, &ctx, detail).await;
    }

    /// The client a registration access token manages, if it is `client_id` (RFC 7592 §2).
    async fn registered_client(&self, tenant: &Tenant, client_id: &str, bearer: Option<&str>) -> ProviderResult<Application> {
        let Some(token) = bearer.filter(|t| !t.is_empty() && t.len() <= 200) else { return Err(invalid_token()) };
        let hash = self.master.mac(MANAGEMENT_DOMAIN, token.as_bytes());
        let Some(id) = self.store.client_of_registration_token(tenant.id, &hash).await? else { return Err(invalid_token()) };
        match self.store.application_by_id(tenant.id, id).await? {
            Some(app) if app.client_id == client_id => Ok(app),
            _ => Err(invalid_token()),
        }
    }

    /// Replaces a registered client's metadata (RFC 7592 §2.2); its kind cannot change.
    pub async fn update_registered_client(
        &self,
        tenant: &Tenant,
        client_id: &str,
        bearer: Option<&str>,
        body: &Value,
        ctx: &ClientContext,
    ) -> ProviderResult<Application> {
        let mut app = None;
        let result = self.try_update_registered_client(tenant, client_id, bearer, body, &mut app).await;
        let action = AuditAction::ClientRegistrationUpdate;
        self.audit_management(tenant, action, client_id, app.as_ref(), &result, ctx).await;
        result
    }

    async fn try_update_registered_client(
        &self,
        tenant: &Tenant,
        client_id: &str,
        bearer: Option<&str>,
        body: &Value,
        found: &mut Option<Application>,
    ) -> ProviderResult<Application> {
        let app = self.registered_client(tenant, client_id, bearer).await?;
        *found = Some(app.clone());
        if body.get("client_id").and_then(Value::as_str) != Some(client_id) {
            return Err(metadata_error("client_id must be the client's"));
        }
        let m = read_metadata(body, Some(&app))?;
        if m.kind != app.kind {
            return Err(metadata_error("token_endpoint_auth_method and grant_types cannot change the kind of client"));
        }
        let o = m.oauth;
        let patch = ApplicationPatch {
            name: Some(m.name),
            redirect_uris: Some(m.redirect_uris),
            oauth: OAuthPatch {
                post_logout_redirect_uris: Some(o.post_logout_redirect_uris),
                grant_types: Some(o.grant_types),
                scopes: Some(o.scopes),
                token_endpoint_auth_method: Some(o.token_endpoint_auth_method),
                backchannel_logout_uri: Some(o.backchannel_logout_uri),
                require_par: Some(o.require_par),
                dpop_bound: Some(o.dpop_bound),
                jwks: Some(o.jwks),
                jwks_uri: Some(o.jwks_uri),
                ..OAuthPatch::default()
            },
            ..ApplicationPatch::default()
        };
        let (updated, _) = self.applications().update_application(tenant, client_id, patch).await.map_err(refused)?;
        Ok(updated)
    }

    /// Deletes a registered client (RFC 7592 §2.3): its tokens stop working with it.
    pub async fn delete_registered_client(
        &self,
        tenant: &Tenant,
        client_id: &str,
        bearer: Option<&str>,
        ctx: &ClientContext,
    ) -> ProviderResult<()> {
        let (app, result) = match self.registered_client(tenant, client_id, bearer).await {
            Ok(app) => {
                let deleted = self.applications().delete_application(tenant, client_id).await.map_err(ProviderError::from);
                (Some(app), deleted)
            }
            Err(e) => (None, Err(e)),
        };
        let action = AuditAction::ClientRegistrationDelete;
        self.audit_management(tenant, action, client_id, app.as_ref(), &result, ctx).await;
        result
    }
}
