//! Body parsing shared by the dialects: bytes within the limit, a JSON media type for any body
//! that is not empty, then JSON, then the DTO, with the failing field's path. Each dialect turns a
//! [`BodyError`] into its own envelope.
//!
//! The media type is checked because `text/plain`, `application/x-www-form-urlencoded` and
//! `multipart/form-data` are what a browser may send cross-site without a CORS preflight: a JSON
//! endpoint that took them would let any web page post to it with the visitor's cookies and
//! address. A request with no body at all needs no type (logout, 2FA setup and the like).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

use crate::state::AppState;

/// Why a body was refused: the field (or `body`) and a reason.
#[derive(Debug)]
pub struct BodyError {
    pub field: String,
    pub reason: String,
    /// The body was refused for its `Content-Type`, before any parsing; dialects whose contract
    /// leaves the status open answer 415 for it.
    pub media_type: bool,
}

impl BodyError {
    fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        BodyError { field: field.into(), reason: reason.into(), media_type: false }
    }

    /// A non-empty body whose `Content-Type` is missing or not JSON.
    pub fn media_type() -> Self {
        BodyError { media_type: true, ..Self::new("Content-Type", "must be application/json") }
    }
}

/// Whether the request's `Content-Type` is `application/json` or `application/<anything>+json`,
/// with or without parameters such as `charset`.
pub fn is_json(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|(kind, sub)| {
        kind.eq_ignore_ascii_case("application") && (sub.eq_ignore_ascii_case("json") || ends_with_ignore_case(sub, "+json"))
    })
}

/// The type and subtype of `Content-Type`, parameters dropped.
fn media_type(headers: &HeaderMap) -> Option<(&str, &str)> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next()?.trim();
    let (kind, sub) = essence.split_once('/')?;
    let token = |s: &str| !s.is_empty() && !s.contains(|c: char| c.is_ascii_whitespace() || c == '/');
    (token(kind) && token(sub)).then_some((kind, sub))
}

fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
    s.len() > suffix.len() && s.get(s.len() - suffix.len()..).is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
}

/// Reads the body of a JSON endpoint: within the size limit, and, unless it is empty, declared as
/// JSON. Every JSON extractor reads through this, so each endpoint refuses the same requests.
pub async fn read_json_body(req: Request, state: &AppState) -> Result<Bytes, BodyError> {
    let json = is_json(req.headers());
    let bytes = Bytes::from_request(req, state).await.map_err(|e| {
        BodyError::new(
            "body",
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                format!("larger than {} bytes", state.settings.body_limit_bytes)
            } else {
                "unreadable body".into()
            },
        )
    })?;
    if !bytes.is_empty() && !json {
        return Err(BodyError::media_type());
    }
    Ok(bytes)
}

/// Reads and parses a JSON body; an empty one reads as `{}`.
pub async fn parse_json<T: DeserializeOwned>(req: Request, state: &AppState) -> Result<T, BodyError> {
    let bytes = read_json_body(req, state).await?;
    let bytes: &[u8] = if bytes.is_empty() { b"{}" } else { &bytes };
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let reason = if inner.is_syntax() || inner.is_eof() {
            "malformed JSON".to_string()
        } else {
            // serde's messages name the expected type; strip the position suffix.
            inner.to_string().split(" at line ").next().unwrap_or_default().to_string()
        };
        let field = match path.as_str() {
            "." | "" => missing_field(&reason).unwrap_or_else(|| "body".into()),
            p => p.to_string(),
        };
        BodyError::new(field, reason)
    })
}

fn missing_field(reason: &str) -> Option<String> {
    reason.strip_prefix("missing field `").and_then(|r| r.split('`').next()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(content_type: Option<&'static str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = content_type {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn json_media_types_are_json_and_the_simple_request_types_are_not() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON;charset=UTF-8",
            "application/vnd.api+json",
            "application/merge-patch+json; charset=utf-8",
        ] {
            assert!(is_json(&headers(Some(ok))), "{ok}");
        }
        for refused in [
            None,
            Some("text/plain"),
            Some("text/plain; charset=utf-8"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("text/json"),
            Some("application/jsonp"),
            Some("application/+json"),
            Some("application/json-seq"),
            Some("application/geo+json-seq"),
            Some("application"),
            Some(""),
        ] {
            assert!(!is_json(&headers(refused)), "{refused:?}");
        }
    }
}
