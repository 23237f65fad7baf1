//! The `Store` implementation. Each query is written once, in the SQL both engines speak.

use async_trait::async_trait;
use castellan_core::model::audit::AuditFilter;
use castellan_core::model::*;
use castellan_core::store::{AttemptReservation, Store, StoreResult, UserFilter};
use uuid::Uuid;

use sqlx::AssertSqlSafe;

use crate::rows::*;
use crate::{SqlStore, db_err, on_pool, on_writer};

// Queries that splice these constant column lists are wrapped in `AssertSqlSafe`: nothing from a
// request is ever formatted into SQL; values are always bound.
const TENANT_COLS: &str = "id, slug, display_name, profile, dialects, issuer, audience, policy, created_at";
const APP_COLS: &str = "id, tenant_id, client_id, name, kind, secret_hash, kumusoft_tag, mosip_app_id, roles, allowed_ips, \
                        callback_url, redirect_uris, single_otp_channel, active, created_at";
const USER_COLS: &str = "id, tenant_id, email, username, phone, password_hash, first_name, last_name, role, roles, \
                         permissions, attributes, email_verified, phone_verified, active, mfa_enabled, created_at, updated_at";
const TOTP_COLS: &str = "user_id, tenant_id, secret_sealed, algorithm, digits, period, enabled, last_step, created_at";
const CHALLENGE_COLS: &str =
    "id, tenant_id, user_id, kind, secret_hash, attempts, max_attempts, expires_at, consumed_at, data, created_at";
const SESSION_COLS: &str =
    "id, tenant_id, user_id, application_id, dialect, device, ip, user_agent, created_at, last_active, expires_at, revoked_at";
const REFRESH_COLS: &str = "id, tenant_id, session_id, token_hash, expires_at, used_at, created_at";
const KEY_COLS: &str = "kid, tenant_id, alg, state, private_sealed, public_jwk, created_at, retired_at";
const AUDIT_COLS: &str = "id, tenant_id, application_id, user_id, action, outcome, ip, user_agent, detail, created_at";
const KEY_OTP_COLS: &str =
    "tenant_id, key_hash, user_id, application_id, secret_hash, attempts, max_attempts, expires_at, frozen_until, created_at";
const APP_TOTP_COLS: &str = "tenant_id, application_id, user_id, secret_sealed, algorithm, digits, period, last_step, created_at";
const VERIFICATION_COLS: &str =
    "id, tenant_id, application_id, user_id, email, status, tries, ip, expires_at, finished_at, created_at";
const CALLBACK_COLS: &str = "id, tenant_id, application_id, verification_id, url, query, status, tries, next_attempt_ms, \
                             deadline_ms, last_status, last_error, created_at, finished_at";
const MESSAGE_COLS: &str = "id, tenant_id, channel, recipient, subject, body, status, transport, attempts, next_attempt_at, last_error, created_at, sent_at";

fn skeleton_of(identifier: Option<&str>) -> Option<String> {
    identifier.map(castellan_core::model::identifier::skeleton)
}

fn uin(u: &User) -> Option<String> {
    u.attribute_str("uin").map(str::to_string)
}

// Statements used alone and inside the refresh rotation's transaction.
fn insert_refresh_sql() -> String {
    format!("INSERT INTO refresh_tokens ({REFRESH_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7)")
}

fn consume_refresh_sql() -> String {
    format!(
        "UPDATE refresh_tokens SET used_at=$3 WHERE tenant_id=$1 AND token_hash=$2 AND used_at IS NULL RETURNING {REFRESH_COLS}"
    )
}

fn insert_audit_sql() -> String {
    format!("INSERT INTO audit_events ({AUDIT_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)")
}

