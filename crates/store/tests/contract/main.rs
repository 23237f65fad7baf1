//! The storage contract (`castellan_testkit::contract`), run on SQLite, on PostgreSQL when
//! CASTELLAN_TEST_DATABASE_URL is set, and on the in-memory twin; the twin held to the SQL store
//! answer by answer (`twins`); and the SQL store's own checks (migrations, the skeleton backfill,
//! PostgreSQL's NUL refusal).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use castellan_core::model::*;
use castellan_core::store::prelude::*;
use castellan_store::SqlStore;
use castellan_testkit::contract::Engine;
use castellan_testkit::contract::fixtures::{bare_user, tenant};
use sqlx::Connection;

mod twins;

/// A fresh SQLite file.
struct Sqlite(Arc<SqlStore>);

#[async_trait::async_trait]
impl Engine for Sqlite {
    async fn open() -> Option<Self> {
        Some(Sqlite(Arc::new(SqlStore::connect(&sqlite_url()).await.unwrap())))
    }
    fn store(&self) -> Arc<dyn Store> {
        self.0.clone()
    }
    async fn close(self) {
        self.0.close().await;
    }
}

/// An empty schema of the PostgreSQL database CASTELLAN_TEST_DATABASE_URL names. A schema, not a
/// database, and a migrated one used again once a passing check has emptied it: creating and
/// migrating a database per check would take most of the suite's time. The schemas are named
/// after the process; those of processes that have ended are dropped by the next run.
struct Postgres {
    store: Arc<SqlStore>,
    admin_url: String,
    schema: String,
}

/// Migrated, empty schemas of this process, free for the next check.
static FREE_SCHEMAS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
const SCHEMA_PREFIX: &str = "castellan_contract_p";

async fn admin_connection(admin_url: &str) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(admin_url).await.unwrap()
}

async fn run_sql(conn: &mut sqlx::PgConnection, sql: String) {
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(conn).await.unwrap();
}

/// Drops the schemas left by runs whose process has ended (a failed check keeps its schema).
async fn sweep_schemas(admin_url: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let mut conn = admin_connection(admin_url).await;
    let pattern = format!("{}%", SCHEMA_PREFIX.replace('_', "\\_"));
    let names: Vec<String> = sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE $1")
        .bind(pattern)
        .fetch_all(&mut conn)
        .await
        .unwrap();
    for name in names {
        let pid = name[SCHEMA_PREFIX.len()..].split('_').next().unwrap_or_default();
        if !pid.is_empty() && !Path::new("/proc").join(pid).exists() {
            run_sql(&mut conn, format!("DROP SCHEMA IF EXISTS {name} CASCADE")).await;
        }
    }
}

#[async_trait::async_trait]
impl Engine for Postgres {
    async fn open() -> Option<Self> {
        let Some(admin_url) = postgres_admin_url() else {
            println!("skipped: no PostgreSQL (set CASTELLAN_TEST_DATABASE_URL to run the contract there too)");
            return None;
        };
        SWEPT.get_or_init(|| sweep_schemas(&admin_url)).await;
        let free = FREE_SCHEMAS.lock().unwrap().pop();
        let schema = match free {
            Some(schema) => schema,
            None => {
                let schema = format!("{SCHEMA_PREFIX}{}_{}", std::process::id(), uuid::Uuid::new_v4().simple());
                run_sql(&mut admin_connection(&admin_url).await, format!("CREATE SCHEMA {schema}")).await;
                schema
            }
        };
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}options[search_path]={schema}");
        Some(Postgres { store: Arc::new(SqlStore::connect(&url).await.unwrap()), admin_url, schema })
    }
    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }
    async fn close(self) {
        self.store.close().await;
        let mut conn = admin_connection(&self.admin_url).await;
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = $1 AND tablename <> '_sqlx_migrations'")
                .bind(&self.schema)
                .fetch_all(&mut conn)
                .await
                .unwrap();
        let tables: Vec<String> = tables.iter().map(|t| format!("{}.{t}", self.schema)).collect();
        run_sql(&mut conn, format!("TRUNCATE {}", tables.join(", "))).await;
        FREE_SCHEMAS.lock().unwrap().push(self.schema);
    }
}

