//! Signing keys.

use castellan_core::model::*;

use super::fixtures::*;

pub async fn keys_are_listed_newest_first_per_tenant_and_all_together(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let old = signing_key(&t, "k-old", 10);
    let new_b = SigningKey { alg: KeyAlg::EdDSA, ..signing_key(&t, "k-new-b", 20) };
    let new_a = SigningKey { alg: KeyAlg::HS256, public_jwk: serde_json::json!({}), ..signing_key(&t, "k-new-a", 20) };
    let theirs = SigningKey { alg: KeyAlg::RS256, ..signing_key(&other, "k-theirs", 15) };
    for k in [&old, &new_b, &new_a, &theirs] {
        store.insert_key(k).await.unwrap();
    }
    // Newest first; keys of one second by kid.
    assert_eq!(store.list_keys(t.id).await.unwrap(), [new_a.clone(), new_b.clone(), old.clone()]);
    assert_eq!(store.list_keys(other.id).await.unwrap(), std::slice::from_ref(&theirs));
    assert_eq!(store.list_all_keys().await.unwrap(), [new_a, new_b, theirs, old]);
    // A kid is unique server-wide; a key of a tenant that is not there is refused.
    assert_eq!(conflict(store.insert_key(&signing_key(&other, "k-old", 30)).await), ConflictOn::Other);
    assert!(store.insert_key(&signing_key(&tenant(), "k-orphan", 30)).await.is_err());
}

pub async fn leaving_the_active_state_records_when_a_key_stopped_signing(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    store.insert_key(&signing_key(&t, "k", 10)).await.unwrap();
    let state = || {
        let store = store.clone();
        async move {
            let k = store.list_keys(t.id).await.unwrap().remove(0);
            (k.state, k.retired_at)
        }
    };
    store.set_key_state(other.id, "k", KeyState::Retired, 20).await.unwrap();
    assert_eq!(state().await, (KeyState::Active, None), "no cross-tenant writes");
    store.set_key_state(t.id, "k", KeyState::Retiring, 20).await.unwrap();
    assert_eq!(state().await, (KeyState::Retiring, Some(20)));
    store.set_key_state(t.id, "k", KeyState::Retired, 30).await.unwrap();
    assert_eq!(state().await, (KeyState::Retired, Some(30)));
    store.set_key_state(t.id, "k", KeyState::Active, 40).await.unwrap();
    assert_eq!(state().await, (KeyState::Active, None), "signing again");
    store.set_key_state(t.id, "none", KeyState::Retired, 50).await.unwrap();
    assert_eq!(store.list_all_keys().await.unwrap().len(), 1);
}
