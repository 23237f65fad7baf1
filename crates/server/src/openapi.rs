//! The OpenAPI 3.1 document of every mounted endpoint, served at `/openapi.json`, and a small
//! self-contained page at `/docs` that lists it (no assets fetched from anywhere).

use axum::Json;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use axum::extract::State;

use crate::api::Api;
use crate::dialects::DialectMount;
use crate::settings::Settings;
use crate::state::AppState;
use crate::{admin, ops, pages};

#[derive(OpenApi)]
#[openapi(
    info(title = "Castellan", description = "Self-hosted identity server: one core, several auth API dialects."),
    paths(ops::front_page, ops::health, ops::ready, ops::metrics, ops::jwks, ops::tenant_jwks, ops::realm_certs, ops::dev_outbox, openapi_json, docs_page),
    tags((name = "ops", description = "Health, readiness, metrics, keys"))
)]
struct OpsDoc;

/// The response shapes several modules share. They only describe what the handlers build with
/// `serde_json::json!`; `/openapi.json` is checked against real answers by tests/schemathesis.
pub mod schemas {
    #![allow(dead_code)]

    use utoipa::ToSchema;
    use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
    use utoipa::openapi::{RefOr, schema::SchemaType};

    /// `{"error": {"code", "message"}}`: the admin API, the console API and the ops endpoints.
    #[derive(ToSchema)]
    pub struct ErrorEnvelope {
        error: ErrorDetail,
    }

    #[derive(ToSchema)]
    pub struct ErrorDetail {
        #[schema(example = "not_found")]
        code: String,
        message: String,
    }

    /// An OAuth 2.0 error (RFC 6749 §5.2), as the OpenID Connect endpoints answer.
    #[derive(ToSchema)]
    pub struct OAuthError {
        #[schema(example = "invalid_grant")]
        error: String,
        #[schema(example = "unknown authorization code")]
        error_description: String,
    }

    /// A JSON Web Key Set (RFC 7517): the public halves of the signing keys.
    #[derive(ToSchema)]
    pub struct JwkSet {
        keys: Vec<Jwk>,
    }

    /// One public key: RSA (`n`, `e`), EC P-256 (`crv`, `x`, `y`) or Ed25519 (`crv`, `x`).
    #[derive(ToSchema)]
    pub struct Jwk {
        #[schema(example = "RSA")]
        kty: String,
        kid: String,
        #[schema(example = "RS256")]
        alg: String,
        #[schema(rename = "use", example = "sig")]
        usage: String,
        n: Option<String>,
        e: Option<String>,
        crv: Option<String>,
        x: Option<String>,
        y: Option<String>,
    }

    /// A JSON `null`: the whole body (`body = Null`), or a field that is always null
    /// (`#[schema(schema_with = null)]`).
    pub struct Null;

    pub fn null() -> Schema {
        ObjectBuilder::new().schema_type(SchemaType::new(Type::Null)).into()
    }

    impl utoipa::PartialSchema for Null {
        fn schema() -> RefOr<Schema> {
            null().into()
        }
    }

    impl ToSchema for Null {}

    /// A message of the development outbox.
    #[derive(ToSchema)]
    pub struct OutboxMessage {
        #[schema(format = "uuid")]
        id: String,
        /// `email` or `sms`.
        channel: String,
        to: String,
        subject: String,
        body: String,
        /// Seconds since the epoch.
        created_at: i64,
    }
}

