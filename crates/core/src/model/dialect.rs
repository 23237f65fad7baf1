//! Dialects: the protocols a tenant is served by. The one place the core names them; everything
//! else carries a [`Dialect`] value and asks it what differs.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    Korastratum,
    Kumusoft,
    Mosip,
    Eauthenticator,
    FastapiUsers,
    /// OpenID Connect and OAuth 2.1, on Keycloak's paths.
    Oidc,
    /// The eauthenticator developer console's own sign-in: its sessions are kept apart from every
    /// protocol's, so a console cookie is never a token of a dialect. Not a dialect a tenant is
    /// served by.
    Console,
}

impl Dialect {
    /// The dialects a tenant can be served by.
    pub const SERVED: &'static [Dialect] =
        &[Dialect::Korastratum, Dialect::Kumusoft, Dialect::Mosip, Dialect::Eauthenticator, Dialect::FastapiUsers, Dialect::Oidc];

    pub const fn as_str(self) -> &'static str {
        match self {
            Dialect::Korastratum => "korastratum",
            Dialect::Kumusoft => "kumusoft",
            Dialect::Mosip => "mosip",
            Dialect::Eauthenticator => "eauthenticator",
            Dialect::FastapiUsers => "fastapi-users",
            Dialect::Oidc => "oidc",
            Dialect::Console => "console",
        }
    }

    pub fn parse(s: &str) -> Option<Dialect> {
        Self::SERVED.iter().chain([&Dialect::Console]).copied().find(|d| d.as_str() == s)
    }

    /// The name of the field that carries this dialect's application alias where applications are
    /// created (the admin API, the CLI) and in errors about it; `None` if the dialect selects
    /// applications some other way. An alias is unique per dialect server-wide, because the alias
    /// alone selects the tenant.
    pub fn alias_field(self) -> Option<&'static str> {
        match self {
            Dialect::Kumusoft => Some("kumusoft_tag"),
            Dialect::Mosip => Some("mosip_app_id"),
            Dialect::Korastratum | Dialect::Eauthenticator | Dialect::FastapiUsers | Dialect::Oidc | Dialect::Console => None,
        }
    }

    /// What the dialect's clients call the alias in requests, tokens and audit details.
    pub fn alias_param(self) -> Option<&'static str> {
        match self {
            Dialect::Kumusoft => Some("tagId"),
            Dialect::Mosip => Some("appId"),
            Dialect::Korastratum | Dialect::Eauthenticator | Dialect::FastapiUsers | Dialect::Oidc | Dialect::Console => None,
        }
    }

    /// The dialects whose applications carry an alias.
    pub fn with_aliases() -> impl Iterator<Item = Dialect> {
        Self::SERVED.iter().copied().filter(|d| d.alias_field().is_some())
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_round_trip_through_parse_and_serde() {
        for d in Dialect::SERVED.iter().chain([&Dialect::Console]) {
            assert_eq!(Dialect::parse(d.as_str()), Some(*d));
            assert_eq!(serde_json::to_value(d).unwrap(), serde_json::json!(d.as_str()));
        }
        assert_eq!(Dialect::parse("oauth"), None);
    }
}
