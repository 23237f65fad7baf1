//! Pushed authorization requests (RFC 9126): a client sends its authorization request's
//! parameters straight to the server, authenticated, and sends the browser with a `request_uri`
//! that stands for them: once, for that client, within a minute.

use serde_json::json;

use super::grants::ctx_with;
use super::request::{redirect_registered, single};
use super::{Provider, ProviderError, ProviderResult, oauth};
use crate::error::CoreResult;
use crate::model::{Application, AuditAction, PushedRequest, Tenant};
use crate::services::ClientContext;

/// A pushed request may be used this long after it was made (seconds).
pub const PAR_TTL: i64 = 60;
/// What every `request_uri` this server hands out begins with (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
const PAR_DOMAIN: &str = "pushed-request";

/// Parameters of the client's authentication, not of the authorization request: never stored.
const CLIENT_AUTH_PARAMS: &[&str] = &["client_secret", "client_assertion", "client_assertion_type"];

/// What the PAR endpoint answers (RFC 9126 §2.2).
#[derive(Debug, Clone, PartialEq)]
pub struct Pushed {
    pub request_uri: String,
    pub expires_in: i64,
}

impl Provider<'_> {
    /// The PAR endpoint: checks the request as the authorization endpoint would (every error
    /// answered to the client here, none sent to a redirect URI) and keeps it. The request is the
    /// event of `par.request`.
    pub async fn push_request(
        &self,
        tenant: &Tenant,
        client: &Application,
        params: &[(String, String)],
        ctx: &ClientContext,
    ) -> ProviderResult<Pushed> {
        let result = self.try_push_request(tenant, client, params).await;
        let outcome = match &result {
            Ok(_) => "success",
            Err(ProviderError::OAuth(e)) => e.error,
            Err(ProviderError::Core(_)) => "error",
        };
        let detail = json!({"clientId": client.client_id});
        self.audit(Some(tenant.id), None, AuditAction::PushedAuthorize, outcome, &ctx_with(ctx, client), detail).await;
        result
    }

    async fn try_push_request(
        &self,
        tenant: &Tenant,
        client: &Application,
        params: &[(String, String)],
    ) -> ProviderResult<Pushed> {
        let invalid = |why: &str| oauth("invalid_request", why.to_string());
        // RFC 9126 §2.1: a pushed request cannot itself point at another.
        if params.iter().any(|(k, _)| k == "request_uri") {
            return Err(invalid("request_uri cannot be pushed"));
        }
        // A signed request object pushed (RFC 9126 §3): its parameters are the request.
        let from_object;
        let params = match single(params, "request").map_err(|why| invalid(&why))? {
            Some(object) => {
                from_object = self
                    .request_object_params(tenant, client, object)
                    .await
                    .map_err(|why| oauth("invalid_request_object", why))?;
                &from_object[..]
            }
            None => params,
        };
        match single(params, "client_id").map_err(|why| invalid(&why))? {
            Some(id) if id != client.client_id => return Err(invalid("client_id is not the authenticated client's")),
            _ => {}
        }
        match single(params, "redirect_uri").map_err(|why| invalid(&why))? {
            Some(uri) if redirect_registered(client, uri) => {}
            Some(_) => return Err(invalid("redirect_uri is not registered for the client")),
            None => return Err(invalid("redirect_uri is missing")),
        }
        let kept: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| !CLIENT_AUTH_PARAMS.contains(&k.as_str()) && k != "client_id")
            .cloned()
            .chain([("client_id".to_string(), client.client_id.clone())])
            .collect();
        self.check_pushed(tenant, client, &kept).map_err(|(error, why)| oauth(error, why))?;
        let now = self.now();
        let secret = crate::crypto::random_token();
        let record = PushedRequest {
            request_hash: self.master.mac(PAR_DOMAIN, secret.as_bytes()),
            tenant_id: tenant.id,
            application_id: client.id,
            params: kept,
            expires_at: now + PAR_TTL,
            used_at: None,
            created_at: now,
        };
        self.store.insert_pushed_request(&record, now).await?;
        Ok(Pushed { request_uri: format!("{REQUEST_URI_PREFIX}{secret}"), expires_in: PAR_TTL })
    }

    /// The parameters a `request_uri` stands for, spent: `None` when it is not one of ours, is
    /// another client's, was used, or expired.
    pub(crate) async fn pushed_params(
        &self,
        tenant: &Tenant,
        client: &Application,
        request_uri: &str,
    ) -> CoreResult<Option<Vec<(String, String)>>> {
        let Some(secret) = request_uri.strip_prefix(REQUEST_URI_PREFIX).filter(|s| s.len() <= 100) else {
            return Ok(None);
        };
        let hash = self.master.mac(PAR_DOMAIN, secret.as_bytes());
        let taken = self.store.take_pushed_request(tenant.id, client.id, &hash, self.now()).await?;
        Ok(taken.map(|r| r.params))
    }
}
