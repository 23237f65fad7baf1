//! MOSIP's tokens: Keycloak-shaped claims, the `Authorization=Mosip-Token<JWT>` cookie, and the
//! way a presented token is found (cookie first, then a Bearer header) and checked.

use axum::http::{HeaderMap, HeaderValue, header};
use castellan_core::crypto::jwt::peek_claims;
use castellan_core::model::{Application, ApplicationKind, Session, Tenant, User};
use castellan_core::services::keys::{ASYMMETRIC, TokenRules};
use serde_json::{Value, json};

use super::DIALECT;
use super::envelope::{MosipError, MosipResult};
use crate::state::AppState;

/// The cookie MOSIP clients send back.
const COOKIE: &str = "Authorization";
const COOKIE_PREFIX: &str = "Mosip-Token";
const REFRESH_COOKIE: &str = "refresh_token";

pub const RULES: TokenRules<'static> = TokenRules { algs: ASYMMETRIC, typ: "JWT", audience: "account" };

/// The presented access token: the `Authorization` cookie (any case, with or without the
/// `Mosip-Token` prefix), else an `Authorization: Bearer` header. `KER-ATH-006` when neither.
pub fn presented_token(headers: &HeaderMap) -> MosipResult<&str> {
    let from_cookie = cookie(headers, COOKIE).map(|v| match v.get(..COOKIE_PREFIX.len()) {
        Some(p) if p.eq_ignore_ascii_case(COOKIE_PREFIX) => v[COOKIE_PREFIX.len()..].trim(),
        _ => v,
    });
    from_cookie.filter(|t| !t.is_empty()).or_else(|| crate::dialects::bearer(headers)).ok_or_else(MosipError::cookies_empty)
}

/// The value of a request cookie, by case-insensitive name.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().trim_matches('"'))
}

/// `Wed, 08 May 2019 19:59:43 GMT`.
fn http_date(epoch: i64) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT");
    time::OffsetDateTime::from_unix_timestamp(epoch).ok().and_then(|t| t.format(FORMAT).ok()).unwrap_or_default()
}

fn set_cookie(state: &AppState, name: &str, value: &str, path: &str, max_age: i64) -> Option<HeaderValue> {
    let expires = http_date(state.core.now() + max_age);
    let secure = if state.settings.mosip_cookie_secure { "; Secure" } else { "" };
    let same_site = match state.settings.mosip_cookie_same_site.to_ascii_lowercase().as_str() {
        "strict" => "Strict",
        // SameSite=None is only honoured with Secure.
        "none" if state.settings.mosip_cookie_secure => "None",
        _ => "Lax",
    };
    let text =
        format!("{name}={value}; Max-Age={max_age}; Expires={expires}; Path={path}{secure}; HttpOnly; SameSite={same_site}");
    HeaderValue::from_str(&text).ok()
}

/// The headers of a successful authentication: `Authorization: <JWT>` and the cookie.
pub fn token_headers(state: &AppState, token: &str, ttl: i64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(token) {
        headers.insert(header::AUTHORIZATION, v);
    }
    if let Some(c) = set_cookie(state, COOKIE, &format!("{COOKIE_PREFIX}{token}"), "/", ttl) {
        headers.append(header::SET_COOKIE, c);
    }
    headers
}

/// Adds the refresh cookie, scoped to the refresh endpoint.
pub fn add_refresh_cookie(state: &AppState, headers: &mut HeaderMap, token: &str, ttl: i64) {
    let path = format!("{}/authorize/refreshToken", state.settings.mosip_authmanager_prefix());
    if let Some(c) = set_cookie(state, REFRESH_COOKIE, token, &path, ttl) {
        headers.append(header::SET_COOKIE, c);
    }
}

/// `Set-Cookie`s that remove the token and refresh cookies (same attributes, `Max-Age=0`).
pub fn clear_cookies(state: &AppState) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let refresh_path = format!("{}/authorize/refreshToken", state.settings.mosip_authmanager_prefix());
    for (name, path) in [(COOKIE, "/"), (REFRESH_COOKIE, refresh_path.as_str())] {
        if let Some(c) = set_cookie(state, name, "", path, 0) {
            headers.append(header::SET_COOKIE, c);
        }
    }
    headers
}

pub fn refresh_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, REFRESH_COOKIE).filter(|t| !t.is_empty())
}

/// First and last name, else the username, else the email.
pub fn display_name(u: &User) -> String {
    u.full_name().unwrap_or_else(|| preferred_username(u))
}

/// Keycloak's `preferred_username`: the username, else the UIN, else the email.
pub fn preferred_username(u: &User) -> String {
    u.username.clone().or_else(|| u.attribute_str("uin").map(str::to_string)).or_else(|| u.email.clone()).unwrap_or_default()
}

fn common_claims(tenant: &Tenant, now: i64, ttl: i64, azp: &str) -> serde_json::Map<String, Value> {
    let Value::Object(map) = json!({
        "jti": castellan_core::model::new_id(),
        "exp": now + ttl,
        "nbf": now,
        "iat": now,
        "iss": tenant.issuer,
        "aud": "account",
        "typ": "Bearer",
        "azp": azp,
        "acr": "1",
        "scope": "email profile",
    }) else {
        return serde_json::Map::new();
    };
    map
}

