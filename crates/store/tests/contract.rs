//! The storage contract, run on SQLite and, when CASTELLAN_TEST_DATABASE_URL is set, PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use castellan_core::model::audit::AuditFilter;
use castellan_core::model::*;
use castellan_core::store::AttemptReservation;
use castellan_core::store::prelude::*;
use castellan_store::SqlStore;
use serde_json::json;
use sqlx::Connection;

async fn engines() -> Vec<Arc<SqlStore>> {
    let mut stores = Vec::new();
    for url in engine_urls().await {
        stores.push(Arc::new(SqlStore::connect(&url).await.unwrap()));
    }
    stores
}

/// A fresh, empty database per engine: a SQLite file, and a PostgreSQL database when
/// CASTELLAN_TEST_DATABASE_URL is set.
async fn engine_urls() -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("castellan-contract-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut urls = vec![format!("sqlite://{}", dir.join("c.db").display())];
    match std::env::var("CASTELLAN_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let name = format!("castellan_contract_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
            let base = &url[..url.rfind('/').unwrap()];
            urls.push(format!("{base}/{name}"));
        }
        _ => println!("skipped: no PostgreSQL (set CASTELLAN_TEST_DATABASE_URL to run the contract there too)"),
    }
    urls
}

fn tenant() -> Tenant {
    Tenant {
        id: new_id(),
        slug: format!("t{}", &new_id().simple().to_string()[20..]),
        display_name: "T".into(),
        profile: Profile::Korastratum,
        dialects: vec![Dialect::Korastratum],
        issuer: "i".into(),
        audience: "a".into(),
        policy: Policy::korastratum(),
        created_at: 1,
    }
}

fn user(t: &Tenant, email: &str) -> User {
    User {
        id: new_id(),
        tenant_id: t.id,
        email: Some(email.into()),
        username: None,
        phone: None,
        password_hash: Some("$argon2id$x".into()),
        first_name: None,
        last_name: None,
        role: "user".into(),
        roles: vec![],
        permissions: vec!["p".into()],
        attributes: json!({"uin": "1"}),
        email_verified: false,
        phone_verified: false,
        active: true,
        mfa_enabled: false,
        created_at: 1,
        updated_at: 1,
    }
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
async fn tenants_and_users_round_trip_and_uniqueness_holds_per_tenant() {
    for store in engines().await {
        let (a, b) = (tenant(), tenant());
        store.insert_tenant(&a).await.unwrap();
        store.insert_tenant(&b).await.unwrap();
        assert_eq!(store.tenant_by_slug(&a.slug).await.unwrap(), Some(a.clone()));
        assert!(matches!(store.insert_tenant(&a).await, Err(castellan_core::store::StoreError::Conflict(_))));
        let u = user(&a, "x@example.com");
        store.insert_user(&u).await.unwrap();
        assert_eq!(store.user_by_id(a.id, u.id).await.unwrap(), Some(u.clone()));
        let email = Identifier::Email(Email::parse("x@example.com").unwrap());
        assert_eq!(store.user_by_identifier(a.id, &email).await.unwrap().map(|x| x.id), Some(u.id));
        assert!(store.user_by_identifier(b.id, &email).await.unwrap().is_none());
        assert!(store.insert_user(&user(&a, "x@example.com")).await.is_err(), "{}", store.engine());
        store.insert_user(&user(&b, "x@example.com")).await.unwrap();
        assert!(store.user_by_id(b.id, u.id).await.unwrap().is_none(), "no cross-tenant reads");
    }
}

#[tokio::test]
async fn lockout_reservations_stop_at_the_threshold_and_expire() {
    for store in engines().await {
        let t = tenant();
        store.insert_tenant(&t).await.unwrap();
        for n in 1..=3 {
            assert_eq!(store.reserve_attempt(t.id, "s", 3, 100, 50).await.unwrap(), AttemptReservation::Allowed { failures: n });
        }
        assert_eq!(store.reserve_attempt(t.id, "s", 3, 110, 50).await.unwrap(), AttemptReservation::Locked { until: 150 });
        assert_eq!(store.reserve_attempt(t.id, "s", 3, 150, 50).await.unwrap(), AttemptReservation::Allowed { failures: 1 });
        store.clear_attempts(t.id, "s").await.unwrap();
        assert_eq!(store.reserve_attempt(t.id, "s", 3, 151, 50).await.unwrap(), AttemptReservation::Allowed { failures: 1 });
    }
}

#[tokio::test]
async fn a_success_clears_the_counter_unless_later_attempts_locked_the_subject() {
    for store in engines().await {
        let t = tenant();
        store.insert_tenant(&t).await.unwrap();
        // Alone: the success that reached the threshold itself clears its own provisional lock.
        for n in 1..=3 {
            assert_eq!(store.reserve_attempt(t.id, "a", 3, 100, 50).await.unwrap(), AttemptReservation::Allowed { failures: n });
        }
        assert!(store.settle_success(t.id, "a", 3, 101).await.unwrap());
        assert_eq!(store.reserve_attempt(t.id, "a", 3, 102, 50).await.unwrap(), AttemptReservation::Allowed { failures: 1 });
        // Reserved first (1), then two more locked it: the lock stays.
        assert_eq!(store.reserve_attempt(t.id, "b", 3, 100, 50).await.unwrap(), AttemptReservation::Allowed { failures: 1 });
        store.reserve_attempt(t.id, "b", 3, 100, 50).await.unwrap();
        store.reserve_attempt(t.id, "b", 3, 100, 50).await.unwrap();
        assert!(!store.settle_success(t.id, "b", 1, 101).await.unwrap());
        assert_eq!(store.reserve_attempt(t.id, "b", 3, 102, 50).await.unwrap(), AttemptReservation::Locked { until: 150 });
        // Nothing counted: nothing to clear.
        assert!(store.settle_success(t.id, "c", 1, 100).await.unwrap());
    }
}

#[tokio::test]
async fn twenty_concurrent_consumers_of_one_refresh_token_get_one_winner() {
    for store in engines().await {
        let (t, rt) = refresh_fixture(&store, "r@example.com").await;
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.consume_refresh_token(t.id, &[9; 32], 5).await.unwrap().is_some() })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap());
        }
        assert_eq!(winners, 1, "{}", store.engine());
        assert!(store.refresh_token_by_hash(t.id, &rt.token_hash).await.unwrap().unwrap().used_at.is_some());
    }
}

