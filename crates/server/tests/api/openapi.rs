//! The OpenAPI document as a contract: every operation says what it is and what it answers, in
//! shapes a schema-conformance run (tests/schemathesis) can check answers against.

use std::collections::{BTreeMap, BTreeSet};

use castellan_testkit::spawn_app;
use reqwest::Method;
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

async fn document() -> Value {
    let app = spawn_app().await;
    let (status, doc) = castellan_testkit::send(app.request(Method::GET, "/openapi.json")).await;
    assert_eq!(status, 200);
    doc
}

/// Every operation: (`METHOD path`, operation).
fn operations(doc: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push((format!("{} {path}", method.to_uppercase()), op));
            }
        }
    }
    out
}

/// What is missing from one operation's description, if anything.
fn shortcomings(op: &Value) -> Vec<String> {
    let mut missing = Vec::new();
    if op["summary"].as_str().is_none_or(|s| s.trim().is_empty()) {
        missing.push("no summary".to_string());
    }
    let responses = op["responses"].as_object().cloned().unwrap_or_default();
    if !responses.keys().any(|s| s.starts_with('2') || s.starts_with('3')) {
        missing.push("no success (2xx/3xx) response".to_string());
    }
    for (status, response) in &responses {
        let content = response["content"].as_object();
        for (media, body) in content.into_iter().flatten() {
            if body.get("schema").is_none() {
                missing.push(format!("{status} {media} without a schema"));
            }
        }
        let bodiless = status == "204" || (status.starts_with('3') && response["headers"].get("Location").is_some());
        if content.is_none_or(|c| c.is_empty()) && !bodiless {
            let what = if status.starts_with('3') { "neither content nor a Location header" } else { "no content" };
            missing.push(format!("{status} declares {what}"));
        }
    }
    missing
}

#[tokio::test]
async fn every_operation_has_a_summary_and_schemas_for_what_it_answers() {
    let doc = document().await;
    let ops = operations(&doc);
    assert!(ops.len() > 100, "only {} operations?", ops.len());
    let failures: Vec<String> = ops
        .iter()
        .filter_map(|(name, op)| {
            let missing = shortcomings(op);
            (!missing.is_empty()).then(|| format!("{name}: {}", missing.join("; ")))
        })
        .collect();
    assert!(failures.is_empty(), "{} of {} operations fall short:\n{}", failures.len(), ops.len(), failures.join("\n"));
}

/// The error schema each mount answers its failures in.
const ERROR_SCHEMAS: &[(&str, &str)] = &[
    ("/api/v1/", "KoraError"),
    ("/v1/auth/", "KumuError"),
    ("/v1/authmanager/", "MosipErrorEnvelope"),
    ("/v1/otpmanager/", "MosipErrorEnvelope"),
    ("/auth/", "FastapiUsersError"),
    ("/users/", "FastapiUsersError"),
    ("/authen-api/", "EauthError"),
    ("/console/api/", "ErrorEnvelope"),
    ("/admin/v1/", "ErrorEnvelope"),
    ("/t/", "ErrorEnvelope"),
    ("/realms/{tenant}/protocol/openid-connect/certs", "ErrorEnvelope"),
    ("/realms/", "OAuthError"),
    ("/.well-known/oauth-authorization-server/", "OAuthError"),
    ("/dev/", "ErrorEnvelope"),
];

#[tokio::test]
async fn json_errors_are_in_their_dialects_envelope() {
    let doc = document().await;
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, op) in operations(&doc) {
        let path = name.split_once(' ').map(|(_, p)| p).unwrap_or_default();
        let Some((_, expected)) = ERROR_SCHEMAS.iter().find(|(prefix, _)| path.starts_with(prefix)) else { continue };
        for (status, response) in op["responses"].as_object().into_iter().flatten() {
            if !(status.starts_with('4') || status.starts_with('5')) {
                continue;
            }
            let Some(schema) = response.pointer("/content/application~1json/schema") else { continue };
            checked += 1;
            let reference = schema["$ref"].as_str().unwrap_or_default();
            if reference != format!("#/components/schemas/{expected}") {
                failures.push(format!("{name} {status}: {schema} (expected {expected})"));
            }
        }
    }
    assert!(checked > 150, "only {checked} error responses checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn references<'a>(v: &'a Value, out: &mut BTreeSet<&'a str>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                out.insert(r);
            }
            m.values().for_each(|v| references(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_schema_reference_resolves_and_operation_ids_are_unique() {
    let doc = document().await;
    let mut refs = BTreeSet::new();
    references(&doc, &mut refs);
    let schemas = doc["components"]["schemas"].as_object().expect("components.schemas");
    let dangling: Vec<&&str> =
        refs.iter().filter(|r| r.strip_prefix("#/components/schemas/").is_none_or(|name| !schemas.contains_key(name))).collect();
    assert!(dangling.is_empty(), "dangling references: {dangling:?}");
    let mut ids: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, op) in operations(&doc) {
        ids.entry(op["operationId"].as_str().unwrap_or_default()).or_default().push(name);
    }
    let shared: Vec<_> = ids.iter().filter(|(_, ops)| ops.len() > 1).collect();
    assert!(shared.is_empty(), "operation ids used more than once: {shared:?}");
}
