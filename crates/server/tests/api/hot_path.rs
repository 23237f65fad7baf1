//! The hot state each node holds in memory (sessions, users, the deny list) never outlives a
//! revocation: a revocation on one node is refused on another within the bound, a change written
//! behind the server's back (another process, as the command line is) reaches it, and a node that
//! loses its change feed forgets what it held. On both engines; on SQLite the nodes of one process
//! share their memory, on PostgreSQL each node has its own and hears the others' changes.

use std::time::{Duration, Instant};

use castellan_testkit::{TestApp, spawn_app};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{kora_tenant, tokens};

use crate::helpers::REVOCATION_BOUND as BOUND;

async fn sessions(app: &TestApp, slug: &str, access: &str) -> u16 {
    app.kora(Method::GET, "/api/v1/auth/sessions", slug, Some(access), None).await.0
}

/// Polls `app` until `access` is refused; how long that took. Fails after two seconds.
async fn refused_after(app: &TestApp, slug: &str, access: &str, since: Instant) -> Duration {
    loop {
        if sessions(app, slug, access).await == 401 {
            return since.elapsed();
        }
        assert!(since.elapsed() < Duration::from_secs(2), "still accepted two seconds after the revocation");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A metric's value from the node's /metrics.
async fn metric(app: &TestApp, name: &str) -> Option<f64> {
    let text = app.request(Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Waits until the node answers from memory (its change feed is up).
async fn trusted(app: &TestApp) {
    let since = Instant::now();
    while metric(app, "castellan_cache_trusted").await != Some(1.0) {
        assert!(since.elapsed() < Duration::from_secs(5), "the change feed did not come up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let rank = (samples.len() * 99).div_ceil(100);
    samples[rank.saturating_sub(1)]
}

/// Node A with a korastratum tenant and its user (slug, user id), and node B on its database,
/// both answering from memory.
async fn two_nodes() -> (TestApp, TestApp, String, String) {
    let a = spawn_app().await;
    let b = a.another_node().await;
    let (slug, user) = kora_tenant(&a).await;
    trusted(&a).await;
    trusted(&b).await;
    (a, b, slug, user)
}

#[tokio::test]
async fn a_logout_on_one_node_is_refused_on_the_other_within_the_bound_at_p99() {
    let (a, b, slug, _) = two_nodes().await;
    let mut took = Vec::new();
    for _ in 0..40 {
        let (access, _) = tokens(&a, &slug).await;
        // Checked on B first, so that B holds the session when it ends.
        assert_eq!(sessions(&b, &slug, &access).await, 200);
        assert_eq!(sessions(&b, &slug, &access).await, 200);
        let (s, _) = a.kora(Method::POST, "/api/v1/auth/logout", &slug, Some(&access), None).await;
        assert_eq!(s, 200);
        took.push(refused_after(&b, &slug, &access, Instant::now()).await);
    }
    let bound = p99(took.clone());
    assert!(bound <= BOUND, "p99 {bound:?} over {BOUND:?}: {took:?}");
}

#[tokio::test]
async fn every_kind_of_revocation_on_one_node_is_refused_on_the_other_within_the_bound() {
    let (a, b, slug, user) = two_nodes().await;
    // Each ends the session behind `access` on A, in its own way.
    let kinds = ["logout-all", "session revoked", "admin revocation", "refresh reuse", "deactivated"];
    for kind in kinds {
        let (access, refresh) = tokens(&a, &slug).await;
        assert_eq!(sessions(&b, &slug, &access).await, 200, "{kind}");
        let since = Instant::now();
        match kind {
            "logout-all" => {
                let (s, _) = a.kora(Method::POST, "/api/v1/auth/logout-all", &slug, Some(&access), None).await;
                assert_eq!(s, 200);
            }
            "session revoked" => {
                let (_, listed) = a.kora(Method::GET, "/api/v1/auth/sessions", &slug, Some(&access), None).await;
                let current = listed["data"].as_array().unwrap().iter().find(|s| s["current"] == true).unwrap()["id"].clone();
                let (other, _) = tokens(&a, &slug).await;
                let path = format!("/api/v1/auth/sessions/{}", current.as_str().unwrap());
                let (s, body) = a.kora(Method::DELETE, &path, &slug, Some(&other), None).await;
                assert_eq!(s, 200, "{body}");
            }
            "admin revocation" => {
                let (s, body) = a.admin(Method::DELETE, &format!("/tenants/{slug}/users/{user}/sessions"), None).await;
                assert!(s == 200 || s == 204, "{s} {body}");
            }
            "refresh reuse" => {
                let body = Some(json!({"refreshToken": refresh}));
                let (s, _) = a.kora(Method::POST, "/api/v1/auth/refresh", &slug, None, body.clone()).await;
                assert_eq!(s, 200);
                let (s, _) = a.kora(Method::POST, "/api/v1/auth/refresh", &slug, None, body).await;
                assert_eq!(s, 401);
            }
            "deactivated" => {
                let patch = Some(json!({"active": false}));
                let (s, body) = a.admin(Method::PATCH, &format!("/tenants/{slug}/users/{user}"), patch).await;
                assert_eq!(s, 200, "{body}");
            }
            _ => unreachable!(),
        }
        let since = since.max(Instant::now());
        let took = refused_after(&b, &slug, &access, since).await;
        assert!(took <= BOUND, "{kind}: refused on B only after {took:?}");
    }
}

#[tokio::test]
async fn a_revocation_written_behind_the_servers_back_reaches_it() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    trusted(&app).await;
    let (access, _) = tokens(&app, &slug).await;
    assert_eq!(sessions(&app, &slug, &access).await, 200);
    // Another process on the same database (the command line, another node) ends every session.
    app.sql("UPDATE sessions SET revoked_at = 1 WHERE revoked_at IS NULL").await;
    let took = refused_after(&app, &slug, &access, Instant::now()).await;
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[tokio::test]
async fn a_user_deactivated_behind_the_servers_back_is_refused_by_users_me() {
    let app = spawn_app().await;
    crate::fastapi_users::kyc(&app).await;
    trusted(&app).await;
    let token = crate::fastapi_users::token(&app).await;
    let me = || app.request(Method::GET, "/users/me").bearer_auth(&token).send();
    assert_eq!(me().await.unwrap().status(), 200);
    assert_eq!(me().await.unwrap().status(), 200);
    app.sql("UPDATE users SET active = false WHERE email = 'user@example.com'").await;
    let since = Instant::now();
    while me().await.unwrap().status() != 401 {
        assert!(since.elapsed() < Duration::from_secs(1), "the deactivated user is still answered");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// PostgreSQL only: cutting a node's LISTEN connection makes it forget what it held. The session
/// is revoked with the feed's trigger disabled, so that only forgetting can end it on the node.
#[tokio::test]
async fn a_node_that_loses_its_change_feed_forgets_what_it_held() {
    if castellan_testkit::engine() != "postgres" {
        return;
    }
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    trusted(&app).await;
    let resyncs = metric(&app, "castellan_cache_resyncs_total").await.unwrap();
    let (access, _) = tokens(&app, &slug).await;
    assert_eq!(sessions(&app, &slug, &access).await, 200);
    assert_eq!(sessions(&app, &slug, &access).await, 200);
    app.sql("ALTER TABLE sessions DISABLE TRIGGER sessions_changed").await;
    app.sql("UPDATE sessions SET revoked_at = 1 WHERE revoked_at IS NULL").await;
    // Unheard, the revocation is not seen: the node answers from memory (this is what is cut next).
    assert_eq!(sessions(&app, &slug, &access).await, 200);
    app.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    )
    .await;
    let took = refused_after(&app, &slug, &access, Instant::now()).await;
    assert!(took < Duration::from_secs(1), "{took:?}");
    let since = Instant::now();
    while metric(&app, "castellan_cache_resyncs_total").await.unwrap() <= resyncs {
        assert!(since.elapsed() < Duration::from_secs(5), "the feed was not re-established");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.sql("ALTER TABLE sessions ENABLE TRIGGER sessions_changed").await;
    trusted(&app).await;
}
