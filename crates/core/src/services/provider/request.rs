//! The authorization request: parameters checked in the order that decides where an error may
//! go (no redirect before the client and its redirect URI are known good), then kept, sealed,
//! across the sign-in pages.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{OAuthError, Provider, REQUEST_TTL};
use crate::error::{CoreError, CoreResult};
use crate::model::oauth::KNOWN_SCOPES;
use crate::model::{Application, GrantType, Tenant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    FormPost,
}

/// The `prompt` values this server acts on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    /// `login`, or `select_account` (one account per browser here: signing in again is the choice).
    pub login: bool,
    pub consent: bool,
}

/// A checked authorization request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    /// The scopes asked for that the server knows and the client may have, in the order asked.
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// The subject of a verified `id_token_hint`.
    pub hinted_subject: Option<String>,
    pub acr_values: Option<String>,
    /// The `claims` parameter's `userinfo` and `id_token` members.
    pub claims: Option<Value>,
    /// When the request was made; a sealed request is good for half an hour.
    pub made_at: i64,
    /// The sign-in that took place during this request (its session id), written by the server
    /// into the sealed request after the password or code was checked: what satisfies
    /// `prompt=login` and `max_age`. A request sealed before that carries none.
    #[serde(default)]
    pub signed_in_during: Option<String>,
    /// A device authorization this request decides (RFC 8628) instead of issuing a code: it has
    /// no redirect URI, and its end is a page.
    #[serde(default)]
    pub device: Option<DeviceRef>,
}

/// The device authorization a request decides: its device code's HMAC (base64url) and the
/// user code, shown again on the consent page for the user to compare with the device's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceRef {
    pub device_hash: String,
    pub user_code: String,
}

impl AuthorizationRequest {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    pub fn scope(&self) -> String {
        self.scopes.join(" ")
    }
}

/// Where an answer goes back to the client: the redirect URI, how, and what it carries (`iss`
/// and `state` included).
#[derive(Debug, Clone, PartialEq)]
pub struct SendBack {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub params: Vec<(String, String)>,
}

impl SendBack {
    /// The redirect URI with the parameters added to its query (`response_mode=query`).
    pub fn location(&self) -> String {
        let mut url = match url::Url::parse(&self.redirect_uri) {
            Ok(u) => u,
            Err(_) => return self.redirect_uri.clone(),
        };
        if self.params.is_empty() {
            return url.to_string();
        }
        url.query_pairs_mut().extend_pairs(self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        url.to_string()
    }
}

/// A request that cannot go on.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejected {
    /// The client or its redirect URI is not known good: an error page, never a redirect.
    Page(String),
    /// Anything else: an error sent back to the client.
    SendBack(SendBack, OAuthError),
}

const MAX_PARAM: usize = 2048;

/// The parameters of an error sent back to the client: `error`, `error_description`, `state`
/// (when the request had one) and `iss` (RFC 9207).
pub(crate) fn error_params(error: &str, description: &str, state: Option<&str>, issuer: String) -> Vec<(String, String)> {
    let mut params = vec![("error".to_string(), error.to_string()), ("error_description".to_string(), description.to_string())];
    if let Some(s) = state {
        params.push(("state".into(), s.to_string()));
    }
    params.push(("iss".into(), issuer));
    params
}

/// One of `params` by name; `Err` when it is repeated (RFC 6749 §3.1).
pub(crate) fn single<'p>(params: &'p [(String, String)], name: &str) -> Result<Option<&'p str>, String> {
    let mut found = params.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let first = found.next();
    if found.next().is_some() {
        return Err(format!("{name} is given more than once"));
    }
    Ok(first.filter(|v| !v.is_empty()))
}

/// Whether `given` is one of the client's redirect URIs: exactly, or for a loopback URI
/// registered without a port (RFC 8252 §7.3), the same URI on any port.
pub fn redirect_registered(app: &Application, given: &str) -> bool {
    if app.redirect_uris.iter().any(|r| r == given) {
        return true;
    }
    let Ok(url) = url::Url::parse(given) else { return false };
    // Only the port may differ: a URI the parser would rewrite (dot segments, case, a numeric
    // host in another notation) is not the registered one, even where it would land there.
    if url.as_str() != given {
        return false;
    }
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]"));
    if url.scheme() != "http" || !loopback || url.port().is_none() {
        return false;
    }
    let mut portless = url.clone();
    if portless.set_port(None).is_err() {
        return false;
    }
    app.redirect_uris.iter().any(|r| url::Url::parse(r).is_ok_and(|r| r.port().is_none() && r == portless))
}

