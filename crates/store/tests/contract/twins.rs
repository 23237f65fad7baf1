//! The memory store against the SQL store, operation by operation: the same pseudo-random run of
//! writes and reads over a small set of ids and values (so that keys clash, rows go missing,
//! codes run out and locks expire) goes to both, and every answer must be the same. The contract
//! checks say what the stores must do; this says the twin does what the SQL store does in the
//! cases nobody wrote a check for.
//!
//! Answers are compared as printed, with a backend error's message left out. On SQLite a
//! conflict's field is left out too: where a row breaks two unique keys, SQLite names the last
//! one declared and the memory store, as PostgreSQL, the first. Claims are compared as sets and
//! asked for every due row: which of two rows due at once a limit keeps is the engine's choice.

use std::fmt::Debug;
use std::sync::Arc;

use castellan_core::model::audit::AuditFilter;
use castellan_core::model::*;
use castellan_core::store::{Store, StoreError, StoreResult, UserFilter};
use castellan_testkit::MemoryStore;
use castellan_testkit::contract::Engine;
use serde_json::json;
use uuid::Uuid;

use crate::{Postgres, Sqlite};

const STEPS: i64 = 1_000;
const SEEDS: [u64; 3] = [0x9E37_79B9_7F4A_7C15, 42, 0xC0FF_EE00_D15E_A5E5];

/// xorshift64*: the same run for the same seed on every machine. Times are drawn in steps of ten,
/// the run's clock tick, so that expiries and locks end exactly at a step now and then.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
    fn int(&mut self, n: u64) -> i64 {
        self.below(n) as i64
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn maybe<T: Clone>(&mut self, items: &[T]) -> Option<T> {
        self.absent_or(30, items)
    }
    fn absent_or<T: Clone>(&mut self, percent: u64, items: &[T]) -> Option<T> {
        if self.chance(percent) { None } else { Some(self.pick(items)) }
    }
}

/// The ids the run draws from, the same for both stores. The third tenant is never stored.
struct World {
    tenants: Vec<TenantId>,
    users: Vec<UserId>,
    apps: Vec<AppId>,
    challenges: Vec<Uuid>,
    verifications: Vec<Uuid>,
    callbacks: Vec<Uuid>,
    refresh_ids: Vec<Uuid>,
    events: Vec<Uuid>,
    messages: Vec<Uuid>,
    admin_tokens: Vec<Uuid>,
}

impl World {
    fn new() -> World {
        let ids = |n: usize| (0..n).map(|_| new_id()).collect::<Vec<_>>();
        World {
            tenants: ids(3).into_iter().map(TenantId::from).collect(),
            users: ids(6).into_iter().map(UserId::from).collect(),
            apps: ids(4).into_iter().map(AppId::from).collect(),
            challenges: ids(4),
            verifications: ids(4),
            callbacks: ids(3),
            refresh_ids: ids(6),
            events: ids(8),
            messages: ids(5),
            admin_tokens: ids(3),
        }
    }
}

const SESSIONS: [&str; 4] = ["sess_a", "sess_b", "sess_c", "sess_d"];

/// An answer as compared: printed, a backend error without its message, and on SQLite a conflict
/// without its field.
fn answer<T: Debug>(result: StoreResult<T>, exact_conflicts: bool) -> String {
    match result {
        Ok(value) => format!("{value:?}"),
        Err(StoreError::Conflict(on)) if exact_conflicts => format!("Conflict({on:?})"),
        Err(StoreError::Conflict(_)) => "Conflict".into(),
        Err(StoreError::InvalidText) => "InvalidText".into(),
        Err(StoreError::Backend { .. }) => "Backend".into(),
        Err(StoreError::Unavailable { .. }) => "Unavailable".into(),
    }
}

/// A claim's answer, in id order.
fn claimed<T: Debug, K: Ord>(result: StoreResult<Vec<T>>, key: impl Fn(&T) -> K) -> StoreResult<Vec<T>> {
    result.map(|mut rows| {
        rows.sort_by_key(|r| key(r));
        rows
    })
}

