//! Users and their passwords.

use castellan_core::model::*;
use castellan_core::store::UserFilter;
use serde_json::json;

use super::fixtures::*;

pub async fn users_are_found_by_id_identifier_and_uin_within_their_tenant(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let u = User {
        first_name: Some("Zoë".into()),
        last_name: Some("Ångström".into()),
        roles: vec!["admin".into()],
        attributes: json!({"uin": "UIN-1", "kycLevel": 2, "nested": {"a": [1, 2.5, null]}}),
        email_verified: true,
        mfa_enabled: true,
        ..bare_user(&t, Some("x@example.com"), Some("xavier"), Some("+256700000001"))
    };
    store.insert_user(&u).await.unwrap();
    assert_eq!(store.user_by_id(t.id, u.id).await.unwrap().as_ref(), Some(&u));
    let by = |id: Identifier| {
        let store = store.clone();
        async move { store.user_by_identifier(t.id, &id).await.unwrap().map(|x| x.id) }
    };
    assert_eq!(by(Identifier::Email(Email::parse("x@example.com").unwrap())).await, Some(u.id));
    assert_eq!(by(Identifier::Phone(Phone::parse("+256700000001", "256").unwrap())).await, Some(u.id));
    assert_eq!(by(Identifier::Username("xavier".into())).await, Some(u.id));
    assert_eq!(by(Identifier::Username("x@example.com".into())).await, None, "each identifier in its own column");
    assert_eq!(store.user_by_uin(t.id, "UIN-1").await.unwrap().as_ref(), Some(&u));
    assert_eq!(store.user_by_uin(t.id, "UIN-2").await.unwrap(), None);
    // Nothing of it is visible from another tenant.
    let email = Identifier::Email(Email::parse("x@example.com").unwrap());
    assert_eq!(store.user_by_id(other.id, u.id).await.unwrap(), None);
    assert_eq!(store.user_by_identifier(other.id, &email).await.unwrap(), None);
    assert_eq!(store.user_by_uin(other.id, "UIN-1").await.unwrap(), None);
    // A uin that is not a string is no uin.
    let numeric = User { attributes: json!({"uin": 7}), ..bare_user(&t, None, None, None) };
    store.insert_user(&numeric).await.unwrap();
    assert_eq!(store.user_by_uin(t.id, "7").await.unwrap(), None);
    // A user of a tenant that is not there is refused.
    assert!(store.insert_user(&bare_user(&tenant(), None, None, None)).await.is_err());
}

pub async fn a_unique_violation_names_the_field_that_clashed(store: Db) {
    let t = stored_tenant(&store).await;
    let first =
        User { attributes: json!({"uin": "U-1"}), ..bare_user(&t, Some("a@example.com"), Some("alice"), Some("+256700000001")) };
    store.insert_user(&first).await.unwrap();
    let clash = |u: User| {
        let store = store.clone();
        async move { conflict(store.insert_user(&u).await) }
    };
    assert_eq!(clash(bare_user(&t, Some("a@example.com"), None, None)).await, Some("email"));
    assert_eq!(clash(bare_user(&t, None, Some("alice"), None)).await, Some("username"));
    assert_eq!(clash(bare_user(&t, None, None, Some("+256700000001"))).await, Some("phone"));
    let same_uin = User { attributes: json!({"uin": "U-1"}), ..bare_user(&t, Some("b@example.com"), None, None) };
    assert_eq!(clash(same_uin).await, Some("uin"));
    // Look-alikes clash on the skeleton, reported as the field it belongs to.
    assert_eq!(clash(bare_user(&t, Some("\u{0430}@example.com"), None, None)).await, Some("email"));
    assert_eq!(clash(bare_user(&t, None, Some("\u{0430}lice"), None)).await, Some("username"));
    assert_eq!(clash(bare_user(&t, None, Some("ALICE"), None)).await, Some("username"), "skeletons ignore case");
    // A row that breaks two keys names one of them (the engines check them in different orders).
    let twice = clash(bare_user(&t, Some("a@example.com"), Some("alice"), None)).await;
    assert!(matches!(twice, Some("email" | "username")), "{twice:?}");
    // An id is stored once; the store does not name it.
    assert_eq!(clash(User { id: first.id, ..bare_user(&t, None, None, None) }).await, None);
    // Absent identifiers never clash.
    store.insert_user(&bare_user(&t, None, None, None)).await.unwrap();
    store.insert_user(&bare_user(&t, None, None, None)).await.unwrap();
    // An update that takes another user's identifier says so too, and changes nothing.
    let second = bare_user(&t, Some("c@example.com"), Some("carol"), Some("+256700000002"));
    store.insert_user(&second).await.unwrap();
    let taken = User { phone: Some("+256700000001".into()), ..second.clone() };
    assert_eq!(conflict(store.update_user(&taken).await), Some("phone"));
    let taken = User { email: Some("\u{0430}@example.com".into()), ..second.clone() };
    assert_eq!(conflict(store.update_user(&taken).await), Some("email"));
    let taken = User { attributes: json!({"uin": "U-1"}), ..second.clone() };
    assert_eq!(conflict(store.update_user(&taken).await), Some("uin"));
    assert_eq!(store.user_by_id(t.id, second.id).await.unwrap(), Some(second.clone()));
    // Another tenant may use all of them.
    let other = stored_tenant(&store).await;
    store.insert_user(&User { tenant_id: other.id, id: new_id().into(), ..first.clone() }).await.unwrap();
}

