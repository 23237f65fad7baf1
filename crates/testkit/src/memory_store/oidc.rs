//! OpenID Connect: authorization codes and remembered consents.

use super::*;
use castellan_core::store::{AuthorizationStore, DeviceDecision};

/// As the SQL store: spent and expired codes are kept an hour, to recognise a replay.
const CODE_KEPT_SECONDS: i64 = 3600;

#[async_trait]
impl AuthorizationStore for MemoryStore {
    async fn insert_authorization_code(&self, c: &AuthorizationCode, now: i64) -> StoreResult<()> {
        text(c.session_id.as_str())?;
        let mut s = self.state();
        s.oidc_codes.retain(|k| k.expires_at >= now - CODE_KEPT_SECONDS);
        unique(&[(s.oidc_codes.iter().any(|k| k.code_hash == c.code_hash), ConflictOn::Other)])?;
        s.require_tenant(c.tenant_id)?;
        s.require_application(c.application_id)?;
        s.require_user(c.user_id)?;
        s.oidc_codes.push(c.clone());
        Ok(())
    }

    async fn authorization_code(&self, tenant: TenantId, code_hash: &[u8]) -> StoreResult<Option<AuthorizationCode>> {
        let s = self.state();
        Ok(s.oidc_codes.iter().find(|c| c.tenant_id == tenant && c.code_hash == code_hash).cloned())
    }

    async fn redeem_authorization_code(&self, tenant: TenantId, code_hash: &[u8], now: i64) -> StoreResult<bool> {
        let mut s = self.state();
        let found = s
            .oidc_codes
            .iter_mut()
            .find(|c| c.tenant_id == tenant && c.code_hash == code_hash && c.used_at.is_none() && c.expires_at > now);
        Ok(match found {
            Some(c) => {
                c.used_at = Some(now);
                true
            }
            None => false,
        })
    }

    async fn upsert_consent(&self, g: &ConsentGrant) -> StoreResult<()> {
        let mut s = self.state();
        s.require_tenant(g.tenant_id)?;
        s.require_user(g.user_id)?;
        s.require_application(g.application_id)?;
        let same =
            |c: &ConsentGrant| c.tenant_id == g.tenant_id && c.user_id == g.user_id && c.application_id == g.application_id;
        match s.oidc_consents.iter_mut().find(|c| same(c)) {
            Some(c) => {
                c.scopes = g.scopes.clone();
                c.updated_at = g.updated_at;
            }
            None => s.oidc_consents.push(g.clone()),
        }
        Ok(())
    }

    async fn consent(&self, tenant: TenantId, user: UserId, app: AppId) -> StoreResult<Option<ConsentGrant>> {
        let s = self.state();
        Ok(s.oidc_consents.iter().find(|c| c.tenant_id == tenant && c.user_id == user && c.application_id == app).cloned())
    }

