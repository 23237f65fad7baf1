//! A core on a fresh memory store (behind [`YieldingStore`]) and a fake clock, with a tenant, an
//! application and users made through core calls. The store and clock handles given to the core
//! are kept, to read what the core does not show (the outbox it writes) and to move time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use castellan_core::clock::{Clock, FakeClock};
use castellan_core::crypto::password::Argon2Params;
use castellan_core::crypto::totp::{self, TotpAlgorithm};
use castellan_core::model::audit::AuditFilter;
use castellan_core::model::{Application, ApplicationKind, AuditEvent, Dialect, NewUser, Policy, Profile, Tenant, User};
use castellan_core::services::ClientContext;
use castellan_core::services::applications::NewApplication;
use castellan_core::services::login::{LoginOutcome, PasswordLogin};
use castellan_core::services::sessions::Authenticated;
use castellan_core::services::tenants::NewTenant;
use castellan_core::store::OutboxStore;
use castellan_core::{Core, CoreConfig, CoreError, CoreResult};
use castellan_testkit::MemoryStore;
use serde_json::json;
use tokio::sync::watch;

use crate::yielding::YieldingStore;

/// Every user's password, unless a test says otherwise.
pub const PASSWORD: &str = "correct horse battery";
/// The fake clock's start: a fixed instant, so runs do not depend on the day.
pub const START: i64 = 1_700_000_000;
/// The application's kumusoft tag (one-time-code logins find it by this alias).
pub const TAG: &str = "PORTAL";
/// How many times a race for a single winner is run: which attempts overlap is the scheduler's
/// choice, so each race is repeated until a rule that lets two win is caught in practically every
/// run.
pub const ROUNDS: usize = 5;
/// Clock skew tolerated on tokens' `exp`, as the core is configured here.
pub const LEEWAY: i64 = 30;

/// A core and what a test needs around it.
pub struct World {
    pub core: Arc<Core>,
    pub store: Arc<MemoryStore>,
    pub clock: Arc<FakeClock>,
    pub tenant: Tenant,
    pub app: Application,
    /// Kept open so waits on it never end by themselves; turned true on drop to stop workers.
    stop: watch::Sender<bool>,
}

impl World {
    /// A world with the default profile's policy.
    pub async fn new() -> World {
        World::with_policy(|_| {}).await
    }

    /// A world whose tenant policy is the default profile's, adjusted by `adjust`.
    pub async fn with_policy(adjust: impl FnOnce(&mut Policy)) -> World {
        World::build(adjust, |_| {}).await
    }

    /// A world whose tenant policy and core configuration are adjusted by `policy` and `config`.
    pub async fn build(policy: impl FnOnce(&mut Policy), config: impl FnOnce(&mut CoreConfig)) -> World {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(FakeClock::new(START));
        let mut core_config = CoreConfig {
            public_url: "https://id.example.test".into(),
            argon2: Argon2Params::for_tests(),
            hash_workers: 2,
            // No caching: the fake clock cannot age a cache that counts real time, and a key ring
            // or tenant read once must not outlive what the test changed behind it.
            cache_ttl: Duration::ZERO,
            // Callbacks go to a receiver on 127.0.0.1 over plain http.
            allow_private_callbacks: true,
            callback_window: Duration::from_secs(5),
            token_leeway_seconds: LEEWAY,
            ..CoreConfig::default()
        };
        config(&mut core_config);
        let key = castellan_core::crypto::random_bytes::<32>();
        let yielding = Arc::new(YieldingStore(store.clone()));
        let core = Arc::new(Core::new(yielding, clock.clone(), &key, core_config).expect("core"));
        let tenant = core
            .tenants()
            .create_tenant(NewTenant {
                slug: "acme".into(),
                display_name: "Acme".into(),
                profile: Profile::Default,
                dialects: Some(Dialect::SERVED.iter().map(|d| d.as_str().to_string()).collect()),
                issuer: None,
                audience: None,
            })
            .await
            .expect("tenant");
        let mut adjusted = tenant.policy.clone();
        policy(&mut adjusted);
        let tenant = core.tenants().set_policy(&tenant.id.to_string(), adjusted).await.expect("policy");
        let app = core
            .applications()
            .create_application(
                &tenant,
                NewApplication {
                    name: "Portal".into(),
                    kind: ApplicationKind::Confidential,
                    client_id: Some("portal".into()),
                    aliases: BTreeMap::from([(Dialect::Kumusoft, TAG.to_string())]),
                    roles: vec![],
                    allowed_ips: vec![],
                    callback_url: None,
                    redirect_uris: vec![],
                    single_otp_channel: false,
                    hosted_webauthn: false,
                    active: true,
                    oauth: Default::default(),
                    client_secret: None,
                },
            )
            .await
            .expect("application")
            .app;
        let (stop, _) = watch::channel(false);
        World { core, store, clock, tenant, app, stop }
    }

    /// The fake clock's time, in epoch seconds.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Runs the result-callback worker until the world is dropped.
    pub fn run_callbacks(&self) {
        tokio::spawn(castellan_core::delivery::callbacks::run(self.core.clone(), self.stop.subscribe()));
    }

