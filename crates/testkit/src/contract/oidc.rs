//! OpenID Connect: authorization codes, remembered consents, refresh tokens bound to a client.

use castellan_core::model::*;
use serde_json::json;

use super::fixtures::*;

fn code(t: &Tenant, a: &Application, u: &User, hash: &[u8], expires_at: i64) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: hash.to_vec(),
        tenant_id: t.id,
        application_id: a.id,
        user_id: u.id,
        session_id: Session::new_id(),
        data: json!({"redirect_uri": "https://example.com/r", "scope": "openid"}),
        expires_at,
        used_at: None,
        created_at: 1,
    }
}

pub async fn an_authorization_code_is_redeemed_once_while_unexpired(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let (a, u) = (stored_app(&store, &t).await, stored_user(&store, &t).await);
    let c = code(&t, &a, &u, b"code-1", 100);
    store.insert_authorization_code(&c, 1).await.unwrap();
    assert_eq!(store.authorization_code(t.id, b"code-1").await.unwrap(), Some(c.clone()));
    assert_eq!(store.authorization_code(other.id, b"code-1").await.unwrap(), None, "another tenant's");
    assert!(!store.redeem_authorization_code(other.id, b"code-1", 10).await.unwrap());
    assert!(store.redeem_authorization_code(t.id, b"code-1", 10).await.unwrap());
    assert!(!store.redeem_authorization_code(t.id, b"code-1", 11).await.unwrap(), "a replay");
    // A spent code is still found, so that its replay can be told from an unknown code.
    assert_eq!(store.authorization_code(t.id, b"code-1").await.unwrap().and_then(|c| c.used_at), Some(10));
    let late = code(&t, &a, &u, b"code-2", 100);
    store.insert_authorization_code(&late, 1).await.unwrap();
    assert!(!store.redeem_authorization_code(t.id, b"code-2", 100).await.unwrap(), "expired");
    assert_eq!(conflict(store.insert_authorization_code(&c, 1).await), ConflictOn::Other);
    // Codes an hour past their expiry are swept by the next insert.
    store.insert_authorization_code(&code(&t, &a, &u, b"code-3", 10_000), 100 + 3_601).await.unwrap();
    assert_eq!(store.authorization_code(t.id, b"code-1").await.unwrap(), None);
    assert!(store.authorization_code(t.id, b"code-3").await.unwrap().is_some());
}

pub async fn concurrent_redemptions_of_a_code_have_one_winner(store: Db) {
    let t = stored_tenant(&store).await;
    let (a, u) = (stored_app(&store, &t).await, stored_user(&store, &t).await);
    store.insert_authorization_code(&code(&t, &a, &u, b"race", 1_000), 1).await.unwrap();
    let won = winners(20, |_| {
        let store = store.clone();
        async move { store.redeem_authorization_code(t.id, b"race", 5).await.unwrap() }
    })
    .await;
    assert_eq!(won, 1);
}

pub async fn consents_are_replaced_listed_and_deleted_per_user_and_client(store: Db) {
    let t = stored_tenant(&store).await;
    let (a, b) = (stored_app(&store, &t).await, stored_app(&store, &t).await);
    let (u, v) = (stored_user(&store, &t).await, stored_user(&store, &t).await);
    let grant = |app: &Application, user: &User, scopes: &[&str], at: i64| ConsentGrant {
        tenant_id: t.id,
        user_id: user.id,
        application_id: app.id,
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        created_at: at,
        updated_at: at,
    };
    store.upsert_consent(&grant(&b, &u, &["openid"], 2)).await.unwrap();
    store.upsert_consent(&grant(&a, &u, &["openid"], 3)).await.unwrap();
    store.upsert_consent(&grant(&a, &v, &["email"], 4)).await.unwrap();
    // Consenting again replaces the scopes, keeps the first consent's time.
    store.upsert_consent(&grant(&a, &u, &["openid", "email"], 9)).await.unwrap();
    let mine = store.list_consents(t.id, u.id).await.unwrap();
    assert_eq!(mine.iter().map(|g| g.application_id).collect::<Vec<_>>(), vec![b.id, a.id]);
    let replaced = store.consent(t.id, u.id, a.id).await.unwrap().unwrap();
    assert_eq!(
        (replaced.scopes.clone(), replaced.created_at, replaced.updated_at),
        (vec!["openid".into(), "email".into()], 3, 9)
    );
    assert!(store.delete_consent(t.id, u.id, a.id).await.unwrap());
    assert!(!store.delete_consent(t.id, u.id, a.id).await.unwrap());
    assert_eq!(store.consent(t.id, u.id, a.id).await.unwrap(), None);
    assert!(store.consent(t.id, v.id, a.id).await.unwrap().is_some(), "another user's stays");
    // Deleting the client deletes its consents.
    store.delete_application(t.id, a.id).await.unwrap();
    assert_eq!(store.list_consents(t.id, v.id).await.unwrap(), vec![]);
}