/// The scopes of a `scope` parameter that the server knows and the client may have, each once,
/// in the order asked; the others are dropped.
pub(crate) fn allowed_scopes(app: &Application, scope: &str) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if KNOWN_SCOPES.contains(&s) && app.may_have_scope(s) && !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_string());
        }
    }
    scopes
}

/// A PKCE challenge: 43 characters of base64url (a SHA-256 digest).
fn valid_challenge(c: &str) -> bool {
    c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Provider<'_> {
    /// Checks an authorization request (its query or form parameters, as sent). The client and
    /// redirect URI come first: until both are known good, a refusal is a page; after, it goes
    /// back to the client.
    pub async fn parse_authorization(
        &self,
        tenant: &Tenant,
        params: &[(String, String)],
    ) -> CoreResult<Result<(Application, AuthorizationRequest), Rejected>> {
        let page = |why: &str| Ok(Err(Rejected::Page(why.to_string())));
        let client_id = match single(params, "client_id") {
            Ok(Some(c)) if c.len() <= 100 => c,
            Ok(_) => return page("The request names no client (client_id)."),
            Err(why) => return page(&why),
        };
        let app = match self.applications().get_application(tenant, client_id).await {
            Ok(app) if app.active => app,
            Ok(_) | Err(CoreError::NotFound) => return page("The application that sent you here is not known."),
            Err(e) => return Err(e),
        };
        // A pushed request (RFC 9126): its parameters, and no others, are the request.
        let pushed;
        let (params, was_pushed) = match single(params, "request_uri") {
            Ok(Some(uri)) if uri.starts_with(super::REQUEST_URI_PREFIX) => match self.pushed_params(tenant, &app, uri).await? {
                Some(p) => {
                    pushed = p;
                    (&pushed[..], true)
                }
                None => {
                    return page(
                        "The request has expired or was already used (request_uri). Go back to the application and start again.",
                    );
                }
            },
            // Any other request_uri is refused below, once the redirect URI is known good.
            Ok(_) => (params, false),
            Err(why) => return page(&why),
        };
        // A signed request object (RFC 9101): its parameters, and no others, are the request. A
        // refusal goes back to the outer redirect URI once that is known good, else is a page.
        let from_object;
        let mut bad_object = None;
        let params = match single(params, "request") {
            Ok(Some(object)) => match self.request_object_params(tenant, &app, object).await {
                Ok(p) => {
                    from_object = p;
                    &from_object[..]
                }
                Err(why) => {
                    bad_object = Some(why);
                    params
                }
            },
            Ok(None) => params,
            Err(why) => return page(&why),
        };
        let redirect_uri = match single(params, "redirect_uri") {
            Ok(Some(r)) if redirect_registered(&app, r) => r.to_string(),
            Ok(Some(_)) => return page("The application sent you to an address it has not registered (redirect_uri)."),
            Ok(None) => return page("The request names no redirect_uri."),
            Err(why) => return page(&why),
        };
        let mode = match single(params, "response_mode") {
            Ok(Some("form_post")) => ResponseMode::FormPost,
            _ => ResponseMode::Query,
        };
        let state = single(params, "state").ok().flatten().map(str::to_string);
        let issuer = self.realm_issuer(tenant);
        let back = |error: &'static str, why: String| {
            let params = error_params(error, &why, state.as_deref(), issuer.clone());
            Ok(Err(Rejected::SendBack(
                SendBack { redirect_uri: redirect_uri.clone(), mode, params },
                OAuthError::new(error, why),
            )))
        };
        if let Some(why) = bad_object {
            return back("invalid_request_object", why);
        }
        if app.oauth.require_par && !was_pushed {
            return back("invalid_request", "the client must push its authorization requests (PAR)".into());
        }
        match self.check_parameters(&app, params, state.clone()) {
            Ok(mut request) => {
                request.redirect_uri = redirect_uri.clone();
                request.response_mode = mode;
                if let Some(hint) = single(params, "id_token_hint").ok().flatten() {
                    match self.id_token_hint(tenant, hint).await? {
                        Some((sub, _)) => request.hinted_subject = Some(sub),
                        None => return back("invalid_request", "id_token_hint is not an ID token of this realm".into()),
                    }
                }
                Ok(Ok((app, request)))
            }
            Err((error, why)) => back(error, why),
        }
    }

    /// Every parameter after the client and redirect URI; an error is (code, description).
    fn check_parameters(
        &self,
        app: &Application,
        params: &[(String, String)],
        state: Option<String>,
    ) -> Result<AuthorizationRequest, (&'static str, String)> {
        let invalid = |why: String| ("invalid_request", why);
        let get = |name: &str| single(params, name).map_err(invalid);
        if let Some((name, _)) = params.iter().find(|(_, v)| v.len() > MAX_PARAM) {
            return Err(invalid(format!("{name} is longer than {MAX_PARAM} characters")));
        }
        for name in ["client_id", "redirect_uri", "response_type", "response_mode", "scope", "state", "nonce", "prompt"] {
            get(name)?;
        }
        if get("request")?.is_some() {
            return Err(("invalid_request_object", "a request object cannot carry another".into()));
        }
        if get("request_uri")?.is_some() {
            return Err(("request_uri_not_supported", "request_uri is only for pushed requests (PAR)".into()));
        }
        match get("response_mode")? {
            None | Some("query" | "form_post") => {}
            Some(other) => return Err(invalid(format!("response_mode {other} is not supported"))),
        }
        match get("response_type")? {
            None => return Err(invalid("response_type is missing".into())),
            Some("code") => {}
            Some(_) => return Err(("unsupported_response_type", "only response_type=code is supported".into())),
        }
        if !app.allows_grant(GrantType::AuthorizationCode) {
            return Err(("unauthorized_client", "the client may not use the authorization code flow".into()));
        }
        let scopes = allowed_scopes(app, get("scope")?.unwrap_or_default());
        let challenge = get("code_challenge")?;
        match (get("code_challenge_method")?, challenge) {
            (Some("S256"), Some(_)) | (None, None) => {}
            // RFC 7636 §4.3: no method means `plain`, which is not accepted.
            (None, Some(_)) => return Err(invalid("code_challenge_method=S256 is required with code_challenge".into())),
            (Some("S256"), None) => return Err(invalid("code_challenge is missing".into())),
            (Some(other), _) => return Err(invalid(format!("code_challenge_method {other} is not supported; use S256"))),
        }
        let public = app.kind == crate::model::ApplicationKind::Public;
        let code_challenge = match challenge {
            Some(c) if valid_challenge(c) => Some(c.to_string()),
            Some(_) => return Err(invalid("code_challenge must be 43 characters of base64url (S256)".into())),
            None if public || app.oauth.require_pkce => {
                return Err(invalid("PKCE is required: send code_challenge with code_challenge_method=S256".into()));
            }
            None => None,
        };
        let mut prompt = Prompt::default();
        let prompts: Vec<&str> = get("prompt")?.unwrap_or_default().split(' ').filter(|s| !s.is_empty()).collect();
        for p in &prompts {
            match *p {
                "none" => prompt.none = true,
                "login" | "select_account" => prompt.login = true,
                "consent" => prompt.consent = true,
                _ => {}
            }
        }
        if prompt.none && prompts.len() > 1 {
            return Err(invalid("prompt=none cannot be combined with other values".into()));
        }
        let max_age = match get("max_age")? {
            None => None,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 0 => Some(n),
                _ => return Err(invalid("max_age must be a non-negative number of seconds".into())),
            },
        };
        let claims = match get("claims")? {
            None => None,
            Some(raw) => match serde_json::from_str::<Value>(raw) {
                Ok(Value::Object(map)) => {
                    let kept: serde_json::Map<String, Value> =
                        map.into_iter().filter(|(k, v)| (k == "userinfo" || k == "id_token") && v.is_object()).collect();
                    Some(Value::Object(kept))
                }
                _ => return Err(invalid("claims must be a JSON object".into())),
            },
        };
        Ok(AuthorizationRequest {
            client_id: app.client_id.clone(),
            redirect_uri: String::new(),
            response_mode: ResponseMode::Query,
            scopes,
            state,
            nonce: get("nonce")?.map(str::to_string),
            code_challenge,
            prompt,
            max_age,
            login_hint: get("login_hint")?.map(|h| h.chars().take(200).collect()),
            hinted_subject: None,
            acr_values: get("acr_values")?.map(str::to_string),
            claims,
            made_at: self.now(),
            signed_in_during: None,
            device: None,
        })
    }

    /// The parameters of a request object (RFC 9101 §4) the client signed with one of its keys:
    /// `iss` and `client_id` the client, `aud` this realm's issuer, `exp` not past. `Err` says
    /// why not (the client hears it as `invalid_request_object`).
    pub(crate) async fn request_object_params(
        &self,
        tenant: &Tenant,
        app: &Application,
        object: &str,
    ) -> Result<Vec<(String, String)>, String> {
        if app.oauth.jwks.is_none() && app.oauth.jwks_uri.is_none() {
            return Err("the client has registered no keys to sign request objects with".into());
        }
        let (header, claims) = self.verify_client_signed(app, object).await.map_err(|why| format!("request object: {why}"))?;
        if !matches!(header.typ.as_deref(), None | Some("JWT" | "oauth-authz-req+jwt")) {
            return Err("request object: typ must be oauth-authz-req+jwt".into());
        }
        let Value::Object(claims) = claims else { return Err("request object: not a JSON object".into()) };
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        if text("iss") != Some(app.client_id.as_str()) || text("client_id") != Some(app.client_id.as_str()) {
            return Err("request object: iss and client_id must be the client".into());
        }
        let issuer = self.realm_issuer(tenant);
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == issuer,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(issuer.as_str())),
            _ => false,
        };
        if !aud_ok {
            return Err("request object: aud must be the issuer".into());
        }
        let (now, leeway) = (self.now(), self.config.token_leeway_seconds);
        match claims.get("exp").map(Value::as_i64) {
            Some(Some(exp)) if exp + leeway > now => {}
            Some(_) => return Err("request object: expired".into()),
            None => return Err("request object: exp is missing".into()),
        }
        if claims.get("nbf").is_some_and(|t| t.as_i64().is_none_or(|t| t - leeway > now)) {
            return Err("request object: not yet valid".into());
        }
        const ENVELOPE: &[&str] = &["iss", "aud", "exp", "iat", "nbf", "jti", "sub"];
        let mut params = Vec::new();
        for (name, value) in claims {
            if ENVELOPE.contains(&name.as_str()) {
                continue;
            }
            if name == "request" || name == "request_uri" {
                return Err("request object: cannot carry another request".into());
            }
            let value = match value {
                Value::String(s) => s,
                Value::Object(_) | Value::Array(_) => value.to_string(),
                other => other.to_string(),
            };
            params.push((name, value));
        }
        Ok(params)
    }

    /// Checks a pushed request's parameters as the authorization endpoint will.
    pub(crate) fn check_pushed(
        &self,
        _tenant: &Tenant,
        app: &Application,
        params: &[(String, String)],
    ) -> Result<(), (&'static str, String)> {
        let state = single(params, "state").ok().flatten().map(str::to_string);
        self.check_parameters(app, params, state).map(|_| ())
    }

    /// The request, sealed for the sign-in pages' forms: unreadable and unforgeable outside
    /// this server, bound to the tenant, good for half an hour.
    pub fn seal_request(&self, tenant: &Tenant, request: &AuthorizationRequest) -> CoreResult<String> {
        let plain = serde_json::to_vec(request).map_err(CoreError::internal)?;
        Ok(crate::crypto::b64url(&self.master.seal(&seal_context(tenant), &plain)?))
    }

    /// A sealed request back, if it is this tenant's and not stale.
    pub fn open_request(&self, tenant: &Tenant, sealed: &str) -> Option<AuthorizationRequest> {
        if sealed.len() > 16 * 1024 {
            return None;
        }
        let bytes = crate::crypto::b64url_decode(sealed)?;
        let plain = self.master.open(&seal_context(tenant), &bytes).ok()?;
        let request: AuthorizationRequest = serde_json::from_slice(&plain).ok()?;
        (self.now() - request.made_at < REQUEST_TTL).then_some(request)
    }

    /// The subject and client of an `id_token_hint`: an ID token this tenant issued (expired or
    /// not) to one of its clients. An access token, another tenant's token or `alg: none` is `None`.
    pub(crate) async fn id_token_hint(&self, tenant: &Tenant, hint: &str) -> CoreResult<Option<(String, String)>> {
        let Some(peeked) = crate::crypto::jwt::peek_claims(hint) else { return Ok(None) };
        let Some(aud) = peeked.get("aud").and_then(|a| a.as_str().or_else(|| a.get(0).and_then(Value::as_str))) else {
            return Ok(None);
        };
        let issuer = self.realm_issuer(tenant);
        let rules = crate::services::keys::TokenRules {
            algs: super::SIGNING_ALGS,
            typ: "JWT",
            audience: aud,
            issuer: Some(&issuer),
            expired_ok: true,
        };
        let Ok(claims) = self.signing_keys().verify_token(tenant, hint, rules).await else { return Ok(None) };
        // Other dialects' access tokens can share the key, the `typ` and the issuer: an ID token
        // of ours also names its client as `azp` and carries `at_hash`.
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        if text("azp") != Some(aud) || text("at_hash").is_none() {
            return Ok(None);
        }
        if !self.store.application_by_client_id(tenant.id, aud).await?.is_some_and(|a| a.active) {
            return Ok(None);
        }
        Ok(claims.get("sub").and_then(Value::as_str).map(|sub| (sub.to_string(), aud.to_string())))
    }
}

