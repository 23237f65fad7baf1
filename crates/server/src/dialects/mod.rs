//! The dialects: HTTP surfaces that reproduce existing auth APIs field for field. Each parses,
//! calls the core, and shapes the answer in its vendor's format; none depends on another.
//!
//! A dialect is a folder here and one line in [`all`]: its [`DialectMount`] gives the
//! application its routes, its part of the OpenAPI document, its settings section and its
//! answers to refused requests.

pub mod eauthenticator;
pub mod fastapi_users;
pub mod json;
pub mod korastratum;
pub mod kumusoft;
pub mod mosip;
pub mod mount;
pub mod oidc;

pub use mount::DialectMount;

/// Every dialect Castellan serves. The order is that of their parts in the OpenAPI document,
/// and decides between dialects that claim the same path prefix.
pub fn all() -> Vec<&'static dyn DialectMount> {
    vec![
        &korastratum::Korastratum,
        &kumusoft::Kumusoft,
        &mosip::Mosip,
        &fastapi_users::FastapiUsers,
        &eauthenticator::Eauthenticator,
        &oidc::Oidc,
    ]
}

/// The token of an `Authorization: Bearer …` header, if there is a plausible one.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() < 8192)
}