#[tokio::test]
async fn twenty_concurrent_rotations_store_one_successor_and_one_audit_event() {
    for store in engines().await {
        let (t, rt) = refresh_fixture(&store, "rot@example.com").await;
        let tasks: Vec<_> = (0..20u8)
            .map(|i| {
                let store = store.clone();
                let next = RefreshToken { id: new_id(), token_hash: vec![i + 100; 32], used_at: None, ..rt.clone() };
                let event = AuditEvent {
                    id: new_id(),
                    tenant_id: Some(t.id),
                    application_id: None,
                    user_id: None,
                    action: "refresh".into(),
                    outcome: "success".into(),
                    ip: None,
                    user_agent: None,
                    detail: json!({ "by": i }),
                    created_at: 5,
                };
                tokio::spawn(async move { store.rotate_refresh_token(t.id, &[9; 32], 5, &next, &event).await.unwrap().is_some() })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap());
        }
        assert_eq!(winners, 1, "{}", store.engine());
        let mut successors = 0;
        for i in 0..20u8 {
            if store.refresh_token_by_hash(t.id, &[i + 100; 32]).await.unwrap().is_some() {
                successors += 1;
            }
        }
        let filter = AuditFilter { action: Some("refresh".into()), limit: 100, ..AuditFilter::default() };
        let events = store.list_audit(t.id, &filter).await.unwrap();
        assert!(successors == 1 && events.len() == 1, "{}: {successors} successors, {} events", store.engine(), events.len());
    }
}

async fn refresh_fixture(store: &SqlStore, email: &str) -> (Tenant, RefreshToken) {
    {
        let t = tenant();
        store.insert_tenant(&t).await.unwrap();
        let u = user(&t, email);
        store.insert_user(&u).await.unwrap();
        let s = Session {
            id: Session::new_id(),
            tenant_id: t.id,
            user_id: u.id,
            application_id: None,
            dialect: Dialect::Korastratum,
            device: json!({}),
            ip: None,
            user_agent: None,
            created_at: 1,
            last_active: 1,
            expires_at: 1000,
            revoked_at: None,
        };
        store.insert_session(&s).await.unwrap();
        let rt = RefreshToken {
            id: new_id(),
            tenant_id: t.id,
            session_id: s.id.clone(),
            token_hash: vec![9; 32],
            expires_at: 1000,
            used_at: None,
            created_at: 1,
        };
        store.insert_refresh_token(&rt).await.unwrap();
        (t, rt)
    }
}

