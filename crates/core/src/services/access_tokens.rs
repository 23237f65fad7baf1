//! Access tokens: one typed claim set for every dialect, written, signed and verified here.
//!
//! A dialect describes its tokens as data — a [`TokenProfile`] (algorithms, which optional
//! standard claims it writes, the claim that names the tenant, claims with fixed values) and each
//! token's own extra claims — and the core does the rest, so the standard claims are written and
//! checked in one place. It is also the one place that reads a claim before the signature is
//! checked: [`Core::locate_and_verify`] peeks only to find which tenant's keys, issuer and
//! audience to verify against, and trusts nothing it peeked until the token verifies.

use serde_json::{Map, Value, json};

use super::ClientContext;
use super::keys::TokenRules;
use crate::core::Core;
use crate::crypto::jwt::peek_claims;
use crate::error::{CoreError, CoreResult};
use crate::model::AuditAction;
use crate::model::Dialect;
use crate::model::{Application, ApplicationKind, KeyAlg, Session, Tenant, User, new_id};
use crate::model::{SessionId, TenantId};

/// How one dialect's access tokens are written and checked.
#[derive(Debug, Clone, Copy)]
pub struct TokenProfile {
    /// The dialect whose sessions the tokens stand for, and which must serve their tenant.
    pub dialect: Dialect,
    /// Algorithms of the signing key; a tenant with no such key gets one of the first.
    pub algs: &'static [KeyAlg],
    /// The JOSE header's `typ`.
    pub typ: &'static str,
    /// The claim that carries the tenant id, if the dialect's tokens carry one; it must name the
    /// verifying tenant.
    pub tenant_claim: Option<&'static str>,
    /// Whether tokens carry `nbf` (equal to `iat`).
    pub not_before: bool,
    /// Whether `aud` is written as a list of one, as some libraries expect.
    pub audience_list: bool,
    /// Claims every token carries with these values; a token without them is refused.
    pub fixed: &'static [(&'static str, &'static str)],
    /// The claim that names the client of a token without a session (client credentials). `None`:
    /// every token needs a live session.
    pub client_claim: Option<&'static str>,
    /// Whether the issuer is the tenant's realm URL (`<public url>/realms/<slug>`, what OpenID
    /// Connect's discovery names) instead of the tenant's configured issuer.
    pub realm_issuer: bool,
}

/// What a dialect grants in one access token: whom it stands for and its own claims. The core
/// adds `iss`, `aud`, `jti`, `iat`, `exp` (and `nbf`, the tenant claim and the fixed claims where
/// the profile says so).
#[derive(Debug, Clone)]
pub struct AccessGrant {
    pub subject: String,
    pub session: Option<String>,
    pub audience: String,
    pub extra: Map<String, Value>,
}

impl AccessGrant {
    /// A token for a signed-in session: its subject is the session's user.
    pub fn for_session(session: &Session, audience: impl Into<String>, extra: Value) -> Self {
        AccessGrant {
            subject: session.user_id.to_string(),
            session: Some(session.id.to_string()),
            audience: audience.into(),
            extra: into_map(extra),
        }
    }

    /// A token without a session (client credentials), ended only by its `jti`.
    pub fn for_client(subject: impl Into<String>, audience: impl Into<String>, extra: Value) -> Self {
        AccessGrant { subject: subject.into(), session: None, audience: audience.into(), extra: into_map(extra) }
    }
}

fn into_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The claims of an access token, typed: the standard ones, and the dialect's own as data.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessClaims {
    pub tenant: TenantId,
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub sid: Option<String>,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    /// The dialect's own claims, as they were granted (or as a verified token carries them).
    pub extra: Map<String, Value>,
}

impl AccessClaims {
    fn issue(tenant: &Tenant, issuer: String, grant: AccessGrant, now: i64) -> Self {
        AccessClaims {
            tenant: tenant.id,
            iss: issuer,
            aud: grant.audience,
            sub: grant.subject,
            sid: grant.session,
            jti: new_id().to_string(),
            iat: now,
            exp: now + tenant.policy.tokens.access_ttl_seconds,
            extra: grant.extra,
        }
    }

