//! The hot state of the token checks and refreshes, held in memory per node: sessions, the users
//! they belong to, each user's live sessions, the deny list of access tokens ended early, and (where
//! this node is the only one spending them) which session an unused refresh token opens.
//!
//! The database stays the truth. An entry is only answered while the node's change feed is
//! healthy ([`crate::feed`]): every change to a session, a user or the deny list, by this node or any
//! other process, reaches it there, and this node's own writes drop their entries at once. A node
//! that loses its feed forgets everything and reads the database until the feed is back.
//!
//! Fills race with changes: a read that began before a change committed must not store what it
//! read after the change was applied. Every change bumps an epoch; a fill names the epoch it read
//! at and is dropped if the epoch moved.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use castellan_core::model::{ClientGrant, RefreshToken, Session, SessionId, TenantId, User, UserId};

/// Entries per map before a quarter of them are dropped. Measured (bench W9), a session held with
/// its user, its user's list and its refresh token costs the process about 1.3 KiB, so the maps
/// stay within about 15 MiB however many sessions are live; a dropped entry costs one read.
const LIMIT: usize = 10_000;
/// Denied token ids held before the deny list stops answering from memory (about 100 bytes each);
/// past it every check reads the database again.
pub(crate) const DENY_LIMIT: usize = 200_000;
/// How long after its expiry a denied token is still held (the verifiers' leeway is shorter).
const DENY_GRACE: i64 = 3600;
/// How long a node trusts its feed without hearing its own heartbeat back (PostgreSQL).
const HEARTBEAT_DEADLINE_MS: u64 = 2_000;

/// One change the feed reports, as the database's triggers describe it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    Session {
        tenant: String,
        user: String,
        id: String,
    },
    User {
        tenant: String,
        user: String,
    },
    Denied {
        jti: String,
        expires_at: i64,
    },
    /// A denial deleted (expired and pruned, or its tenant deleted).
    Undenied {
        jti: String,
    },
    Heartbeat(String),
}

impl Change {
    /// `s:{tenant}:{user}:{session}`, `u:{tenant}:{user}`, `j:{expires_at}:{jti}`, `jd:{jti}`,
    /// `hb:{nonce}`.
    pub(crate) fn parse(topic: &str) -> Option<Change> {
        let (kind, rest) = topic.split_once(':')?;
        match kind {
            "s" => {
                let mut parts = rest.splitn(3, ':');
                let (tenant, user, id) = (parts.next()?, parts.next()?, parts.next()?);
                Some(Change::Session { tenant: tenant.into(), user: user.into(), id: id.into() })
            }
            "u" => {
                let (tenant, user) = rest.split_once(':')?;
                Some(Change::User { tenant: tenant.into(), user: user.into() })
            }
            "j" => {
                let (expires_at, jti) = rest.split_once(':')?;
                Some(Change::Denied { jti: jti.into(), expires_at: expires_at.parse().ok()? })
            }
            "jd" => Some(Change::Undenied { jti: rest.into() }),
            "hb" => Some(Change::Heartbeat(rest.into())),
            _ => None,
        }
    }
}

#[derive(Default)]
struct Maps {
    sessions: HashMap<SessionId, Session>,
    /// A user's sessions that were live when read (ids; the sessions themselves are above).
    user_sessions: HashMap<(TenantId, UserId), Vec<SessionId>>,
    users: HashMap<(TenantId, UserId), User>,
    /// Unused refresh token (hash) → its tenant, session, expiry and the client it was issued to.
    refresh: HashMap<Vec<u8>, (TenantId, SessionId, i64, Option<ClientGrant>)>,
    /// Every denied token id and its expiry, when complete; `None` when the database must answer.
    denied: Option<HashMap<String, i64>>,
    /// Denials that expired before this were deleted from the store; the feed may still report
    /// them (late), and they are not taken back in.
    pruned_before: i64,
}

impl Maps {
    /// Drops every entry; what the store pruned stays pruned.
    fn forget(&mut self) {
        *self = Maps { pruned_before: self.pruned_before, ..Maps::default() };
    }
}

pub(crate) struct HotState {
    /// Whether refresh tokens are only ever spent through this state (SQLite: one server process
    /// per database file, its stores sharing this state).
    exact: bool,
    epoch: AtomicU64,
    feed_ok: AtomicBool,
    started: Instant,
    /// When this node last heard its own heartbeat back (ms since `started`); unused on SQLite.
    heard_at_ms: AtomicU64,
    resyncs: AtomicU64,
    maps: Mutex<Maps>,
}

