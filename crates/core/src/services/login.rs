//! Password login: lockout accounting that holds under concurrency, a dummy hash for unknown
//! users, legacy-hash upgrade, and the second factor when the user has one.

use serde_json::{Value, json};

use super::ClientContext;
use super::audit::Attempt;
use super::sessions::Authenticated;
use super::users::{lockout_subject, second_factor_subject};
use crate::core::Core;
use crate::error::{CoreError, CoreResult};
use crate::model::AuditAction;
use crate::model::Dialect;
use crate::model::identifier::{INVISIBLE, has_control_or_format};
use crate::model::{Challenge, ChallengeKind, Identifier, Tenant, User, new_id};
use crate::store::AttemptReservation;

const MFA_TOKEN_TTL: i64 = 300;

/// The validation field of a login identifier with a control or format character; each dialect
/// renames it to its own field (`email`, `username`, `userName`, …).
pub const IDENTIFIER_FIELD: &str = "identifier";

/// A password login as a dialect receives it.
#[derive(Debug, Clone)]
pub struct PasswordLogin {
    pub identifier: String,
    pub password: String,
    /// A TOTP code sent along with the password, for protocols that take both in one request.
    pub totp_code: Option<String>,
    pub device: Value,
    pub dialect: Dialect,
    /// Whether the user's WebAuthn credentials make a second step due (the hosted pages, which
    /// can run a WebAuthn ceremony); protocols that cannot leave them out.
    pub keys_as_second_factor: bool,
}

/// What finishes a sign-in's second step.
#[derive(Debug, Clone, Copy)]
pub enum SecondFactor<'a> {
    Totp(&'a str),
    /// A WebAuthn assertion (JSON) for the ceremony `Passkeys::begin_sign_in` began for the user
    /// `Login::mfa_user` names.
    Key {
        ceremony: &'a str,
        response: &'a str,
    },
    RecoveryCode(&'a str),
}

impl SecondFactor<'_> {
    fn action(&self) -> AuditAction {
        match self {
            SecondFactor::Totp(_) => AuditAction::LoginTotp,
            SecondFactor::Key { .. } => AuditAction::LoginPasskey,
            SecondFactor::RecoveryCode(_) => AuditAction::LoginRecoveryCode,
        }
    }
}

/// Where a password login ended.
#[derive(Debug)]
pub enum LoginOutcome {
    Authenticated(Box<Authenticated>),
    /// The password was right; a TOTP code is still due, against this single-use token.
    MfaRequired {
        mfa_token: String,
        methods: Vec<String>,
    },
}

/// Password sign-in and its second factor: `core.login()`.
pub struct Login<'a>(&'a Core);

impl Core {
    pub fn login(&self) -> Login<'_> {
        Login(self)
    }
}

impl std::ops::Deref for Login<'_> {
    type Target = Core;
    fn deref(&self) -> &Core {
        self.0
    }
}

