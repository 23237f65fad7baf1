//! The change feed that keeps a node's [`HotState`] honest. Triggers (migration 0007) report every
//! change to a session, a user or the deny list, whoever makes it:
//!
//! - on PostgreSQL as a notification on the schema's channel, sent when the change commits; each node LISTENs
//!   on a connection of its own and hears its own heartbeat (every 500 ms) to know the connection
//!   still delivers. A lost connection forgets everything and starts over; a heartbeat not heard
//!   for two seconds stops the answers from memory until it is.
//! - on SQLite as a row of `cache_changes`, read every 50 ms. Stores of one process on one file
//!   share their state, so their own writes are seen at once; the feed brings the writes of other
//!   processes (the command line on a live data directory).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};
use sqlx::sqlite::SqlitePool;

use crate::hot::{Change, HotState};

/// The channel of this schema's changes, as the triggers name it.
const CHANNEL_SQL: &str = "SELECT 'castellan_' || substr(md5(current_schema()), 1, 16)";
const HEARTBEAT: Duration = Duration::from_millis(500);
const POLL: Duration = Duration::from_millis(50);
/// Feed rows older than this are deleted; a reader that falls further behind forgets everything.
const KEEP_SECONDS: i64 = 300;
const PRUNE_EVERY: Duration = Duration::from_secs(30);

/// The state shared by every store of this process on the SQLite file `file`.
pub(crate) fn shared_sqlite_state(file: &str) -> Arc<HotState> {
    static SHARED: LazyLock<Mutex<HashMap<String, Weak<HotState>>>> = LazyLock::new(Default::default);
    let mut shared = SHARED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    shared.retain(|_, state| state.strong_count() > 0);
    if let Some(state) = shared.get(file).and_then(Weak::upgrade) {
        return state;
    }
    let state = Arc::new(HotState::new(true));
    shared.insert(file.to_string(), Arc::downgrade(&state));
    state
}

fn wall_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// How often a deny list too long to hold (or unreadable) is tried again.
const DENY_RETRY: Duration = Duration::from_secs(5);

/// Reads the deny list whole, if it is not held and was not tried in the last [`DENY_RETRY`].
macro_rules! load_deny_list {
    ($hot:expr, $pool:expr, $tried:expr) => {
        if !$hot.deny_list_held() && $tried.map_or(true, |t: tokio::time::Instant| t.elapsed() >= DENY_RETRY) {
            $tried = Some(tokio::time::Instant::now());
            let epoch = $hot.epoch();
            let rows: Result<Vec<(String, i64)>, sqlx::Error> =
                // The whole table: revocations prune it as they go.
                sqlx::query_as("SELECT jti, expires_at FROM revoked_tokens LIMIT $1")
                    .bind(i64::try_from(crate::hot::DENY_LIMIT + 1).unwrap_or(i64::MAX))
                    .fetch_all($pool)
                    .await;
            if let Ok(rows) = rows {
                $hot.put_deny_list(epoch, rows);
            }
        }
    };
}

/// Follows `cache_changes` until the store is dropped or its pools closed.
pub(crate) async fn follow_sqlite(read: SqlitePool, write: SqlitePool, hot: Arc<HotState>, alive: Weak<()>) {
    let mut last: Option<i64> = None;
    let mut ticker = tokio::time::interval(POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pruned = tokio::time::Instant::now();
    let mut deny_tried = None;
    loop {
        ticker.tick().await;
        if alive.strong_count() == 0 || read.is_closed() {
            return;
        }
        match read_changes(&read, &mut last, &hot).await {
            Ok(()) => {
                if !hot.feed_is_ok() {
                    hot.feed_restored();
                    deny_tried = None;
                }
                load_deny_list!(hot, &read, deny_tried);
            }
            Err(e) => {
                if read.is_closed() {
                    return;
                }
                if hot.feed_is_ok() {
                    tracing::warn!(error = %crate::cause(&e), "cache feed unreadable; reading the database until it is back");
                    hot.feed_lost();
                }
                last = None;
            }
        }
        if pruned.elapsed() >= PRUNE_EVERY {
            pruned = tokio::time::Instant::now();
            let _ = sqlx::query("DELETE FROM cache_changes WHERE at < $1").bind(wall_now() - KEEP_SECONDS).execute(&write).await;
        }
    }
}

async fn read_changes(pool: &SqlitePool, last: &mut Option<i64>, hot: &HotState) -> Result<(), sqlx::Error> {
    let Some(after) = *last else {
        // Starting (or starting over): what came before is not held, so only what follows matters.
        let (max,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(seq), 0) FROM cache_changes").fetch_one(pool).await?;
        *last = Some(max);
        hot.forget_everything();
        return Ok(());
    };
    let rows: Vec<(i64, String)> = sqlx::query_as("SELECT seq, topic FROM cache_changes WHERE seq > $1 ORDER BY seq LIMIT 1000")
        .bind(after)
        .fetch_all(pool)
        .await?;
    if let Some((first, _)) = rows.first()
        && *first != after + 1
    {
        // Rows were pruned before this reader saw them: their changes are unknown.
        hot.forget_everything();
    }
    for (seq, topic) in &rows {
        match Change::parse(topic) {
            Some(change) => hot.apply(&change),
            None => hot.forget_everything(),
        }
        *last = Some(*seq);
    }
    Ok(())
}

/// LISTENs on the schema's channel until the store is dropped or its pool closed, starting over whenever the
/// connection is lost.
pub(crate) async fn follow_postgres(pool: PgPool, hot: Arc<HotState>, alive: Weak<()>) {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let channel = loop {
        if alive.strong_count() == 0 || pool.is_closed() {
            return;
        }
        match sqlx::query_scalar::<_, String>(CHANNEL_SQL).fetch_one(&pool).await {
            Ok(channel) => break channel,
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    tokio::spawn(send_heartbeats(pool.clone(), channel.clone(), nonce.clone(), alive.clone()));
    let mut backoff = Duration::from_millis(100);
    loop {
        if alive.strong_count() == 0 || pool.is_closed() {
            return;
        }
        let mut listener = match listen(&pool, &channel).await {
            Ok(l) => l,
            Err(e) => {
                tracing::debug!(error = %crate::cause(&e), "cache feed: cannot listen yet");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        hot.feed_restored();
        let mut deny_tried = None;
        load_deny_list!(hot, &pool, deny_tried);
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => match Change::parse(n.payload()) {
                    Some(Change::Heartbeat(from)) if from == nonce => hot.heard_heartbeat(),
                    Some(change) => hot.apply(&change),
                    None => hot.forget_everything(),
                },
                Ok(None) | Err(_) => break,
            }
            if alive.strong_count() == 0 {
                return;
            }
            load_deny_list!(hot, &pool, deny_tried);
        }
        if !pool.is_closed() {
            tracing::warn!("cache feed lost; reading the database until it is back");
        }
        hot.feed_lost();
    }
}

async fn listen(pool: &PgPool, channel: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // A lost connection is answered by starting over here, with everything forgotten.
    listener.eager_reconnect(false);
    listener.listen(channel).await?;
    Ok(listener)
}

async fn send_heartbeats(pool: PgPool, channel: String, nonce: String, alive: Weak<()>) {
    let mut ticker = tokio::time::interval(HEARTBEAT);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let payload = format!("hb:{nonce}");
    loop {
        ticker.tick().await;
        if alive.strong_count() == 0 || pool.is_closed() {
            return;
        }
        let _ = sqlx::query("SELECT pg_notify($1, $2)").bind(&channel).bind(&payload).execute(&pool).await;
    }
}