impl HotState {
    pub(crate) fn new(exact: bool) -> HotState {
        HotState {
            exact,
            epoch: AtomicU64::new(0),
            feed_ok: AtomicBool::new(false),
            started: Instant::now(),
            heard_at_ms: AtomicU64::new(0),
            resyncs: AtomicU64::new(0),
            maps: Mutex::new(Maps::default()),
        }
    }

    /// Whether entries may be answered: the feed is up and, where it has a heartbeat, heard lately.
    pub(crate) fn trusted(&self) -> bool {
        if !self.feed_ok.load(Ordering::Acquire) {
            return false;
        }
        self.exact || self.elapsed_ms().saturating_sub(self.heard_at_ms.load(Ordering::Acquire)) < HEARTBEAT_DEADLINE_MS
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn heard_heartbeat(&self) {
        self.heard_at_ms.store(self.elapsed_ms(), Ordering::Release);
    }

    /// The epoch a fill must name.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        // A panic while holding the lock leaves maps that are at worst incomplete, never wrong.
        self.maps.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `change` on the maps after moving the epoch, so fills that read before it are dropped.
    fn invalidate(&self, change: impl FnOnce(&mut Maps)) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        change(&mut self.maps());
    }

    /// Fills the maps if nothing changed since `epoch` and the feed is trusted.
    fn fill(&self, epoch: u64, fill: impl FnOnce(&mut Maps)) {
        if !self.trusted() {
            return;
        }
        let mut maps = self.maps();
        if self.epoch.load(Ordering::Acquire) == epoch {
            fill(&mut maps);
        }
    }

    // --- the feed

    /// The feed is gone: nothing held can be vouched for any more.
    pub(crate) fn feed_lost(&self) {
        self.feed_ok.store(false, Ordering::Release);
        self.invalidate(Maps::forget);
    }

    /// The feed is back (or up for the first time): everything held before is forgotten, since
    /// changes made meanwhile were not heard, and entries are answered again.
    pub(crate) fn feed_restored(&self) {
        self.invalidate(Maps::forget);
        self.heard_heartbeat();
        self.resyncs.fetch_add(1, Ordering::Relaxed);
        self.feed_ok.store(true, Ordering::Release);
    }

    /// How many times the feed was (re)established.
    pub(crate) fn resyncs(&self) -> u64 {
        self.resyncs.load(Ordering::Relaxed)
    }

    pub(crate) fn feed_is_ok(&self) -> bool {
        self.feed_ok.load(Ordering::Acquire)
    }

    /// Applies a change the feed reported.
    pub(crate) fn apply(&self, change: &Change) {
        match change {
            Change::Session { tenant, user, id } => {
                let (Ok(tenant), Ok(user)) = (tenant.parse::<TenantId>(), user.parse::<UserId>()) else {
                    return self.forget_everything();
                };
                self.session_changed(tenant, user, &SessionId::from(id.as_str()));
            }
            Change::User { tenant, user } => match (tenant.parse::<TenantId>(), user.parse::<UserId>()) {
                (Ok(tenant), Ok(user)) => self.user_changed(tenant, user),
                _ => self.forget_everything(),
            },
            Change::Denied { jti, expires_at } => {
                // A late report of a denial the store has pruned since is not taken back in.
                if *expires_at >= self.maps().pruned_before {
                    self.denied_now(jti, *expires_at, i64::MIN);
                }
            }
            Change::Undenied { jti } => self.invalidate(|m| {
                if let Some(denied) = m.denied.as_mut() {
                    denied.remove(jti);
                }
            }),
            Change::Heartbeat(_) => {}
        }
    }

    /// Drops every entry (a tenant deleted, identifiers rewritten, a change the feed lost).
    pub(crate) fn forget_everything(&self) {
        self.invalidate(Maps::forget);
    }

    // --- sessions

    pub(crate) fn session(&self, tenant: TenantId, id: &SessionId) -> Option<Session> {
        if !self.trusted() {
            return None;
        }
        self.maps().sessions.get(id).filter(|s| s.tenant_id == tenant).cloned()
    }

    pub(crate) fn put_session(&self, epoch: u64, session: &Session) {
        self.fill(epoch, |m| {
            trim(&mut m.sessions);
            m.sessions.insert(session.id.clone(), session.clone());
        });
    }