pub async fn a_refresh_token_keeps_the_client_it_was_issued_to(store: Db) {
    let (t, s, _) = refresh_fixture(&store).await;
    let a = stored_app(&store, &t).await;
    let client = ClientGrant { application_id: a.id, grant: json!({"scope": "openid email", "auth_time": 5}) };
    let rt = RefreshToken { client: Some(client), ..refresh_token(&s, b"bound", 1_000) };
    store.insert_refresh_token(&rt).await.unwrap();
    assert_eq!(store.refresh_token_by_hash(t.id, b"bound").await.unwrap(), Some(rt.clone()));
    let found = store.session_of_refresh_token(t.id, b"bound", 10).await.unwrap();
    assert_eq!(found, Some((s.clone(), rt.client.clone())), "the session and the client, in one read");
    // Its successor keeps it, whichever way the store holds the unused token.
    let next = RefreshToken { id: new_id(), token_hash: b"next".to_vec(), ..rt.clone() };
    let event = AuditEvent { detail: json!({}), ..event(Some(t.id), "refresh") };
    store.rotate_refresh_token(t.id, b"bound", 11, &next, &event).await.unwrap().unwrap();
    assert_eq!(store.session_of_refresh_token(t.id, b"next", 12).await.unwrap(), Some((s.clone(), rt.client.clone())));
    // And an application reads back with its client settings.
    assert_eq!(store.application_by_id(t.id, a.id).await.unwrap().map(|x| x.oauth), Some(a.oauth.clone()));
    let changed = Application { oauth: OAuthClient { first_party: false, ..a.oauth.clone() }, ..a.clone() };
    store.update_application(&changed).await.unwrap();
    assert_eq!(store.application_by_id(t.id, a.id).await.unwrap().map(|x| x.oauth), Some(changed.oauth));
}

fn device(t: &Tenant, a: &Application, device_hash: &[u8], user_code_hash: &[u8], expires_at: i64) -> DeviceGrant {
    DeviceGrant {
        device_hash: device_hash.to_vec(),
        tenant_id: t.id,
        application_id: a.id,
        user_code_hash: user_code_hash.to_vec(),
        scopes: vec!["openid".into()],
        status: DeviceStatus::Pending,
        user_id: None,
        session_id: None,
        data: json!({}),
        interval: 5,
        polled_at: None,
        slowed: false,
        expires_at,
        created_at: 1,
    }
}

pub async fn a_device_grant_is_decided_once_polled_with_back_off_and_redeemed_once(store: Db) {
    use castellan_core::store::DeviceDecision;
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let (a, u) = (stored_app(&store, &t).await, stored_user(&store, &t).await);
    let g = device(&t, &a, b"dev-1", b"user-1", 1_000);
    store.insert_device_grant(&g, 1).await.unwrap();
    assert_eq!(store.device_grant_by_user_code(t.id, b"user-1").await.unwrap(), Some(g.clone()));
    assert_eq!(store.device_grant_by_user_code(other.id, b"user-1").await.unwrap(), None, "another tenant's");
    // A user code in use is a conflict; the same code in another tenant is not.
    assert_eq!(conflict(store.insert_device_grant(&device(&t, &a, b"dev-2", b"user-1", 1_000), 1).await), ConflictOn::Other);
    // Polls: the first sets the time, one sooner than the interval slows down and adds 5 s.
    let p = store.poll_device_grant(t.id, b"dev-1", 10).await.unwrap().unwrap();
    assert_eq!((p.slowed, p.interval, p.polled_at), (false, 5, Some(10)));
    let p = store.poll_device_grant(t.id, b"dev-1", 12).await.unwrap().unwrap();
    assert_eq!((p.slowed, p.interval, p.polled_at), (true, 10, Some(12)));
    let p = store.poll_device_grant(t.id, b"dev-1", 22).await.unwrap().unwrap();
    assert_eq!((p.slowed, p.interval), (false, 10));
    assert_eq!(store.poll_device_grant(other.id, b"dev-1", 30).await.unwrap(), None);
    // Not redeemable while pending; approved once; redeemed once.
    assert!(!store.redeem_device_grant(t.id, b"dev-1", 30).await.unwrap());
    let session = Session::new_id();
    let data = json!({"auth_time": 20, "level": 1});
    let approve = DeviceDecision::Approve { user: u.id, session: &session, data: &data };
    assert!(store.decide_device_grant(t.id, b"dev-1", approve, 30).await.unwrap());
    assert!(!store.decide_device_grant(t.id, b"dev-1", DeviceDecision::Deny, 31).await.unwrap(), "decided already");
    let read = store.device_grant_by_user_code(t.id, b"user-1").await.unwrap().unwrap();
    assert_eq!(
        (read.status, read.user_id, read.session_id, read.data),
        (DeviceStatus::Approved, Some(u.id), Some(session), data)
    );
    assert!(store.redeem_device_grant(t.id, b"dev-1", 40).await.unwrap());
    assert!(!store.redeem_device_grant(t.id, b"dev-1", 41).await.unwrap(), "a replay");
    // Expired: neither decided nor redeemed.
    store.insert_device_grant(&device(&t, &a, b"dev-3", b"user-3", 50), 1).await.unwrap();
    assert!(!store.decide_device_grant(t.id, b"dev-3", DeviceDecision::Deny, 50).await.unwrap());
    // An hour past expiry, the next insert sweeps them.
    store.insert_device_grant(&device(&t, &a, b"dev-4", b"user-4", 10_000), 1_000 + 3_601).await.unwrap();
    assert_eq!(store.device_grant_by_user_code(t.id, b"user-3").await.unwrap(), None);
    assert_eq!(store.device_grant_by_user_code(t.id, b"user-1").await.unwrap(), None);
}

