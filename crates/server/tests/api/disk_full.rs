//! SQLite on a full disk: on a small filesystem the test makes (a tmpfs, where the machine lets
//! it mount one; otherwise a printed skip), writes fail with 503 and `Retry-After` in each
//! dialect's shape and a log line, reads keep working, nothing is corrupted, and writes work
//! again once there is room.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use castellan_server::settings::Secret;
use castellan_testkit::{TestOptions, spawn_app_with};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{KUMU_PASSWORD, kumu_login, kumu_tenant};

/// A mounted tmpfs, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(megabytes: u32) -> Option<SmallDisk> {
        let dir = std::env::temp_dir().join(format!("castellan-small-disk-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).ok()?;
        let size = format!("size={megabytes}m");
        let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", &size, "tmpfs"]).arg(&dir).output();
        match mounted {
            Ok(o) if o.status.success() => Some(SmallDisk(dir)),
            Ok(o) => {
                println!("SKIP disk-full test: cannot mount a tmpfs here ({})", String::from_utf8_lossy(&o.stderr).trim());
                None
            }
            Err(e) => {
                println!("SKIP disk-full test: no mount command ({e})");
                None
            }
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Writes a file until the filesystem has no room left.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 16 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.flush();
    path
}

#[tokio::test]
async fn a_full_disk_refuses_writes_with_503_keeps_reads_and_corrupts_nothing() {
    let Some(disk) = SmallDisk::mount(8) else { return };
    let data = disk.0.clone();
    let db = data.join("castellan.db");
    let url = format!("sqlite://{}", db.display());
    let options = TestOptions {
        settings: Some(Box::new(move |s: &mut castellan_server::Settings| {
            s.data_dir = data;
            s.database_url = Some(Secret(url));
        })),
        ..Default::default()
    };
    let app = spawn_app_with(options).await;
    let (slug, tag, _) = kumu_tenant(&app).await;
    let (s, b) = kumu_login(&app, "user_8742@example.com", KUMU_PASSWORD, &tag).await;
    assert_eq!(s, 200, "{b}");

    let filler = fill(&disk.0);
    // Writes: the pages the database already holds take a few; then each is refused as "not
    // now", in each surface's shape, with Retry-After. What was answered as written is kept.
    let mut written = Vec::new();
    let mut refused = None;
    for i in 0..5000 {
        let email = format!("new-{i}@example.com");
        let body = json!({"email": email, "password": "Another-Pass-123!"});
        let r = app.request(Method::POST, &format!("/admin/v1/tenants/{slug}/users")).bearer_auth(&app.admin_token).json(&body);
        let r = r.send().await.unwrap();
        match r.status().as_u16() {
            201 => written.push(email),
            503 => {
                assert_eq!(r.headers()["retry-after"], "5");
                let b: serde_json::Value = r.json().await.unwrap();
                assert_eq!(b["error"]["code"], "unavailable", "{b}");
                refused = Some(email);
                break;
            }
            other => panic!("{other}: {}", r.text().await.unwrap()),
        }
    }
    let refused = refused.expect("a write on a full disk was refused");
    let (s, b) = kumu_login(&app, "user_8742@example.com", KUMU_PASSWORD, &tag).await;
    assert_eq!(s, 503, "{b}");
    assert_eq!(b["status"]["returnCode"], "99", "{b}");
    // Reads: still answered.
    let (s, users) = app.admin(Method::GET, &format!("/tenants/{slug}/users"), None).await;
    assert_eq!(s, 200, "{users}");
    let r = app.request(Method::GET, "/.well-known/jwks.json").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(app.request(Method::GET, "/health").send().await.unwrap().status().as_u16(), 200);

    // Room again: writes go through, without a restart.
    std::fs::remove_file(filler).unwrap();
    let body = json!({"email": "after@example.com", "password": "Another-Pass-123!"});
    let (s, b) = app.admin(Method::POST, &format!("/tenants/{slug}/users"), Some(body)).await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = kumu_login(&app, "user_8742@example.com", KUMU_PASSWORD, &tag).await;
    assert_eq!(s, 200, "{b}");

    // Nothing corrupted: what was answered as written is there, the refused write is not, and
    // the database checks whole.
    let (s, users) = app.admin(Method::GET, &format!("/tenants/{slug}/users?limit=200"), None).await;
    assert_eq!(s, 200, "{users}");
    let emails: Vec<&str> = users.as_array().unwrap().iter().filter_map(|u| u["email"].as_str()).collect();
    assert!(
        written.iter().all(|e| emails.contains(&e.as_str())) && emails.contains(&"after@example.com"),
        "{written:?} {emails:?}"
    );
    assert!(!emails.contains(&refused.as_str()), "{refused} was refused, yet stored");
    app.stop().await;
    assert_eq!(castellan_testkit::database_integrity(&format!("sqlite://{}", db.display())).await, "ok");
}
