//! The `Store` implementation. Each query is written once, in the SQL both engines speak.

use async_trait::async_trait;
use castellan_core::model::audit::AuditFilter;
use castellan_core::model::*;
use castellan_core::store::prelude::*;
use castellan_core::store::{AttemptReservation, ConflictOn, StoreError, StoreResult, UserFilter};
use uuid::Uuid;

use sqlx::AssertSqlSafe;

use crate::rows::*;
use crate::{SqlStore, db_err, execute, fetch_all, fetch_optional, on_pool, on_writer};

// Queries that splice these constant column lists are wrapped in `AssertSqlSafe`: nothing from a
// request is ever formatted into SQL; values are always bound.
const TENANT_COLS: &str = "id, slug, display_name, profile, dialects, issuer, audience, policy, created_at";
const APP_COLS: &str = "id, tenant_id, client_id, name, kind, secret_hash, roles, allowed_ips, \
                        callback_url, redirect_uris, single_otp_channel, active, created_at, oidc, hosted_webauthn";
const USER_COLS: &str = "id, tenant_id, email, username, phone, password_hash, first_name, last_name, role, roles, \
                         permissions, attributes, email_verified, phone_verified, active, mfa_enabled, created_at, updated_at";
const TOTP_COLS: &str = "user_id, tenant_id, secret_sealed, algorithm, digits, period, enabled, last_step, created_at";
const CHALLENGE_COLS: &str =
    "id, tenant_id, user_id, kind, secret_hash, attempts, max_attempts, expires_at, consumed_at, data, created_at";
const SESSION_COLS: &str =
    "id, tenant_id, user_id, application_id, dialect, device, ip, user_agent, created_at, last_active, expires_at, revoked_at";
const REFRESH_COLS: &str = "id, tenant_id, session_id, token_hash, expires_at, used_at, created_at, application_id, grant_data";
const KEY_COLS: &str = "kid, tenant_id, alg, state, private_sealed, public_jwk, created_at, retired_at";
const AUDIT_COLS: &str = "id, tenant_id, application_id, user_id, action, outcome, ip, user_agent, detail, created_at";
const KEY_OTP_COLS: &str =
    "tenant_id, key_hash, user_id, application_id, secret_hash, attempts, max_attempts, expires_at, frozen_until, created_at";
const APP_TOTP_COLS: &str = "tenant_id, application_id, user_id, secret_sealed, algorithm, digits, period, last_step, created_at";
const VERIFICATION_COLS: &str =
    "id, tenant_id, application_id, user_id, email, status, tries, ip, expires_at, finished_at, created_at";
const CALLBACK_COLS: &str = "id, tenant_id, application_id, verification_id, url, query, status, tries, next_attempt_ms, \
                             deadline_ms, last_status, last_error, created_at, finished_at, kind";
const MESSAGE_COLS: &str = "id, tenant_id, channel, recipient, subject, body, status, transport, attempts, next_attempt_at, last_error, created_at, sent_at";

fn skeleton_of(identifier: Option<&str>) -> Option<String> {
    identifier.map(castellan_core::model::identifier::skeleton)
}

fn uin(u: &User) -> Option<String> {
    u.attribute_str("uin").map(str::to_string)
}

// Statements used alone and inside the refresh rotation's transaction.
fn insert_refresh_sql() -> String {
    format!("INSERT INTO refresh_tokens ({REFRESH_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)")
}

fn consume_refresh_sql() -> String {
    format!(
        "UPDATE refresh_tokens SET used_at=$3 WHERE tenant_id=$1 AND token_hash=$2 AND used_at IS NULL RETURNING {REFRESH_COLS}"
    )
}

/// `($1,…,$per),($per+1,…)…`: the placeholders of `count` rows of `per` values, for one INSERT of
/// many rows.
fn placeholder_rows(per: usize, count: usize) -> String {
    (0..count)
        .map(|row| format!("({})", (1..=per).map(|c| format!("${}", row * per + c)).collect::<Vec<_>>().join(",")))
        .collect::<Vec<_>>()
        .join(",")
}

fn insert_audit_sql() -> String {
    format!("INSERT INTO audit_events ({AUDIT_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)")
}

/// The values of an `INSERT INTO refresh_tokens ({REFRESH_COLS})`.
macro_rules! bind_refresh {
    ($q:expr, $r:expr) => {
        $q.bind($r.id.to_string())
            .bind($r.tenant_id.to_string())
            .bind($r.session_id.as_str())
            .bind($r.token_hash.clone())
            .bind($r.expires_at)
            .bind($r.used_at)
            .bind($r.created_at)
            .bind($r.client.as_ref().map(|c| c.application_id.to_string()))
            .bind($r.client.as_ref().map(|c| c.grant.to_string()))
    };
}

/// The values of an `INSERT INTO sessions ({SESSION_COLS})`.
macro_rules! bind_session {
    ($q:expr, $s:expr) => {
        $q.bind($s.id.as_str())
            .bind($s.tenant_id.to_string())
            .bind($s.user_id.to_string())
            .bind($s.application_id.map(|a| a.to_string()))
            .bind($s.dialect.as_str())
            .bind(to_json(&$s.device))
            .bind($s.ip.clone())
            .bind($s.user_agent.clone())
            .bind($s.created_at)
            .bind($s.last_active)
            .bind($s.expires_at)
            .bind($s.revoked_at)
    };
}

/// The values of an `INSERT INTO audit_events ({AUDIT_COLS})`.
macro_rules! bind_audit {
    ($q:expr, $e:expr) => {
        $q.bind($e.id.to_string())
            .bind($e.tenant_id.map(|t| t.to_string()))
            .bind($e.application_id.map(|t| t.to_string()))
            .bind($e.user_id.map(|t| t.to_string()))
            .bind(&$e.action)
            .bind(&$e.outcome)
            .bind($e.ip.clone())
            .bind($e.user_agent.clone())
            .bind(to_json(&$e.detail))
            .bind($e.created_at)
    };
}

mod admin_tokens;
mod applications;
mod audit;
mod challenges;
mod factors;
pub(crate) mod groups;
mod hosted;
mod key_otps;
mod keys;
mod lockout;
mod oidc;
pub(crate) mod openings;
mod outbox;
mod passkeys;
pub(crate) mod rotations;
mod sessions;
mod tenants;
mod users;

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, |p| sqlx::query("SELECT 1").execute(p).await.map(|_| ()).map_err(db_err))
    }

    fn cache_status(&self) -> Option<castellan_core::store::CacheStatus> {
        Some(castellan_core::store::CacheStatus { trusted: self.hot.trusted(), resyncs: self.hot.resyncs() })
    }
}
