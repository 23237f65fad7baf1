//! Applications, their API keys and callback secrets.

use castellan_core::model::*;

use super::fixtures::*;

pub async fn applications_are_found_by_id_client_id_and_alias_within_their_tenant(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let a = aliased(&t, &[(Dialect::Kumusoft, "TAG1"), (Dialect::Mosip, "mosip-app")]);
    store.insert_application(&a).await.unwrap();
    assert_eq!(store.application_by_id(t.id, a.id).await.unwrap().as_ref(), Some(&a));
    assert_eq!(store.application_by_client_id(t.id, &a.client_id).await.unwrap().as_ref(), Some(&a));
    assert_eq!(store.application_by_id(other.id, a.id).await.unwrap(), None, "no cross-tenant reads");
    assert_eq!(store.application_by_client_id(other.id, &a.client_id).await.unwrap(), None);
    // Aliases select the tenant: they are looked up server-wide, each in its dialect.
    let by = |dialect, alias: &'static str| {
        let store = store.clone();
        async move { store.application_by_alias(dialect, alias).await.unwrap() }
    };
    assert_eq!(by(Dialect::Kumusoft, "TAG1").await.as_ref(), Some(&a));
    assert_eq!(by(Dialect::Mosip, "mosip-app").await.as_ref(), Some(&a));
    assert_eq!(by(Dialect::Kumusoft, "tag1").await, None, "aliases match exactly");
    assert_eq!(by(Dialect::Mosip, "TAG1").await, None, "an alias belongs to its dialect");
    assert_eq!(by(Dialect::Korastratum, "TAG1").await, None);
    // Listed by creation time, then id, with their aliases.
    let later = Application { created_at: 5, ..app(&t) };
    let earlier = Application { created_at: 0, ..aliased(&t, &[(Dialect::Kumusoft, "EARLY")]) };
    let same_time = Application { created_at: 5, ..app(&t) };
    for x in [&later, &earlier, &same_time] {
        store.insert_application(x).await.unwrap();
    }
    store.insert_application(&aliased(&other, &[(Dialect::Mosip, "theirs")])).await.unwrap();
    let listed = store.list_applications(t.id).await.unwrap();
    let (first, second) = if later.id < same_time.id { (&later, &same_time) } else { (&same_time, &later) };
    assert_eq!(listed, [earlier, a, first.clone(), second.clone()]);
}

/// An update naming `a`'s id in `other` leaves `a` as it is, aliases included.
async fn an_update_keeps_nothing_of_another_tenant(store: Db, a: &Application, other: &Tenant) {
    let mut foreign = Application { tenant_id: other.id, name: "hijacked".into(), ..a.clone() };
    foreign.aliases.insert(Dialect::Kumusoft, "HIJACKED".into());
    store.update_application(&foreign).await.unwrap();
    assert_eq!(store.application_by_id(a.tenant_id, a.id).await.unwrap().as_ref(), Some(a));
    assert_eq!(store.application_by_alias(Dialect::Kumusoft, "HIJACKED").await.unwrap(), None);
    // Nor does an update of an application that is not there write anything.
    store.update_application(&Application { id: new_id().into(), ..foreign }).await.unwrap();
    assert_eq!(store.application_by_alias(Dialect::Kumusoft, "HIJACKED").await.unwrap(), None);
}

