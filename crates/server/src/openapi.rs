//! The OpenAPI 3.1 document of every mounted endpoint, served at `/openapi.json`, and a small
//! self-contained page at `/docs` that lists it (no assets fetched from anywhere).

use axum::Json;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::api::Api;
use crate::{admin, dialects, ops, pages};

#[derive(OpenApi)]
#[openapi(
    info(title = "Castellan", description = "Self-hosted identity server: one core, several auth API dialects."),
    paths(ops::health, ops::ready, ops::metrics, ops::jwks, ops::dev_outbox, openapi_json, docs_page),
    tags((name = "ops", description = "Health, readiness, metrics, keys"))
)]
struct OpsDoc;

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = OpsDoc::openapi();
    doc.merge(dialects::korastratum::ApiDoc::openapi());
    doc.merge(admin::ApiDoc::openapi());
    doc.merge(pages::ApiDoc::openapi());
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
    );
    doc
}

pub fn router() -> Api {
    Api::default().get("/openapi.json", openapi_json).get("/docs", docs_page)
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, description = "OpenAPI 3.1")))]
pub async fn openapi_json() -> Response {
    ([(header::CACHE_CONTROL, "no-cache")], Json(document())).into_response()
}

/// A browsable list of the endpoints.
#[utoipa::path(get, path = "/docs", tag = "ops", responses((status = 200, description = "HTML")))]
pub async fn docs_page() -> Html<&'static str> {
    Html(include_str!("pages/templates/docs.html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mounted_route_is_documented() {
        let doc = serde_json::to_value(document()).unwrap_or_default();
        let mounted = crate::app::routes().mounted;
        assert!(mounted.len() > 40, "only {} routes mounted?", mounted.len());
        for (method, path) in mounted {
            let documented = doc["paths"][&path][method].is_object();
            assert!(documented, "{method} {path} is mounted but missing from /openapi.json");
        }
    }
}
