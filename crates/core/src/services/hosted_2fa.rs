//! Hosted 2FA: per-application TOTP factors, session tokens, and the verification a session
//! token opens on the hosted page — from code entry to the result callback.

use serde_json::{Value, json};
use uuid::Uuid;

use super::ClientContext;
use super::audit::Attempt;
use super::hosted_apps::with_app;
use crate::core::Core;
use crate::crypto::jwt::{self, Expectations};
use crate::crypto::totp::{self, TotpAlgorithm};
use crate::crypto::{base32, qr};
use crate::error::{CoreError, CoreResult};
use crate::model::AuditAction;
use crate::model::{AppId, UserId};
use crate::model::{
    AppTotpFactor, Application, CallbackStatus, Email, Identifier, KeyAlg, NewUser, Tenant, User, Verification,
    VerificationStatus,
};

/// Seconds a session token lives.
pub const SESSION_TOKEN_TTL: i64 = 120;
/// Wrong codes allowed per session token.
pub const MAX_TRIES: u32 = 5;
/// Steps accepted either side of now.
const WINDOW: i64 = 1;

/// A factor as the business backend describes it; what it leaves out is TOTP's usual (SHA1, six
/// digits, 30 seconds).
#[derive(Debug, Clone)]
pub struct FactorSpec {
    pub secret: String,
    pub algorithm: Option<String>,
    pub digits: Option<u32>,
    pub period: Option<u32>,
}

/// A secret for the business to show its user, not yet enabled.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub secret: String,
    pub otpauth_url: String,
    pub qr_svg: String,
}

/// A verification opened from a session token, with what the page shows.
#[derive(Debug, Clone)]
pub(crate) struct OpenVerification {
    pub(crate) tenant: Tenant,
    pub(crate) app: Application,
    pub(crate) verification: Verification,
    /// Digits of the user's code.
    pub(crate) digits: u32,
    /// Whether the user has an authenticator app for this application (a code can be entered).
    pub(crate) has_code: bool,
    /// Whether the user's passkeys and security keys are offered: the application allows them,
    /// the tenant has a relying party and the user has at least one.
    pub(crate) keys: bool,
    /// The session token it was opened with (the callback carries it back).
    pub(crate) token: Option<String>,
}

impl OpenVerification {
    /// Whether the session token has expired at `now` (no leeway: 120 s means 120 s).
    pub(crate) fn expired(&self, now: i64) -> bool {
        now >= self.verification.expires_at
    }
}

/// What entering a code led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeOutcome {
    /// Right code: the callback is queued; wait for it, then tell the user.
    Verified,
    Wrong {
        tries_left: u32,
    },
    /// The last try was wrong: rejected, and the callback says so.
    Rejected,
    /// The verification was no longer open; this is where it stands.
    Closed(VerificationStatus),
}

fn seal_context(app: AppId, user: UserId) -> String {
    format!("app-totp/{app}/{user}")
}

/// The payload of a JWT, unverified: only to find which verification (and so which key) it names.
fn peek_claims(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    serde_json::from_slice(&crate::crypto::b64url_decode(payload)?).ok()
}

/// An email as a lookup key; `None` if it is not one.
fn email_identifier(email: &str) -> Option<Identifier> {
    Email::parse(email).ok().map(Identifier::Email)
}

/// The origin (`scheme://host[:port]`) of `redirect_uri` — the only target its result may be posted
/// to — if the URI is one of the application's redirect URIs exactly, or, when `origin_suffices`
/// (popups), the origin of one of them (with or without the final `/`).
pub fn registered_redirect(app: &Application, redirect_uri: &str, origin_suffices: bool) -> Option<String> {
    let origin = |u: &url::Url| u.origin().ascii_serialization();
    let given = url::Url::parse(redirect_uri).ok()?;
    let exact = app.redirect_uris.iter().any(|r| r == redirect_uri);
    let by_origin = origin_suffices
        && app
            .redirect_uris
            .iter()
            .filter_map(|r| url::Url::parse(r).ok())
            .map(|r| origin(&r))
            .any(|o| redirect_uri == o || redirect_uri.strip_suffix('/') == Some(o.as_str()));
    (exact || by_origin).then(|| origin(&given))
}