pub async fn an_application_update_keeps_its_client_id_kind_and_creation_time(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let a = stored_app(&store, &t).await;
    let changed = Application {
        client_id: "renamed".into(),
        name: "Renamed".into(),
        kind: ApplicationKind::Service,
        secret_hash: None,
        roles: vec![],
        allowed_ips: vec!["192.0.2.0/24".into(), "::1".into()],
        callback_url: None,
        redirect_uris: vec![],
        single_otp_channel: true,
        hosted_webauthn: true,
        active: false,
        created_at: 77,
        ..aliased(&t, &[(Dialect::Kumusoft, "NEWTAG"), (Dialect::Mosip, "new-app")])
    };
    let changed = Application { id: a.id, ..changed };
    store.update_application(&changed).await.unwrap();
    let stored = store.application_by_id(t.id, a.id).await.unwrap().unwrap();
    assert_eq!(stored, Application { client_id: a.client_id.clone(), kind: a.kind, created_at: a.created_at, ..changed.clone() });
    assert_eq!(store.application_by_alias(Dialect::Kumusoft, "NEWTAG").await.unwrap().map(|x| x.id), Some(a.id));
    // An alias left out of an update is dropped, and free for another application.
    let fewer = Application { aliases: [(Dialect::Mosip, "new-app".to_string())].into(), ..stored.clone() };
    store.update_application(&fewer).await.unwrap();
    assert_eq!(store.application_by_id(t.id, a.id).await.unwrap().as_ref(), Some(&fewer));
    assert_eq!(store.application_by_alias(Dialect::Kumusoft, "NEWTAG").await.unwrap(), None);
    store.insert_application(&aliased(&other, &[(Dialect::Kumusoft, "NEWTAG")])).await.unwrap();
    // Another tenant's update of the same id touches nothing.
    an_update_keeps_nothing_of_another_tenant(store.clone(), &fewer, &other).await;
    // The callback secret is not the update's to change.
    store.set_callback_secret(t.id, a.id, b"sealed").await.unwrap();
    store.update_application(&fewer).await.unwrap();
    assert_eq!(store.callback_secret(t.id, a.id).await.unwrap().as_deref(), Some(&b"sealed"[..]));
}

pub async fn application_keys_clash_by_field_across_tenants(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let a = aliased(&t, &[(Dialect::Kumusoft, "TAG"), (Dialect::Mosip, "APP")]);
    store.insert_application(&a).await.unwrap();
    // Client ids and aliases are unique server-wide, not per tenant.
    let same_client = Application { client_id: a.client_id.clone(), ..app(&other) };
    assert_eq!(conflict(store.insert_application(&same_client).await), ConflictOn::ClientId);
    let same_tag = aliased(&other, &[(Dialect::Kumusoft, "TAG")]);
    assert_eq!(conflict(store.insert_application(&same_tag).await), ConflictOn::Alias(Dialect::Kumusoft));
    let same_app_id = aliased(&other, &[(Dialect::Kumusoft, "FREE"), (Dialect::Mosip, "APP")]);
    assert_eq!(conflict(store.insert_application(&same_app_id).await), ConflictOn::Alias(Dialect::Mosip));
    let both = aliased(&other, &[(Dialect::Kumusoft, "TAG"), (Dialect::Mosip, "APP")]);
    assert_eq!(conflict(store.insert_application(&both).await), ConflictOn::Alias(Dialect::Kumusoft), "the first alias written");
    let client_and_alias = Application { client_id: a.client_id.clone(), ..aliased(&other, &[(Dialect::Kumusoft, "TAG")]) };
    assert_eq!(
        conflict(store.insert_application(&client_and_alias).await),
        ConflictOn::ClientId,
        "the application before its aliases"
    );
    let same_id = Application { id: a.id, ..app(&t) };
    assert_eq!(conflict(store.insert_application(&same_id).await), ConflictOn::Other);
    // A refused application is not stored, nor any of its aliases.
    assert_eq!(store.application_by_id(other.id, same_app_id.id).await.unwrap(), None);
    assert_eq!(store.application_by_alias(Dialect::Kumusoft, "FREE").await.unwrap(), None);
    store.insert_application(&aliased(&other, &[(Dialect::Kumusoft, "FREE")])).await.unwrap();
    // One name may serve two dialects; applications without aliases never clash on them.
    store.insert_application(&aliased(&other, &[(Dialect::Kumusoft, "APP")])).await.unwrap();
    store.insert_application(&app(&t)).await.unwrap();
    store.insert_application(&app(&other)).await.unwrap();
    // An update that takes another application's alias is refused and changes nothing, its own
    // aliases included.
    let b = aliased(&other, &[(Dialect::Mosip, "B-APP")]);
    store.insert_application(&b).await.unwrap();
    let taking = Application { name: "taken".into(), ..aliased(&other, &[(Dialect::Kumusoft, "TAG"), (Dialect::Mosip, "B-2")]) };
    let taking = Application { id: b.id, ..taking };
    assert_eq!(conflict(store.update_application(&taking).await), ConflictOn::Alias(Dialect::Kumusoft));
    let taking = Application { id: b.id, ..aliased(&other, &[(Dialect::Mosip, "APP")]) };
    assert_eq!(conflict(store.update_application(&taking).await), ConflictOn::Alias(Dialect::Mosip));
    assert_eq!(store.application_by_id(other.id, b.id).await.unwrap().as_ref(), Some(&b));
    assert_eq!(store.application_by_alias(Dialect::Mosip, "B-APP").await.unwrap().map(|x| x.id), Some(b.id));
    // Keeping one's own aliases is no clash.
    store.update_application(&Application { name: "same aliases".into(), ..a.clone() }).await.unwrap();
    assert_eq!(store.application_by_alias(Dialect::Kumusoft, "TAG").await.unwrap().map(|x| x.name), Some("same aliases".into()));
}