    /// A receiver that turns true only when the world is dropped (a server that never stops).
    pub fn never_stopping(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// A user with an email (verified), a username and [`PASSWORD`].
    pub async fn user(&self, name: &str) -> User {
        self.core
            .users()
            .create_user(
                &self.tenant,
                NewUser {
                    email: Some(format!("{name}@example.com")),
                    username: Some(name.to_string()),
                    password: Some(PASSWORD.into()),
                    email_verified: true,
                    active: true,
                    ..NewUser::default()
                },
            )
            .await
            .expect("user")
    }

    /// A password login through the korastratum dialect.
    pub async fn login(&self, identifier: &str, password: &str) -> CoreResult<LoginOutcome> {
        self.login_with_code(identifier, password, None).await
    }

    /// A password login with a TOTP code sent along.
    pub async fn login_with_code(&self, identifier: &str, password: &str, totp: Option<&str>) -> CoreResult<LoginOutcome> {
        let login = PasswordLogin {
            identifier: identifier.to_string(),
            password: password.to_string(),
            totp_code: totp.map(str::to_string),
            device: json!({"name": "test"}),
            dialect: Dialect::Korastratum,
            keys_as_second_factor: false,
        };
        self.core.login().login_with_password(&self.tenant, login, &ctx()).await
    }

    /// A login that must succeed at once (no second factor).
    pub async fn sign_in(&self, identifier: &str) -> Authenticated {
        match self.login(identifier, PASSWORD).await {
            Ok(LoginOutcome::Authenticated(auth)) => *auth,
            other => panic!("expected a session, got {other:?}"),
        }
    }

    /// The tenant's audit events of `action`, oldest first.
    pub async fn events(&self, action: &str) -> Vec<AuditEvent> {
        let filter = AuditFilter { action: Some(action.to_string()), limit: 1000, ..AuditFilter::default() };
        let mut events = self.core.list_audit(&self.tenant, filter).await.expect("audit");
        events.sort_by_key(|e| (e.created_at, e.id));
        events
    }

    /// How many events of `action` ended with each outcome.
    pub async fn outcomes(&self, action: &str) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for e in self.events(action).await {
            *counts.entry(e.outcome).or_default() += 1;
        }
        counts
    }

    /// Bodies of the messages queued for `to`, newest first.
    pub async fn messages_to(&self, to: &str) -> Vec<String> {
        let messages = self.store.list_messages(Some(to), None, 100).await.expect("outbox");
        messages.into_iter().map(|m| m.body).collect()
    }

    /// The one-time code of the newest message queued for `to`.
    pub async fn code_sent_to(&self, to: &str) -> String {
        let length = self.tenant.policy.otp.length as usize;
        let newest = self.messages_to(to).await.into_iter().next().unwrap_or_else(|| panic!("no message to {to}"));
        digit_runs(&newest).into_iter().find(|run| run.len() == length).unwrap_or_else(|| panic!("no code in {newest:?}"))
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The caller as the transport would describe it.
pub fn ctx() -> ClientContext {
    ClientContext { ip: Some("203.0.113.7".into()), user_agent: Some("service-tests".into()), application_id: None }
}

/// The runs of ASCII digits in `text`.
fn digit_runs(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// A code of `length` digits that is not `right`.
pub fn wrong_code(right: &str) -> String {
    right.chars().map(|c| char::from(b'0' + (c as u8 - b'0' + 1) % 10)).collect()
}

/// The six-digit TOTP code (SHA1, 30-second steps) of `secret` at `t`.
pub fn totp_code(secret: &[u8], t: i64) -> String {
    totp::totp(TotpAlgorithm::Sha1, secret, t, 30, 6)
}

/// A six-digit code that matches no step of the window (one step either side) around `t`.
pub fn wrong_totp(secret: &[u8], t: i64) -> String {
    let near: Vec<String> = (-1..=1).map(|step| totp_code(secret, t + 30 * step)).collect();
    (0..).map(|n| format!("{:06}", (n * 7919) % 1_000_000)).find(|c| !near.contains(c)).expect("a code")
}

/// The seconds an `AccountLocked` refusal asks to wait; panics on anything else.
#[track_caller]
pub fn locked_for<T: std::fmt::Debug>(result: CoreResult<T>) -> i64 {
    match result {
        Err(CoreError::AccountLocked { retry_after_seconds }) => retry_after_seconds,
        other => panic!("expected AccountLocked, got {other:?}"),
    }
}

/// Runs `n` copies of `attempt` at once, each on its own task, and returns their results in the
/// order they were started. The tasks wait for each other at a barrier first, so that on a
/// multi-threaded runtime they reach the store together rather than one after another.
pub async fn race<T, F, Fut>(n: usize, attempt: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let start = Arc::new(tokio::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (start, attempt) = (start.clone(), attempt(i));
            tokio::spawn(async move {
                start.wait().await;
                attempt.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(n);
    for h in handles {
        results.push(h.await.expect("task"));
    }
    results
}
