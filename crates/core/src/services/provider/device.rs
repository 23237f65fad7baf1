//! The device authorization grant (RFC 8628): a device without a browser asks for a device code
//! and a user code, the user enters the user code on the device page of a phone or computer,
//! signs in and allows (always asked: the code could have been passed on by someone else), and
//! the device, polling the token endpoint, gets its tokens.

use serde_json::{Value, json};

use super::flow::{SignedIn, Step};
use super::grants::{Granted, TokenResponse, ctx_with};
use super::request::{AuthorizationRequest, DeviceRef, Prompt, ResponseMode};
use super::{Provider, ProviderResult, oauth};
use crate::error::{CoreError, CoreResult};
use crate::model::{Application, AuditAction, ClientGrant, DeviceGrant, DeviceStatus, GrantType, Tenant, UserId};
use crate::services::ClientContext;
use crate::store::{DeviceDecision, StoreError};

/// A device authorization lives this long (seconds).
pub const DEVICE_TTL: i64 = 600;
/// The first polling interval (seconds); each poll that comes sooner adds 5.
pub const DEVICE_INTERVAL: i64 = 5;
/// RFC 8628 §6.1: 20 consonants, so that no code spells a word and none of 0/O or 1/I mixes.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LEN: usize = 8;
const DEVICE_DOMAIN: &str = "device-code";
const USER_CODE_DOMAIN: &str = "user-code";

/// The device authorization response (RFC 8628 §3.2), the URIs without the issuer's base.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceAuthorization {
    pub device_code: String,
    /// As the user sees it: `XXXX-XXXX`.
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// A new user code: 8 characters drawn uniformly from the alphabet (rejection sampling).
fn new_user_code() -> String {
    let n = USER_CODE_ALPHABET.len() as u8;
    // The largest multiple of 20 below 256: bytes at or above it are drawn again.
    let limit = u8::MAX - (u8::MAX % n);
    let mut code = String::with_capacity(USER_CODE_LEN);
    while code.len() < USER_CODE_LEN {
        for b in crate::crypto::random_bytes::<16>() {
            if b < limit && code.len() < USER_CODE_LEN {
                code.push(USER_CODE_ALPHABET[usize::from(b % n)] as char);
            }
        }
    }
    code
}

/// The code as typed, in its canonical form (upper case, no dashes or spaces); `None` when it
/// cannot be a user code of ours.
pub fn canonical_user_code(typed: &str) -> Option<String> {
    if typed.len() > 32 {
        return None;
    }
    let code: String = typed.chars().filter(|c| *c != '-' && !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b))).then_some(code)
}

/// `XXXX-XXXX`.
pub fn display_user_code(canonical: &str) -> String {
    let (a, b) = canonical.split_at(canonical.len() / 2);
    format!("{a}-{b}")
}