pub async fn concurrent_decisions_and_redemptions_of_a_device_grant_have_one_winner(store: Db) {
    use castellan_core::store::DeviceDecision;
    let t = stored_tenant(&store).await;
    let (a, u) = (stored_app(&store, &t).await, stored_user(&store, &t).await);
    store.insert_device_grant(&device(&t, &a, b"race", b"race-user", 1_000), 1).await.unwrap();
    let session = Session::new_id();
    let won = winners(20, |i| {
        let (store, session) = (store.clone(), session.clone());
        async move {
            let data = json!({"auth_time": 1, "level": 1});
            let decision = if i % 2 == 0 {
                DeviceDecision::Approve { user: u.id, session: &session, data: &data }
            } else {
                DeviceDecision::Deny
            };
            store.decide_device_grant(t.id, b"race", decision, 5).await.unwrap()
        }
    })
    .await;
    assert_eq!(won, 1);
    let status = store.device_grant_by_user_code(t.id, b"race-user").await.unwrap().unwrap().status;
    if status == DeviceStatus::Approved {
        let won = winners(20, |_| {
            let store = store.clone();
            async move { store.redeem_device_grant(t.id, b"race", 6).await.unwrap() }
        })
        .await;
        assert_eq!(won, 1);
    } else {
        assert_eq!(status, DeviceStatus::Denied);
    }
}

pub async fn a_pushed_request_is_taken_once_by_its_client_while_unexpired(store: Db) {
    let t = stored_tenant(&store).await;
    let (a, b) = (stored_app(&store, &t).await, stored_app(&store, &t).await);
    let pushed = |hash: &[u8], expires_at: i64| PushedRequest {
        request_hash: hash.to_vec(),
        tenant_id: t.id,
        application_id: a.id,
        params: vec![("scope".into(), "openid".into()), ("scope".into(), "repeated".into())],
        expires_at,
        used_at: None,
        created_at: 1,
    };
    store.insert_pushed_request(&pushed(b"par-1", 60), 1).await.unwrap();
    assert_eq!(store.take_pushed_request(t.id, b.id, b"par-1", 10).await.unwrap(), None, "another client's");
    let taken = store.take_pushed_request(t.id, a.id, b"par-1", 10).await.unwrap().unwrap();
    assert_eq!((taken.params, taken.used_at), (pushed(b"par-1", 60).params, Some(10)), "parameters kept in order, repeats too");
    assert_eq!(store.take_pushed_request(t.id, a.id, b"par-1", 11).await.unwrap(), None, "once");
    store.insert_pushed_request(&pushed(b"par-2", 60), 1).await.unwrap();
    assert_eq!(store.take_pushed_request(t.id, a.id, b"par-2", 60).await.unwrap(), None, "expired");
    assert_eq!(conflict(store.insert_pushed_request(&pushed(b"par-2", 60), 1).await), ConflictOn::Other);
    store.insert_pushed_request(&pushed(b"par-3", 100), 1).await.unwrap();
    let won = winners(20, |_| {
        let store = store.clone();
        async move { store.take_pushed_request(t.id, a.id, b"par-3", 5).await.unwrap().is_some() }
    })
    .await;
    assert_eq!(won, 1);
}

pub async fn a_jti_is_seen_first_once_per_tenant_until_it_expires(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    assert!(store.first_sight_of_jti(t.id, b"jti-1", 100, 1).await.unwrap());
    assert!(!store.first_sight_of_jti(t.id, b"jti-1", 100, 2).await.unwrap(), "a replay");
    assert!(store.first_sight_of_jti(other.id, b"jti-1", 100, 2).await.unwrap(), "another tenant's");
    let won = winners(20, |_| {
        let store = store.clone();
        async move { store.first_sight_of_jti(t.id, b"jti-race", 100, 3).await.unwrap() }
    })
    .await;
    assert_eq!(won, 1);
}

