//! Tenants: the isolation boundary, and the profiles that seed their policy.

use super::ids::TenantId;
use serde::{Deserialize, Serialize};

use super::Dialect;
use super::key::KeyAlg;
use super::policy::Policy;

/// Which contract a tenant's defaults follow: a dialect's, or none in particular. Named as the
/// dialect is (`default` for none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Default,
    Dialect(Dialect),
}

impl Profile {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "default" => Some(Profile::Default),
            other => Dialect::parse(other).filter(|d| Dialect::SERVED.contains(d)).map(Profile::Dialect),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Default => "default",
            Profile::Dialect(d) => d.as_str(),
        }
    }

    /// The dialects a new tenant of this profile is served by.
    pub fn default_dialects(self) -> Vec<Dialect> {
        match self {
            Profile::Default => vec![],
            Profile::Dialect(d) => vec![d],
        }
    }

    pub fn policy(self) -> Policy {
        match self {
            Profile::Dialect(d) => Policy::of_dialect(d),
            Profile::Default => Policy::default_profile(),
        }
    }

    /// The algorithm of a new tenant's first signing key: the one its dialect's tokens use.
    pub fn first_key_alg(self) -> KeyAlg {
        match self {
            Profile::Default | Profile::Dialect(Dialect::Korastratum | Dialect::FastapiUsers) => KeyAlg::HS256,
            // RS256 for OpenID Connect too: what every relying party verifies (Keycloak's default).
            Profile::Dialect(Dialect::Kumusoft | Dialect::Mosip | Dialect::Oidc) => KeyAlg::RS256,
            Profile::Dialect(Dialect::Eauthenticator | Dialect::Console) => KeyAlg::ES256,
        }
    }

    /// Default (issuer, audience) of the access tokens, when the tenant names none.
    pub fn token_names(self, slug: &str, public_url: &str) -> (String, String) {
        let base = public_url.trim_end_matches('/');
        match self {
            Profile::Dialect(Dialect::Korastratum) => ("bankapp-api".into(), "bankapp-client".into()),
            // The audience of these tokens is per application (`<dialect>:<alias>`).
            Profile::Dialect(Dialect::Kumusoft) => (base.to_string(), slug.to_string()),
            // The library's fixed audience; its tokens carry no issuer of their own, ours add one.
            Profile::Dialect(Dialect::FastapiUsers) => (format!("{base}/t/{slug}"), "fastapi-users:auth".into()),
            // Keycloak's layout: the realm is the last path segment of the issuer.
            Profile::Dialect(Dialect::Mosip | Dialect::Oidc) => (format!("{base}/realms/{slug}"), "account".into()),
            Profile::Default | Profile::Dialect(Dialect::Eauthenticator | Dialect::Console) => {
                (format!("{base}/t/{slug}"), slug.to_string())
            }
        }
    }
}

impl Serialize for Profile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Profile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Profile::parse(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown profile {name}")))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn profiles_are_named_as_their_dialects_and_stored_as_before() {
        // Every dialect's profile carries the dialect's own name (pinned by the dialect's tests).
        for name in std::iter::once("default").chain(Dialect::SERVED.iter().map(|d| d.as_str())) {
            let profile = Profile::parse(name).unwrap();
            assert_eq!(profile.as_str(), name);
            assert_eq!(serde_json::to_value(profile).unwrap(), serde_json::json!(name));
            assert_eq!(serde_json::from_value::<Profile>(serde_json::json!(name)).unwrap(), profile);
        }
        // The console's sessions are kept apart by a Dialect, but no tenant follows it.
        assert_eq!(Profile::parse("console"), None);
        assert!(serde_json::from_value::<Profile>(serde_json::json!("oauth")).is_err());
    }
}