    /// The user's live sessions at `now` as last read, most recently active first; `None` unless
    /// every one of them is held.
    pub(crate) fn live_sessions(&self, tenant: TenantId, user: UserId, now: i64) -> Option<Vec<Session>> {
        if !self.trusted() {
            return None;
        }
        let maps = self.maps();
        let ids = maps.user_sessions.get(&(tenant, user))?;
        let mut live = Vec::with_capacity(ids.len());
        for id in ids {
            let s = maps.sessions.get(id)?;
            if s.revoked_at.is_none() && s.expires_at > now {
                live.push(s.clone());
            }
        }
        live.sort_by(|a, b| b.last_active.cmp(&a.last_active).then_with(|| b.id.cmp(&a.id)));
        Some(live)
    }

    pub(crate) fn put_live_sessions(&self, epoch: u64, tenant: TenantId, user: UserId, sessions: &[Session]) {
        self.fill(epoch, |m| {
            trim(&mut m.user_sessions);
            for s in sessions {
                trim(&mut m.sessions);
                m.sessions.insert(s.id.clone(), s.clone());
            }
            m.user_sessions.insert((tenant, user), sessions.iter().map(|s| s.id.clone()).collect());
        });
    }

    /// A session was written (activity, revocation, deletion): it and its user's list are dropped.
    pub(crate) fn session_changed(&self, tenant: TenantId, user: UserId, id: &SessionId) {
        self.invalidate(|m| {
            m.sessions.remove(id);
            m.user_sessions.remove(&(tenant, user));
        });
    }

    /// The user gained a session, or lost some: their list is dropped, and with `all` every
    /// session of theirs held.
    pub(crate) fn user_sessions_changed(&self, tenant: TenantId, user: UserId, all: bool) {
        self.invalidate(|m| {
            m.user_sessions.remove(&(tenant, user));
            if all {
                m.sessions.retain(|_, s| !(s.tenant_id == tenant && s.user_id == user));
            }
        });
    }

    // --- users

    pub(crate) fn user(&self, tenant: TenantId, id: UserId) -> Option<User> {
        if !self.trusted() {
            return None;
        }
        self.maps().users.get(&(tenant, id)).cloned()
    }

    pub(crate) fn put_user(&self, epoch: u64, user: &User) {
        self.fill(epoch, |m| {
            trim(&mut m.users);
            m.users.insert((user.tenant_id, user.id), user.clone());
        });
    }

    pub(crate) fn user_changed(&self, tenant: TenantId, user: UserId) {
        self.invalidate(|m| {
            m.users.remove(&(tenant, user));
        });
    }

    /// The user is gone, and their sessions and refresh tokens with them.
    pub(crate) fn user_deleted(&self, tenant: TenantId, user: UserId) {
        self.invalidate(|m| {
            m.users.remove(&(tenant, user));
            m.user_sessions.remove(&(tenant, user));
            m.sessions.retain(|_, s| !(s.tenant_id == tenant && s.user_id == user));
        });
    }

    // --- refresh tokens

    /// The tenant's session an unused refresh token opens and the client it was issued to, if this
    /// node issued it and it has not expired by `now`. Only where this state sees every spend.
    pub(crate) fn refresh_session(&self, tenant: TenantId, hash: &[u8], now: i64) -> Option<(SessionId, Option<ClientGrant>)> {
        if !self.exact || !self.trusted() {
            return None;
        }
        let maps = self.maps();
        let (t, session, expires_at, client) = maps.refresh.get(hash)?;
        (*t == tenant && *expires_at > now).then(|| (session.clone(), client.clone()))
    }

    pub(crate) fn put_refresh(&self, r: &RefreshToken) {
        if !self.exact || !self.trusted() {
            return;
        }
        // No epoch: the token was just written, and only a spend (below) changes it.
        let mut maps = self.maps();
        trim(&mut maps.refresh);
        maps.refresh.insert(r.token_hash.clone(), (r.tenant_id, r.session_id.clone(), r.expires_at, r.client.clone()));
    }

    pub(crate) fn refresh_spent(&self, hash: &[u8]) {
        self.maps().refresh.remove(hash);
    }

    // --- the deny list

