//! Tenants, the cascade that deleting one sets off, and the store's ping.

use castellan_core::model::audit::AuditFilter;
use castellan_core::model::*;
use castellan_core::store::StoreError;

use super::fixtures::*;

pub async fn tenants_round_trip_and_list_by_slug(store: Db) {
    let mut made = Vec::new();
    for slug in ["mid", "zulu", "alpha", "alpha-2"] {
        let t = Tenant { slug: slug.into(), ..tenant() };
        store.insert_tenant(&t).await.unwrap();
        made.push(t);
    }
    for t in &made {
        assert_eq!(store.tenant_by_id(t.id).await.unwrap().as_ref(), Some(t));
        assert_eq!(store.tenant_by_slug(&t.slug).await.unwrap().as_ref(), Some(t));
    }
    assert_eq!(store.tenant_by_id(new_id().into()).await.unwrap(), None);
    assert_eq!(store.tenant_by_slug("nobody").await.unwrap(), None);
    let slugs: Vec<String> = store.list_tenants().await.unwrap().into_iter().map(|t| t.slug).collect();
    assert_eq!(slugs, ["alpha", "alpha-2", "mid", "zulu"]);
    // A slug is taken once; an id too (a key the store does not name).
    let same_slug = Tenant { id: new_id().into(), ..made[0].clone() };
    assert_eq!(conflict(store.insert_tenant(&same_slug).await), ConflictOn::Slug);
    let same_id = Tenant { slug: "fresh".into(), ..made[0].clone() };
    assert_eq!(conflict(store.insert_tenant(&same_id).await), ConflictOn::Other);
}

pub async fn an_update_rewrites_what_a_tenant_may_change_and_nothing_else(store: Db) {
    let t = stored_tenant(&store).await;
    let changed = Tenant {
        slug: "renamed".into(),
        display_name: "New name".into(),
        profile: Profile::Dialect(Dialect::Mosip),
        dialects: vec![Dialect::Mosip, Dialect::Korastratum],
        issuer: "new-issuer".into(),
        audience: "new-audience".into(),
        policy: Policy::of_dialect(Dialect::Mosip),
        created_at: 99,
        ..t.clone()
    };
    store.update_tenant(&changed).await.unwrap();
    let stored = store.tenant_by_id(t.id).await.unwrap().unwrap();
    // Slug, profile and creation time stay as they were.
    assert_eq!(stored, Tenant { slug: t.slug.clone(), profile: t.profile, created_at: t.created_at, ..changed });
    // An update of a tenant that is not there writes nothing.
    store.update_tenant(&Tenant { id: new_id().into(), ..t.clone() }).await.unwrap();
    assert_eq!(store.list_tenants().await.unwrap().len(), 1);
}

pub async fn deleting_a_tenant_removes_everything_it_owns_and_nothing_else(store: Db) {
    let (doomed, kept) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let mut owned = Vec::new();
    for t in [&doomed, &kept] {
        let a = aliased(t, &[(Dialect::Mosip, &format!("app-{}", t.id))]);
        store.insert_application(&a).await.unwrap();
        let u = stored_user(&store, t).await;
        let hash = |tag: u8| [&[tag][..], t.id.uuid().as_bytes()].concat();
        store.insert_api_key(t.id, a.id, "ck_", &hash(1), 1).await.unwrap();
        store.set_callback_secret(t.id, a.id, b"sealed").await.unwrap();
        store.upsert_totp(&totp(&u)).await.unwrap();
        store.upsert_app_totp(&app_totp(&a, &u)).await.unwrap();
        let c = challenge(&u, ChallengeKind::OtpLogin, &hash(2));
        store.insert_challenge(&c).await.unwrap();
        let s = session(&u, 1, 1000);
        store.insert_session(&s).await.unwrap();
        store.insert_refresh_token(&refresh_token(&s, &hash(3), 1000)).await.unwrap();
        store.insert_key(&signing_key(t, &format!("kid-{}", t.id), 1)).await.unwrap();
        store.put_key_otp(&key_otp(t, &hash(4), b"s", 1), 1).await.unwrap();
        store.revoke_token(t.id, &format!("jti-{}", t.id), 1000, 1).await.unwrap();
        store.reserve_attempt(t.id, "user:x", 1, 1, 100).await.unwrap();
        let v = verification(&a, &u, 1);
        store.insert_verification(&v).await.unwrap();
        store.insert_callback(&callback(&v, 1)).await.unwrap();
        store.insert_audit(&event(Some(t.id), "kept")).await.unwrap();
        owned.push((t.clone(), a, u, c, s, v, hash(1), hash(3), hash(4)));
    }
    assert!(store.delete_tenant(doomed.id).await.unwrap());
    assert!(!store.delete_tenant(doomed.id).await.unwrap(), "deleted once");
    for (i, (t, a, u, c, s, v, api_key, refresh, key)) in owned.iter().enumerate() {
        let gone = i == 0;
        let present = |found: bool, what: &str| assert_eq!(found, !gone, "{what} of the {} tenant", ["deleted", "kept"][i]);
        present(store.tenant_by_id(t.id).await.unwrap().is_some(), "tenant");
        present(store.application_by_id(t.id, a.id).await.unwrap().is_some(), "application");
        present(store.application_by_alias(Dialect::Mosip, &format!("app-{}", t.id)).await.unwrap().is_some(), "alias");
        present(store.application_by_api_key(api_key).await.unwrap().is_some(), "API key");
        present(store.callback_secret(t.id, a.id).await.unwrap().is_some(), "callback secret");
        present(store.user_by_id(t.id, u.id).await.unwrap().is_some(), "user");
        present(store.totp_by_user(t.id, u.id).await.unwrap().is_some(), "TOTP factor");
        present(store.app_totp(t.id, a.id, u.id).await.unwrap().is_some(), "application TOTP factor");
        present(store.locate_challenge(c.id).await.unwrap().is_some(), "challenge");
        present(store.session_by_id(t.id, &s.id).await.unwrap().is_some(), "session");
        present(store.tenant_of_refresh_token(refresh).await.unwrap().is_some(), "refresh token");
        present(store.latest_key_otp(key, 2).await.unwrap().is_some(), "key code");
        present(store.token_revoked(&format!("jti-{}", t.id)).await.unwrap(), "revoked token");
        present(store.locked_until(t.id, "user:x", 2).await.unwrap().is_some(), "lockout");
        present(store.locate_verification(v.id).await.unwrap().is_some(), "verification");
        present(store.callback_of(t.id, v.id).await.unwrap().is_some(), "callback");
        // The audit log names tenants without belonging to them.
        let filter = AuditFilter { limit: 10, ..AuditFilter::default() };
        assert_eq!(store.list_audit(t.id, &filter).await.unwrap().len(), 1);
    }
    let kids: Vec<String> = store.list_all_keys().await.unwrap().into_iter().map(|k| k.kid).collect();
    assert_eq!(kids, [format!("kid-{}", kept.id)]);
    assert_eq!(store.claim_callbacks(2, 100, 10).await.unwrap().len(), 1, "only the kept tenant's callback is left");
    // A row naming a tenant that is not there is refused, not stored.
    let orphan = key_otp(&doomed, b"orphan", b"s", 3);
    assert!(matches!(store.put_key_otp(&orphan, 3).await, Err(StoreError::Backend { .. })));
    assert!(store.insert_application(&app(&doomed)).await.is_err());
    assert!(store.key_otp(doomed.id, b"orphan").await.unwrap().is_none());
}

pub async fn the_store_answers_a_ping(store: Db) {
    store.ping().await.unwrap();
}