impl Login<'_> {
    /// Reserves one attempt against `subject`'s lockout counter, or says it is locked.
    async fn reserve_attempt(&self, tenant: &Tenant, subject: &str) -> CoreResult<u32> {
        let now = self.now();
        let policy = &tenant.policy.lockout;
        match self.store.reserve_attempt(tenant.id, subject, policy.threshold, now, policy.duration_seconds).await? {
            AttemptReservation::Allowed { failures } => Ok(failures),
            AttemptReservation::Locked { until } => Err(CoreError::AccountLocked { retry_after_seconds: (until - now).max(1) }),
        }
    }

    /// Ends a successful attempt (the `failures`-th reserved): the counter is cleared, unless
    /// attempts after it locked the subject — then this one is refused as locked too.
    pub(crate) async fn settle_success(
        &self,
        tenant: &Tenant,
        subject: &str,
        failures: u32,
        attempt: &mut Attempt,
    ) -> CoreResult<()> {
        if self.store.settle_success(tenant.id, subject, failures, self.now()).await? {
            return Ok(());
        }
        let locked = CoreError::AccountLocked { retry_after_seconds: tenant.policy.lockout.duration_seconds };
        Err(attempt.refuse("locked", "locked during the attempt", locked))
    }

    /// Refuses as locked when `subject` is locked now, without counting an attempt: an account
    /// whose password or second factor is locked is locked on every path.
    async fn refuse_if_locked(&self, tenant: &Tenant, subject: &str) -> CoreResult<()> {
        let now = self.now();
        match self.store.locked_until(tenant.id, subject, now).await? {
            Some(until) => Err(CoreError::AccountLocked { retry_after_seconds: (until - now).max(1) }),
            None => Ok(()),
        }
    }

    /// The error of a failed attempt that was the `failures`-th in a row.
    pub(crate) fn failed_attempt(&self, tenant: &Tenant, failures: u32, error: CoreError) -> CoreError {
        if failures >= tenant.policy.lockout.threshold {
            CoreError::AccountLocked { retry_after_seconds: tenant.policy.lockout.duration_seconds }
        } else {
            error
        }
    }

    /// Checks identifier and password, reserving the attempt against the lockout; the caller
    /// settles it. Unknown user, wrong password and disabled account are the same
    /// `InvalidCredentials`, after the same amount of hashing; `attempt` says which it was.
    pub(crate) async fn verify_password_login(
        &self,
        tenant: &Tenant,
        identifier: &str,
        password: &str,
        attempt: &mut Attempt,
    ) -> CoreResult<(User, u32)> {
        // Refused before any lookup: such text can name no account, and PostgreSQL cannot even
        // compare text holding NUL.
        if has_control_or_format(identifier.trim()) {
            return Err(CoreError::field(IDENTIFIER_FIELD, INVISIBLE));
        }
        let parsed = Identifier::parse(identifier, &self.config.default_country_code).ok();
        let user = match &parsed {
            Some(id) => self.store.user_by_identifier(tenant.id, id).await?,
            None => None,
        };
        let subject = match (&user, &parsed) {
            (Some(u), _) => lockout_subject(u.id),
            (None, Some(id)) => id.key(),
            (None, None) => format!("raw:{}", identifier.trim().to_lowercase()),
        };
        attempt.user = user.as_ref().map(|u| u.id);
        // A second factor locked by wrong codes, keys or recovery codes locks the account: refused
        // before the password is looked at, so that the answer does not say whether the password
        // was right. (Only a user who has a second factor can have that lock.)
        if let Some(u) = user.as_ref() {
            self.refuse_if_locked(tenant, &second_factor_subject(u.id)).await?;
        }
        let failures = self.reserve_attempt(tenant, &subject).await?;
        let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let verified = self.hasher.verify(password, stored).await?;
        let user = match user {
            Some(u) if verified.ok && u.active && tenant.policy.require_verified_email && !u.email_verified => {
                // Counted as a failure, so that at the threshold it answers as a wrong password does.
                let error = self.failed_attempt(tenant, failures, CoreError::EmailNotVerified);
                return Err(attempt.refuse("email_not_verified", "email not verified", error));
            }
            Some(u) if verified.ok && u.active => u,
            other => {
                let reason = match &other {
                    None => "unknown identifier",
                    Some(u) if !u.active => "account inactive",
                    Some(u) if u.password_hash.is_none() => "no password set",
                    Some(_) => "wrong password",
                };
                let error = self.failed_attempt(tenant, failures, CoreError::InvalidCredentials);
                return Err(attempt.refuse("failure", reason, error));
            }
        };
        if verified.needs_rehash
            && let Some(old) = user.password_hash.as_deref()
        {
            let new = self.hasher.hash(password).await?;
            self.store.replace_password_hash(tenant.id, user.id, old, &new, self.now()).await?;
        }
        Ok((user, failures))
    }

    /// A complete password login: credentials, then the second factor if the user has one, then a
    /// new session. One audit event (`login.password`, or `login.totp` when a sent TOTP code was
    /// wrong), whatever the outcome.
    pub async fn login_with_password(
        &self,
        tenant: &Tenant,
        login: PasswordLogin,
        ctx: &ClientContext,
    ) -> CoreResult<LoginOutcome> {
        let mut attempt = Attempt::new(Some(tenant.id), AuditAction::LoginPassword);
        let result = self.try_password_login(tenant, login, ctx, &mut attempt).await;
        self.record_attempt(attempt, ctx, &result).await;
        result
    }

    async fn try_password_login(
        &self,
        tenant: &Tenant,
        login: PasswordLogin,
        ctx: &ClientContext,
        attempt: &mut Attempt,
    ) -> CoreResult<LoginOutcome> {
        let (user, failures) = self.verify_password_login(tenant, &login.identifier, &login.password, attempt).await?;
        let subject = lockout_subject(user.id);
        // Keys are asked for only while the realm can run a ceremony: a relying party that went
        // away (a public URL on an IP address, origins changed) must not lock every key holder
        // out. Only an operator can take it away; the server says so at every such sign-in.
        let has_keys = login.keys_as_second_factor
            && !self.store.credentials_of(tenant.id, user.id).await?.is_empty()
            && {
                let available = self.passkeys().available(tenant);
                if !available {
                    tracing::warn!(tenant = %tenant.slug, "a user's keys are not asked for: the realm has no WebAuthn relying party (webauthn.rp_id, origins, public URL)");
                }
                available
            };
        if user.mfa_enabled || has_keys {
            // The password was right: its counter is settled; the second factor counts apart.
            self.settle_success(tenant, &subject, failures, attempt).await?;
            let second = second_factor_subject(user.id);
            match login.totp_code.as_deref().filter(|_| user.mfa_enabled) {
                Some(code) => {
                    attempt.action = AuditAction::LoginTotp;
                    let code_failures = self.reserve_attempt(tenant, &second).await?;
                    if !self.totp().verify_totp_code(tenant, &user, code).await? {
                        let error = self.failed_attempt(tenant, code_failures, CoreError::InvalidMfaCode);
                        return Err(attempt.refuse("failure", "wrong TOTP code", error));
                    }
                    self.settle_success(tenant, &second, code_failures, attempt).await?;
                    // A right code: the event is the password login's, as without a second factor.
                    attempt.action = AuditAction::LoginPassword;
                }
                None => {
                    let mfa_token = self.create_mfa_challenge(tenant, &user, &login).await?;
                    attempt.outcome("mfa_required");
                    let mut methods = Vec::new();
                    if user.mfa_enabled {
                        methods.push("totp".to_string());
                    }
                    if has_keys {
                        methods.push("webauthn".to_string());
                    }
                    if self.store.recovery_codes_left(tenant.id, user.id).await? > 0 {
                        methods.push("recovery_code".to_string());
                    }
                    return Ok(LoginOutcome::MfaRequired { mfa_token, methods });
                }
            }
        }
        self.settle_success(tenant, &subject, failures, attempt).await?;
        let auth = self.sessions().start_session(tenant, user, login.dialect, login.device, ctx).await?;
        attempt.note("session", auth.session.id.clone());
        Ok(LoginOutcome::Authenticated(Box::new(auth)))
    }

    async fn create_mfa_challenge(&self, tenant: &Tenant, user: &User, login: &PasswordLogin) -> CoreResult<String> {
        let token = crate::crypto::random_token();
        let now = self.now();
        let challenge = Challenge {
            id: new_id(),
            tenant_id: tenant.id,
            user_id: user.id,
            kind: ChallengeKind::MfaPending,
            secret_hash: self.master.mac(super::CHALLENGE_DOMAIN, token.as_bytes()),
            attempts: 0,
            max_attempts: tenant.policy.otp.max_attempts,
            expires_at: now + MFA_TOKEN_TTL,
            consumed_at: None,
            data: json!({"device": login.device, "dialect": login.dialect}),
            created_at: now,
        };
        self.store.insert_challenge(&challenge).await?;
        Ok(token)
    }

    /// Finishes a login that stopped at `MfaRequired`. The token is single-use; wrong codes count
    /// against both the token and the account's lockout. Every attempt leaves one `login.totp` event.
    pub async fn complete_mfa_login(
        &self,
        tenant: &Tenant,
        mfa_token: &str,
        code: &str,
        ctx: &ClientContext,
    ) -> CoreResult<Authenticated> {
        self.complete_mfa_with(tenant, mfa_token, SecondFactor::Totp(code), ctx).await.map(|(auth, _)| auth)
    }

    /// Finishes a login that stopped at `MfaRequired` with any second factor the user has; for
    /// a key, the credential that answered. One event of the factor's action per attempt.
    pub async fn complete_mfa_with(
        &self,
        tenant: &Tenant,
        mfa_token: &str,
        factor: SecondFactor<'_>,
        ctx: &ClientContext,
    ) -> CoreResult<(Authenticated, Option<crate::model::WebauthnCredential>)> {
        let mut attempt = Attempt::new(Some(tenant.id), factor.action());
        let result = self.try_complete_mfa_login(tenant, mfa_token, factor, ctx, &mut attempt).await;
        self.record_attempt(attempt, ctx, &result).await;
        result
    }

    /// The user an unfinished login's token names, while it can still be finished; for the page
    /// that begins a key's ceremony.
    pub async fn mfa_user(&self, tenant: &Tenant, mfa_token: &str) -> CoreResult<User> {
        if mfa_token.is_empty() || mfa_token.len() > 256 {
            return Err(CoreError::InvalidMfaCode);
        }
        let hash = self.master.mac(super::CHALLENGE_DOMAIN, mfa_token.as_bytes());
        let found = self.store.challenge_by_secret(tenant.id, ChallengeKind::MfaPending, &hash).await?;
        let now = self.now();
        let Some(c) = found.filter(|c| c.consumed_at.is_none() && c.expires_at > now && c.attempts < c.max_attempts) else {
            return Err(CoreError::InvalidMfaCode);
        };
        match self.store.user_by_id(tenant.id, c.user_id).await? {
            Some(u) if u.active => Ok(u),
            _ => Err(CoreError::InvalidMfaCode),
        }
    }

    async fn try_complete_mfa_login(
        &self,
        tenant: &Tenant,
        mfa_token: &str,
        factor: SecondFactor<'_>,
        ctx: &ClientContext,
        attempt: &mut Attempt,
    ) -> CoreResult<(Authenticated, Option<crate::model::WebauthnCredential>)> {
        let hash = self.master.mac(super::CHALLENGE_DOMAIN, mfa_token.as_bytes());
        let now = self.now();
        let found = if mfa_token.is_empty() || mfa_token.len() > 256 {
            None
        } else {
            self.store.challenge_by_secret(tenant.id, ChallengeKind::MfaPending, &hash).await?
        };
        let Some(challenge) = found else {
            return Err(attempt.refuse("failure", "unknown mfaToken", CoreError::InvalidMfaCode));
        };
        attempt.user = Some(challenge.user_id);
        if challenge.consumed_at.is_some() || challenge.expires_at <= now || challenge.attempts >= challenge.max_attempts {
            return Err(attempt.refuse("failure", "mfaToken spent, expired or exhausted", CoreError::InvalidMfaCode));
        }
        let Ok(user) = self.users().get_user(tenant, challenge.user_id).await else {
            return Err(attempt.refuse("failure", "user gone", CoreError::InvalidMfaCode));
        };
        if let Err(e) = self.refuse_if_locked(tenant, &lockout_subject(user.id)).await {
            return Err(attempt.refuse("locked", "password locked", e));
        }
        let subject = second_factor_subject(user.id);
        let failures = self.reserve_attempt(tenant, &subject).await?;
        let mut key = None;
        let refused = if !user.active {
            Some("account inactive")
        } else {
            match factor {
                SecondFactor::Totp(code) => {
                    (!self.totp().verify_totp_code(tenant, &user, code).await?).then_some("wrong TOTP code")
                }
                SecondFactor::RecoveryCode(code) => {
                    (!self.passkeys().spend_recovery_code(tenant, &user, code).await?).then_some("wrong recovery code")
                }
                SecondFactor::Key { ceremony, response } => {
                    match self.passkeys().verify_assertion(tenant, ceremony, response, Some(&user)).await? {
                        Ok(asserted) => {
                            attempt.note("credential", asserted.credential.id.to_string());
                            key = Some(asserted.credential);
                            None
                        }
                        Err((_, why)) => Some(why),
                    }
                }
            }
        };
        if let Some(reason) = refused {
            self.store.fail_challenge(tenant.id, challenge.id).await?;
            let error = self.failed_attempt(tenant, failures, CoreError::InvalidMfaCode);
            return Err(attempt.refuse("failure", reason, error));
        }
        let device = challenge.data.get("device").cloned().unwrap_or(Value::Null);
        let dialect = challenge.data.get("dialect").and_then(Value::as_str).and_then(Dialect::parse);
        let Some(dialect) = dialect else {
            return Err(attempt.refuse("failure", "mfaToken of no dialect", CoreError::InvalidMfaCode));
        };
        let opened =
            self.sessions().start_session_spending(tenant, user, dialect, device, ctx, challenge.id, |_| Vec::new()).await?;
        let Some(auth) = opened else {
            // Another attempt with the same token won; this one counts as a failure.
            let error = self.failed_attempt(tenant, failures, CoreError::InvalidMfaCode);
            return Err(attempt.refuse("failure", "mfaToken used by another attempt", error));
        };
        self.settle_success(tenant, &subject, failures, attempt).await?;
        attempt.note("session", auth.session.id.clone());
        Ok((auth, key))
    }
}