    /// Whether `jti` is denied, if the complete list is held.
    pub(crate) fn denied(&self, jti: &str) -> Option<bool> {
        if !self.trusted() {
            return None;
        }
        self.maps().denied.as_ref().map(|d| d.contains_key(jti))
    }

    pub(crate) fn deny_list_held(&self) -> bool {
        self.maps().denied.is_some()
    }

    /// The whole deny list as read at `epoch`.
    pub(crate) fn put_deny_list(&self, epoch: u64, entries: Vec<(String, i64)>) {
        if entries.len() > DENY_LIMIT {
            return;
        }
        self.fill(epoch, |m| m.denied = Some(entries.into_iter().collect()));
    }

    /// `jti` was denied until `expires_at`, and the entries that expired before `pruned_before`
    /// were deleted with it (as the store deletes them). A full list first lets go of tokens long
    /// expired (by the wall clock: a token is never let go of early, whatever clock its expiry was
    /// set by).
    pub(crate) fn denied_now(&self, jti: &str, expires_at: i64, pruned_before: i64) {
        self.invalidate(|m| {
            m.pruned_before = m.pruned_before.max(pruned_before);
            let Some(denied) = m.denied.as_mut() else { return };
            denied.retain(|_, exp| *exp >= pruned_before);
            if denied.len() >= DENY_LIMIT {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                denied.retain(|_, exp| *exp + DENY_GRACE >= now);
            }
            if denied.len() >= DENY_LIMIT {
                m.denied = None;
            } else {
                // A second denial of one id keeps the first expiry, as the store does.
                denied.entry(jti.to_string()).or_insert(expires_at);
            }
        });
    }
}