/// Hosted verification: session tokens, factors, the page's state machine: `core.hosted()`.
pub struct Hosted<'a>(&'a Core);

impl Core {
    pub fn hosted(&self) -> Hosted<'_> {
        Hosted(self)
    }
}

impl std::ops::Deref for Hosted<'_> {
    type Target = Core;
    fn deref(&self) -> &Core {
        self.0
    }
}

impl Hosted<'_> {
    async fn hosted_user(&self, tenant: &Tenant, email: &str) -> CoreResult<Option<User>> {
        match email_identifier(email) {
            Some(id) => Ok(self.store.user_by_identifier(tenant.id, &id).await?),
            None => Err(CoreError::field("email", "not an email address")),
        }
    }

    /// ENABLE: records the user's factor for this application (creating the user on first
    /// use). The secret must be Base32 of at least 128 bits. One `hosted.toggle` event, whatever
    /// the outcome.
    pub async fn enable_app_totp(
        &self,
        tenant: &Tenant,
        app: &Application,
        email: &str,
        spec: FactorSpec,
        ctx: &ClientContext,
    ) -> CoreResult<()> {
        let ctx = with_app(ctx, app);
        let mut attempt = Attempt::new(Some(tenant.id), AuditAction::HostedToggle);
        attempt.note("action", "ENABLE");
        let result = self.try_enable_app_totp(tenant, app, email, spec, &mut attempt).await;
        self.record_attempt(attempt, &ctx, &result).await;
        result
    }

    async fn try_enable_app_totp(
        &self,
        tenant: &Tenant,
        app: &Application,
        email: &str,
        spec: FactorSpec,
        attempt: &mut Attempt,
    ) -> CoreResult<()> {
        let secret = base32::decode(&spec.secret).filter(|s| s.len() >= 16 && s.len() <= 128);
        let alg = spec.algorithm.as_deref().map_or(Some(TotpAlgorithm::Sha1), TotpAlgorithm::parse);
        let (Some(secret), Some(alg)) = (secret, alg) else {
            let error = CoreError::field("secret", "a Base32 secret of at least 128 bits, SHA1/SHA256/SHA512");
            return Err(attempt.refuse("failure", "factor", error));
        };
        let (digits, period) = (spec.digits.unwrap_or(6), spec.period.unwrap_or(30));
        if !matches!(digits, 6 | 8) || !(15..=120).contains(&period) {
            let error = CoreError::field("digits", "digits 6 or 8, period 15-120 seconds");
            return Err(attempt.refuse("failure", "digits or period", error));
        }
        let user = match self.hosted_user(tenant, email).await {
            Ok(Some(u)) => u,
            Ok(None) => match self
                .users()
                .create_user(tenant, NewUser { email: Some(email.trim().to_string()), active: true, ..NewUser::default() })
                .await
            {
                Ok(u) => u,
                // Created by a concurrent call; or the email looks like another user's, which
                // stays a conflict.
                Err(CoreError::Conflict(field)) => match self.hosted_user(tenant, email).await? {
                    Some(u) => u,
                    None => return Err(CoreError::Conflict(field)),
                },
                Err(e) => return Err(e),
            },
            Err(e) => return Err(attempt.refuse("failure", "not an email address", e)),
        };
        attempt.user = Some(user.id);
        self.store
            .upsert_app_totp(&AppTotpFactor {
                tenant_id: tenant.id,
                application_id: app.id,
                user_id: user.id,
                secret_sealed: self.master.seal(&seal_context(app.id, user.id), &secret)?,
                algorithm: alg.as_str().into(),
                digits,
                period,
                last_step: None,
                created_at: self.now(),
            })
            .await?;
        Ok(())
    }

    /// Whether `user` has a factor with this application.
    pub async fn has_app_totp(&self, tenant: &Tenant, app: &Application, user: &User) -> CoreResult<bool> {
        Ok(self.store.app_totp(tenant.id, app.id, user.id).await?.is_some())
    }

    /// DISABLE: removes the user's factor for this application; `UserNotFound` if there was none.
    /// One `hosted.toggle` event, whatever the outcome.
    pub async fn disable_app_totp(&self, tenant: &Tenant, app: &Application, email: &str, ctx: &ClientContext) -> CoreResult<()> {
        let ctx = with_app(ctx, app);
        let mut attempt = Attempt::new(Some(tenant.id), AuditAction::HostedToggle);
        attempt.note("action", "DISABLE");
        let result = async {
            let user = match self.hosted_user(tenant, email).await {
                Ok(u) => u,
                Err(e) => return Err(attempt.refuse("failure", "not an email address", e)),
            };
            attempt.user = user.as_ref().map(|u| u.id);
            let removed = match &user {
                Some(u) => self.store.delete_app_totp(tenant.id, app.id, u.id).await?,
                None => false,
            };
            if removed { Ok(()) } else { Err(attempt.refuse("failure", "no factor to remove", CoreError::UserNotFound)) }
        }
        .await;
        self.record_attempt(attempt, &ctx, &result).await;
        result
    }

    /// DISABLE of type WEBAUTHN, for an application that offers keys: removes the user's security
    /// keys (a lost key, on the business's word), the kind the hosted page adds; passkeys, which
    /// sign in without a password elsewhere in the tenant, stay. `UserNotFound` if there was none
    /// to remove; a field error where the application offers no keys. The user is mailed once. One `hosted.toggle` event, whatever the outcome.
    pub async fn disable_app_keys(&self, tenant: &Tenant, app: &Application, email: &str, ctx: &ClientContext) -> CoreResult<()> {
        let ctx = with_app(ctx, app);
        let mut attempt = Attempt::new(Some(tenant.id), AuditAction::HostedToggle);
        attempt.note("action", "DISABLE");
        attempt.note("type", "WEBAUTHN");
        let result = async {
            let user = match self.hosted_user(tenant, email).await {
                Ok(u) => u,
                Err(e) => return Err(attempt.refuse("failure", "not an email address", e)),
            };
            let Some(user) = user else {
                return Err(attempt.refuse("failure", "no key to remove", CoreError::UserNotFound));
            };
            attempt.user = Some(user.id);
            if !app.hosted_webauthn {
                let error = CoreError::field("type", "this application does not offer keys");
                return Err(attempt.refuse("failure", "keys not offered", error));
            }
            let mut removed = 0;
            let result = self.passkeys().delete_security_keys(tenant, &user, &ctx, &mut removed).await;
            // What went, even when a failure stopped the rest.
            attempt.note("removed", removed);
            result?;
            if removed == 0 {
                return Err(attempt.refuse("failure", "no key to remove", CoreError::UserNotFound));
            }
            Ok(())
        }
        .await;
        self.record_attempt(attempt, &ctx, &result).await;
        result
    }

    /// A fresh 160-bit secret and its otpauth URL and QR code; nothing is stored.
    pub fn provision_app_totp(&self, app: &Application, email: &str) -> CoreResult<Provisioned> {
        if email_identifier(email).is_none() {
            return Err(CoreError::field("email", "not an email address"));
        }
        let secret = base32::encode(&crate::crypto::random_bytes::<20>());
        let issuer = totp::pct(&app.name);
        let account = totp::pct(email.trim());
        let otpauth_url = format!(
            "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits=6&client_id={}&email={account}",
            totp::pct(&app.client_id)
        );
        let qr_svg = qr::svg(&otpauth_url)?;
        Ok(Provisioned { secret, otpauth_url, qr_svg })
    }

    /// A session token (HS256, 120 s, bound to the application and the email) for a user with a
    /// factor for this application; `UserNotFound` otherwise. One `hosted.session_token` event,
    /// whatever the outcome.
    pub async fn issue_session_token(
        &self,
        tenant: &Tenant,
        app: &Application,
        email: &str,
        ctx: &ClientContext,
    ) -> CoreResult<String> {
        let ctx = with_app(ctx, app);
        let mut attempt = Attempt::new(Some(tenant.id), AuditAction::HostedSessionToken);
        let result = self.try_issue_session_token(tenant, app, email, &mut attempt).await;
        self.record_attempt(attempt, &ctx, &result).await;
        result
    }

    async fn try_issue_session_token(
        &self,
        tenant: &Tenant,
        app: &Application,
        email: &str,
        attempt: &mut Attempt,
    ) -> CoreResult<String> {
        let user = match self.hosted_user(tenant, email).await {
            Ok(u) => u,
            Err(e) => return Err(attempt.refuse("failure", "not an email address", e)),
        };
        // Two-step verification is on for the user with this application when they have its
        // authenticator app, or a key the application lets the page offer.
        let enabled = match &user {
            Some(u) => {
                self.store.app_totp(tenant.id, app.id, u.id).await?.is_some() || self.keys_offered(tenant, app, u.id).await?
            }
            None => false,
        };
        let (Some(user), true) = (user, enabled) else {
            return Err(attempt.refuse("failure", "no factor", CoreError::UserNotFound));
        };
        attempt.user = Some(user.id);
        let email = user.email.clone().unwrap_or_default();
        let now = self.now();
        let jti = crate::model::new_id();
        self.store
            .insert_verification(&Verification {
                id: jti,
                tenant_id: tenant.id,
                application_id: app.id,
                user_id: user.id,
                email: email.clone(),
                status: VerificationStatus::Pending,
                tries: 0,
                ip: None,
                expires_at: now + SESSION_TOKEN_TTL,
                finished_at: None,
                created_at: now,
            })
            .await?;
        let claims = json!({
            "email": email,
            "client_id": app.client_id,
            "iat": now,
            "exp": now + SESSION_TOKEN_TTL,
            "jti": jti.to_string(),
            "iss": tenant.issuer,
            "aud": app.client_id,
        });
        let token = self.signing_keys().sign_token(tenant, &[KeyAlg::HS256], "JWT", &claims).await?;
        attempt.note("verification", jti.to_string());
        Ok(token)
    }

    /// The verification a session token names, if the token is genuine (signature, issuer,
    /// audience, and claims matching what was issued). Its state is the caller's to read:
    /// expired and finished ones come back too. A look (the page shown): nothing is recorded.
    pub(crate) async fn open_verification(&self, token: &str) -> CoreResult<OpenVerification> {
        self.find_verification(token, &mut Attempt::new(None, AuditAction::HostedVerify)).await
    }

    /// As [`Core::open_verification`], for a code or a rejection the page sends: a token that
    /// opens nothing is that attempt's one `hosted.verify` event (naming no tenant when the
    /// token names no verification).
    pub(crate) async fn open_verification_attempt(&self, token: &str, ctx: &ClientContext) -> CoreResult<OpenVerification> {
        let mut attempt = Attempt::new(None, AuditAction::HostedVerify);
        let result = self.find_verification(token, &mut attempt).await;
        if result.is_err() {
            self.record_attempt(attempt, ctx, &result).await;
        }
        result
    }

    async fn find_verification(&self, token: &str, attempt: &mut Attempt) -> CoreResult<OpenVerification> {
        let invalid = |attempt: &mut Attempt, reason| Err(attempt.refuse("failure", reason, CoreError::InvalidToken));
        if token.is_empty() || token.len() > 2048 {
            return invalid(attempt, "malformed session token");
        }
        let jti = peek_claims(token).and_then(|c| c.get("jti").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok()));
        let Some(jti) = jti else {
            return invalid(attempt, "malformed session token");
        };
        let Some(verification) = self.store.locate_verification(jti).await? else {
            return invalid(attempt, "unknown session token");
        };
        attempt.tenant = Some(verification.tenant_id);
        attempt.user = Some(verification.user_id);
        attempt.application = Some(verification.application_id);
        attempt.note("verification", verification.id.to_string());
        let tenant = self.tenants().find_tenant(&verification.tenant_id.to_string()).await?;
        let Ok(app) = self.applications().application_by_id(&tenant, verification.application_id).await else {
            return invalid(attempt, "application gone");
        };
        let ring = self.signing_keys().key_ring(&tenant).await?;
        // Expiry is judged against the stored verification (no leeway), so the signature is
        // checked as of issue time.
        let want = Expectations {
            algs: &[KeyAlg::HS256],
            typ: "JWT",
            issuer: &tenant.issuer,
            audience: &app.client_id,
            now: verification.created_at,
            leeway: 0,
        };
        let Ok(claims) = jwt::verify(&ring, token, &want) else {
            return invalid(attempt, "session token not genuine");
        };
        let same = claims.get("email").and_then(Value::as_str) == Some(verification.email.as_str())
            && claims.get("client_id").and_then(Value::as_str) == Some(app.client_id.as_str())
            && claims.get("exp").and_then(Value::as_i64) == Some(verification.expires_at);
        if !same {
            return invalid(attempt, "session token not genuine");
        }
        let factor = self.store.app_totp(tenant.id, app.id, verification.user_id).await?;
        let keys = self.keys_offered(&tenant, &app, verification.user_id).await?;
        Ok(OpenVerification {
            digits: factor.as_ref().map(|f| f.digits).unwrap_or(6),
            has_code: factor.is_some(),
            keys,
            tenant,
            app,
            verification,
            token: Some(token.to_string()),
        })
    }

    /// Whether the hosted page offers `user`'s passkeys and security keys for this application.
    pub(crate) async fn keys_offered(&self, tenant: &Tenant, app: &Application, user: UserId) -> CoreResult<bool> {
        if !app.hosted_webauthn || !self.passkeys().available(tenant) {
            return Ok(false);
        }
        Ok(!self.store.credentials_of(tenant.id, user).await?.is_empty())
    }

    /// Ends a pending verification whose token has expired; true if this call ended it.
    pub(crate) async fn time_out_verification(&self, open: &OpenVerification, ctx: &ClientContext) -> CoreResult<bool> {
        let v = &open.verification;
        let moved = self.end_expired_verification(open).await?;
        if moved {
            self.audit(
                Some(v.tenant_id),
                Some(v.user_id),
                AuditAction::HostedVerify,
                "timeout",
                &with_app(ctx, &open.app),
                json!({"verification": v.id}),
            )
            .await;
        }
        Ok(moved)
    }

    async fn end_expired_verification(&self, open: &OpenVerification) -> CoreResult<bool> {
        let v = &open.verification;
        let moved = self
            .store
            .move_verification(v.tenant_id, v.id, VerificationStatus::Pending, VerificationStatus::TimedOut, None, self.now())
            .await?;
        Ok(moved)
    }

    /// Where a verification stands now (`Rejected` if it is gone).
    async fn verification_status(&self, v: &Verification) -> CoreResult<VerificationStatus> {
        Ok(self.store.verification(v.tenant_id, v.id).await?.map(|v| v.status).unwrap_or(VerificationStatus::Rejected))
    }

    /// An attempt on a verification that is no longer open (finished, or pending past its expiry,
    /// which this attempt then times out): its event says where it stands.
    async fn closed_attempt(&self, open: &OpenVerification, attempt: &mut Attempt) -> CoreResult<VerificationStatus> {
        let v = &open.verification;
        if v.status == VerificationStatus::Pending && open.expired(self.now()) {
            if self.end_expired_verification(open).await? {
                attempt.outcome("timeout");
            } else {
                attempt.outcome("closed");
                attempt.note("reason", "session token expired");
            }
            return Ok(VerificationStatus::TimedOut);
        }
        attempt.outcome("closed");
        attempt.note("status", v.status.as_str());
        Ok(v.status)
    }

    /// Checks a code entered on the hosted page. A right code is good once (its time step is
    /// recorded); the fifth wrong one rejects the verification. One `hosted.verify` event per
    /// code, whatever the outcome.
    pub(crate) async fn submit_hosted_code(
        &self,
        open: &OpenVerification,
        code: &str,
        ctx: &ClientContext,
    ) -> CoreResult<CodeOutcome> {
        let v = &open.verification;
        let mut attempt = Attempt::new(Some(v.tenant_id), AuditAction::HostedVerify);
        attempt.user = Some(v.user_id);
        attempt.note("verification", v.id.to_string());
        let result = self.try_submit_hosted_code(open, code, ctx, &mut attempt).await;
        self.record_attempt(attempt, &with_app(ctx, &open.app), &result).await;
        result
    }

    async fn try_submit_hosted_code(
        &self,
        open: &OpenVerification,
        code: &str,
        ctx: &ClientContext,
        attempt: &mut Attempt,
    ) -> CoreResult<CodeOutcome> {
        let v = &open.verification;
        let now = self.now();
        if v.status != VerificationStatus::Pending || open.expired(now) {
            return Ok(CodeOutcome::Closed(self.closed_attempt(open, attempt).await?));
        }
        let factor = self.store.app_totp(v.tenant_id, v.application_id, v.user_id).await?;
        let matched = match &factor {
            Some(f) => {
                let secret = self.master.open(&seal_context(f.application_id, f.user_id), &f.secret_sealed)?;
                let alg = TotpAlgorithm::parse(&f.algorithm).unwrap_or(TotpAlgorithm::Sha1);
                match totp::matching_step(alg, &secret, code, now, f.period, f.digits, WINDOW) {
                    Some(step) => self.store.advance_app_totp_step(v.tenant_id, v.application_id, v.user_id, step).await?,
                    None => false,
                }
            }
            None => false,
        };
        if matched {
            return self.right_try(open, ctx, attempt).await;
        }
        self.wrong_try(open, "wrong code", ctx, attempt).await
    }

    /// Checks the answer of one of the user's keys on the hosted page, as a code is checked: a
    /// refused key spends a try. One `hosted.verify` event, whatever the outcome.
    pub(crate) async fn submit_hosted_key(
        &self,
        open: &OpenVerification,
        ceremony: &str,
        response: &str,
        ctx: &ClientContext,
    ) -> CoreResult<CodeOutcome> {
        let v = &open.verification;
        let mut attempt = Attempt::new(Some(v.tenant_id), AuditAction::HostedVerify);
        attempt.user = Some(v.user_id);
        attempt.note("verification", v.id.to_string());
        attempt.note("method", "webauthn");
        let result = async {
            if v.status != VerificationStatus::Pending || open.expired(self.now()) {
                return Ok(CodeOutcome::Closed(self.closed_attempt(open, &mut attempt).await?));
            }
            if !open.keys {
                return self.wrong_try(open, "keys are not offered for this application", ctx, &mut attempt).await;
            }
            let Some(user) = self.store.user_by_id(v.tenant_id, v.user_id).await? else {
                return self.wrong_try(open, "user gone", ctx, &mut attempt).await;
            };
            match self.passkeys().verify_hosted_check(&open.tenant, ceremony, response, &user).await? {
                Ok(asserted) => {
                    attempt.note("credential", asserted.credential.id.to_string());
                    self.right_try(open, ctx, &mut attempt).await
                }
                Err((_, why)) => self.wrong_try(open, why, ctx, &mut attempt).await,
            }
        }
        .await;
        self.record_attempt(attempt, &with_app(ctx, &open.app), &result).await;
        result
    }

    /// A right code or an accepted key: verified once, and the backend told.
    async fn right_try(&self, open: &OpenVerification, ctx: &ClientContext, attempt: &mut Attempt) -> CoreResult<CodeOutcome> {
        let v = &open.verification;
        let (ip, now) = (ctx.ip.as_deref(), self.now());
        if !self
            .store
            .move_verification(v.tenant_id, v.id, VerificationStatus::Pending, VerificationStatus::Verified, ip, now)
            .await?
        {
            let status = self.verification_status(v).await?;
            attempt.outcome("closed");
            attempt.note("status", status.as_str());
            return Ok(CodeOutcome::Closed(status));
        }
        self.queue_result_callback(open, true).await?;
        Ok(CodeOutcome::Verified)
    }

    /// A wrong code or a refused key: one try spent; the last one rejects the verification.
    async fn wrong_try(
        &self,
        open: &OpenVerification,
        reason: &str,
        ctx: &ClientContext,
        attempt: &mut Attempt,
    ) -> CoreResult<CodeOutcome> {
        let v = &open.verification;
        let (ip, now) = (ctx.ip.as_deref(), self.now());
        let Some(tries) = self.store.fail_verification(v.tenant_id, v.id, ip).await? else {
            let status = self.verification_status(v).await?;
            attempt.outcome("closed");
            attempt.note("status", status.as_str());
            return Ok(CodeOutcome::Closed(status));
        };
        attempt.outcome("failure");
        attempt.note("reason", reason);
        attempt.note("tries", tries);
        if tries < MAX_TRIES {
            return Ok(CodeOutcome::Wrong { tries_left: MAX_TRIES - tries });
        }
        if self
            .store
            .move_verification(v.tenant_id, v.id, VerificationStatus::Pending, VerificationStatus::Rejected, ip, now)
            .await?
        {
            // The last wrong try rejects the verification: its event says so.
            attempt.outcome("rejected");
            attempt.note("reason", "too many wrong codes");
            self.queue_result_callback(open, false).await?;
        }
        Ok(CodeOutcome::Rejected)
    }

    /// "This wasn't me": rejects a pending verification. Returns where it stands afterwards. One
    /// `hosted.verify` event, whatever the outcome.
    pub(crate) async fn reject_verification(
        &self,
        open: &OpenVerification,
        ctx: &ClientContext,
    ) -> CoreResult<VerificationStatus> {
        let v = &open.verification;
        let mut attempt = Attempt::new(Some(v.tenant_id), AuditAction::HostedVerify);
        attempt.user = Some(v.user_id);
        attempt.note("verification", v.id.to_string());
        let result = async {
            let now = self.now();
            if v.status != VerificationStatus::Pending || open.expired(now) {
                return self.closed_attempt(open, &mut attempt).await;
            }
            let moved = self
                .store
                .move_verification(
                    v.tenant_id,
                    v.id,
                    VerificationStatus::Pending,
                    VerificationStatus::Rejected,
                    ctx.ip.as_deref(),
                    now,
                )
                .await?;
            if !moved {
                let status = self.verification_status(v).await?;
                attempt.outcome("closed");
                attempt.note("status", status.as_str());
                return Ok(status);
            }
            attempt.outcome("rejected");
            attempt.note("reason", "user");
            self.queue_result_callback(open, false).await?;
            Ok(VerificationStatus::Rejected)
        }
        .await;
        self.record_attempt(attempt, &with_app(ctx, &open.app), &result).await;
        result
    }

    /// Waits until the verification's callback is delivered or given up (or `limit` passes),
    /// and says where the verification stands then.
    pub(crate) async fn settle_verification(
        &self,
        open: &OpenVerification,
        limit: std::time::Duration,
    ) -> CoreResult<(VerificationStatus, Option<CallbackStatus>)> {
        let v = &open.verification;
        let callback = self.await_callback(v.tenant_id, v.id, limit).await?;
        let status = self.store.verification(v.tenant_id, v.id).await?.map(|v| v.status).unwrap_or(VerificationStatus::Failed);
        Ok((status, callback))
    }

    /// The account's recent verifications of one application, newest first.
    pub async fn recent_verifications(&self, tenant: &Tenant, app: &Application, limit: u32) -> CoreResult<Vec<Verification>> {
        Ok(self.store.list_verifications(tenant.id, app.id, limit.clamp(1, 200)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::registered_redirect;
    use crate::model::{AppId, Application, ApplicationKind, TenantId};

    #[test]
    fn redirect_uris_match_exactly_and_popups_may_name_the_origin() {
        let app = Application {
            id: AppId::from_uuid(uuid::Uuid::nil()),
            tenant_id: TenantId::from_uuid(uuid::Uuid::nil()),
            client_id: "c".into(),
            name: "n".into(),
            kind: ApplicationKind::Public,
            secret_hash: None,
            aliases: Default::default(),
            roles: vec![],
            allowed_ips: vec![],
            callback_url: None,
            redirect_uris: vec!["https://portal.example.com/2fa/done".into()],
            single_otp_channel: false,
            hosted_webauthn: false,
            active: true,
            created_at: 0,
            oauth: Default::default(),
        };
        let origin = Some("https://portal.example.com".to_string());
        assert_eq!(registered_redirect(&app, "https://portal.example.com/2fa/done", false), origin);
        for bad in [
            "//evil.example",
            "https:evil.example",
            "/\\evil.example",
            "https://portal.example.com/2fa/done/",
            "https://portal.example.com.evil.example/2fa/done",
        ] {
            assert_eq!(registered_redirect(&app, bad, true), None, "{bad}");
        }
        assert_eq!(registered_redirect(&app, "https://portal.example.com", false), None);
        assert_eq!(registered_redirect(&app, "https://portal.example.com", true), origin);
        assert_eq!(registered_redirect(&app, "https://portal.example.com/", true), origin);
    }
}