/// The whole document, each dialect's part at its documented prefixes.
pub fn document(dialects: &[&'static dyn DialectMount]) -> utoipa::openapi::OpenApi {
    let mut doc = OpsDoc::openapi();
    for dialect in dialects {
        doc.merge(dialect.openapi());
    }
    doc.merge(admin::ApiDoc::openapi());
    doc.merge(pages::ApiDoc::openapi());
    // Handlers of different dialects share names (`login`, `logout`, …); operation ids must not.
    for item in doc.paths.paths.values_mut() {
        let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for op in ops.into_iter().flatten() {
            let tag = op.tags.as_ref().and_then(|t| t.first()).cloned().unwrap_or_default();
            if let Some(id) = op.operation_id.as_mut() {
                *id = format!("{tag}.{id}");
            }
        }
    }
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

/// The document with each dialect's paths under its configured prefixes.
pub fn document_for(settings: &Settings, dialects: &[&'static dyn DialectMount]) -> serde_json::Value {
    let mut doc = serde_json::to_value(document(dialects)).unwrap_or_default();
    let Some(paths) = doc.get_mut("paths").and_then(serde_json::Value::as_object_mut) else { return doc };
    if settings.metrics_listen.is_some() {
        // Served on its own listener, not on this one.
        paths.remove("/metrics");
    }
    // All moves are decided on the original keys, so one mount moved onto another's documented
    // prefix is not moved twice.
    let mut moves = Vec::new();
    for (documented, prefix) in dialects.iter().flat_map(|d| d.moved_prefixes(settings)) {
        if prefix == documented {
            continue;
        }
        let from = format!("{documented}/");
        for key in paths.keys().filter(|k| k.starts_with(&from)) {
            moves.push((key.clone(), format!("{prefix}/{}", &key[from.len()..])));
        }
    }
    let items: Vec<(String, serde_json::Value)> =
        moves.into_iter().filter_map(|(old, new)| paths.remove(&old).map(|item| (new, item))).collect();
    paths.extend(items);
    for dialect in dialects {
        dialect.document_paths(settings, paths);
    }
    doc
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, description = "OpenAPI 3.1", body = Object)))]
pub async fn openapi_json(State(state): State<AppState>) -> Response {
    ([(header::CACHE_CONTROL, "no-cache")], Json(document_for(&state.settings, &state.dialects))).into_response()
}