/// One drawn operation on `store` at time `now`: what it was and what the store answered. Every
/// draw comes before any answer, so both stores are given the same operation.
async fn step(store: &dyn Store, w: &World, rng: &mut Rng, now: i64, exact: bool) -> String {
    macro_rules! a {
        ($result:expr) => {
            answer($result, exact)
        };
    }
    // Mostly the first tenant, so that rows meet; now and then the second, or the missing third.
    let tenant = w.tenants[[0, 0, 0, 0, 0, 0, 1, 1, 1, 2][rng.below(10) as usize]];
    let user = rng.pick(&w.users);
    let app = rng.pick(&w.apps);
    let session = SessionId::from(rng.pick(&SESSIONS));
    match rng.below(41) {
        0 => {
            let t = Tenant {
                id: tenant,
                slug: rng.pick(&["s0", "s1", "s2"]).into(),
                display_name: format!("d{now}"),
                profile: Profile::Dialect(Dialect::Korastratum),
                dialects: vec![rng.pick(Dialect::SERVED)],
                issuer: "i".into(),
                audience: "a".into(),
                policy: Policy::of_dialect(Dialect::Korastratum),
                created_at: now,
            };
            format!("insert_tenant {t:?}: {}", a!(store.insert_tenant(&t).await))
        }
        1 => {
            let Ok(Some(t)) = store.tenant_by_id(tenant).await else { return format!("update_tenant {tenant}: none") };
            let t = Tenant { display_name: format!("u{now}"), dialects: vec![rng.pick(Dialect::SERVED)], ..t };
            format!("update_tenant: {}", a!(store.update_tenant(&t).await))
        }
        2 => {
            let slug = rng.pick(&["s0", "s1", "s2"]);
            format!(
                "tenants: {} {} {}",
                a!(store.tenant_by_id(tenant).await),
                a!(store.tenant_by_slug(slug).await),
                a!(store.list_tenants().await)
            )
        }
        3 if rng.chance(10) => format!("delete_tenant {tenant}: {}", a!(store.delete_tenant(tenant).await)),
        3 | 4 => {
            let u = drawn_user(rng, user, tenant, now);
            format!("insert_user {u:?}: {}", a!(store.insert_user(&u).await))
        }
        7 if rng.chance(30) => format!("delete_user: {}", a!(store.delete_user(tenant, user).await)),
        5 | 7 => {
            let u = drawn_user(rng, user, tenant, now);
            format!("update_user {u:?}: {}", a!(store.update_user(&u).await))
        }
        6 => {
            let identifier = match rng.below(3) {
                0 => Identifier::Email(Email::parse(rng.pick(&EMAILS)).unwrap()),
                1 => Identifier::Phone(Phone::parse(rng.pick(&PHONES), "256").unwrap()),
                _ => Identifier::Username(rng.pick(&USERNAMES).into()),
            };
            let filter = UserFilter {
                email: rng.maybe(&EMAILS).map(str::to_string),
                username: rng.maybe(&USERNAMES).map(str::to_string),
                phone: rng.maybe(&PHONES).map(str::to_string),
                limit: rng.below(4) as u32,
            };
            let uin = rng.pick(&["1", "2"]);
            format!(
                "users: {} {} {} {}",
                a!(store.user_by_id(tenant, user).await),
                a!(store.user_by_identifier(tenant, &identifier).await),
                a!(store.user_by_uin(tenant, uin).await),
                a!(store.list_users(tenant, &filter).await)
            )
        }
        8 => {
            let (expected, new) = (rng.pick(&["p1", "p2"]), rng.pick(&["p1", "p2"]));
            format!("replace_password_hash: {}", a!(store.replace_password_hash(tenant, user, expected, new, now).await))
        }
        9 | 10 => {
            let x = drawn_app(rng, app, tenant, now);
            if rng.chance(50) {
                format!("insert_application {x:?}: {}", a!(store.insert_application(&x).await))
            } else {
                format!("update_application {x:?}: {}", a!(store.update_application(&x).await))
            }
        }
        11 => {
            let (dialect, alias) = rng.pick(&ALIASES);
            let client_id = rng.pick(&CLIENT_IDS);
            format!(
                "applications: {} {} {} {}",
                a!(store.application_by_id(tenant, app).await),
                a!(store.application_by_client_id(tenant, client_id).await),
                a!(store.application_by_alias(dialect, alias).await),
                a!(store.list_applications(tenant).await)
            )
        }
        12 => format!("delete_application: {}", a!(store.delete_application(tenant, app).await)),
        13 => {
            let hash = rng.pick(&[b"h1", b"h2", b"h3"]);
            let inserted = store.insert_api_key(tenant, app, &format!("p{now}"), hash, now).await;
            let revoked = if rng.chance(30) { a!(store.revoke_api_keys(tenant, app, now).await) } else { String::new() };
            format!(
                "api keys: {} {revoked} {} {}",
                a!(inserted),
                a!(store.application_by_api_key(hash).await),
                a!(store.api_key_prefix(tenant, app).await)
            )
        }
        14 => {
            let set = if rng.chance(50) {
                a!(store.set_callback_secret(tenant, app, format!("cs{now}").as_bytes()).await)
            } else {
                String::new()
            };
            format!("callback secret: {set} {}", a!(store.callback_secret(tenant, app).await))
        }
        15 | 16 => {
            let subject = rng.pick(&["s1", "s2"]);
            let (threshold, failures, lock) = (1 + rng.below(3) as u32, rng.below(4) as u32, 10 + rng.int(150) * 10);
            let answer = match rng.below(4) {
                0 | 1 => a!(store.reserve_attempt(tenant, subject, threshold, now, lock).await),
                2 => a!(store.settle_success(tenant, subject, failures, now).await),
                _ => a!(store.clear_attempts(tenant, subject).await),
            };
            format!("lockout {subject}: {answer} {}", a!(store.locked_until(tenant, subject, now).await))
        }
        17 => {
            let f = TotpFactor {
                user_id: user,
                tenant_id: tenant,
                secret_sealed: vec![1],
                algorithm: "SHA1".into(),
                digits: 6,
                period: 30,
                enabled: false,
                last_step: None,
                created_at: now,
            };
            let step = rng.int(5);
            let answer = match rng.below(4) {
                0 => a!(store.upsert_totp(&f).await),
                1 => a!(store.enable_totp(tenant, user).await),
                2 => a!(store.delete_totp(tenant, user).await),
                _ => a!(store.advance_totp_step(tenant, user, step).await),
            };
            format!("totp: {answer} {}", a!(store.totp_by_user(tenant, user).await))
        }
        18 => {
            let f = AppTotpFactor {
                tenant_id: tenant,
                application_id: app,
                user_id: user,
                secret_sealed: vec![2],
                algorithm: "SHA1".into(),
                digits: 6,
                period: 30,
                last_step: None,
                created_at: now,
            };
            let step = rng.int(5);
            let answer = match rng.below(3) {
                0 => a!(store.upsert_app_totp(&f).await),
                1 => a!(store.delete_app_totp(tenant, app, user).await),
                _ => a!(store.advance_app_totp_step(tenant, app, user, step).await),
            };
            format!("app totp: {answer} {}", a!(store.app_totp(tenant, app, user).await))
        }
        19 => {
            let c = Challenge {
                id: rng.pick(&w.challenges),
                tenant_id: tenant,
                user_id: user,
                kind: rng.pick(&[ChallengeKind::OtpLogin, ChallengeKind::PasswordReset]),
                secret_hash: format!("c{now}").into_bytes(),
                attempts: 0,
                max_attempts: 1 + rng.below(3) as u32,
                expires_at: now + rng.int(100) * 10,
                consumed_at: None,
                data: json!({"at": now}),
                created_at: now,
            };
            format!("insert_challenge {c:?}: {}", a!(store.insert_challenge(&c).await))
        }
        20 | 21 => {
            let id = rng.pick(&w.challenges);
            let kind = rng.pick(&[ChallengeKind::OtpLogin, ChallengeKind::PasswordReset]);
            let old = format!("c{}", rng.int(now as u64 / 10 + 1) * 10).into_bytes();
            let answer = match rng.below(5) {
                0 => a!(store.fail_challenge(tenant, id).await),
                1 => a!(store.consume_challenge(tenant, id, now).await),
                2 => a!(store
                    .reissue_challenge(tenant, id, &old, format!("c{now}").as_bytes(), now + 50, &json!({"re": now}))
                    .await),
                3 => a!(store.consume_user_challenges(tenant, user, kind, now).await),
                _ => a!(store.challenge_by_secret(tenant, kind, &old).await),
            };
            format!(
                "challenge: {answer} {} {}",
                a!(store.challenge_by_id(tenant, id).await),
                a!(store.locate_challenge(id).await)
            )
        }
        22 | 23 => {
            let key = rng.pick(&[b"k1", b"k2"]);
            let secret = rng.pick(&[b"x", b"y"]);
            let otp = KeyOtp {
                tenant_id: tenant,
                key_hash: key.to_vec(),
                user_id: rng.maybe(&w.users),
                application_id: None,
                secret_hash: secret.to_vec(),
                attempts: 0,
                max_attempts: 1 + rng.below(3) as u32,
                expires_at: now + rng.int(150) * 10,
                frozen_until: rng.absent_or(70, &[now, now + 10, now + 50]),
                created_at: now,
            };
            let freeze = rng.chance(60).then_some(now + rng.int(200) * 10);
            let answer = match rng.below(3) {
                0 => a!(store.put_key_otp(&otp, now).await),
                1 => a!(store.fail_key_otp(tenant, key, secret, freeze).await),
                _ => a!(store.consume_key_otp(tenant, key, secret, now).await),
            };
            format!("key otp: {answer} {} {}", a!(store.key_otp(tenant, key).await), a!(store.latest_key_otp(key, now).await))
        }
        24 => {
            let s = Session {
                id: session.clone(),
                tenant_id: tenant,
                user_id: user,
                application_id: None,
                dialect: rng.pick(Dialect::SERVED),
                device: json!({}),
                ip: None,
                user_agent: None,
                created_at: now,
                last_active: now - rng.int(30) * 10,
                expires_at: now + rng.int(200) * 10,
                revoked_at: None,
            };
            format!("insert_session {s:?}: {}", a!(store.insert_session(&s).await))
        }
        25 | 26 => {
            let answer = match rng.below(3) {
                0 => a!(store.touch_session(tenant, &session, now).await),
                1 => a!(store.revoke_session(tenant, user, &session, now).await),
                _ => a!(store.revoke_user_sessions(tenant, user, now).await),
            };
            format!(
                "sessions: {answer} {} {}",
                a!(store.session_by_id(tenant, &session).await),
                a!(store.list_live_sessions(tenant, user, now).await)
            )
        }
        27 => {
            let r = drawn_refresh(rng, w, tenant, &session, now);
            format!("insert_refresh_token {r:?}: {}", a!(store.insert_refresh_token(&r).await))
        }
        28 | 29 => {
            let hash = rng.pick(&REFRESH_HASHES);
            let answer = if rng.chance(50) {
                a!(store.consume_refresh_token(tenant, hash, now).await)
            } else {
                let new = drawn_refresh(rng, w, tenant, &session, now);
                let event = AuditEvent { id: rng.pick(&w.events), ..event(Some(tenant), "refresh", now) };
                a!(store.rotate_refresh_token(tenant, hash, now, &new, &event).await)
            };
            format!(
                "refresh: {answer} {} {} {}",
                a!(store.refresh_token_by_hash(tenant, hash).await),
                a!(store.tenant_of_refresh_token(hash).await),
                a!(store.session_of_refresh_token(tenant, hash, now).await)
            )
        }
        30 => {
            let jti = rng.pick(&["j1", "j2", "j3"]);
            let revoked = if rng.chance(60) {
                a!(store.revoke_token(tenant, jti, now + rng.int(50) * 10, now).await)
            } else {
                String::new()
            };
            format!("revoke_token {jti}: {revoked} {}", a!(store.token_revoked(jti).await))
        }
        31 => {
            let kid = rng.pick(&["k1", "k2", "k3"]);
            let answer = if rng.chance(50) {
                let k = SigningKey {
                    kid: kid.into(),
                    tenant_id: tenant,
                    alg: KeyAlg::ES256,
                    state: KeyState::Active,
                    private_sealed: vec![3],
                    public_jwk: json!({}),
                    created_at: rng.int(5),
                    retired_at: None,
                };
                a!(store.insert_key(&k).await)
            } else {
                let state = rng.pick(&[KeyState::Active, KeyState::Retiring, KeyState::Retired]);
                a!(store.set_key_state(tenant, kid, state, now).await)
            };
            format!("keys: {answer} {} {}", a!(store.list_keys(tenant).await), a!(store.list_all_keys().await))
        }
        32 => {
            let mut e = event(rng.maybe(&w.tenants), rng.pick(&["login", "logout"]), rng.int(5));
            e.id = rng.pick(&w.events);
            e.user_id = rng.maybe(&w.users);
            let answer = if rng.chance(50) {
                a!(store.insert_audit(&e).await)
            } else {
                let second = AuditEvent { id: rng.pick(&w.events), ..e.clone() };
                a!(store.insert_audit_batch(&[e, second]).await)
            };
            format!("audit: {answer}")
        }
        33 => {
            let filter = AuditFilter {
                user_id: rng.maybe(&w.users),
                action: rng.maybe(&["login", "logout"]).map(str::to_string),
                since: rng.maybe(&[0, 2, 4]),
                limit: rng.below(5) as u32,
            };
            format!(
                "list audit: {} {}",
                a!(store.list_audit(tenant, &filter).await),
                a!(store.list_unscoped_audit(&filter).await)
            )
        }
        34 => {
            let m = OutboundMessage {
                id: rng.pick(&w.messages),
                tenant_id: rng.maybe(&w.tenants),
                channel: Channel::Email,
                recipient: rng.pick(&["a@b.co", "c@d.co"]).into(),
                subject: "s".into(),
                body: "b".into(),
                status: "pending".into(),
                transport: None,
                attempts: 0,
                next_attempt_at: now + rng.int(40) * 10,
                last_error: None,
                created_at: rng.int(5),
                sent_at: None,
            };
            format!("enqueue_message {m:?}: {}", a!(store.enqueue_message(&m).await))
        }
        35 | 36 => {
            let id = rng.pick(&w.messages);
            let answer = match rng.below(3) {
                0 => a!(claimed(store.claim_messages(now, rng.int(40) * 10, 100).await, |m| m.id)),
                1 => a!(store.mark_message_sent(id, rng.pick(&["smtp", "outbox"]), now).await),
                _ => a!(store.mark_message_failed(id, "down", rng.chance(50).then_some(now + rng.int(40) * 10)).await),
            };
            let (to, transport) = (rng.maybe(&["a@b.co", "c@d.co"]), rng.maybe(&["smtp", "outbox"]));
            format!("outbox: {answer} {}", a!(store.list_messages(to, transport, rng.below(6) as u32).await))
        }
        37 => {
            let id = rng.pick(&w.verifications);
            let statuses = [
                VerificationStatus::Pending,
                VerificationStatus::Verified,
                VerificationStatus::Succeeded,
                VerificationStatus::Rejected,
            ];
            let ip = rng.maybe(&["192.0.2.1", "192.0.2.2"]);
            let answer = match rng.below(3) {
                0 => {
                    let v = Verification {
                        id,
                        tenant_id: tenant,
                        application_id: app,
                        user_id: user,
                        email: "e@x.io".into(),
                        status: VerificationStatus::Pending,
                        tries: 0,
                        ip: None,
                        expires_at: now + 100,
                        finished_at: None,
                        created_at: rng.int(5),
                    };
                    a!(store.insert_verification(&v).await)
                }
                1 => a!(store.move_verification(tenant, id, rng.pick(&statuses), rng.pick(&statuses), ip, now).await),
                _ => a!(store.fail_verification(tenant, id, ip).await),
            };
            format!(
                "verification: {answer} {} {} {}",
                a!(store.verification(tenant, id).await),
                a!(store.locate_verification(id).await),
                a!(store.list_verifications(tenant, app, rng.below(4) as u32).await)
            )
        }
        38 => {
            let verification = rng.pick(&w.verifications);
            let answer = match rng.below(3) {
                0 => {
                    let c = Callback {
                        id: rng.pick(&w.callbacks),
                        tenant_id: tenant,
                        application_id: app,
                        kind: rng.pick(&[CallbackKind::Result, CallbackKind::Logout]),
                        verification_id: verification,
                        url: "https://example.com".into(),
                        query: "q".into(),
                        status: CallbackStatus::Pending,
                        tries: 0,
                        next_attempt_ms: now + rng.int(40) * 10,
                        deadline_ms: now + 100,
                        last_status: None,
                        last_error: None,
                        created_at: now,
                        finished_at: None,
                    };
                    a!(store.insert_callback(&c).await)
                }
                1 => a!(claimed(store.claim_callbacks(now, now + rng.int(40) * 10, 100).await, |c| c.id)),
                _ => {
                    let status = rng.pick(&[CallbackStatus::Pending, CallbackStatus::Delivered, CallbackStatus::Failed]);
                    let id = rng.pick(&w.callbacks);
                    a!(store.record_callback_try(id, status, now + rng.int(40) * 10, Some(500), Some("e"), now).await)
                }
            };
            format!("callbacks: {answer} {}", a!(store.callback_of(tenant, verification).await))
        }
        39 => {
            let answer = if rng.chance(60) {
                let c = SessionClient { session_id: session.clone(), application_id: app, user_id: user };
                a!(store.track_session_client(tenant, &c, now).await)
            } else {
                let only = rng.chance(50).then_some(&session);
                let key = |c: &SessionClient| (c.session_id.as_str().to_string(), c.application_id.to_string());
                a!(claimed(store.take_session_clients(tenant, user, only).await, key))
            };
            format!("session clients: {answer}")
        }
        _ => {
            let hash = rng.pick(&[b"t1", b"t2"]);
            let inserted = if rng.chance(50) {
                a!(store.insert_admin_token(rng.pick(&w.admin_tokens), hash, "l", now).await)
            } else {
                a!(store.ping().await)
            };
            format!("admin tokens: {inserted} {}", a!(store.admin_token_exists(hash).await))
        }
    }
}