    /// A dialect claim as text.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.extra.get(name).and_then(Value::as_str)
    }

    /// The JWT claim set the profile describes. Standard claims win over extras of the same name.
    pub fn to_jwt(&self, profile: &TokenProfile) -> Value {
        let mut map = self.extra.clone();
        for (name, value) in profile.fixed {
            map.insert((*name).to_string(), json!(value));
        }
        if let Some(name) = profile.tenant_claim {
            map.insert(name.to_string(), json!(self.tenant));
        }
        map.insert("iss".into(), json!(self.iss));
        map.insert("aud".into(), if profile.audience_list { json!([self.aud]) } else { json!(self.aud) });
        map.insert("sub".into(), json!(self.sub));
        map.insert("jti".into(), json!(self.jti));
        map.insert("iat".into(), json!(self.iat));
        map.insert("exp".into(), json!(self.exp));
        if profile.not_before {
            map.insert("nbf".into(), json!(self.iat));
        }
        if let Some(sid) = &self.sid {
            map.insert("sid".into(), json!(sid));
        }
        Value::Object(map)
    }

    /// The typed claims of a token whose signature, issuer, audience and expiry were verified
    /// against `tenant`; `Unauthorized` unless it has every claim the profile writes.
    fn from_verified(claims: Value, profile: &TokenProfile, tenant: &Tenant, audience: &str) -> CoreResult<Self> {
        let Value::Object(mut map) = claims else { return Err(CoreError::Unauthorized) };
        let mut take = |name: &str| map.remove(name);
        let text = |v: Option<Value>| match v {
            Some(Value::String(s)) => Ok(s),
            _ => Err(CoreError::Unauthorized),
        };
        let number = |v: Option<Value>| v.as_ref().and_then(Value::as_i64).ok_or(CoreError::Unauthorized);
        let iss = text(take("iss"))?;
        let sub = text(take("sub"))?;
        let jti = text(take("jti"))?;
        let iat = number(take("iat"))?;
        let exp = number(take("exp"))?;
        let sid = match take("sid") {
            None => None,
            some => Some(text(some)?),
        };
        take("aud");
        take("nbf");
        if let Some(name) = profile.tenant_claim
            && take(name).as_ref().and_then(Value::as_str) != Some(tenant.id.to_string().as_str())
        {
            return Err(CoreError::Unauthorized);
        }
        for (name, value) in profile.fixed {
            if take(name).as_ref().and_then(Value::as_str) != Some(*value) {
                return Err(CoreError::Unauthorized);
            }
        }
        Ok(AccessClaims { tenant: tenant.id, iss, aud: audience.to_string(), sub, sid, jti, iat, exp, extra: map })
    }
}

/// How the tenant of a presented token is found, and the audience it must carry there.
#[derive(Debug, Clone, Copy)]
pub enum Locator<'a> {
    /// The request names the tenant (a header, a mount): nothing is read from the token.
    Tenant { tenant: &'a Tenant, audience: &'a str },
    /// The tenant's slug is the last path segment of the unverified `iss` after `after` (as in
    /// Keycloak's `…/realms/<realm>`).
    IssuerPath { after: &'static str, audience: &'a str },
    /// The unverified claim `claim` holds an application's tag; that application's tenant
    /// verifies, and the audience is `audience` filled with the tag.
    ApplicationTag { claim: &'static str, audience: AudienceTemplate<'a> },
}

/// An audience that names an application: `template` with `placeholder` replaced by its tag.
#[derive(Debug, Clone, Copy)]
pub struct AudienceTemplate<'a> {
    pub template: &'a str,
    pub placeholder: &'static str,
}

impl AudienceTemplate<'_> {
    pub fn fill(&self, tag: &str) -> String {
        self.template.replace(self.placeholder, tag)
    }
}

/// A verified, live access token.
#[derive(Debug, Clone)]
pub struct VerifiedAccess {
    pub tenant: Tenant,
    pub claims: AccessClaims,
    /// The live session the token stands for; `None` for a client's token.
    pub session: Option<Session>,
    /// The application the token was located by (its tag), or for a client's token that client
    /// as it is now.
    pub application: Option<Application>,
}

impl VerifiedAccess {
    /// The session, for dialects whose tokens always have one.
    pub fn require_session(&self) -> CoreResult<&Session> {
        self.session.as_ref().ok_or(CoreError::Unauthorized)
    }
}

/// A service that presented a live client token holding a required role.
#[derive(Debug, Clone)]
pub struct ServicePrincipal {
    pub tenant: Tenant,
    pub client: Application,
    pub claims: AccessClaims,
}

/// A located tenant, the application it was located by, and the audience to expect.
type Located = (Tenant, Option<Application>, String);

/// Refusals of a token are all `Unauthorized`; only faults (storage, internal) pass through, so a
/// caller can tell a bad token from a server that cannot answer.
fn unauthorized_unless_fault(e: CoreError) -> CoreError {
    match e {
        CoreError::Storage(_) | CoreError::Internal(_) => e,
        _ => CoreError::Unauthorized,
    }
}

/// Access tokens: issued, located and verified, revoked: `core.tokens()`.
pub struct Tokens<'a>(&'a Core);

impl Core {
    pub fn tokens(&self) -> Tokens<'_> {
        Tokens(self)
    }
}

impl std::ops::Deref for Tokens<'_> {
    type Target = Core;
    fn deref(&self) -> &Core {
        self.0
    }
}

