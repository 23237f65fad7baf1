//! The token endpoint: client authentication, and the authorization code, refresh token and
//! client credentials grants, with the ID tokens they carry.

use serde_json::{Map, Value, json};

use super::dpop::{DpopRefusal, DpopRequest};
use super::flow::amr;
use super::request::requested_claims;
use super::{ACCESS_PROFILE, CODE_DOMAIN, Provider, ProviderError, ProviderResult, oauth};
use crate::error::CoreError;
use crate::model::{
    Application, ApplicationKind, AuditAction, AuthMethod, ClientGrant, GrantType, KeyAlg, Session, Tenant, User,
};
use crate::services::ClientContext;
use crate::services::access_tokens::AccessGrant;
use crate::services::sessions::{ApplicationGuard, Thumbprint};

/// How a client presented itself at the token endpoint.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// `Authorization: Basic` (already form-decoded, RFC 6749 §2.3.1).
    Basic { client_id: String, secret: String },
    /// `client_id` and `client_secret` in the body.
    Post { client_id: String, secret: String },
    /// A public client: `client_id` alone.
    Public { client_id: String },
    /// A signed client assertion (RFC 7523 §2.2, `private_key_jwt`), with the `client_id` of the
    /// form if it had one.
    Assertion { client_id: Option<String>, assertion: String },
    /// Nothing to go on.
    Missing,
    /// More than one method at once (RFC 6749 §2.3).
    Several,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    /// Token exchange's (RFC 8693 §2.2.1).
    pub issued_token_type: Option<&'static str>,
    pub expires_in: i64,
    pub scope: String,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
    pub refresh_expires_in: Option<i64>,
}

/// What a code or refresh token grants: the scopes, how and when the user signed in, and the
/// claims asked for by name.
#[derive(Debug, Clone)]
pub(crate) struct Granted {
    scopes: Vec<String>,
    auth_time: i64,
    level: u8,
    nonce: Option<String>,
    claims: Option<Value>,
    /// The thumbprint of the key the tokens are bound to (DPoP), if any.
    pub(crate) jkt: Option<String>,
}

impl Granted {
    pub(crate) fn from_value(v: &Value) -> Option<Granted> {
        Some(Granted {
            scopes: v.get("scopes")?.as_array()?.iter().filter_map(|s| s.as_str().map(str::to_string)).collect(),
            auth_time: v.get("auth_time")?.as_i64()?,
            level: v.get("level").and_then(Value::as_u64).unwrap_or(1) as u8,
            nonce: v.get("nonce").and_then(Value::as_str).map(str::to_string),
            claims: v.get("claims").filter(|c| c.is_object()).cloned(),
            jkt: v.get("jkt").and_then(Value::as_str).map(str::to_string),
        })
    }

    /// What a refresh token of `client` carries forward (no nonce: it belongs to the first ID
    /// token only). A public client's is bound to its DPoP key (RFC 9449 §5): a confidential
    /// client proves itself with its credentials instead.
    pub(crate) fn to_refresh_value(&self, client: &Application) -> Value {
        let mut v = json!({"scopes": self.scopes, "auth_time": self.auth_time, "level": self.level, "claims": self.claims});
        if let Some(jkt) = self.jkt.as_ref().filter(|_| client.kind == ApplicationKind::Public) {
            v["jkt"] = json!(jkt);
        }
        v
    }
}

/// The key algorithm a token's header names.
fn alg_of(token: &str) -> Option<KeyAlg> {
    match jsonwebtoken::decode_header(token).ok()?.alg {
        jsonwebtoken::Algorithm::RS256 => Some(KeyAlg::RS256),
        jsonwebtoken::Algorithm::ES256 => Some(KeyAlg::ES256),
        jsonwebtoken::Algorithm::EdDSA => Some(KeyAlg::EdDSA),
        _ => None,
    }
}

