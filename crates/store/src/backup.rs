//! Copies of a SQLite database, and what the schema of a database is: the store's side of
//! `castellan backup`, `castellan restore` and `castellan migrate --check`.

use std::path::Path;

use castellan_core::store::StoreError;
use sqlx::Connection;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::{Pool, SqlStore, cause, db_err};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// One migration this binary carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    pub description: String,
}

/// Where a database's schema stands against this binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// The newest migration applied to the database (0: none).
    pub database_version: i64,
    /// The newest migration this binary knows.
    pub binary_version: i64,
    /// Migrations this binary would apply, oldest first.
    pub pending: Vec<Migration>,
    /// Versions applied to the database that this binary does not know: it is older than the
    /// database.
    pub unknown: Vec<i64>,
}

impl SchemaStatus {
    fn of(migrator: &Migrator, applied: &[i64]) -> SchemaStatus {
        let known: Vec<&sqlx::migrate::Migration> = migrator.iter().filter(|m| !m.migration_type.is_down_migration()).collect();
        let pending = known
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .map(|m| Migration { version: m.version, description: m.description.to_string() })
            .collect();
        let unknown = applied.iter().copied().filter(|v| !known.iter().any(|m| m.version == *v)).collect();
        SchemaStatus {
            database_version: applied.iter().copied().max().unwrap_or(0),
            binary_version: known.iter().map(|m| m.version).max().unwrap_or(0),
            pending,
            unknown,
        }
    }

    /// A SQLite database that does not exist yet: every migration pending.
    pub fn none_applied() -> SchemaStatus {
        SchemaStatus::of(&SQLITE_MIGRATIONS, &[])
    }

    /// The refusal to open a database whose schema is newer than this binary, in words an operator
    /// can act on; `None` when the binary knows every applied migration.
    pub fn newer_than_binary(&self) -> Option<String> {
        (!self.unknown.is_empty()).then(|| {
            format!(
                "the database's schema is at version {}, newer than this castellan knows (version {}): it was upgraded by a \
                 newer release. Run that release (or newer), or restore a backup taken before the upgrade",
                self.database_version, self.binary_version
            )
        })
    }
}

const APPLIED: &str = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";

/// A database without the migrations table has nothing applied.
fn none_if_no_table(rows: Result<Vec<(i64,)>, sqlx::Error>) -> Result<Vec<i64>, sqlx::Error> {
    match rows {
        Ok(rows) => Ok(rows.into_iter().map(|(v,)| v).collect()),
        Err(sqlx::Error::Database(d)) if d.message().contains("_sqlx_migrations") => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

async fn applied_sqlite<'e, E: sqlx::Executor<'e, Database = sqlx::Sqlite>>(e: E) -> Result<Vec<i64>, sqlx::Error> {
    none_if_no_table(sqlx::query_as(APPLIED).fetch_all(e).await)
}

async fn applied_postgres(p: &sqlx::PgPool) -> Result<Vec<i64>, sqlx::Error> {
    none_if_no_table(sqlx::query_as(APPLIED).fetch_all(p).await)
}

impl SqlStore {
    /// Where this database's schema stands against this binary.
    pub async fn schema_status(&self) -> Result<SchemaStatus, StoreError> {
        match &self.pool {
            Pool::Sqlite { read, .. } => Ok(SchemaStatus::of(&SQLITE_MIGRATIONS, &applied_sqlite(read).await.map_err(db_err)?)),
            Pool::Postgres(p, _) => Ok(SchemaStatus::of(&POSTGRES_MIGRATIONS, &applied_postgres(p).await.map_err(db_err)?)),
        }
    }

    /// A consistent copy of a SQLite database at `to` (which must not exist), taken while the
    /// server serves: `VACUUM INTO` reads one snapshot, so every transaction is either wholly in
    /// the copy or not at all. PostgreSQL is backed up with its own tools (`pg_dump`).
    pub async fn backup_sqlite(&self, to: &Path) -> Result<(), StoreError> {
        let Pool::Sqlite { read, .. } = &self.pool else {
            return Err(StoreError::message("a PostgreSQL database is backed up with pg_dump"));
        };
        let target = private_file(to)?;
        let copied = sqlx::query("VACUUM INTO $1").bind(&target).execute(read).await;
        finish_copy(to, copied.map(|_| ()))
    }
}

/// `to`, made empty and readable by its owner alone (the copy holds password hashes); `VACUUM
/// INTO` writes into an empty file and keeps its mode. Refused if `to` exists: a copy never
/// overwrites.
fn private_file(to: &Path) -> Result<String, StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let target = to.to_str().ok_or_else(|| StoreError::message(format!("{} is not a UTF-8 path", to.display())))?.to_string();
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(to) {
        Ok(_) => Ok(target),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(StoreError::message(format!("{} exists already; name a new file", to.display())))
        }
        Err(e) => Err(StoreError::message(format!("cannot create {}: {e}", to.display()))),
    }
}

/// Syncs a written copy (SQLite does not sync `VACUUM INTO`'s file) and its directory entry; a
/// copy that failed is removed, so that a retry may use the name.
fn finish_copy(to: &Path, copied: Result<(), sqlx::Error>) -> Result<(), StoreError> {
    let synced = copied.map_err(|e| cause(&e)).and_then(|()| {
        std::fs::File::open(to).and_then(|f| f.sync_all()).map_err(|e| e.to_string())?;
        sync_directory_of(to).map_err(|e| e.to_string())
    });
    synced.map_err(|why| {
        let _ = std::fs::remove_file(to);
        StoreError::message(format!("cannot write the copy to {}: {why}", to.display()))
    })
}

