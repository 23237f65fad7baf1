//! 10,000 messages that cannot be delivered: the mail server accepts connections and never
//! answers. The worker takes a bounded number at a time, so the process's memory stays flat
//! while it works through them, and requests are answered as fast as ever.

use std::time::{Duration, Instant};

use castellan_core::model::message::{Channel, OutboundMessage};
use castellan_core::store::OutboxStore;
use serde_json::json;

use crate::common::{MASTER_KEY, Server, temp_dir};

const ADMIN: &str = "outbox-backlog-admin-token-9a7f";
const QUEUED: usize = 10_000;

/// The resident set of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// How many files and sockets process `pid` holds open.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// Messages the workers hold now: claimed (leased) and not yet settled.
async fn leased(database_url: &str) -> i64 {
    use sqlx::Connection;
    let sql = "SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND lease_until IS NOT NULL";
    if database_url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(database_url).await.unwrap();
        let n = sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap();
        let _ = c.close().await;
        n
    } else {
        let mut c = sqlx::PgConnection::connect(database_url).await.unwrap();
        let n = sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap();
        let _ = c.close().await;
        n
    }
}

/// `castellan_outbox_attempts_total{channel="email",outcome="retrying"}`.
async fn retries(server: &Server) -> u64 {
    let text = reqwest::Client::new()
        .get(format!("{}/metrics", server.url))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with("castellan_outbox_attempts_total{channel=\"email\",outcome=\"retrying\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_undeliverable_messages_keep_memory_flat_and_requests_prompt() {
    let _measured = crate::common::MEASURED.lock().await;
    let port = castellan_testkit::silent_server().await;
    let dir = temp_dir("outbox-backlog");
    let database_url = match castellan_testkit::engine() {
        "postgres" => castellan_testkit::fresh_database_url().await,
        _ => format!("sqlite://{}", dir.join("data").join("castellan.db").display()),
    };
    let env = vec![
        ("CASTELLAN_DATA_DIR", dir.join("data").display().to_string()),
        ("CASTELLAN_DATABASE_URL", database_url.clone()),
        ("CASTELLAN_MASTER_KEY", MASTER_KEY.to_string()),
        ("CASTELLAN_ADMIN_TOKEN", ADMIN.to_string()),
        ("CASTELLAN_METRICS_TOKEN", ADMIN.to_string()),
        ("CASTELLAN_SMTP_URL", format!("smtp://127.0.0.1:{port}?tls=none")),
        ("CASTELLAN_DELIVERY_TIMEOUT_SECONDS", "1".to_string()),
        ("CASTELLAN_ARGON2_MEMORY_KIB", "64".to_string()),
        ("CASTELLAN_ARGON2_ITERATIONS", "1".to_string()),
        ("CASTELLAN_LOG", "error".to_string()),
    ];
    let server = Server::start(&env, &dir.join("serve.log")).await;
    let (s, b) = server
        .call(
            reqwest::Method::POST,
            "/admin/v1/tenants",
            Some(ADMIN),
            Some(json!({"slug": "mail", "display_name": "Mail", "profile": "korastratum"})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_kib(server.pid());
    let idle_fds = open_fds(server.pid());

    // The backlog, written straight into the outbox as the server's own requests write it.
    let store = castellan_store::SqlStore::connect(&database_url).await.unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    for i in 0..QUEUED {
        let m = OutboundMessage {
            id: uuid::Uuid::new_v4(),
            tenant_id: None,
            channel: Channel::Email,
            recipient: format!("backlog-{i}@example.com"),
            subject: "Your code".into(),
            body: format!("Your code is {:06}. It expires in 5 minutes.", i % 1_000_000),
            status: "pending".into(),
            transport: None,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            created_at: now,
            sent_at: None,
        };
        store.enqueue_message(&m).await.unwrap();
    }
    store.close().await;

    // Ten seconds of the worker at it: memory sampled twice a second, requests timed.
    let mut peak = idle;
    let mut peak_fds = idle_fds;
    let mut most_leased = 0;
    let mut slowest = Duration::ZERO;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        peak = peak.max(rss_kib(server.pid()));
        peak_fds = peak_fds.max(open_fds(server.pid()));
        most_leased = most_leased.max(leased(&database_url).await);
        let sent = Instant::now();
        let (s, b) = server.call(reqwest::Method::GET, "/admin/v1/tenants/mail/users", Some(ADMIN), None).await;
        assert_eq!(s, 200, "{b}");
        slowest = slowest.max(sent.elapsed());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let tried = retries(&server).await;
    println!(
        "{QUEUED} queued: {tried} attempts failed in 10 s; RSS idle {} KiB, peak {} KiB (+{} KiB); open files {idle_fds} idle, {peak_fds} at most; {most_leased} messages held at most; slowest request {slowest:?}",
        idle,
        peak,
        peak - idle
    );
    // 64 attempts in flight, each one connection to the mail server, and the database pool
    // growing to its 16 connections.
    assert!(peak_fds <= idle_fds + 64 + 32, "{peak_fds} files open with {QUEUED} messages queued ({idle_fds} idle)");
    assert!(tried >= 64, "the worker did not work through the backlog ({tried} attempts)");
    // The bound that keeps memory flat whatever the backlog: the worker holds 64 messages at most.
    assert!((1..=64).contains(&most_leased), "{most_leased} messages held by the worker at once");
    // A worker that held the backlog in memory would need several megabytes for 10,000 messages
    // and their tasks; the bound allows the 64 attempts in flight and allocator slack.
    assert!(peak - idle <= 16 * 1024, "RSS grew by {} KiB with {QUEUED} messages queued", peak - idle);
    assert!(slowest <= Duration::from_millis(500), "a request took {slowest:?} while the worker was busy");
    let log = server.log_text();
    assert!(!log.contains("panicked"), "{log}");
    assert!(!log.contains("Your code is"), "a message body reached the log");
    let _ = std::fs::remove_dir_all(&dir);
}
