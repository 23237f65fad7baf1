//! Castellan's storage: one [`SqlStore`] whose queries are written once and run on SQLite (the
//! embedded default) or PostgreSQL. Only pools, pragmas and migrations differ per engine.

pub mod backup;
mod checkpoints;
mod feed;
mod hot;
mod queries;
mod reachability;
mod rows;
mod skeletons;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use castellan_core::store::{ConflictOn, StoreError};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

#[derive(Clone)]
pub(crate) enum Pool {
    /// SQLite allows one writer at a time; writers on several connections collide and back off in
    /// SQLite's busy handler (sleeps of 1 ms and up), so all writes share one connection and queue
    /// for it in the pool instead, while reads run side by side on the others.
    Sqlite { read: sqlx::SqlitePool, write: sqlx::SqlitePool },
    /// The pool, and whether the database answers: while it does not, statements are refused
    /// at once rather than queued until the pool's timeout.
    Postgres(sqlx::PgPool, Arc<reachability::Reachability>),
}

/// The store over either engine.
pub struct SqlStore {
    pool: Pool,
    /// The engine and where its data is, without credentials.
    description: String,
    /// Sessions, users and the deny list held in memory while the change feed vouches for them.
    hot: Arc<hot::HotState>,
    /// Held while the store lives; the feed's tasks stop when it is gone.
    alive: Arc<()>,
    /// Refresh rotations and session openings, written in group commits.
    rotations: queries::groups::GroupCommit<queries::rotations::Rotations>,
    openings: queries::groups::GroupCommit<queries::openings::Openings>,
}

/// How long the first connection may take before start-up gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a statement waits for a PostgreSQL connection: the pool's 16 are busy (a request
/// queued longer is better answered 503), or the database went away a moment before the watcher
/// saw it (sqlx retries refused connections until then).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs the same sqlx expression against whichever pool the store holds: `$p` is bound to the
/// engine's pool in each arm, so the body type-checks once per engine.
macro_rules! on_pool {
    ($store:expr, |$p:ident| $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite { read: $p, .. } => $body,
            $crate::Pool::Postgres($p, reach) => {
                if reach.is_down() {
                    return Err($crate::reachability::refused().into());
                }
                $body
            }
        }
    };
}
pub(crate) use on_pool;

/// [`on_pool!`] for statements that write: on SQLite they go to the single writer connection.
macro_rules! on_writer {
    ($store:expr, |$p:ident| $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite { write: $p, .. } => $body,
            $crate::Pool::Postgres($p, reach) => {
                if reach.is_down() {
                    return Err($crate::reachability::refused().into());
                }
                $body
            }
        }
    };
}
pub(crate) use on_writer;

/// A read of at most one row, mapped to its domain type: `fetch_optional!(self, Row, sql, binds…)`.
macro_rules! fetch_optional {
    ($store:expr, $row:ty, $sql:expr $(, $arg:expr)* $(,)?) => {{
        let row = $crate::on_pool!($store, |p| sqlx::query_as::<_, $row>(sqlx::AssertSqlSafe($sql))
            $(.bind($arg))*
            .fetch_optional(p)
            .await
            .map_err($crate::db_err))?;
        $crate::rows::one(row)
    }};
}
pub(crate) use fetch_optional;

/// A read of any number of rows, each mapped to its domain type.
macro_rules! fetch_all {
    ($store:expr, $row:ty, $sql:expr $(, $arg:expr)* $(,)?) => {{
        let rows = $crate::on_pool!($store, |p| sqlx::query_as::<_, $row>(sqlx::AssertSqlSafe($sql))
            $(.bind($arg))*
            .fetch_all(p)
            .await
            .map_err($crate::db_err))?;
        $crate::rows::all(rows)
    }};
}
pub(crate) use fetch_all;