/// Makes renames and new files in `path`'s directory durable.
pub fn sync_directory_of(path: &Path) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(dir)?.sync_all()
}

/// A consistent copy of the SQLite file `from` at `to` (new, owner-only, synced), read through
/// SQLite: a copy whose last commits are still in its write-ahead log keeps them.
pub async fn copy_sqlite_file(from: &Path, to: &Path) -> Result<(), StoreError> {
    let mut conn = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(from).read_only(true))
        .await
        .map_err(|e| StoreError::message(format!("{} cannot be opened as SQLite: {}", from.display(), cause(&e))))?;
    let target = private_file(to)?;
    let copied = sqlx::query("VACUUM INTO $1").bind(&target).execute(&mut conn).await.map(|_| ());
    let _ = conn.close().await;
    finish_copy(to, copied)
}

/// Folds the write-ahead log of the SQLite file `db` into it and empties the log, so that the
/// file alone holds the database (nothing may be serving it).
pub async fn checkpoint_sqlite_file(db: &Path) -> Result<(), StoreError> {
    let mut conn = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(db))
        .await
        .map_err(|e| StoreError::message(format!("{} cannot be opened: {}", db.display(), cause(&e))))?;
    let done = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await;
    let _ = conn.close().await;
    done.map(|_| ())
        .map_err(|e| StoreError::message(format!("{}: cannot fold its write-ahead log in: {}", db.display(), cause(&e))))
}

/// What a SQLite file is, checked before it is restored: its integrity and its schema.
#[derive(Debug, Clone)]
pub struct CopyReport {
    /// `ok`, or what SQLite's `PRAGMA integrity_check` found.
    pub integrity: String,
    pub schema: SchemaStatus,
    /// Whether the file holds Castellan's tables at all.
    pub is_castellan: bool,
}

/// Opens `path` read-only and checks it whole.
pub async fn check_sqlite_copy(path: &Path) -> Result<CopyReport, StoreError> {
    inspect(path, true).await
}

/// The schema of the SQLite file at `path`, read without writing to it (nor checking every page).
pub async fn sqlite_file_schema(path: &Path) -> Result<SchemaStatus, StoreError> {
    Ok(inspect(path, false).await?.schema)
}

async fn inspect(path: &Path, integrity: bool) -> Result<CopyReport, StoreError> {
    if !path.is_file() {
        return Err(StoreError::message(format!("{} is not a file", path.display())));
    }
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| StoreError::message(format!("{} cannot be opened as SQLite: {}", path.display(), cause(&e))))?;
    let unreadable =
        |e: sqlx::Error| StoreError::message(format!("{} is not a readable SQLite database: {}", path.display(), cause(&e)));
    let verdict: Vec<String> = if integrity {
        sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&mut conn).await.map_err(unreadable)?
    } else {
        vec!["not checked".into()]
    };
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
        .fetch_all(&mut conn)
        .await
        .map_err(unreadable)?;
    let is_castellan = ["_sqlx_migrations", "tenants", "users"].iter().all(|t| tables.iter().any(|n| n == t));
    let applied = if is_castellan { applied_sqlite(&mut conn).await.map_err(unreadable)? } else { Vec::new() };
    let _ = conn.close().await;
    Ok(CopyReport { integrity: verdict.join("; "), schema: SchemaStatus::of(&SQLITE_MIGRATIONS, &applied), is_castellan })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_loses_its_password_and_nothing_else() {
        let url = "postgres://app:s3cr:et@db.example:5432/castellan";
        assert_eq!(crate::redact(url), "postgres://app:***@db.example:5432/castellan");
        assert_eq!(crate::without_password(url), "postgres://app@db.example:5432/castellan");
        assert_eq!(crate::without_password("postgres://app@db/c"), "postgres://app@db/c");
        assert_eq!(crate::redact("sqlite:///var/lib/castellan.db"), "sqlite:///var/lib/castellan.db");
    }

    #[test]
    fn a_database_newer_than_the_binary_is_named_as_such() {
        let known: Vec<i64> = SQLITE_MIGRATIONS.iter().map(|m| m.version).collect();
        let newest = *known.iter().max().unwrap_or(&0);
        let current = SchemaStatus::of(&SQLITE_MIGRATIONS, &known);
        assert!(current.pending.is_empty() && current.unknown.is_empty());
        assert_eq!(current.newer_than_binary(), None);
        let mut ahead = known.clone();
        ahead.push(newest + 1);
        let status = SchemaStatus::of(&SQLITE_MIGRATIONS, &ahead);
        assert_eq!(status.unknown, vec![newest + 1]);
        let message = status.newer_than_binary().unwrap_or_default();
        assert!(
            message.contains(&format!("version {}", newest + 1)) && message.contains(&format!("(version {newest})")),
            "{message}"
        );
        let fresh = SchemaStatus::of(&SQLITE_MIGRATIONS, &[]);
        // Each migration runs in a transaction of its own: one that fails leaves nothing half done.
        for m in SQLITE_MIGRATIONS.iter().chain(POSTGRES_MIGRATIONS.iter()) {
            assert!(!m.no_tx, "migration {} runs outside a transaction", m.version);
        }
        assert_eq!(fresh.pending.len(), known.len());
        assert_eq!(fresh.database_version, 0);
    }
}