/// The values of an `INSERT INTO refresh_tokens ({REFRESH_COLS})`.
macro_rules! bind_refresh {
    ($q:expr, $r:expr) => {
        $q.bind($r.id.to_string())
            .bind($r.tenant_id.to_string())
            .bind(&$r.session_id)
            .bind($r.token_hash.clone())
            .bind($r.expires_at)
            .bind($r.used_at)
            .bind($r.created_at)
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

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, |p| sqlx::query("SELECT 1").execute(p).await.map(|_| ()).map_err(db_err))
    }

    async fn insert_tenant(&self, t: &Tenant) -> StoreResult<()> {
        let sql = format!("INSERT INTO tenants ({TENANT_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)");
        on_writer!(self, |p| sqlx::query(AssertSqlSafe(sql))
            .bind(t.id.to_string())
            .bind(&t.slug)
            .bind(&t.display_name)
            .bind(t.profile.as_str())
            .bind(to_json(&t.dialects))
            .bind(&t.issuer)
            .bind(&t.audience)
            .bind(to_json(&t.policy))
            .bind(t.created_at)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn update_tenant(&self, t: &Tenant) -> StoreResult<()> {
        let sql = "UPDATE tenants SET display_name=$2, dialects=$3, issuer=$4, audience=$5, policy=$6 WHERE id=$1";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(t.id.to_string())
            .bind(&t.display_name)
            .bind(to_json(&t.dialects))
            .bind(&t.issuer)
            .bind(&t.audience)
            .bind(to_json(&t.policy))
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn tenant_by_id(&self, id: Uuid) -> StoreResult<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLS} FROM tenants WHERE id=$1");
        let row = on_pool!(self, |p| sqlx::query_as::<_, TenantRow>(AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn tenant_by_slug(&self, slug: &str) -> StoreResult<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLS} FROM tenants WHERE slug=$1");
        let row = on_pool!(self, |p| sqlx::query_as::<_, TenantRow>(AssertSqlSafe(sql))
            .bind(slug)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        let sql = format!("SELECT {TENANT_COLS} FROM tenants ORDER BY slug");
        let rows = on_pool!(self, |p| sqlx::query_as::<_, TenantRow>(AssertSqlSafe(sql)).fetch_all(p).await.map_err(db_err))?;
        all(rows)
    }

    async fn delete_tenant(&self, id: Uuid) -> StoreResult<bool> {
        on_writer!(self, |p| sqlx::query("DELETE FROM tenants WHERE id=$1")
            .bind(id.to_string())
            .execute(p)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_err))
    }

    async fn insert_application(&self, a: &Application) -> StoreResult<()> {
        let sql = format!("INSERT INTO applications ({APP_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)");
        on_writer!(self, |p| sqlx::query(AssertSqlSafe(sql))
            .bind(a.id.to_string())
            .bind(a.tenant_id.to_string())
            .bind(&a.client_id)
            .bind(&a.name)
            .bind(a.kind.as_str())
            .bind(a.secret_hash.clone())
            .bind(a.kumusoft_tag.clone())
            .bind(a.mosip_app_id.clone())
            .bind(to_json(&a.roles))
            .bind(to_json(&a.allowed_ips))
            .bind(a.callback_url.clone())
            .bind(to_json(&a.redirect_uris))
            .bind(a.single_otp_channel.then_some("true"))
            .bind(a.active)
            .bind(a.created_at)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn update_application(&self, a: &Application) -> StoreResult<()> {
        let sql = "UPDATE applications SET name=$3, secret_hash=$4, kumusoft_tag=$5, mosip_app_id=$6, roles=$7, allowed_ips=$8, \
                   callback_url=$9, redirect_uris=$10, single_otp_channel=$11, active=$12 WHERE tenant_id=$1 AND id=$2";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(a.tenant_id.to_string())
            .bind(a.id.to_string())
            .bind(&a.name)
            .bind(a.secret_hash.clone())
            .bind(a.kumusoft_tag.clone())
            .bind(a.mosip_app_id.clone())
            .bind(to_json(&a.roles))
            .bind(to_json(&a.allowed_ips))
            .bind(a.callback_url.clone())
            .bind(to_json(&a.redirect_uris))
            .bind(a.single_otp_channel.then_some("true"))
            .bind(a.active)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn application_by_client_id(&self, tenant: Uuid, client_id: &str) -> StoreResult<Option<Application>> {
        let sql = format!("SELECT {APP_COLS} FROM applications WHERE tenant_id=$1 AND client_id=$2");
        let row = on_pool!(self, |p| sqlx::query_as::<_, ApplicationRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(client_id)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn application_by_kumusoft_tag(&self, tag: &str) -> StoreResult<Option<Application>> {
        let sql = format!("SELECT {APP_COLS} FROM applications WHERE kumusoft_tag=$1");
        let row = on_pool!(self, |p| sqlx::query_as::<_, ApplicationRow>(AssertSqlSafe(sql))
            .bind(tag)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn application_by_mosip_app_id(&self, app_id: &str) -> StoreResult<Option<Application>> {
        let sql = format!("SELECT {APP_COLS} FROM applications WHERE mosip_app_id=$1");
        let row = on_pool!(self, |p| sqlx::query_as::<_, ApplicationRow>(AssertSqlSafe(sql))
            .bind(app_id)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn application_by_id(&self, tenant: Uuid, id: Uuid) -> StoreResult<Option<Application>> {
        let sql = format!("SELECT {APP_COLS} FROM applications WHERE tenant_id=$1 AND id=$2");
        let row = on_pool!(self, |p| sqlx::query_as::<_, ApplicationRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(id.to_string())
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn list_applications(&self, tenant: Uuid) -> StoreResult<Vec<Application>> {
        let sql = format!("SELECT {APP_COLS} FROM applications WHERE tenant_id=$1 ORDER BY created_at, id");
        let rows = on_pool!(self, |p| sqlx::query_as::<_, ApplicationRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .fetch_all(p)
            .await
            .map_err(db_err))?;
        all(rows)
    }

    async fn delete_application(&self, tenant: Uuid, id: Uuid) -> StoreResult<bool> {
        on_writer!(self, |p| sqlx::query("DELETE FROM applications WHERE tenant_id=$1 AND id=$2")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(p)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_err))
    }

    async fn insert_api_key(&self, tenant: Uuid, app: Uuid, prefix: &str, key_hash: &[u8], now: i64) -> StoreResult<()> {
        let sql = "INSERT INTO api_keys (id, tenant_id, application_id, prefix, key_hash, created_at) VALUES ($1,$2,$3,$4,$5,$6)";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(new_id().to_string())
            .bind(tenant.to_string())
            .bind(app.to_string())
            .bind(prefix)
            .bind(key_hash)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn insert_user(&self, u: &User) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO users ({USER_COLS}, uin, email_skeleton, username_skeleton) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21)"
        );
        on_writer!(self, |p| sqlx::query(AssertSqlSafe(sql))
            .bind(u.id.to_string())
            .bind(u.tenant_id.to_string())
            .bind(u.email.clone())
            .bind(u.username.clone())
            .bind(u.phone.clone())
            .bind(u.password_hash.clone())
            .bind(u.first_name.clone())
            .bind(u.last_name.clone())
            .bind(&u.role)
            .bind(to_json(&u.roles))
            .bind(to_json(&u.permissions))
            .bind(to_json(&u.attributes))
            .bind(u.email_verified)
            .bind(u.phone_verified)
            .bind(u.active)
            .bind(u.mfa_enabled)
            .bind(u.created_at)
            .bind(u.updated_at)
            .bind(uin(u))
            .bind(skeleton_of(u.email.as_deref()))
            .bind(skeleton_of(u.username.as_deref()))
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn update_user(&self, u: &User) -> StoreResult<()> {
        // A skeleton is rewritten only when its identifier changes: a row whose skeleton was left
        // unset (it looked like another row's before skeletons existed) can still be updated.
        let sql = "UPDATE users SET email=$3, username=$4, phone=$5, password_hash=$6, first_name=$7, last_name=$8, role=$9, \
                   roles=$10, permissions=$11, attributes=$12, email_verified=$13, phone_verified=$14, active=$15, \
                   mfa_enabled=$16, updated_at=$17, uin=$18, \
                   email_skeleton = CASE WHEN email IS NOT DISTINCT FROM $3 THEN email_skeleton ELSE $19 END, \
                   username_skeleton = CASE WHEN username IS NOT DISTINCT FROM $4 THEN username_skeleton ELSE $20 END \
                   WHERE tenant_id=$1 AND id=$2";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(u.tenant_id.to_string())
            .bind(u.id.to_string())
            .bind(u.email.clone())
            .bind(u.username.clone())
            .bind(u.phone.clone())
            .bind(u.password_hash.clone())
            .bind(u.first_name.clone())
            .bind(u.last_name.clone())
            .bind(&u.role)
            .bind(to_json(&u.roles))
            .bind(to_json(&u.permissions))
            .bind(to_json(&u.attributes))
            .bind(u.email_verified)
            .bind(u.phone_verified)
            .bind(u.active)
            .bind(u.mfa_enabled)
            .bind(u.updated_at)
            .bind(uin(u))
            .bind(skeleton_of(u.email.as_deref()))
            .bind(skeleton_of(u.username.as_deref()))
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn user_by_id(&self, tenant: Uuid, id: Uuid) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE tenant_id=$1 AND id=$2");
        let row = on_pool!(self, |p| sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(id.to_string())
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn user_by_identifier(&self, tenant: Uuid, id: &Identifier) -> StoreResult<Option<User>> {
        let (column, value) = match id {
            Identifier::Email(e) => ("email", e.as_str().to_string()),
            Identifier::Phone(ph) => ("phone", ph.as_str().to_string()),
            Identifier::Username(u) => ("username", u.clone()),
        };
        let sql = format!("SELECT {USER_COLS} FROM users WHERE tenant_id=$1 AND {column}=$2");
        let row = on_pool!(self, |p| sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(&value)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn user_by_uin(&self, tenant: Uuid, uin: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE tenant_id=$1 AND uin=$2");
        let row = on_pool!(self, |p| sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(uin)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn list_users(&self, tenant: Uuid, f: &UserFilter) -> StoreResult<Vec<User>> {
        let sql = format!(
            "SELECT {USER_COLS} FROM users WHERE tenant_id=$1 AND ($2 IS NULL OR email=$2) AND ($3 IS NULL OR username=$3) \
             AND ($4 IS NULL OR phone=$4) ORDER BY created_at, id LIMIT $5"
        );
        let rows = on_pool!(self, |p| sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(f.email.clone())
            .bind(f.username.clone())
            .bind(f.phone.clone())
            .bind(i64::from(f.limit))
            .fetch_all(p)
            .await
            .map_err(db_err))?;
        all(rows)
    }

    async fn delete_user(&self, tenant: Uuid, id: Uuid) -> StoreResult<bool> {
        on_writer!(self, |p| sqlx::query("DELETE FROM users WHERE tenant_id=$1 AND id=$2")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(p)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_err))
    }

    async fn replace_password_hash(&self, tenant: Uuid, user: Uuid, expected: &str, new: &str, now: i64) -> StoreResult<bool> {
        let sql = "UPDATE users SET password_hash=$4, updated_at=$5 WHERE tenant_id=$1 AND id=$2 AND password_hash=$3";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(user.to_string())
            .bind(expected)
            .bind(new)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_err))
    }

    async fn reserve_attempt(
        &self,
        tenant: Uuid,
        subject: &str,
        threshold: u32,
        now: i64,
        lock_seconds: i64,
    ) -> StoreResult<AttemptReservation> {
        // One statement: count this attempt unless the subject is locked; the attempt that reaches
        // the threshold sets the lock at once (a success lifts it), so concurrent attempts can
        // never slip past the threshold.
        let sql = "INSERT INTO lockouts (tenant_id, subject, failures, locked_until) \
                   VALUES ($1, $2, 1, CASE WHEN 1 >= $3 THEN $4 + $5 ELSE NULL END) \
                   ON CONFLICT (tenant_id, subject) DO UPDATE SET \
                     failures = CASE WHEN lockouts.locked_until IS NOT NULL AND lockouts.locked_until <= $4 THEN 1 ELSE lockouts.failures + 1 END, \
                     locked_until = CASE WHEN (CASE WHEN lockouts.locked_until IS NOT NULL AND lockouts.locked_until <= $4 THEN 1 ELSE lockouts.failures + 1 END) >= $3 \
                                    THEN $4 + $5 ELSE NULL END \
                   WHERE lockouts.failures < $3 OR lockouts.locked_until IS NULL OR lockouts.locked_until <= $4 \
                   RETURNING failures";
        let threshold = i64::from(threshold);
        let got: Option<(i64,)> = on_writer!(self, |p| sqlx::query_as(sql)
            .bind(tenant.to_string())
            .bind(subject)
            .bind(threshold)
            .bind(now)
            .bind(lock_seconds)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        if let Some((failures,)) = got {
            return Ok(AttemptReservation::Allowed { failures: failures as u32 });
        }
        let until: Option<(Option<i64>,)> =
            on_writer!(self, |p| sqlx::query_as("SELECT locked_until FROM lockouts WHERE tenant_id=$1 AND subject=$2")
                .bind(tenant.to_string())
                .bind(subject)
                .fetch_optional(p)
                .await
                .map_err(db_err))?;
        Ok(AttemptReservation::Locked { until: until.and_then(|(u,)| u).unwrap_or(now + lock_seconds) })
    }

    async fn clear_attempts(&self, tenant: Uuid, subject: &str) -> StoreResult<()> {
        on_writer!(self, |p| sqlx::query("DELETE FROM lockouts WHERE tenant_id=$1 AND subject=$2")
            .bind(tenant.to_string())
            .bind(subject)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn settle_success(&self, tenant: Uuid, subject: &str, failures: u32, now: i64) -> StoreResult<bool> {
        let sql = "DELETE FROM lockouts WHERE tenant_id=$1 AND subject=$2 \
                   AND (locked_until IS NULL OR locked_until <= $3 OR failures <= $4)";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(subject)
            .bind(now)
            .bind(i64::from(failures))
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))?;
        Ok(self.locked_until(tenant, subject, now).await?.is_none())
    }

    async fn locked_until(&self, tenant: Uuid, subject: &str, now: i64) -> StoreResult<Option<i64>> {
        let row: Option<(i64,)> = on_writer!(self, |p| sqlx::query_as(
            "SELECT locked_until FROM lockouts WHERE tenant_id=$1 AND subject=$2 AND locked_until > $3"
        )
        .bind(tenant.to_string())
        .bind(subject)
        .bind(now)
        .fetch_optional(p)
        .await
        .map_err(db_err))?;
        Ok(row.map(|(u,)| u))
    }

    async fn upsert_totp(&self, f: &TotpFactor) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO totp_factors ({TOTP_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (user_id) DO UPDATE SET \
             secret_sealed=excluded.secret_sealed, algorithm=excluded.algorithm, digits=excluded.digits, period=excluded.period, \
             enabled=excluded.enabled, last_step=excluded.last_step, created_at=excluded.created_at"
        );
        on_writer!(self, |p| sqlx::query(AssertSqlSafe(sql))
            .bind(f.user_id.to_string())
            .bind(f.tenant_id.to_string())
            .bind(f.secret_sealed.clone())
            .bind(&f.algorithm)
            .bind(i64::from(f.digits))
            .bind(i64::from(f.period))
            .bind(f.enabled)
            .bind(f.last_step)
            .bind(f.created_at)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn totp_by_user(&self, tenant: Uuid, user: Uuid) -> StoreResult<Option<TotpFactor>> {
        let sql = format!("SELECT {TOTP_COLS} FROM totp_factors WHERE tenant_id=$1 AND user_id=$2");
        let row = on_pool!(self, |p| sqlx::query_as::<_, TotpRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(user.to_string())
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn enable_totp(&self, tenant: Uuid, user: Uuid) -> StoreResult<()> {
        on_writer!(self, |p| sqlx::query("UPDATE totp_factors SET enabled=$3 WHERE tenant_id=$1 AND user_id=$2")
            .bind(tenant.to_string())
            .bind(user.to_string())
            .bind(true)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn delete_totp(&self, tenant: Uuid, user: Uuid) -> StoreResult<bool> {
        on_writer!(self, |p| sqlx::query("DELETE FROM totp_factors WHERE tenant_id=$1 AND user_id=$2")
            .bind(tenant.to_string())
            .bind(user.to_string())
            .execute(p)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_err))
    }

    async fn advance_totp_step(&self, tenant: Uuid, user: Uuid, step: i64) -> StoreResult<bool> {
        let sql =
            "UPDATE totp_factors SET last_step=$3 WHERE tenant_id=$1 AND user_id=$2 AND (last_step IS NULL OR last_step < $3)";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(user.to_string())
            .bind(step)
            .execute(p)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(db_err))
    }

    async fn insert_challenge(&self, c: &Challenge) -> StoreResult<()> {
        let sql = format!("INSERT INTO challenges ({CHALLENGE_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)");
        on_writer!(self, |p| sqlx::query(AssertSqlSafe(sql))
            .bind(c.id.to_string())
            .bind(c.tenant_id.to_string())
            .bind(c.user_id.to_string())
            .bind(c.kind.as_str())
            .bind(c.secret_hash.clone())
            .bind(i64::from(c.attempts))
            .bind(i64::from(c.max_attempts))
            .bind(c.expires_at)
            .bind(c.consumed_at)
            .bind(to_json(&c.data))
            .bind(c.created_at)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn challenge_by_id(&self, tenant: Uuid, id: Uuid) -> StoreResult<Option<Challenge>> {
        let sql = format!("SELECT {CHALLENGE_COLS} FROM challenges WHERE tenant_id=$1 AND id=$2");
        let row = on_pool!(self, |p| sqlx::query_as::<_, ChallengeRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(id.to_string())
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn locate_challenge(&self, id: Uuid) -> StoreResult<Option<Challenge>> {
        let sql = format!("SELECT {CHALLENGE_COLS} FROM challenges WHERE id=$1");
        let row = on_pool!(self, |p| sqlx::query_as::<_, ChallengeRow>(AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn reissue_challenge(
        &self,
        tenant: Uuid,
        id: Uuid,
        old_hash: &[u8],
        new_hash: &[u8],
        expires_at: i64,
        data: &serde_json::Value,
    ) -> StoreResult<bool> {
        let data = data.to_string();
        on_writer!(self, |p| sqlx::query(
            "UPDATE challenges SET secret_hash=$4, expires_at=$5, data=$6 \
             WHERE tenant_id=$1 AND id=$2 AND secret_hash=$3 AND consumed_at IS NULL"
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(old_hash)
        .bind(new_hash)
        .bind(expires_at)
        .bind(&data)
        .execute(p)
        .await
        .map(|r| r.rows_affected() == 1)
        .map_err(db_err))
    }

    async fn challenge_by_secret(&self, tenant: Uuid, kind: ChallengeKind, secret_hash: &[u8]) -> StoreResult<Option<Challenge>> {
        let sql = format!("SELECT {CHALLENGE_COLS} FROM challenges WHERE tenant_id=$1 AND kind=$2 AND secret_hash=$3");
        let row = on_pool!(self, |p| sqlx::query_as::<_, ChallengeRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(kind.as_str())
            .bind(secret_hash)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn fail_challenge(&self, tenant: Uuid, id: Uuid) -> StoreResult<u32> {
        let sql = "UPDATE challenges SET attempts = attempts + 1 WHERE tenant_id=$1 AND id=$2 RETURNING attempts";
        let got: Option<(i64,)> = on_writer!(self, |p| sqlx::query_as(sql)
            .bind(tenant.to_string())
            .bind(id.to_string())
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        Ok(got.map(|(a,)| a as u32).unwrap_or(u32::MAX))
    }

    async fn consume_challenge(&self, tenant: Uuid, id: Uuid, now: i64) -> StoreResult<bool> {
        let sql = "UPDATE challenges SET consumed_at=$3 WHERE tenant_id=$1 AND id=$2 AND consumed_at IS NULL AND expires_at > $3 \
                   AND attempts < max_attempts";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(id.to_string())
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(db_err))
    }

    async fn consume_user_challenges(&self, tenant: Uuid, user: Uuid, kind: ChallengeKind, now: i64) -> StoreResult<()> {
        let sql = "UPDATE challenges SET consumed_at=$4 WHERE tenant_id=$1 AND user_id=$2 AND kind=$3 AND consumed_at IS NULL";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(user.to_string())
            .bind(kind.as_str())
            .bind(now)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn put_key_otp(&self, o: &KeyOtp, now: i64) -> StoreResult<bool> {
        let purge = "DELETE FROM key_otps WHERE expires_at < $1 AND (frozen_until IS NULL OR frozen_until < $1)";
        on_writer!(self, |p| sqlx::query(purge).bind(now - 3600).execute(p).await.map(|_| ()).map_err(db_err))?;
        let sql = format!(
            "INSERT INTO key_otps ({KEY_OTP_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) \
             ON CONFLICT (tenant_id, key_hash) DO UPDATE SET user_id=excluded.user_id, \
             application_id=excluded.application_id, secret_hash=excluded.secret_hash, \
             attempts=excluded.attempts, max_attempts=excluded.max_attempts, expires_at=excluded.expires_at, \
             frozen_until=excluded.frozen_until, created_at=excluded.created_at \
             WHERE key_otps.frozen_until IS NULL OR key_otps.frozen_until <= $11"
        );
        on_writer!(self, |p| sqlx::query(AssertSqlSafe(sql))
            .bind(o.tenant_id.to_string())
            .bind(o.key_hash.clone())
            .bind(o.user_id.map(|u| u.to_string()))
            .bind(o.application_id.map(|a| a.to_string()))
            .bind(o.secret_hash.clone())
            .bind(i64::from(o.attempts))
            .bind(i64::from(o.max_attempts))
            .bind(o.expires_at)
            .bind(o.frozen_until)
            .bind(o.created_at)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_err))
    }

    async fn key_otp(&self, tenant: Uuid, key_hash: &[u8]) -> StoreResult<Option<KeyOtp>> {
        let sql = format!("SELECT {KEY_OTP_COLS} FROM key_otps WHERE tenant_id=$1 AND key_hash=$2");
        let row = on_pool!(self, |p| sqlx::query_as::<_, KeyOtpRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(key_hash)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn latest_key_otp(&self, key_hash: &[u8], now: i64) -> StoreResult<Option<KeyOtp>> {
        let sql = format!(
            "SELECT {KEY_OTP_COLS} FROM key_otps WHERE key_hash=$1 \
             ORDER BY CASE WHEN expires_at > $2 THEN 1 ELSE 0 END DESC, created_at DESC, expires_at DESC LIMIT 1"
        );
        let row = on_pool!(self, |p| sqlx::query_as::<_, KeyOtpRow>(AssertSqlSafe(sql))
            .bind(key_hash)
            .bind(now)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn fail_key_otp(
        &self,
        tenant: Uuid,
        key_hash: &[u8],
        secret_hash: &[u8],
        freeze_until: Option<i64>,
    ) -> StoreResult<Option<KeyOtp>> {
        let sql = format!(
            "UPDATE key_otps SET attempts = attempts + 1, \
             frozen_until = CASE WHEN attempts + 1 >= max_attempts AND $4 IS NOT NULL THEN $4 ELSE frozen_until END \
             WHERE tenant_id=$1 AND key_hash=$2 AND secret_hash=$3 RETURNING {KEY_OTP_COLS}"
        );
        let row = on_writer!(self, |p| sqlx::query_as::<_, KeyOtpRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(key_hash)
            .bind(secret_hash)
            .bind(freeze_until)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn consume_key_otp(&self, tenant: Uuid, key_hash: &[u8], secret_hash: &[u8], now: i64) -> StoreResult<bool> {
        let sql = "DELETE FROM key_otps WHERE tenant_id=$1 AND key_hash=$2 AND secret_hash=$3 AND expires_at > $4 \
                   AND attempts < max_attempts AND (frozen_until IS NULL OR frozen_until <= $4)";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(key_hash)
            .bind(secret_hash)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(db_err))
    }

    async fn revoke_token(&self, tenant: Uuid, jti: &str, expires_at: i64, now: i64) -> StoreResult<()> {
        on_writer!(self, |p| sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
            .bind(now)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))?;
        let sql = "INSERT INTO revoked_tokens (jti, tenant_id, expires_at) VALUES ($1,$2,$3) ON CONFLICT (jti) DO NOTHING";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(jti)
            .bind(tenant.to_string())
            .bind(expires_at)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn token_revoked(&self, jti: &str) -> StoreResult<bool> {
        let row: Option<(i64,)> = on_pool!(self, |p| sqlx::query_as("SELECT expires_at FROM revoked_tokens WHERE jti=$1")
            .bind(jti)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        Ok(row.is_some())
    }

    async fn insert_session(&self, s: &Session) -> StoreResult<()> {
        let sql = format!("INSERT INTO sessions ({SESSION_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)");
        on_writer!(self, |p| sqlx::query(AssertSqlSafe(sql))
            .bind(&s.id)
            .bind(s.tenant_id.to_string())
            .bind(s.user_id.to_string())
            .bind(s.application_id.map(|a| a.to_string()))
            .bind(&s.dialect)
            .bind(to_json(&s.device))
            .bind(s.ip.clone())
            .bind(s.user_agent.clone())
            .bind(s.created_at)
            .bind(s.last_active)
            .bind(s.expires_at)
            .bind(s.revoked_at)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn session_of_refresh_token(&self, tenant: Uuid, token_hash: &[u8], now: i64) -> StoreResult<Option<Session>> {
        let cols = SESSION_COLS.split(',').map(|c| format!("s.{}", c.trim())).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {cols} FROM refresh_tokens r JOIN sessions s ON s.tenant_id=r.tenant_id AND s.id=r.session_id \
             WHERE r.tenant_id=$1 AND r.token_hash=$2 AND r.used_at IS NULL AND r.expires_at > $3"
        );
        let row = on_pool!(self, |p| sqlx::query_as::<_, SessionRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(token_hash)
            .bind(now)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn session_by_id(&self, tenant: Uuid, id: &str) -> StoreResult<Option<Session>> {
        let sql = format!("SELECT {SESSION_COLS} FROM sessions WHERE tenant_id=$1 AND id=$2");
        let row = on_pool!(self, |p| sqlx::query_as::<_, SessionRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(id)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn list_live_sessions(&self, tenant: Uuid, user: Uuid, now: i64) -> StoreResult<Vec<Session>> {
        let sql = format!(
            "SELECT {SESSION_COLS} FROM sessions WHERE tenant_id=$1 AND user_id=$2 AND revoked_at IS NULL AND expires_at > $3 \
             ORDER BY last_active DESC, id DESC"
        );
        let rows = on_pool!(self, |p| sqlx::query_as::<_, SessionRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(user.to_string())
            .bind(now)
            .fetch_all(p)
            .await
            .map_err(db_err))?;
        all(rows)
    }

    async fn touch_session(&self, tenant: Uuid, id: &str, now: i64) -> StoreResult<()> {
        on_writer!(self, |p| sqlx::query("UPDATE sessions SET last_active=$3 WHERE tenant_id=$1 AND id=$2 AND last_active < $3")
            .bind(tenant.to_string())
            .bind(id)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn revoke_session(&self, tenant: Uuid, user: Uuid, id: &str, now: i64) -> StoreResult<bool> {
        let sql = "UPDATE sessions SET revoked_at=$4 WHERE tenant_id=$1 AND user_id=$2 AND id=$3 AND revoked_at IS NULL";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(user.to_string())
            .bind(id)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_err))
    }

    async fn revoke_user_sessions(&self, tenant: Uuid, user: Uuid, now: i64) -> StoreResult<u64> {
        let sql =
            "UPDATE sessions SET revoked_at=$3 WHERE tenant_id=$1 AND user_id=$2 AND revoked_at IS NULL AND expires_at > $3";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(user.to_string())
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
            .map_err(db_err))
    }

    async fn insert_refresh_token(&self, r: &RefreshToken) -> StoreResult<()> {
        let sql = insert_refresh_sql();
        on_writer!(self, |p| bind_refresh!(sqlx::query(AssertSqlSafe(sql)), r).execute(p).await.map(|_| ()).map_err(db_err))
    }

    async fn consume_refresh_token(&self, tenant: Uuid, token_hash: &[u8], now: i64) -> StoreResult<Option<RefreshToken>> {
        let sql = consume_refresh_sql();
        let row = on_writer!(self, |p| sqlx::query_as::<_, RefreshRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(token_hash)
            .bind(now)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn rotate_refresh_token(
        &self,
        tenant: Uuid,
        old_hash: &[u8],
        now: i64,
        new: &RefreshToken,
        event: &AuditEvent,
    ) -> StoreResult<Option<RefreshToken>> {
        let consume = consume_refresh_sql();
        let insert = insert_refresh_sql();
        let audit = insert_audit_sql();
        let row = on_writer!(self, |p| async {
            let mut tx = p.begin().await?;
            let row = sqlx::query_as::<_, RefreshRow>(AssertSqlSafe(consume))
                .bind(tenant.to_string())
                .bind(old_hash)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            if row.is_none() {
                tx.rollback().await?;
                return Ok(None);
            }
            bind_refresh!(sqlx::query(AssertSqlSafe(insert)), new).execute(&mut *tx).await?;
            bind_audit!(sqlx::query(AssertSqlSafe(audit)), event).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(row)
        }
        .await
        .map_err(db_err))?;
        one(row)
    }

    async fn refresh_token_by_hash(&self, tenant: Uuid, token_hash: &[u8]) -> StoreResult<Option<RefreshToken>> {
        let sql = format!("SELECT {REFRESH_COLS} FROM refresh_tokens WHERE tenant_id=$1 AND token_hash=$2");
        let row = on_pool!(self, |p| sqlx::query_as::<_, RefreshRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(token_hash)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn tenant_of_refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<Uuid>> {
        let id: Option<String> =
            on_pool!(self, |p| sqlx::query_scalar("SELECT tenant_id FROM refresh_tokens WHERE token_hash=$1")
                .bind(token_hash)
                .fetch_optional(p)
                .await
                .map_err(db_err))?;
        id.map(|s| Uuid::parse_str(&s).map_err(|e| castellan_core::store::StoreError::Backend(e.to_string()))).transpose()
    }

    async fn insert_key(&self, k: &SigningKey) -> StoreResult<()> {
        let sql = format!("INSERT INTO signing_keys ({KEY_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)");
        on_writer!(self, |p| sqlx::query(AssertSqlSafe(sql))
            .bind(&k.kid)
            .bind(k.tenant_id.to_string())
            .bind(k.alg.as_str())
            .bind(k.state.as_str())
            .bind(k.private_sealed.clone())
            .bind(to_json(&k.public_jwk))
            .bind(k.created_at)
            .bind(k.retired_at)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn list_keys(&self, tenant: Uuid) -> StoreResult<Vec<SigningKey>> {
        let sql = format!("SELECT {KEY_COLS} FROM signing_keys WHERE tenant_id=$1 ORDER BY created_at DESC, kid");
        let rows = on_pool!(self, |p| sqlx::query_as::<_, KeyRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .fetch_all(p)
            .await
            .map_err(db_err))?;
        all(rows)
    }

    async fn list_all_keys(&self) -> StoreResult<Vec<SigningKey>> {
        let sql = format!("SELECT {KEY_COLS} FROM signing_keys ORDER BY created_at DESC, kid");
        let rows = on_pool!(self, |p| sqlx::query_as::<_, KeyRow>(AssertSqlSafe(sql)).fetch_all(p).await.map_err(db_err))?;
        all(rows)
    }

    async fn set_key_state(&self, tenant: Uuid, kid: &str, state: KeyState, now: i64) -> StoreResult<()> {
        let retired_at = (state != KeyState::Active).then_some(now);
        on_writer!(self, |p| sqlx::query("UPDATE signing_keys SET state=$3, retired_at=$4 WHERE tenant_id=$1 AND kid=$2")
            .bind(tenant.to_string())
            .bind(kid)
            .bind(state.as_str())
            .bind(retired_at)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn insert_audit(&self, e: &AuditEvent) -> StoreResult<()> {
        let sql = insert_audit_sql();
        on_writer!(self, |p| bind_audit!(sqlx::query(AssertSqlSafe(sql)), e).execute(p).await.map(|_| ()).map_err(db_err))
    }

    async fn insert_audit_batch(&self, events: &[AuditEvent]) -> StoreResult<()> {
        let sql = insert_audit_sql();
        on_writer!(self, |p| async {
            let mut tx = p.begin().await?;
            for e in events {
                bind_audit!(sqlx::query(AssertSqlSafe(sql.clone())), e).execute(&mut *tx).await?;
            }
            tx.commit().await
        }
        .await
        .map_err(db_err))
    }

    async fn list_audit(&self, tenant: Uuid, f: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        let sql = format!(
            "SELECT {AUDIT_COLS} FROM audit_events WHERE tenant_id=$1 AND ($2 IS NULL OR user_id=$2) AND ($3 IS NULL OR action=$3) \
             AND created_at >= $4 ORDER BY created_at DESC, id DESC LIMIT $5"
        );
        let rows = on_pool!(self, |p| sqlx::query_as::<_, AuditRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(f.user_id.map(|u| u.to_string()))
            .bind(f.action.clone())
            .bind(f.since.unwrap_or(0))
            .bind(i64::from(f.limit))
            .fetch_all(p)
            .await
            .map_err(db_err))?;
        all(rows)
    }

    async fn list_unscoped_audit(&self, f: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        let sql = format!(
            "SELECT {AUDIT_COLS} FROM audit_events WHERE tenant_id IS NULL AND ($1 IS NULL OR user_id=$1) AND ($2 IS NULL OR action=$2) \
             AND created_at >= $3 ORDER BY created_at DESC, id DESC LIMIT $4"
        );
        let rows = on_pool!(self, |p| sqlx::query_as::<_, AuditRow>(AssertSqlSafe(sql))
            .bind(f.user_id.map(|u| u.to_string()))
            .bind(f.action.clone())
            .bind(f.since.unwrap_or(0))
            .bind(i64::from(f.limit))
            .fetch_all(p)
            .await
            .map_err(db_err))?;
        all(rows)
    }

    async fn enqueue_message(&self, m: &OutboundMessage) -> StoreResult<()> {
        let sql = format!("INSERT INTO outbox ({MESSAGE_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)");
        on_writer!(self, |p| sqlx::query(AssertSqlSafe(sql))
            .bind(m.id.to_string())
            .bind(m.tenant_id.map(|t| t.to_string()))
            .bind(m.channel.as_str())
            .bind(&m.recipient)
            .bind(&m.subject)
            .bind(&m.body)
            .bind(&m.status)
            .bind(m.transport.clone())
            .bind(i64::from(m.attempts))
            .bind(m.next_attempt_at)
            .bind(m.last_error.clone())
            .bind(m.created_at)
            .bind(m.sent_at)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn claim_messages(&self, now: i64, lease_seconds: i64, limit: u32) -> StoreResult<Vec<OutboundMessage>> {
        // The outer WHERE repeats the conditions so that PostgreSQL re-checks them on the locked
        // row: of two nodes that picked the same id, only one updates it.
        let sql = format!(
            "UPDATE outbox SET lease_until=$2, attempts=attempts+1 WHERE id IN (SELECT id FROM outbox WHERE status='pending' \
             AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) ORDER BY next_attempt_at LIMIT $3) \
             AND status='pending' AND (lease_until IS NULL OR lease_until <= $1) RETURNING {MESSAGE_COLS}"
        );
        let rows = on_writer!(self, |p| sqlx::query_as::<_, MessageRow>(AssertSqlSafe(sql))
            .bind(now)
            .bind(now + lease_seconds)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await
            .map_err(db_err))?;
        all(rows)
    }

    async fn mark_message_sent(&self, id: Uuid, transport: &str, now: i64) -> StoreResult<()> {
        on_writer!(self, |p| sqlx::query(
            "UPDATE outbox SET status='sent', transport=$2, sent_at=$3, lease_until=NULL WHERE id=$1"
        )
        .bind(id.to_string())
        .bind(transport)
        .bind(now)
        .execute(p)
        .await
        .map(|_| ())
        .map_err(db_err))
    }

    async fn mark_message_failed(&self, id: Uuid, error: &str, retry_at: Option<i64>) -> StoreResult<()> {
        let sql = "UPDATE outbox SET status = CASE WHEN $3 IS NULL THEN 'failed' ELSE 'pending' END, \
                   next_attempt_at = COALESCE($3, next_attempt_at), last_error=$2, lease_until=NULL WHERE id=$1";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(id.to_string())
            .bind(error)
            .bind(retry_at)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn list_messages(&self, to: Option<&str>, transport: Option<&str>, limit: u32) -> StoreResult<Vec<OutboundMessage>> {
        let sql = format!(
            "SELECT {MESSAGE_COLS} FROM outbox WHERE ($1 IS NULL OR recipient=$1) AND ($2 IS NULL OR transport=$2) \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        let rows = on_pool!(self, |p| sqlx::query_as::<_, MessageRow>(AssertSqlSafe(sql))
            .bind(to)
            .bind(transport)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await
            .map_err(db_err))?;
        all(rows)
    }

    async fn insert_admin_token(&self, id: Uuid, token_hash: &[u8], label: &str, now: i64) -> StoreResult<()> {
        on_writer!(self, |p| sqlx::query("INSERT INTO admin_tokens (id, token_hash, label, created_at) VALUES ($1,$2,$3,$4)")
            .bind(id.to_string())
            .bind(token_hash)
            .bind(label)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn admin_token_exists(&self, token_hash: &[u8]) -> StoreResult<bool> {
        let got: Option<(i64,)> =
            on_pool!(self, |p| sqlx::query_as("SELECT CAST(1 AS BIGINT) FROM admin_tokens WHERE token_hash=$1")
                .bind(token_hash)
                .fetch_optional(p)
                .await
                .map_err(db_err))?;
        Ok(got.is_some())
    }

    async fn application_by_api_key(&self, key_hash: &[u8]) -> StoreResult<Option<Application>> {
        let cols = APP_COLS.split(", ").map(|c| format!("a.{}", c.trim())).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {cols} FROM api_keys k JOIN applications a ON a.id = k.application_id \
             WHERE k.key_hash=$1 AND k.revoked_at IS NULL"
        );
        let row = on_pool!(self, |p| sqlx::query_as::<_, ApplicationRow>(AssertSqlSafe(sql))
            .bind(key_hash)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn api_key_prefix(&self, tenant: Uuid, app: Uuid) -> StoreResult<Option<String>> {
        let sql = "SELECT prefix FROM api_keys WHERE tenant_id=$1 AND application_id=$2 AND revoked_at IS NULL \
                   ORDER BY created_at DESC, id DESC LIMIT 1";
        on_pool!(self, |p| sqlx::query_scalar::<_, String>(sql)
            .bind(tenant.to_string())
            .bind(app.to_string())
            .fetch_optional(p)
            .await
            .map_err(db_err))
    }

    async fn revoke_api_keys(&self, tenant: Uuid, app: Uuid, now: i64) -> StoreResult<()> {
        let sql = "UPDATE api_keys SET revoked_at=$3 WHERE tenant_id=$1 AND application_id=$2 AND revoked_at IS NULL";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(app.to_string())
            .bind(now)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn set_callback_secret(&self, tenant: Uuid, app: Uuid, sealed: &[u8]) -> StoreResult<()> {
        let sql = "UPDATE applications SET callback_secret_sealed=$3 WHERE tenant_id=$1 AND id=$2";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(app.to_string())
            .bind(sealed)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn callback_secret(&self, tenant: Uuid, app: Uuid) -> StoreResult<Option<Vec<u8>>> {
        let sql = "SELECT callback_secret_sealed FROM applications WHERE tenant_id=$1 AND id=$2";
        let got = on_pool!(self, |p| sqlx::query_scalar::<_, Option<Vec<u8>>>(sql)
            .bind(tenant.to_string())
            .bind(app.to_string())
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        Ok(got.flatten())
    }

    async fn upsert_app_totp(&self, f: &AppTotpFactor) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO app_totp_factors ({APP_TOTP_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) \
             ON CONFLICT (application_id, user_id) DO UPDATE SET secret_sealed=excluded.secret_sealed, \
             algorithm=excluded.algorithm, digits=excluded.digits, period=excluded.period, last_step=excluded.last_step, \
             created_at=excluded.created_at"
        );
        on_writer!(self, |p| sqlx::query(AssertSqlSafe(sql))
            .bind(f.tenant_id.to_string())
            .bind(f.application_id.to_string())
            .bind(f.user_id.to_string())
            .bind(f.secret_sealed.clone())
            .bind(&f.algorithm)
            .bind(i64::from(f.digits))
            .bind(i64::from(f.period))
            .bind(f.last_step)
            .bind(f.created_at)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn app_totp(&self, tenant: Uuid, app: Uuid, user: Uuid) -> StoreResult<Option<AppTotpFactor>> {
        let sql = format!("SELECT {APP_TOTP_COLS} FROM app_totp_factors WHERE tenant_id=$1 AND application_id=$2 AND user_id=$3");
        let row = on_pool!(self, |p| sqlx::query_as::<_, AppTotpRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(app.to_string())
            .bind(user.to_string())
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn delete_app_totp(&self, tenant: Uuid, app: Uuid, user: Uuid) -> StoreResult<bool> {
        let sql = "DELETE FROM app_totp_factors WHERE tenant_id=$1 AND application_id=$2 AND user_id=$3";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(app.to_string())
            .bind(user.to_string())
            .execute(p)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_err))
    }

    async fn advance_app_totp_step(&self, tenant: Uuid, app: Uuid, user: Uuid, step: i64) -> StoreResult<bool> {
        let sql = "UPDATE app_totp_factors SET last_step=$4 WHERE tenant_id=$1 AND application_id=$2 AND user_id=$3 \
                   AND (last_step IS NULL OR last_step < $4)";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(app.to_string())
            .bind(user.to_string())
            .bind(step)
            .execute(p)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(db_err))
    }

    async fn insert_verification(&self, v: &Verification) -> StoreResult<()> {
        let sql = format!("INSERT INTO verifications ({VERIFICATION_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)");
        on_writer!(self, |p| sqlx::query(AssertSqlSafe(sql))
            .bind(v.id.to_string())
            .bind(v.tenant_id.to_string())
            .bind(v.application_id.to_string())
            .bind(v.user_id.to_string())
            .bind(&v.email)
            .bind(v.status.as_str())
            .bind(i64::from(v.tries))
            .bind(v.ip.clone())
            .bind(v.expires_at)
            .bind(v.finished_at)
            .bind(v.created_at)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn verification(&self, tenant: Uuid, id: Uuid) -> StoreResult<Option<Verification>> {
        let sql = format!("SELECT {VERIFICATION_COLS} FROM verifications WHERE tenant_id=$1 AND id=$2");
        let row = on_pool!(self, |p| sqlx::query_as::<_, VerificationRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(id.to_string())
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn locate_verification(&self, id: Uuid) -> StoreResult<Option<Verification>> {
        let sql = format!("SELECT {VERIFICATION_COLS} FROM verifications WHERE id=$1");
        let row = on_pool!(self, |p| sqlx::query_as::<_, VerificationRow>(AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn move_verification(
        &self,
        tenant: Uuid,
        id: Uuid,
        from: VerificationStatus,
        to: VerificationStatus,
        ip: Option<&str>,
        now: i64,
    ) -> StoreResult<bool> {
        let finished = (!matches!(to, VerificationStatus::Pending | VerificationStatus::Verified)).then_some(now);
        let sql = "UPDATE verifications SET status=$4, ip=COALESCE($5, ip), finished_at=COALESCE($6, finished_at) \
                   WHERE tenant_id=$1 AND id=$2 AND status=$3";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(id.to_string())
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(ip)
            .bind(finished)
            .execute(p)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(db_err))
    }

    async fn fail_verification(&self, tenant: Uuid, id: Uuid, ip: Option<&str>) -> StoreResult<Option<u32>> {
        let sql = "UPDATE verifications SET tries=tries+1, ip=COALESCE($3, ip) WHERE tenant_id=$1 AND id=$2 \
                   AND status='pending' RETURNING tries";
        let got = on_writer!(self, |p| sqlx::query_scalar::<_, i64>(sql)
            .bind(tenant.to_string())
            .bind(id.to_string())
            .bind(ip)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        Ok(got.map(|t| t as u32))
    }

    async fn list_verifications(&self, tenant: Uuid, app: Uuid, limit: u32) -> StoreResult<Vec<Verification>> {
        let sql = format!(
            "SELECT {VERIFICATION_COLS} FROM verifications WHERE tenant_id=$1 AND application_id=$2 \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        let rows = on_pool!(self, |p| sqlx::query_as::<_, VerificationRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(app.to_string())
            .bind(i64::from(limit))
            .fetch_all(p)
            .await
            .map_err(db_err))?;
        all(rows)
    }

    async fn insert_callback(&self, c: &Callback) -> StoreResult<()> {
        let sql = format!("INSERT INTO callbacks ({CALLBACK_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)");
        on_writer!(self, |p| sqlx::query(AssertSqlSafe(sql))
            .bind(c.id.to_string())
            .bind(c.tenant_id.to_string())
            .bind(c.application_id.to_string())
            .bind(c.verification_id.to_string())
            .bind(&c.url)
            .bind(&c.query)
            .bind(c.status.as_str())
            .bind(i64::from(c.tries))
            .bind(c.next_attempt_ms)
            .bind(c.deadline_ms)
            .bind(c.last_status.map(i64::from))
            .bind(c.last_error.clone())
            .bind(c.created_at)
            .bind(c.finished_at)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }

    async fn callback_of(&self, tenant: Uuid, verification: Uuid) -> StoreResult<Option<Callback>> {
        let sql = format!("SELECT {CALLBACK_COLS} FROM callbacks WHERE tenant_id=$1 AND verification_id=$2");
        let row = on_pool!(self, |p| sqlx::query_as::<_, CallbackRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(verification.to_string())
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        one(row)
    }

    async fn claim_callbacks(&self, now_ms: i64, lease_until_ms: i64, limit: u32) -> StoreResult<Vec<Callback>> {
        // As `claim_messages`: the outer WHERE is re-checked on the locked row.
        let sql = format!(
            "UPDATE callbacks SET lease_until_ms=$2, tries=tries+1 WHERE id IN (SELECT id FROM callbacks WHERE \
             status='pending' AND next_attempt_ms <= $1 AND (lease_until_ms IS NULL OR lease_until_ms <= $1) \
             ORDER BY next_attempt_ms LIMIT $3) AND status='pending' AND (lease_until_ms IS NULL OR lease_until_ms <= $1) \
             RETURNING {CALLBACK_COLS}"
        );
        let rows = on_writer!(self, |p| sqlx::query_as::<_, CallbackRow>(AssertSqlSafe(sql))
            .bind(now_ms)
            .bind(lease_until_ms)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await
            .map_err(db_err))?;
        all(rows)
    }

    async fn record_callback_try(
        &self,
        id: Uuid,
        status: CallbackStatus,
        next_attempt_ms: i64,
        last_status: Option<u16>,
        last_error: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        let finished = (status != CallbackStatus::Pending).then_some(now);
        let sql = "UPDATE callbacks SET status=$2, next_attempt_ms=$3, last_status=$4, last_error=$5, finished_at=$6, \
                   lease_until_ms=NULL WHERE id=$1";
        on_writer!(self, |p| sqlx::query(sql)
            .bind(id.to_string())
            .bind(status.as_str())
            .bind(next_attempt_ms)
            .bind(last_status.map(i64::from))
            .bind(last_error)
            .bind(finished)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err))
    }
}
