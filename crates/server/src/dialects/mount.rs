//! What a dialect contributes to the application, and the choice among dialects of the one that
//! answers for a path. The application, the middleware, the OpenAPI document and the
//! configuration ask every registered [`DialectMount`]; none of them names a dialect.

use axum::response::Response;
use serde_json::{Map, Value};

use crate::api::Api;
use crate::settings::{KeyKind, Settings};

/// The OpenAPI document type a dialect's part is written in.
pub use utoipa::openapi::OpenApi;

/// One dialect as the application mounts it.
///
/// Only [`name`](Self::name) and [`router`](Self::router) are required: a dialect without
/// settings, documentation or answers of its own for refused requests gets the generic ones.
pub trait DialectMount: Send + Sync {
    /// Its name in a tenant's `dialects` list and in sessions (`fastapi-users`).
    fn name(&self) -> &'static str;

    /// Its settings section: `[dialects.<section>] key` in the file, which is the key
    /// `<section>_key`, read from `CASTELLAN_<SECTION>_KEY`.
    fn section(&self) -> &'static str {
        self.name()
    }

    /// The keys of its settings section, without the section's name, and how each is read.
    fn settings_keys(&self) -> &'static [(&'static str, KeyKind)] {
        &[]
    }

    /// What is wrong with its settings, one line each naming the key; checked with the rest of
    /// the configuration before anything is written.
    fn check_settings(&self, _settings: &Settings) -> Vec<String> {
        Vec::new()
    }

    /// Its routes, at the prefixes the settings give.
    fn router(&self, settings: &Settings) -> Api;

    /// Its part of the OpenAPI document, written at its documented prefixes.
    fn openapi(&self) -> OpenApi {
        OpenApi::default()
    }

    /// (documented prefix, configured prefix) for each prefix the settings may move: the
    /// document's paths under the first are served under the second.
    fn moved_prefixes(&self, _settings: &Settings) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// A last change to the served document's paths once every prefix has moved (a dialect
    /// mounted more than once lists its paths again under each further prefix).
    fn document_paths(&self, _settings: &Settings, _paths: &mut Map<String, Value>) {}

    /// The path prefixes under which refused requests are answered in its shape (an oversized
    /// body, an unknown path): `/api/v1` holds `/api/v1/…`.
    fn prefixes(&self, _settings: &Settings) -> Vec<String> {
        Vec::new()
    }

    /// Its answer to an unknown path under one of its prefixes, status included; `None`: the
    /// generic `not_found`.
    fn not_found(&self) -> Option<Response> {
        None
    }

    /// Its body for a request body larger than the limit (`reason` says by how much); the
    /// caller sets 413. `None`: the generic `payload_too_large`.
    fn body_too_large(&self, _reason: &str) -> Option<Response> {
        None
    }

    /// Paths whose handlers wait for a result callback: they get the callback window, not the
    /// ordinary request timeout.
    fn long_paths(&self) -> &'static [&'static str] {
        &[]
    }
}

/// The answer `answer` gives for `path` from the dialect holding it most closely: among those
/// with an answer, the one with the longest prefix of `path`; on a tie, the first registered.
pub fn answer_for(
    dialects: &[&'static dyn DialectMount],
    settings: &Settings,
    path: &str,
    answer: impl Fn(&dyn DialectMount) -> Option<Response>,
) -> Option<Response> {
    let mut best: Option<(usize, Response)> = None;
    for dialect in dialects {
        let Some(response) = answer(*dialect) else { continue };
        let held = dialect.prefixes(settings).into_iter().filter(|p| path.starts_with(&format!("{p}/"))).map(|p| p.len()).max();
        if let Some(len) = held
            && best.as_ref().is_none_or(|(longest, _)| len > *longest)
        {
            best = Some((len, response));
        }
    }
    best.map(|(_, response)| response)
}

/// Every key the dialects' settings sections add, as the flat name `<section>_<key>`.
pub fn settings_keys(dialects: &[&'static dyn DialectMount]) -> Vec<(String, KeyKind)> {
    dialects
        .iter()
        .flat_map(|d| d.settings_keys().iter().map(move |(key, kind)| (format!("{}_{key}", d.section()), *kind)))
        .collect()
}

/// What is wrong with the dialects' settings, one line each.
pub fn check_settings(dialects: &[&'static dyn DialectMount], settings: &Settings) -> Vec<String> {
    dialects.iter().flat_map(|d| d.check_settings(settings)).collect()
}

/// A mount prefix, `/`-led and without a trailing `/`.
pub fn normalize_prefix(p: &str) -> String {
    let p = p.trim().trim_end_matches('/');
    if p.starts_with('/') { p.to_string() } else { format!("/{p}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_a_dialect_section_is_a_setting() {
        for (key, kind) in settings_keys(&crate::dialects::all()) {
            let value = match kind {
                KeyKind::Str => Value::from("x"),
                KeyKind::Int => Value::from(1),
                KeyKind::Bool => Value::from(true),
                KeyKind::List => Value::Array(Vec::new()),
                KeyKind::Addr => Value::from("127.0.0.1:1"),
            };
            let one = Value::Object(Map::from_iter([(key.clone(), value)]));
            assert!(serde_json::from_value::<Settings>(one).is_ok(), "`{key}` is declared but not a setting");
        }
    }

    #[test]
    fn the_longest_prefix_with_an_answer_answers_and_a_tie_goes_to_the_first_registered() {
        use axum::http::StatusCode;
        use axum::response::IntoResponse;
        /// Holds one prefix and answers an unknown path there with a status of its own.
        struct At(&'static str, Option<u16>);
        impl DialectMount for At {
            fn name(&self) -> &'static str {
                "at"
            }
            fn router(&self, _: &Settings) -> Api {
                Api::default()
            }
            fn prefixes(&self, _: &Settings) -> Vec<String> {
                vec![self.0.into()]
            }
            fn not_found(&self) -> Option<Response> {
                self.1.and_then(|s| StatusCode::from_u16(s).ok()).map(IntoResponse::into_response)
            }
        }
        let dialects: Vec<&'static dyn DialectMount> =
            vec![&At("/a", Some(401)), &At("/a/b", Some(402)), &At("/a/b", Some(403)), &At("/a/b/c", None)];
        let settings = Settings::default();
        let status = |path: &str| answer_for(&dialects, &settings, path, |d| d.not_found()).map(|r| r.status().as_u16());
        assert_eq!(status("/a/x"), Some(401));
        assert_eq!(status("/a/b/x"), Some(402));
        assert_eq!(status("/a/b/c/x"), Some(402));
        assert_eq!(status("/a"), None);
        assert_eq!(status("/ab/x"), None);
    }
}
