//! Health, readiness, metrics, OpenAPI and the docs page.

use castellan_testkit::spawn_app;
use reqwest::Method;

#[tokio::test]
async fn health_and_ready_answer_ok() {
    let app = spawn_app().await;
    let (s, b) = castellan_testkit::send(app.request(Method::GET, "/health")).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("ok")));
    let (s, b) = castellan_testkit::send(app.request(Method::GET, "/ready")).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("ready")));
}

#[tokio::test]
async fn openapi_document_lists_korastratum_and_admin_endpoints() {
    let app = spawn_app().await;
    let (s, doc) = castellan_testkit::send(app.request(Method::GET, "/openapi.json")).await;
    assert_eq!(s, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/api/v1/auth/login"]["post"].is_object());
    assert!(doc["paths"]["/admin/v1/tenants"]["post"].is_object());
    let page = app.request(Method::GET, "/docs").send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("/openapi.json"));
}

#[tokio::test]
async fn metrics_count_requests_per_route_and_logins() {
    let app = spawn_app().await;
    let (slug, _) = crate::helpers::kora_tenant(&app).await;
    crate::helpers::login(&app, &slug, "user@example.com", "wrong-Password1!").await;
    let text = app.request(Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
    assert!(
        text.contains("castellan_http_requests_total{method=\"POST\",route=\"/api/v1/auth/login\",status=\"401\"} 1"),
        "{text}"
    );
    assert!(text.contains("castellan_logins_total{dialect=\"korastratum\",outcome=\"failure\"} 1"), "{text}");
    assert!(text.contains("castellan_password_hash_queue_depth 0"));
}

#[tokio::test]
async fn every_answer_carries_security_headers_and_a_request_id() {
    let app = spawn_app().await;
    let r = app.request(Method::GET, "/health").send().await.unwrap();
    let h = r.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(h.contains_key("x-request-id"));
}
