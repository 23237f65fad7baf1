//! Hosted verifications and their result callbacks.

use castellan_core::model::*;

use super::fixtures::*;

pub async fn verifications_are_found_within_their_tenant_and_listed_newest_first(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let (a, b) = (stored_app(&store, &t).await, stored_app(&store, &t).await);
    let u = stored_user(&store, &t).await;
    let made: Vec<Verification> = [10, 30, 20, 30].into_iter().map(|at| verification(&a, &u, at)).collect();
    for v in &made {
        store.insert_verification(v).await.unwrap();
    }
    store.insert_verification(&verification(&b, &u, 40)).await.unwrap();
    assert_eq!(store.verification(t.id, made[0].id).await.unwrap().as_ref(), Some(&made[0]));
    assert_eq!(store.verification(other.id, made[0].id).await.unwrap(), None, "no cross-tenant reads");
    assert_eq!(store.locate_verification(made[0].id).await.unwrap().as_ref(), Some(&made[0]), "located by id alone");
    assert_eq!(store.locate_verification(new_id()).await.unwrap(), None);
    let list = |limit| {
        let store = store.clone();
        let (tenant, app) = (t.id, a.id);
        async move { store.list_verifications(tenant, app, limit).await.unwrap().into_iter().map(|v| v.id).collect::<Vec<_>>() }
    };
    assert_eq!(list(10).await, [made[3].id, made[1].id, made[2].id, made[0].id]);
    assert_eq!(list(2).await, [made[3].id, made[1].id]);
    assert!(list(0).await.is_empty());
    assert!(store.list_verifications(other.id, a.id, 10).await.unwrap().is_empty(), "no cross-tenant reads");
    // An id is stored once; a verification of a user who is not there is refused.
    assert_eq!(conflict(store.insert_verification(&made[0]).await), None);
    assert!(store.insert_verification(&verification(&a, &user(&t, "ghost@example.com"), 1)).await.is_err());
}

pub async fn a_verification_moves_once_and_finishes_in_a_final_state(store: Db) {
    use VerificationStatus::*;
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let a = stored_app(&store, &t).await;
    let u = stored_user(&store, &t).await;
    let v = verification(&a, &u, 1);
    store.insert_verification(&v).await.unwrap();
    assert!(!store.move_verification(other.id, v.id, Pending, Verified, None, 5).await.unwrap(), "no cross-tenant writes");
    assert!(!store.move_verification(t.id, v.id, Verified, Succeeded, None, 5).await.unwrap(), "only from where it is");
    let won = winners(20, |i| {
        let store = store.clone();
        let (tenant, id) = (t.id, v.id);
        async move { store.move_verification(tenant, id, Pending, Verified, Some(&format!("192.0.2.{i}")), 5).await.unwrap() }
    })
    .await;
    assert_eq!(won, 1, "one concurrent caller moves it");
    let verified = store.verification(t.id, v.id).await.unwrap().unwrap();
    assert_eq!((verified.status, verified.finished_at), (Verified, None), "verified is not final");
    assert!(verified.ip.as_deref().unwrap().starts_with("192.0.2."));
    // No address given: the recorded one stays. A final state records the end.
    assert!(store.move_verification(t.id, v.id, Verified, Succeeded, None, 9).await.unwrap());
    let done = store.verification(t.id, v.id).await.unwrap().unwrap();
    assert_eq!((done.status, done.finished_at, done.ip), (Succeeded, Some(9), verified.ip));
    for final_state in [Rejected, TimedOut, Failed] {
        let w = verification(&a, &u, 1);
        store.insert_verification(&w).await.unwrap();
        assert!(store.move_verification(t.id, w.id, Pending, final_state, Some("198.51.100.1"), 7).await.unwrap());
        let w = store.verification(t.id, w.id).await.unwrap().unwrap();
        assert_eq!((w.status, w.finished_at, w.ip.as_deref()), (final_state, Some(7), Some("198.51.100.1")));
    }
    // A move back to pending keeps the end it had.
    assert!(store.move_verification(t.id, v.id, Succeeded, Pending, None, 11).await.unwrap());
    assert_eq!(store.verification(t.id, v.id).await.unwrap().unwrap().finished_at, Some(9));
}

pub async fn wrong_codes_count_only_against_a_pending_verification(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let a = stored_app(&store, &t).await;
    let u = stored_user(&store, &t).await;
    let v = verification(&a, &u, 1);
    store.insert_verification(&v).await.unwrap();
    assert_eq!(store.fail_verification(t.id, v.id, Some("192.0.2.1")).await.unwrap(), Some(1));
    assert_eq!(store.fail_verification(t.id, v.id, None).await.unwrap(), Some(2));
    assert_eq!(store.verification(t.id, v.id).await.unwrap().unwrap().ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(store.fail_verification(other.id, v.id, None).await.unwrap(), None, "no cross-tenant writes");
    assert_eq!(store.fail_verification(t.id, new_id(), None).await.unwrap(), None);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            let (tenant, id) = (t.id, v.id);
            tokio::spawn(async move { store.fail_verification(tenant, id, None).await.unwrap().unwrap() })
        })
        .collect();
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.unwrap());
    }
    counts.sort();
    assert_eq!(counts, (3..=12).collect::<Vec<u32>>(), "each concurrent wrong code counted once");
    store.move_verification(t.id, v.id, VerificationStatus::Pending, VerificationStatus::Rejected, None, 5).await.unwrap();
    assert_eq!(store.fail_verification(t.id, v.id, None).await.unwrap(), None, "not pending");
    assert_eq!(store.verification(t.id, v.id).await.unwrap().unwrap().tries, 12);
}

