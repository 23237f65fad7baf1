//! One-time codes by key.

use castellan_core::model::*;

use super::fixtures::*;

pub async fn key_codes_freeze_at_the_limit_and_are_spent_once(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let now = 1_000;
    assert!(store.put_key_otp(&key_otp(&t, b"k", b"s1", now), now).await.unwrap());
    // A replacement resets the tries and the code.
    store.fail_key_otp(t.id, b"k", b"s1", None).await.unwrap();
    let replacement = KeyOtp { application_id: Some(new_id().into()), ..key_otp(&t, b"k", b"s2", now) };
    assert!(store.put_key_otp(&replacement, now).await.unwrap());
    assert_eq!(store.key_otp(t.id, b"k").await.unwrap().as_ref(), Some(&replacement));
    assert_eq!(store.key_otp(other.id, b"k").await.unwrap(), None, "no cross-tenant reads");
    // A wrong try against a replaced code, or another tenant's, counts nothing.
    assert!(store.fail_key_otp(t.id, b"k", b"s1", Some(now + 900)).await.unwrap().is_none());
    assert!(store.fail_key_otp(other.id, b"k", b"s2", Some(now + 900)).await.unwrap().is_none());
    for n in 1..=3u32 {
        let row = store.fail_key_otp(t.id, b"k", b"s2", Some(now + 900)).await.unwrap().unwrap();
        assert_eq!(row.attempts, n);
        assert_eq!(row.frozen_until, (n == 3).then_some(now + 900), "try {n}");
    }
    assert_eq!(store.key_otp(t.id, b"k").await.unwrap().unwrap().frozen_until, Some(now + 900));
    // Frozen: no new code, nothing spent, until the freeze ends.
    assert!(!store.put_key_otp(&key_otp(&t, b"k", b"s3", now + 10), now + 10).await.unwrap());
    assert_eq!(store.key_otp(t.id, b"k").await.unwrap().unwrap().secret_hash, b"s2", "nothing written");
    assert!(!store.consume_key_otp(t.id, b"k", b"s2", now + 10).await.unwrap());
    assert!(store.put_key_otp(&key_otp(&t, b"k", b"s4", now + 900), now + 900).await.unwrap(), "the freeze ends at its time");
    let fresh = store.key_otp(t.id, b"k").await.unwrap().unwrap();
    assert_eq!((fresh.attempts, fresh.frozen_until), (0, None));
    // A try past the limit without a freeze leaves the code unfrozen but spent of tries.
    for _ in 0..3 {
        store.fail_key_otp(t.id, b"k", b"s4", None).await.unwrap();
    }
    assert_eq!(store.key_otp(t.id, b"k").await.unwrap().unwrap().frozen_until, None);
    assert!(!store.consume_key_otp(t.id, b"k", b"s4", now + 901).await.unwrap(), "no tries left");
    // Twenty concurrent spenders: one winner; the code is gone.
    assert!(store.put_key_otp(&key_otp(&t, b"k", b"s5", now + 901), now + 901).await.unwrap());
    assert!(!store.consume_key_otp(other.id, b"k", b"s5", now + 902).await.unwrap(), "no cross-tenant writes");
    assert!(!store.consume_key_otp(t.id, b"k", b"s4", now + 902).await.unwrap(), "only the current code");
    let won = winners(20, |_| {
        let (store, tenant) = (store.clone(), t.id);
        async move { store.consume_key_otp(tenant, b"k", b"s5", now + 902).await.unwrap() }
    })
    .await;
    assert_eq!(won, 1);
    assert_eq!(store.key_otp(t.id, b"k").await.unwrap(), None);
    // An expired code is not spent: it expires at its time.
    assert!(store.put_key_otp(&key_otp(&t, b"e", b"x", now), now).await.unwrap());
    assert!(!store.consume_key_otp(t.id, b"e", b"x", now + 180).await.unwrap());
    assert!(store.consume_key_otp(t.id, b"e", b"x", now + 179).await.unwrap());
    // A code stored frozen is not spent before its freeze ends, and is from its end on.
    let frozen = KeyOtp { frozen_until: Some(now + 30), ..key_otp(&t, b"f", b"z", now) };
    assert!(store.put_key_otp(&frozen, now).await.unwrap());
    assert!(!store.consume_key_otp(t.id, b"f", b"z", now + 29).await.unwrap());
    assert!(store.consume_key_otp(t.id, b"f", b"z", now + 30).await.unwrap());
    // A code for a user who is not there is refused.
    let ghost = KeyOtp { user_id: Some(new_id().into()), ..key_otp(&t, b"g", b"x", now) };
    assert!(store.put_key_otp(&ghost, now).await.is_err());
}