/// `at_hash`: the left half of the access token's digest by the ID token's hash (SHA-512 for
/// Ed25519, SHA-256 otherwise), base64url.
pub(crate) fn at_hash(access_token: &str, alg: KeyAlg) -> String {
    use aws_lc_rs::digest;
    let algorithm = if alg == KeyAlg::EdDSA { &digest::SHA512 } else { &digest::SHA256 };
    let d = digest::digest(algorithm, access_token.as_bytes());
    let bytes = d.as_ref();
    crate::crypto::b64url(&bytes[..bytes.len() / 2])
}

/// What the token endpoint is given to exchange a code.
struct CodeExchange<'a> {
    code: &'a str,
    redirect_uri: &'a str,
    verifier: Option<&'a str>,
}

/// `DPoP` for a token bound to a key, else `Bearer`.
fn token_type(jkt: Option<&str>) -> &'static str {
    if jkt.is_some() { "DPoP" } else { "Bearer" }
}

/// How far ahead a client assertion's `exp` may be (seconds).
const ASSERTION_LIFETIME: i64 = 300;
const ASSERTION_DOMAIN: &str = "client-assertion";

/// The `sub` of a client assertion, unverified: only to find the client whose keys verify it.
fn assertion_subject(assertion: &str) -> Option<String> {
    crate::crypto::jwt::peek_claims(assertion)?.get("sub")?.as_str().map(str::to_string)
}

/// The path under `protocol/openid-connect/` of the endpoint an audit action is the request of:
/// a client assertion may name it as its audience.
fn endpoint_of(action: AuditAction) -> &'static str {
    match action {
        AuditAction::TokenIntrospect => "token/introspect",
        AuditAction::TokenRevocation => "revoke",
        AuditAction::DeviceAuthorize => "auth/device",
        AuditAction::PushedAuthorize => "ext/par/request",
        AuditAction::SignOut => "logout",
        _ => "token",
    }
}

/// A PKCE verifier: 43-128 unreserved characters (RFC 7636 §4.1).
fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

pub(crate) fn param<'p>(params: &'p [(String, String)], name: &str) -> ProviderResult<Option<&'p str>> {
    super::request::single(params, name).map_err(|why| oauth("invalid_request", why))
}

pub(crate) fn required<'p>(params: &'p [(String, String)], name: &str) -> ProviderResult<&'p str> {
    param(params, name)?.ok_or_else(|| oauth("invalid_request", format!("{name} is missing")))
}

