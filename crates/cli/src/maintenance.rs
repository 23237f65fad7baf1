//! `castellan backup`, `castellan restore` and `castellan migrate --check`: what an operator runs
//! around the server rather than through it.

use std::path::{Path, PathBuf};

use castellan_server::{Settings, bootstrap};
use castellan_store::SqlStore;
use castellan_store::backup::{
    SchemaStatus, check_sqlite_copy, checkpoint_sqlite_file, copy_sqlite_file, sqlite_file_schema, sync_directory_of,
};
use serde_json::{Value, json};

/// Where this deployment's master key is, in words.
fn master_key_place(settings: &Settings) -> String {
    if settings.master_key.as_ref().is_some_and(|k| !k.0.is_empty()) {
        "CASTELLAN_MASTER_KEY (the environment or the configuration file)".into()
    } else {
        settings.data_dir.join("master.key").display().to_string()
    }
}

const KEY_NOTE: &str = "The copy holds the users and password hashes, but TOTP secrets, signing keys and callback secrets in it \
    are sealed with the master key: keep the master key apart from the backups, and as carefully. A restore needs the same key.";

pub async fn backup(settings: &Settings, to: &Path) -> Result<(Value, String), String> {
    let url = bootstrap::database_url(settings);
    let Some(db) = bootstrap::sqlite_path(settings) else {
        // The URL as the operator gave it: the variable when that is where it is, else the URL
        // without its password (which pg_dump takes from PGPASSWORD or ~/.pgpass).
        let source = if std::env::var("CASTELLAN_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
            "\"$CASTELLAN_DATABASE_URL\"".to_string()
        } else {
            format!("'{}'", castellan_store::without_password(&url))
        };
        let command = format!("pg_dump --format=custom --file={} {source}", to.display());
        let text = format!(
            "PostgreSQL is backed up with its own tools; nothing was written to {}. While Castellan serves, run:\n  {command}\n\
             pg_dump takes a consistent snapshot. To restore it, stop the nodes and run\n  \
             pg_restore --clean --if-exists --dbname={source} {}\n\
             Keep the master key as well: {}.\n{KEY_NOTE}",
            to.display(),
            to.display(),
            master_key_place(settings)
        );
        return Ok((json!({"engine": "postgres", "command": command, "master_key": master_key_place(settings)}), text));
    };
    if !db.exists() {
        return Err(format!("no database at {}; set CASTELLAN_DATA_DIR to the one `castellan serve` uses", db.display()));
    }
    let store = SqlStore::connect_without_migrating(&url).await.map_err(|e| e.to_string())?;
    let taken = store.backup_sqlite(to).await.map_err(|e| e.to_string());
    store.close().await;
    taken?;
    let report = check_sqlite_copy(to).await.map_err(|e| e.to_string())?;
    if report.integrity != "ok" {
        return Err(format!("the copy at {} does not check whole: {}", to.display(), report.integrity));
    }
    let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    let text = format!(
        "backed up {} to {} ({bytes} bytes, schema version {}, integrity ok).\nThe master key is {}.\n{KEY_NOTE}",
        db.display(),
        to.display(),
        report.schema.database_version,
        master_key_place(settings)
    );
    let value = json!({"engine": "sqlite", "backup": to, "bytes": bytes, "schema_version": report.schema.database_version,
                       "master_key": master_key_place(settings)});
    Ok((value, text))
}

/// A name beside `db`, not taken, for the database a restore replaces.
fn set_aside_name(db: &Path) -> PathBuf {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut n = 0;
    loop {
        let name = if n == 0 {
            format!("{}.before-restore-{now}", db.display())
        } else {
            format!("{}.before-restore-{now}-{n}", db.display())
        };
        let path = PathBuf::from(name);
        if ["", "-wal", "-shm"].iter().all(|s| !PathBuf::from(format!("{}{s}", path.display())).exists()) {
            return path;
        }
        n += 1;
    }
}

/// Moves `from` and its write-ahead log and shared-memory files (which belong to it; a log
/// without its database, left by an interrupted restore, goes too) to `to`.
fn move_database(from: &Path, to: &Path) -> Result<(), String> {
    for suffix in ["", "-wal", "-shm"] {
        let a = PathBuf::from(format!("{}{suffix}", from.display()));
        if a.exists() {
            let b = PathBuf::from(format!("{}{suffix}", to.display()));
            std::fs::rename(&a, &b).map_err(|e| format!("cannot move {} to {}: {e}", a.display(), b.display()))?;
        }
    }
    Ok(())
}