fn seal_context(tenant: &Tenant) -> String {
    format!("authorization-request/{}", tenant.id)
}

/// The individual claims a request asks for in `member` (`userinfo` or `id_token`).
pub(crate) fn requested_claims(claims: Option<&Value>, member: &str) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    if let Some(Value::Object(map)) = claims.and_then(|c| c.get(member)) {
        for (name, spec) in map {
            let essential = spec.get("essential").and_then(Value::as_bool).unwrap_or(false);
            out.insert(name.clone(), essential);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AppId, ApplicationKind, TenantId};

    fn app(uris: &[&str]) -> Application {
        Application {
            id: AppId::from_uuid(uuid::Uuid::nil()),
            tenant_id: TenantId::from_uuid(uuid::Uuid::nil()),
            client_id: "c".into(),
            name: "n".into(),
            kind: ApplicationKind::Public,
            secret_hash: None,
            aliases: Default::default(),
            roles: vec![],
            allowed_ips: vec![],
            callback_url: None,
            redirect_uris: uris.iter().map(|s| s.to_string()).collect(),
            single_otp_channel: false,
            hosted_webauthn: false,
            active: true,
            created_at: 0,
            oauth: Default::default(),
        }
    }

    #[test]
    fn redirect_uris_match_exactly_and_loopback_on_any_port() {
        let a = app(&["https://app.example/cb", "http://127.0.0.1/native", "http://[::1]/native"]);
        assert!(redirect_registered(&a, "https://app.example/cb"));
        for trick in [
            "https://app.example/cb/",
            "https://app.example/cb?x=1",
            "https://app.example/cb#f",
            "https://APP.example/cb",
            "https://app.example.evil.com/cb",
            "https://app.example:443@evil.com/cb",
            "https://evil.com/https://app.example/cb",
            "http://app.example/cb",
            "https://app.example/CB",
        ] {
            assert!(!redirect_registered(&a, trick), "{trick}");
        }
        assert!(redirect_registered(&a, "http://127.0.0.1:51234/native"));
        assert!(redirect_registered(&a, "http://[::1]:8080/native"));
        assert!(!redirect_registered(&a, "http://127.0.0.1:51234/other"));
        assert!(!redirect_registered(&a, "http://127.0.0.1:51234/x/../native"));
        assert!(!redirect_registered(&a, "HTTP://127.0.0.1:51234/native"));
        assert!(!redirect_registered(&a, "https://127.0.0.1:51234/native"));
        assert!(!redirect_registered(&a, "http://localhost:51234/native"), "loopback by address only");
        // A non-loopback URI never matches on another port.
        let b = app(&["https://app.example/cb"]);
        assert!(!redirect_registered(&b, "https://app.example:8443/cb"));
    }

    #[test]
    fn repeated_parameters_are_refused() {
        let params = vec![("a".to_string(), "1".to_string()), ("a".to_string(), "2".to_string())];
        assert!(single(&params, "a").is_err());
        assert_eq!(single(&params, "b"), Ok(None));
    }
}