const EMAILS: [&str; 3] = ["a@x.io", "b@x.io", "\u{0430}@x.io"];
const USERNAMES: [&str; 3] = ["al", "bo", "\u{0430}l"];
const PHONES: [&str; 2] = ["+256700000001", "+256700000002"];
const CLIENT_IDS: [&str; 3] = ["c1", "c2", "c3"];
const ALIASES: [(Dialect, &str); 4] =
    [(Dialect::Kumusoft, "K1"), (Dialect::Kumusoft, "K2"), (Dialect::Mosip, "M1"), (Dialect::Mosip, "K1")];
const REFRESH_HASHES: [&[u8]; 4] = [b"r1", b"r2", b"r3", b"r4"];

fn drawn_user(rng: &mut Rng, id: UserId, tenant: TenantId, now: i64) -> User {
    let uin = rng.absent_or(60, &["1", "2"]);
    User {
        id,
        tenant_id: tenant,
        email: rng.absent_or(60, &EMAILS).map(str::to_string),
        username: rng.absent_or(60, &USERNAMES).map(str::to_string),
        phone: rng.absent_or(60, &PHONES).map(str::to_string),
        password_hash: rng.maybe(&["p1", "p2"]).map(str::to_string),
        first_name: None,
        last_name: None,
        role: "user".into(),
        roles: vec![],
        permissions: vec![],
        attributes: uin.map_or(json!({}), |u| json!({ "uin": u })),
        email_verified: false,
        phone_verified: false,
        active: rng.chance(50),
        mfa_enabled: false,
        created_at: rng.int(5),
        updated_at: now,
    }
}