/// A write on the writer connection; the number of rows it touched.
macro_rules! execute {
    ($store:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::on_writer!($store, |p| sqlx::query(sqlx::AssertSqlSafe($sql))
            $(.bind($arg))*
            .execute(p)
            .await
            .map(|r| r.rows_affected())
            .map_err($crate::db_err))
    };
}
pub(crate) use execute;

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(conflicting_field(d.as_ref()).unwrap_or(ConflictOn::Other))
        }
        sqlx::Error::Database(d) if is_unstorable_text(d.as_ref()) => StoreError::InvalidText,
        _ if is_unavailable(&e) => StoreError::Unavailable { context: cause(&e), source: Some(Box::new(e)) },
        _ => StoreError::backend(cause(&e), e),
    }
}

/// Whether the writer may serve again. A COMMIT that SQLite refuses (the disk full, an I/O
/// error) leaves its transaction open on the connection, while the driver counts it closed; the
/// next writes would then run inside it, be answered as done, and be lost when the connection
/// closes. So every release rolls back whatever is still open: a no-op on a healthy connection
/// (SQLite answers "no transaction is active"), and after such a failure the connection is
/// closed and a fresh one opened.
async fn out_of_transaction(conn: &mut sqlx::SqliteConnection) -> bool {
    use sqlx::Executor;
    match conn.execute("ROLLBACK").await {
        Err(_) => true,
        Ok(_) => {
            tracing::warn!("sqlite: a write left its transaction open (disk full or I/O error); rolled back, reconnecting");
            false
        }
    }
}

/// Failures that pass when the database is back or has room again: no connection (refused,
/// reset, the pool waited in vain), PostgreSQL shutting down or out of disk (class 08, 57P0x,
/// 53100), SQLite out of disk or unable to write (SQLITE_FULL, SQLITE_IOERR and its extended
/// codes, SQLITE_CANTOPEN).
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => {
            let Some(code) = d.code() else { return false };
            if let Ok(n) = code.parse::<i64>() {
                // SQLite: the primary code is the low byte of an extended one.
                return matches!(n & 0xff, 10 | 13 | 14);
            }
            code.starts_with("08") || code.starts_with("57P0") || code == "53100" || code == "53300"
        }
        _ => false,
    }
}

/// The migration that adds the users' identifier skeletons (`0004_identifier_skeletons.sql`).
const SKELETON_MIGRATION: i64 = 4;

/// The unique keys whose clash a caller answers field by field: PostgreSQL's constraint or index
/// name, SQLite's last `table.column` of "UNIQUE constraint failed: …", and the field.
const UNIQUE_KEYS: &[(&str, &str, ConflictOn)] = &[
    ("users_tenant_id_email_key", "users.email", ConflictOn::Email),
    ("users_tenant_id_username_key", "users.username", ConflictOn::Username),
    ("users_tenant_id_phone_key", "users.phone", ConflictOn::Phone),
    ("users_tenant_id_uin_key", "users.uin", ConflictOn::Uin),
    ("users_email_skeleton", "users.email_skeleton", ConflictOn::Email),
    ("users_username_skeleton", "users.username_skeleton", ConflictOn::Username),
    ("tenants_slug_key", "tenants.slug", ConflictOn::Slug),
    ("applications_client_id_key", "applications.client_id", ConflictOn::ClientId),
];

/// Which field a unique violation is about. The engines say it differently: PostgreSQL names the
/// constraint, SQLite names none but lists the columns in its message
/// ("UNIQUE constraint failed: users.tenant_id, users.phone").
fn conflicting_field(d: &dyn sqlx::error::DatabaseError) -> Option<ConflictOn> {
    if let Some(name) = d.constraint() {
        return UNIQUE_KEYS.iter().find(|(pg, _, _)| *pg == name).map(|(_, _, on)| *on);
    }
    let columns = d.message().strip_prefix("UNIQUE constraint failed: ")?;
    let last = columns.rsplit(", ").next()?.trim();
    UNIQUE_KEYS.iter().find(|(_, column, _)| *column == last).map(|(_, _, on)| *on)
}

/// PostgreSQL's refusal of text it cannot hold (NUL): SQLSTATE 22021 character_not_in_repertoire,
/// or 22P05 untranslatable_character.
fn is_unstorable_text(d: &dyn sqlx::error::DatabaseError) -> bool {
    matches!(d.code().as_deref(), Some("22021" | "22P05"))
}

