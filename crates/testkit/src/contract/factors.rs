//! TOTP factors: the user's own, and per-application ones of hosted verification.

use castellan_core::model::*;

use super::fixtures::*;

pub async fn a_totp_factor_is_replaced_enabled_and_deleted_within_its_tenant(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let u = stored_user(&store, &t).await;
    assert_eq!(store.totp_by_user(t.id, u.id).await.unwrap(), None);
    let f = totp(&u);
    store.upsert_totp(&f).await.unwrap();
    assert_eq!(store.totp_by_user(t.id, u.id).await.unwrap().as_ref(), Some(&f));
    assert_eq!(store.totp_by_user(other.id, u.id).await.unwrap(), None, "no cross-tenant reads");
    // Enrolling again replaces every part of the factor.
    let again = TotpFactor {
        secret_sealed: vec![3; 32],
        algorithm: "SHA512".into(),
        digits: 8,
        period: 60,
        enabled: false,
        last_step: Some(5),
        created_at: 7,
        ..f.clone()
    };
    store.upsert_totp(&again).await.unwrap();
    assert_eq!(store.totp_by_user(t.id, u.id).await.unwrap().as_ref(), Some(&again));
    store.enable_totp(other.id, u.id).await.unwrap();
    assert!(!store.totp_by_user(t.id, u.id).await.unwrap().unwrap().enabled, "no cross-tenant writes");
    store.enable_totp(t.id, u.id).await.unwrap();
    assert_eq!(store.totp_by_user(t.id, u.id).await.unwrap(), Some(TotpFactor { enabled: true, ..again }));
    assert!(!store.delete_totp(other.id, u.id).await.unwrap());
    assert!(store.delete_totp(t.id, u.id).await.unwrap());
    assert!(!store.delete_totp(t.id, u.id).await.unwrap(), "deleted once");
    assert_eq!(store.totp_by_user(t.id, u.id).await.unwrap(), None);
    // Enabling a factor that is not there makes none.
    store.enable_totp(t.id, u.id).await.unwrap();
    assert_eq!(store.totp_by_user(t.id, u.id).await.unwrap(), None);
    // A factor of a user who is not there is refused.
    assert!(store.upsert_totp(&totp(&user(&t, "ghost@example.com"))).await.is_err());
}

pub async fn a_totp_step_is_accepted_once_and_never_an_older_one(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let u = stored_user(&store, &t).await;
    assert!(!store.advance_totp_step(t.id, u.id, 1).await.unwrap(), "no factor, no step");
    store.upsert_totp(&totp(&u)).await.unwrap();
    assert!(store.advance_totp_step(t.id, u.id, 100).await.unwrap());
    assert!(!store.advance_totp_step(t.id, u.id, 100).await.unwrap(), "a replay");
    assert!(!store.advance_totp_step(t.id, u.id, 99).await.unwrap(), "an older step");
    assert!(!store.advance_totp_step(other.id, u.id, 101).await.unwrap(), "no cross-tenant writes");
    let won = winners(20, |_| {
        let store = store.clone();
        let (tenant, user) = (t.id, u.id);
        async move { store.advance_totp_step(tenant, user, 101).await.unwrap() }
    })
    .await;
    assert_eq!(won, 1, "one of concurrent uses of a step");
    assert_eq!(store.totp_by_user(t.id, u.id).await.unwrap().unwrap().last_step, Some(101));
}

pub async fn application_totp_factors_belong_to_one_application_and_user(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let (a, b) = (stored_app(&store, &t).await, stored_app(&store, &t).await);
    let u = stored_user(&store, &t).await;
    let f = app_totp(&a, &u);
    store.upsert_app_totp(&f).await.unwrap();
    assert_eq!(store.app_totp(t.id, a.id, u.id).await.unwrap().as_ref(), Some(&f));
    assert_eq!(store.app_totp(t.id, b.id, u.id).await.unwrap(), None, "each application enrols its own");
    assert_eq!(store.app_totp(other.id, a.id, u.id).await.unwrap(), None, "no cross-tenant reads");
    let again = AppTotpFactor {
        secret_sealed: vec![4; 20],
        algorithm: "SHA1".into(),
        digits: 6,
        period: 30,
        last_step: Some(3),
        created_at: 9,
        ..f
    };
    store.upsert_app_totp(&again).await.unwrap();
    assert_eq!(store.app_totp(t.id, a.id, u.id).await.unwrap().as_ref(), Some(&again));
    store.upsert_app_totp(&app_totp(&b, &u)).await.unwrap();
    assert!(!store.delete_app_totp(other.id, a.id, u.id).await.unwrap());
    assert!(store.delete_app_totp(t.id, a.id, u.id).await.unwrap());
    assert!(!store.delete_app_totp(t.id, a.id, u.id).await.unwrap(), "deleted once");
    assert_eq!(store.app_totp(t.id, a.id, u.id).await.unwrap(), None);
    assert!(store.app_totp(t.id, b.id, u.id).await.unwrap().is_some(), "the other application's stays");
    // A factor of an application that is not there is refused.
    assert!(store.upsert_app_totp(&app_totp(&app(&t), &u)).await.is_err());
}

pub async fn an_application_totp_step_is_accepted_once_and_never_an_older_one(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let (a, b) = (stored_app(&store, &t).await, stored_app(&store, &t).await);
    let u = stored_user(&store, &t).await;
    assert!(!store.advance_app_totp_step(t.id, a.id, u.id, 1).await.unwrap(), "no factor, no step");
    store.upsert_app_totp(&app_totp(&a, &u)).await.unwrap();
    store.upsert_app_totp(&app_totp(&b, &u)).await.unwrap();
    assert!(store.advance_app_totp_step(t.id, a.id, u.id, 100).await.unwrap());
    assert!(!store.advance_app_totp_step(t.id, a.id, u.id, 100).await.unwrap(), "a replay");
    assert!(!store.advance_app_totp_step(t.id, a.id, u.id, 50).await.unwrap(), "an older step");
    assert!(store.advance_app_totp_step(t.id, b.id, u.id, 100).await.unwrap(), "each application counts its own");
    assert!(!store.advance_app_totp_step(other.id, a.id, u.id, 101).await.unwrap(), "no cross-tenant writes");
    let won = winners(20, |_| {
        let store = store.clone();
        let (tenant, app, user) = (t.id, a.id, u.id);
        async move { store.advance_app_totp_step(tenant, app, user, 101).await.unwrap() }
    })
    .await;
    assert_eq!(won, 1, "one of concurrent uses of a step");
    assert_eq!(store.app_totp(t.id, a.id, u.id).await.unwrap().unwrap().last_step, Some(101));
}
