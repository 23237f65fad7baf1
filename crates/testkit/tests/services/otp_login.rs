//! One-time-code login by challenge: the password opens a challenge and sends a code to the
//! outbox; wrong codes count down its attempts, the clock expires it, a resend waits for the
//! cool-down and replaces the code, and a right code signs in once, however many race with it.

use castellan_core::model::{Dialect, User};
use castellan_core::services::otp_login::{OtpChallenge, OtpChannel, OtpLoginStart};
use castellan_core::services::sessions::Authenticated;
use castellan_core::{CoreError, CoreResult};
use serde_json::json;

use crate::harness::{PASSWORD, ROUNDS, World, ctx, race, wrong_code};

const EMAIL: &str = "amina@example.com";

async fn start(w: &World) -> OtpChallenge {
    let start = OtpLoginStart {
        identifier: EMAIL,
        password: PASSWORD,
        application: &w.app,
        device: json!({"name": "phone"}),
        dialect: Dialect::Kumusoft,
    };
    w.core.otp_login().start_otp_login(&w.tenant, start, &ctx()).await.unwrap()
}

async fn verify(w: &World, c: &OtpChallenge, code: &str) -> CoreResult<Authenticated> {
    w.core.otp_login().verify_otp_login(c.challenge_id, c.user.id, code, Dialect::Kumusoft, &ctx()).await.map(|(_, auth, _)| auth)
}

async fn resend(w: &World, c: &OtpChallenge) -> CoreResult<OtpChallenge> {
    w.core.otp_login().resend_otp(c.challenge_id, c.user.id, Dialect::Kumusoft, &ctx()).await
}

#[track_caller]
fn remaining<T: std::fmt::Debug>(r: CoreResult<T>) -> u32 {
    match r {
        Err(CoreError::InvalidOtp { attempts_remaining }) => attempts_remaining,
        other => panic!("expected InvalidOtp, got {other:?}"),
    }
}

