//! The dialects: HTTP surfaces that reproduce existing auth APIs field for field. Each parses,
//! calls the core, and shapes the answer in its vendor's format; none depends on another.

pub mod eauthenticator;
pub mod fastapi_users;
pub mod json;
pub mod korastratum;
pub mod kumusoft;
pub mod mosip;

/// The token of an `Authorization: Bearer …` header, if there is a plausible one.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() < 8192)
}
