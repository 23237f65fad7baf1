//! The audit log.

use std::sync::Arc;

use castellan_core::model::audit::AuditFilter;
use castellan_core::model::*;
use serde_json::json;

use super::fixtures::*;

pub async fn audit_events_are_listed_newest_first_by_filter_and_limit(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let (alice, bob) = (new_id().into(), new_id().into());
    let at = |created_at: i64, user: Option<UserId>, action: &str| AuditEvent {
        user_id: user,
        application_id: Some(new_id().into()),
        ip: Some("192.0.2.7".into()),
        user_agent: Some("ua".into()),
        detail: json!({"reason": action}),
        created_at,
        ..event(Some(t.id), action)
    };
    let events = [at(10, Some(alice), "login"), at(30, Some(bob), "login"), at(20, Some(alice), "logout"), at(30, None, "login")];
    for e in &events {
        store.insert_audit(e).await.unwrap();
    }
    store.insert_audit(&event(Some(other.id), "login")).await.unwrap();
    let list = |filter: AuditFilter| {
        let store = store.clone();
        async move { store.list_audit(t.id, &filter).await.unwrap() }
    };
    let ids = |listed: Vec<AuditEvent>| listed.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let all = AuditFilter { limit: 100, ..AuditFilter::default() };
    let tied = if events[1].id > events[3].id { [events[1].id, events[3].id] } else { [events[3].id, events[1].id] };
    assert_eq!(ids(list(all.clone()).await), [tied[0], tied[1], events[2].id, events[0].id]);
    assert_eq!(list(all.clone()).await[3], events[0], "stored as given");
    assert_eq!(ids(list(AuditFilter { limit: 1, ..all.clone() }).await), [tied[0]]);
    assert!(ids(list(AuditFilter { limit: 0, ..all.clone() }).await).is_empty());
    assert_eq!(ids(list(AuditFilter { user_id: Some(alice), ..all.clone() }).await), [events[2].id, events[0].id]);
    assert_eq!(ids(list(AuditFilter { action: Some("logout".into()), ..all.clone() }).await), [events[2].id]);
    assert_eq!(
        ids(list(AuditFilter { since: Some(20), ..all.clone() }).await),
        [tied[0], tied[1], events[2].id],
        "from `since` on"
    );
    let both = AuditFilter { user_id: Some(alice), action: Some("login".into()), ..all.clone() };
    assert_eq!(ids(list(both).await), [events[0].id]);
    // An event id is stored once.
    assert_eq!(conflict(store.insert_audit(&events[0]).await), None);
}

pub async fn an_audit_batch_is_stored_whole_or_not_at_all(store: Db) {
    let t = stored_tenant(&store).await;
    store.insert_audit_batch(&[event(Some(t.id), "a"), event(Some(t.id), "b")]).await.unwrap();
    store.insert_audit_batch(&[]).await.unwrap();
    let listed = || {
        let store = store.clone();
        async move {
            let listed = store.list_audit(t.id, &AuditFilter { limit: 10, ..AuditFilter::default() }).await.unwrap();
            let mut actions: Vec<String> = listed.into_iter().map(|e| e.action).collect();
            actions.sort();
            actions
        }
    };
    // A bad event (here: an id already stored) fails the whole batch.
    let mut duplicate = event(Some(t.id), "d");
    duplicate.id = store.list_audit(t.id, &AuditFilter { limit: 1, ..AuditFilter::default() }).await.unwrap()[0].id;
    assert_eq!(conflict(store.insert_audit_batch(&[event(Some(t.id), "c"), duplicate]).await), None);
    // So does an id twice within the batch.
    let twice = event(Some(t.id), "e");
    assert_eq!(conflict(store.insert_audit_batch(&[twice.clone(), event(Some(t.id), "f"), twice]).await), None);
    assert_eq!(listed().await, ["a", "b"]);
}

pub async fn events_that_name_no_tenant_are_listed_apart(store: Db) {
    let t = stored_tenant(&store).await;
    let user = new_id().into();
    let unscoped = [
        AuditEvent { created_at: 1, ..event(None, "api_key") },
        AuditEvent { created_at: 3, user_id: Some(user), ..event(None, "api_key") },
        AuditEvent { created_at: 2, ..event(None, "refresh") },
    ];
    store.insert_audit_batch(&[event(Some(t.id), "api_key")]).await.unwrap();
    store.insert_audit_batch(&unscoped).await.unwrap();
    let list = |filter: AuditFilter| {
        let store = store.clone();
        async move { store.list_unscoped_audit(&filter).await.unwrap().into_iter().map(|e| e.id).collect::<Vec<_>>() }
    };
    let all = AuditFilter { limit: 10, ..AuditFilter::default() };
    assert_eq!(list(all.clone()).await, [unscoped[1].id, unscoped[2].id, unscoped[0].id]);
    assert_eq!(list(AuditFilter { action: Some("api_key".into()), ..all.clone() }).await, [unscoped[1].id, unscoped[0].id]);
    assert_eq!(list(AuditFilter { user_id: Some(user), ..all.clone() }).await, [unscoped[1].id]);
    assert_eq!(list(AuditFilter { since: Some(2), ..all.clone() }).await, [unscoped[1].id, unscoped[2].id]);
    assert_eq!(list(AuditFilter { limit: 1, ..all.clone() }).await, [unscoped[1].id]);
    assert_eq!(store.list_audit(t.id, &all).await.unwrap().len(), 1, "the tenant's own stay apart");
}

pub async fn the_audit_writer_stores_every_event_of_a_burst_before_they_are_listed(store: Db) {
    use castellan_core::Core;
    use castellan_core::core::CoreConfig;
    use castellan_core::services::ClientContext;
    let t = stored_tenant(&store).await;
    let clock = Arc::new(castellan_core::clock::FakeClock::new(1_000));
    let core = Arc::new(Core::new(store.clone(), clock, &[7u8; 32], CoreConfig::default()).unwrap());
    let ctx = ClientContext::default();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let (core, ctx, tenant) = (core.clone(), ctx.clone(), Some(t.id));
            tokio::spawn(async move { core.audit(tenant, None, &format!("burst.{i}"), "success", &ctx, json!({})).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let listed = core.list_audit(&t, AuditFilter { limit: 1000, ..AuditFilter::default() }).await.unwrap();
    assert_eq!(listed.len(), 200);
}