impl Provider<'_> {
    /// The device authorization endpoint: an authenticated client that may use the device grant
    /// asks for codes. The request is the event of `device.authorize`.
    pub async fn authorize_device(
        &self,
        tenant: &Tenant,
        client: &Application,
        params: &[(String, String)],
        ctx: &ClientContext,
    ) -> ProviderResult<DeviceAuthorization> {
        let result = self.try_authorize_device(tenant, client, params).await;
        let outcome = match &result {
            Ok(_) => "success",
            Err(super::ProviderError::OAuth(e)) => e.error,
            Err(super::ProviderError::Core(_)) => "error",
        };
        let detail = json!({"clientId": client.client_id});
        self.audit(Some(tenant.id), None, AuditAction::DeviceAuthorize, outcome, &ctx_with(ctx, client), detail).await;
        result
    }

    async fn try_authorize_device(
        &self,
        tenant: &Tenant,
        client: &Application,
        params: &[(String, String)],
    ) -> ProviderResult<DeviceAuthorization> {
        if !client.allows_grant(GrantType::DeviceCode) {
            return Err(oauth("unauthorized_client", "the client may not use the device authorization grant"));
        }
        let scope = super::request::single(params, "scope").map_err(|why| oauth("invalid_request", why))?;
        let scopes = super::request::allowed_scopes(client, scope.unwrap_or_default());
        let now = self.now();
        let device_code = crate::crypto::random_token();
        // A user code in use by a live authorization is drawn again: with 20^8 codes that is
        // rare, and three draws in a row all clashing is a fault worth reporting.
        for _ in 0..3 {
            let user_code = new_user_code();
            let grant = DeviceGrant {
                device_hash: self.master.mac(DEVICE_DOMAIN, device_code.as_bytes()),
                tenant_id: tenant.id,
                application_id: client.id,
                user_code_hash: self.master.mac(USER_CODE_DOMAIN, user_code.as_bytes()),
                scopes: scopes.clone(),
                status: DeviceStatus::Pending,
                user_id: None,
                session_id: None,
                data: json!({}),
                interval: DEVICE_INTERVAL,
                polled_at: None,
                slowed: false,
                expires_at: now + DEVICE_TTL,
                created_at: now,
            };
            match self.store.insert_device_grant(&grant, now).await {
                Ok(()) => {
                    let shown = display_user_code(&user_code);
                    let page = format!("{}/device", self.realm_issuer(tenant));
                    return Ok(DeviceAuthorization {
                        device_code,
                        verification_uri_complete: format!("{page}?user_code={shown}"),
                        verification_uri: page,
                        user_code: shown,
                        expires_in: DEVICE_TTL,
                        interval: DEVICE_INTERVAL,
                    });
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::internal("three user codes in a row were in use").into())
    }

    /// The device page's user code: the authorization request the sign-in and consent pages
    /// carry on with, if the code names a pending authorization of an active client. `None` for
    /// anything else (unknown, expired, already decided); each entry is the event of
    /// `device.verify`.
    pub async fn device_request(
        &self,
        tenant: &Tenant,
        typed: &str,
        ctx: &ClientContext,
    ) -> CoreResult<Option<(Application, AuthorizationRequest)>> {
        let found = self.find_device_request(tenant, typed).await?;
        let (outcome, detail) = match &found {
            Some((app, _)) => ("success", json!({"clientId": app.client_id})),
            None => ("failure", json!({})),
        };
        self.audit(Some(tenant.id), None, AuditAction::DeviceVerify, outcome, ctx, detail).await;
        Ok(found)
    }

    async fn find_device_request(&self, tenant: &Tenant, typed: &str) -> CoreResult<Option<(Application, AuthorizationRequest)>> {
        let Some(code) = canonical_user_code(typed) else { return Ok(None) };
        let hash = self.master.mac(USER_CODE_DOMAIN, code.as_bytes());
        let Some(grant) = self.store.device_grant_by_user_code(tenant.id, &hash).await? else { return Ok(None) };
        if grant.status != DeviceStatus::Pending || grant.expires_at <= self.now() {
            return Ok(None);
        }
        let Some(app) = self.store.application_by_id(tenant.id, grant.application_id).await?.filter(|a| a.active) else {
            return Ok(None);
        };
        let request = AuthorizationRequest {
            client_id: app.client_id.clone(),
            redirect_uri: String::new(),
            response_mode: ResponseMode::Query,
            scopes: grant.scopes.clone(),
            state: None,
            nonce: None,
            code_challenge: None,
            prompt: Prompt::default(),
            max_age: None,
            login_hint: None,
            hinted_subject: None,
            acr_values: None,
            claims: None,
            made_at: self.now(),
            signed_in_during: None,
            device: Some(DeviceRef {
                device_hash: crate::crypto::b64url(&grant.device_hash),
                user_code: display_user_code(&code),
            }),
        };
        Ok(Some((app, request)))
    }

    /// The user's decision on a device authorization, once signed in: the page that says so.
    pub(crate) async fn decide_device(
        &self,
        tenant: &Tenant,
        app: &Application,
        device: &DeviceRef,
        signed_in: Option<&SignedIn>,
        scopes: &[String],
        ctx: &ClientContext,
    ) -> CoreResult<Step> {
        let hash = crate::crypto::b64url_decode(&device.device_hash).ok_or(CoreError::InvalidToken)?;
        let now = self.now();
        let user = signed_in.map(|s| s.user.id);
        let decided = match signed_in {
            Some(s) => {
                let data = json!({"auth_time": s.auth_time(), "level": s.level, "scopes": scopes});
                let approve = DeviceDecision::Approve { user: s.user.id, session: &s.session.id, data: &data };
                self.store.decide_device_grant(tenant.id, &hash, approve, now).await?
            }
            None => self.store.decide_device_grant(tenant.id, &hash, DeviceDecision::Deny, now).await?,
        };
        let outcome = match (decided, signed_in.is_some()) {
            (false, _) => "expired",
            (true, true) => "approved",
            (true, false) => "denied",
        };
        let detail = json!({"clientId": app.client_id, "scope": scopes.join(" ")});
        self.audit(Some(tenant.id), user, AuditAction::DeviceDecide, outcome, ctx, detail).await;
        Ok(Step::DeviceDone { client_name: app.name.clone(), outcome })
    }

    /// The token endpoint's device code grant: `authorization_pending` and `slow_down` while the
    /// user has not decided, `access_denied`, `expired_token`, or the tokens, once.
    pub(crate) async fn exchange_device_code(
        &self,
        tenant: &Tenant,
        client: &Application,
        device_code: &str,
        jkt: Option<String>,
        user: &mut Option<UserId>,
    ) -> ProviderResult<TokenResponse> {
        let invalid = |why: &str| oauth("invalid_grant", why.to_string());
        if device_code.len() > 100 {
            return Err(invalid("unknown device_code"));
        }
        let hash = self.master.mac(DEVICE_DOMAIN, device_code.as_bytes());
        let now = self.now();
        let Some(grant) = self.store.poll_device_grant(tenant.id, &hash, now).await? else {
            return Err(invalid("unknown device_code"));
        };
        if grant.application_id != client.id {
            return Err(invalid("the device_code was issued to another client"));
        }
        *user = grant.user_id;
        if grant.expires_at <= now && grant.status != DeviceStatus::Redeemed {
            return Err(oauth("expired_token", "the device_code has expired; start again"));
        }
        match grant.status {
            DeviceStatus::Pending if grant.slowed => {
                return Err(oauth("slow_down", format!("poll at most every {} seconds", grant.interval)));
            }
            DeviceStatus::Pending => return Err(oauth("authorization_pending", "the user has not decided yet")),
            DeviceStatus::Denied => return Err(oauth("access_denied", "the user denied the request")),
            DeviceStatus::Redeemed => return Err(invalid("the device_code was already used")),
            DeviceStatus::Approved => {}
        }
        let (Some(user_id), Some(session_id)) = (grant.user_id, grant.session_id.clone()) else {
            return Err(invalid("unreadable device authorization"));
        };
        let session = match self.sessions().live_session(tenant, &session_id).await {
            Ok(s) => s,
            Err(CoreError::Unauthorized) => return Err(invalid("the sign-in that approved the device has ended")),
            Err(e) => return Err(e.into()),
        };
        let person = self.store.user_by_id(tenant.id, user_id).await?.filter(|u| u.active);
        let Some(person) = person else { return Err(invalid("the user is no longer active")) };
        if !self.store.redeem_device_grant(tenant.id, &hash, now).await? {
            return Err(invalid("the device_code was already used"));
        }
        let Some(mut granted) = Granted::from_value(&with_scopes(&grant.data, &grant.scopes)) else {
            return Err(invalid("unreadable device authorization"));
        };
        granted.jkt = jkt;
        self.track_logout_client(tenant, client, &session).await?;
        let refresh = if client.allows_grant(GrantType::RefreshToken) {
            let bound = ClientGrant { application_id: client.id, grant: granted.to_refresh_value(client) };
            Some(self.sessions().issue_refresh_token(tenant, &session, Some(bound)).await?)
        } else {
            None
        };
        self.session_tokens(tenant, client, &person, &session, &granted, refresh).await
    }
}

/// The approval's data with the scopes it was given for.
fn with_scopes(data: &Value, scopes: &[String]) -> Value {
    let mut v = data.clone();
    if let Some(map) = v.as_object_mut()
        && !map.contains_key("scopes")
    {
        map.insert("scopes".into(), json!(scopes));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_eight_consonants_and_read_back_however_typed() {
        for _ in 0..200 {
            let code = new_user_code();
            assert_eq!(code.len(), 8);
            assert!(code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)), "{code}");
            let shown = display_user_code(&code);
            assert_eq!(shown.len(), 9);
            assert_eq!(canonical_user_code(&shown).as_deref(), Some(code.as_str()));
            assert_eq!(canonical_user_code(&shown.to_lowercase()).as_deref(), Some(code.as_str()));
            assert_eq!(canonical_user_code(&format!(" {} {} ", &code[..4], &code[4..])).as_deref(), Some(code.as_str()));
        }
        for wrong in ["", "BCDF-GHJ", "BCDF-GHJKL", "BCDF-GHJ0", "ABCD-EFGH", "BCDF-GHJ\u{e9}"] {
            assert_eq!(canonical_user_code(wrong), None, "{wrong}");
        }
    }

    #[test]
    fn user_codes_use_the_whole_alphabet_evenly() {
        let mut counts = [0u32; 20];
        for _ in 0..2000 {
            for b in new_user_code().bytes() {
                if let Some(i) = USER_CODE_ALPHABET.iter().position(|a| *a == b) {
                    counts[i] += 1;
                }
            }
        }
        // 16,000 draws: 800 expected per letter; a bias would show far outside this band.
        assert!(counts.iter().all(|c| (600..1000).contains(c)), "{counts:?}");
    }
}
