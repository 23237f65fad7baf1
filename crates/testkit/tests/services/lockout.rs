//! Lockout: wrong passwords lock for the tenant policy's duration, the lock ends with the clock,
//! second-factor codes count apart, and concurrent attempts never get past the threshold.

use std::future::Future;

use castellan_core::crypto::base32;
use castellan_core::crypto::password::{Argon2Params, PasswordHasher};
use castellan_core::model::{Dialect, NewUser, User};
use castellan_core::services::login::{LoginOutcome, PasswordLogin};
use castellan_core::services::users::lockout_subject;
use castellan_core::store::LockoutStore;
use castellan_core::{CoreError, CoreResult};

use crate::harness::{PASSWORD, World, ctx, locked_for, race, totp_code, wrong_totp};

const WRONG: &str = "not the password";

fn invalid_credentials<T: std::fmt::Debug>(result: &CoreResult<T>) -> bool {
    matches!(result, Err(CoreError::InvalidCredentials))
}

/// Waits until the core has started `n` password hashes in all.
async fn wait_for_hashes(w: &World, n: usize) {
    while w.core.hasher.hashes_computed() < n {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

/// A login with `password`, owning what it needs to run on a task of its own.
fn spawnable_login(
    w: &World,
    identifier: &str,
    password: &str,
) -> impl Future<Output = CoreResult<LoginOutcome>> + Send + 'static {
    let (core, tenant) = (w.core.clone(), w.tenant.clone());
    let login = PasswordLogin {
        identifier: identifier.into(),
        password: password.into(),
        totp_code: None,
        device: serde_json::Value::Null,
        dialect: Dialect::Korastratum,
        keys_as_second_factor: false,
    };
    async move { core.login().login_with_password(&tenant, login, &ctx()).await }
}

#[track_caller]
fn assert_signed_in(result: CoreResult<LoginOutcome>) {
    assert!(matches!(result, Ok(LoginOutcome::Authenticated(_))), "expected a session, got {result:?}");
}

#[tokio::test]
async fn wrong_passwords_lock_for_the_policy_duration_and_the_lock_ends_with_the_clock() {
    for (threshold, duration) in [(3u32, 600i64), (5, 45)] {
        let w = World::with_policy(|p| {
            p.lockout.threshold = threshold;
            p.lockout.duration_seconds = duration;
        })
        .await;
        w.user("amina").await;
        for i in 1..threshold {
            let r = w.login("amina@example.com", WRONG).await;
            assert!(invalid_credentials(&r), "wrong password {i} of {threshold}: {r:?}");
        }
        assert_eq!(locked_for(w.login("amina@example.com", WRONG).await), duration, "the threshold-th wrong password locks");
        assert_eq!(locked_for(w.login("amina@example.com", PASSWORD).await), duration, "the right password is refused");
        // By every identifier of the account, not only the one that was guessed at.
        assert_eq!(locked_for(w.login("amina", PASSWORD).await), duration);

        w.clock.advance(duration / 2);
        assert_eq!(
            locked_for(w.login("amina@example.com", WRONG).await),
            duration - duration / 2,
            "attempts while locked do not extend the lock"
        );
        w.clock.advance(duration - duration / 2 - 1);
        assert_eq!(locked_for(w.login("amina@example.com", PASSWORD).await), 1, "one second before the end");
        w.clock.advance(1);
        assert_signed_in(w.login("amina@example.com", PASSWORD).await);

        // The success cleared the count: the threshold is needed again in full.
        for _ in 1..threshold {
            assert!(invalid_credentials(&w.login("amina@example.com", WRONG).await));
        }
        let outcomes = w.outcomes("login.password").await;
        assert_eq!(outcomes.get("locked"), Some(&4), "{outcomes:?}");
        assert_eq!(outcomes.get("success"), Some(&1), "{outcomes:?}");
        assert_eq!(outcomes.get("failure"), Some(&(2 * threshold as usize - 1)), "{outcomes:?}");
    }
}

#[tokio::test]
async fn the_attempt_that_reaches_the_threshold_is_still_judged_by_its_password() {
    let w = World::with_policy(|p| p.lockout.threshold = 3).await;
    w.user("amina").await;
    for _ in 0..2 {
        assert!(invalid_credentials(&w.login("amina@example.com", WRONG).await));
    }
    assert_signed_in(w.login("amina@example.com", PASSWORD).await);
    // And it cleared the count it completed.
    for _ in 0..2 {
        assert!(invalid_credentials(&w.login("amina@example.com", WRONG).await));
    }
    assert_signed_in(w.login("amina@example.com", PASSWORD).await);
}

#[tokio::test]
async fn wrong_passwords_for_an_unknown_identifier_lock_that_identifier_only() {
    let w = World::with_policy(|p| p.lockout.threshold = 2).await;
    w.user("amina").await;
    assert!(invalid_credentials(&w.login("ghost@example.com", WRONG).await));
    assert_eq!(locked_for(w.login("ghost@example.com", WRONG).await), 900, "unknown accounts lock as known ones do");
    assert_signed_in(w.login("amina@example.com", PASSWORD).await);
}

/// The user's TOTP secret, enrolled and enabled.
async fn with_totp(w: &World, user: &User) -> Vec<u8> {
    let (secret, _) = w.core.totp().enroll_totp_directly(&w.tenant, user, &ctx()).await.unwrap();
    base32::decode(&secret).unwrap()
}

#[tokio::test]
async fn wrong_second_factor_codes_count_on_their_own_counter() {
    let w = World::with_policy(|p| {
        p.lockout.threshold = 3;
        p.lockout.duration_seconds = 300;
    })
    .await;
    let user = w.user("amina").await;
    let secret = with_totp(&w, &user).await;
    let email = "amina@example.com";

    for _ in 0..2 {
        let r = w.login_with_code(email, PASSWORD, Some(&wrong_totp(&secret, w.now()))).await;
        assert!(matches!(r, Err(CoreError::InvalidMfaCode)), "{r:?}");
    }
    // Two wrong codes did not count against the password: two wrong passwords are still only wrong.
    for _ in 0..2 {
        assert!(invalid_credentials(&w.login(email, WRONG).await));
    }
    // The right passwords in between cleared the password's count, not the code's: the third
    // wrong code locks.
    assert_eq!(locked_for(w.login_with_code(email, PASSWORD, Some(&wrong_totp(&secret, w.now()))).await), 300);
    // A locked second factor locks the account, whatever is sent.
    assert_eq!(locked_for(w.login_with_code(email, PASSWORD, Some(&totp_code(&secret, w.now()))).await), 300);
    assert_eq!(locked_for(w.login(email, PASSWORD).await), 300, "not even an mfa token is handed out");
    assert_eq!(locked_for(w.login(email, WRONG).await), 300);

    w.clock.advance(300);
    assert_signed_in(w.login_with_code(email, PASSWORD, Some(&totp_code(&secret, w.now()))).await);
    let totp_events = w.outcomes("login.totp").await;
    assert_eq!(totp_events.get("failure"), Some(&3), "{totp_events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_passwords_never_get_past_the_threshold() {
    let (threshold, attempts) = (5u32, 40usize);
    let w = World::with_policy(|p| {
        p.lockout.threshold = threshold;
        p.lockout.duration_seconds = 900;
    })
    .await;
    w.user("amina").await;
    let results = race(attempts, |_| spawnable_login(&w, "amina@example.com", WRONG)).await;
    let wrong = results.iter().filter(|r| invalid_credentials(r)).count();
    let locked = results.iter().filter(|r| matches!(r, Err(CoreError::AccountLocked { .. }))).count();
    assert_eq!((wrong, locked), (threshold as usize - 1, attempts - threshold as usize + 1), "{results:?}");
    // Exactly `threshold` attempts had their password checked; the others were refused unheard.
    let outcomes = w.outcomes("login.password").await;
    assert_eq!(outcomes.get("failure"), Some(&(threshold as usize)), "{outcomes:?}");
    assert_eq!(outcomes.get("locked"), Some(&(attempts - threshold as usize)), "{outcomes:?}");
    assert_eq!(locked_for(w.login("amina@example.com", PASSWORD).await), 900);
}

/// The right password has its attempt counted, then waits for its hash while wrong ones are
/// counted after it and lock the account: when it settles, its success must not clear that lock.
/// One hashing thread, busy with another user's costly hash, holds the right password's check
/// back until the lock is in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_right_password_racing_the_lock_does_not_unlock_the_account() {
    let w = World::build(
        |p| {
            p.lockout.threshold = 3;
            p.lockout.duration_seconds = 600;
        },
        |c| c.hash_workers = 1,
    )
    .await;
    let amina = w.user("amina").await;
    let costly = Argon2Params { memory_kib: 16 * 1024, iterations: 4, parallelism: 1 };
    let costly_hash = PasswordHasher::new(costly, 1, 1).unwrap().hash(PASSWORD).await.unwrap();
    let blocker = NewUser {
        email: Some("bo@example.com".into()),
        password: Some(costly_hash),
        password_is_hash: true,
        active: true,
        ..NewUser::default()
    };
    w.core.users().create_user(&w.tenant, blocker).await.unwrap();

    let hashed = w.core.hasher.hashes_computed();
    let busy = tokio::spawn(spawnable_login(&w, "bo@example.com", PASSWORD));
    wait_for_hashes(&w, hashed + 1).await;
    let right = tokio::spawn(spawnable_login(&w, "amina@example.com", PASSWORD));
    // Counted, and queued for the hashing thread.
    wait_for_hashes(&w, hashed + 2).await;
    let wrong: Vec<_> = (0..5).map(|_| tokio::spawn(spawnable_login(&w, "amina@example.com", WRONG))).collect();
    let subject = lockout_subject(amina.id);
    while w.store.locked_until(w.tenant.id, &subject, w.now()).await.unwrap().is_none() {
        tokio::task::yield_now().await;
    }
    assert!(!right.is_finished(), "the right password was checked before the lock: the test proves nothing");

    assert_eq!(locked_for(right.await.unwrap()), 600, "the right password settles after the lock");
    let mut wrong_results = Vec::new();
    for h in wrong {
        wrong_results.push(h.await.unwrap());
    }
    // Counted second, the first wrong password to arrive is only wrong; the next one locks.
    let only_wrong = wrong_results.iter().filter(|r| invalid_credentials(r)).count();
    let locked = wrong_results.iter().filter(|r| matches!(r, Err(CoreError::AccountLocked { .. }))).count();
    assert_eq!((only_wrong, locked), (1, 4), "{wrong_results:?}");
    assert_signed_in(busy.await.unwrap());
    let password_events = w.events("login.password").await;
    let right =
        password_events.iter().find(|e| e.detail.get("reason").and_then(|r| r.as_str()) == Some("locked during the attempt"));
    assert!(right.is_some_and(|e| e.outcome == "locked"), "{password_events:?}");

    // The account stays locked for the whole duration.
    assert_eq!(locked_for(w.login("amina@example.com", PASSWORD).await), 600);
    w.clock.advance(599);
    assert_eq!(locked_for(w.login("amina@example.com", PASSWORD).await), 1);
    w.clock.advance(1);
    assert_signed_in(w.login("amina@example.com", PASSWORD).await);
}