impl Provider<'_> {
    /// The client the request authenticates as, by the method it registered. Any failure is
    /// `invalid_client`; unknown and known clients cost the same. A failure is the request's one
    /// audit event, under `action` (the endpoint's); a success is recorded by the operation.
    pub async fn authenticate_client(
        &self,
        tenant: &Tenant,
        auth: ClientAuth,
        action: AuditAction,
        ctx: &ClientContext,
    ) -> ProviderResult<Application> {
        let client_id = match &auth {
            ClientAuth::Basic { client_id, .. } | ClientAuth::Post { client_id, .. } | ClientAuth::Public { client_id } => {
                Some(client_id.chars().take(100).collect::<String>())
            }
            ClientAuth::Assertion { client_id, assertion } => {
                client_id.clone().or_else(|| assertion_subject(assertion)).map(|id| id.chars().take(100).collect::<String>())
            }
            ClientAuth::Missing | ClientAuth::Several => None,
        };
        let result = self.try_authenticate_client(tenant, auth, action).await;
        if let Err(ProviderError::OAuth(e)) = &result {
            self.audit(Some(tenant.id), None, action, e.error, ctx, json!({"clientId": client_id})).await;
        }
        result
    }

    async fn try_authenticate_client(
        &self,
        tenant: &Tenant,
        auth: ClientAuth,
        action: AuditAction,
    ) -> ProviderResult<Application> {
        // One description for every failure: the answer does not tell which client ids exist.
        let invalid = |_why: &str| oauth("invalid_client", "client authentication failed");
        let (client_id, secret, method) = match auth {
            ClientAuth::Assertion { client_id, assertion } => {
                let subject = assertion_subject(&assertion);
                let Some(id) = client_id.clone().or(subject.clone()) else { return Err(invalid("no client named")) };
                if client_id.is_some() && subject.as_deref() != Some(id.as_str()) {
                    return Err(invalid("the assertion is another client's"));
                }
                let app = self.applications().cached_by_client_id(tenant, &id).await?.filter(|a| a.active);
                let Some(app) = app else { return Err(invalid("unknown or inactive client")) };
                let claims = match app.auth_method() {
                    AuthMethod::PrivateKeyJwt => self.verify_client_signed(&app, &assertion).await.map(|(_, c)| c),
                    AuthMethod::ClientSecretJwt => self.verify_secret_signed(&app, &assertion).await,
                    _ => return Err(invalid("the client authenticates another way")),
                };
                let claims = claims.map_err(invalid)?;
                self.check_client_assertion(tenant, &app, &claims, endpoint_of(action)).await.map_err(invalid)?;
                return Ok(app);
            }
            ClientAuth::Basic { client_id, secret } => (client_id, Some(secret), AuthMethod::ClientSecretBasic),
            ClientAuth::Post { client_id, secret } => (client_id, Some(secret), AuthMethod::ClientSecretPost),
            ClientAuth::Public { client_id } => (client_id, None, AuthMethod::None),
            ClientAuth::Missing => return Err(invalid("client authentication is required")),
            ClientAuth::Several => return Err(oauth("invalid_request", "more than one client authentication method")),
        };
        let app = self.applications().cached_by_client_id(tenant, &client_id).await?.filter(|a| a.active);
        let secret_ok = match (&app, &secret) {
            (Some(a), Some(s)) => self.applications().check_client_secret(a, s),
            (None, Some(s)) => {
                // The same MAC as for a known client, so that timing does not tell them apart.
                self.applications().spend_secret_check(s);
                false
            }
            (_, None) => false,
        };
        let Some(app) = app else { return Err(invalid("unknown or inactive client")) };
        // The contract: authentication per the client's registered method, and no other.
        if app.auth_method() != method {
            return Err(invalid("the client authenticates another way"));
        }
        if method != AuthMethod::None && !secret_ok {
            return Err(invalid("wrong client secret"));
        }
        Ok(app)
    }

    /// The claims of a client assertion (RFC 7523 §3) whose signature was checked: `iss` and
    /// `sub` the client, `aud` the issuer or the token endpoint or the endpoint called, `exp`
    /// within five minutes, `jti` never seen before by any node.
    async fn check_client_assertion(
        &self,
        tenant: &Tenant,
        client: &Application,
        claims: &Value,
        endpoint: &str,
    ) -> Result<(), super::client_keys::Refusal> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        if text("iss") != Some(client.client_id.as_str()) || text("sub") != Some(client.client_id.as_str()) {
            return Err("iss and sub must be the client id");
        }
        let issuer = self.realm_issuer(tenant);
        let accepted = [
            issuer.clone(),
            format!("{issuer}/protocol/openid-connect/token"),
            format!("{issuer}/protocol/openid-connect/{endpoint}"),
        ];
        let audiences: Vec<&str> = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !audiences.iter().any(|a| accepted.iter().any(|x| x == a)) {
            return Err("aud is not this server");
        }
        let (now, leeway) = (self.now(), self.config.token_leeway_seconds);
        let Some(exp) = claims.get("exp").and_then(Value::as_i64) else { return Err("exp is missing") };
        if exp + leeway <= now {
            return Err("expired");
        }
        if exp > now + ASSERTION_LIFETIME + leeway {
            return Err("exp is more than five minutes away");
        }
        for name in ["nbf", "iat"] {
            if claims.get(name).is_some_and(|t| t.as_i64().is_none_or(|t| t - leeway > now)) {
                return Err("nbf or iat in the future");
            }
        }
        let Some(jti) = text("jti").filter(|j| !j.is_empty() && j.len() <= 200) else { return Err("jti is missing") };
        let seen = self.master.mac(ASSERTION_DOMAIN, format!("{}\0{jti}", client.client_id).as_bytes());
        match self.store.first_sight_of_jti(tenant.id, &seen, exp + leeway, now).await {
            Ok(true) => Ok(()),
            Ok(false) => Err("replayed"),
            Err(e) => {
                tracing::error!(error = %crate::error::Chain(&e), "the seen-jti table cannot be written");
                Err("the replay check failed")
            }
        }
    }

    /// The key a request proves possession of (its `DPoP` proof for the endpoint under
    /// `protocol/openid-connect/`), if it sent one; a `dpop_bound` client must.
    pub(crate) async fn proven_key(
        &self,
        tenant: &Tenant,
        client: &Application,
        dpop: DpopRequest<'_>,
        endpoint: &str,
    ) -> ProviderResult<Option<String>> {
        let Some(proof) = dpop.proof else {
            if client.oauth.dpop_bound {
                return Err(oauth("invalid_dpop_proof", "the client must send a DPoP proof"));
            }
            return Ok(None);
        };
        let url = format!("{}/protocol/openid-connect/{endpoint}", self.realm_issuer(tenant));
        match self.check_dpop_proof(tenant, proof, dpop.method, &url, None).await {
            Ok(jkt) => Ok(Some(jkt)),
            Err(DpopRefusal::UseNonce) => {
                Err(oauth("use_dpop_nonce", "send the server's nonce (the DPoP-Nonce header) in the proof"))
            }
            Err(DpopRefusal::Invalid(why)) => Err(oauth("invalid_dpop_proof", why)),
        }
    }

    /// A token request of an authenticated client (its form parameters, as sent).
    pub async fn token(
        &self,
        tenant: &Tenant,
        client: &Application,
        params: &[(String, String)],
        dpop: DpopRequest<'_>,
        ctx: &ClientContext,
    ) -> ProviderResult<TokenResponse> {
        let mut user = None;
        let result = self.grant(tenant, client, params, dpop, ctx, &mut user).await;
        let outcome = match &result {
            Ok(_) => "success",
            Err(ProviderError::OAuth(e)) => e.error,
            Err(ProviderError::Core(_)) => "error",
        };
        let grant = params.iter().find(|(k, _)| k == "grant_type").map(|(_, v)| v.chars().take(60).collect::<String>());
        let detail = json!({"clientId": client.client_id, "grantType": grant});
        self.audit(Some(tenant.id), user, AuditAction::TokenRequest, outcome, &ctx_with(ctx, client), detail).await;
        result
    }

    async fn grant(
        &self,
        tenant: &Tenant,
        client: &Application,
        params: &[(String, String)],
        dpop: DpopRequest<'_>,
        ctx: &ClientContext,
        user: &mut Option<crate::model::UserId>,
    ) -> ProviderResult<TokenResponse> {
        // The proof first: a refused one spends no code, device code or refresh token.
        let jkt = self.proven_key(tenant, client, dpop, "token").await?;
        let grant_type = required(params, "grant_type")?;
        let grant = GrantType::parse(grant_type)
            .filter(|g| {
                matches!(
                    g,
                    GrantType::AuthorizationCode
                        | GrantType::RefreshToken
                        | GrantType::ClientCredentials
                        | GrantType::DeviceCode
                        | GrantType::TokenExchange
                )
            })
            .ok_or_else(|| oauth("unsupported_grant_type", format!("grant_type {grant_type} is not supported")))?;
        if !client.allows_grant(grant) {
            return Err(oauth("unauthorized_client", format!("the client may not use {grant_type}")));
        }
        match grant {
            GrantType::AuthorizationCode => {
                let code = required(params, "code")?;
                let redirect_uri = required(params, "redirect_uri")?;
                let verifier = param(params, "code_verifier")?;
                let code = CodeExchange { code, redirect_uri, verifier };
                self.exchange_code(tenant, client, code, jkt, ctx, user).await
            }
            GrantType::RefreshToken => {
                let token = required(params, "refresh_token")?;
                self.refresh(tenant, client, token, param(params, "scope")?, jkt, ctx, user).await
            }
            GrantType::DeviceCode => self.exchange_device_code(tenant, client, required(params, "device_code")?, jkt, user).await,
            GrantType::TokenExchange => self.exchange_token(tenant, client, params, jkt).await,
            _ => self.client_credentials(tenant, client, param(params, "scope")?, jkt).await,
        }
    }

    async fn exchange_code(
        &self,
        tenant: &Tenant,
        client: &Application,
        exchange: CodeExchange<'_>,
        jkt: Option<String>,
        ctx: &ClientContext,
        user: &mut Option<crate::model::UserId>,
    ) -> ProviderResult<TokenResponse> {
        let CodeExchange { code, redirect_uri, verifier } = exchange;
        let invalid = |why: &str| oauth("invalid_grant", why.to_string());
        let hash = self.master.mac(CODE_DOMAIN, code.as_bytes());
        let record = if code.len() > 100 { None } else { self.store.authorization_code(tenant.id, &hash).await? };
        let Some(record) = record else { return Err(invalid("unknown authorization code")) };
        // Another client's code is refused without spending it: the client it was issued to can
        // still redeem it.
        if record.application_id != client.id {
            return Err(invalid("the code was issued to another client"));
        }
        *user = Some(record.user_id);
        let data = &record.data;
        if data.get("redirect_uri").and_then(Value::as_str) != Some(redirect_uri) {
            return Err(invalid("redirect_uri differs from the authorization request's"));
        }
        match (data.get("code_challenge").and_then(Value::as_str), verifier) {
            (Some(challenge), Some(v)) if valid_verifier(v) => {
                let computed = crate::crypto::b64url(&crate::crypto::sha256(v.as_bytes()));
                if !crate::crypto::ct_eq(computed.as_bytes(), challenge.as_bytes()) {
                    return Err(invalid("code_verifier does not match the code_challenge"));
                }
            }
            (Some(_), Some(_)) => return Err(invalid("code_verifier must be 43-128 unreserved characters")),
            (Some(_), None) => return Err(invalid("code_verifier is missing")),
            // A verifier for a code issued without a challenge: a downgrade attempt, or a mix-up.
            (None, Some(_)) => return Err(invalid("the authorization request had no code_challenge")),
            (None, None) => {}
        }
        // The sign-in and the user are read before the code is spent: once a caller has won the
        // code, a concurrent loser ending the sign-in (reuse, below) cannot turn the win into a
        // refusal.
        let session = match self.sessions().live_session(tenant, &record.session_id).await {
            Ok(s) => s,
            Err(CoreError::Unauthorized) => return Err(invalid("the sign-in the code was issued in has ended")),
            Err(e) => return Err(e.into()),
        };
        let person = self.store.user_by_id(tenant.id, record.user_id).await?.filter(|u| u.active);
        let Some(person) = person else { return Err(invalid("the user is no longer active")) };
        let now = self.now();
        if !self.store.redeem_authorization_code(tenant.id, &hash, now).await? {
            if record.used_at.is_some() || record.expires_at > now {
                // Presented again (or lost a race to another presentation): every token issued
                // from it goes, with the session it was issued in (RFC 6749 §4.1.2).
                self.end_session_by_id(tenant.id, record.user_id, &record.session_id).await?;
                let detail = json!({"clientId": client.client_id, "session": record.session_id});
                let ctx = ctx_with(ctx, client);
                self.audit(Some(tenant.id), Some(record.user_id), AuditAction::CodeReuse, "session_revoked", &ctx, detail).await;
                return Err(invalid("the authorization code was already used"));
            }
            return Err(invalid("the authorization code expired"));
        }
        let Some(mut granted) = Granted::from_value(data) else { return Err(invalid("unreadable authorization code")) };
        granted.jkt = jkt;
        self.track_logout_client(tenant, client, &session).await?;
        let refresh = if client.allows_grant(GrantType::RefreshToken) {
            let bound = ClientGrant { application_id: client.id, grant: granted.to_refresh_value(client) };
            let (token, expires_at) = self.sessions().issue_refresh_token(tenant, &session, Some(bound)).await?;
            Some((token, expires_at))
        } else {
            None
        };
        self.session_tokens(tenant, client, &person, &session, &granted, refresh).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn refresh(
        &self,
        tenant: &Tenant,
        client: &Application,
        token: &str,
        scope: Option<&str>,
        jkt: Option<String>,
        ctx: &ClientContext,
        user: &mut Option<crate::model::UserId>,
    ) -> ProviderResult<TokenResponse> {
        let proven: Option<Thumbprint> = jkt.as_deref().and_then(|j| j.as_bytes().try_into().ok());
        let guard = ApplicationGuard::IssuedTo(client.id, proven);
        let refreshed =
            match self.sessions().refresh(tenant, token, crate::model::Dialect::Oidc, guard, &ctx_with(ctx, client)).await {
                Ok(r) => r,
                Err(CoreError::InvalidRefreshToken) => return Err(oauth("invalid_grant", "invalid refresh token")),
                Err(CoreError::RefreshTokenReused) => {
                    return Err(oauth("invalid_grant", "refresh token already used; the session has ended"));
                }
                Err(e) => return Err(e.into()),
            };
        *user = Some(refreshed.auth.user.id);
        let Some(mut granted) = refreshed.grant.as_ref().and_then(Granted::from_value) else {
            return Err(oauth("invalid_grant", "unreadable refresh token"));
        };
        if let Some(asked) = scope {
            let asked: Vec<String> = asked.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect();
            if let Some(wider) = asked.iter().find(|s| !granted.scopes.contains(s)) {
                return Err(oauth("invalid_scope", format!("{wider} was not granted")));
            }
            granted.scopes.retain(|s| asked.contains(s));
        }
        granted.nonce = None;
        granted.jkt = jkt;
        let auth = refreshed.auth;
        let refresh = Some((auth.refresh_token.clone(), auth.refresh_expires_at));
        self.session_tokens(tenant, client, &auth.user, &auth.session, &granted, refresh).await
    }

    async fn client_credentials(
        &self,
        tenant: &Tenant,
        client: &Application,
        scope: Option<&str>,
        jkt: Option<String>,
    ) -> ProviderResult<TokenResponse> {
        if client.kind == ApplicationKind::Public {
            return Err(oauth("unauthorized_client", "a public client has no credentials"));
        }
        let scopes: Vec<&str> = scope
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty() && !matches!(*s, "openid" | "offline_access") && client.may_have_scope(s))
            .filter(|s| crate::model::oauth::KNOWN_SCOPES.contains(s))
            .collect();
        let scope = scopes.join(" ");
        let mut extra = json!({"client_id": client.client_id, "scope": scope, "azp": client.client_id});
        if let Some(jkt) = &jkt {
            extra["cnf"] = json!({"jkt": jkt});
        }
        let grant = AccessGrant::for_client(client.client_id.clone(), client.access_token_audience(), extra);
        let access_token = self.tokens().issue_access_token(tenant, &ACCESS_PROFILE, grant).await?;
        Ok(TokenResponse {
            access_token,
            token_type: token_type(jkt.as_deref()),
            issued_token_type: None,
            expires_in: tenant.policy.tokens.access_ttl_seconds,
            scope,
            id_token: None,
            refresh_token: None,
            refresh_expires_in: None,
        })
    }

    /// The access token (and ID token when `openid` was granted) of a signed-in session.
    pub(crate) async fn session_tokens(
        &self,
        tenant: &Tenant,
        client: &Application,
        user: &User,
        session: &Session,
        granted: &Granted,
        refresh: Option<(String, i64)>,
    ) -> ProviderResult<TokenResponse> {
        let now = self.now();
        let scope = granted.scopes.join(" ");
        let acr = super::flow::acr(granted.level).to_string();
        let mut extra = json!({
            "client_id": client.client_id,
            "azp": client.client_id,
            "scope": scope,
            "auth_time": granted.auth_time,
            "acr": acr,
        });
        if let Some(jkt) = &granted.jkt {
            extra["cnf"] = json!({"jkt": jkt});
        }
        let grant = AccessGrant::for_session(session, client.access_token_audience(), extra);
        let access_token = self.tokens().issue_access_token(tenant, &ACCESS_PROFILE, grant).await?;
        let id_token = if granted.scopes.iter().any(|s| s == "openid") {
            let alg = alg_of(&access_token).ok_or_else(|| CoreError::internal("access token of an unknown algorithm"))?;
            let requested = requested_claims(granted.claims.as_ref(), "id_token");
            let mut claims: Map<String, Value> = super::claims::scope_claims(user, &granted.scopes, &requested);
            for (name, value) in [
                ("iss", json!(self.realm_issuer(tenant))),
                ("sub", json!(user.id.to_string())),
                ("aud", json!(client.client_id)),
                ("azp", json!(client.client_id)),
                ("iat", json!(now)),
                ("exp", json!(now + tenant.policy.tokens.access_ttl_seconds)),
                ("auth_time", json!(granted.auth_time)),
                ("acr", json!(acr)),
                ("amr", json!(amr(granted.level))),
                ("sid", json!(session.id)),
                ("at_hash", json!(at_hash(&access_token, alg))),
                ("jti", json!(crate::model::new_id().to_string())),
            ] {
                claims.insert(name.into(), value);
            }
            if let Some(nonce) = &granted.nonce {
                claims.insert("nonce".into(), json!(nonce));
            }
            Some(self.signing_keys().sign_token(tenant, &[alg], "JWT", &Value::Object(claims)).await?)
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            token_type: token_type(granted.jkt.as_deref()),
            issued_token_type: None,
            expires_in: tenant.policy.tokens.access_ttl_seconds,
            scope,
            id_token,
            // Unused, a refresh token lasts as long as its sign-in idles: the earlier of the two.
            refresh_expires_in: refresh
                .as_ref()
                .map(|(_, at)| (at - now).min(tenant.policy.sessions.idle_timeout_seconds).max(0)),
            refresh_token: refresh.map(|(t, _)| t),
        })
    }
}

/// The caller's context with the client it authenticated as.
pub(crate) fn ctx_with(ctx: &ClientContext, client: &Application) -> ClientContext {
    ClientContext { application_id: Some(client.id), ..ctx.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_the_digest() {
        let token = "abc";
        let full = crate::crypto::sha256(token.as_bytes());
        assert_eq!(at_hash(token, KeyAlg::RS256), crate::crypto::b64url(&full[..16]));
        assert_eq!(at_hash(token, KeyAlg::EdDSA).len(), 43, "32 bytes of SHA-512");
    }

    #[test]
    fn verifiers_are_43_to_128_unreserved_characters() {
        assert!(valid_verifier(&"a".repeat(43)));
        assert!(valid_verifier(&"a-._~".repeat(20)));
        assert!(!valid_verifier(&"a".repeat(42)));
        assert!(!valid_verifier(&"a".repeat(129)));
        assert!(!valid_verifier(&format!("{}+", "a".repeat(43))));
    }
}
