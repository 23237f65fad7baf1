//! Challenges: one-time codes and emailed secrets bound to a user.

use castellan_core::model::*;
use serde_json::json;

use super::fixtures::*;

pub async fn challenges_are_found_by_id_by_secret_and_located_across_tenants(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let u = stored_user(&store, &t).await;
    let c = challenge(&u, ChallengeKind::PasswordReset, b"secret");
    store.insert_challenge(&c).await.unwrap();
    assert_eq!(store.challenge_by_id(t.id, c.id).await.unwrap().as_ref(), Some(&c));
    assert_eq!(store.challenge_by_id(other.id, c.id).await.unwrap(), None, "no cross-tenant reads");
    assert_eq!(store.locate_challenge(c.id).await.unwrap().as_ref(), Some(&c), "located by id alone");
    assert_eq!(store.locate_challenge(new_id()).await.unwrap(), None);
    let by_secret = |tenant, kind, secret: &'static [u8]| {
        let store = store.clone();
        async move { store.challenge_by_secret(tenant, kind, secret).await.unwrap().map(|c| c.id) }
    };
    assert_eq!(by_secret(t.id, ChallengeKind::PasswordReset, b"secret").await, Some(c.id));
    assert_eq!(by_secret(t.id, ChallengeKind::EmailVerification, b"secret").await, None, "the kind is part of the key");
    assert_eq!(by_secret(t.id, ChallengeKind::PasswordReset, b"other").await, None);
    assert_eq!(by_secret(other.id, ChallengeKind::PasswordReset, b"secret").await, None, "no cross-tenant reads");
    // An id is stored once.
    assert_eq!(conflict(store.insert_challenge(&c).await), ConflictOn::Other);
    // A challenge of a user who is not there is refused.
    assert!(store.insert_challenge(&challenge(&user(&t, "ghost@example.com"), ChallengeKind::OtpLogin, b"g")).await.is_err());
}

pub async fn a_challenge_is_consumed_once_while_unexpired_with_tries_left(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let u = stored_user(&store, &t).await;
    let c = challenge(&u, ChallengeKind::MfaPending, b"c");
    store.insert_challenge(&c).await.unwrap();
    assert!(!store.consume_challenge(other.id, c.id, 10).await.unwrap(), "no cross-tenant writes");
    let won = winners(20, |_| {
        let store = store.clone();
        let (tenant, id) = (t.id, c.id);
        async move { store.consume_challenge(tenant, id, 10).await.unwrap() }
    })
    .await;
    assert_eq!(won, 1);
    assert_eq!(store.challenge_by_id(t.id, c.id).await.unwrap().unwrap().consumed_at, Some(10));
    assert!(!store.consume_challenge(t.id, c.id, 11).await.unwrap(), "spent once");
    // An expired challenge is not spent: it expires at its time.
    let expired = challenge(&u, ChallengeKind::MfaPending, b"e");
    store.insert_challenge(&expired).await.unwrap();
    assert!(!store.consume_challenge(t.id, expired.id, expired.expires_at).await.unwrap());
    assert!(store.consume_challenge(t.id, expired.id, expired.expires_at - 1).await.unwrap());
    // Each wrong try counts; with none left the challenge is not spent.
    let tried = challenge(&u, ChallengeKind::OtpLogin, b"t");
    store.insert_challenge(&tried).await.unwrap();
    for n in 1..=3 {
        assert_eq!(store.fail_challenge(t.id, tried.id).await.unwrap(), n);
    }
    assert!(!store.consume_challenge(t.id, tried.id, 10).await.unwrap());
    assert_eq!(store.fail_challenge(other.id, tried.id).await.unwrap(), u32::MAX, "another tenant's is no challenge");
    assert_eq!(store.fail_challenge(t.id, new_id()).await.unwrap(), u32::MAX, "no challenge: no tries left");
    assert_eq!(store.challenge_by_id(t.id, tried.id).await.unwrap().unwrap().attempts, 3);
    // Concurrent wrong tries are each counted.
    let counted = challenge(&u, ChallengeKind::OtpLogin, b"n");
    store.insert_challenge(&counted).await.unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            let (tenant, id) = (t.id, counted.id);
            tokio::spawn(async move { store.fail_challenge(tenant, id).await.unwrap() })
        })
        .collect();
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.unwrap());
    }
    counts.sort();
    assert_eq!(counts, (1..=10).collect::<Vec<u32>>());
}

