//! Upgrades that move data: a database written by an earlier version starts on this one with
//! nothing lost. Run on SQLite and, when CASTELLAN_TEST_DATABASE_URL is set, PostgreSQL.
#![allow(clippy::unwrap_used)]

use castellan_core::model::*;
use castellan_core::store::prelude::*;
use castellan_core::store::{ConflictOn, StoreError};
use castellan_store::SqlStore;
use castellan_testkit::contract::fixtures;
use sqlx::Connection;

async fn engine_urls() -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("castellan-upgrade-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut urls = vec![format!("sqlite://{}", dir.join("u.db").display())];
    match std::env::var("CASTELLAN_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let name = format!("castellan_upgrade_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
            let base = &url[..url.rfind('/').unwrap()];
            urls.push(format!("{base}/{name}"));
        }
        _ => println!("skipped: no PostgreSQL (set CASTELLAN_TEST_DATABASE_URL to run the upgrade there too)"),
    }
    urls
}

async fn raw(url: &str, sql: &str) {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    }
}

fn app(t: &Tenant, client_id: &str) -> Application {
    let kind = ApplicationKind::Public;
    Application { client_id: client_id.into(), name: client_id.into(), kind, secret_hash: None, ..fixtures::app(t) }
}

#[tokio::test]
async fn kumusoft_tags_and_mosip_app_ids_of_columns_become_aliases_on_upgrade() {
    for url in engine_urls().await {
        let store = SqlStore::connect(&url).await.unwrap();
        let engine = store.engine();
        let t = Tenant {
            id: new_id().into(),
            slug: "upgraded".into(),
            display_name: "U".into(),
            profile: Profile::Dialect(Dialect::Kumusoft),
            dialects: vec![Dialect::Kumusoft, Dialect::Mosip],
            issuer: "i".into(),
            audience: "a".into(),
            policy: Policy::of_dialect(Dialect::Kumusoft),
            created_at: 1,
        };
        store.insert_tenant(&t).await.unwrap();
        let tagged = app(&t, "portal");
        let mosip = app(&t, "ida");
        let plain = app(&t, "plain");
        for a in [&tagged, &mosip, &plain] {
            store.insert_application(a).await.unwrap();
        }
        // The state of a database written before the aliases table: the aliases in their columns.
        for sql in [
            "DROP TABLE application_aliases".to_string(),
            "DELETE FROM _sqlx_migrations WHERE version = 5".to_string(),
            format!("UPDATE applications SET kumusoft_tag = 'PORTAL_TAG' WHERE id = '{}'", tagged.id),
            format!("UPDATE applications SET mosip_app_id = 'ida' WHERE id = '{}'", mosip.id),
        ] {
            raw(&url, &sql).await;
        }
        store.close().await;

        let store = SqlStore::connect(&url).await.unwrap();
        let found = store.application_by_alias(Dialect::Kumusoft, "PORTAL_TAG").await.unwrap();
        assert_eq!(found.map(|a| a.id), Some(tagged.id), "{engine}");
        let found = store.application_by_alias(Dialect::Mosip, "ida").await.unwrap().unwrap();
        assert_eq!(found.id, mosip.id, "{engine}");
        assert_eq!(found.alias(Dialect::Mosip), Some("ida"), "{engine}");
        assert_eq!(store.application_by_alias(Dialect::Kumusoft, "ida").await.unwrap(), None, "{engine}");
        let listed = store.list_applications(t.id).await.unwrap();
        let aliases: Vec<_> = listed.iter().map(|a| (a.client_id.as_str(), a.aliases.clone())).collect();
        assert_eq!(
            aliases,
            vec![
                ("portal", [(Dialect::Kumusoft, "PORTAL_TAG".to_string())].into()),
                ("ida", [(Dialect::Mosip, "ida".to_string())].into()),
                ("plain", Default::default()),
            ],
            "{engine}"
        );
        // The moved aliases stay unique: another application cannot take one.
        let mut thief = app(&t, "thief");
        thief.aliases.insert(Dialect::Kumusoft, "PORTAL_TAG".into());
        assert!(
            matches!(store.insert_application(&thief).await, Err(StoreError::Conflict(ConflictOn::Alias(Dialect::Kumusoft)))),
            "{engine}"
        );
        assert_eq!(
            store.application_by_client_id(t.id, "thief").await.unwrap(),
            None,
            "{engine}: a refused write leaves nothing"
        );
        store.close().await;
    }
}

#[tokio::test]
async fn a_session_of_a_dialect_this_version_does_not_know_leaves_the_others_listed() {
    for url in engine_urls().await {
        let store = SqlStore::connect(&url).await.unwrap();
        let engine = store.engine();
        let t = Tenant {
            id: new_id().into(),
            slug: "sessions".into(),
            display_name: "S".into(),
            profile: Profile::Dialect(Dialect::Korastratum),
            dialects: vec![Dialect::Korastratum],
            issuer: "i".into(),
            audience: "a".into(),
            policy: Policy::of_dialect(Dialect::Korastratum),
            created_at: 1,
        };
        store.insert_tenant(&t).await.unwrap();
        let u = fixtures::user(&t, "s@example.com");
        store.insert_user(&u).await.unwrap();
        for dialect in [Dialect::Korastratum, Dialect::Korastratum] {
            let s = Session {
                id: SessionId::new(),
                tenant_id: t.id,
                user_id: u.id,
                application_id: None,
                dialect,
                device: serde_json::json!({}),
                ip: None,
                user_agent: None,
                created_at: 1,
                last_active: 1,
                expires_at: i64::MAX / 2,
                revoked_at: None,
            };
            store.insert_session(&s).await.unwrap();
        }
        // As an earlier version could write it.
        let sql = format!(
            "UPDATE sessions SET dialect = 'unknown' WHERE id IN (SELECT id FROM sessions WHERE user_id = '{}' ORDER BY id LIMIT 1)",
            u.id
        );
        raw(&url, &sql).await;
        let listed = store.list_live_sessions(t.id, u.id, 2).await.unwrap();
        assert_eq!(listed.len(), 1, "{engine}");
        store.close().await;
    }
}
