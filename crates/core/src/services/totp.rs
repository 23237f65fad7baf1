//! TOTP enrolment and verification: secrets sealed at rest, ±1 step, replays refused.

use serde_json::json;

use super::ClientContext;
use super::audit::Attempt;
use crate::core::Core;
use crate::crypto::totp::{self, TotpAlgorithm};
use crate::crypto::{base32, qr};
use crate::error::{CoreError, CoreResult};
use crate::model::AuditAction;
use crate::model::{Tenant, TotpFactor, User};

const PERIOD: u32 = 30;
const DIGITS: u32 = 6;
/// Steps accepted on either side of now.
const WINDOW: i64 = 1;

/// A pending enrolment, shown to the user once.
#[derive(Debug, Clone)]
pub struct TotpEnrollment {
    pub secret: String,
    pub otpauth_url: String,
    pub qr_png_data_url: String,
}

/// Whether a user has TOTP on, or an enrolment waiting for its first code.
#[derive(Debug, Clone, Copy)]
pub struct TotpStatus {
    pub enabled: bool,
    pub pending: bool,
}

fn seal_context(user: &User) -> String {
    format!("totp/{}/{}", user.tenant_id, user.id)
}

/// What the user scans: the secret as Base32, its otpauth URL and that URL as a QR code.
fn enrollment(tenant: &Tenant, user: &User, secret: &[u8]) -> CoreResult<TotpEnrollment> {
    let b32 = base32::encode(secret);
    let account = user.email.clone().or_else(|| user.username.clone()).unwrap_or_else(|| user.id.to_string());
    let otpauth_url = totp::otpauth_url(&tenant.display_name, &account, &b32, TotpAlgorithm::Sha1, DIGITS, PERIOD);
    let qr_png_data_url = qr::png_data_url(&otpauth_url, 4)?;
    Ok(TotpEnrollment { secret: b32, otpauth_url, qr_png_data_url })
}

/// TOTP factors: `core.totp()`.
pub struct Totp<'a>(&'a Core);

impl Core {
    pub fn totp(&self) -> Totp<'_> {
        Totp(self)
    }
}

impl std::ops::Deref for Totp<'_> {
    type Target = Core;
    fn deref(&self) -> &Core {
        self.0
    }
}