#[track_caller]
fn rate_limited_for<T: std::fmt::Debug>(r: CoreResult<T>) -> i64 {
    match r {
        Err(CoreError::RateLimited { retry_after_seconds }) => retry_after_seconds,
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

async fn sessions_of(w: &World, user: &User) -> usize {
    w.core.sessions().list_sessions(&w.tenant, user.id).await.unwrap().len()
}

#[tokio::test]
async fn the_code_goes_to_the_outbox_and_signs_in_once() {
    let w = World::new().await;
    let user = w.user("amina").await;
    let c = start(&w).await;
    assert_eq!((c.channel, c.destination.as_str(), c.expires_in), (OtpChannel::Email, "a***@example.com", 300));
    assert_eq!(w.messages_to(EMAIL).await.len(), 1, "one message, to the verified email");
    assert_eq!(sessions_of(&w, &user).await, 0, "no session before the code");
    let code = w.code_sent_to(EMAIL).await;

    let auth = verify(&w, &c, &code).await.unwrap();
    assert_eq!(auth.user.id, user.id);
    assert_eq!(auth.session.dialect, Dialect::Kumusoft);
    assert!(matches!(verify(&w, &c, &code).await, Err(CoreError::OtpExpired)), "a code works once");
    assert_eq!(sessions_of(&w, &user).await, 1);
    assert_eq!(w.outcomes("otp.sent").await.get("queued"), Some(&1));
    assert_eq!(w.outcomes("otp.verify").await.get("success"), Some(&1));
}

#[tokio::test]
async fn wrong_codes_count_down_the_attempts_until_the_challenge_is_exhausted() {
    let w = World::with_policy(|p| p.otp.max_attempts = 3).await;
    w.user("amina").await;
    let c = start(&w).await;
    let code = w.code_sent_to(EMAIL).await;
    let wrong = wrong_code(&code);
    assert_eq!(remaining(verify(&w, &c, &wrong).await), 2);
    assert_eq!(remaining(verify(&w, &c, &wrong).await), 1);
    assert_eq!(remaining(verify(&w, &c, &wrong).await), 0, "the last try still answers invalid");
    assert!(matches!(verify(&w, &c, &code).await, Err(CoreError::ChallengeExhausted)), "then the right code is too late");
    assert!(matches!(resend(&w, &c).await, Err(CoreError::ChallengeExhausted)), "and no resend revives it");
}

#[tokio::test]
async fn a_code_expires_with_the_clock() {
    let w = World::with_policy(|p| p.otp.ttl_seconds = 120).await;
    w.user("amina").await;
    let c = start(&w).await;
    assert_eq!(c.expires_in, 120);
    let code = w.code_sent_to(EMAIL).await;
    w.clock.advance(119);
    assert_eq!(remaining(verify(&w, &c, &wrong_code(&code)).await), 4, "still open a second before");
    w.clock.advance(1);
    assert!(matches!(verify(&w, &c, &code).await, Err(CoreError::OtpExpired)));
    assert!(matches!(resend(&w, &c).await, Err(CoreError::OtpExpired)));
}

#[tokio::test]
async fn a_resend_waits_for_the_cooldown_and_replaces_the_code() {
    let w = World::with_policy(|p| {
        p.otp.resend_cooldown_seconds = 60;
        p.otp.ttl_seconds = 120;
    })
    .await;
    w.user("amina").await;
    let c = start(&w).await;
    let old = w.code_sent_to(EMAIL).await;
    assert_eq!(remaining(verify(&w, &c, &wrong_code(&old)).await), 4);

    assert_eq!(rate_limited_for(resend(&w, &c).await), 60);
    w.clock.advance(59);
    assert_eq!(rate_limited_for(resend(&w, &c).await), 1);
    w.clock.advance(1);
    let again = resend(&w, &c).await.unwrap();
    assert_eq!(again.challenge_id, c.challenge_id, "the same challenge");
    assert_eq!(w.messages_to(EMAIL).await.len(), 2);
    let new = w.code_sent_to(EMAIL).await;
    if new != old {
        // The old code died with the resend; the wrong tries before it still count.
        assert_eq!(remaining(verify(&w, &c, &old).await), 3);
    }
    // The new code lives a full lifetime from its sending: past the first code's expiry.
    w.clock.advance(90);
    assert!(verify(&w, &c, &new).await.is_ok());
}

#[tokio::test]
async fn resends_stop_at_the_policy_limit() {
    let w = World::with_policy(|p| {
        p.otp.resend_cooldown_seconds = 10;
        p.otp.max_sends = 3;
    })
    .await;
    w.user("amina").await;
    let c = start(&w).await;
    for _ in 0..2 {
        w.clock.advance(10);
        resend(&w, &c).await.unwrap();
    }
    w.clock.advance(10);
    let r = resend(&w, &c).await;
    assert!(rate_limited_for(r) > 0);
    assert_eq!(w.messages_to(EMAIL).await.len(), 3, "three codes sent in all");
}

#[tokio::test]
async fn a_new_login_voids_the_pending_challenge() {
    let w = World::new().await;
    w.user("amina").await;
    let first = start(&w).await;
    let first_code = w.code_sent_to(EMAIL).await;
    w.clock.advance(1);
    let second = start(&w).await;
    assert_ne!(first.challenge_id, second.challenge_id);
    assert!(matches!(verify(&w, &first, &first_code).await, Err(CoreError::OtpExpired)));
    let second_code = w.code_sent_to(EMAIL).await;
    assert!(verify(&w, &second, &second_code).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_right_code_signs_in_once_however_many_race_with_it() {
    let w = World::new().await;
    let user = w.user("amina").await;
    let n = 12;
    for round in 1..=ROUNDS {
        w.clock.advance(1);
        let c = start(&w).await;
        let code = w.code_sent_to(EMAIL).await;
        let results = race(n, |_| {
            let (core, id, user, code) = (w.core.clone(), c.challenge_id, user.id, code.clone());
            async move {
                core.otp_login().verify_otp_login(id, user, &code, Dialect::Kumusoft, &ctx()).await.map(|(_, a, _)| a.session.id)
            }
        })
        .await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
        assert!(results.iter().filter(|r| r.is_err()).all(|r| matches!(r, Err(CoreError::OtpExpired))), "{results:?}");
        assert_eq!(sessions_of(&w, &user).await, round, "one session per code");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_codes_get_no_more_tries_than_the_policy_allows() {
    let w = World::with_policy(|p| p.otp.max_attempts = 4).await;
    let user = w.user("amina").await;
    let c = start(&w).await;
    let code = w.code_sent_to(EMAIL).await;
    let wrong = wrong_code(&code);
    let results = race(20, |_| {
        let (core, id, user, wrong) = (w.core.clone(), c.challenge_id, user.id, wrong.clone());
        async move { core.otp_login().verify_otp_login(id, user, &wrong, Dialect::Kumusoft, &ctx()).await.map(|_| ()) }
    })
    .await;
    let mut left: Vec<u32> = results
        .iter()
        .filter_map(|r| match r {
            Err(CoreError::InvalidOtp { attempts_remaining }) => Some(*attempts_remaining),
            _ => None,
        })
        .collect();
    left.sort();
    assert_eq!(left, vec![0, 1, 2, 3], "each try counted once: {results:?}");
    assert!(results.iter().all(|r| matches!(r, Err(CoreError::InvalidOtp { .. } | CoreError::ChallengeExhausted))));
    assert!(matches!(verify(&w, &c, &code).await, Err(CoreError::ChallengeExhausted)));
}