impl Tokens<'_> {
    /// The issuer the profile's tokens name.
    fn issuer_of(&self, tenant: &Tenant, profile: &TokenProfile) -> String {
        if profile.realm_issuer { self.realm_issuer(tenant) } else { tenant.issuer.clone() }
    }

    /// Signs an access token for `grant` with the tenant's key of the profile's algorithms.
    pub async fn issue_access_token(&self, tenant: &Tenant, profile: &TokenProfile, grant: AccessGrant) -> CoreResult<String> {
        let claims = AccessClaims::issue(tenant, self.issuer_of(tenant, profile), grant, self.now());
        self.signing_keys().sign_token(tenant, profile.algs, profile.typ, &claims.to_jwt(profile)).await
    }

    /// Finds the tenant of `token` as `locator` says (peeking at an unverified claim where it
    /// must), then verifies the token there: signature by one of that tenant's keys, the exact
    /// issuer, the audience, expiry, the profile's claims; and that it still stands — its session
    /// alive and of this dialect and user, or for a client's token, its `jti` not denied and the
    /// client still active and not public. Any refusal is `Unauthorized`.
    pub async fn locate_and_verify(
        &self,
        token: &str,
        profile: &TokenProfile,
        locator: Locator<'_>,
    ) -> CoreResult<VerifiedAccess> {
        let (tenant, located_by, audience) = self.locate(token, profile, locator).await.map_err(unauthorized_unless_fault)?;
        let issuer = self.issuer_of(&tenant, profile);
        let rules =
            TokenRules { algs: profile.algs, typ: profile.typ, audience: &audience, issuer: Some(&issuer), expired_ok: false };
        let verified = self.signing_keys().verify_token(&tenant, token, rules).await?;
        let claims = AccessClaims::from_verified(verified, profile, &tenant, &audience)?;
        let (session, client) = self.still_standing(&tenant, profile, &claims).await.map_err(unauthorized_unless_fault)?;
        Ok(VerifiedAccess { tenant, claims, session, application: located_by.or(client) })
    }

    async fn locate(&self, token: &str, profile: &TokenProfile, locator: Locator<'_>) -> CoreResult<Located> {
        let peeked = |claim: &str| peek_claims(token).and_then(|c| c.get(claim).and_then(Value::as_str).map(str::to_string));
        let (tenant, application, audience) = match locator {
            Locator::Tenant { tenant, audience } => (tenant.clone(), None, audience.to_string()),
            Locator::IssuerPath { after, audience } => {
                let iss = peeked("iss").ok_or(CoreError::Unauthorized)?;
                let slug = iss.rsplit_once(after).map(|(_, s)| s).unwrap_or_default();
                if slug.is_empty() || slug.len() > 63 || slug.contains('/') {
                    return Err(CoreError::Unauthorized);
                }
                (self.tenants().find_tenant(slug).await?, None, audience.to_string())
            }
            Locator::ApplicationTag { claim, audience } => {
                let tag = peeked(claim).ok_or(CoreError::Unauthorized)?;
                let (app, tenant) = self.applications().application_by_alias(profile.dialect, &tag).await?;
                (tenant, Some(app), audience.fill(&tag))
            }
        };
        if !tenant.serves(profile.dialect) {
            return Err(CoreError::Unauthorized);
        }
        Ok((tenant, application, audience))
    }

    /// Whether verified claims still stand: the live session their `sid` names (this dialect's,
    /// this subject's), or without one, an undenied `jti` and the active client it names.
    async fn still_standing(
        &self,
        tenant: &Tenant,
        profile: &TokenProfile,
        claims: &AccessClaims,
    ) -> CoreResult<(Option<Session>, Option<Application>)> {
        if let Some(sid) = &claims.sid {
            let session = self.sessions().live_session(tenant, &SessionId::from(sid.as_str())).await?;
            if session.dialect != profile.dialect || session.user_id.to_string() != claims.sub {
                return Err(CoreError::Unauthorized);
            }
            return Ok((Some(session), None));
        }
        let client_claim = profile.client_claim.ok_or(CoreError::Unauthorized)?;
        if self.store.token_revoked(&claims.jti).await? {
            return Err(CoreError::Unauthorized);
        }
        let client_id = claims.text(client_claim).ok_or(CoreError::Unauthorized)?;
        // A client's token is only as good as its client: deactivating the client ends it.
        let client = self.applications().cached_by_client_id(tenant, client_id).await?.ok_or(CoreError::Unauthorized)?;
        if !client.active || client.kind == ApplicationKind::Public {
            return Err(CoreError::Unauthorized);
        }
        Ok((None, Some(client)))
    }

    /// A service's token, verified as [`Core::locate_and_verify`] does, whose client holds `role`
    /// now (not as the token was issued). `Unauthorized` for a token that does not verify or no
    /// longer stands; `Forbidden` for a valid token that is not a client's or lacks the role.
    pub async fn authorize_service(
        &self,
        token: &str,
        profile: &TokenProfile,
        locator: Locator<'_>,
        role: &str,
    ) -> CoreResult<ServicePrincipal> {
        let access = self.locate_and_verify(token, profile, locator).await?;
        match (access.session, access.application) {
            (None, Some(client)) if client.roles.iter().any(|r| r == role) => {
                Ok(ServicePrincipal { tenant: access.tenant, client, claims: access.claims })
            }
            _ => Err(CoreError::Forbidden),
        }
    }

    /// The user a verified session token stands for, if still active; `Unauthorized` otherwise.
    pub async fn signed_in_user(&self, access: &VerifiedAccess) -> CoreResult<User> {
        let session = access.require_session()?;
        let user = self.store.user_by_id(access.tenant.id, session.user_id).await?;
        user.filter(|u| u.active).ok_or(CoreError::Unauthorized)
    }

    /// Ends a verified access token before its expiry: its `jti` is denied until then, and the
    /// session behind it (if any) ends with every other token of that session.
    pub async fn revoke_access_token(&self, tenant: &Tenant, claims: &AccessClaims, ctx: &ClientContext) -> CoreResult<()> {
        let now = self.now();
        let exp = claims.exp + self.config.token_leeway_seconds;
        self.store.revoke_token(tenant.id, &claims.jti, exp, now).await?;
        let mut user = None;
        if let Some(sid) = &claims.sid
            && let Some(session) = self.store.session_by_id(tenant.id, &SessionId::from(sid.as_str())).await?
        {
            self.end_session(tenant.id, &session).await?;
            user = Some(session.user_id);
        }
        self.audit(
            Some(tenant.id),
            user,
            AuditAction::TokenRevoke,
            "success",
            ctx,
            json!({"jti": claims.jti, "session": claims.sid}),
        )
        .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    const PROFILE: TokenProfile = TokenProfile {
        dialect: Dialect::Korastratum,
        algs: &[KeyAlg::HS256],
        typ: "JWT",
        tenant_claim: Some("tenant_claim"),
        not_before: true,
        audience_list: false,
        fixed: &[("kind", "Bearer")],
        client_claim: None,
        realm_issuer: false,
    };

    fn claims() -> AccessClaims {
        AccessClaims {
            tenant: TenantId::from_uuid(Uuid::nil()),
            iss: "https://issuer".into(),
            aud: "aud".into(),
            sub: "user".into(),
            sid: Some("sess_1".into()),
            jti: "j".into(),
            iat: 100,
            exp: 200,
            extra: into_map(json!({"name": "N", "sub": "not the subject"})),
        }
    }

    #[test]
    fn the_claim_set_has_the_standard_claims_the_profile_asks_for_and_the_extras() {
        let jwt = claims().to_jwt(&PROFILE);
        assert_eq!(
            jwt,
            json!({"iss": "https://issuer", "aud": "aud", "sub": "user", "sid": "sess_1", "jti": "j", "iat": 100,
                   "exp": 200, "nbf": 100, "name": "N", "kind": "Bearer", "tenant_claim": Uuid::nil()})
        );
        let listed = TokenProfile { audience_list: true, not_before: false, tenant_claim: None, fixed: &[], ..PROFILE };
        let jwt = AccessClaims { sid: None, ..claims() }.to_jwt(&listed);
        assert_eq!(jwt["aud"], json!(["aud"]));
        assert!(jwt.get("nbf").is_none() && jwt.get("sid").is_none() && jwt.get("kind").is_none());
    }

    #[test]
    fn verified_claims_read_back_as_they_were_written() {
        let tenant = Tenant {
            id: TenantId::from_uuid(Uuid::nil()),
            slug: "t".into(),
            display_name: "T".into(),
            profile: crate::model::tenant::Profile::Default,
            dialects: vec![Dialect::Korastratum],
            issuer: "https://issuer".into(),
            audience: "aud".into(),
            policy: crate::model::policy::Policy::default_profile(),
            created_at: 0,
        };
        let written = claims();
        let read = AccessClaims::from_verified(written.to_jwt(&PROFILE), &PROFILE, &tenant, "aud").ok();
        let want = AccessClaims { extra: into_map(json!({"name": "N"})), ..written.clone() };
        assert_eq!(read, Some(want));
        // Another tenant's id, or a fixed claim missing, is refused.
        let mut other = written.to_jwt(&PROFILE);
        other["tenant_claim"] = json!(Uuid::max());
        assert!(AccessClaims::from_verified(other, &PROFILE, &tenant, "aud").is_err());
        let mut unfixed = written.to_jwt(&PROFILE);
        unfixed.as_object_mut().map(|m| m.remove("kind"));
        assert!(AccessClaims::from_verified(unfixed, &PROFILE, &tenant, "aud").is_err());
    }
}
