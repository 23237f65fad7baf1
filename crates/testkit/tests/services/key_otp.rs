//! One-time codes by key: a login code sent to the outbox and verified by the key it was asked
//! for, and service codes whose wrong tries freeze their key. One live code per key; a right code
//! works once, however many race with it.

use castellan_core::model::{Dialect, SessionId, User};
use castellan_core::services::key_otp::{LoginCodeRequest, UserLookup};
use castellan_core::services::otp_login::OtpChannel;
use castellan_core::services::sessions::Authenticated;
use castellan_core::{CoreError, CoreResult};

use crate::harness::{ROUNDS, World, ctx, locked_for, race, wrong_code};

const EMAIL: &str = "amina@example.com";

async fn send_code(w: &World, user: &User) {
    let key = user.id.to_string();
    let req = LoginCodeRequest {
        key: &key,
        lookup: UserLookup::Username("amina"),
        channels: &[OtpChannel::Email],
        application: &w.app,
        template_vars: &[],
    };
    w.core.key_codes().send_login_code(&w.tenant, req, &ctx()).await.unwrap();
}

async fn login(w: &World, user: &User, code: &str) -> CoreResult<Authenticated> {
    let key = user.id.to_string();
    w.core.key_codes().login_with_code(Some(&w.tenant), &key, code, Dialect::Mosip, &ctx()).await.map(|(_, auth, _)| auth)
}

#[track_caller]
fn remaining<T: std::fmt::Debug>(r: CoreResult<T>) -> u32 {
    match r {
        Err(CoreError::InvalidOtp { attempts_remaining }) => attempts_remaining,
        other => panic!("expected InvalidOtp, got {other:?}"),
    }
}

#[tokio::test]
async fn a_login_code_by_key_goes_to_the_outbox_and_signs_in_once() {
    let w = World::new().await;
    let user = w.user("amina").await;
    send_code(&w, &user).await;
    let code = w.code_sent_to(EMAIL).await;
    assert_eq!(w.outcomes("otp.sent").await.get("queued"), Some(&1));

    // Without a tenant, the key's pending code names it.
    let (tenant, auth, application) =
        w.core.key_codes().login_with_code(None, &user.id.to_string(), &code, Dialect::Mosip, &ctx()).await.unwrap();
    assert_eq!((tenant.id, auth.user.id, application), (w.tenant.id, user.id, Some(w.app.id)));
    assert_eq!(remaining(login(&w, &user, &code).await), 0, "spent");
}

#[tokio::test]
async fn wrong_codes_by_key_count_down_and_a_new_code_starts_afresh() {
    let w = World::with_policy(|p| p.otp.max_attempts = 3).await;
    let user = w.user("amina").await;
    send_code(&w, &user).await;
    let code = w.code_sent_to(EMAIL).await;
    let wrong = wrong_code(&code);
    assert_eq!(remaining(login(&w, &user, &wrong).await), 2);
    assert_eq!(remaining(login(&w, &user, &wrong).await), 1);
    assert_eq!(remaining(login(&w, &user, &wrong).await), 0);
    assert_eq!(remaining(login(&w, &user, &code).await), 0, "the code died with its last try");

    w.clock.advance(1);
    send_code(&w, &user).await;
    let fresh = w.code_sent_to(EMAIL).await;
    assert_eq!(remaining(login(&w, &user, &wrong_code(&fresh)).await), 2, "a new code has all its tries");
    assert!(login(&w, &user, &fresh).await.is_ok());
}

#[tokio::test]
async fn a_code_by_key_expires_with_the_clock_and_a_new_one_replaces_it() {
    let w = World::with_policy(|p| p.otp.ttl_seconds = 60).await;
    let user = w.user("amina").await;
    send_code(&w, &user).await;
    let first = w.code_sent_to(EMAIL).await;
    w.clock.advance(60);
    assert!(matches!(login(&w, &user, &first).await, Err(CoreError::OtpExpired)));

    send_code(&w, &user).await;
    let second = w.code_sent_to(EMAIL).await;
    w.clock.advance(1);
    send_code(&w, &user).await;
    let third = w.code_sent_to(EMAIL).await;
    if second != third {
        assert!(login(&w, &user, &second).await.is_err(), "a new code replaces the old one");
    }
    assert!(login(&w, &user, &third).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_code_by_key_signs_in_once_however_many_race_with_it() {
    let w = World::new().await;
    let user = w.user("amina").await;
    let n = 12;
    for round in 1..=ROUNDS {
        w.clock.advance(1);
        send_code(&w, &user).await;
        let code = w.code_sent_to(EMAIL).await;
        let results = race(n, |_| {
            let (core, tenant, key, code) = (w.core.clone(), w.tenant.clone(), user.id.to_string(), code.clone());
            async move {
                core.key_codes()
                    .login_with_code(Some(&tenant), &key, &code, Dialect::Mosip, &ctx())
                    .await
                    .map(|(_, a, _)| a.session.id)
            }
        })
        .await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
        let spent = |r: &&CoreResult<SessionId>| matches!(r, Err(CoreError::InvalidOtp { attempts_remaining: 0 }));
        assert!(results.iter().filter(|r| r.is_err()).all(|r| spent(&r)), "{results:?}");
        assert_eq!(w.core.sessions().list_sessions(&w.tenant, user.id).await.unwrap().len(), round, "one session per code");
    }
}

#[tokio::test]
async fn wrong_service_codes_freeze_the_key_until_the_freeze_ends() {
    let w = World::with_policy(|p| {
        p.otp.max_attempts = 3;
        p.otp.freeze_seconds = 900;
    })
    .await;
    let key = "+256700000001";
    let code = w.core.key_codes().generate_service_code(&w.tenant, key, &ctx()).await.unwrap();
    let wrong = wrong_code(&code);
    for left in [2, 1, 0] {
        assert_eq!(remaining(w.core.key_codes().validate_service_code(&w.tenant, key, &wrong, &ctx()).await), left);
    }
    assert_eq!(locked_for(w.core.key_codes().validate_service_code(&w.tenant, key, &code, &ctx()).await), 900, "frozen");
    assert_eq!(
        locked_for(w.core.key_codes().generate_service_code(&w.tenant, key, &ctx()).await),
        900,
        "no new code while frozen"
    );
    // Another key is not frozen with it.
    w.core.key_codes().generate_service_code(&w.tenant, "+256700000002", &ctx()).await.unwrap();

    w.clock.advance(899);
    assert_eq!(locked_for(w.core.key_codes().generate_service_code(&w.tenant, key, &ctx()).await), 1);
    w.clock.advance(1);
    let thawed = w.core.key_codes().generate_service_code(&w.tenant, key, &ctx()).await.unwrap();
    w.core.key_codes().validate_service_code(&w.tenant, key, &thawed, &ctx()).await.unwrap();
    assert_eq!(remaining(w.core.key_codes().validate_service_code(&w.tenant, key, &thawed, &ctx()).await), 0, "spent");
    assert_eq!(w.outcomes("otp.generate").await.get("frozen"), Some(&2));
}