#[tokio::test]
async fn outbox_messages_are_claimed_once_and_retried() {
    for store in engines().await {
        let m = OutboundMessage {
            id: new_id(),
            tenant_id: None,
            channel: Channel::Email,
            recipient: "a@b.co".into(),
            subject: "s".into(),
            body: "b".into(),
            status: "pending".into(),
            transport: None,
            attempts: 0,
            next_attempt_at: 10,
            last_error: None,
            created_at: 10,
            sent_at: None,
        };
        store.enqueue_message(&m).await.unwrap();
        assert_eq!(store.claim_messages(10, 60, 10).await.unwrap().len(), 1);
        assert!(store.claim_messages(11, 60, 10).await.unwrap().is_empty(), "leased");
        store.mark_message_failed(m.id, "down", Some(20)).await.unwrap();
        assert!(store.claim_messages(15, 60, 10).await.unwrap().is_empty(), "not due yet");
        let again = store.claim_messages(20, 60, 10).await.unwrap();
        assert_eq!(again[0].attempts, 2);
        store.mark_message_sent(m.id, "smtp", 21).await.unwrap();
        assert_eq!(store.list_messages(Some("a@b.co"), Some("smtp"), 5).await.unwrap().len(), 1);
    }
}

fn key_otp(t: &Tenant, key: &[u8], secret: &[u8], now: i64) -> KeyOtp {
    KeyOtp {
        tenant_id: t.id,
        key_hash: key.to_vec(),
        user_id: None,
        application_id: None,
        secret_hash: secret.to_vec(),
        attempts: 0,
        max_attempts: 3,
        expires_at: now + 180,
        frozen_until: None,
        created_at: now,
    }
}

#[tokio::test]
async fn key_codes_freeze_at_the_limit_and_are_spent_once() {
    for store in engines().await {
        let t = tenant();
        store.insert_tenant(&t).await.unwrap();
        let now = 1_000;
        assert!(store.put_key_otp(&key_otp(&t, b"k", b"s1", now), now).await.unwrap());
        // A replacement resets the tries and the code.
        assert!(store.put_key_otp(&key_otp(&t, b"k", b"s2", now), now).await.unwrap());
        assert_eq!(store.key_otp(t.id, b"k").await.unwrap().unwrap().secret_hash, b"s2");
        // A wrong try against a replaced code counts nothing.
        assert!(store.fail_key_otp(t.id, b"k", b"s1", Some(now + 900)).await.unwrap().is_none());
        for n in 1..=3u32 {
            let row = store.fail_key_otp(t.id, b"k", b"s2", Some(now + 900)).await.unwrap().unwrap();
            assert_eq!(row.attempts, n);
            assert_eq!(row.frozen_until, (n == 3).then_some(now + 900), "try {n}");
        }
        // Frozen: no new code, nothing spent, until the freeze ends.
        assert!(!store.put_key_otp(&key_otp(&t, b"k", b"s3", now + 10), now + 10).await.unwrap());
        assert!(!store.consume_key_otp(t.id, b"k", b"s2", now + 10).await.unwrap());
        assert!(store.put_key_otp(&key_otp(&t, b"k", b"s4", now + 901), now + 901).await.unwrap());
        let fresh = store.key_otp(t.id, b"k").await.unwrap().unwrap();
        assert_eq!((fresh.attempts, fresh.frozen_until), (0, None));
        // Twenty concurrent spenders: one winner.
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let s = store.clone();
                let tid = t.id;
                tokio::spawn(async move { s.consume_key_otp(tid, b"k", b"s4", now + 902).await.unwrap() })
            })
            .collect();
        let mut wins = 0;
        for task in tasks {
            wins += usize::from(task.await.unwrap());
        }
        assert_eq!(wins, 1);
        // Expired codes are not spent; the latest code of a key is found across tenants.
        assert!(store.put_key_otp(&key_otp(&t, b"e", b"x", now), now).await.unwrap());
        assert!(!store.consume_key_otp(t.id, b"e", b"x", now + 180).await.unwrap());
        let other = tenant();
        store.insert_tenant(&other).await.unwrap();
        assert!(store.put_key_otp(&key_otp(&other, b"e", b"y", now + 5), now + 5).await.unwrap());
        assert_eq!(store.latest_key_otp(b"e", now + 6).await.unwrap().unwrap().tenant_id, other.id);
        // A pending code comes before a newer one that has expired.
        let third = tenant();
        store.insert_tenant(&third).await.unwrap();
        let mut short = key_otp(&third, b"e", b"z", now + 7);
        short.expires_at = now + 8;
        assert!(store.put_key_otp(&short, now + 7).await.unwrap());
        assert_eq!(store.latest_key_otp(b"e", now + 9).await.unwrap().unwrap().tenant_id, other.id);
        assert_eq!(store.latest_key_otp(b"e", now + 7).await.unwrap().unwrap().tenant_id, third.id);
    }
}

