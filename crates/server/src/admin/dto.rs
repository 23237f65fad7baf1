//! Admin request bodies.

use std::collections::BTreeMap;

use castellan_core::model::{ApplicationKind, AuthMethod, Dialect, GrantType, OAuthClient};
use castellan_core::services::applications::{ApplicationPatch, NewApplication, OAuthPatch};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::schemas::{AdminAuthMethod, AdminGrantType, AdminScope};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    pub slug: String,
    pub display_name: String,
    pub profile: Option<String>,
    pub dialects: Option<Vec<String>>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTenant {
    pub display_name: Option<String>,
    pub dialects: Option<Vec<String>>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApplication {
    pub name: String,
    pub kind: String,
    pub client_id: Option<String>,
    pub kumusoft_tag: Option<String>,
    pub mosip_app_id: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub allowed_ips: Vec<String>,
    pub callback_url: Option<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Refuse OTP requests naming more than one channel (MOSIP `AUTH_ERR_MULTIPLE_CHANNELS`).
    #[serde(default)]
    pub single_otp_channel: bool,
    /// eauthenticator: the hosted page offers the user's passkeys and security keys beside the code.
    #[serde(default)]
    pub hosted_webauthn: bool,
    pub active: Option<bool>,
    /// OpenID Connect: where a logout may send the browser back to (exact match; https, or http to
    /// this machine).
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// OpenID Connect grant types (RFC 7591 names); empty: the kind's defaults.
    #[serde(default)]
    #[schema(value_type = Vec<AdminGrantType>)]
    pub grant_types: Vec<GrantType>,
    /// OpenID Connect scopes the client may be granted; empty: all.
    #[serde(default)]
    #[schema(value_type = Vec<AdminScope>)]
    pub scopes: Vec<String>,
    /// `client_secret_basic` (default with a secret), `client_secret_post`, `client_secret_jwt`,
    /// `private_key_jwt` (with `jwks` or `jwks_uri`), `none` (public).
    #[schema(value_type = Option<AdminAuthMethod>)]
    pub token_endpoint_auth_method: Option<AuthMethod>,
    /// No consent page for this client's users.
    #[serde(default)]
    pub first_party: bool,
    /// PKCE even though the client has a secret.
    #[serde(default)]
    pub require_pkce: bool,
    /// `aud` of its access tokens (default: the client id).
    pub access_token_audience: Option<String>,
    /// May introspect tokens of the tenant's other clients.
    #[serde(default)]
    pub introspect_any: bool,
    /// Back-channel logout: refused until it is supported.
    pub backchannel_logout_uri: Option<String>,
    /// Pushed authorization requests only (RFC 9126).
    #[serde(default)]
    pub require_par: bool,
    /// DPoP-bound tokens only (RFC 9449): token requests without a proof are refused.
    #[serde(default)]
    pub dpop_bound: bool,
    /// `private_key_jwt`: the client's public keys, a JWK set given inline…
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// …or the https URL the server fetches them from.
    pub jwks_uri: Option<String>,
    /// Token exchange (RFC 8693): audiences besides its own it may get tokens for.
    #[serde(default)]
    pub exchange_audiences: Vec<String>,
    /// Token exchange: it may act for others (delegation, `act`).
    #[serde(default)]
    pub exchange_delegation: bool,
    /// A secret to keep (16-1024 characters), for a client moved from another server; without
    /// it a new secret is made and answered once.
    pub client_secret: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchApplication {
    pub name: Option<String>,
    pub kumusoft_tag: Option<String>,
    pub mosip_app_id: Option<String>,
    pub roles: Option<Vec<String>>,
    pub allowed_ips: Option<Vec<String>>,
    pub callback_url: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub single_otp_channel: Option<bool>,
    pub hosted_webauthn: Option<bool>,
    pub active: Option<bool>,
    /// OpenID Connect: where a logout may send the browser back to.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    #[schema(value_type = Option<Vec<AdminGrantType>>)]
    pub grant_types: Option<Vec<GrantType>>,
    #[schema(value_type = Option<Vec<AdminScope>>)]
    pub scopes: Option<Vec<String>>,
    /// `null` returns to the kind's default.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<AdminAuthMethod>)]
    pub token_endpoint_auth_method: Option<Option<AuthMethod>>,
    pub first_party: Option<bool>,
    pub require_pkce: Option<bool>,
    /// `null` returns to the client id.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub access_token_audience: Option<Option<String>>,
    pub introspect_any: Option<bool>,
    /// Refused until back-channel logout is supported; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub backchannel_logout_uri: Option<Option<String>>,
    /// Pushed authorization requests only (RFC 9126).
    pub require_par: Option<bool>,
    /// DPoP-bound tokens only (RFC 9449).
    pub dpop_bound: Option<bool>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Option<serde_json::Value>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub jwks_uri: Option<Option<String>>,
    pub exchange_audiences: Option<Vec<String>>,
    pub exchange_delegation: Option<bool>,
}

/// A field that is present, `null` included: `Some(None)` for `null`, `None` (by `default`) when absent.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl CreateApplication {
    pub fn into_new(self, kind: ApplicationKind) -> NewApplication {
        NewApplication {
            name: self.name,
            kind,
            client_id: self.client_id,
            aliases: aliases([(Dialect::Kumusoft, self.kumusoft_tag), (Dialect::Mosip, self.mosip_app_id)]),
            roles: self.roles,
            allowed_ips: self.allowed_ips,
            callback_url: self.callback_url,
            redirect_uris: self.redirect_uris,
            single_otp_channel: self.single_otp_channel,
            hosted_webauthn: self.hosted_webauthn,
            active: self.active.unwrap_or(true),
            oauth: OAuthClient {
                post_logout_redirect_uris: self.post_logout_redirect_uris,
                grant_types: self.grant_types,
                scopes: self.scopes,
                token_endpoint_auth_method: self.token_endpoint_auth_method,
                first_party: self.first_party,
                require_pkce: self.require_pkce,
                access_token_audience: self.access_token_audience,
                introspect_any: self.introspect_any,
                backchannel_logout_uri: self.backchannel_logout_uri,
                require_par: self.require_par,
                dpop_bound: self.dpop_bound,
                jwks: self.jwks,
                jwks_uri: self.jwks_uri,
                exchange_audiences: self.exchange_audiences,
                exchange_delegation: self.exchange_delegation,
            },
            client_secret: self.client_secret,
        }
    }
}

impl From<PatchApplication> for ApplicationPatch {
    fn from(b: PatchApplication) -> Self {
        ApplicationPatch {
            name: b.name,
            aliases: aliases([(Dialect::Kumusoft, b.kumusoft_tag), (Dialect::Mosip, b.mosip_app_id)]),
            roles: b.roles,
            allowed_ips: b.allowed_ips,
            callback_url: b.callback_url,
            redirect_uris: b.redirect_uris,
            single_otp_channel: b.single_otp_channel,
            hosted_webauthn: b.hosted_webauthn,
            active: b.active,
            oauth: OAuthPatch {
                post_logout_redirect_uris: b.post_logout_redirect_uris,
                grant_types: b.grant_types,
                scopes: b.scopes,
                token_endpoint_auth_method: b.token_endpoint_auth_method,
                first_party: b.first_party,
                require_pkce: b.require_pkce,
                access_token_audience: b.access_token_audience,
                introspect_any: b.introspect_any,
                backchannel_logout_uri: b.backchannel_logout_uri,
                require_par: b.require_par,
                dpop_bound: b.dpop_bound,
                jwks: b.jwks,
                jwks_uri: b.jwks_uri,
                exchange_audiences: b.exchange_audiences,
                exchange_delegation: b.exchange_delegation,
            },
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub email: Option<String>,
    pub username: Option<String>,
    pub phone: Option<String>,
    pub password: Option<String>,
    /// An existing PHC hash to import (Argon2, bcrypt or PBKDF2), instead of `password`.
    pub password_hash: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[schema(value_type = Object)]
    pub attributes: Option<Value>,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub phone_verified: bool,
    pub active: Option<bool>,
}

/// A user patch; kept as a map so that `null` (clear) and absent (keep) differ.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct PatchUser(pub Map<String, Value>);

/// An initial access token for dynamic client registration.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRegistrationToken {
    /// Seconds it stays valid: 60 to 2,592,000 (30 days).
    #[schema(default = 86400, example = 3600)]
    pub expires_in: Option<i64>,
    /// How many clients it may register.
    #[schema(default = 1, example = 1)]
    pub count: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    pub alg: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UserQuery {
    pub email: Option<String>,
    pub username: Option<String>,
    pub phone: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    pub user_id: Option<String>,
    pub action: Option<String>,
    pub since: Option<i64>,
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OutboxQuery {
    pub to: Option<String>,
    pub limit: Option<u32>,
}

/// The aliases a request gives, by dialect.
fn aliases<const N: usize>(given: [(Dialect, Option<String>); N]) -> BTreeMap<Dialect, String> {
    given.into_iter().filter_map(|(d, a)| a.map(|a| (d, a))).collect()
}