mod memory {
    castellan_testkit::contract_tests!(castellan_testkit::contract::Memory);
}

mod sqlite {
    castellan_testkit::contract_tests!(crate::Sqlite);
}

mod postgres {
    castellan_testkit::contract_tests!(crate::Postgres);
}

fn sqlite_url() -> String {
    let dir = std::env::temp_dir().join(format!("castellan-contract-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    format!("sqlite://{}", dir.join("c.db").display())
}

fn postgres_admin_url() -> Option<String> {
    std::env::var("CASTELLAN_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())
}

/// A new, empty PostgreSQL database beside the one `admin_url` names.
async fn postgres_database(admin_url: &str) -> String {
    let name = format!("castellan_contract_{}", uuid::Uuid::new_v4().simple());
    run_sql(&mut admin_connection(admin_url).await, format!("CREATE DATABASE {name}")).await;
    let base = &admin_url[..admin_url.rfind('/').unwrap()];
    format!("{base}/{name}")
}

/// A fresh database URL per SQL engine available here.
async fn engine_urls() -> Vec<String> {
    let mut urls = vec![sqlite_url()];
    match postgres_admin_url() {
        Some(admin) => urls.push(postgres_database(&admin).await),
        None => println!("skipped: no PostgreSQL (set CASTELLAN_TEST_DATABASE_URL to run the contract there too)"),
    }
    urls
}

/// Every `async fn` of the storage traits (`crates/core/src/store/*.rs`).
fn store_methods() -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/src/store");
    let mut methods = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for rest in text.split("async fn ").skip(1) {
            methods.insert(rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap().to_string());
        }
    }
    methods
}

/// The contract suite's sources, by file name.
fn suite_sources() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testkit/src/contract");
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn the_suite_calls_every_method_of_every_storage_trait() {
    let methods = store_methods();
    assert!(methods.len() > 80 && methods.contains("ping"), "the traits were not read: {methods:?}");
    let suite: String = suite_sources().into_iter().map(|(_, text)| text).collect();
    let uncalled: Vec<&String> = methods.iter().filter(|m| !suite.contains(&format!(".{m}("))).collect();
    assert!(uncalled.is_empty(), "storage methods no contract check calls: {uncalled:?}");
}

/// The checks `contract_tests!` lists, as `module::check`.
fn listed_checks(listing: &str) -> BTreeSet<String> {
    let mut listed = BTreeSet::new();
    let mut module = None;
    for line in listing.lines().map(str::trim) {
        if let Some(name) = line.strip_suffix(": [") {
            module = Some(name.to_string());
        } else if line.starts_with(']') {
            module = None;
        } else if let (Some(module), Some(check)) = (&module, line.strip_suffix(',')) {
            listed.insert(format!("{module}::{check}"));
        }
    }
    listed
}

#[test]
fn every_check_of_the_suite_is_run_on_every_engine() {
    let sources = suite_sources();
    let listed = listed_checks(&sources.iter().find(|(name, _)| name == "mod.rs").unwrap().1);
    let mut written = BTreeSet::new();
    for (name, text) in sources.iter().filter(|(name, _)| name != "mod.rs") {
        for rest in text.split("\npub async fn ").skip(1) {
            written.insert(format!("{}::{}", name.trim_end_matches(".rs"), rest.split('(').next().unwrap()));
        }
    }
    assert!(written.len() > 50, "the checks were not read: {written:?}");
    assert_eq!(written, listed, "checks written and checks contract_tests! runs");
}

#[test]
fn both_engines_have_the_same_migration_files() {
    let names = |dir: &str| {
        let mut v: Vec<String> = std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("sqlite"), names("postgres"));
}

#[tokio::test]
async fn text_postgresql_cannot_store_is_a_refusal_not_a_backend_failure() {
    use castellan_core::store::StoreError;
    let memory: Arc<dyn Store> = Arc::new(castellan_testkit::MemoryStore::new());
    let mut stores: Vec<(&str, Arc<dyn Store>)> = vec![("memory", memory)];
    for url in engine_urls().await {
        let store = SqlStore::connect(&url).await.unwrap();
        stores.push((store.engine(), Arc::new(store)));
    }
    for (engine, store) in stores {
        let t = Tenant { id: new_id().into(), slug: format!("t{}", new_id().simple()), ..tenant() };
        store.insert_tenant(&t).await.unwrap();
        let found = store.user_by_identifier(t.id, &Identifier::Username("\u{0000}\u{0001}".into())).await;
        match engine {
            // The memory store is PostgreSQL's twin here: the stricter of the two engines.
            "postgres" | "memory" => assert!(matches!(found, Err(StoreError::InvalidText)), "{engine}: {found:?}"),
            _ => assert!(matches!(found, Ok(None)), "{engine}: {found:?}"),
        }
    }
}

#[tokio::test]
async fn users_written_before_skeletons_get_them_when_the_store_starts() {
    for url in engine_urls().await {
        let store = SqlStore::connect(&url).await.unwrap();
        let engine = store.engine();
        let t = tenant();
        store.insert_tenant(&t).await.unwrap();
        let victim = bare_user(&t, Some("victim@example.com"), Some("victim"), None);
        let decomposed = bare_user(&t, Some("jose\u{0301}@example.com"), None, None);
        // Two accounts that only a look-alike letter tells apart, both made before skeletons.
        let twin_a = bare_user(&t, Some("paypal@example.com"), None, None);
        let twin_b = bare_user(&t, Some("p\u{0430}ypal@example.com"), None, None);
        store.insert_user(&victim).await.unwrap();
        store.insert_user(&decomposed).await.unwrap();
        store.insert_user(&twin_a).await.unwrap();
        // The state of a database written by an earlier version: no skeletons, NFD as given.
        let raw = |sql: &'static str| {
            let url = url.clone();
            async move {
                if url.starts_with("sqlite:") {
                    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                    sqlx::query(sql).execute(&mut c).await.unwrap();
                } else {
                    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                    sqlx::query(sql).execute(&mut c).await.unwrap();
                }
            }
        };
        raw("UPDATE users SET email_skeleton = NULL, username_skeleton = NULL").await;
        store.insert_user(&twin_b).await.unwrap();
        raw("UPDATE users SET email_skeleton = NULL, username_skeleton = NULL").await;
        // Undo the migration itself, so that the next start applies it as an upgrade would.
        for sql in [
            "DROP INDEX users_email_skeleton",
            "DROP INDEX users_username_skeleton",
            "ALTER TABLE users DROP COLUMN email_skeleton",
            "ALTER TABLE users DROP COLUMN username_skeleton",
            "DELETE FROM _sqlx_migrations WHERE version = 4",
        ] {
            raw(sql).await;
        }
        store.close().await;

        let store = SqlStore::connect(&url).await.unwrap();
        // The NFD email was put in NFC, so the NFC spelling finds it.
        let nfc = Identifier::Email(Email::parse("jos\u{00E9}@example.com").unwrap());
        assert_eq!(store.user_by_identifier(t.id, &nfc).await.unwrap().map(|u| u.id), Some(decomposed.id), "{engine}");
        // Look-alikes of backfilled users are now refused.
        let look_alike = bare_user(&t, Some("vict\u{0456}m@example.com"), None, None);
        assert!(store.insert_user(&look_alike).await.is_err(), "{engine}");
        let look_alike = bare_user(&t, None, Some("v\u{0456}ctim"), None);
        assert!(store.insert_user(&look_alike).await.is_err(), "{engine}");
        // Of the twins, one holds the skeleton; the other keeps working, updates included.
        let twin_b = store.user_by_id(t.id, twin_b.id).await.unwrap().unwrap();
        store.update_user(&User { active: false, ..twin_b }).await.unwrap();
        let third = bare_user(&t, Some("payp\u{0430}l@example.com"), None, None);
        assert!(store.insert_user(&third).await.is_err(), "{engine}");
        // A second start does not fill in again, and does not fail on the twin.
        store.close().await;
        SqlStore::connect(&url).await.unwrap();
    }
}