#[tokio::test]
async fn revoked_tokens_are_denied_until_they_expire() {
    for store in engines().await {
        let t = tenant();
        store.insert_tenant(&t).await.unwrap();
        store.revoke_token(t.id, "jti-1", 2_000, 1_000).await.unwrap();
        store.revoke_token(t.id, "jti-1", 2_000, 1_000).await.unwrap();
        assert!(store.token_revoked("jti-1").await.unwrap());
        assert!(!store.token_revoked("jti-2").await.unwrap());
        // An entry past its expiry is dropped by the next revocation.
        store.revoke_token(t.id, "jti-2", 4_000, 2_001).await.unwrap();
        assert!(!store.token_revoked("jti-1").await.unwrap());
        assert!(store.token_revoked("jti-2").await.unwrap());
    }
}

fn event(tenant: Option<uuid::Uuid>, action: &str) -> AuditEvent {
    AuditEvent {
        id: new_id(),
        tenant_id: tenant,
        application_id: None,
        user_id: None,
        action: action.into(),
        outcome: "success".into(),
        ip: None,
        user_agent: None,
        detail: json!({}),
        created_at: 5,
    }
}

#[tokio::test]
async fn an_audit_batch_is_stored_whole_or_not_at_all() {
    for store in engines().await {
        let t = tenant();
        store.insert_tenant(&t).await.unwrap();
        store.insert_audit_batch(&[event(Some(t.id), "a"), event(Some(t.id), "b")]).await.unwrap();
        // A bad event (here: an id already stored) fails the whole batch.
        let mut duplicate = event(Some(t.id), "d");
        duplicate.id = listed_first(&store, &t).await;
        assert!(store.insert_audit_batch(&[event(Some(t.id), "c"), duplicate]).await.is_err());
        let listed = store.list_audit(t.id, &AuditFilter { limit: 10, ..AuditFilter::default() }).await.unwrap();
        let mut actions: Vec<&str> = listed.iter().map(|e| e.action.as_str()).collect();
        actions.sort();
        assert_eq!(actions, ["a", "b"]);
    }
}

#[tokio::test]
async fn events_that_name_no_tenant_are_listed_apart() {
    for store in engines().await {
        let t = tenant();
        store.insert_tenant(&t).await.unwrap();
        let marker = format!("unscoped-{}", uuid::Uuid::new_v4());
        store.insert_audit_batch(&[event(Some(t.id), &marker), event(None, &marker), event(None, "other")]).await.unwrap();
        let filter = AuditFilter { action: Some(marker.clone()), limit: 10, ..AuditFilter::default() };
        let unscoped = store.list_unscoped_audit(&filter).await.unwrap();
        assert!(unscoped.len() == 1 && unscoped[0].tenant_id.is_none(), "{}: {unscoped:?}", store.engine());
        assert_eq!(store.list_audit(t.id, &filter).await.unwrap().len(), 1, "{}", store.engine());
    }
}

async fn listed_first(store: &SqlStore, t: &Tenant) -> uuid::Uuid {
    store.list_audit(t.id, &AuditFilter { limit: 1, ..AuditFilter::default() }).await.unwrap()[0].id
}