pub async fn an_update_moves_the_identifiers_and_their_skeletons(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let u = bare_user(&t, Some("old@example.com"), Some("oldname"), Some("+256700000001"));
    store.insert_user(&u).await.unwrap();
    let moved = User {
        email: Some("new@example.com".into()),
        username: Some("newname".into()),
        phone: None,
        password_hash: None,
        first_name: Some("N".into()),
        role: "admin".into(),
        permissions: vec![],
        attributes: json!({"uin": "U-9"}),
        email_verified: true,
        phone_verified: true,
        active: false,
        mfa_enabled: true,
        created_at: 50,
        updated_at: 60,
        ..u.clone()
    };
    store.update_user(&moved).await.unwrap();
    let stored = store.user_by_id(t.id, u.id).await.unwrap().unwrap();
    assert_eq!(stored, User { created_at: u.created_at, ..moved.clone() }, "everything but the creation time");
    let old = Identifier::Email(Email::parse("old@example.com").unwrap());
    assert_eq!(store.user_by_identifier(t.id, &old).await.unwrap(), None);
    assert_eq!(store.user_by_uin(t.id, "U-9").await.unwrap().map(|x| x.id), Some(u.id));
    // The old identifiers and their look-alikes are free; the new ones' look-alikes are not.
    store
        .insert_user(&bare_user(&t, Some("\u{043E}ld@example.com"), Some("\u{043E}ldname"), Some("+256700000001")))
        .await
        .unwrap();
    assert_eq!(conflict(store.insert_user(&bare_user(&t, Some("n\u{0435}w@example.com"), None, None)).await), Some("email"));
    assert_eq!(conflict(store.insert_user(&bare_user(&t, None, Some("n\u{0435}wname"), None)).await), Some("username"));
    // An update that keeps its identifiers is no clash with itself.
    store.update_user(&User { first_name: Some("M".into()), ..moved.clone() }).await.unwrap();
    // Another tenant's update of the same id touches nothing.
    store.update_user(&User { tenant_id: other.id, active: true, ..moved.clone() }).await.unwrap();
    assert!(!store.user_by_id(t.id, u.id).await.unwrap().unwrap().active);
}

pub async fn listed_users_are_filtered_ordered_by_creation_and_limited(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let mut made = Vec::new();
    for (i, created_at) in [30, 10, 20, 10].into_iter().enumerate() {
        let u = User {
            created_at,
            ..bare_user(&t, Some(&format!("u{i}@example.com")), Some(&format!("user{i}")), Some(&format!("+25670000000{i}")))
        };
        store.insert_user(&u).await.unwrap();
        made.push(u);
    }
    store.insert_user(&bare_user(&other, Some("u0@example.com"), None, None)).await.unwrap();
    let list = |filter: UserFilter| {
        let store = store.clone();
        async move { store.list_users(t.id, &filter).await.unwrap().into_iter().map(|u| u.id).collect::<Vec<_>>() }
    };
    let tied = if made[1].id < made[3].id { [made[1].id, made[3].id] } else { [made[3].id, made[1].id] };
    let all = UserFilter { limit: 100, ..UserFilter::default() };
    assert_eq!(list(all.clone()).await, [tied[0], tied[1], made[2].id, made[0].id]);
    assert_eq!(list(UserFilter { limit: 2, ..all.clone() }).await, tied);
    assert!(list(UserFilter { limit: 0, ..all.clone() }).await.is_empty());
    assert_eq!(list(UserFilter { email: Some("u2@example.com".into()), ..all.clone() }).await, [made[2].id]);
    assert_eq!(list(UserFilter { username: Some("user0".into()), ..all.clone() }).await, [made[0].id]);
    assert_eq!(list(UserFilter { phone: Some("+256700000003".into()), ..all.clone() }).await, [made[3].id]);
    let both = UserFilter { email: Some("u2@example.com".into()), username: Some("user0".into()), ..all.clone() };
    assert!(list(both).await.is_empty(), "filters combine");
    assert!(list(UserFilter { email: Some("nobody@example.com".into()), ..all }).await.is_empty());
}

