//! Session openings, committed in groups (see `groups`): one UPDATE spends the challenges the
//! group's sessions reward, one INSERT stores the sessions, one their refresh tokens, one (per
//! hundred) the audit events that go with them, one
//! read finds their users' live sessions and one UPDATE ends those past each tenant's limit. A
//! challenge two openings of one group spend goes to the first.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use castellan_core::store::SessionOpening;

use super::groups::{GroupWrite, Writer};
use super::*;
use crate::hot::HotState;

/// Audit events per INSERT: a group's events may outnumber its sessions.
const EVENTS_PER_INSERT: usize = 100;

/// Session openings; a job's outcome is the sessions it ended, `None` if its challenge was not
/// there to spend.
pub(crate) struct Openings {
    /// Told what each group wrote right after it is written, in this task, so that a caller that
    /// stops waiting cannot leave this node holding the state from before.
    pub(crate) hot: Arc<HotState>,
}

type Outcome = Option<Vec<SessionId>>;

#[async_trait]
impl GroupWrite for Openings {
    type Job = SessionOpening;
    type Outcome = Outcome;
    const WHAT: &'static str = "a sign-in";

    async fn write(&self, writer: &Writer, group: &[SessionOpening]) -> StoreResult<Vec<Outcome>> {
        let written = write_openings(writer, group).await;
        // Whatever the outcome: a failed commit may still have been written.
        for o in group {
            self.hot.user_sessions_changed(o.session.tenant_id, o.session.user_id, false);
        }
        if let Ok(outcomes) = &written {
            for (o, ended) in group.iter().zip(outcomes) {
                let Some(ended) = ended else { continue };
                for id in ended {
                    self.hot.session_changed(o.session.tenant_id, o.session.user_id, id);
                }
                self.hot.put_refresh(&o.refresh);
            }
        }
        written
    }
}

