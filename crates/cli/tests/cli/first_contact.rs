//! `castellan` as an operator first meets it: the start-up banner, the access log (one line per
//! request, no colour codes when written to a file, no query strings), and a database that cannot
//! be reached or does not exist, reported at once by name.

use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::{MASTER_KEY, Server, castellan, temp_dir};

/// `castellan serve` in development mode on SQLite, logging at info to a file.
async fn serve(dir: &std::path::Path) -> Server {
    let env = [
        ("CASTELLAN_DATA_DIR", dir.display().to_string()),
        ("CASTELLAN_MASTER_KEY", MASTER_KEY.to_string()),
        ("CASTELLAN_ARGON2_MEMORY_KIB", "64".to_string()),
        ("CASTELLAN_ARGON2_ITERATIONS", "1".to_string()),
        ("CASTELLAN_DEV", "true".to_string()),
        ("CASTELLAN_LOG", "info".to_string()),
        // Colour must be off because standard error is a file, not because the caller asked.
        ("NO_COLOR", String::new()),
    ];
    Server::start(&env, &dir.join("serve.log")).await
}

async fn get(server: &Server, path: &str, request_id: &str) -> u16 {
    let client = reqwest::Client::new();
    let r = client.get(format!("{}{path}", server.url)).header("x-request-id", request_id).send().await.unwrap();
    r.status().as_u16()
}

/// The lines of the log that mention `needle`, once at least one does (the server writes the
/// access line after the answer has left).
async fn lines_with(server: &Server, needle: &str) -> Vec<String> {
    for _ in 0..100 {
        let log = server.log_text();
        let lines: Vec<String> = log.lines().filter(|l| l.contains(needle)).map(str::to_string).collect();
        if !lines.is_empty() {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Vec::new()
}

#[tokio::test]
async fn serve_announces_itself_and_logs_one_plain_line_per_request_without_the_query() {
    let dir = temp_dir("serve");
    let mut server = serve(&dir).await;
    let banner = lines_with(&server, "listening on").await;
    assert_eq!(banner.len(), 1, "{banner:?}");
    let banner = &banner[0];
    assert!(banner.contains(&format!("listening on {}", server.url)), "{banner}");
    assert!(banner.contains(&format!("engine sqlite {}", dir.join("castellan.db").display())), "{banner}");
    assert!(banner.contains("development mode"), "{banner}");

    assert_eq!(get(&server, "/health", "probe-health-1").await, 200);
    let lines = lines_with(&server, "request_id=probe-health-1").await;
    assert_eq!(lines.len(), 1, "one access line per request: {lines:?}");
    for part in [" INFO ", "castellan::access", "method=GET", "route=/health", "status=200", "latency_ms="] {
        assert!(lines[0].contains(part), "{part} missing: {}", lines[0]);
    }

    // A page whose link carries a secret in its query: the line names the route template only.
    get(&server, "/t/default/reset-password?token=secret-in-query-8d2f", "probe-page-1").await;
    let lines = lines_with(&server, "request_id=probe-page-1").await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("route=/t/{tenant}/reset-password"), "{}", lines[0]);
    assert_eq!(get(&server, "/no/such/path?q=secret-in-query-8d2f", "probe-unmatched-1").await, 404);
    let lines = lines_with(&server, "request_id=probe-unmatched-1").await;
    assert!(lines.len() == 1 && lines[0].contains("status=404"), "{lines:?}");

    let log = server.log_text();
    assert!(!log.contains("secret-in-query-8d2f"), "{log}");
    assert!(!log.contains('\u{1b}'), "colour codes in a log file: {log:?}");
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

fn migrate(database_url: &str) -> (Output, Duration) {
    let dir = temp_dir("migrate");
    let started = Instant::now();
    let output =
        castellan(&["migrate"]).env("CASTELLAN_DATA_DIR", &dir).env("CASTELLAN_DATABASE_URL", database_url).output().unwrap();
    let elapsed = started.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    (output, elapsed)
}

/// Fails, within the five seconds start-up allows and a margin, with one line naming the cause.
fn assert_fails_quickly_with(database_url: &str, expected: &str) {
    let (output, elapsed) = migrate(database_url);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}: {stderr}");
    assert!(stderr.contains(expected), "{expected:?} missing: {stderr}");
    assert!(!stderr.contains(" at line "), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

#[tokio::test]
async fn a_postgres_that_refuses_or_never_answers_is_named_within_five_seconds() {
    // Nothing listens on port 1.
    assert_fails_quickly_with(
        "postgres://castellan@127.0.0.1:1/castellan_nowhere",
        "cannot open PostgreSQL database \"castellan_nowhere\" at 127.0.0.1:1: connection refused",
    );
    // A port that accepts connections (the kernel completes them) but never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    assert_fails_quickly_with(
        &format!("postgres://castellan@127.0.0.1:{port}/castellan_silent"),
        &format!("cannot open PostgreSQL database \"castellan_silent\" at 127.0.0.1:{port}: no answer within 5 s"),
    );
}

#[tokio::test]
async fn a_missing_postgres_database_is_named_with_how_to_create_it() {
    // Needs a PostgreSQL server: the one the suite runs on, when it runs on one.
    let Ok(admin_url) = std::env::var("CASTELLAN_TEST_DATABASE_URL") else { return };
    if admin_url.is_empty() {
        return;
    }
    let name = format!("castellan_missing_{}", uuid::Uuid::new_v4().simple());
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap();
    assert_fails_quickly_with(
        &format!("{base}/{name}"),
        &format!("database \"{name}\" does not exist — create it with createdb {name}"),
    );
}
