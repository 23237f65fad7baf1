//! WebAuthn credentials, ceremonies and recovery codes.

use castellan_core::model::*;
use castellan_core::store::StoreError;

use super::fixtures::*;

fn credential(u: &User, credential_id: &str, created_at: i64) -> WebauthnCredential {
    WebauthnCredential {
        id: new_id(),
        tenant_id: u.tenant_id,
        user_id: u.id,
        credential_id: credential_id.into(),
        kind: CredentialKind::Passkey,
        name: "Laptop".into(),
        data: "{\"cred\":{}}".into(),
        aaguid: Some("5a5a5a5a-5a5a-5a5a-5a5a-5a5a5a5a5a5a".into()),
        sign_count: 1,
        backup_eligible: false,
        backup_state: false,
        created_at,
        last_used_at: None,
    }
}

fn ceremony(t: &Tenant, user: Option<&User>, hash: u8, expires_at: i64) -> WebauthnCeremony {
    WebauthnCeremony {
        token_hash: vec![hash; 32],
        tenant_id: t.id,
        user_id: user.map(|u| u.id),
        purpose: "sign_in".into(),
        state: "{\"ast\":{}}".into(),
        expires_at,
        created_at: expires_at - 300,
    }
}

pub async fn credentials_are_unique_per_tenant_listed_renamed_and_deleted_by_their_user(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let (alice, bob) = (stored_user(&store, &t).await, stored_user(&store, &t).await);
    let first = credential(&alice, "cred-a", 10);
    let second = credential(&alice, "cred-b", 20);
    store.insert_credential(&second).await.unwrap();
    store.insert_credential(&first).await.unwrap();
    assert_eq!(store.credentials_of(t.id, alice.id).await.unwrap(), vec![first.clone(), second.clone()], "oldest first");
    assert!(store.credentials_of(t.id, bob.id).await.unwrap().is_empty());
    assert_eq!(store.credential_by_credential_id(t.id, "cred-a").await.unwrap(), Some(first.clone()));
    assert_eq!(store.credential_by_credential_id(other.id, "cred-a").await.unwrap(), None, "no cross-tenant reads");
    // One authenticator credential per tenant, whoever registers it.
    let clash = store.insert_credential(&credential(&bob, "cred-a", 30)).await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    let other_user = stored_user(&store, &other).await;
    store.insert_credential(&credential(&other_user, "cred-a", 30)).await.unwrap();
    // Renames and deletes are the owner's only.
    assert!(!store.rename_credential(t.id, bob.id, first.id, "Stolen").await.unwrap());
    assert!(store.rename_credential(t.id, alice.id, first.id, "Phone").await.unwrap());
    assert_eq!(store.credential_by_credential_id(t.id, "cred-a").await.unwrap().unwrap().name, "Phone");
    assert!(!store.delete_credential(t.id, bob.id, first.id).await.unwrap());
    assert!(!store.delete_credential(other.id, alice.id, first.id).await.unwrap());
    assert!(store.delete_credential(t.id, alice.id, first.id).await.unwrap());
    assert!(!store.delete_credential(t.id, alice.id, first.id).await.unwrap(), "deleted once");
    assert_eq!(store.credential_by_credential_id(t.id, "cred-a").await.unwrap(), None);
    // A user's deletion takes their credentials with it.
    assert!(store.delete_user(t.id, alice.id).await.unwrap());
    assert_eq!(store.credential_by_credential_id(t.id, "cred-b").await.unwrap(), None);
}

