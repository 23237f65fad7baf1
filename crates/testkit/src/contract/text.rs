//! Text with NUL, which PostgreSQL cannot store.

use castellan_core::model::audit::AuditFilter;
use castellan_core::model::*;
use castellan_core::store::{StoreError, StoreResult};

use super::fixtures::*;

/// What an engine did with text holding NUL: refused it (`None`) or took it (`Some`).
fn verdict<T: std::fmt::Debug>(what: &str, result: StoreResult<T>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(StoreError::InvalidText) => None,
        Err(other) => panic!("{what}: NUL text is a refusal (InvalidText) or stored, not {other:?}"),
    }
}

pub async fn text_with_nul_is_refused_everywhere_or_stored_intact_everywhere(store: Db) {
    let t = stored_tenant(&store).await;
    let u = stored_user(&store, &t).await;
    let a = stored_app(&store, &t).await;
    let nul = "a\u{0000}b";
    let mut refused = Vec::new();
    let mut judge = |what: &str, took: Option<bool>| {
        if let Some(intact) = took {
            assert!(intact, "{what}: stored, but not as given");
        }
        refused.push((what.to_string(), took.is_none()));
    };

    let named = Tenant { display_name: nul.into(), ..tenant() };
    let took = verdict("insert_tenant", store.insert_tenant(&named).await);
    let stored = store.tenant_by_id(named.id).await.unwrap();
    judge("insert_tenant", took.map(|()| stored.as_ref() == Some(&named)));
    if took.is_none() {
        assert_eq!(stored, None, "a refused tenant is not stored");
    }
    let took = verdict("tenant_by_slug", store.tenant_by_slug(nul).await);
    judge("tenant_by_slug", took.map(|found| found.is_none()));

    let person = User { first_name: Some(nul.into()), ..user(&t, "nul@example.com") };
    let took = verdict("insert_user", store.insert_user(&person).await);
    let stored = store.user_by_id(t.id, person.id).await.unwrap();
    judge("insert_user", took.map(|()| stored.as_ref() == Some(&person)));
    let took =
        verdict("user_by_identifier", store.user_by_identifier(t.id, &Identifier::Username("\u{0000}\u{0001}".into())).await);
    judge("user_by_identifier", took.map(|found| found.is_none()));
    let took = verdict("update_user", store.update_user(&User { last_name: Some(nul.into()), ..u.clone() }).await);
    let stored = store.user_by_id(t.id, u.id).await.unwrap().unwrap();
    judge("update_user", took.map(|()| stored.last_name.as_deref() == Some(nul)));

    let renamed = Application { name: nul.into(), ..a.clone() };
    let took = verdict("update_application", store.update_application(&renamed).await);
    let stored = store.application_by_id(t.id, a.id).await.unwrap();
    judge("update_application", took.map(|()| stored.as_ref() == Some(&renamed)));

    let named = aliased(&t, &[(Dialect::Kumusoft, nul)]);
    let took = verdict("insert_application", store.insert_application(&named).await);
    let found = verdict("application_by_alias", store.application_by_alias(Dialect::Kumusoft, nul).await);
    judge("insert_application", took.map(|()| found == Some(Some(named.clone()))));
    if took.is_none() {
        assert_eq!(store.application_by_id(t.id, named.id).await.unwrap(), None, "a refused application is not stored");
    }

    let s = Session { user_agent: Some(nul.into()), ..session(&u, 1, 1_000) };
    let took = verdict("insert_session", store.insert_session(&s).await);
    let stored = store.session_by_id(t.id, &s.id).await.unwrap();
    judge("insert_session", took.map(|()| stored.as_ref() == Some(&s)));

    let e = AuditEvent { action: nul.into(), ..event(Some(t.id), "") };
    let took = verdict("insert_audit", store.insert_audit(&e).await);
    let listed = store.list_audit(t.id, &AuditFilter { limit: 10, ..AuditFilter::default() }).await.unwrap();
    judge("insert_audit", took.map(|()| listed == [e.clone()]));

    let m = message(nul, 1, 1);
    let took = verdict("enqueue_message", store.enqueue_message(&m).await);
    let listed = store.list_messages(None, None, 10).await.unwrap();
    judge("enqueue_message", took.map(|()| listed == [m.clone()]));

    let took = verdict("reserve_attempt", store.reserve_attempt(t.id, nul, 3, 1, 60).await);
    judge("reserve_attempt", took.map(|r| r == castellan_core::store::AttemptReservation::Allowed { failures: 1 }));

    let took = verdict("revoke_token", store.revoke_token(t.id, nul, 1_000, 1).await);
    let revoked = verdict("token_revoked", store.token_revoked(nul).await);
    judge("revoke_token", took.map(|()| revoked == Some(true)));

    let k = signing_key(&t, nul, 1);
    let took = verdict("insert_key", store.insert_key(&k).await);
    let listed = store.list_keys(t.id).await.unwrap();
    judge("insert_key", took.map(|()| listed == [k.clone()]));

    let took = verdict("insert_admin_token", store.insert_admin_token(new_id(), b"nul", nul, 1).await);
    judge("insert_admin_token", took.map(|()| true));

    let v = Verification { email: nul.into(), ..verification(&a, &u, 1) };
    let took = verdict("insert_verification", store.insert_verification(&v).await);
    let stored = store.verification(t.id, v.id).await.unwrap();
    judge("insert_verification", took.map(|()| stored.as_ref() == Some(&v)));

    let first = refused[0].1;
    assert!(refused.iter().all(|(_, r)| *r == first), "NUL refused by some methods and stored by others: {refused:?}");
}