fn drawn_app(rng: &mut Rng, id: AppId, tenant: TenantId, now: i64) -> Application {
    let mut aliases = std::collections::BTreeMap::new();
    for _ in 0..rng.below(3) {
        let (dialect, alias) = rng.pick(&ALIASES);
        aliases.insert(dialect, alias.to_string());
    }
    Application {
        id,
        tenant_id: tenant,
        client_id: rng.pick(&CLIENT_IDS).into(),
        name: format!("n{now}"),
        kind: ApplicationKind::Public,
        secret_hash: None,
        aliases,
        roles: vec![],
        allowed_ips: vec![],
        callback_url: None,
        redirect_uris: vec![],
        single_otp_channel: rng.chance(50),
        hosted_webauthn: false,
        active: true,
        created_at: rng.int(5),
        oauth: Default::default(),
    }
}

fn drawn_refresh(rng: &mut Rng, w: &World, tenant: TenantId, session: &SessionId, now: i64) -> RefreshToken {
    RefreshToken {
        id: rng.pick(&w.refresh_ids),
        tenant_id: tenant,
        session_id: session.clone(),
        client: None,
        token_hash: rng.pick(&REFRESH_HASHES).to_vec(),
        expires_at: now + rng.int(150) * 10,
        used_at: None,
        created_at: now,
    }
}