pub async fn a_credential_use_is_recorded_only_when_its_counter_moves_forward(store: Db) {
    let t = stored_tenant(&store).await;
    let u = stored_user(&store, &t).await;
    let c = credential(&u, "cred", 10);
    store.insert_credential(&c).await.unwrap();
    let used = |n: u32, at: i64| CredentialUse { sign_count: n, backup_state: true, data: format!("{{\"n\":{n}}}"), at };
    assert!(store.record_credential_use(t.id, c.id, &used(5, 100)).await.unwrap());
    let now = store.credential_by_credential_id(t.id, "cred").await.unwrap().unwrap();
    assert_eq!((now.sign_count, now.backup_state, now.last_used_at, now.data.as_str()), (5, true, Some(100), "{\"n\":5}"));
    assert!(!store.record_credential_use(t.id, c.id, &used(5, 101)).await.unwrap(), "the same counter twice");
    assert!(!store.record_credential_use(t.id, c.id, &used(3, 102)).await.unwrap(), "a counter that went back");
    assert_eq!(store.credential_by_credential_id(t.id, "cred").await.unwrap().unwrap().last_used_at, Some(100));
    // Of concurrent uses with one counter value, one is recorded.
    let (u1, u2) = (used(9, 103), used(9, 104));
    let (a, b) = tokio::join!(store.record_credential_use(t.id, c.id, &u1), store.record_credential_use(t.id, c.id, &u2));
    assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|x| **x).count(), 1);
    // An authenticator without a counter (0 then, 0 now) is recorded each time.
    let zero = WebauthnCredential { sign_count: 0, ..credential(&u, "synced", 11) };
    store.insert_credential(&zero).await.unwrap();
    assert!(store.record_credential_use(t.id, zero.id, &used(0, 105)).await.unwrap());
    assert!(store.record_credential_use(t.id, zero.id, &used(0, 106)).await.unwrap());
}

pub async fn a_ceremony_is_taken_once_within_its_tenant_and_not_after_it_expires(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let u = stored_user(&store, &t).await;
    let c = ceremony(&t, Some(&u), 1, 1000);
    store.insert_ceremony(&c, 700).await.unwrap();
    assert!(store.take_ceremony(other.id, &c.token_hash, 800).await.unwrap().is_none(), "not another tenant's");
    let (a, b) = tokio::join!(store.take_ceremony(t.id, &c.token_hash, 800), store.take_ceremony(t.id, &c.token_hash, 800));
    let taken: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(taken.len(), 1, "one winner");
    assert_eq!((taken[0].user_id, taken[0].state.as_str(), taken[0].purpose.as_str()), (Some(u.id), "{\"ast\":{}}", "sign_in"));
    // An expired one is not given, and is gone.
    let late = ceremony(&t, None, 2, 1000);
    store.insert_ceremony(&late, 700).await.unwrap();
    assert!(store.take_ceremony(t.id, &late.token_hash, 1000).await.unwrap().is_none());
    assert!(store.take_ceremony(t.id, &late.token_hash, 900).await.unwrap().is_none(), "spent by the late try");
    assert!(store.insert_ceremony(&ceremony(&t, None, 3, 1000), 700).await.is_ok());
}

pub async fn recovery_codes_are_replaced_whole_and_each_spent_once(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let (u, v) = (stored_user(&store, &t).await, stored_user(&store, &t).await);
    let hashes: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 32]).collect();
    store.replace_recovery_codes(t.id, u.id, &hashes, 5).await.unwrap();
    assert_eq!(store.recovery_codes_left(t.id, u.id).await.unwrap(), 10);
    assert!(!store.spend_recovery_code(t.id, v.id, &hashes[0], 6).await.unwrap(), "not another user's");
    assert!(!store.spend_recovery_code(other.id, u.id, &hashes[0], 6).await.unwrap(), "not another tenant's");
    let (a, b) =
        tokio::join!(store.spend_recovery_code(t.id, u.id, &hashes[0], 6), store.spend_recovery_code(t.id, u.id, &hashes[0], 6));
    assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|x| **x).count(), 1, "one winner");
    assert_eq!(store.recovery_codes_left(t.id, u.id).await.unwrap(), 9);
    // New codes void every old one.
    let fresh: Vec<Vec<u8>> = (20..30u8).map(|i| vec![i; 32]).collect();
    store.replace_recovery_codes(t.id, u.id, &fresh, 7).await.unwrap();
    assert!(!store.spend_recovery_code(t.id, u.id, &hashes[1], 8).await.unwrap());
    assert_eq!(store.recovery_codes_left(t.id, u.id).await.unwrap(), 10);
    assert_eq!(store.recovery_codes_left(t.id, v.id).await.unwrap(), 0);
    assert!(store.delete_user(t.id, u.id).await.unwrap());
    assert_eq!(store.recovery_codes_left(t.id, u.id).await.unwrap(), 0);
}
