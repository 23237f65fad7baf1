//! OpenID Connect: what an application needs to be a client, the authorization codes issued to
//! it, and the grants users remember for it.

use serde::{Deserialize, Serialize};

use super::ids::{AppId, SessionId, TenantId, UserId};

/// An OAuth grant type, by its RFC 7591 name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum GrantType {
    #[serde(rename = "authorization_code")]
    AuthorizationCode,
    #[serde(rename = "refresh_token")]
    RefreshToken,
    #[serde(rename = "client_credentials")]
    ClientCredentials,
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
    #[serde(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
}

impl GrantType {
    pub const ALL: &'static [GrantType] = &[
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
        GrantType::DeviceCode,
        GrantType::TokenExchange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
            GrantType::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
        }
    }

    pub fn parse(s: &str) -> Option<GrantType> {
        Self::ALL.iter().copied().find(|g| g.as_str() == s)
    }
}

/// How a client authenticates at the token endpoint (RFC 7591 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// An HMAC-signed assertion (RFC 7523) keyed with the client secret, kept sealed for it.
    ClientSecretJwt,
    PrivateKeyJwt,
    None,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::ClientSecretJwt => "client_secret_jwt",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<AuthMethod> {
        [
            AuthMethod::ClientSecretBasic,
            AuthMethod::ClientSecretPost,
            AuthMethod::ClientSecretJwt,
            AuthMethod::PrivateKeyJwt,
            AuthMethod::None,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// The scopes this server knows; a client may be limited to some of them.
pub const KNOWN_SCOPES: &[&str] = &["openid", "profile", "email", "phone", "offline_access"];

/// An application's settings as an OpenID Connect client. Every field has a default, so an
/// application made before this dialect existed is a client with the defaults of its kind.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OAuthClient {
    /// Where a logout may send the browser back to (exact match).
    pub post_logout_redirect_uris: Vec<String>,
    /// Empty: the defaults of the application's kind (see `grant_types_of`).
    pub grant_types: Vec<GrantType>,
    /// The scopes the client may be granted; empty: every known scope.
    pub scopes: Vec<String>,
    /// `None`: `client_secret_basic` for clients with a secret, `none` for public ones.
    pub token_endpoint_auth_method: Option<AuthMethod>,
    /// A first-party client's users are never asked for consent.
    pub first_party: bool,
    /// PKCE even for a confidential client (public clients always need it).
    pub require_pkce: bool,
    /// The `aud` of its access tokens; `None`: the client id.
    pub access_token_audience: Option<String>,
    /// May introspect tokens issued to other clients of the tenant.
    pub introspect_any: bool,
    pub backchannel_logout_uri: Option<String>,
    pub require_par: bool,
    pub dpop_bound: bool,
    /// The client's public keys (a JWK set), for `private_key_jwt`: given inline…
    pub jwks: Option<serde_json::Value>,
    /// …or fetched from here (the callbacks' address rules), cached.
    pub jwks_uri: Option<String>,
    /// Token exchange (RFC 8693): the audiences, besides its own, it may get tokens for.
    pub exchange_audiences: Vec<String>,
    /// Token exchange: it may act for the subject (delegation, an `act` claim), not only
    /// impersonate it.
    pub exchange_delegation: bool,
}

/// A stored authorization code: single use, short-lived, bound to everything the request said.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizationCode {
    /// HMAC of the code under the master key; the code itself is never stored.
    pub code_hash: Vec<u8>,
    pub tenant_id: TenantId,
    pub application_id: AppId,
    pub user_id: UserId,
    /// The signed-in session the code was issued in; its tokens belong to it.
    pub session_id: SessionId,
    /// What was asked and granted (redirect URI, PKCE challenge, nonce, scope, auth time, acr,
    /// amr, requested claims), as the OIDC service wrote it.
    pub data: serde_json::Value,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub created_at: i64,
}

/// A consent a user gave a client: the scopes it may have without asking again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentGrant {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub application_id: AppId,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Where a device authorization stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Waiting for the user to enter the user code and decide.
    Pending,
    Approved,
    Denied,
    /// Approved, and the device has had its tokens.
    Redeemed,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Approved => "approved",
            DeviceStatus::Denied => "denied",
            DeviceStatus::Redeemed => "redeemed",
        }
    }

    pub fn parse(s: &str) -> Option<DeviceStatus> {
        [DeviceStatus::Pending, DeviceStatus::Approved, DeviceStatus::Denied, DeviceStatus::Redeemed]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// A device authorization (RFC 8628): the device polls with its device code while the user
/// approves or denies it in a browser with the user code. Both codes are stored as HMACs.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceGrant {
    pub device_hash: Vec<u8>,
    pub tenant_id: TenantId,
    pub application_id: AppId,
    pub user_code_hash: Vec<u8>,
    /// The scopes asked for that the client may have.
    pub scopes: Vec<String>,
    pub status: DeviceStatus,
    /// Who approved it, and in which sign-in (the session its tokens belong to).
    pub user_id: Option<UserId>,
    pub session_id: Option<SessionId>,
    /// What was granted with the approval (auth time, level); `{}` before.
    pub data: serde_json::Value,
    /// Seconds the device must wait between polls; grows by 5 each time it polls sooner.
    pub interval: i64,
    pub polled_at: Option<i64>,
    /// Whether the last poll came sooner than the interval allowed (and grew it).
    pub slowed: bool,
    pub expires_at: i64,
    pub created_at: i64,
}

/// A pushed authorization request (RFC 9126): the parameters a client sent to the PAR
/// endpoint, redeemed once, by that client, through the `request_uri` it was given.
#[derive(Debug, Clone, PartialEq)]
pub struct PushedRequest {
    /// HMAC of the `request_uri`'s random part.
    pub request_hash: Vec<u8>,
    pub tenant_id: TenantId,
    pub application_id: AppId,
    pub params: Vec<(String, String)>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub created_at: i64,
}

/// A client given tokens in an OpenID Connect sign-in session that wants to hear of its end
/// (back-channel logout).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionClient {
    pub session_id: SessionId,
    pub application_id: AppId,
    pub user_id: UserId,
}

/// A token of dynamic client registration (RFC 7591/7592), kept as its HMAC: an initial access
/// token (no application; `uses_left` and `expires_at` set) or a client's registration access
/// token (its application).
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrationToken {
    pub token_hash: Vec<u8>,
    pub tenant_id: TenantId,
    pub application_id: Option<AppId>,
    pub uses_left: Option<u32>,
    pub expires_at: Option<i64>,
    pub created_at: i64,
}