pub async fn a_password_hash_is_replaced_only_while_it_is_the_expected_one(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let u = stored_user(&store, &t).await;
    let old = u.password_hash.clone().unwrap();
    assert!(!store.replace_password_hash(t.id, u.id, "$argon2id$other", "$new", 9).await.unwrap());
    assert!(!store.replace_password_hash(other.id, u.id, &old, "$new", 9).await.unwrap(), "no cross-tenant writes");
    // Of concurrent replacements of one hash, one wins.
    let won = winners(10, |i| {
        let (store, old) = (store.clone(), old.clone());
        async move { store.replace_password_hash(t.id, u.id, &old, &format!("$new{i}"), 9).await.unwrap() }
    })
    .await;
    assert_eq!(won, 1);
    let stored = store.user_by_id(t.id, u.id).await.unwrap().unwrap();
    assert!(stored.password_hash.as_deref().unwrap().starts_with("$new"));
    assert_eq!(stored.updated_at, 9);
    // A user without a password has no hash to replace.
    let bare = User { password_hash: None, ..bare_user(&t, None, None, None) };
    store.insert_user(&bare).await.unwrap();
    assert!(!store.replace_password_hash(t.id, bare.id, "", "$new", 9).await.unwrap());
}

pub async fn deleting_a_user_removes_its_factors_challenges_sessions_codes_and_verifications(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let a = stored_app(&store, &t).await;
    let (doomed, kept) = (stored_user(&store, &t).await, stored_user(&store, &t).await);
    let mut rows = Vec::new();
    for (u, tag) in [(&doomed, 1u8), (&kept, 2)] {
        store.upsert_totp(&totp(u)).await.unwrap();
        store.upsert_app_totp(&app_totp(&a, u)).await.unwrap();
        let c = challenge(u, ChallengeKind::PasswordReset, &[tag; 4]);
        store.insert_challenge(&c).await.unwrap();
        let s = session(u, 1, 1000);
        store.insert_session(&s).await.unwrap();
        store.insert_refresh_token(&refresh_token(&s, &[tag; 8], 1000)).await.unwrap();
        store.put_key_otp(&KeyOtp { user_id: Some(u.id), ..key_otp(&t, &[tag; 6], b"s", 1) }, 1).await.unwrap();
        let v = verification(&a, u, 1);
        store.insert_verification(&v).await.unwrap();
        rows.push((c, s, v));
    }
    // A code of the tenant that names no user stays.
    store.put_key_otp(&key_otp(&t, b"service", b"s", 1), 1).await.unwrap();
    assert!(!store.delete_user(other.id, doomed.id).await.unwrap(), "another tenant cannot delete it");
    assert!(store.delete_user(t.id, doomed.id).await.unwrap());
    assert!(!store.delete_user(t.id, doomed.id).await.unwrap(), "deleted once");
    for (i, (u, (c, s, v))) in [&doomed, &kept].into_iter().zip(&rows).enumerate() {
        let tag = i as u8 + 1;
        let kept = i == 1;
        assert_eq!(store.user_by_id(t.id, u.id).await.unwrap().is_some(), kept);
        assert_eq!(store.totp_by_user(t.id, u.id).await.unwrap().is_some(), kept);
        assert_eq!(store.app_totp(t.id, a.id, u.id).await.unwrap().is_some(), kept);
        assert_eq!(store.challenge_by_id(t.id, c.id).await.unwrap().is_some(), kept);
        assert_eq!(store.session_by_id(t.id, &s.id).await.unwrap().is_some(), kept);
        assert_eq!(store.refresh_token_by_hash(t.id, &[tag; 8]).await.unwrap().is_some(), kept);
        assert_eq!(store.key_otp(t.id, &[tag; 6]).await.unwrap().is_some(), kept);
        assert_eq!(store.verification(t.id, v.id).await.unwrap().is_some(), kept);
    }
    assert!(store.key_otp(t.id, b"service").await.unwrap().is_some());
    assert!(store.application_by_id(t.id, a.id).await.unwrap().is_some());
}
