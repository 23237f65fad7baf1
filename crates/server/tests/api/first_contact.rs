//! What an operator meets first: the front page, and `/metrics` behind a token or on a listener
//! of its own.

use castellan_testkit::{TestOptions, spawn_app, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn the_front_page_answers_html_to_browsers_and_json_to_programs() {
    let app = spawn_app().await;
    let r = app
        .request(Method::GET, "/")
        .header("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(r.headers()["vary"], "accept");
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    let page = r.text().await.unwrap();
    for link in ["href=\"/docs\"", "href=\"/console\"", "href=\"/health\""] {
        assert!(page.contains(link), "{link} missing: {page}");
    }

    let r = app.request(Method::GET, "/").header("accept", "application/json").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["name"], "Castellan");
    assert_eq!(body["links"]["docs"], "/docs");
    assert_eq!(body["links"]["console"], "/console");
    assert_eq!(body["links"]["health"], "/health");
    // The test server runs in development mode.
    assert_eq!(body["links"]["dev_outbox"], "/dev/outbox");
    // No Accept header at all: JSON.
    let (s, body) = castellan_testkit::send(app.request(Method::GET, "/")).await;
    assert_eq!((s, &body["links"]["docs"]), (200, &json!("/docs")));
}

#[tokio::test]
async fn metrics_need_the_bearer_token_when_one_is_set() {
    let app = spawn_app_with(TestOptions {
        settings: Some(Box::new(|s| s.metrics_token = Some(castellan_server::settings::Secret("scrape-7f3a".into())))),
        ..TestOptions::default()
    })
    .await;
    let r = app.request(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let r = app.request(Method::GET, "/metrics").bearer_auth("scrape-7f3b").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = app.request(Method::GET, "/metrics").bearer_auth("scrape-7f3a").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("castellan_connections_open "));
}

#[tokio::test]
async fn metrics_move_to_their_own_listener() {
    let app = spawn_app_with(TestOptions {
        settings: Some(Box::new(|s| s.metrics_listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))))),
        ..TestOptions::default()
    })
    .await;
    let (s, _) = castellan_testkit::send(app.request(Method::GET, "/metrics")).await;
    assert_eq!(s, 404, "/metrics must leave the main listener");
    let (_, doc) = castellan_testkit::send(app.request(Method::GET, "/openapi.json")).await;
    assert!(doc["paths"]["/metrics"].is_null(), "nor be documented there");
    assert!(doc["paths"]["/"]["get"].is_object());

    let metrics = app.metrics_address.clone().unwrap();
    assert_ne!(metrics, app.address);
    let r = app.client.get(format!("{metrics}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("# TYPE castellan_http_requests_total counter"));
    let r = app.client.get(format!("{metrics}/health")).send().await.unwrap();
    assert_eq!(r.status(), 404, "the metrics listener serves nothing else");
}
