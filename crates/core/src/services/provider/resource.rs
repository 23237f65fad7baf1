//! What clients and resource servers ask about tokens: UserInfo, introspection, revocation;
//! and signing out (RP-initiated, or Keycloak's back-end logout by refresh token).

use serde_json::{Value, json};

use super::claims::preferred_username;
use super::dpop::{DpopRefusal, DpopRequest};
use super::flow::SignedIn;
use super::request::requested_claims;
use super::{ACCESS_PROFILE, Provider, ProviderResult};
use crate::error::{CoreError, CoreResult};
use crate::model::{Application, AuditAction, AuthMethod, Dialect, Tenant};
use crate::services::ClientContext;
use crate::services::access_tokens::{Locator, VerifiedAccess};

/// Why UserInfo refused a token (RFC 6750 §3.1, RFC 9449 §7.1).
#[derive(Debug)]
pub enum UserinfoError {
    InvalidToken,
    /// The DPoP proof lacks the server's current nonce.
    UseDpopNonce,
    /// The DPoP proof is not right (why).
    InvalidDpopProof(&'static str),
    /// A valid token that stands for a client, not a user (client credentials).
    NoUser,
    InsufficientScope,
    Core(CoreError),
}

/// How an access token was presented (RFC 6750, RFC 9449 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScheme {
    Bearer,
    Dpop,
}

/// The thumbprint of the key a verified access token is bound to (`cnf.jkt`), if any.
fn bound_key(access: &VerifiedAccess) -> Option<String> {
    access.claims.extra.get("cnf")?.get("jkt")?.as_str().map(str::to_string)
}

/// An RP-initiated logout request (OpenID Connect RP-Initiated Logout 1.0 §2).
#[derive(Debug, Clone, Default)]
pub struct LogoutRequest {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
}

/// Where a logout request goes.
#[derive(Debug, Clone, PartialEq)]
pub enum LogoutStep {
    /// Ask the user first (no valid hint): the page's form sends the request again, confirmed.
    Confirm { client_name: Option<String> },
    /// Signed out: back to the client's URI (with `state`), or a page saying so.
    Done { redirect: Option<String> },
    /// The request cannot be honoured (an unregistered URI, a bad hint): a page, never a redirect.
    Refused(String),
}