pub async fn a_verification_has_one_callback(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let a = stored_app(&store, &t).await;
    let u = stored_user(&store, &t).await;
    let v = verification(&a, &u, 1);
    store.insert_verification(&v).await.unwrap();
    assert_eq!(store.callback_of(t.id, v.id).await.unwrap(), None);
    let c = Callback { last_error: Some("none yet".into()), last_status: Some(0), ..callback(&v, 1_000) };
    store.insert_callback(&c).await.unwrap();
    assert_eq!(store.callback_of(t.id, v.id).await.unwrap().as_ref(), Some(&c));
    assert_eq!(store.callback_of(other.id, v.id).await.unwrap(), None, "no cross-tenant reads");
    // A second one for the same verification, however concurrent, is a conflict.
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            let second = callback(&v, 2_000);
            tokio::spawn(async move { store.insert_callback(&second).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(conflict(task.await.unwrap()), None);
    }
    assert_eq!(store.callback_of(t.id, v.id).await.unwrap().as_ref(), Some(&c));
    // A callback of an application that is not there is refused.
    let w = verification(&a, &u, 2);
    store.insert_verification(&w).await.unwrap();
    assert!(store.insert_callback(&Callback { application_id: new_id().into(), ..callback(&w, 1) }).await.is_err());
}

pub async fn callbacks_are_leased_once_until_their_try_is_recorded(store: Db) {
    let t = stored_tenant(&store).await;
    let a = stored_app(&store, &t).await;
    let u = stored_user(&store, &t).await;
    let mut made = Vec::new();
    for due in [300, 100, 200] {
        let v = verification(&a, &u, 1);
        store.insert_verification(&v).await.unwrap();
        let c = callback(&v, due);
        store.insert_callback(&c).await.unwrap();
        made.push(c);
    }
    assert!(store.claim_callbacks(99, 1_000, 10).await.unwrap().is_empty(), "none due");
    // A limit takes the one due first; each lease counts a try.
    let first = store.claim_callbacks(250, 1_000, 1).await.unwrap();
    assert_eq!(first, [Callback { tries: 1, ..made[1].clone() }]);
    assert!(store.claim_callbacks(250, 1_000, 0).await.unwrap().is_empty());
    // Concurrent claimers: each due callback to one of them at most; a later claim takes the
    // rest.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.claim_callbacks(300, 1_000, 10).await.unwrap() })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.extend(task.await.unwrap().into_iter().map(|c| c.id));
    }
    ids.extend(store.claim_callbacks(300, 1_000, 10).await.unwrap().into_iter().map(|c| c.id));
    ids.sort();
    let mut expected = vec![made[0].id, made[2].id];
    expected.sort();
    assert_eq!(ids, expected, "the leased one is not claimed again");
    // The lease runs until its time.
    assert!(store.claim_callbacks(999, 2_000, 10).await.unwrap().is_empty());
    assert_eq!(store.claim_callbacks(1_000, 2_000, 10).await.unwrap().len(), 3);
    // A try that asks for another: pending again, due at its time, the lease lifted.
    store.record_callback_try(made[1].id, CallbackStatus::Pending, 1_500, Some(503), Some("busy"), 9).await.unwrap();
    let retried = store.callback_of(t.id, made[1].verification_id).await.unwrap().unwrap();
    assert_eq!(
        (retried.status, retried.next_attempt_ms, retried.last_status, retried.last_error.as_deref(), retried.finished_at),
        (CallbackStatus::Pending, 1_500, Some(503), Some("busy"), None)
    );
    assert!(store.claim_callbacks(1_499, 5_000, 10).await.unwrap().is_empty());
    assert_eq!(store.claim_callbacks(1_500, 5_000, 10).await.unwrap()[0].tries, 3);
    // A delivered or failed try is final: its end is recorded, the last answer replaced.
    store.record_callback_try(made[1].id, CallbackStatus::Delivered, 1_600, Some(200), None, 10).await.unwrap();
    store.record_callback_try(made[0].id, CallbackStatus::Failed, 1_600, None, Some("refused"), 11).await.unwrap();
    let delivered = store.callback_of(t.id, made[1].verification_id).await.unwrap().unwrap();
    assert_eq!(
        (delivered.status, delivered.last_status, delivered.last_error, delivered.finished_at),
        (CallbackStatus::Delivered, Some(200), None, Some(10))
    );
    let failed = store.callback_of(t.id, made[0].verification_id).await.unwrap().unwrap();
    assert_eq!((failed.status, failed.last_status, failed.finished_at), (CallbackStatus::Failed, None, Some(11)));
    assert_eq!(
        store.claim_callbacks(10_000, 20_000, 10).await.unwrap().into_iter().map(|c| c.id).collect::<Vec<_>>(),
        [made[2].id]
    );
    // Recording a try of a callback that is not there changes nothing.
    store.record_callback_try(new_id(), CallbackStatus::Delivered, 0, None, None, 12).await.unwrap();
}
