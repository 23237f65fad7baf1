//! Messages waiting for delivery.

use std::collections::HashSet;

use castellan_core::model::*;

use super::fixtures::*;

pub async fn outbox_messages_are_claimed_once_and_retried(store: Db) {
    let m = message("a@b.co", 10, 10);
    store.enqueue_message(&m).await.unwrap();
    assert!(store.claim_messages(9, 60, 10).await.unwrap().is_empty(), "not due yet");
    let claimed = store.claim_messages(10, 60, 10).await.unwrap();
    assert_eq!(claimed, [OutboundMessage { attempts: 1, ..m.clone() }], "each lease counts a try");
    assert!(store.claim_messages(69, 60, 10).await.unwrap().is_empty(), "leased");
    // A lease that ran out is claimed again.
    assert_eq!(store.claim_messages(70, 60, 10).await.unwrap()[0].attempts, 2);
    store.mark_message_failed(m.id, "down", Some(200)).await.unwrap();
    assert!(store.claim_messages(199, 60, 10).await.unwrap().is_empty(), "not due yet");
    let again = store.claim_messages(200, 60, 10).await.unwrap();
    assert_eq!((again[0].attempts, again[0].last_error.as_deref(), again[0].status.as_str()), (3, Some("down"), "pending"));
    store.mark_message_sent(m.id, "smtp", 201).await.unwrap();
    let sent = store.list_messages(Some("a@b.co"), Some("smtp"), 5).await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].status.as_str(), sent[0].transport.as_deref(), sent[0].sent_at), ("sent", Some("smtp"), Some(201)));
    assert!(store.claim_messages(10_000, 60, 10).await.unwrap().is_empty(), "sent is done");
    // Given up: failed, never claimed again.
    let hopeless = message("c@d.co", 10, 11);
    store.enqueue_message(&hopeless).await.unwrap();
    store.claim_messages(300, 60, 10).await.unwrap();
    store.mark_message_failed(hopeless.id, "gone", None).await.unwrap();
    let failed = store.list_messages(Some("c@d.co"), None, 5).await.unwrap().remove(0);
    assert_eq!((failed.status.as_str(), failed.next_attempt_at, failed.last_error.as_deref()), ("failed", 10, Some("gone")));
    assert!(store.claim_messages(10_000, 60, 10).await.unwrap().is_empty());
    // A message id is stored once.
    assert_eq!(conflict(store.enqueue_message(&m).await), None);
}

pub async fn concurrent_claims_lease_each_message_once_in_due_order(store: Db) {
    let mut made = Vec::new();
    for i in 0..30 {
        let m = OutboundMessage { tenant_id: Some(new_id().into()), ..message(&format!("r{i}@example.com"), 100 - i, 1) };
        store.enqueue_message(&m).await.unwrap();
        made.push(m);
    }
    // A limit takes the ones due first.
    let first: HashSet<_> = store.claim_messages(100, 60, 5).await.unwrap().into_iter().map(|m| m.id).collect();
    assert_eq!(first, made[25..].iter().map(|m| m.id).collect::<HashSet<_>>());
    assert!(store.claim_messages(100, 60, 0).await.unwrap().is_empty());
    // Concurrent claimers lease each remaining message to one of them at most (a claimer that
    // lost a race for a row may come back with fewer than it could have had); the rest is left
    // for the next claim.
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.claim_messages(100, 60, 10).await.unwrap() })
        })
        .collect();
    let mut seen = HashSet::new();
    for task in tasks {
        for m in task.await.unwrap() {
            assert_eq!(m.attempts, 1);
            assert!(seen.insert(m.id), "{} leased twice", m.id);
        }
    }
    for m in store.claim_messages(100, 60, 100).await.unwrap() {
        assert!(seen.insert(m.id), "{} leased twice", m.id);
    }
    assert_eq!(seen.len(), 25);
    assert!(seen.is_disjoint(&first));
}

pub async fn messages_are_listed_newest_first_by_recipient_and_transport(store: Db) {
    let old = message("a@b.co", 1, 10);
    let new = message("a@b.co", 1, 20);
    let tied = message("a@b.co", 1, 20);
    let other = message("x@y.co", 1, 15);
    for m in [&old, &new, &tied, &other] {
        store.enqueue_message(m).await.unwrap();
    }
    store.mark_message_sent(old.id, "smtp", 30).await.unwrap();
    store.mark_message_sent(other.id, "outbox", 30).await.unwrap();
    let list = |to: Option<&'static str>, transport: Option<&'static str>, limit| {
        let store = store.clone();
        async move { store.list_messages(to, transport, limit).await.unwrap().into_iter().map(|m| m.id).collect::<Vec<_>>() }
    };
    assert_eq!(list(None, None, 10).await, [tied.id, new.id, other.id, old.id]);
    assert_eq!(list(None, None, 2).await, [tied.id, new.id]);
    assert!(list(None, None, 0).await.is_empty());
    assert_eq!(list(Some("a@b.co"), None, 10).await, [tied.id, new.id, old.id]);
    assert_eq!(list(None, Some("smtp"), 10).await, [old.id]);
    assert!(list(Some("x@y.co"), Some("smtp"), 10).await.is_empty());
    assert!(list(Some("nobody@b.co"), None, 10).await.is_empty());
}