/// One transaction for the whole group; each opening's outcome, in order. Each opening is judged
/// at its own time (its session's `created_at`).
async fn write_openings(writer: &Writer, group: &[SessionOpening]) -> StoreResult<Vec<Outcome>> {
    let now = group.iter().map(|o| o.session.created_at).max().unwrap_or_default();
    let earliest = group.iter().map(|o| o.session.created_at).min().unwrap_or_default();
    let spends: Vec<(Uuid, TenantId, i64)> =
        group.iter().filter_map(|o| o.spends.map(|c| (c, o.session.tenant_id, o.session.created_at))).collect();
    on_writer!(writer, |p| async {
        let mut tx = p.begin().await.map_err(db_err)?;
        let mut spent = Vec::new();
        if !spends.is_empty() {
            let mut q = sqlx::query_as::<_, (String, String)>(AssertSqlSafe(spend_sql(spends.len()))).bind(now);
            for (id, _, _) in &spends {
                q = q.bind(id.to_string());
            }
            for (_, tenant, _) in &spends {
                q = q.bind(tenant.to_string());
            }
            for (_, _, at) in &spends {
                q = q.bind(*at);
            }
            spent = q.fetch_all(&mut *tx).await.map_err(db_err)?;
        }
        let won = winners(group, spent);
        let winners: Vec<&SessionOpening> = group.iter().zip(&won).filter(|(_, w)| **w).map(|(o, _)| o).collect();
        if winners.is_empty() {
            tx.rollback().await.map_err(db_err)?;
            return Ok(group.iter().map(|_| None).collect());
        }
        let sql = format!("INSERT INTO sessions ({SESSION_COLS}) VALUES {}", placeholder_rows(12, winners.len()));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for o in &winners {
            q = bind_session!(q, o.session);
        }
        q.execute(&mut *tx).await.map_err(db_err)?;
        let sql = format!("INSERT INTO refresh_tokens ({REFRESH_COLS}) VALUES {}", placeholder_rows(9, winners.len()));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for o in &winners {
            q = bind_refresh!(q, o.refresh);
        }
        q.execute(&mut *tx).await.map_err(db_err)?;
        let events: Vec<&AuditEvent> = winners.iter().flat_map(|o| &o.events).collect();
        for chunk in events.chunks(EVENTS_PER_INSERT) {
            let sql = format!("INSERT INTO audit_events ({AUDIT_COLS}) VALUES {}", placeholder_rows(10, chunk.len()));
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for e in chunk {
                q = bind_audit!(q, e);
            }
            q.execute(&mut *tx).await.map_err(db_err)?;
        }
        let users = users_of(&winners);
        // Every session alive at the earliest opening's time; each opening then judges at its own.
        let mut q = sqlx::query_as::<_, SessionRow>(AssertSqlSafe(live_sql(users.len()))).bind(earliest);
        for (_, user) in &users {
            q = q.bind(user.to_string());
        }
        for (tenant, _) in &users {
            q = q.bind(tenant.to_string());
        }
        let rows = q.fetch_all(&mut *tx).await.map_err(db_err)?;
        let live: Vec<Session> = all(rows.into_iter().filter(SessionRow::of_known_dialect).collect())?;
        let mut evicted = past_the_limits(&winners, live);
        let ended: Vec<&SessionId> = evicted.values().flatten().collect();
        if !ended.is_empty() {
            let ids = (0..ended.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(",");
            let sql = format!("UPDATE sessions SET revoked_at=$1 WHERE revoked_at IS NULL AND id IN ({ids})");
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(now);
            for id in &ended {
                q = q.bind(id.as_str());
            }
            q.execute(&mut *tx).await.map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        // The sessions ended for a user are reported once, to the first of its openings.
        Ok(group
            .iter()
            .zip(won)
            .map(|(o, won)| won.then(|| evicted.remove(&(o.session.tenant_id, o.session.user_id)).unwrap_or_default()))
            .collect())
    }
    .await)
}

/// `UPDATE challenges … RETURNING id, tenant_id` for `n` (challenge, tenant, time) triples:
/// `$2…$n+1` the ids, then the tenants, then the times. The IN list finds the rows by their key;
/// each triple keeps a challenge to the tenant of the session it rewards and judges its expiry at
/// that session's time.
fn spend_sql(n: usize) -> String {
    let ids = (0..n).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(",");
    let triples = (0..n)
        .map(|i| format!("(id=${} AND tenant_id=${} AND expires_at > ${})", i + 2, n + i + 2, 2 * n + i + 2))
        .collect::<Vec<_>>()
        .join(" OR ");
    format!(
        "UPDATE challenges SET consumed_at=$1 WHERE consumed_at IS NULL AND attempts < max_attempts \
         AND id IN ({ids}) AND ({triples}) RETURNING id, tenant_id"
    )
}

/// The unrevoked, unexpired sessions of `n` (user, tenant) pairs, bound as in [`spend_sql`].
fn live_sql(n: usize) -> String {
    let ids = (0..n).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(",");
    let pairs = (0..n).map(|i| format!("(user_id=${} AND tenant_id=${})", i + 2, n + i + 2)).collect::<Vec<_>>().join(" OR ");
    format!(
        "SELECT {SESSION_COLS} FROM sessions WHERE revoked_at IS NULL AND expires_at > $1 AND user_id IN ({ids}) AND ({pairs})"
    )
}

/// Which openings go ahead: those that spend nothing, and for each challenge that was spent the
/// first opening that names it in that tenant.
fn winners(group: &[SessionOpening], spent: Vec<(String, String)>) -> Vec<bool> {
    let mut unclaimed = spent;
    group
        .iter()
        .map(|o| match o.spends {
            None => true,
            Some(id) => {
                let key = (id.to_string(), o.session.tenant_id.to_string());
                unclaimed.iter().position(|s| *s == key).map(|i| unclaimed.swap_remove(i)).is_some()
            }
        })
        .collect()
}

/// The distinct (tenant, user) pairs of the openings.
fn users_of(openings: &[&SessionOpening]) -> Vec<(TenantId, UserId)> {
    let mut users: Vec<(TenantId, UserId)> = openings.iter().map(|o| (o.session.tenant_id, o.session.user_id)).collect();
    users.sort_unstable();
    users.dedup();
    users
}

/// For each user of the openings, the live sessions past its tenant's limit: the most recently
/// active are kept (the new ones among them), as the sessions list orders them.
fn past_the_limits(openings: &[&SessionOpening], live: Vec<Session>) -> HashMap<(TenantId, UserId), Vec<SessionId>> {
    let mut by_user: HashMap<(TenantId, UserId), Vec<Session>> = HashMap::new();
    for s in live {
        by_user.entry((s.tenant_id, s.user_id)).or_default().push(s);
    }
    let mut evicted = HashMap::new();
    for o in openings {
        let key = (o.session.tenant_id, o.session.user_id);
        let Some(mut sessions) = by_user.remove(&key) else { continue };
        sessions.retain(|s| s.is_alive(o.session.created_at, o.idle_timeout));
        sessions.sort_by(|a, b| (b.last_active, &b.id).cmp(&(a.last_active, &a.id)));
        let past: Vec<SessionId> = sessions.into_iter().skip(o.max_concurrent as usize).map(|s| s.id).collect();
        if !past.is_empty() {
            evicted.insert(key, past);
        }
    }
    evicted
}