impl Totp<'_> {
    pub async fn totp_status(&self, tenant: &Tenant, user: &User) -> CoreResult<TotpStatus> {
        let f = self.store.totp_by_user(tenant.id, user.id).await?;
        Ok(TotpStatus { enabled: f.as_ref().is_some_and(|f| f.enabled), pending: f.as_ref().is_some_and(|f| !f.enabled) })
    }

    /// Starts (or restarts) an enrolment: a 160-bit secret, not active until a code proves it.
    pub async fn begin_totp_enrollment(&self, tenant: &Tenant, user: &User, ctx: &ClientContext) -> CoreResult<TotpEnrollment> {
        if self.store.totp_by_user(tenant.id, user.id).await?.is_some_and(|f| f.enabled) {
            return Err(CoreError::field("2fa", "already enabled; disable it first"));
        }
        let secret = crate::crypto::random_bytes::<20>();
        self.store
            .upsert_totp(&TotpFactor {
                user_id: user.id,
                tenant_id: tenant.id,
                secret_sealed: self.master.seal(&seal_context(user), &secret)?,
                algorithm: TotpAlgorithm::Sha1.as_str().into(),
                digits: DIGITS,
                period: PERIOD,
                enabled: false,
                last_step: None,
                created_at: self.now(),
            })
            .await?;
        self.audit(Some(tenant.id), Some(user.id), AuditAction::TotpSetup, "pending", ctx, json!({})).await;
        enrollment(tenant, user, &secret)
    }

    /// The enrolment waiting for its first code, shown again (after a wrong code, the user keeps
    /// the secret they already scanned); `None` if there is none.
    pub async fn pending_totp_enrollment(&self, tenant: &Tenant, user: &User) -> CoreResult<Option<TotpEnrollment>> {
        match self.store.totp_by_user(tenant.id, user.id).await? {
            Some(f) if !f.enabled => {
                let secret = zeroize::Zeroizing::new(self.master.open(&seal_context(user), &f.secret_sealed)?);
                Ok(Some(enrollment(tenant, user, &secret)?))
            }
            _ => Ok(None),
        }
    }

    /// Activates a pending enrolment with a valid code. One `totp.enable` event, whatever the outcome.
    pub async fn confirm_totp_enrollment(&self, tenant: &Tenant, user: &User, code: &str, ctx: &ClientContext) -> CoreResult<()> {
        let mut attempt = Attempt::new(Some(tenant.id), AuditAction::TotpEnable);
        attempt.user = Some(user.id);
        let result = async {
            let Some(factor) = self.store.totp_by_user(tenant.id, user.id).await? else {
                return Err(attempt.refuse("failure", "no enrolment pending", CoreError::field("2fa", "no enrolment pending")));
            };
            if factor.enabled {
                return Err(attempt.refuse("failure", "already enabled", CoreError::field("2fa", "already enabled")));
            }
            if !self.check_factor_code(tenant, user, &factor, code).await? {
                return Err(attempt.refuse("failure", "wrong TOTP code", CoreError::InvalidMfaCode));
            }
            self.store.enable_totp(tenant.id, user.id).await?;
            self.set_mfa_flag(tenant, user, true).await
        }
        .await;
        self.record_attempt(attempt, ctx, &result).await;
        if result.is_ok() {
            self.passkeys().tell(tenant, user, "An authenticator app was set up for two-step sign-in").await;
        }
        result
    }

    /// Turns TOTP off; a valid current code is the re-authentication. One `totp.disable` event,
    /// whatever the outcome.
    pub async fn disable_totp(&self, tenant: &Tenant, user: &User, code: &str, ctx: &ClientContext) -> CoreResult<()> {
        let mut attempt = Attempt::new(Some(tenant.id), AuditAction::TotpDisable);
        attempt.user = Some(user.id);
        let result = async {
            if !self.verify_totp_code(tenant, user, code).await? {
                return Err(attempt.refuse("failure", "wrong TOTP code or TOTP not enabled", CoreError::InvalidMfaCode));
            }
            self.delete_totp(tenant, user).await
        }
        .await;
        self.record_attempt(attempt, ctx, &result).await;
        result
    }

    /// Removes TOTP without a code (admin action).
    pub async fn remove_totp(&self, tenant: &Tenant, user: &User, ctx: &ClientContext) -> CoreResult<()> {
        self.delete_totp(tenant, user).await?;
        self.audit(Some(tenant.id), Some(user.id), AuditAction::TotpDisable, "success", ctx, json!({})).await;
        Ok(())
    }

    /// Removes the user's own TOTP (or a pending enrolment) from a recent sign-in, which is the
    /// re-authentication; the user is mailed, so that a removal they did not make is noticed.
    /// `NotFound` if there was nothing to remove.
    pub async fn remove_own_totp(&self, tenant: &Tenant, user: &User, ctx: &ClientContext) -> CoreResult<()> {
        let Some(factor) = self.store.totp_by_user(tenant.id, user.id).await? else {
            return Err(CoreError::NotFound);
        };
        self.delete_totp(tenant, user).await?;
        let detail = json!({"via": "account page", "was_enabled": factor.enabled});
        self.audit(Some(tenant.id), Some(user.id), AuditAction::TotpDisable, "success", ctx, detail).await;
        if factor.enabled {
            self.passkeys().tell(tenant, user, "The authenticator app for two-step sign-in was removed").await;
        }
        Ok(())
    }

    async fn delete_totp(&self, tenant: &Tenant, user: &User) -> CoreResult<()> {
        self.store.delete_totp(tenant.id, user.id).await?;
        self.set_mfa_flag(tenant, user, false).await
    }

    /// Enrols and enables TOTP in one step (admin API, demo data); returns (base32 secret, otpauth URL).
    pub async fn enroll_totp_directly(&self, tenant: &Tenant, user: &User, ctx: &ClientContext) -> CoreResult<(String, String)> {
        self.store.delete_totp(tenant.id, user.id).await?;
        let e = self.begin_totp_enrollment(tenant, user, ctx).await?;
        self.store.enable_totp(tenant.id, user.id).await?;
        self.set_mfa_flag(tenant, user, true).await?;
        Ok((e.secret, e.otpauth_url))
    }

    async fn set_mfa_flag(&self, tenant: &Tenant, user: &User, on: bool) -> CoreResult<()> {
        let mut u = self.users().get_user(tenant, user.id).await?;
        u.mfa_enabled = on;
        u.updated_at = self.now();
        self.store.update_user(&u).await?;
        Ok(())
    }

    /// Checks a code of the user's enabled factor; a valid code is then spent (no replay).
    pub async fn verify_totp_code(&self, tenant: &Tenant, user: &User, code: &str) -> CoreResult<bool> {
        match self.store.totp_by_user(tenant.id, user.id).await? {
            Some(f) if f.enabled => self.check_factor_code(tenant, user, &f, code).await,
            _ => Ok(false),
        }
    }

    async fn check_factor_code(&self, tenant: &Tenant, user: &User, f: &TotpFactor, code: &str) -> CoreResult<bool> {
        let secret = zeroize::Zeroizing::new(self.master.open(&seal_context(user), &f.secret_sealed)?);
        let alg = TotpAlgorithm::parse(&f.algorithm).unwrap_or(TotpAlgorithm::Sha1);
        let Some(step) = totp::matching_step(alg, &secret, code, self.now(), f.period, f.digits, WINDOW) else {
            return Ok(false);
        };
        // The step is recorded atomically: of two requests with the same code, one wins.
        Ok(self.store.advance_totp_step(tenant.id, user.id, step).await?)
    }
}
