//! W9's data, written straight into a stopped server's database with set-based SQL (a recursive
//! CTE on SQLite, `generate_series` on PostgreSQL): users, one live korastratum session and one
//! unused refresh token per user, and audit events. No password is hashed per row and no API call
//! is made, so a million users take seconds instead of the hours that hashing a password for each
//! through the API would need.
//!
//! Every id is a UUIDv7-shaped string whose time lies in the past, in row order, so the server's
//! own new rows sort after the seeded ones as they would in a database that grew over time. The
//! refresh tokens of the first `touchable` sessions are `w9-refresh-{i}`, so the benchmark can
//! spend them; the others' hashes are random (PostgreSQL hashes them all in SQL).

use crate::http::Result;
use crate::workloads::PASSWORD;
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, PgConnection, SqliteConnection};
use std::path::Path;
use std::time::Instant;

const DAY: i64 = 86_400;
/// Rows per statement: progress is reported between them and no transaction gets huge.
const CHUNK: u64 = 1_000_000;
/// The 4th group of a seeded id tells the tables apart.
const USER: u16 = 1;
const SESSION: u16 = 2;
const REFRESH: u16 = 3;
const AUDIT: u16 = 4;

#[derive(Clone, Copy, Debug)]
pub struct Scale {
    pub users: u64,
    pub audit_events: u64,
    /// Sessions whose refresh tokens the benchmark knows (the first ones).
    pub touchable: u64,
}

impl Scale {
    /// 1M users and sessions, 10M audit events at 1.0; 100,000 touchable sessions at most.
    pub fn of(factor: f64) -> Scale {
        let users = ((1e6 * factor).round() as u64).max(1000);
        Scale { users, audit_events: (1e7 * factor).round() as u64, touchable: users.min(100_000) }
    }
}

/// What one kind of row cost: how many, how long, how many bytes on disk (rows and indexes).
#[derive(Clone, Copy, Debug, Default)]
pub struct Stage {
    pub rows: u64,
    pub seconds: f64,
    pub bytes: f64,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Seeded {
    pub users: Stage,
    /// Sessions and their refresh tokens together (one of each per user).
    pub sessions: Stage,
    pub audit: Stage,
    /// The whole database afterwards.
    pub total_bytes: f64,
}

pub fn refresh_token(i: u64) -> String {
    format!("w9-refresh-{i}")
}

/// An address that only looks like seeded user 10's (`seed-10@w9.example`: `l` for `1`): its
/// confusable skeleton is the same, so the server must refuse it as taken if the seeded
/// skeletons are the ones it computes.
pub const LOOK_ALIKE: &str = "seed-l0@w9.example";

pub fn email(i: u64) -> String {
    format!("seed-{i}@w9.example")
}

/// Argon2id of [`PASSWORD`] at the server's default cost, one fixed salt for every seeded user:
/// seeded users can sign in, and the rows are as long as real ones.
pub fn password_hash() -> Result<String> {
    let params = Params::new(19456, 2, 1, Some(32)).map_err(|e| e.to_string())?;
    let salt = *b"w9-seeded-salt!!";
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(PASSWORD.as_bytes(), &salt, &mut out)
        .map_err(|e| e.to_string())?;
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    Ok(format!("$argon2id$v=19$m=19456,t=2,p=1${}${}", b64.encode(salt), b64.encode(out)))
}

enum Db {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl Db {
    async fn exec(&mut self, sql: String) -> Result<u64> {
        let q = sqlx::raw_sql(AssertSqlSafe(sql));
        Ok(match self {
            Db::Sqlite(c) => q.execute(&mut *c).await?.rows_affected(),
            Db::Postgres(c) => q.execute(&mut *c).await?.rows_affected(),
        })
    }

    async fn text(&mut self, sql: &'static str) -> Result<String> {
        Ok(match self {
            Db::Sqlite(c) => sqlx::query_scalar(sql).fetch_one(&mut *c).await?,
            Db::Postgres(c) => sqlx::query_scalar(sql).fetch_one(&mut *c).await?,
        })
    }

