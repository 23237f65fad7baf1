//! Backup, restore and upgrades as an operator runs them: `castellan backup` taken while the
//! server serves under load restores to a server that serves every user, session and key of the
//! moment of the backup; `castellan restore` refuses while a server runs, and refuses a copy that
//! is damaged or newer than the binary; a database upgraded by a newer release is refused at start
//! with a clear message; `castellan migrate --check` says what would run.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{MASTER_KEY, Server, castellan, temp_dir};

const ADMIN: &str = "backup-test-admin-token-2c5e";
const BANK: &str = "backupbank";
const PASSWORD: &str = "Backup-Passw0rd!";

fn env(data: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("CASTELLAN_DATA_DIR", data.display().to_string()),
        ("CASTELLAN_ADMIN_TOKEN", ADMIN.to_string()),
        ("CASTELLAN_ARGON2_MEMORY_KIB", "64".to_string()),
        ("CASTELLAN_ARGON2_ITERATIONS", "1".to_string()),
        ("CASTELLAN_AUTH_RATE_LIMIT_PER_MINUTE", "1000000000".to_string()),
        ("CASTELLAN_LOG", "warn".to_string()),
    ]
}

fn run(args: &[&str], data: &Path) -> (bool, String, String) {
    let out = castellan(args).env("CASTELLAN_DATA_DIR", data).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

async fn kora(server: &Server, path: &str, bearer: Option<&str>, body: Value) -> (u16, Value) {
    let mut rb = reqwest::Client::new().post(format!("{}{path}", server.url)).header("x-tenant-id", BANK).json(&body);
    if let Some(t) = bearer {
        rb = rb.bearer_auth(t);
    }
    castellan_testkit::send(rb).await
}

async fn login(server: &Server, email: &str) -> (u16, Value) {
    kora(server, "/api/v1/auth/login", None, json!({"email": email, "password": PASSWORD})).await
}

async fn keys(server: &Server) -> Value {
    let (s, keys) = server.call(Method::GET, &format!("/admin/v1/tenants/{BANK}/keys"), Some(ADMIN), None).await;
    assert_eq!(s, 200, "{keys}");
    keys
}

/// Registers users one after the other until told to stop; each answered registration is kept
/// with whether it was answered before the backup started (so it is in the copy) and whether it
/// was sent after the backup ended (so it is not).
async fn registrar(
    url: String,
    stop: Arc<AtomicBool>,
    started: Arc<AtomicBool>,
    ended: Arc<AtomicBool>,
) -> Vec<(String, bool, bool)> {
    let client = reqwest::Client::new();
    let mut done = Vec::new();
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let email = format!("load-{n}@backup.example");
        let body = json!({"email": email, "password": PASSWORD, "firstName": "Ada", "lastName": "Obi"});
        let after_end = ended.load(Ordering::Relaxed);
        let r = client.post(format!("{url}/api/v1/registration/register")).header("x-tenant-id", BANK).json(&body).send().await;
        let before_start = !started.load(Ordering::Relaxed);
        if r.is_ok_and(|r| r.status() == 201) {
            done.push((email, before_start, after_end));
        }
    }
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_every_user_session_and_key_of_its_moment() {
    if castellan_testkit::engine() == "postgres" {
        // PostgreSQL: the command names pg_dump and the master key instead of copying.
        let dir = temp_dir("backup-pg");
        let url = castellan_testkit::fresh_database_url().await;
        let out = castellan(&["backup", dir.join("castellan.dump").to_str().unwrap()])
            .env("CASTELLAN_DATA_DIR", dir.join("data"))
            .env("CASTELLAN_DATABASE_URL", &url)
            .env("CASTELLAN_MASTER_KEY", MASTER_KEY)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("pg_dump --format=custom") && text.contains("CASTELLAN_MASTER_KEY"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let _measured = crate::common::MEASURED.lock().await;
    let dir = temp_dir("backup");
    let data = dir.join("data");
    let backup = dir.join("castellan-backup.db");
    let mut server = Server::start(&env(&data), &dir.join("serve-1.log")).await;
    let (s, t) = server
        .call(
            Method::POST,
            "/admin/v1/tenants",
            Some(ADMIN),
            Some(json!({"slug": BANK, "display_name": "Backup Bank", "profile": "korastratum"})),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    for i in 0..4 {
        let user = json!({"email": format!("anchor-{i}@backup.example"), "password": PASSWORD, "email_verified": true});
        let (s, u) = server.call(Method::POST, &format!("/admin/v1/tenants/{BANK}/users"), Some(ADMIN), Some(user)).await;
        assert_eq!(s, 201, "{u}");
    }
    let (s, rotated) = server
        .call(Method::POST, &format!("/admin/v1/tenants/{BANK}/keys/rotate"), Some(ADMIN), Some(json!({"alg": "HS256"})))
        .await;
    assert_eq!(s, 201, "{rotated}");
    // Sessions open at the moment of the backup: their tokens are kept, not used until after the restore.
    let mut anchors = Vec::new();
    for i in 0..4 {
        let (s, b) = login(&server, &format!("anchor-{i}@backup.example")).await;
        assert_eq!(s, 200, "{b}");
        let t = &b["data"]["tokens"];
        anchors.push((t["accessToken"].as_str().unwrap().to_string(), t["refreshToken"].as_str().unwrap().to_string()));
    }
    let keys_before = keys(&server).await;

    // The backup, while registrations keep coming.
    let (stop, started, ended) =
        (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let load: Vec<_> =
        (0..2).map(|_| tokio::spawn(registrar(server.url.clone(), stop.clone(), started.clone(), ended.clone()))).collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    started.store(true, Ordering::Relaxed);
    let (data2, backup2) = (data.clone(), backup.clone());
    let (ok, out, err) = tokio::task::spawn_blocking(move || run(&["backup", backup2.to_str().unwrap()], &data2)).await.unwrap();
    ended.store(true, Ordering::Relaxed);
    assert!(ok, "{err}");
    assert!(out.contains("integrity ok") && out.contains("master.key"), "{out}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut registered = Vec::new();
    for h in load {
        registered.extend(h.await.unwrap());
    }
    let before: Vec<&String> = registered.iter().filter(|(_, b, _)| *b).map(|(e, _, _)| e).collect();
    let after: Vec<&String> = registered.iter().filter(|(_, _, a)| *a).map(|(e, _, _)| e).collect();
    assert!(
        !before.is_empty() && !after.is_empty(),
        "the load ran on both sides of the backup: {} {}",
        before.len(),
        after.len()
    );

    // Restoring needs the server stopped.
    let (ok, _, err) = run(&["restore", backup.to_str().unwrap()], &data);
    assert!(!ok && err.contains("stop the server before restoring"), "{err}");
    server.stop();
    let (ok, out, err) = run(&["restore", backup.to_str().unwrap()], &data);
    assert!(ok, "{err}");
    assert!(out.contains("integrity ok") && out.contains("before-restore-"), "{out}");
    assert!(std::fs::read_dir(&data).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().contains("before-restore-")));
    let (ok, out, _) = run(&["migrate", "--check"], &data);
    assert!(ok && out.contains("up to date"), "{out}");

    let server = Server::start(&env(&data), &dir.join("serve-2.log")).await;
    assert_eq!(keys(&server).await, keys_before, "the keys of the moment of the backup");
    for (access, refresh) in &anchors {
        let r = reqwest::Client::new()
            .get(format!("{}/api/v1/auth/sessions", server.url))
            .header("x-tenant-id", BANK)
            .bearer_auth(access);
        assert_eq!(r.send().await.unwrap().status(), 200, "a session open at the backup");
        let (s, b) = kora(&server, "/api/v1/auth/refresh", None, json!({"refreshToken": refresh})).await;
        assert_eq!(s, 200, "its refresh token: {b}");
    }
    for email in &before {
        let (s, b) = login(&server, email).await;
        assert_eq!(s, 200, "{email}, registered before the backup started: {b}");
    }
    for email in &after {
        let (s, _) = login(&server, email).await;
        assert_eq!(s, 401, "{email} registered after the backup ended, yet restored");
    }
    println!("{} registrations before the backup restored, {} after it absent", before.len(), after.len());
    assert!(!server.log_text().contains("panicked"));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_damaged_or_newer_copy_is_refused_and_a_newer_database_stops_the_server_with_a_clear_message() {
    if castellan_testkit::engine() == "postgres" {
        println!("skip: SQLite copies (PostgreSQL's are pg_dump's)");
        return;
    }
    let dir = temp_dir("restore-refusals");
    let data = dir.join("data");
    let (ok, _, err) = run(&["migrate"], &data);
    assert!(ok, "{err}");
    let (ok, out, _) = run(&["migrate", "--check"], &data);
    assert!(ok && out.contains("up to date"), "{out}");
    let copy = dir.join("copy.db");
    let (ok, _, err) = run(&["backup", copy.to_str().unwrap()], &data);
    assert!(ok, "{err}");
    let (ok, _, err) = run(&["backup", copy.to_str().unwrap()], &data);
    assert!(!ok && err.contains("exists already"), "a backup never overwrites: {err}");

    // Damaged: the middle of the file overwritten.
    let damaged = dir.join("damaged.db");
    let mut bytes = std::fs::read(&copy).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid..mid + 4096].fill(0xA5);
    std::fs::write(&damaged, bytes).unwrap();
    let db = data.join("castellan.db");
    let original = std::fs::read(&db).unwrap();
    let (ok, _, err) = run(&["restore", damaged.to_str().unwrap()], &data);
    assert!(!ok && (err.contains("does not check whole") || err.contains("not a readable SQLite")), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), original, "a refused restore changes nothing");
    let (ok, _, err) = run(&["restore", dir.join("nothing.db").to_str().unwrap()], &data);
    assert!(!ok && err.contains("is not a file"), "{err}");

    // Newer: a migration this binary does not know, as a newer release would have applied.
    let newer = dir.join("newer.db");
    std::fs::copy(&copy, &newer).unwrap();
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", newer.display())).await.unwrap();
        sqlx::query("INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) VALUES (99990101, 'from the future', CURRENT_TIMESTAMP, 1, x'00', 0)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let (ok, _, err) = run(&["restore", newer.to_str().unwrap()], &data);
    assert!(!ok && err.contains("newer than this castellan knows"), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), original);
    // The same database in place: the server refuses to start, and says why.
    let future = dir.join("future");
    std::fs::create_dir_all(&future).unwrap();
    std::fs::copy(&newer, future.join("castellan.db")).unwrap();
    let (ok, out, err) = run(&["migrate", "--check"], &future);
    assert!(!ok && err.contains("version 99990101") && out.is_empty(), "said once, on standard error: {out} / {err}");
    let (ok, out, _) = run(&["migrate", "--check", "--json"], &future);
    let status: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(!ok && status["newer_than_binary"] == json!(true), "{out}");
    let out = castellan(&["serve"]).env("CASTELLAN_DATA_DIR", &future).env("CASTELLAN_LISTEN", "127.0.0.1:0").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("newer than this castellan knows") && err.contains("restore a backup taken before the upgrade"),
        "{err}"
    );

    // Older: a migration not yet applied is what `migrate --check` lists.
    let older = dir.join("older");
    std::fs::create_dir_all(&older).unwrap();
    std::fs::copy(&copy, older.join("castellan.db")).unwrap();
    let last: (i64, String) = {
        use sqlx::Connection;
        let mut conn =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", older.join("castellan.db").display())).await.unwrap();
        let last: (i64, String) =
            sqlx::query_as("SELECT version, description FROM _sqlx_migrations ORDER BY version DESC LIMIT 1")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1").bind(last.0).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        last
    };
    let (ok, out, _) = run(&["migrate", "--check", "--json"], &older);
    assert!(ok, "{out}");
    let status: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(status["pending"], json!([{"version": last.0, "description": last.1}]), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