/// A browsable list of the endpoints.
#[utoipa::path(get, path = "/docs", tag = "ops", responses((status = 200, description = "HTML", content_type = "text/html", body = String)))]
pub async fn docs_page() -> Html<&'static str> {
    Html(include_str!("pages/templates/docs.html"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialects;

    #[test]
    fn every_mounted_route_is_documented() {
        for (kumusoft, mosip) in [("/v1/auth", "/v1/authmanager"), ("/kumusoft/auth", "/mosip/auth")] {
            let settings = Settings {
                kumusoft_prefix: kumusoft.into(),
                mosip_authmanager_prefix: mosip.into(),
                mosip_otpmanager_prefix: "/mosip/otp".into(),
                fastapi_users_mounts: vec!["/partners=partners".into()],
                ..Settings::default()
            };
            let doc = document_for(&settings, &dialects::all());
            let mounted = crate::app::routes(&settings, &dialects::all()).mounted;
            assert!(mounted.len() > 40, "only {} routes mounted?", mounted.len());
            for (method, path) in mounted {
                let documented = doc["paths"][&path][method].is_object();
                assert!(documented, "{method} {path} is mounted but missing from /openapi.json");
            }
        }
    }

    #[test]
    fn no_two_modules_define_different_schemas_under_one_name() {
        // `merge` keeps the first schema of a name and drops the others silently.
        let merged = serde_json::to_value(document(&dialects::all())).unwrap_or_default();
        let parts = [OpsDoc::openapi(), admin::ApiDoc::openapi(), pages::ApiDoc::openapi()]
            .into_iter()
            .chain(dialects::all().into_iter().map(|d| d.openapi()));
        for part in parts {
            let part = serde_json::to_value(part).unwrap_or_default();
            for (name, schema) in part["components"]["schemas"].as_object().into_iter().flatten() {
                assert_eq!(&merged["components"]["schemas"][name], schema, "two different schemas are named {name}");
            }
        }
    }

    /// Every field `serde` writes is described, and every required property is written, down
    /// through the referenced schemas.
    fn assert_described(schemas: &serde_json::Value, name: &str, value: &serde_json::Value) {
        let schema = &schemas[name];
        let empty = serde_json::Map::new();
        assert!(value.is_object(), "{name}: {value} is not an object");
        assert!(schema["properties"].is_object(), "{name} has no properties");
        let written = value.as_object().unwrap_or(&empty);
        let properties = schema["properties"].as_object().unwrap_or(&empty);
        for (key, v) in written {
            assert!(properties.contains_key(key), "{name} does not describe `{key}`");
            let reference = properties[key]["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/"));
            if let (Some(inner), true) = (reference, v.is_object()) {
                assert_described(schemas, inner, v);
            }
        }
        for required in schema["required"].as_array().into_iter().flatten().filter_map(|r| r.as_str()) {
            assert!(written.contains_key(required), "{name} requires `{required}`, which is not written");
        }
    }

    #[test]
    fn the_admin_schemas_describe_the_records_as_serde_writes_them() {
        use castellan_core::model::{
            Application, ApplicationKind, AuditEvent, AuthMethod, GrantType, MessageTemplates, OAuthClient, Policy, Profile,
            Session, Tenant, User,
        };
        let doc = serde_json::to_value(document(&dialects::all())).unwrap_or_default();
        let schemas = &doc["components"]["schemas"];
        let id = uuid::Uuid::nil();
        let mut policy = Policy::of_dialect(castellan_core::model::Dialect::Korastratum);
        policy.messages = MessageTemplates { otp_sms: Some("{code}".into()), ..MessageTemplates::default() };
        let tenant = Tenant {
            id: id.into(),
            slug: "fmfb".into(),
            display_name: "FMFB".into(),
            profile: Profile::Dialect(castellan_core::model::Dialect::Korastratum),
            dialects: vec![castellan_core::model::Dialect::Korastratum],
            issuer: "http://localhost/t/fmfb".into(),
            audience: "fmfb".into(),
            policy,
            created_at: 1,
        };
        let application = Application {
            id: id.into(),
            tenant_id: id.into(),
            client_id: "portal".into(),
            name: "Portal".into(),
            kind: ApplicationKind::Confidential,
            secret_hash: Some(vec![1]),
            aliases: [(castellan_core::model::Dialect::Mosip, "ida".to_string())].into(),
            roles: vec![],
            allowed_ips: vec![],
            callback_url: None,
            redirect_uris: vec![],
            single_otp_channel: false,
            hosted_webauthn: false,
            active: true,
            created_at: 1,
            // Every optional field set, so that each one the schema must describe is written.
            oauth: OAuthClient {
                post_logout_redirect_uris: vec!["https://portal.example.com/".into()],
                grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
                scopes: vec!["openid".into(), "email".into()],
                token_endpoint_auth_method: Some(AuthMethod::ClientSecretPost),
                first_party: true,
                require_pkce: true,
                access_token_audience: Some("https://api.example.com".into()),
                introspect_any: true,
                backchannel_logout_uri: Some("https://portal.example.com/logout".into()),
                require_par: true,
                dpop_bound: true,
                jwks: Some(
                    serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}),
                ),
                jwks_uri: Some("https://portal.example.com/jwks".into()),
                exchange_audiences: vec!["https://api.example.com".into()],
                exchange_delegation: true,
            },
        };
        let user = User {
            id: id.into(),
            tenant_id: id.into(),
            email: Some("a@example.com".into()),
            username: None,
            phone: None,
            password_hash: Some("$argon2id$".into()),
            first_name: None,
            last_name: None,
            role: "user".into(),
            roles: vec![],
            permissions: vec![],
            attributes: serde_json::json!({ "kycLevel": 1 }),
            email_verified: true,
            phone_verified: false,
            active: true,
            mfa_enabled: false,
            created_at: 1,
            updated_at: 1,
        };
        let session = Session {
            id: "sess_1".into(),
            tenant_id: id.into(),
            user_id: id.into(),
            application_id: None,
            dialect: castellan_core::model::Dialect::Korastratum,
            device: serde_json::json!({}),
            ip: None,
            user_agent: None,
            created_at: 1,
            last_active: 1,
            expires_at: 2,
            revoked_at: None,
        };
        let event = AuditEvent {
            id,
            tenant_id: Some(id.into()),
            application_id: None,
            user_id: None,
            action: "login".into(),
            outcome: "success".into(),
            ip: None,
            user_agent: None,
            detail: serde_json::json!({}),
            created_at: 1,
        };
        fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
            serde_json::to_value(v).unwrap_or_default()
        }
        assert_described(schemas, "AdminTenant", &json(&tenant));
        assert_described(schemas, "Policy", &json(&Policy::default_profile()));
        assert_described(schemas, "AdminApplication", &json(&application));
        assert_described(schemas, "AdminUser", &json(&user));
        assert_described(schemas, "AdminSession", &json(&session));
        assert_described(schemas, "AdminAuditEvent", &json(&event));
    }

    #[test]
    fn the_static_document_is_written_with_the_default_prefixes() {
        // `document()` is served unchanged only when every configured prefix is the documented one.
        let settings = Settings::default();
        for (documented, configured) in dialects::all().iter().flat_map(|d| d.moved_prefixes(&settings)) {
            assert_eq!(configured, documented);
        }
    }
}
