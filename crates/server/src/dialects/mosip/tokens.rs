//! MOSIP's tokens: Keycloak-shaped claims, the `Authorization=Mosip-Token<JWT>` cookie, and the
//! way a presented token is found (cookie first, then a Bearer header) and located.

use axum::http::{HeaderMap, HeaderValue, header};
use castellan_core::model::{Application, Session, User};
use castellan_core::services::access_tokens::{AccessClaims, AccessGrant, Locator, TokenProfile};
use castellan_core::services::keys::ASYMMETRIC;
use serde_json::{Value, json};

use super::DIALECT;
use super::envelope::{MosipError, MosipResult};
use crate::state::AppState;

/// The cookie MOSIP clients send back.
const COOKIE: &str = "Authorization";
const COOKIE_PREFIX: &str = "Mosip-Token";
const REFRESH_COOKIE: &str = "refresh_token";

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

/// MOSIP's tokens, Keycloak-shaped: asymmetric, `nbf`, no tenant claim (the realm is in `iss`),
/// `typ: Bearer`; a service account's token has no session and names its client in `clientId`.
pub const PROFILE: TokenProfile = TokenProfile {
    dialect: DIALECT,
    algs: ASYMMETRIC,
    typ: "JWT",
    tenant_claim: None,
    not_before: true,
    audience_list: false,
    fixed: &[("typ", "Bearer"), ("acr", "1"), ("scope", "email profile")],
    client_claim: Some("clientId"),
    realm_issuer: false,
};

/// Keycloak's audience for account tokens.
const AUDIENCE: &str = "account";

/// Where a presented token's realm is found: the last path segment of its `iss`, as Keycloak
/// writes it.
pub const LOCATOR: Locator<'static> = Locator::IssuerPath { after: "/realms/", audience: AUDIENCE };

/// A user's access token, for the client `azp`.
pub fn user_grant(user: &User, session: &Session, azp: &str) -> AccessGrant {
    let extra = json!({
        "azp": azp,
        "session_state": session.id,
        "realm_access": { "roles": user.roles },
        "email_verified": user.email_verified,
        "name": display_name(user),
        "preferred_username": preferred_username(user),
        "given_name": user.first_name,
        "family_name": user.last_name,
        "email": user.email,
        "phone_number": user.phone,
    });
    let extra = match extra {
        Value::Object(map) => Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    };
    AccessGrant::for_session(session, AUDIENCE, extra)
}

/// A service account's access token (client credentials): no session, so it is ended by its `jti`.
pub fn service_grant(app: &Application, client_ip: &str) -> AccessGrant {
    let subject = format!("service-account-{}", app.client_id);
    let extra = json!({
        "azp": app.client_id,
        "realm_access": { "roles": app.roles },
        "clientId": app.client_id,
        "clientHost": client_ip,
        "clientAddress": client_ip,
        "email_verified": false,
        "preferred_username": subject,
    });
    AccessGrant::for_client(subject, AUDIENCE, extra)
}

/// The realm roles of verified claims.
pub fn roles(claims: &AccessClaims) -> Vec<&str> {
    claims
        .extra
        .get("realm_access")
        .and_then(|r| r.get("roles"))
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
