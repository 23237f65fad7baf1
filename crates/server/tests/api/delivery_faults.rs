//! Delivery targets down: a mail server that accepts the connection and never answers holds no
//! request (delivery is the worker's, from the outbox) and no text message, and each attempt ends
//! at the delivery timeout, is audited and counted, and is retried with back-off until the last
//! one gives up, visibly. An SMS provider that hangs costs one attempt; one answering 500 is
//! retried (`kumusoft.rs` and below).

use std::time::{Duration, Instant};

use castellan_server::settings::Secret;
use castellan_testkit::{HttpSink, TestApp, TestOptions, spawn_app_with};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{KUMU_PASSWORD, assert_kumu, kumu_login, kumu_tenant};

async fn failures(app: &TestApp, slug: &str) -> Vec<String> {
    let path = format!("/tenants/{slug}/audit?action=message.failed&limit=100");
    let (s, list) = app.admin(Method::GET, &path, None).await;
    assert_eq!(s, 200, "{list}");
    list.as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap_or_default().to_string()).collect()
}

#[tokio::test]
async fn a_mail_server_that_never_answers_holds_no_request_and_its_messages_are_given_up_visibly() {
    let port = castellan_testkit::silent_server().await;
    let options = TestOptions {
        settings: Some(Box::new(move |s: &mut castellan_server::Settings| {
            s.smtp_url = Some(Secret(format!("smtp://127.0.0.1:{port}?tls=none")));
            s.delivery_timeout_seconds = 1;
        })),
        ..Default::default()
    };
    let app = spawn_app_with(options).await;
    let (slug, tag, _) = kumu_tenant(&app).await;
    // The login mails a code: it answers without waiting for the mail server, which would take
    // the whole delivery timeout (a second) and more.
    let started = Instant::now();
    let (s, b) = kumu_login(&app, "user_8742@example.com", KUMU_PASSWORD, &tag).await;
    assert_eq!(s, 200, "{b}");
    assert!(started.elapsed() < Duration::from_millis(900), "the login waited for delivery: {:?}", started.elapsed());
    // Eight attempts, each ended by the timeout and audited; the retries are made due by moving
    // the clock past the back-off.
    for attempt in 1..=8usize {
        let deadline = Instant::now() + Duration::from_secs(15);
        while failures(&app, &slug).await.len() < attempt {
            assert!(Instant::now() < deadline, "attempt {attempt} was not made or not recorded");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        app.clock.advance(3600);
    }
    let outcomes = failures(&app, &slug).await;
    assert_eq!(outcomes.iter().filter(|o| *o == "retrying").count(), 7, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| *o == "gave_up").count(), 1, "{outcomes:?}");
    let text = app.request(Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
    assert!(text.contains("castellan_outbox_attempts_total{channel=\"email\",outcome=\"gave_up\"} 1"), "{text}");
    assert!(text.contains("castellan_outbox_attempts_total{channel=\"email\",outcome=\"retrying\"} 7"), "{text}");
    // Given up means given up: no ninth attempt, however long one waits.
    app.clock.advance(86_400);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(failures(&app, &slug).await.len(), 8);
}

#[tokio::test]
async fn a_hung_mail_server_holds_up_no_text_message() {
    let port = castellan_testkit::silent_server().await;
    let sink = HttpSink::start(200, "{}").await;
    let url = sink.url.clone();
    let options = TestOptions {
        settings: Some(Box::new(move |s: &mut castellan_server::Settings| {
            s.smtp_url = Some(Secret(format!("smtp://127.0.0.1:{port}?tls=none")));
            s.delivery_timeout_seconds = 40;
            s.sms_provider = "webhook".into();
            s.sms_url = Some(url);
        })),
        ..Default::default()
    };
    let app = spawn_app_with(options).await;
    let (slug, tag, user_id) = kumu_tenant(&app).await;
    // A code by mail: its attempt hangs for the whole delivery timeout.
    let (s, b) = kumu_login(&app, "user_8742", KUMU_PASSWORD, &tag).await;
    assert_kumu(s, &b, 200, "00");
    assert_eq!(b["data"]["channel"], "email", "{b}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Then a code by SMS: it reaches the provider while the mail still hangs (the sink waits ten
    // seconds at most; the mail's attempt lasts forty).
    app.admin(Method::PATCH, &format!("/tenants/{slug}/users/{user_id}"), Some(json!({"email_verified": false}))).await;
    let (s, b) = kumu_login(&app, "user_8742", KUMU_PASSWORD, &tag).await;
    assert_kumu(s, &b, 200, "00");
    let texts = sink.wait_for(1).await;
    assert_eq!(texts[0].json()["to"], "+256700000001");
}

#[tokio::test]
async fn an_sms_provider_that_hangs_or_fails_holds_no_request_and_each_attempt_is_retried_visibly() {
    let sink = HttpSink::start(200, "{}").await;
    // The first attempt hangs past the delivery timeout, the second gets a 500, the third goes
    // through.
    sink.respond_next_after(200, "{}", Duration::from_secs(30));
    sink.respond_next(500, r#"{"error": "provider down"}"#);
    let url = sink.url.clone();
    let options = TestOptions {
        settings: Some(Box::new(move |s: &mut castellan_server::Settings| {
            s.delivery_timeout_seconds = 1;
            s.sms_provider = "webhook".into();
            s.sms_url = Some(url);
        })),
        ..Default::default()
    };
    let app = spawn_app_with(options).await;
    let (slug, tag, user_id) = kumu_tenant(&app).await;
    app.admin(Method::PATCH, &format!("/tenants/{slug}/users/{user_id}"), Some(json!({"email_verified": false}))).await;
    let started = Instant::now();
    let (s, b) = kumu_login(&app, "user_8742", KUMU_PASSWORD, &tag).await;
    assert_kumu(s, &b, 200, "00");
    assert_eq!(b["data"]["channel"], "sms", "{b}");
    assert!(started.elapsed() < Duration::from_millis(900), "the login waited for the provider: {:?}", started.elapsed());
    for attempt in 1..=2usize {
        let deadline = Instant::now() + Duration::from_secs(15);
        while failures(&app, &slug).await.len() < attempt {
            assert!(Instant::now() < deadline, "attempt {attempt} was not made or not recorded");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        app.clock.advance(3600);
    }
    let texts = sink.wait_for(3).await;
    assert!(texts.iter().all(|t| t.json()["to"] == "+256700000001"), "{:?}", texts.len());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = app.request(Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
        if text.contains("castellan_outbox_attempts_total{channel=\"sms\",outcome=\"sent\"} 1") {
            assert!(text.contains("castellan_outbox_attempts_total{channel=\"sms\",outcome=\"retrying\"} 2"), "{text}");
            break;
        }
        assert!(Instant::now() < deadline, "the third attempt was not counted as sent: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(failures(&app, &slug).await, ["retrying", "retrying"]);
}
