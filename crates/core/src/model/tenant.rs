//! Tenants: the isolation boundary, and the profiles that seed their policy.

use super::ids::TenantId;
use serde::{Deserialize, Serialize};

use super::Dialect;
use super::policy::Policy;

/// Which dialect's contract a tenant's defaults follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    Default,
    Korastratum,
    Kumusoft,
    Mosip,
    Eauthenticator,
    FastapiUsers,
}

impl Profile {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "default" => Profile::Default,
            "korastratum" => Profile::Korastratum,
            "kumusoft" => Profile::Kumusoft,
            "mosip" => Profile::Mosip,
            "eauthenticator" => Profile::Eauthenticator,
            "fastapi-users" => Profile::FastapiUsers,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Default => "default",
            Profile::Korastratum => "korastratum",
            Profile::Kumusoft => "kumusoft",
            Profile::Mosip => "mosip",
            Profile::Eauthenticator => "eauthenticator",
            Profile::FastapiUsers => "fastapi-users",
        }
    }

    /// The dialects a new tenant of this profile is served by.
    pub fn default_dialects(self) -> Vec<Dialect> {
        match self {
            Profile::Default => vec![],
            Profile::Korastratum => vec![Dialect::Korastratum],
            Profile::Kumusoft => vec![Dialect::Kumusoft],
            Profile::Mosip => vec![Dialect::Mosip],
            Profile::Eauthenticator => vec![Dialect::Eauthenticator],
            Profile::FastapiUsers => vec![Dialect::FastapiUsers],
        }
    }

    pub fn policy(self) -> Policy {
        match self {
            Profile::Korastratum => Policy::korastratum(),
            Profile::Kumusoft => Policy::kumusoft(),
            Profile::Mosip => Policy::mosip(),
            Profile::FastapiUsers => Policy::fastapi_users(),
            _ => Policy::default_profile(),
        }
    }

    /// Default (issuer, audience) of the access tokens, when the tenant names none.
    pub fn token_names(self, slug: &str, public_url: &str) -> (String, String) {
        match self {
            Profile::Korastratum => ("bankapp-api".into(), "bankapp-client".into()),
            // The audience of a kumusoft token is per application (`kumusoft:<TAG_ID>`).
            Profile::Kumusoft => (public_url.trim_end_matches('/').to_string(), slug.to_string()),
            // The library's fixed audience; its tokens carry no issuer of their own, ours add one.
            Profile::FastapiUsers => (format!("{}/t/{}", public_url.trim_end_matches('/'), slug), "fastapi-users:auth".into()),
            // Keycloak's layout: the realm is the last path segment of the issuer.
            Profile::Mosip => (format!("{}/realms/{}", public_url.trim_end_matches('/'), slug), "account".into()),
            _ => (format!("{}/t/{}", public_url.trim_end_matches('/'), slug), slug.to_string()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub display_name: String,
    pub profile: Profile,
    pub dialects: Vec<Dialect>,
    pub issuer: String,
    pub audience: String,
    pub policy: Policy,
    pub created_at: i64,
}

impl Tenant {
    pub fn serves(&self, dialect: Dialect) -> bool {
        self.dialects.contains(&dialect)
    }
}

/// A slug: 2–63 of `a-z 0-9 -`, starting with a letter or digit.
pub fn parse_slug(s: &str) -> Result<String, String> {
    let ok = (2..=63).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && s.as_bytes().first().is_some_and(|b| b.is_ascii_alphanumeric());
    if ok { Ok(s.to_string()) } else { Err("2-63 characters of a-z, 0-9, '-' or '_'".into()) }
}