pub async fn api_keys_resolve_until_revoked_and_the_newest_prefix_shows(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let a = stored_app(&store, &t).await;
    assert_eq!(store.api_key_prefix(t.id, a.id).await.unwrap(), None);
    store.insert_api_key(t.id, a.id, "old_", b"hash-old", 10).await.unwrap();
    store.insert_api_key(t.id, a.id, "new_", b"hash-new", 20).await.unwrap();
    // A key is resolved by its HMAC alone, whatever the tenant.
    assert_eq!(store.application_by_api_key(b"hash-old").await.unwrap().as_ref(), Some(&a));
    assert_eq!(store.application_by_api_key(b"hash-new").await.unwrap().as_ref(), Some(&a));
    assert_eq!(store.application_by_api_key(b"hash-none").await.unwrap(), None);
    assert_eq!(store.api_key_prefix(t.id, a.id).await.unwrap().as_deref(), Some("new_"));
    assert_eq!(store.api_key_prefix(other.id, a.id).await.unwrap(), None, "no cross-tenant reads");
    // Two keys of one second: the one stored last shows.
    store.insert_api_key(t.id, a.id, "last_", b"hash-last", 20).await.unwrap();
    assert_eq!(store.api_key_prefix(t.id, a.id).await.unwrap().as_deref(), Some("last_"));
    // A key hash is stored once.
    assert_eq!(conflict(store.insert_api_key(t.id, a.id, "dup_", b"hash-old", 30).await), ConflictOn::Other);
    // Another tenant cannot revoke them.
    store.revoke_api_keys(other.id, a.id, 40).await.unwrap();
    assert!(store.application_by_api_key(b"hash-old").await.unwrap().is_some());
    store.revoke_api_keys(t.id, a.id, 40).await.unwrap();
    for hash in [&b"hash-old"[..], b"hash-new", b"hash-last"] {
        assert_eq!(store.application_by_api_key(hash).await.unwrap(), None);
    }
    assert_eq!(store.api_key_prefix(t.id, a.id).await.unwrap(), None);
    // A key issued after the revocation works.
    store.insert_api_key(t.id, a.id, "next_", b"hash-next", 50).await.unwrap();
    assert_eq!(store.api_key_prefix(t.id, a.id).await.unwrap().as_deref(), Some("next_"));
    // A key of an application that is not there is refused.
    assert!(store.insert_api_key(t.id, new_id().into(), "x_", b"hash-orphan", 60).await.is_err());
}

pub async fn callback_secrets_belong_to_one_application_of_one_tenant(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let (a, b) = (stored_app(&store, &t).await, stored_app(&store, &t).await);
    assert_eq!(store.callback_secret(t.id, a.id).await.unwrap(), None);
    store.set_callback_secret(t.id, a.id, b"first").await.unwrap();
    store.set_callback_secret(t.id, a.id, b"second").await.unwrap();
    assert_eq!(store.callback_secret(t.id, a.id).await.unwrap().as_deref(), Some(&b"second"[..]));
    assert_eq!(store.callback_secret(t.id, b.id).await.unwrap(), None);
    assert_eq!(store.callback_secret(other.id, a.id).await.unwrap(), None, "no cross-tenant reads");
    store.set_callback_secret(other.id, a.id, b"foreign").await.unwrap();
    assert_eq!(store.callback_secret(t.id, a.id).await.unwrap().as_deref(), Some(&b"second"[..]), "no cross-tenant writes");
    assert_eq!(store.callback_secret(t.id, new_id().into()).await.unwrap(), None);
}