    fn pg(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// Rows `lo..hi` as `n(i)`, prefixed to an `INSERT … SELECT … FROM n`.
    fn series(&self, lo: u64, hi: u64) -> String {
        if self.pg() {
            format!("WITH n(i) AS (SELECT generate_series({lo}::bigint, {hi}::bigint - 1)) ")
        } else {
            format!("WITH RECURSIVE n(i) AS (SELECT {lo} UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {hi}) ")
        }
    }

    /// A UUIDv7-shaped id with the millisecond time `ms`, table `kind` and row `i` (unique per table).
    fn id(&self, ms: &str, kind: u16, i: &str) -> String {
        let variant = 0x8000 + kind;
        if self.pg() {
            format!(
                "(lpad(to_hex(({ms}) / 65536), 8, '0') || '-' || lpad(to_hex(({ms}) % 65536), 4, '0') || '-7000-{variant:04x}-' || lpad(to_hex({i}), 12, '0'))"
            )
        } else {
            format!("printf('%08x-%04x-7000-{variant:04x}-%012x', ({ms}) / 65536, ({ms}) % 65536, {i})")
        }
    }

    /// Bytes the tables hold (rows, indexes, TOAST) on PostgreSQL; the whole file on SQLite, which
    /// grows page by page as rows are appended (journal off, nothing freed while seeding).
    async fn bytes(&mut self) -> Result<f64> {
        Ok(match self {
            Db::Sqlite(c) => {
                let pages: i64 = sqlx::query_scalar("PRAGMA page_count").fetch_one(&mut *c).await?;
                let size: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(&mut *c).await?;
                (pages * size) as f64
            }
            Db::Postgres(c) => {
                let sql = "SELECT (pg_total_relation_size('users') + pg_total_relation_size('sessions') \
                           + pg_total_relation_size('refresh_tokens') + pg_total_relation_size('audit_events'))::float8";
                sqlx::query_scalar(sql).fetch_one(&mut *c).await?
            }
        })
    }

    /// On PostgreSQL what autovacuum would do to a table that grew this way (statistics for the
    /// planner, the visibility map); SQLite has no such step (the server runs no ANALYZE).
    async fn settle(&mut self, tables: &str) -> Result<()> {
        if self.pg() {
            self.exec(format!("VACUUM (ANALYZE) {tables}")).await?;
        }
        Ok(())
    }
}

/// The time of seeded row `i` of `n`, in milliseconds, spread evenly over `span` seconds up to
/// `end` (seconds).
fn ms_of(i: &str, n: u64, end: i64, span: i64) -> String {
    let start = (end - span) * 1000;
    let step = (span * 1000 / n.max(1) as i64).max(1);
    format!("({start} + {i} * {step})")
}

struct Plan {
    tenant: String,
    hash: String,
    now: i64,
    scale: Scale,
}

impl Plan {
    fn user_ms(&self, i: &str) -> String {
        ms_of(i, self.scale.users, self.now - DAY, 365 * DAY)
    }

    /// Created over the six days before the last one: a week's lifetime keeps them all live.
    fn session_created(&self, i: &str) -> String {
        format!("({} / 1000)", ms_of(i, self.scale.users, self.now - DAY, 5 * DAY))
    }

    fn user_id(&self, db: &Db, i: &str) -> String {
        db.id(&self.user_ms(i), USER, i)
    }