pub async fn the_latest_code_of_a_key_is_found_across_tenants_pending_first(store: Db) {
    let now = 1_000;
    let t = stored_tenant(&store).await;
    assert!(store.put_key_otp(&key_otp(&t, b"e", b"x", now), now).await.unwrap());
    assert_eq!(store.latest_key_otp(b"e", now).await.unwrap().map(|o| o.tenant_id), Some(t.id));
    assert_eq!(store.latest_key_otp(b"none", now).await.unwrap(), None);
    let other = stored_tenant(&store).await;
    assert!(store.put_key_otp(&key_otp(&other, b"e", b"y", now + 5), now + 5).await.unwrap());
    assert_eq!(store.latest_key_otp(b"e", now + 6).await.unwrap().unwrap().tenant_id, other.id);
    // A pending code comes before a newer one that has expired.
    let third = stored_tenant(&store).await;
    let short = KeyOtp { expires_at: now + 8, ..key_otp(&third, b"e", b"z", now + 7) };
    assert!(store.put_key_otp(&short, now + 7).await.unwrap());
    assert_eq!(store.latest_key_otp(b"e", now + 7).await.unwrap().unwrap().tenant_id, third.id);
    assert_eq!(store.latest_key_otp(b"e", now + 8).await.unwrap().unwrap().tenant_id, other.id, "expired at its time");
    // When all have expired, the newest.
    assert_eq!(store.latest_key_otp(b"e", now + 500).await.unwrap().unwrap().tenant_id, third.id);
    // Issued in the same second, the one that lasts longer.
    let fourth = stored_tenant(&store).await;
    let longer = KeyOtp { expires_at: now + 9_000, created_at: now + 7, ..key_otp(&fourth, b"e", b"w", now + 7) };
    assert!(store.put_key_otp(&longer, now + 7).await.unwrap());
    assert_eq!(store.latest_key_otp(b"e", now + 7).await.unwrap().unwrap().tenant_id, fourth.id);
}

pub async fn a_new_code_sweeps_away_long_dead_codes_of_other_keys(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let now = 10_000;
    // Expired an hour and more before the next code: gone with it, whatever the tenant.
    let dead = KeyOtp { expires_at: now - 3_601, ..key_otp(&other, b"dead", b"x", now - 4_000) };
    // Expired, but less than an hour before: kept.
    let recent = KeyOtp { expires_at: now - 3_600, ..key_otp(&t, b"recent", b"x", now - 4_000) };
    // Expired long ago but frozen until lately: kept while its freeze is recent.
    let frozen = KeyOtp { expires_at: now - 5_000, frozen_until: Some(now - 3_600), ..key_otp(&t, b"frozen", b"x", now - 6_000) };
    let thawed = KeyOtp { expires_at: now - 5_000, frozen_until: Some(now - 3_601), ..key_otp(&t, b"thawed", b"x", now - 6_000) };
    for o in [&dead, &recent, &frozen, &thawed] {
        assert!(store.put_key_otp(o, o.created_at).await.unwrap());
    }
    assert!(store.put_key_otp(&key_otp(&t, b"new", b"x", now), now).await.unwrap());
    assert_eq!(store.key_otp(other.id, b"dead").await.unwrap(), None);
    assert_eq!(store.key_otp(t.id, b"thawed").await.unwrap(), None);
    assert!(store.key_otp(t.id, b"recent").await.unwrap().is_some());
    assert!(store.key_otp(t.id, b"frozen").await.unwrap().is_some());
    assert!(store.key_otp(t.id, b"new").await.unwrap().is_some());
}
