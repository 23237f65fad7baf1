//! Token exchange (RFC 8693): a client that may exchange tokens trades a token of this realm (an
//! access token, or an ID token issued to it) for an access token for another audience, with the
//! same or fewer scopes. Impersonation by default; delegation (`act`) only for clients allowed it.

use serde_json::{Map, Value, json};

use super::grants::{TokenResponse, param, required};
use super::{ACCESS_PROFILE, Provider, ProviderResult, oauth};
use crate::error::CoreError;
use crate::model::{Application, ApplicationKind, Tenant};
use crate::services::access_tokens::{AccessGrant, VerifiedAccess};

pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";

/// Who a token given for exchange stands for: its subject, the session it belongs to (if any),
/// its scopes, and the `act` chain it already carries.
struct Subject {
    sub: String,
    session: Option<crate::model::Session>,
    scopes: Vec<String>,
    act: Option<Value>,
}

impl Provider<'_> {
    /// The token exchange grant of an authenticated client allowed it.
    pub(crate) async fn exchange_token(
        &self,
        tenant: &Tenant,
        client: &Application,
        params: &[(String, String)],
        jkt: Option<String>,
    ) -> ProviderResult<TokenResponse> {
        if client.kind == ApplicationKind::Public {
            return Err(oauth("unauthorized_client", "a public client cannot exchange tokens"));
        }
        let subject_token = required(params, "subject_token")?;
        let subject_type = required(params, "subject_token_type")?;
        match param(params, "requested_token_type")? {
            None | Some(ACCESS_TOKEN_TYPE) => {}
            Some(other) => return Err(oauth("invalid_request", format!("requested_token_type {other} is not issued"))),
        }
        let audience = match (param(params, "audience")?, param(params, "resource")?) {
            (Some(a), _) | (None, Some(a)) => a.to_string(),
            (None, None) => client.access_token_audience().to_string(),
        };
        if audience != client.access_token_audience() && !client.oauth.exchange_audiences.contains(&audience) {
            return Err(oauth("invalid_target", "the client may not exchange tokens for that audience"));
        }
        let subject = self.exchange_subject(tenant, client, subject_token, subject_type).await?;
        let scopes = match param(params, "scope")? {
            None => subject.scopes.clone(),
            Some(asked) => {
                let asked: Vec<String> = asked.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect();
                if let Some(wider) = asked.iter().find(|s| !subject.scopes.contains(s)) {
                    return Err(oauth("invalid_scope", format!("{wider} is not a scope of the subject token")));
                }
                asked
            }
        };
        let act = match param(params, "actor_token")? {
            None if param(params, "actor_token_type")?.is_some() => {
                return Err(oauth("invalid_request", "actor_token_type without actor_token"));
            }
            None => None,
            Some(_) if !client.oauth.exchange_delegation => {
                return Err(oauth("invalid_request", "the client may not act for others (delegation)"));
            }
            Some(actor_token) => {
                let actor_type = required(params, "actor_token_type")?;
                let actor = self.exchange_subject(tenant, client, actor_token, actor_type).await?;
                // RFC 8693 §4.1: the actor, and before it whoever acted through the subject token.
                let mut act = Map::new();
                act.insert("sub".into(), json!(actor.sub));
                if let Some(prior) = subject.act.clone() {
                    act.insert("act".into(), prior);
                }
                Some(Value::Object(act))
            }
        };
        let scope = scopes.join(" ");
        let mut extra = json!({"client_id": client.client_id, "azp": client.client_id, "scope": scope});
        if let Some(act) = act.or(subject.act) {
            extra["act"] = act;
        }
        if let Some(jkt) = &jkt {
            extra["cnf"] = json!({"jkt": jkt});
        }
        let grant = match &subject.session {
            Some(session) => AccessGrant::for_session(session, audience, extra),
            None => AccessGrant::for_client(subject.sub.clone(), audience, extra),
        };
        let access_token = self.tokens().issue_access_token(tenant, &ACCESS_PROFILE, grant).await?;
        Ok(TokenResponse {
            access_token,
            token_type: if jkt.is_some() { "DPoP" } else { "Bearer" },
            issued_token_type: Some(ACCESS_TOKEN_TYPE),
            expires_in: tenant.policy.tokens.access_ttl_seconds,
            scope,
            id_token: None,
            refresh_token: None,
            refresh_expires_in: None,
        })
    }

    /// A token given for exchange, checked: a live access token of this realm, or an unexpired
    /// ID token of this realm issued to the exchanging client. Anything else is `invalid_request`
    /// (RFC 8693 §2.2.2).
    async fn exchange_subject(
        &self,
        tenant: &Tenant,
        client: &Application,
        token: &str,
        token_type: &str,
    ) -> ProviderResult<Subject> {
        let invalid = |why: &str| oauth("invalid_request", why.to_string());
        match token_type {
            ACCESS_TOKEN_TYPE => {
                let access: VerifiedAccess = match self.verify_access_token(tenant, token).await {
                    Ok(a) => a,
                    Err(CoreError::Unauthorized) => {
                        return Err(invalid("the subject token is not a live access token of this realm"));
                    }
                    Err(e) => return Err(e.into()),
                };
                let scopes =
                    access.claims.text("scope").unwrap_or_default().split(' ').filter(|s| !s.is_empty()).map(str::to_string);
                Ok(Subject {
                    sub: access.claims.sub.clone(),
                    scopes: scopes.collect(),
                    act: access.claims.extra.get("act").cloned(),
                    session: access.session,
                })
            }
            ID_TOKEN_TYPE => {
                let Some((sub, aud)) = self.id_token_hint(tenant, token).await? else {
                    return Err(invalid("the subject token is not an ID token of this realm"));
                };
                if aud != client.client_id {
                    return Err(invalid("the ID token was issued to another client"));
                }
                let claims = crate::crypto::jwt::peek_claims(token).unwrap_or_default();
                if claims
                    .get("exp")
                    .and_then(Value::as_i64)
                    .is_none_or(|exp| exp + self.config.token_leeway_seconds <= self.now())
                {
                    return Err(invalid("the ID token has expired"));
                }
                // The sign-in it was issued in must still stand.
                let session = match claims.get("sid").and_then(Value::as_str) {
                    Some(sid) => match self.sessions().live_session(tenant, &sid.into()).await {
                        Ok(s) if s.user_id.to_string() == sub => Some(s),
                        Ok(_) | Err(CoreError::Unauthorized) => return Err(invalid("the sign-in of the ID token has ended")),
                        Err(e) => return Err(e.into()),
                    },
                    None => return Err(invalid("the ID token names no sign-in")),
                };
                Ok(Subject { sub, session, scopes: vec!["openid".into()], act: None })
            }
            other => Err(invalid(&format!("subject tokens of type {other} are not exchanged"))),
        }
    }
}
