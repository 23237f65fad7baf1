//! OpenID Connect and OAuth 2.1: the authorization code flow with PKCE, the sign-in session it
//! runs in, consent, the token endpoint's grants, ID tokens, UserInfo, introspection,
//! revocation and logout. The dialect parses HTTP and renders pages; every rule is here.
//!
//! A browser's sign-in is one Castellan session (`Dialect::Oidc`, no application): the SSO
//! session. Codes are issued in it, and every token a client gets from a code or a refresh
//! belongs to it (`sid`), so signing out, an admin's revocation or a reused code ends all of
//! them at once. Refresh tokens are bound to the client they were issued to and carry what was
//! granted (scopes, authentication time and level).

mod backchannel;
mod claims;
mod client_keys;
mod device;
mod discovery;
mod dpop;
mod exchange;
mod flow;
mod grants;
mod pushed;
mod registration;
mod request;
mod resource;

pub use backchannel::{LOGOUT_EVENT, LOGOUT_TOKEN_TYP};
pub use claims::{preferred_username, scope_claims, userinfo_claims};
pub(crate) use client_keys::JWKS_CACHE;
pub use client_keys::{CLIENT_SIGNING_ALGS, check_client_jwks};
pub use device::{DEVICE_INTERVAL, DEVICE_TTL, DeviceAuthorization, canonical_user_code};
pub use dpop::{DpopRefusal, DpopRequest, PROOF_WINDOW, thumbprint};
pub use flow::{ACCOUNT_CLIENT, Progress, SignedIn, Step, acr, level};
pub use grants::{ClientAuth, TokenResponse};
pub use pushed::{PAR_TTL, Pushed, REQUEST_URI_PREFIX};
pub use registration::{INITIAL_TOKEN_MAX_SECONDS, InitialAccessToken, RegisteredClient, client_metadata};
pub use request::redirect_registered;
pub use request::{AuthorizationRequest, DeviceRef, Prompt, Rejected, ResponseMode, SendBack};
pub use resource::{LogoutRequest, LogoutStep, TokenScheme, UserinfoError};

use super::access_tokens::TokenProfile;
use crate::core::Core;
use crate::error::CoreError;
use crate::model::{Dialect, KeyAlg};

/// RFC 9068 access tokens, signed with the tenant's asymmetric key; `client_id` names the client
/// of a token without a session (client credentials).
pub const ACCESS_PROFILE: TokenProfile = TokenProfile {
    dialect: Dialect::Oidc,
    algs: SIGNING_ALGS,
    typ: "at+jwt",
    tenant_claim: None,
    not_before: false,
    audience_list: false,
    fixed: &[],
    client_claim: Some("client_id"),
    realm_issuer: true,
};

/// What ID and access tokens are signed with; a tenant without such a key gets an RS256 one
/// (what every relying party verifies).
pub const SIGNING_ALGS: &[KeyAlg] = &[KeyAlg::RS256, KeyAlg::ES256, KeyAlg::EdDSA];

/// Authorization codes live this long (seconds).
pub const CODE_TTL: i64 = 60;
/// A request kept across the sign-in pages expires after this long (seconds).
const REQUEST_TTL: i64 = 1800;

const CODE_DOMAIN: &str = "authorization-code";
const SSO_DOMAIN: &str = "sso-cookie";
const CSRF_DOMAIN: &str = "sso-csrf";

/// An OAuth error: its RFC 6749 code and a description for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError { error, description: description.into() }
    }
}

/// A refusal of the OpenID Connect service: a protocol error the client is told as it is, or a
/// core error the dialect maps (a locked account, a storage failure).
#[derive(Debug)]
pub enum ProviderError {
    OAuth(OAuthError),
    Core(CoreError),
}

impl From<CoreError> for ProviderError {
    fn from(e: CoreError) -> Self {
        ProviderError::Core(e)
    }
}

impl From<crate::store::StoreError> for ProviderError {
    fn from(e: crate::store::StoreError) -> Self {
        ProviderError::Core(e.into())
    }
}

impl From<OAuthError> for ProviderError {
    fn from(e: OAuthError) -> Self {
        ProviderError::OAuth(e)
    }
}

pub type ProviderResult<T> = Result<T, ProviderError>;

fn oauth(error: &'static str, description: impl Into<String>) -> ProviderError {
    ProviderError::OAuth(OAuthError::new(error, description))
}

/// The OpenID Connect provider: `core.provider()`.
pub struct Provider<'a>(&'a Core);

impl Core {
    pub fn provider(&self) -> Provider<'_> {
        Provider(self)
    }
}

impl std::ops::Deref for Provider<'_> {
    type Target = Core;
    fn deref(&self) -> &Core {
        self.0
    }
}
