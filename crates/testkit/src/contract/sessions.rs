//! Sessions, refresh tokens, and access tokens ended early.

use castellan_core::model::audit::AuditFilter;
use castellan_core::model::*;
use castellan_core::store::SessionOpening;
use serde_json::json;

use super::fixtures::*;

pub async fn live_sessions_are_listed_most_recently_active_first(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let (u, v) = (stored_user(&store, &t).await, stored_user(&store, &t).await);
    let quiet = session(&u, 10, 1_000);
    let busy = Session { application_id: Some(new_id().into()), ..session(&u, 30, 1_000) };
    let tied = session(&u, 30, 1_000);
    let revoked = Session { revoked_at: Some(5), ..session(&u, 40, 1_000) };
    let expired = session(&u, 50, 100);
    let someone_else = session(&v, 60, 1_000);
    for s in [&quiet, &busy, &tied, &revoked, &expired, &someone_else] {
        store.insert_session(s).await.unwrap();
    }
    assert_eq!(store.session_by_id(t.id, &busy.id).await.unwrap().as_ref(), Some(&busy));
    assert_eq!(store.session_by_id(other.id, &busy.id).await.unwrap(), None, "no cross-tenant reads");
    assert_eq!(store.session_by_id(t.id, &"sess_none".into()).await.unwrap(), None);
    let live = |now: i64| {
        let store = store.clone();
        let (tenant, user) = (t.id, u.id);
        async move { store.list_live_sessions(tenant, user, now).await.unwrap().into_iter().map(|s| s.id).collect::<Vec<_>>() }
    };
    // Ties of activity go by id, the newest first.
    assert_eq!(live(99).await, [expired.id.clone(), tied.id.clone(), busy.id.clone(), quiet.id.clone()]);
    assert_eq!(live(100).await, [tied.id.clone(), busy.id.clone(), quiet.id.clone()], "expired at its time");
    assert!(store.list_live_sessions(other.id, u.id, 99).await.unwrap().is_empty(), "no cross-tenant reads");
    // A touch moves a session ahead, never back, and only within its tenant.
    store.touch_session(t.id, &quiet.id, 35).await.unwrap();
    store.touch_session(t.id, &busy.id, 20).await.unwrap();
    store.touch_session(other.id, &tied.id, 90).await.unwrap();
    assert_eq!(live(100).await, [quiet.id.clone(), tied.id.clone(), busy.id.clone()]);
    assert_eq!(store.session_by_id(t.id, &busy.id).await.unwrap().unwrap().last_active, 30);
    // A session id is stored once; a session of a user who is not there is refused.
    assert_eq!(conflict(store.insert_session(&quiet).await), ConflictOn::Other);
    assert!(store.insert_session(&session(&user(&t, "ghost@example.com"), 1, 1_000)).await.is_err());
}

pub async fn sessions_are_revoked_once_and_only_their_owners(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let (u, v) = (stored_user(&store, &t).await, stored_user(&store, &t).await);
    let (a, b, c) = (session(&u, 1, 1_000), session(&u, 1, 1_000), session(&u, 1, 1_000));
    let expired = session(&u, 1, 50);
    let theirs = session(&v, 1, 1_000);
    for s in [&a, &b, &c, &expired, &theirs] {
        store.insert_session(s).await.unwrap();
    }
    assert!(!store.revoke_session(t.id, v.id, &a.id, 10).await.unwrap(), "only by its owner");
    assert!(!store.revoke_session(other.id, u.id, &a.id, 10).await.unwrap(), "no cross-tenant writes");
    let won = winners(10, |_| {
        let store = store.clone();
        let (tenant, user, id) = (t.id, u.id, a.id.clone());
        async move { store.revoke_session(tenant, user, &id, 10).await.unwrap() }
    })
    .await;
    assert_eq!(won, 1, "revoked once");
    assert_eq!(store.session_by_id(t.id, &a.id).await.unwrap().unwrap().revoked_at, Some(10));
    // All of a user's sessions: those still alive are counted and revoked.
    assert_eq!(store.revoke_user_sessions(other.id, u.id, 60).await.unwrap(), 0, "no cross-tenant writes");
    assert_eq!(store.revoke_user_sessions(t.id, u.id, 60).await.unwrap(), 2);
    assert_eq!(store.revoke_user_sessions(t.id, u.id, 61).await.unwrap(), 0);
    assert_eq!(store.session_by_id(t.id, &a.id).await.unwrap().unwrap().revoked_at, Some(10), "keeps its first revocation");
    assert_eq!(store.session_by_id(t.id, &b.id).await.unwrap().unwrap().revoked_at, Some(60));
    assert_eq!(store.session_by_id(t.id, &expired.id).await.unwrap().unwrap().revoked_at, None, "an expired one is left");
    assert_eq!(store.session_by_id(t.id, &theirs.id).await.unwrap().unwrap().revoked_at, None);
    assert!(store.list_live_sessions(t.id, u.id, 61).await.unwrap().is_empty());
}