fn event(tenant: Option<TenantId>, action: &str, created_at: i64) -> AuditEvent {
    AuditEvent {
        id: new_id(),
        tenant_id: tenant,
        application_id: None,
        user_id: None,
        action: action.into(),
        outcome: "success".into(),
        ip: None,
        user_agent: None,
        detail: json!({}),
        created_at,
    }
}

/// Runs every seed, side by side, each on a fresh SQL store of `E` beside a fresh memory store.
async fn run_against<E: Engine + 'static>(engine: &'static str) {
    let runs: Vec<_> = SEEDS.into_iter().map(|seed| tokio::spawn(run_seed::<E>(engine, seed))).collect();
    for run in runs {
        run.await.unwrap();
    }
}

async fn run_seed<E: Engine>(engine: &str, seed: u64) {
    let Some(sql) = E::open().await else { return };
    let memory: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let world = World::new();
    let exact = engine == "postgres";
    let mut rng = Rng(seed);
    // Both tenants the run draws from, stored; the third stays missing.
    for (i, id) in world.tenants[..2].iter().enumerate() {
        let t = Tenant {
            id: *id,
            slug: format!("start{i}"),
            display_name: "T".into(),
            profile: Profile::Dialect(Dialect::Korastratum),
            dialects: vec![Dialect::Korastratum],
            issuer: "i".into(),
            audience: "a".into(),
            policy: Policy::of_dialect(Dialect::Korastratum),
            created_at: 0,
        };
        for store in [&memory, &sql.store()] {
            store.insert_tenant(&t).await.unwrap();
        }
    }
    for n in 1..=STEPS {
        let now = n * 10;
        let mut twin = rng.clone();
        let expected = step(sql.store().as_ref(), &world, &mut rng, now, exact).await;
        let got = step(memory.as_ref(), &world, &mut twin, now, exact).await;
        assert_eq!(got, expected, "{engine}, seed {seed:#x}, step {n}: the memory store (left) differs");
    }
    sql.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn the_memory_store_answers_as_sqlite_does() {
    run_against::<Sqlite>("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn the_memory_store_answers_as_postgresql_does() {
    run_against::<Postgres>("postgres").await;
}