pub async fn restore(settings: &Settings, from: &Path, lock: Option<std::fs::File>) -> Result<(Value, String), String> {
    let Some(db) = bootstrap::sqlite_path(settings) else {
        return Err(format!(
            "the database is PostgreSQL: restore it with pg_restore --clean --if-exists --dbname=<its URL> {}, with the servers \
             stopped, and start them with the master key of the deployment the dump came from",
            from.display()
        ));
    };
    let report = check_sqlite_copy(from).await.map_err(|e| e.to_string())?;
    if !report.is_castellan {
        return Err(format!("{} is a SQLite database, but not a Castellan one", from.display()));
    }
    if report.integrity != "ok" {
        return Err(format!("{} does not check whole, nothing was restored: {}", from.display(), report.integrity));
    }
    if let Some(refusal) = report.schema.newer_than_binary() {
        return Err(format!("{}: {refusal}; nothing was restored", from.display()));
    }
    // Copied beside the database first (through SQLite, so a copy with its own write-ahead log
    // keeps its last commits), then renamed: the database is never half written.
    let incoming = PathBuf::from(format!("{}.restoring", db.display()));
    let _ = std::fs::remove_file(&incoming);
    copy_sqlite_file(from, &incoming).await.map_err(|e| e.to_string())?;
    // The database replaced is folded into one file first, so that it is whole where it is kept.
    if db.exists() {
        checkpoint_sqlite_file(&db).await.map_err(|e| e.to_string())?;
    }
    let leftovers = ["", "-wal", "-shm"].iter().any(|s| PathBuf::from(format!("{}{s}", db.display())).exists());
    let aside = if leftovers {
        let aside = set_aside_name(&db);
        move_database(&db, &aside)?;
        Some(aside)
    } else {
        None
    };
    std::fs::rename(&incoming, &db).map_err(|e| format!("cannot move {} to {}: {e}", incoming.display(), db.display()))?;
    sync_directory_of(&db).map_err(|e| format!("{}: {e}", db.display()))?;
    drop(lock);
    let pending = pending_words(&report.schema);
    let key_present = bootstrap::master_key_exists(settings);
    let key_warning = if key_present {
        String::new()
    } else {
        format!(
            "\nWARNING: there is no master key here ({}). Put the key of the deployment the backup came from there before \
             starting the server: a server started without it makes a new key, and cannot open the secrets in the backup.",
            master_key_place(settings)
        )
    };
    let text = format!(
        "restored {} to {} (schema version {}, integrity ok){}.{}\nStart castellan serve with the master key of the \
         deployment the backup came from ({} here).{key_warning}",
        from.display(),
        db.display(),
        report.schema.database_version,
        aside.as_ref().map(|a| format!("; the database it replaced is kept as {}", a.display())).unwrap_or_default(),
        pending,
        master_key_place(settings)
    );
    let value = json!({"restored": db, "from": from, "schema_version": report.schema.database_version,
                       "replaced_kept_as": aside, "pending_migrations": report.schema.pending.len(),
                       "master_key_present": key_present});
    Ok((value, text))
}

fn pending_words(status: &SchemaStatus) -> String {
    if status.pending.is_empty() {
        String::new()
    } else {
        format!(" Its schema is older: the next start applies {} migration(s).", status.pending.len())
    }
}

pub async fn migrate_check(settings: &Settings) -> Result<(Value, String, bool), String> {
    let url = bootstrap::database_url(settings);
    let status = match bootstrap::sqlite_path(settings) {
        Some(_) if settings.data_dir.is_file() => {
            return Err(format!("{} is a file, not a data directory", settings.data_dir.display()));
        }
        Some(db) if !db.exists() => {
            let status = SchemaStatus::none_applied();
            let lines: Vec<String> = status.pending.iter().map(|m| format!("  {:04} {}", m.version, m.description)).collect();
            let text = format!(
                "no database at {} yet: the first start creates it and applies every migration:\n{}",
                db.display(),
                lines.join("\n")
            );
            let pending: Vec<Value> =
                status.pending.iter().map(|m| json!({"version": m.version, "description": m.description})).collect();
            let value = json!({"database_version": 0, "binary_version": status.binary_version, "pending": pending,
                               "newer_than_binary": false});
            return Ok((value, text, true));
        }
        Some(db) => sqlite_file_schema(&db).await.map_err(|e| e.to_string())?,
        None => {
            let store = SqlStore::connect_without_migrating(&url).await.map_err(|e| e.to_string())?;
            let status = store.schema_status().await.map_err(|e| e.to_string());
            store.close().await;
            status?
        }
    };
    let pending: Vec<Value> =
        status.pending.iter().map(|m| json!({"version": m.version, "description": m.description})).collect();
    let value = json!({"database_version": status.database_version, "binary_version": status.binary_version,
                       "pending": pending, "newer_than_binary": !status.unknown.is_empty()});
    if let Some(refusal) = status.newer_than_binary() {
        return Ok((value, refusal, false));
    }
    let text = if status.pending.is_empty() {
        format!("up to date: schema version {}, nothing to apply", status.database_version)
    } else {
        let lines: Vec<String> = status.pending.iter().map(|m| format!("  {:04} {}", m.version, m.description)).collect();
        format!(
            "schema version {}; `castellan migrate` (or the next start) would apply, each in its own transaction:\n{}",
            status.database_version,
            lines.join("\n")
        )
    };
    Ok((value, text, true))
}