pub async fn twenty_concurrent_consumers_of_one_refresh_token_get_one_winner(store: Db) {
    let (t, _, rt) = refresh_fixture(&store).await;
    let other = stored_tenant(&store).await;
    assert_eq!(store.consume_refresh_token(other.id, &rt.token_hash, 5).await.unwrap(), None, "no cross-tenant writes");
    let won = winners(20, |_| {
        let (store, tenant) = (store.clone(), t.id);
        async move { store.consume_refresh_token(tenant, &[9; 32], 5).await.unwrap().is_some() }
    })
    .await;
    assert_eq!(won, 1);
    assert_eq!(
        store.refresh_token_by_hash(t.id, &rt.token_hash).await.unwrap(),
        Some(RefreshToken { used_at: Some(5), ..rt.clone() })
    );
    assert_eq!(store.consume_refresh_token(t.id, &rt.token_hash, 6).await.unwrap(), None, "a replay");
    // Spending hands back the token as spent; expiry is the caller's to judge.
    let s = session(&user(&t, "x@example.com"), 1, 1_000);
    let late = refresh_token(&store.session_by_id(t.id, &rt.session_id).await.unwrap().unwrap(), b"late", 3);
    store.insert_refresh_token(&late).await.unwrap();
    assert_eq!(store.consume_refresh_token(t.id, b"late", 9).await.unwrap(), Some(RefreshToken { used_at: Some(9), ..late }));
    // A token hash is stored once; a token of a session that is not there is refused.
    assert_eq!(conflict(store.insert_refresh_token(&RefreshToken { id: new_id(), ..rt.clone() }).await), ConflictOn::Other);
    assert!(store.insert_refresh_token(&refresh_token(&s, b"orphan", 1_000)).await.is_err());
}

pub async fn a_refresh_token_names_its_tenant_and_session_until_it_is_spent_or_expires(store: Db) {
    let (t, s, rt) = refresh_fixture(&store).await;
    let other = stored_tenant(&store).await;
    assert_eq!(store.refresh_token_by_hash(t.id, &rt.token_hash).await.unwrap().as_ref(), Some(&rt));
    assert_eq!(store.refresh_token_by_hash(other.id, &rt.token_hash).await.unwrap(), None, "no cross-tenant reads");
    assert_eq!(store.refresh_token_by_hash(t.id, b"none").await.unwrap(), None);
    assert_eq!(store.tenant_of_refresh_token(&rt.token_hash).await.unwrap(), Some(t.id));
    assert_eq!(store.tenant_of_refresh_token(b"none").await.unwrap(), None);
    assert_eq!(store.session_of_refresh_token(t.id, &rt.token_hash, 999).await.unwrap(), Some((s.clone(), None)));
    assert_eq!(store.session_of_refresh_token(other.id, &rt.token_hash, 999).await.unwrap(), None);
    assert_eq!(store.session_of_refresh_token(t.id, &rt.token_hash, 1_000).await.unwrap(), None, "expired at its time");
    // The session comes back whether it is alive or not: revoked, it is the caller's to refuse.
    store.revoke_session(t.id, s.user_id, &s.id, 10).await.unwrap();
    let (revoked, _) = store.session_of_refresh_token(t.id, &rt.token_hash, 11).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(10));
    // Spent, the token still names its tenant but no longer its session.
    store.consume_refresh_token(t.id, &rt.token_hash, 12).await.unwrap().unwrap();
    assert_eq!(store.session_of_refresh_token(t.id, &rt.token_hash, 13).await.unwrap(), None);
    assert_eq!(store.tenant_of_refresh_token(&rt.token_hash).await.unwrap(), Some(t.id));
}