#[tokio::test]
async fn the_audit_writer_stores_every_event_of_a_burst_before_they_are_listed() {
    use castellan_core::Core;
    use castellan_core::core::CoreConfig;
    use castellan_core::services::ClientContext;
    for store in engines().await {
        let t = tenant();
        store.insert_tenant(&t).await.unwrap();
        let clock = Arc::new(castellan_core::clock::FakeClock::new(1_000));
        let core = Arc::new(Core::new(store.clone(), clock, &[7u8; 32], CoreConfig::default()).unwrap());
        let ctx = ClientContext::default();
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let core = core.clone();
                let ctx = ctx.clone();
                let tenant = Some(t.id);
                tokio::spawn(async move { core.audit(tenant, None, &format!("burst.{i}"), "success", &ctx, json!({})).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let listed = core.list_audit(&t, AuditFilter { limit: 1000, ..AuditFilter::default() }).await.unwrap();
        assert_eq!(listed.len(), 200);
    }
}

/// A user of `t` with only the identifiers given (and a uin of its own).
fn bare_user(t: &Tenant, email: Option<&str>, username: Option<&str>, phone: Option<&str>) -> User {
    User {
        email: email.map(str::to_string),
        username: username.map(str::to_string),
        phone: phone.map(str::to_string),
        attributes: json!({"uin": new_id().to_string()}),
        ..user(t, "unused@example.com")
    }
}

#[tokio::test]
async fn a_unique_violation_names_the_field_that_clashed() {
    use castellan_core::store::StoreError;
    for store in engines().await {
        let engine = store.engine();
        let t = tenant();
        store.insert_tenant(&t).await.unwrap();
        let first = User {
            attributes: json!({"uin": "U-1"}),
            ..bare_user(&t, Some("a@example.com"), Some("alice"), Some("+256700000001"))
        };
        store.insert_user(&first).await.unwrap();
        let clash = |u: User| {
            let store = store.clone();
            async move {
                match store.insert_user(&u).await {
                    Err(StoreError::Conflict(field)) => field,
                    other => panic!("{engine}: {other:?}"),
                }
            }
        };
        assert_eq!(clash(bare_user(&t, Some("a@example.com"), None, None)).await, Some("email"), "{engine}");
        assert_eq!(clash(bare_user(&t, None, Some("alice"), None)).await, Some("username"), "{engine}");
        assert_eq!(clash(bare_user(&t, None, None, Some("+256700000001"))).await, Some("phone"), "{engine}");
        let same_uin = User { attributes: json!({"uin": "U-1"}), ..bare_user(&t, Some("b@example.com"), None, None) };
        assert_eq!(clash(same_uin).await, Some("uin"), "{engine}");
        // Look-alikes clash on the skeleton, reported as the field it belongs to.
        assert_eq!(clash(bare_user(&t, Some("\u{0430}@example.com"), None, None)).await, Some("email"), "{engine}");
        assert_eq!(clash(bare_user(&t, None, Some("\u{0430}lice"), None)).await, Some("username"), "{engine}");
        // An update that takes another user's phone says so too.
        let second = bare_user(&t, Some("c@example.com"), None, Some("+256700000002"));
        store.insert_user(&second).await.unwrap();
        let taken = User { phone: Some("+256700000001".into()), ..second.clone() };
        assert!(matches!(store.update_user(&taken).await, Err(StoreError::Conflict(Some("phone")))), "{engine}");
        // Another tenant may use all of them.
        let other = tenant();
        store.insert_tenant(&other).await.unwrap();
        store.insert_user(&User { tenant_id: other.id, id: new_id(), ..first.clone() }).await.unwrap();
        let same_slug = Tenant { id: new_id(), ..t.clone() };
        assert!(matches!(store.insert_tenant(&same_slug).await, Err(StoreError::Conflict(Some("slug")))), "{engine}");
    }
}

#[tokio::test]
async fn text_postgresql_cannot_store_is_a_refusal_not_a_backend_failure() {
    use castellan_core::store::StoreError;
    for store in engines().await {
        let t = tenant();
        store.insert_tenant(&t).await.unwrap();
        let found = store.user_by_identifier(t.id, &Identifier::Username("\u{0000}\u{0001}".into())).await;
        match store.engine() {
            "postgres" => assert!(matches!(found, Err(StoreError::InvalidText)), "{found:?}"),
            _ => assert!(matches!(found, Ok(None)), "{found:?}"),
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
