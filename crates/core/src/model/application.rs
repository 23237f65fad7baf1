//! Applications: the clients of Castellan inside a tenant.

use std::collections::BTreeMap;

use super::ids::{AppId, TenantId};
use serde::{Deserialize, Serialize};

use super::Dialect;
use super::oauth::{AuthMethod, GrantType, OAuthClient};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplicationKind {
    Public,
    Confidential,
    Service,
}

impl ApplicationKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(Self::Public),
            "confidential" => Some(Self::Confidential),
            "service" => Some(Self::Service),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Confidential => "confidential",
            Self::Service => "service",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub id: AppId,
    pub tenant_id: TenantId,
    pub client_id: String,
    pub name: String,
    pub kind: ApplicationKind,
    /// HMAC-SHA-256 of the client secret under the master key.
    #[serde(skip_serializing)]
    pub secret_hash: Option<Vec<u8>>,
    /// The names dialects know this application by; serialized as one field per dialect that has
    /// aliases, named by [`Dialect::alias_field`] (`null` when unset).
    #[serde(flatten, serialize_with = "alias_fields", skip_deserializing)]
    pub aliases: BTreeMap<Dialect, String>,
    pub roles: Vec<String>,
    pub allowed_ips: Vec<String>,
    pub callback_url: Option<String>,
    pub redirect_uris: Vec<String>,
    /// One-time codes go through one channel per request, never to phone and email at once.
    pub single_otp_channel: bool,
    /// The eauthenticator hosted page offers the user's passkeys and security keys beside the
    /// authenticator app's code, and offers to add one after a code.
    pub hosted_webauthn: bool,
    pub active: bool,
    pub created_at: i64,
    /// Its settings as an OpenID Connect client, as fields of their own.
    #[serde(flatten)]
    pub oauth: OAuthClient,
}

impl Application {
    /// The name `dialect` knows this application by.
    pub fn alias(&self, dialect: Dialect) -> Option<&str> {
        self.aliases.get(&dialect).map(String::as_str)
    }

    /// The grant types the client may use: its own list, or its kind's defaults.
    pub fn grant_types(&self) -> Vec<GrantType> {
        if !self.oauth.grant_types.is_empty() {
            return self.oauth.grant_types.clone();
        }
        match self.kind {
            ApplicationKind::Public | ApplicationKind::Confidential => {
                vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
            }
            ApplicationKind::Service => vec![GrantType::ClientCredentials],
        }
    }

    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types().contains(&grant)
    }

    /// How the client authenticates at the token endpoint.
    pub fn auth_method(&self) -> AuthMethod {
        match (self.oauth.token_endpoint_auth_method, self.kind) {
            (Some(m), _) => m,
            (None, ApplicationKind::Public) => AuthMethod::None,
            (None, _) => AuthMethod::ClientSecretBasic,
        }
    }

    /// The audience of the client's access tokens.
    pub fn access_token_audience(&self) -> &str {
        self.oauth.access_token_audience.as_deref().unwrap_or(&self.client_id)
    }

    /// Whether the client may be granted `scope`.
    pub fn may_have_scope(&self, scope: &str) -> bool {
        self.oauth.scopes.is_empty() || self.oauth.scopes.iter().any(|s| s == scope)
    }
}

fn alias_fields<S: serde::Serializer>(aliases: &BTreeMap<Dialect, String>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(None)?;
    for dialect in Dialect::with_aliases() {
        if let Some(field) = dialect.alias_field() {
            map.serialize_entry(field, &aliases.get(&dialect))?;
        }
    }
    map.end()
}
