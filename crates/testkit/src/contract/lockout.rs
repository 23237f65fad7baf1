//! Lockout counters.

use castellan_core::store::AttemptReservation::{self, Allowed, Locked};

use super::fixtures::*;

pub async fn lockout_reservations_stop_at_the_threshold_and_expire(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    for n in 1..=3 {
        assert_eq!(store.reserve_attempt(t.id, "s", 3, 100, 50).await.unwrap(), Allowed { failures: n });
    }
    assert_eq!(store.reserve_attempt(t.id, "s", 3, 110, 50).await.unwrap(), Locked { until: 150 });
    // Subjects and tenants count apart.
    assert_eq!(store.reserve_attempt(t.id, "s2", 3, 110, 50).await.unwrap(), Allowed { failures: 1 });
    assert_eq!(store.reserve_attempt(other.id, "s", 3, 110, 50).await.unwrap(), Allowed { failures: 1 });
    // A lock that has run out starts the count again.
    assert_eq!(store.reserve_attempt(t.id, "s", 3, 150, 50).await.unwrap(), Allowed { failures: 1 });
    store.clear_attempts(t.id, "s").await.unwrap();
    assert_eq!(store.reserve_attempt(t.id, "s", 3, 151, 50).await.unwrap(), Allowed { failures: 1 });
    // Another tenant's clear leaves the count.
    store.clear_attempts(other.id, "s").await.unwrap();
    assert_eq!(store.reserve_attempt(t.id, "s", 3, 151, 50).await.unwrap(), Allowed { failures: 2 });
    // A threshold of one locks at the first attempt.
    assert_eq!(store.reserve_attempt(t.id, "one", 1, 200, 10).await.unwrap(), Allowed { failures: 1 });
    assert_eq!(store.reserve_attempt(t.id, "one", 1, 205, 10).await.unwrap(), Locked { until: 210 });
    // A counter of a tenant that is not there is refused.
    assert!(store.reserve_attempt(tenant().id, "s", 3, 100, 50).await.is_err());
}

pub async fn a_success_clears_the_counter_unless_later_attempts_locked_the_subject(store: Db) {
    let t = stored_tenant(&store).await;
    // Alone: the success that reached the threshold itself clears its own provisional lock.
    for n in 1..=3 {
        assert_eq!(store.reserve_attempt(t.id, "a", 3, 100, 50).await.unwrap(), Allowed { failures: n });
    }
    assert!(store.settle_success(t.id, "a", 3, 101).await.unwrap());
    assert_eq!(store.reserve_attempt(t.id, "a", 3, 102, 50).await.unwrap(), Allowed { failures: 1 });
    // Reserved first (1), then two more locked it: the lock stays.
    assert_eq!(store.reserve_attempt(t.id, "b", 3, 100, 50).await.unwrap(), Allowed { failures: 1 });
    store.reserve_attempt(t.id, "b", 3, 100, 50).await.unwrap();
    store.reserve_attempt(t.id, "b", 3, 100, 50).await.unwrap();
    assert!(!store.settle_success(t.id, "b", 1, 101).await.unwrap());
    assert_eq!(store.reserve_attempt(t.id, "b", 3, 102, 50).await.unwrap(), Locked { until: 150 });
    // The success that reached the threshold, with an attempt refused as locked after it: the
    // lock that attempt was told of stays.
    for n in 1..=3 {
        assert_eq!(store.reserve_attempt(t.id, "e", 3, 100, 50).await.unwrap(), Allowed { failures: n });
    }
    assert_eq!(store.reserve_attempt(t.id, "e", 3, 100, 50).await.unwrap(), Locked { until: 150 });
    assert!(!store.settle_success(t.id, "e", 3, 101).await.unwrap());
    assert_eq!(store.locked_until(t.id, "e", 101).await.unwrap(), Some(150));
    // Once that lock has run out, a success clears it.
    assert!(store.settle_success(t.id, "b", 1, 150).await.unwrap());
    assert_eq!(store.reserve_attempt(t.id, "b", 3, 151, 50).await.unwrap(), Allowed { failures: 1 });
    // Below the threshold a success clears whatever was counted.
    store.reserve_attempt(t.id, "d", 3, 100, 50).await.unwrap();
    store.reserve_attempt(t.id, "d", 3, 100, 50).await.unwrap();
    assert!(store.settle_success(t.id, "d", 1, 100).await.unwrap());
    assert_eq!(store.reserve_attempt(t.id, "d", 3, 100, 50).await.unwrap(), Allowed { failures: 1 });
    // Nothing counted: nothing to clear.
    assert!(store.settle_success(t.id, "c", 1, 100).await.unwrap());
}

pub async fn concurrent_attempts_never_slip_past_the_threshold(store: Db) {
    let t = stored_tenant(&store).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.reserve_attempt(t.id, "user:race", 5, 100, 60).await.unwrap() })
        })
        .collect();
    let mut allowed = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            AttemptReservation::Allowed { failures } => allowed.push(failures),
            AttemptReservation::Locked { until } => assert_eq!(until, 160),
        }
    }
    allowed.sort();
    assert_eq!(allowed, [1, 2, 3, 4, 5], "each count handed out once, none past the threshold");
}

pub async fn locked_until_reports_a_running_lock_and_counts_nothing(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    assert_eq!(store.locked_until(t.id, "s", 100).await.unwrap(), None);
    store.reserve_attempt(t.id, "s", 2, 100, 50).await.unwrap();
    assert_eq!(store.locked_until(t.id, "s", 100).await.unwrap(), None, "counted but not locked");
    store.reserve_attempt(t.id, "s", 2, 100, 50).await.unwrap();
    for _ in 0..3 {
        assert_eq!(store.locked_until(t.id, "s", 120).await.unwrap(), Some(150));
    }
    assert_eq!(store.locked_until(t.id, "s", 150).await.unwrap(), None, "a lock ends at its time");
    assert_eq!(store.locked_until(other.id, "s", 120).await.unwrap(), None, "no cross-tenant reads");
    // Asking counted nothing: the lock that ran out starts the count again at one.
    assert_eq!(store.reserve_attempt(t.id, "s", 2, 150, 50).await.unwrap(), Allowed { failures: 1 });
}