fn refresh_event(t: &Tenant, by: usize) -> AuditEvent {
    AuditEvent { detail: json!({ "by": by }), ..event(Some(t.id), "refresh") }
}

pub async fn twenty_concurrent_rotations_store_one_successor_and_one_audit_event(store: Db) {
    let (t, _, rt) = refresh_fixture(&store).await;
    let won = winners(20, |i| {
        let store = store.clone();
        let next = RefreshToken { id: new_id(), token_hash: vec![i as u8 + 100; 32], used_at: None, ..rt.clone() };
        let (tenant, event) = (t.id, refresh_event(&t, i));
        async move { store.rotate_refresh_token(tenant, &[9; 32], 5, &next, &event).await.unwrap().is_some() }
    })
    .await;
    assert_eq!(won, 1);
    let mut successors = Vec::new();
    for i in 0..20u8 {
        if let Some(next) = store.refresh_token_by_hash(t.id, &[i + 100; 32]).await.unwrap() {
            successors.push(next);
        }
    }
    let filter = AuditFilter { action: Some("refresh".into()), limit: 100, ..AuditFilter::default() };
    let events = store.list_audit(t.id, &filter).await.unwrap();
    assert!(successors.len() == 1 && events.len() == 1, "{} successors, {} events", successors.len(), events.len());
    assert_eq!(events[0].detail["by"], u64::from(successors[0].token_hash[0] - 100), "the winner's event");
    assert_eq!(store.refresh_token_by_hash(t.id, &rt.token_hash).await.unwrap().unwrap().used_at, Some(5));
    // The spent token hands back what it was.
    let next = RefreshToken { id: new_id(), token_hash: vec![1; 32], ..rt.clone() };
    let from_successor = store.rotate_refresh_token(t.id, &successors[0].token_hash, 6, &next, &refresh_event(&t, 99)).await;
    assert_eq!(from_successor.unwrap(), Some(RefreshToken { used_at: Some(6), ..successors[0].clone() }));
}

pub async fn a_rotation_that_cannot_store_its_successor_writes_nothing(store: Db) {
    let (t, _, rt) = refresh_fixture(&store).await;
    let other = stored_tenant(&store).await;
    let all_events = AuditFilter { limit: 100, ..AuditFilter::default() };
    // Nothing to spend: nothing written.
    let next = RefreshToken { id: new_id(), token_hash: vec![1; 32], ..rt.clone() };
    assert_eq!(store.rotate_refresh_token(t.id, b"none", 5, &next, &refresh_event(&t, 0)).await.unwrap(), None);
    assert_eq!(store.rotate_refresh_token(other.id, &rt.token_hash, 5, &next, &refresh_event(&t, 0)).await.unwrap(), None);
    assert_eq!(store.refresh_token_by_hash(t.id, &[1; 32]).await.unwrap(), None);
    assert!(store.list_audit(t.id, &all_events).await.unwrap().is_empty());
    // A successor that clashes with a stored token: the error, and the old token unspent.
    let clashing = RefreshToken { id: new_id(), ..rt.clone() };
    assert_eq!(
        conflict(store.rotate_refresh_token(t.id, &rt.token_hash, 5, &clashing, &refresh_event(&t, 1)).await),
        ConflictOn::Other
    );
    // An event that clashes with a stored one: the same.
    let stored = refresh_event(&t, 2);
    store.insert_audit(&stored).await.unwrap();
    let again = AuditEvent { id: stored.id, ..refresh_event(&t, 3) };
    assert_eq!(conflict(store.rotate_refresh_token(t.id, &rt.token_hash, 5, &next, &again).await), ConflictOn::Other);
    assert_eq!(store.refresh_token_by_hash(t.id, &rt.token_hash).await.unwrap().unwrap().used_at, None);
    assert_eq!(store.refresh_token_by_hash(t.id, &[1; 32]).await.unwrap(), None);
    assert_eq!(store.list_audit(t.id, &all_events).await.unwrap().len(), 1);
    // And then it rotates.
    assert!(store.rotate_refresh_token(t.id, &rt.token_hash, 5, &next, &refresh_event(&t, 4)).await.unwrap().is_some());
}