/// Makes room in a full map by dropping about a quarter of its entries (whichever the hash order
/// puts first: the map keeps no recency, and a dropped entry costs one read).
fn trim<K, V>(map: &mut HashMap<K, V>) {
    if map.len() < LIMIT {
        return;
    }
    let mut n = 0usize;
    map.retain(|_, _| {
        n += 1;
        !n.is_multiple_of(4)
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn session(tenant: TenantId, user: UserId, last_active: i64) -> Session {
        Session {
            id: Session::new_id(),
            tenant_id: tenant,
            user_id: user,
            application_id: None,
            dialect: castellan_core::model::Dialect::Korastratum,
            device: serde_json::json!({}),
            ip: None,
            user_agent: None,
            created_at: 0,
            last_active,
            expires_at: 1_000,
            revoked_at: None,
        }
    }

    fn ready(exact: bool) -> HotState {
        let hot = HotState::new(exact);
        hot.feed_restored();
        hot
    }

    #[test]
    fn nothing_is_answered_before_the_feed_is_up_or_after_it_is_lost() {
        let hot = HotState::new(true);
        let (t, u) = (TenantId::new(), UserId::new());
        let s = session(t, u, 5);
        hot.put_session(hot.epoch(), &s);
        assert_eq!(hot.session(t, &s.id), None, "filled before the feed was up");
        hot.feed_restored();
        hot.put_session(hot.epoch(), &s);
        assert_eq!(hot.session(t, &s.id), Some(s.clone()));
        hot.feed_lost();
        assert_eq!(hot.session(t, &s.id), None);
        hot.feed_restored();
        assert_eq!(hot.session(t, &s.id), None, "what was held before the loss is forgotten");
    }

    #[test]
    fn a_fill_that_read_before_a_change_is_dropped() {
        let hot = ready(true);
        let (t, u) = (TenantId::new(), UserId::new());
        let s = session(t, u, 5);
        let read_at = hot.epoch();
        hot.session_changed(t, u, &s.id);
        hot.put_session(read_at, &s);
        assert_eq!(hot.session(t, &s.id), None);
        hot.put_session(hot.epoch(), &s);
        assert!(hot.session(t, &s.id).is_some());
        assert_eq!(hot.session(TenantId::new(), &s.id), None, "another tenant's id is not answered");
    }

    #[test]
    fn a_users_list_is_answered_only_while_every_session_in_it_is_held_and_in_activity_order() {
        let hot = ready(true);
        let (t, u) = (TenantId::new(), UserId::new());
        let (old, new) = (session(t, u, 5), session(t, u, 9));
        hot.put_live_sessions(hot.epoch(), t, u, &[old.clone(), new.clone()]);
        let live = hot.live_sessions(t, u, 10).unwrap();
        assert_eq!(live.iter().map(|s| s.id.clone()).collect::<Vec<_>>(), vec![new.id.clone(), old.id.clone()]);
        assert_eq!(hot.live_sessions(t, u, 1_000).unwrap(), vec![], "expired sessions are not live");
        hot.session_changed(t, u, &old.id);
        assert_eq!(hot.live_sessions(t, u, 10), None);
        hot.put_live_sessions(hot.epoch(), t, u, std::slice::from_ref(&new));
        hot.user_sessions_changed(t, u, true);
        assert_eq!((hot.live_sessions(t, u, 10), hot.session(t, &new.id)), (None, None));
    }

    #[test]
    fn the_deny_list_answers_only_when_complete_and_learns_each_denial() {
        let hot = ready(true);
        assert_eq!(hot.denied("a"), None);
        hot.denied_now("a", 100, 0);
        assert_eq!(hot.denied("a"), None, "a denial alone does not make the list complete");
        hot.put_deny_list(hot.epoch(), vec![("a".into(), 100)]);
        hot.denied_now("b", 100, 0);
        assert_eq!((hot.denied("a"), hot.denied("b"), hot.denied("c")), (Some(true), Some(true), Some(false)));
        let read_at = hot.epoch();
        hot.denied_now("d", 100, 0);
        hot.put_deny_list(read_at, vec![]);
        assert_eq!(hot.denied("d"), Some(true), "a list read before a denial does not replace it");
        hot.denied_now("e", 300, 101);
        assert_eq!((hot.denied("d"), hot.denied("e")), (Some(false), Some(true)), "expired entries are pruned as stored");
        hot.apply(&Change::Denied { jti: "d".into(), expires_at: 100 });
        assert_eq!(hot.denied("d"), Some(false), "a late report of a pruned denial is not taken back in");
        hot.apply(&Change::Undenied { jti: "e".into() });
        assert_eq!(hot.denied("e"), Some(false));
    }

    #[test]
    fn refresh_tokens_are_held_only_where_every_spend_passes_here() {
        let (t, sid) = (TenantId::new(), SessionId::new());
        let client =
            Some(ClientGrant { application_id: castellan_core::model::AppId::new(), grant: serde_json::json!({"s": 1}) });
        let token = RefreshToken {
            id: uuid::Uuid::nil(),
            tenant_id: t,
            session_id: sid.clone(),
            client: client.clone(),
            token_hash: b"h".to_vec(),
            expires_at: 100,
            used_at: None,
            created_at: 1,
        };
        let shared = ready(false);
        shared.put_refresh(&token);
        assert_eq!(shared.refresh_session(t, b"h", 10), None);
        let exact = ready(true);
        exact.put_refresh(&token);
        assert_eq!(exact.refresh_session(t, b"h", 10), Some((sid.clone(), client)));
        assert_eq!(exact.refresh_session(t, b"h", 100), None, "expired");
        assert_eq!(exact.refresh_session(TenantId::new(), b"h", 10), None, "another tenant");
        exact.refresh_spent(b"h");
        assert_eq!(exact.refresh_session(t, b"h", 10), None);
    }

    #[test]
    fn a_feed_without_its_heartbeat_is_not_trusted() {
        let mut hot = HotState::new(false);
        hot.started = Instant::now().checked_sub(std::time::Duration::from_secs(10)).unwrap();
        hot.feed_restored();
        assert!(hot.trusted());
        hot.heard_at_ms.store(0, Ordering::Release);
        assert!(!hot.trusted());
        hot.heard_heartbeat();
        assert!(hot.trusted());
    }

    #[test]
    fn topics_parse_as_the_triggers_write_them() {
        assert_eq!(
            Change::parse("s:t:u:sess_1"),
            Some(Change::Session { tenant: "t".into(), user: "u".into(), id: "sess_1".into() })
        );
        assert_eq!(Change::parse("u:t:u"), Some(Change::User { tenant: "t".into(), user: "u".into() }));
        assert_eq!(Change::parse("j:42:a:b"), Some(Change::Denied { jti: "a:b".into(), expires_at: 42 }));
        assert_eq!(Change::parse("hb:n"), Some(Change::Heartbeat("n".into())));
        assert_eq!(Change::parse("jd:a:b"), Some(Change::Undenied { jti: "a:b".into() }));
        assert_eq!(Change::parse("j:x:a"), None);
        assert_eq!(Change::parse("nonsense"), None);
    }
}