pub async fn a_sessions_clients_are_taken_once(store: Db) {
    let t = stored_tenant(&store).await;
    let (a, b, u) = (stored_app(&store, &t).await, stored_app(&store, &t).await, stored_user(&store, &t).await);
    let (s1, s2) = (session(&u, 1, 1000), session(&u, 1, 1000));
    store.insert_session(&s1).await.unwrap();
    store.insert_session(&s2).await.unwrap();
    let client =
        |s: &Session, app: &Application| SessionClient { session_id: s.id.clone(), application_id: app.id, user_id: u.id };
    for c in [client(&s1, &a), client(&s1, &a), client(&s1, &b), client(&s2, &a)] {
        store.track_session_client(t.id, &c, 1).await.unwrap();
    }
    let ghost = SessionClient { session_id: Session::new_id(), application_id: a.id, user_id: u.id };
    assert!(store.track_session_client(t.id, &ghost, 1).await.is_err(), "a session that does not exist");
    let mut first = store.take_session_clients(t.id, u.id, Some(&s1.id)).await.unwrap();
    first.sort_by_key(|c| c.application_id.to_string());
    let mut expected = vec![client(&s1, &a), client(&s1, &b)];
    expected.sort_by_key(|c| c.application_id.to_string());
    assert_eq!(first, expected, "once per pair, only that session's");
    assert_eq!(store.take_session_clients(t.id, u.id, Some(&s1.id)).await.unwrap(), vec![], "taken once");
    store.track_session_client(t.id, &client(&s1, &a), 2).await.unwrap();
    let takers: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.take_session_clients(t.id, u.id, None).await.unwrap().len() })
        })
        .collect();
    let mut taken = 0;
    for taker in takers {
        taken += taker.await.unwrap();
    }
    assert_eq!(taken, 2, "both sessions' clients, each to one taker");
}

fn registration_token(
    t: &Tenant,
    hash: &[u8],
    app: Option<&Application>,
    uses: Option<u32>,
    expires_at: Option<i64>,
) -> RegistrationToken {
    RegistrationToken {
        token_hash: hash.to_vec(),
        tenant_id: t.id,
        application_id: app.map(|a| a.id),
        uses_left: uses,
        expires_at,
        created_at: 1,
    }
}

pub async fn registration_tokens_are_spent_while_they_last_and_replaced_per_client(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let a = stored_app(&store, &t).await;
    store.insert_registration_token(&registration_token(&t, b"iat-1", None, Some(2), Some(100))).await.unwrap();
    assert!(!store.spend_initial_access_token(other.id, b"iat-1", 10).await.unwrap(), "another tenant's");
    assert!(store.spend_initial_access_token(t.id, b"iat-1", 10).await.unwrap());
    assert!(store.spend_initial_access_token(t.id, b"iat-1", 11).await.unwrap());
    assert!(!store.spend_initial_access_token(t.id, b"iat-1", 12).await.unwrap(), "used up");
    store.insert_registration_token(&registration_token(&t, b"iat-2", None, Some(5), Some(100))).await.unwrap();
    assert!(!store.spend_initial_access_token(t.id, b"iat-2", 100).await.unwrap(), "expired");
    assert_eq!(store.client_of_registration_token(t.id, b"iat-2").await.unwrap(), None, "an initial token manages no client");
    assert_eq!(
        conflict(store.insert_registration_token(&registration_token(&t, b"iat-2", None, Some(1), Some(100))).await),
        ConflictOn::Other
    );

    store.insert_registration_token(&registration_token(&t, b"rat-1", Some(&a), None, None)).await.unwrap();
    assert!(!store.spend_initial_access_token(t.id, b"rat-1", 10).await.unwrap(), "a client's token registers nothing");
    assert_eq!(store.client_of_registration_token(t.id, b"rat-1").await.unwrap(), Some(a.id));
    assert_eq!(store.client_of_registration_token(other.id, b"rat-1").await.unwrap(), None);
    store.insert_registration_token(&registration_token(&t, b"rat-2", Some(&a), None, None)).await.unwrap();
    assert_eq!(store.client_of_registration_token(t.id, b"rat-1").await.unwrap(), None, "replaced");
    assert_eq!(store.client_of_registration_token(t.id, b"rat-2").await.unwrap(), Some(a.id));

    store.insert_registration_token(&registration_token(&t, b"iat-race", None, Some(3), Some(100))).await.unwrap();
    let won = winners(20, |_| {
        let store = store.clone();
        async move { store.spend_initial_access_token(t.id, b"iat-race", 5).await.unwrap() }
    })
    .await;
    assert_eq!(won, 3);
}
