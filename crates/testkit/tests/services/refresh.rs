//! Refresh tokens: each rotates once, a spent one presented again ends its whole session, and of
//! concurrent rotations of one token exactly one wins.

use castellan_core::CoreError;
use castellan_core::CoreResult;
use castellan_core::model::{Dialect, KeyAlg, SessionId};
use castellan_core::services::access_tokens::{AccessGrant, Locator, TokenProfile};
use castellan_core::services::sessions::{ApplicationGuard, Authenticated, Refreshed};
use serde_json::json;

use crate::harness::{ROUNDS, World, ctx, race};

/// Access tokens of the korastratum dialect, as far as these tests need them.
const PROFILE: TokenProfile = TokenProfile {
    dialect: Dialect::Korastratum,
    algs: &[KeyAlg::HS256],
    typ: "JWT",
    tenant_claim: None,
    not_before: false,
    audience_list: false,
    fixed: &[],
    client_claim: None,
    realm_issuer: false,
};

async fn refresh(w: &World, token: &str) -> CoreResult<Refreshed> {
    w.core.sessions().refresh(&w.tenant, token, Dialect::Korastratum, ApplicationGuard::Any, &ctx()).await
}

async fn access_token(w: &World, auth: &Authenticated) -> String {
    let grant = AccessGrant::for_session(&auth.session, w.tenant.audience.clone(), json!({}));
    w.core.tokens().issue_access_token(&w.tenant, &PROFILE, grant).await.unwrap()
}

async fn access_stands(w: &World, token: &str) -> bool {
    let locator = Locator::Tenant { tenant: &w.tenant, audience: &w.tenant.audience };
    match w.core.tokens().locate_and_verify(token, &PROFILE, locator).await {
        Ok(_) => true,
        Err(CoreError::Unauthorized) => false,
        Err(e) => panic!("verifying an access token failed: {e:?}"),
    }
}

#[tokio::test]
async fn a_refresh_token_rotates_once_and_presenting_it_again_revokes_its_session() {
    let w = World::new().await;
    let user = w.user("amina").await;
    let auth = w.sign_in("amina@example.com").await;
    let other = w.sign_in("amina@example.com").await;
    let access = access_token(&w, &auth).await;
    assert!(access_stands(&w, &access).await);

    let first = refresh(&w, &auth.refresh_token).await.unwrap().auth;
    assert_ne!(first.refresh_token, auth.refresh_token);
    assert_eq!(first.session.id, auth.session.id, "a rotation keeps the session");
    let second = refresh(&w, &first.refresh_token).await.unwrap().auth;
    assert_ne!(second.refresh_token, first.refresh_token);

    // The spent first token, presented again: the session ends with every token of it.
    let reused = refresh(&w, &auth.refresh_token).await;
    assert!(matches!(reused, Err(CoreError::RefreshTokenReused)), "{reused:?}");
    let newest = refresh(&w, &second.refresh_token).await;
    assert!(matches!(newest, Err(CoreError::InvalidRefreshToken)), "the session's newest token dies too: {newest:?}");
    assert!(!access_stands(&w, &access).await, "and so does its access token");
    let live: Vec<SessionId> =
        w.core.sessions().list_sessions(&w.tenant, user.id).await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(live, vec![other.session.id.clone()], "the user's other session is untouched");
    assert!(refresh(&w, &other.refresh_token).await.is_ok());

    let reuse = w.events("refresh.reuse").await;
    assert_eq!(reuse.len(), 1, "{reuse:?}");
    assert_eq!(reuse[0].outcome, "session_revoked");
    assert_eq!(reuse[0].detail["session"], json!(auth.session.id));
    assert_eq!(w.outcomes("refresh").await.get("success"), Some(&3));
}

#[tokio::test]
async fn a_refresh_token_of_another_dialect_is_refused_and_left_unspent() {
    let w = World::new().await;
    w.user("amina").await;
    let auth = w.sign_in("amina@example.com").await;
    let foreign = w.core.sessions().refresh(&w.tenant, &auth.refresh_token, Dialect::Mosip, ApplicationGuard::Any, &ctx()).await;
    assert!(matches!(foreign, Err(CoreError::InvalidRefreshToken)), "{foreign:?}");
    assert!(refresh(&w, &auth.refresh_token).await.is_ok(), "still good for its own dialect, once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_rotations_of_one_token_have_exactly_one_winner() {
    let w = World::new().await;
    let user = w.user("amina").await;
    let n = 16;
    for _ in 0..ROUNDS {
        let auth = w.sign_in("amina@example.com").await;
        let results = race(n, |_| {
            let (core, tenant, token) = (w.core.clone(), w.tenant.clone(), auth.refresh_token.clone());
            async move { core.sessions().refresh(&tenant, &token, Dialect::Korastratum, ApplicationGuard::Any, &ctx()).await }
        })
        .await;
        let winners: Vec<&Refreshed> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        let losers = results.iter().filter(|r| matches!(r, Err(CoreError::RefreshTokenReused))).count();
        assert_eq!(losers, n - 1, "every loser presented a spent token: {results:?}");

        // A lost race is a reuse like any other: the session ends, the winner's new token with it.
        let winner = winners[0].auth.refresh_token.clone();
        assert!(matches!(refresh(&w, &winner).await, Err(CoreError::InvalidRefreshToken)));
        assert!(w.core.sessions().list_sessions(&w.tenant, user.id).await.unwrap().is_empty());
    }
    assert_eq!(w.outcomes("refresh").await.get("success"), Some(&ROUNDS));
    assert_eq!(w.events("refresh.reuse").await.len(), ROUNDS * (n - 1));
}