pub async fn sealed_client_secrets_belong_to_one_application_and_can_be_forgotten(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let (a, b) = (stored_app(&store, &t).await, stored_app(&store, &t).await);
    assert_eq!(store.client_secret_seal(t.id, a.id).await.unwrap(), None);
    store.set_client_secret_seal(t.id, a.id, Some(b"sealed")).await.unwrap();
    assert_eq!(store.client_secret_seal(t.id, a.id).await.unwrap().as_deref(), Some(&b"sealed"[..]));
    assert_eq!(store.client_secret_seal(t.id, b.id).await.unwrap(), None);
    assert_eq!(store.client_secret_seal(other.id, a.id).await.unwrap(), None, "no cross-tenant reads");
    store.set_client_secret_seal(other.id, a.id, None).await.unwrap();
    assert!(store.client_secret_seal(t.id, a.id).await.unwrap().is_some(), "no cross-tenant writes");
    // Updating the application keeps the seal; clearing forgets it.
    store.update_application(&a).await.unwrap();
    assert!(store.client_secret_seal(t.id, a.id).await.unwrap().is_some());
    store.set_client_secret_seal(t.id, a.id, None).await.unwrap();
    assert_eq!(store.client_secret_seal(t.id, a.id).await.unwrap(), None);
}

pub async fn deleting_an_application_removes_everything_it_owns(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let doomed = aliased(&t, &[(Dialect::Kumusoft, "DOOMED")]);
    store.insert_application(&doomed).await.unwrap();
    let kept = aliased(&t, &[(Dialect::Kumusoft, "KEPT")]);
    store.insert_application(&kept).await.unwrap();
    let u = stored_user(&store, &t).await;
    let mut verifications = Vec::new();
    for (a, hash) in [(&doomed, b"doomed"), (&kept, b"kept!!")] {
        store.insert_api_key(t.id, a.id, "k_", hash, 1).await.unwrap();
        store.upsert_app_totp(&app_totp(a, &u)).await.unwrap();
        let v = verification(a, &u, 1);
        store.insert_verification(&v).await.unwrap();
        store.insert_callback(&callback(&v, 1)).await.unwrap();
        verifications.push(v);
    }
    assert!(!store.delete_application(other.id, doomed.id).await.unwrap(), "another tenant cannot delete it");
    assert!(store.delete_application(t.id, doomed.id).await.unwrap());
    assert!(!store.delete_application(t.id, doomed.id).await.unwrap(), "deleted once");
    assert_eq!(store.application_by_id(t.id, doomed.id).await.unwrap(), None);
    assert_eq!(store.application_by_alias(Dialect::Kumusoft, "DOOMED").await.unwrap(), None);
    assert_eq!(store.application_by_api_key(b"doomed").await.unwrap(), None);
    assert_eq!(store.app_totp(t.id, doomed.id, u.id).await.unwrap(), None);
    assert_eq!(store.locate_verification(verifications[0].id).await.unwrap(), None);
    assert_eq!(store.callback_of(t.id, verifications[0].id).await.unwrap(), None);
    // The other application and the user keep theirs.
    assert!(store.application_by_api_key(b"kept!!").await.unwrap().is_some());
    assert_eq!(store.application_by_alias(Dialect::Kumusoft, "KEPT").await.unwrap().as_ref(), Some(&kept));
    assert!(store.app_totp(t.id, kept.id, u.id).await.unwrap().is_some());
    assert!(store.locate_verification(verifications[1].id).await.unwrap().is_some());
    assert!(store.callback_of(t.id, verifications[1].id).await.unwrap().is_some());
    assert!(store.user_by_id(t.id, u.id).await.unwrap().is_some());
    // The alias is free again.
    store.insert_application(&aliased(&other, &[(Dialect::Kumusoft, "DOOMED")])).await.unwrap();
}