/// An opening of a session for `u` at `now`, spending `spends`, its refresh token `hash`, with one
/// `sign-in` event.
fn opening(u: &User, now: i64, spends: Option<uuid::Uuid>, hash: &[u8]) -> SessionOpening {
    let session = Session { created_at: now, ..session(u, now, 1_000) };
    let refresh = refresh_token(&session, hash, 1_000);
    let events = vec![AuditEvent { detail: json!({ "session": session.id }), ..event(Some(u.tenant_id), "sign-in") }];
    SessionOpening { spends, session, refresh, max_concurrent: 10, idle_timeout: 500, events }
}

async fn sign_in_events(store: &Db, t: &Tenant) -> Vec<AuditEvent> {
    let filter = AuditFilter { action: Some("sign-in".into()), limit: 1_000, ..AuditFilter::default() };
    store.list_audit(t.id, &filter).await.unwrap()
}

pub async fn twenty_concurrent_openings_that_spend_one_challenge_open_one_session(store: Db) {
    let (t, other) = (stored_tenant(&store).await, stored_tenant(&store).await);
    let u = stored_user(&store, &t).await;
    let c = challenge(&u, ChallengeKind::OtpLogin, b"c");
    store.insert_challenge(&c).await.unwrap();
    let them = stored_user(&store, &other).await;
    assert_eq!(store.open_session(&opening(&them, 5, Some(c.id), b"cross")).await.unwrap(), None, "no cross-tenant spends");
    let openings: Vec<SessionOpening> = (0..20u8).map(|i| opening(&u, 5, Some(c.id), &[i + 100; 32])).collect();
    // Openings that spend nothing go through beside them, in the same groups.
    let free: Vec<SessionOpening> = (0..5u8).map(|i| opening(&u, 5, None, &[i + 200; 32])).collect();
    let won = winners(25, |i| {
        let store = store.clone();
        let o = if i < 20 { openings[i].clone() } else { free[i - 20].clone() };
        async move { store.open_session(&o).await.unwrap().is_some() }
    })
    .await;
    assert_eq!(won, 1 + 5);
    let mut opened = Vec::new();
    for o in &openings {
        let session = store.session_by_id(t.id, &o.session.id).await.unwrap();
        let refresh = store.refresh_token_by_hash(t.id, &o.refresh.token_hash).await.unwrap();
        assert_eq!(session.is_some(), refresh.is_some(), "a session and its refresh token, or neither");
        if let Some(session) = session {
            assert_eq!(session, o.session);
            assert_eq!(refresh.as_ref(), Some(&o.refresh));
            opened.push(session);
        }
    }
    assert_eq!(opened.len(), 1, "one session for the one challenge");
    let events = sign_in_events(&store, &t).await;
    assert_eq!(events.len(), 1 + 5, "the winner's event and those of the openings that spend nothing");
    assert!(events.iter().any(|e| e.detail["session"] == json!(opened[0].id)));
    for o in &free {
        assert!(store.session_by_id(t.id, &o.session.id).await.unwrap().is_some());
    }
    assert_eq!(store.challenge_by_id(t.id, c.id).await.unwrap().unwrap().consumed_at, Some(5));
    assert_eq!(store.open_session(&opening(&u, 6, Some(c.id), b"late")).await.unwrap(), None, "spent once");
    assert_eq!(store.refresh_token_by_hash(t.id, b"late").await.unwrap(), None, "nothing written");
    // A challenge past its expiry or out of tries is not there to spend.
    let expired = Challenge { expires_at: 7, ..challenge(&u, ChallengeKind::OtpLogin, b"e") };
    let exhausted = Challenge { attempts: 3, ..challenge(&u, ChallengeKind::OtpLogin, b"x") };
    for c in [&expired, &exhausted] {
        store.insert_challenge(c).await.unwrap();
        assert_eq!(store.open_session(&opening(&u, 7, Some(c.id), &c.secret_hash)).await.unwrap(), None);
    }
    // A refresh token that clashes with a stored one: the error, nothing written, the challenge unspent.
    let fresh = challenge(&u, ChallengeKind::OtpLogin, b"f");
    store.insert_challenge(&fresh).await.unwrap();
    let clashing = opening(&u, 8, Some(fresh.id), &[200; 32]);
    assert_eq!(conflict(store.open_session(&clashing).await), ConflictOn::Other);
    assert_eq!(store.session_by_id(t.id, &clashing.session.id).await.unwrap(), None);
    assert_eq!(sign_in_events(&store, &t).await.len(), 6, "nor its events");
    assert_eq!(store.challenge_by_id(t.id, fresh.id).await.unwrap().unwrap().consumed_at, None);
    assert!(store.open_session(&opening(&u, 8, Some(fresh.id), b"fresh")).await.unwrap().is_some());
}