pub async fn a_challenge_code_is_reissued_once_and_not_after_it_is_spent(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let u = stored_user(&store, &t).await;
    let c = challenge(&u, ChallengeKind::OtpLogin, b"code-1");
    store.insert_challenge(&c).await.unwrap();
    let data = json!({"resent": 1});
    assert!(
        !store.reissue_challenge(other.id, c.id, b"code-1", b"code-x", 2_000, &data).await.unwrap(),
        "no cross-tenant writes"
    );
    assert!(!store.reissue_challenge(t.id, c.id, b"wrong", b"code-x", 2_000, &data).await.unwrap(), "only the current code");
    let won =
        winners(10, |i| {
            let (store, data) = (store.clone(), data.clone());
            let (tenant, id) = (t.id, c.id);
            async move {
                store.reissue_challenge(tenant, id, b"code-1", format!("code-2-{i}").as_bytes(), 2_000, &data).await.unwrap()
            }
        })
        .await;
    assert_eq!(won, 1, "a concurrent re-issue wins once");
    let reissued = store.challenge_by_id(t.id, c.id).await.unwrap().unwrap();
    assert!(reissued.secret_hash.starts_with(b"code-2-"));
    assert_eq!((reissued.expires_at, &reissued.data, reissued.attempts), (2_000, &data, 0));
    assert_eq!(store.challenge_by_secret(t.id, c.kind, b"code-1").await.unwrap(), None, "the old code is gone");
    assert_eq!(store.challenge_by_secret(t.id, c.kind, &reissued.secret_hash).await.unwrap().map(|x| x.id), Some(c.id));
    assert!(store.consume_challenge(t.id, c.id, 10).await.unwrap());
    let current = reissued.secret_hash.clone();
    assert!(!store.reissue_challenge(t.id, c.id, &current, b"code-3", 3_000, &data).await.unwrap(), "a spent challenge");
}

pub async fn spending_a_users_challenges_spends_only_that_kind(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let (u, v) = (stored_user(&store, &t).await, stored_user(&store, &t).await);
    let resets = [challenge(&u, ChallengeKind::PasswordReset, b"r1"), challenge(&u, ChallengeKind::PasswordReset, b"r2")];
    let verify = challenge(&u, ChallengeKind::EmailVerification, b"v1");
    let others = challenge(&v, ChallengeKind::PasswordReset, b"r3");
    let spent = Challenge { consumed_at: Some(3), ..challenge(&u, ChallengeKind::PasswordReset, b"r4") };
    for c in resets.iter().chain([&verify, &others, &spent]) {
        store.insert_challenge(c).await.unwrap();
    }
    store.consume_user_challenges(other.id, u.id, ChallengeKind::PasswordReset, 5).await.unwrap();
    assert_eq!(store.challenge_by_id(t.id, resets[0].id).await.unwrap().unwrap().consumed_at, None, "no cross-tenant writes");
    store.consume_user_challenges(t.id, u.id, ChallengeKind::PasswordReset, 5).await.unwrap();
    let consumed_at = |c: &Challenge| {
        let (store, id) = (store.clone(), c.id);
        async move { store.challenge_by_id(t.id, id).await.unwrap().unwrap().consumed_at }
    };
    assert_eq!(consumed_at(&resets[0]).await, Some(5));
    assert_eq!(consumed_at(&resets[1]).await, Some(5));
    assert_eq!(consumed_at(&spent).await, Some(3), "a spent one keeps its time");
    assert_eq!(consumed_at(&verify).await, None, "another kind");
    assert_eq!(consumed_at(&others).await, None, "another user");
}