/// The cause in one line: the server's message and code, not the source line in the server's
/// code that PostgreSQL reports with it, nor the operating system's error number.
fn cause(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => match d.code() {
            Some(code) => format!("{} (code {code})", d.message()),
            None => d.message().to_string(),
        },
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        sqlx::Error::Io(io) => io.to_string().split(" (os error").next().unwrap_or_default().to_string(),
        sqlx::Error::Tls(t) => format!("TLS: {t}"),
        other => other.to_string(),
    }
}

/// Why PostgreSQL at `options` could not be opened, naming host, port and database.
fn pg_connect_err(options: &PgConnectOptions, e: Option<sqlx::Error>) -> StoreError {
    let host = options.get_host();
    let port = options.get_port();
    let database = options.get_database().unwrap_or(options.get_username());
    let cause = match e {
        None => format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
        Some(sqlx::Error::Database(d)) if d.code().as_deref() == Some("3D000") => {
            format!("database \"{database}\" does not exist — create it with createdb {database}")
        }
        Some(e) => cause(&e),
    };
    StoreError::message(format!("cannot open PostgreSQL database \"{database}\" at {host}:{port}: {cause}"))
}

impl SqlStore {
    /// Connects to `sqlite://path` or `postgres://…` and applies pending migrations.
    pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
        let store = Self::connect_without_migrating(url).await?;
        store.migrate().await?;
        store.follow_changes();
        Ok(store)
    }

    /// Starts the change feed that lets the hot state answer (nothing is answered from memory
    /// before, so a store opened without migrating reads the database every time).
    fn follow_changes(&self) {
        let alive = Arc::downgrade(&self.alive);
        match &self.pool {
            Pool::Sqlite { read, write } => {
                tokio::spawn(feed::follow_sqlite(read.clone(), write.clone(), self.hot.clone(), alive));
            }
            Pool::Postgres(p, _) => {
                tokio::spawn(feed::follow_postgres(p.clone(), self.hot.clone(), alive));
            }
        }
    }

    /// Connects without touching the schema. The first PostgreSQL connection is tried alone and
    /// for at most five seconds, so that a server that is down or a database that does not exist
    /// is reported as such at once, not as a pool that timed out.
    /// SQLite's own check of the whole file (`PRAGMA integrity_check`): `ok`, or what is wrong.
    /// PostgreSQL keeps its pages checked itself: `ok`.
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        match &self.pool {
            Pool::Sqlite { read, .. } => {
                let (verdict,): (String,) = sqlx::query_as("PRAGMA integrity_check").fetch_one(read).await.map_err(db_err)?;
                Ok(verdict)
            }
            Pool::Postgres(..) => Ok("ok".into()),
        }
    }

    pub async fn connect_without_migrating(url: &str) -> Result<SqlStore, StoreError> {
        let (pool, description, hot) = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::message(format!("database URL {}: {}", redact(url), cause(&e))))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(checkpoints::BUSY_TIMEOUT)
                .foreign_keys(true)
                .pragma("journal_size_limit", checkpoints::WAL_SIZE_LIMIT);
            let file = options.get_filename().display().to_string();
            let opened = |e: sqlx::Error| StoreError::message(format!("cannot open SQLite database {file}: {}", cause(&e)));
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .after_release(|conn, _| Box::pin(async move { Ok(out_of_transaction(conn).await) }))
                .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
                .await
                .map_err(opened)?;
            let read =
                SqlitePoolOptions::new().max_connections(8).min_connections(1).connect_with(options).await.map_err(opened)?;
            (Pool::Sqlite { read, write }, format!("sqlite {file}"), feed::shared_sqlite_state(&file))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::message(format!("database URL {}: {}", redact(url), cause(&e))))?;
            match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
                Ok(Ok(probe)) => {
                    let _ = probe.close().await;
                }
                Ok(Err(e)) => return Err(pg_connect_err(&options, Some(e))),
                Err(_) => return Err(pg_connect_err(&options, None)),
            }
            let description = format!(
                "postgres {}:{}/{}",
                options.get_host(),
                options.get_port(),
                options.get_database().unwrap_or(options.get_username())
            );
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options.clone())
                .await
                .map_err(|e| pg_connect_err(&options, Some(e)))?;
            let reach = Arc::new(reachability::Reachability::default());
            (Pool::Postgres(pool, reach), description, Arc::new(hot::HotState::new(false)))
        } else {
            return Err(StoreError::message(format!(
                "unsupported database URL (want sqlite:// or postgres://): {}",
                redact(url)
            )));
        };
        let rotations = queries::groups::GroupCommit::start(pool.clone(), queries::rotations::Rotations { hot: hot.clone() });
        let openings = queries::groups::GroupCommit::start(pool.clone(), queries::openings::Openings { hot: hot.clone() });
        let alive = Arc::new(());
        match &pool {
            Pool::Sqlite { read, write } => {
                tokio::spawn(checkpoints::checkpoint_sqlite(read.clone(), write.clone(), Arc::downgrade(&alive)));
            }
            Pool::Postgres(p, reach) => {
                let options = p.connect_options().as_ref().clone();
                tokio::spawn(reachability::watch(options, reach.clone(), Arc::downgrade(&alive)));
            }
        }
        Ok(SqlStore { pool, description, hot, alive, rotations, openings })
    }

    /// Applies the migrations of the engine in use, each in a transaction of its own. The migration
    /// that adds identifier skeletons is followed, the one time it runs, by filling them in for
    /// the users already stored. A database upgraded by a newer release is refused before anything is written: this binary
    /// would not know its tables.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        if let Some(refusal) = self.schema_status().await?.newer_than_binary() {
            return Err(StoreError::message(refusal));
        }
        let skeletons_pending = !self.migration_applied(SKELETON_MIGRATION).await;
        let result = match &self.pool {
            Pool::Sqlite { write, .. } => sqlx::migrate!("./migrations/sqlite").run(write).await,
            Pool::Postgres(p, _) => sqlx::migrate!("./migrations/postgres").run(p).await,
        };
        result.map_err(|e| StoreError::message(format!("migration failed: {e}")))?;
        if skeletons_pending { self.backfill_identifier_skeletons().await } else { Ok(()) }
    }

    /// Whether migration `version` was applied (a database without the migrations table has
    /// none).
    async fn migration_applied(&self, version: i64) -> bool {
        let sql = "SELECT version FROM _sqlx_migrations WHERE version = $1 AND success";
        let row: Result<Option<(i64,)>, StoreError> =
            async { on_pool!(self, |p| sqlx::query_as(sql).bind(version).fetch_optional(p).await.map_err(db_err)) }.await;
        matches!(row, Ok(Some(_)))
    }

    /// The engine and where its data is (`sqlite /path/castellan.db`, `postgres host:port/db`),
    /// without credentials.
    pub fn describe(&self) -> &str {
        &self.description
    }

    pub fn engine(&self) -> &'static str {
        match &self.pool {
            Pool::Sqlite { .. } => "sqlite",
            Pool::Postgres(..) => "postgres",
        }
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite { read, write } => {
                write.close().await;
                read.close().await;
            }
            Pool::Postgres(p, _) => p.close().await,
        }
    }
}

/// A URL with its password replaced, for messages.
pub fn redact(url: &str) -> String {
    around_password(url).map_or_else(|| url.to_string(), |(user, host)| format!("{user}:***{host}"))
}

/// A URL without its password (`postgres://user@host/db`), for a command another program runs
/// with the password from its own place (`PGPASSWORD`, `~/.pgpass`).
pub fn without_password(url: &str) -> String {
    around_password(url).map_or_else(|| url.to_string(), |(user, host)| format!("{user}{host}"))
}

/// What comes before `:password` and from `@` on, when the URL has a password.
fn around_password(url: &str) -> Option<(&str, &str)> {
    let scheme = url.find("://")?;
    let at = url.rfind('@').filter(|at| *at > scheme)?;
    let colon = url[scheme + 3..at].find(':')?;
    Some((&url[..scheme + 3 + colon], &url[at..]))
}