impl Provider<'_> {
    /// A live access token of this realm: signature, issuer, its client's audience, expiry, not
    /// revoked, and its session (or, for a client's token, its client) still standing.
    pub async fn verify_access_token(&self, tenant: &Tenant, token: &str) -> CoreResult<VerifiedAccess> {
        let peeked = crate::crypto::jwt::peek_claims(token).ok_or(CoreError::Unauthorized)?;
        let client_id = peeked.get("client_id").and_then(Value::as_str).ok_or(CoreError::Unauthorized)?;
        let client = self.applications().cached_by_client_id(tenant, client_id).await?;
        let Some(client) = client.filter(|c| c.active) else { return Err(CoreError::Unauthorized) };
        // The client's own audience, or one it may exchange tokens for (RFC 8693).
        let audience = match peeked.get("aud").and_then(Value::as_str) {
            Some(aud) if client.oauth.exchange_audiences.iter().any(|a| a == aud) => aud,
            _ => client.access_token_audience(),
        };
        let locator = Locator::Tenant { tenant, audience };
        let access = self.tokens().locate_and_verify(token, &ACCESS_PROFILE, locator).await?;
        if access.claims.text("client_id") != Some(client.client_id.as_str()) {
            return Err(CoreError::Unauthorized);
        }
        // A client's token was checked against the deny list already; a session's is here.
        if access.session.is_some() && self.store.token_revoked(&access.claims.jti).await? {
            return Err(CoreError::Unauthorized);
        }
        Ok(access)
    }

    /// UserInfo: the claims of the token's scopes, for a live token of a signed-in user that was
    /// granted `openid`. A token bound to a key (DPoP) comes with the `DPoP` scheme and a proof
    /// of that key; an unbound one with `Bearer`.
    pub async fn userinfo(
        &self,
        tenant: &Tenant,
        token: &str,
        scheme: TokenScheme,
        dpop: DpopRequest<'_>,
    ) -> Result<Value, UserinfoError> {
        let access = match self.verify_access_token(tenant, token).await {
            Ok(a) => a,
            Err(CoreError::Unauthorized) => return Err(UserinfoError::InvalidToken),
            Err(e) => return Err(UserinfoError::Core(e)),
        };
        match (scheme, bound_key(&access), dpop.proof) {
            (TokenScheme::Bearer, None, _) => {}
            (TokenScheme::Dpop, Some(jkt), Some(proof)) => {
                let url = format!("{}/protocol/openid-connect/userinfo", self.realm_issuer(tenant));
                match self.check_dpop_proof(tenant, proof, dpop.method, &url, Some(token)).await {
                    Ok(proven) if crate::crypto::ct_eq(proven.as_bytes(), jkt.as_bytes()) => {}
                    Ok(_) => return Err(UserinfoError::InvalidDpopProof("the proof is of another key than the token's")),
                    Err(DpopRefusal::UseNonce) => return Err(UserinfoError::UseDpopNonce),
                    Err(DpopRefusal::Invalid(why)) => return Err(UserinfoError::InvalidDpopProof(why)),
                }
            }
            (TokenScheme::Dpop, Some(_), None) => return Err(UserinfoError::InvalidDpopProof("no DPoP proof")),
            // A bound token without its proof, or a DPoP claim for a bearer token.
            _ => return Err(UserinfoError::InvalidToken),
        }
        if access.session.is_none() {
            return Err(UserinfoError::NoUser);
        }
        let scopes = scopes_of(&access);
        if !scopes.iter().any(|s| s == "openid") {
            return Err(UserinfoError::InsufficientScope);
        }
        let user = match self.tokens().signed_in_user(&access).await {
            Ok(u) => u,
            Err(CoreError::Unauthorized) => return Err(UserinfoError::InvalidToken),
            Err(e) => return Err(UserinfoError::Core(e)),
        };
        Ok(super::claims::userinfo_claims(&user, &scopes, &requested_claims(None, "userinfo")))
    }

    /// RFC 7662: what `caller` may know of `token` — an access or refresh token of this realm
    /// issued to it (to any client of the tenant with `introspect_any`), live; else inactive.
    /// A public client has no credentials, so it is no authenticated caller: `invalid_client`.
    /// One `token.introspect` event, `active` or `inactive`.
    pub async fn introspect(
        &self,
        tenant: &Tenant,
        caller: &Application,
        token: Option<&str>,
        ctx: &ClientContext,
    ) -> ProviderResult<Value> {
        let result = match token {
            Some(token) => self.try_introspect(tenant, caller, token).await,
            None => Err(super::oauth("invalid_request", "token is missing")),
        };
        let outcome = match &result {
            Ok(answer) if answer["active"] == json!(true) => "active",
            Ok(_) => "inactive",
            Err(super::ProviderError::OAuth(e)) => e.error,
            Err(super::ProviderError::Core(_)) => "error",
        };
        let detail = json!({"clientId": caller.client_id});
        let ctx = super::grants::ctx_with(ctx, caller);
        self.audit(Some(tenant.id), None, AuditAction::TokenIntrospect, outcome, &ctx, detail).await;
        result
    }

    async fn try_introspect(&self, tenant: &Tenant, caller: &Application, token: &str) -> ProviderResult<Value> {
        if caller.auth_method() == AuthMethod::None {
            return Err(super::oauth("invalid_client", "a public client cannot introspect"));
        }
        let inactive = json!({"active": false});
        if token.is_empty() || token.len() > 8192 {
            return Ok(inactive);
        }
        let may_see = |client_id: &str| caller.oauth.introspect_any || client_id == caller.client_id;
        if token.matches('.').count() == 2 {
            let access = match self.verify_access_token(tenant, token).await {
                Ok(a) => a,
                Err(CoreError::Unauthorized) => return Ok(inactive),
                Err(e) => return Err(e.into()),
            };
            let client_id = access.claims.text("client_id").unwrap_or_default().to_string();
            if !may_see(&client_id) {
                return Ok(inactive);
            }
            let username = match &access.session {
                Some(_) => self.tokens().signed_in_user(&access).await.ok().and_then(|u| preferred_username(&u)),
                None => None,
            };
            let c = &access.claims;
            let jkt = bound_key(&access);
            let mut out = json!({
                "active": true,
                "scope": c.text("scope").unwrap_or_default(),
                "client_id": client_id,
                "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
                "exp": c.exp,
                "iat": c.iat,
                "nbf": c.iat,
                "sub": c.sub,
                "aud": c.aud,
                "iss": c.iss,
                "jti": c.jti,
            });
            if let Some(sid) = &c.sid {
                out["sid"] = json!(sid);
            }
            // RFC 9449 §6.2: a resource server checks the proof against this.
            if let Some(jkt) = jkt {
                out["cnf"] = json!({"jkt": jkt});
            }
            if let Some(name) = username {
                out["username"] = json!(name);
            }
            return Ok(out);
        }
        let now = self.now();
        let hash = crate::crypto::sha256(token.as_bytes());
        let Some(rt) = self.store.refresh_token_by_hash(tenant.id, &hash).await? else { return Ok(inactive) };
        let Some(bound) = rt.client.as_ref() else { return Ok(inactive) };
        if rt.used_at.is_some() || rt.expires_at <= now {
            return Ok(inactive);
        }
        let Some(owner) = self.store.application_by_id(tenant.id, bound.application_id).await? else { return Ok(inactive) };
        if !may_see(&owner.client_id) {
            return Ok(inactive);
        }
        let session = self.store.session_by_id(tenant.id, &rt.session_id).await?;
        let Some(session) =
            session.filter(|s| s.dialect == Dialect::Oidc && s.is_alive(now, tenant.policy.sessions.idle_timeout_seconds))
        else {
            return Ok(inactive);
        };
        let user = self.store.user_by_id(tenant.id, session.user_id).await?;
        let Some(user) = user.filter(|u| u.active) else { return Ok(inactive) };
        let scope = bound
            .grant
            .get("scopes")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "));
        let mut out = json!({
            "active": true,
            "scope": scope.unwrap_or_default(),
            "client_id": owner.client_id,
            "token_type": "refresh_token",
            // Unused, it ends when its sign-in idles out, if that comes first.
            "exp": rt.expires_at.min(session.last_active + tenant.policy.sessions.idle_timeout_seconds),
            "iat": rt.created_at,
            "nbf": rt.created_at,
            "sub": user.id.to_string(),
            "aud": owner.client_id,
            "iss": self.realm_issuer(tenant),
            "sid": session.id,
        });
        if let Some(name) = preferred_username(&user) {
            out["username"] = json!(name);
        }
        Ok(out)
    }

    /// RFC 7009: a refresh token of `caller` ends its session (and so every token of it); an
    /// access token of `caller` is denied until it expires. Anything else changes nothing; the
    /// answer is the same either way.
    /// One `token.revocation` event: `revoked`, or `nothing` when the token was not one to revoke.
    pub async fn revoke(
        &self,
        tenant: &Tenant,
        caller: &Application,
        token: Option<&str>,
        ctx: &ClientContext,
    ) -> ProviderResult<()> {
        let ctx = super::grants::ctx_with(ctx, caller);
        let result = match token {
            Some(token) => self.try_revoke(tenant, caller, token).await.map_err(super::ProviderError::Core),
            None => Err(super::oauth("invalid_request", "token is missing")),
        };
        let (outcome, user, mut detail) = match &result {
            Ok(Some((user, detail))) => ("revoked", *user, detail.clone()),
            Ok(None) => ("nothing", None, json!({})),
            Err(super::ProviderError::OAuth(e)) => (e.error, None, json!({})),
            Err(super::ProviderError::Core(_)) => ("error", None, json!({})),
        };
        detail["clientId"] = json!(caller.client_id);
        self.audit(Some(tenant.id), user, AuditAction::TokenRevocation, outcome, &ctx, detail).await;
        result.map(|_| ())
    }

    /// What was revoked: the user it was of and the detail to record; `None` for nothing.
    async fn try_revoke(
        &self,
        tenant: &Tenant,
        caller: &Application,
        token: &str,
    ) -> CoreResult<Option<(Option<crate::model::UserId>, Value)>> {
        if token.is_empty() || token.len() > 8192 {
            return Ok(None);
        }
        let now = self.now();
        if token.matches('.').count() == 2 {
            let Ok(access) = self.verify_access_token(tenant, token).await else { return Ok(None) };
            if access.claims.text("client_id") != Some(caller.client_id.as_str()) {
                return Ok(None);
            }
            let until = access.claims.exp + self.config.token_leeway_seconds;
            self.store.revoke_token(tenant.id, &access.claims.jti, until, now).await?;
            let user = access.session.as_ref().map(|s| s.user_id);
            return Ok(Some((user, json!({"jti": access.claims.jti}))));
        }
        let hash = crate::crypto::sha256(token.as_bytes());
        let Some(rt) = self.store.refresh_token_by_hash(tenant.id, &hash).await? else { return Ok(None) };
        if rt.client.as_ref().map(|c| c.application_id) != Some(caller.id) {
            return Ok(None);
        }
        let Some(session) = self.store.session_by_id(tenant.id, &rt.session_id).await? else { return Ok(None) };
        self.end_session(tenant.id, &session).await?;
        Ok(Some((Some(session.user_id), json!({"session": session.id}))))
    }

    /// RP-initiated logout. With a valid `id_token_hint` of the signed-in user (or none signed
    /// in), or once the user confirmed, the SSO session ends with every token of it.
    pub async fn logout(
        &self,
        tenant: &Tenant,
        request: &LogoutRequest,
        signed_in: Option<&SignedIn>,
        confirmed: bool,
        ctx: &ClientContext,
    ) -> CoreResult<LogoutStep> {
        let hint = match &request.id_token_hint {
            None => None,
            Some(h) => match self.id_token_hint(tenant, h).await? {
                Some(found) => Some(found),
                None => {
                    return Ok(LogoutStep::Refused("The sign-out request carries an ID token this realm did not issue.".into()));
                }
            },
        };
        let client_id = match (&request.client_id, &hint) {
            (Some(c), Some((_, aud))) if c != aud => {
                return Ok(LogoutStep::Refused("client_id is not the client of id_token_hint.".into()));
            }
            (Some(c), _) => Some(c.clone()),
            (None, Some((_, aud))) => Some(aud.clone()),
            (None, None) => None,
        };
        let client = match &client_id {
            Some(c) => match self.applications().get_application(tenant, c).await {
                Ok(app) if app.active => Some(app),
                Ok(_) => return Ok(LogoutStep::Refused("The client is not known.".into())),
                Err(CoreError::NotFound) => return Ok(LogoutStep::Refused("The client is not known.".into())),
                Err(e) => return Err(e),
            },
            None => None,
        };
        let redirect = match (&request.post_logout_redirect_uri, &client) {
            (None, _) => None,
            (Some(_), None) => {
                return Ok(LogoutStep::Refused("post_logout_redirect_uri needs client_id or id_token_hint.".into()));
            }
            (Some(uri), Some(app)) if app.oauth.post_logout_redirect_uris.iter().any(|u| u == uri) => {
                let mut url = url::Url::parse(uri).map_err(CoreError::internal)?;
                if let Some(state) = &request.state {
                    url.query_pairs_mut().append_pair("state", state);
                }
                Some(url.to_string())
            }
            (Some(_), Some(_)) => {
                return Ok(LogoutStep::Refused("post_logout_redirect_uri is not registered for this client.".into()));
            }
        };
        let hinted_user = hint.as_ref().map(|(sub, _)| sub.as_str());
        let vouched = match signed_in {
            None => true,
            Some(s) => hinted_user == Some(s.user.id.to_string().as_str()),
        };
        if !vouched && !confirmed {
            return Ok(LogoutStep::Confirm { client_name: client.map(|c| c.name) });
        }
        if let Some(s) = signed_in {
            self.end_session(tenant.id, &s.session).await?;
            let detail = json!({"session": s.session.id, "clientId": client_id});
            self.audit(Some(tenant.id), Some(s.user.id), AuditAction::SignOut, "success", ctx, detail).await;
        }
        Ok(LogoutStep::Done { redirect })
    }

    /// Keycloak's back-end logout: a client ends the session of one of its refresh tokens.
    pub async fn logout_by_refresh_token(
        &self,
        tenant: &Tenant,
        client: &Application,
        token: &str,
        ctx: &ClientContext,
    ) -> CoreResult<()> {
        let hash = crate::crypto::sha256(token.as_bytes());
        let now = self.now();
        let rt = if token.is_empty() || token.len() > 8192 {
            None
        } else {
            self.store.refresh_token_by_hash(tenant.id, &hash).await?
        };
        let live = rt.filter(|r| r.used_at.is_none() && r.expires_at > now);
        let Some(rt) = live.filter(|r| r.client.as_ref().map(|c| c.application_id) == Some(client.id)) else {
            let detail = json!({"clientId": client.client_id});
            self.audit(Some(tenant.id), None, AuditAction::SignOut, "failure", ctx, detail).await;
            return Err(CoreError::InvalidRefreshToken);
        };
        let session = self.store.session_by_id(tenant.id, &rt.session_id).await?;
        // A sign-in that has ended already is not ended again (as Keycloak: "session not active").
        let idle = tenant.policy.sessions.idle_timeout_seconds;
        let Some(session) = session.filter(|s| s.is_alive(now, idle)) else {
            let detail = json!({"clientId": client.client_id});
            self.audit(Some(tenant.id), None, AuditAction::SignOut, "failure", ctx, detail).await;
            return Err(CoreError::InvalidRefreshToken);
        };
        self.end_session(tenant.id, &session).await?;
        let detail = json!({"session": session.id, "clientId": client.client_id});
        self.audit(Some(tenant.id), Some(session.user_id), AuditAction::SignOut, "success", ctx, detail).await;
        Ok(())
    }
}

/// The scopes an access token was granted.
fn scopes_of(access: &VerifiedAccess) -> Vec<String> {
    access.claims.text("scope").unwrap_or_default().split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect()
}