pub async fn an_opening_ends_the_users_live_sessions_past_the_limit(store: Db) {
    let t = stored_tenant(&store).await;
    let (u, v) = (stored_user(&store, &t).await, stored_user(&store, &t).await);
    let (older, newer) = (session(&u, 250, 1_000), session(&u, 280, 1_000));
    let idle = session(&u, 150, 1_000);
    let expired = session(&u, 290, 299);
    let theirs = session(&v, 260, 1_000);
    for s in [&older, &newer, &idle, &expired, &theirs] {
        store.insert_session(s).await.unwrap();
    }
    let new = SessionOpening { max_concurrent: 2, idle_timeout: 100, ..opening(&u, 300, None, b"new") };
    // The new session and the most recently active other are kept; idle ones do not count.
    assert_eq!(store.open_session(&new).await.unwrap(), Some(vec![older.id.clone()]));
    let revoked = |id: SessionId| {
        let store = store.clone();
        async move { store.session_by_id(t.id, &id).await.unwrap().unwrap().revoked_at }
    };
    assert_eq!(revoked(older.id.clone()).await, Some(300));
    for s in [&newer, &idle, &expired, &theirs] {
        assert_eq!(revoked(s.id.clone()).await, None, "{:?} stays", s.id);
    }
    let live: Vec<SessionId> = store.list_live_sessions(t.id, u.id, 300).await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(live, [new.session.id.clone(), newer.id.clone(), idle.id.clone()]);
    // Under the limit nothing ends.
    assert_eq!(store.open_session(&opening(&v, 300, None, b"v")).await.unwrap(), Some(vec![]));
}

pub async fn revoked_tokens_are_denied_until_they_expire(store: Db) {
    let t = stored_tenant(&store).await;
    store.revoke_token(t.id, "jti-1", 2_000, 1_000).await.unwrap();
    store.revoke_token(t.id, "jti-1", 2_000, 1_000).await.unwrap();
    assert!(store.token_revoked("jti-1").await.unwrap());
    assert!(!store.token_revoked("jti-2").await.unwrap());
    // An entry is kept through its expiry, and dropped by the next revocation after it.
    store.revoke_token(t.id, "jti-2", 4_000, 2_000).await.unwrap();
    assert!(store.token_revoked("jti-1").await.unwrap());
    store.revoke_token(t.id, "jti-3", 4_000, 2_001).await.unwrap();
    assert!(!store.token_revoked("jti-1").await.unwrap());
    assert!(store.token_revoked("jti-2").await.unwrap());
    // The denial is by `jti` alone, whatever the tenant that asks.
    let other = stored_tenant(&store).await;
    store.revoke_token(other.id, "jti-2", 9_000, 2_002).await.unwrap();
    assert!(store.token_revoked("jti-2").await.unwrap());
    // A revocation for a tenant that is not there is refused.
    assert!(store.revoke_token(tenant().id, "jti-9", 9_000, 2_003).await.is_err());
}
