//! Lockout counters, keyed by subject (`user:<id>` or a normalised unknown identifier).

use super::*;
use castellan_core::store::{AttemptReservation, LockoutStore};

impl State {
    fn lockout(&self, tenant: TenantId, subject: &str) -> Option<&LockoutRow> {
        self.lockouts.iter().find(|l| l.tenant_id == tenant && l.subject == subject)
    }
}

#[async_trait]
impl LockoutStore for MemoryStore {
    async fn reserve_attempt(
        &self,
        tenant: TenantId,
        subject: &str,
        threshold: u32,
        now: i64,
        lock_seconds: i64,
    ) -> StoreResult<AttemptReservation> {
        text(subject)?;
        let threshold = i64::from(threshold);
        let lock = |failures: i64| (failures >= threshold).then_some(now + lock_seconds);
        let mut s = self.state();
        let Some(row) = s.lockouts.iter_mut().find(|l| l.tenant_id == tenant && l.subject == subject) else {
            s.require_tenant(tenant)?;
            s.lockouts.push(LockoutRow { tenant_id: tenant, subject: subject.to_string(), failures: 1, locked_until: lock(1) });
            return Ok(AttemptReservation::Allowed { failures: 1 });
        };
        // Every attempt is counted, a refused one too; a lock that has run out starts the count
        // again. Past the threshold means it was reached before this attempt: refused.
        let lock_over = row.locked_until.is_some_and(|until| until <= now);
        let running = row.locked_until.filter(|until| *until > now && row.failures >= threshold);
        row.failures = if lock_over { 1 } else { row.failures + 1 };
        row.locked_until = running.or(lock(row.failures));
        if row.failures > threshold {
            return Ok(AttemptReservation::Locked { until: row.locked_until.unwrap_or(now + lock_seconds) });
        }
        Ok(AttemptReservation::Allowed { failures: row.failures as u32 })
    }

    async fn clear_attempts(&self, tenant: TenantId, subject: &str) -> StoreResult<()> {
        text(subject)?;
        self.state().lockouts.retain(|l| !(l.tenant_id == tenant && l.subject == subject));
        Ok(())
    }

    async fn settle_success(&self, tenant: TenantId, subject: &str, failures: u32, now: i64) -> StoreResult<bool> {
        text(subject)?;
        let mut s = self.state();
        let settled = |l: &LockoutRow| l.locked_until.is_none_or(|until| until <= now) || l.failures <= i64::from(failures);
        s.lockouts.retain(|l| !(l.tenant_id == tenant && l.subject == subject && settled(l)));
        Ok(s.lockout(tenant, subject).and_then(|l| l.locked_until).is_none_or(|until| until <= now))
    }

    async fn locked_until(&self, tenant: TenantId, subject: &str, now: i64) -> StoreResult<Option<i64>> {
        text(subject)?;
        let s = self.state();
        Ok(s.lockout(tenant, subject).and_then(|l| l.locked_until).filter(|until| *until > now))
    }
}