    async fn list_consents(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<ConsentGrant>> {
        let s = self.state();
        let mut list: Vec<ConsentGrant> =
            s.oidc_consents.iter().filter(|c| c.tenant_id == tenant && c.user_id == user).cloned().collect();
        list.sort_by_key(|c| (c.created_at, c.application_id.to_string()));
        Ok(list)
    }

    async fn delete_consent(&self, tenant: TenantId, user: UserId, app: AppId) -> StoreResult<bool> {
        let mut s = self.state();
        let before = s.oidc_consents.len();
        s.oidc_consents.retain(|c| !(c.tenant_id == tenant && c.user_id == user && c.application_id == app));
        Ok(s.oidc_consents.len() != before)
    }

    async fn insert_device_grant(&self, g: &DeviceGrant, now: i64) -> StoreResult<()> {
        let mut s = self.state();
        s.device_grants.retain(|d| d.expires_at >= now - CODE_KEPT_SECONDS);
        let clash = |d: &DeviceGrant| d.tenant_id == g.tenant_id && d.user_code_hash == g.user_code_hash;
        unique(&[
            (s.device_grants.iter().any(|d| d.device_hash == g.device_hash), ConflictOn::Other),
            (s.device_grants.iter().any(clash), ConflictOn::Other),
        ])?;
        s.require_tenant(g.tenant_id)?;
        s.require_application(g.application_id)?;
        s.device_grants.push(g.clone());
        Ok(())
    }

    async fn device_grant_by_user_code(&self, tenant: TenantId, user_code_hash: &[u8]) -> StoreResult<Option<DeviceGrant>> {
        let s = self.state();
        Ok(s.device_grants.iter().find(|d| d.tenant_id == tenant && d.user_code_hash == user_code_hash).cloned())
    }

    async fn decide_device_grant(
        &self,
        tenant: TenantId,
        device_hash: &[u8],
        decision: DeviceDecision<'_>,
        now: i64,
    ) -> StoreResult<bool> {
        let mut s = self.state();
        if let DeviceDecision::Approve { user, .. } = decision {
            s.require_user(user)?;
        }
        let Some(d) = s.device_grants.iter_mut().find(|d| {
            d.tenant_id == tenant && d.device_hash == device_hash && d.status == DeviceStatus::Pending && d.expires_at > now
        }) else {
            return Ok(false);
        };
        match decision {
            DeviceDecision::Approve { user, session, data } => {
                d.status = DeviceStatus::Approved;
                d.user_id = Some(user);
                d.session_id = Some(session.clone());
                d.data = data.clone();
            }
            DeviceDecision::Deny => d.status = DeviceStatus::Denied,
        }
        Ok(true)
    }

    async fn poll_device_grant(&self, tenant: TenantId, device_hash: &[u8], now: i64) -> StoreResult<Option<DeviceGrant>> {
        let mut s = self.state();
        let Some(d) = s.device_grants.iter_mut().find(|d| d.tenant_id == tenant && d.device_hash == device_hash) else {
            return Ok(None);
        };
        d.slowed = d.polled_at.is_some_and(|at| now < at + d.interval);
        if d.slowed {
            d.interval += 5;
        }
        d.polled_at = Some(now);
        Ok(Some(d.clone()))
    }

    async fn redeem_device_grant(&self, tenant: TenantId, device_hash: &[u8], now: i64) -> StoreResult<bool> {
        let mut s = self.state();
        let found = s.device_grants.iter_mut().find(|d| {
            d.tenant_id == tenant && d.device_hash == device_hash && d.status == DeviceStatus::Approved && d.expires_at > now
        });
        Ok(match found {
            Some(d) => {
                d.status = DeviceStatus::Redeemed;
                true
            }
            None => false,
        })
    }

    async fn insert_pushed_request(&self, r: &PushedRequest, now: i64) -> StoreResult<()> {
        let mut s = self.state();
        s.pushed_requests.retain(|p| p.expires_at >= now - CODE_KEPT_SECONDS);
        unique(&[(s.pushed_requests.iter().any(|p| p.request_hash == r.request_hash), ConflictOn::Other)])?;
        s.require_tenant(r.tenant_id)?;
        s.require_application(r.application_id)?;
        s.pushed_requests.push(r.clone());
        Ok(())
    }

    async fn take_pushed_request(
        &self,
        tenant: TenantId,
        app: AppId,
        request_hash: &[u8],
        now: i64,
    ) -> StoreResult<Option<PushedRequest>> {
        let mut s = self.state();
        let found = s.pushed_requests.iter_mut().find(|p| {
            p.tenant_id == tenant
                && p.application_id == app
                && p.request_hash == request_hash
                && p.used_at.is_none()
                && p.expires_at > now
        });
        Ok(found.map(|p| {
            p.used_at = Some(now);
            p.clone()
        }))
    }

    async fn first_sight_of_jti(&self, tenant: TenantId, jti_hash: &[u8], expires_at: i64, now: i64) -> StoreResult<bool> {
        let mut s = self.state();
        s.seen_jtis.retain(|_, at| *at >= now);
        s.require_tenant(tenant)?;
        if s.seen_jtis.contains_key(&(tenant, jti_hash.to_vec())) {
            return Ok(false);
        }
        s.seen_jtis.insert((tenant, jti_hash.to_vec()), expires_at);
        Ok(true)
    }

    async fn track_session_client(&self, tenant: TenantId, c: &SessionClient, _now: i64) -> StoreResult<()> {
        let mut s = self.state();
        s.require_tenant(tenant)?;
        s.require_session(&c.session_id)?;
        s.require_application(c.application_id)?;
        let known = s.session_clients.iter().any(|(_, x)| x.session_id == c.session_id && x.application_id == c.application_id);
        if !known {
            s.session_clients.push((tenant, c.clone()));
        }
        Ok(())
    }

    async fn take_session_clients(
        &self,
        tenant: TenantId,
        user: UserId,
        session: Option<&SessionId>,
    ) -> StoreResult<Vec<SessionClient>> {
        let mut s = self.state();
        let taken = |(t, c): &(TenantId, SessionClient)| {
            *t == tenant && c.user_id == user && session.is_none_or(|id| *id == c.session_id)
        };
        let out = s.session_clients.iter().filter(|x| taken(x)).map(|(_, c)| c.clone()).collect();
        s.session_clients.retain(|x| !taken(x));
        Ok(out)
    }

    async fn insert_registration_token(&self, t: &RegistrationToken) -> StoreResult<()> {
        let mut s = self.state();
        s.require_tenant(t.tenant_id)?;
        if let Some(app) = t.application_id {
            s.require_application(app)?;
            s.registration_tokens.retain(|r| r.application_id != Some(app));
        }
        unique(&[(s.registration_tokens.iter().any(|r| r.token_hash == t.token_hash), ConflictOn::Other)])?;
        s.registration_tokens.push(t.clone());
        Ok(())
    }

    async fn spend_initial_access_token(&self, tenant: TenantId, token_hash: &[u8], now: i64) -> StoreResult<bool> {
        let mut s = self.state();
        let found = s.registration_tokens.iter_mut().find(|r| {
            r.tenant_id == tenant
                && r.token_hash == token_hash
                && r.application_id.is_none()
                && r.uses_left.is_some_and(|n| n > 0)
                && r.expires_at.is_some_and(|at| at > now)
        });
        Ok(found.map(|r| r.uses_left = r.uses_left.map(|n| n - 1)).is_some())
    }

    async fn client_of_registration_token(&self, tenant: TenantId, token_hash: &[u8]) -> StoreResult<Option<AppId>> {
        let s = self.state();
        Ok(s.registration_tokens
            .iter()
            .find(|r| r.tenant_id == tenant && r.token_hash == token_hash)
            .and_then(|r| r.application_id))
    }
}