    fn session_id(&self, db: &Db, i: &str) -> String {
        let created = self.session_created(i);
        format!("('sess_' || replace({}, '-', ''))", db.id(&format!("{created} * 1000"), SESSION, i))
    }
}

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

const DEVICE: &str = r#"'{"deviceId":"dev-' || i || '","platform":"android","osVersion":"14","appVersion":"3.2.1"}'"#;
const AGENT: &str = "'korastratum-app/3.2.1 (Android 14; Pixel 7)'";
const IP: &str = "('10.' || (i / 65536 % 256) || '.' || (i / 256 % 256) || '.' || (i % 256))";

/// Rows `0..n` in statements of [`CHUNK`] rows.
async fn chunked(db: &mut Db, what: &str, n: u64, sql: impl Fn(&Db, u64, u64) -> String) -> Result<()> {
    let started = Instant::now();
    let mut lo = 0;
    while lo < n {
        let hi = (lo + CHUNK).min(n);
        db.exec(sql(db, lo, hi)).await?;
        lo = hi;
        eprintln!("      {what}: {lo} of {n} ({:.0} s)", started.elapsed().as_secs_f64());
    }
    Ok(())
}

/// Times a stage and measures what it added on disk, after [`Db::settle`] of its tables.
async fn stage(db: &mut Db, rows: u64, tables: &str, work: impl AsyncFnOnce(&mut Db) -> Result<()>) -> Result<Stage> {
    let started = Instant::now();
    let before = db.bytes().await?;
    work(db).await?;
    db.settle(tables).await?;
    Ok(Stage { rows, seconds: started.elapsed().as_secs_f64(), bytes: db.bytes().await? - before })
}

async fn users(db: &mut Db, p: &Plan) -> Result<Stage> {
    let (hash, tenant) = (lit(&p.hash), lit(&p.tenant));
    stage(db, p.scale.users, "users", async |db: &mut Db| {
        chunked(db, "users", p.scale.users, |db, lo, hi| {
            let email = "('seed-' || i || '@w9.example')";
            let secs = format!("({} / 1000)", p.user_ms("i"));
            format!(
                "{}INSERT INTO users (id, tenant_id, email, username, phone, uin, password_hash, first_name, last_name, role, \
                 roles, permissions, attributes, email_verified, phone_verified, active, mfa_enabled, created_at, updated_at, \
                 email_skeleton, username_skeleton) \
                 SELECT {}, {tenant}, {email}, NULL, '+1' || (5550000000 + i), NULL, {hash}, 'Seed', 'User ' || i, \
                 'user', '[]', '[]', '{{}}', TRUE, FALSE, TRUE, FALSE, {secs}, {secs}, \
                 replace(replace(replace({email}, 'm', 'rn'), '0', 'O'), '1', 'l'), NULL FROM n",
                db.series(lo, hi),
                p.user_id(db, "i"),
            )
        })
        .await
    })
    .await
}

async fn sessions(db: &mut Db, p: &Plan) -> Result<Stage> {
    let tenant = lit(&p.tenant);
    let (now, week) = (p.now, 7 * DAY);
    stage(db, p.scale.users, "sessions, refresh_tokens", async |db: &mut Db| {
        chunked(db, "sessions", p.scale.users, |db, lo, hi| {
            let created = p.session_created("i");
            format!(
                "{}INSERT INTO sessions (id, tenant_id, user_id, application_id, dialect, device, ip, user_agent, created_at, \
                 last_active, expires_at, revoked_at) \
                 SELECT {}, {tenant}, {}, NULL, 'korastratum', {DEVICE}, {IP}, {AGENT}, {created}, {now} - i % 300, \
                 {created} + {week}, NULL FROM n",
                db.series(lo, hi),
                p.session_id(db, "i"),
                p.user_id(db, "i"),
            )
        })
        .await?;
        known_hashes(db, p.scale.touchable).await?;
        chunked(db, "refresh tokens", p.scale.users, |db, lo, hi| {
            let created = p.session_created("i");
            let hash = if db.pg() {
                "sha256(convert_to('w9-refresh-' || i, 'UTF8'))"
            } else {
                "coalesce((SELECT h FROM w9_hash WHERE w9_hash.i = n.i), randomblob(32))"
            };
            format!(
                "{}INSERT INTO refresh_tokens (id, tenant_id, session_id, token_hash, expires_at, used_at, created_at, \
                 application_id, grant_data) \
                 SELECT {}, {tenant}, {}, {hash}, {created} + {week}, NULL, {now} - i % 300, NULL, NULL FROM n",
                db.series(lo, hi),
                db.id(&format!("({now} - i % 300) * 1000"), REFRESH, "i"),
                p.session_id(db, "i"),
            )
        })
        .await?;
        if !db.pg() {
            db.exec("DROP TABLE w9_hash".into()).await?;
        }
        Ok(())
    })
    .await
}

/// SQLite has no SHA-256 in SQL: the hashes of the tokens the benchmark will spend go into a
/// temporary table first.
async fn known_hashes(db: &mut Db, n: u64) -> Result<()> {
    let Db::Sqlite(c) = db else { return Ok(()) };
    sqlx::raw_sql("CREATE TEMP TABLE w9_hash (i INTEGER PRIMARY KEY, h BLOB NOT NULL)").execute(&mut *c).await?;
    let mut tx = c.begin().await?;
    for i in 0..n {
        let h = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, refresh_token(i).as_bytes());
        sqlx::query("INSERT INTO w9_hash (i, h) VALUES ($1, $2)").bind(i as i64).bind(h.as_ref()).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Audit events of the last 30 days, of the seeded users and their sessions.
async fn audit(db: &mut Db, p: &Plan) -> Result<Stage> {
    let tenant = lit(&p.tenant);
    let (n, users) = (p.scale.audit_events, p.scale.users);
    stage(db, n, "audit_events", async |db: &mut Db| {
        chunked(db, "audit events", n, |db, lo, hi| {
            let ms = ms_of("i", n, p.now - 600, 30 * DAY);
            let owner = format!("(i % {users})");
            format!(
                "{}INSERT INTO audit_events (id, tenant_id, application_id, user_id, action, outcome, ip, user_agent, detail, \
                 created_at) \
                 SELECT {}, {tenant}, NULL, {}, \
                 CASE WHEN i % 10 < 7 THEN 'refresh' WHEN i % 10 < 9 THEN 'login.password' ELSE 'logout' END, \
                 CASE WHEN i % 50 = 0 THEN 'failure' ELSE 'success' END, {IP}, {AGENT}, \
                 '{{\"session\":\"' || {} || '\"}}', {ms} / 1000 FROM n",
                db.series(lo, hi),
                db.id(&ms, AUDIT, "i"),
                p.user_id(db, &owner),
                p.session_id(db, &owner),
            )
        })
        .await
    })
    .await
}

async fn seed(mut db: Db, scale: Scale, now: i64) -> Result<Seeded> {
    let tenant = db.text("SELECT id FROM tenants WHERE slug = 'bench'").await?;
    let plan = Plan { tenant, hash: password_hash()?, now, scale };
    let users = users(&mut db, &plan).await?;
    let sessions = sessions(&mut db, &plan).await?;
    let audit = audit(&mut db, &plan).await?;
    let total_bytes = match &mut db {
        Db::Sqlite(_) => db.bytes().await?,
        Db::Postgres(c) => sqlx::query_scalar("SELECT pg_database_size(current_database())::float8").fetch_one(&mut *c).await?,
    };
    if let Db::Sqlite(c) = &mut db {
        // Back to the mode the server runs in.
        sqlx::raw_sql("PRAGMA journal_mode = WAL").execute(&mut *c).await?;
    }
    Ok(Seeded { users, sessions, audit, total_bytes })
}

/// Seeds a stopped server's SQLite file. No journal while seeding (nothing to roll back to: a
/// failed seeding is thrown away), foreign keys unchecked (the rows are built to match).
pub async fn sqlite(file: &Path, scale: Scale, now: i64) -> Result<Seeded> {
    let conn = SqliteConnectOptions::new()
        .filename(file)
        .journal_mode(SqliteJournalMode::Off)
        .synchronous(SqliteSynchronous::Off)
        .foreign_keys(false)
        .pragma("cache_size", "-262144")
        .pragma("temp_store", "MEMORY")
        .connect()
        .await?;
    seed(Db::Sqlite(conn), scale, now).await
}

pub async fn postgres(url: &str, scale: Scale, now: i64) -> Result<Seeded> {
    let mut conn = PgConnection::connect(url).await?;
    sqlx::raw_sql("SET synchronous_commit = off").execute(&mut conn).await?;
    seed(Db::Postgres(conn), scale, now).await
}