/// A user's access token claims.
pub fn user_claims(tenant: &Tenant, user: &User, session: &Session, azp: &str, now: i64) -> Value {
    let mut claims = common_claims(tenant, now, tenant.policy.tokens.access_ttl_seconds, azp);
    let extra = json!({
        "sub": user.id,
        "session_state": session.id,
        "sid": session.id,
        "realm_access": { "roles": user.roles },
        "email_verified": user.email_verified,
        "name": display_name(user),
        "preferred_username": preferred_username(user),
        "given_name": user.first_name,
        "family_name": user.last_name,
        "email": user.email,
        "phone_number": user.phone,
    });
    if let Value::Object(extra) = extra {
        claims.extend(extra.into_iter().filter(|(_, v)| !v.is_null()));
    }
    Value::Object(claims)
}

/// A service account's access token claims (client credentials): no session, so it is ended by
/// its `jti`.
pub fn service_claims(tenant: &Tenant, app: &Application, client_ip: &str, now: i64) -> Value {
    let mut claims = common_claims(tenant, now, tenant.policy.tokens.access_ttl_seconds, &app.client_id);
    let extra = json!({
        "sub": format!("service-account-{}", app.client_id),
        "realm_access": { "roles": app.roles },
        "clientId": app.client_id,
        "clientHost": client_ip,
        "clientAddress": client_ip,
        "email_verified": false,
        "preferred_username": format!("service-account-{}", app.client_id),
    });
    if let Value::Object(extra) = extra {
        claims.extend(extra);
    }
    Value::Object(claims)
}

/// The realm a token claims to come from: the last path segment of `iss` after `/realms/`.
/// Nothing is trusted before the token verifies against that realm's keys and issuer.
async fn claimed_realm(state: &AppState, token: &str) -> MosipResult<Tenant> {
    let iss = peek_claims(token).and_then(|c| c.get("iss").and_then(Value::as_str).map(str::to_string));
    let slug = iss.as_deref().and_then(|i| i.rsplit_once("/realms/")).map(|(_, s)| s.to_string());
    let slug = slug.filter(|s| !s.is_empty() && s.len() <= 63 && !s.contains('/')).ok_or_else(MosipError::invalid_token)?;
    let tenant = state.core.find_tenant(&slug).await.map_err(|_| MosipError::invalid_token())?;
    if !tenant.serves(DIALECT) {
        return Err(MosipError::invalid_token());
    }
    Ok(tenant)
}

/// A verified, live token: its realm, its claims, and for a service account's token the client
/// as it is now.
pub struct Presented {
    pub tenant: Tenant,
    pub claims: Value,
    pub client: Option<Application>,
}

/// Verifies a presented token: signature by its realm's key, issuer, audience, expiry, and that
/// it was not ended (session alive, or `jti` not denied).
pub async fn check(state: &AppState, token: &str) -> MosipResult<Presented> {
    let tenant = claimed_realm(state, token).await?;
    let (claims, session) = state.core.check_access_token(&tenant, token, RULES).await.map_err(|e| match e {
        e @ (castellan_core::CoreError::Storage(_) | castellan_core::CoreError::Internal(_)) => MosipError::from(e),
        _ => MosipError::invalid_token(),
    })?;
    if claims.get("typ").and_then(Value::as_str) != Some("Bearer") {
        return Err(MosipError::invalid_token());
    }
    // A service account's token is only as good as its client: deactivating the client ends it.
    let client = match (&session, claims.get("clientId").and_then(Value::as_str)) {
        (Some(_), _) => None,
        (None, Some(client_id)) => {
            let app = state.core.get_application(&tenant, client_id).await.ok();
            let app = app.filter(|a| a.active && a.kind != ApplicationKind::Public).ok_or_else(MosipError::invalid_token)?;
            Some(app)
        }
        (None, None) => return Err(MosipError::invalid_token()),
    };
    Ok(Presented { tenant, claims, client })
}

/// The realm roles of verified claims.
pub fn roles(claims: &Value) -> Vec<&str> {
    claims
        .pointer("/realm_access/roles")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_any_case_with_or_without_the_prefix() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; authorization=Mosip-Tokenabc.def.ghi; b=2"));
        assert_eq!(presented_token(&h).ok(), Some("abc.def.ghi"));
        h.insert(header::COOKIE, HeaderValue::from_static("AUTHORIZATION=abc.def.ghi"));
        assert_eq!(presented_token(&h).ok(), Some("abc.def.ghi"));
        h.insert(header::COOKIE, HeaderValue::from_static("Authorization="));
        assert_eq!(presented_token(&h).err().map(|e| e.code()), Some("KER-ATH-006"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x.y.z"));
        assert_eq!(presented_token(&h).ok(), Some("x.y.z"));
    }

    #[test]
    fn http_dates_are_imf_fixdate() {
        assert_eq!(http_date(1557345583), "Wed, 08 May 2019 19:59:43 GMT");
    }
}
