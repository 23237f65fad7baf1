//! Self-registration, email verification, forgotten and reset passwords. Links in emails carry a
//! single-use token; only its HMAC is stored.

use serde_json::json;

use super::ClientContext;
use super::audit::Attempt;
use crate::core::Core;
use crate::delivery::templates;
use crate::error::{CoreError, CoreResult};
use crate::model::AuditAction;
use crate::model::{Challenge, ChallengeKind, Channel, Email, Identifier, NewUser, Tenant, User, new_id};

const VERIFY_TTL: i64 = 24 * 3600;
const RESET_TTL: i64 = 3600;

/// A self-registration.
#[derive(Debug, Clone)]
pub struct Registration {
    pub email: String,
    pub password: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
}

/// Self-registration, email verification and password reset: `core.registrations()`.
pub struct Registrations<'a>(&'a Core);

impl Core {
    pub fn registrations(&self) -> Registrations<'_> {
        Registrations(self)
    }
}

impl std::ops::Deref for Registrations<'_> {
    type Target = Core;
    fn deref(&self) -> &Core {
        self.0
    }
}

impl Registrations<'_> {
    async fn create_link_challenge(&self, tenant: &Tenant, user: &User, kind: ChallengeKind, ttl: i64) -> CoreResult<String> {
        let token = crate::crypto::random_token();
        let now = self.now();
        self.store.consume_user_challenges(tenant.id, user.id, kind, now).await?;
        self.store
            .insert_challenge(&Challenge {
                id: new_id(),
                tenant_id: tenant.id,
                user_id: user.id,
                kind,
                secret_hash: self.master.mac(super::CHALLENGE_DOMAIN, token.as_bytes()),
                attempts: 0,
                max_attempts: 1,
                expires_at: now + ttl,
                consumed_at: None,
                data: json!({}),
                created_at: now,
            })
            .await?;
        Ok(token)
    }

    /// The live challenge a link token names, or `InvalidToken`; `attempt` learns whose and why not.
    async fn find_link_challenge(
        &self,
        tenant: &Tenant,
        kind: ChallengeKind,
        token: &str,
        attempt: &mut Attempt,
    ) -> CoreResult<Challenge> {
        if token.is_empty() || token.len() > 200 {
            return Err(attempt.refuse("failure", "malformed token", CoreError::InvalidToken));
        }
        let hash = self.master.mac(super::CHALLENGE_DOMAIN, token.as_bytes());
        let Some(c) = self.store.challenge_by_secret(tenant.id, kind, &hash).await? else {
            return Err(attempt.refuse("failure", "unknown token", CoreError::InvalidToken));
        };
        attempt.user = Some(c.user_id);
        if c.consumed_at.is_some() {
            return Err(attempt.refuse("failure", "token already used or replaced", CoreError::InvalidToken));
        }
        if c.expires_at <= self.now() {
            return Err(attempt.refuse("expired", "token expired", CoreError::InvalidToken));
        }
        Ok(c)
    }

    fn link(&self, tenant: &Tenant, page: &str, token: &str) -> String {
        format!("{}/t/{}/{}?token={}", self.config.public_url.trim_end_matches('/'), tenant.slug, page, token)
    }

    pub async fn register(&self, tenant: &Tenant, r: Registration, ctx: &ClientContext) -> CoreResult<User> {
        if !tenant.policy.self_registration {
            return Err(CoreError::Disabled);
        }
        let user = self
            .users()
            .create_user(
                tenant,
                NewUser {
                    email: Some(r.email),
                    password: Some(r.password),
                    first_name: r.first_name,
                    last_name: r.last_name,
                    phone: r.phone,
                    active: true,
                    ..NewUser::default()
                },
            )
            .await?;
        self.audit(Some(tenant.id), Some(user.id), AuditAction::UserRegister, "success", ctx, json!({})).await;
        self.send_verification_email(tenant, &user).await?;
        Ok(user)
    }

    pub async fn send_verification_email(&self, tenant: &Tenant, user: &User) -> CoreResult<()> {
        let Some(email) = user.email.clone() else { return Ok(()) };
        let token = self.create_link_challenge(tenant, user, ChallengeKind::EmailVerification, VERIFY_TTL).await?;
        let (subject, body) = templates::verify_email(&tenant.display_name, &self.link(tenant, "verify-email", &token));
        self.enqueue(Some(tenant.id), Channel::Email, &email, &subject, &body).await.map(|_| ())
    }

    pub async fn verify_email(&self, tenant: &Tenant, token: &str, ctx: &ClientContext) -> CoreResult<User> {
        Ok(self.verify_email_once(tenant, token, ctx).await?.0)
    }

    /// Verifies with a mailed token; also says whether the email was verified already (the token
    /// is spent either way). One `email.verify` event, whatever the outcome.
    pub async fn verify_email_once(&self, tenant: &Tenant, token: &str, ctx: &ClientContext) -> CoreResult<(User, bool)> {
        let mut attempt = Attempt::new(Some(tenant.id), AuditAction::EmailVerify);
        let result = async {
            let c = self.find_link_challenge(tenant, ChallengeKind::EmailVerification, token, &mut attempt).await?;
            if !self.store.consume_challenge(tenant.id, c.id, self.now()).await? {
                return Err(attempt.refuse("failure", "token used by another attempt", CoreError::InvalidToken));
            }
            let Some(mut user) = self.store.user_by_id(tenant.id, c.user_id).await? else {
                return Err(attempt.refuse("failure", "user gone", CoreError::NotFound));
            };
            let already = user.email_verified;
            if already {
                attempt.outcome("already_verified");
            } else {
                user.email_verified = true;
                user.updated_at = self.now();
                self.store.update_user(&user).await?;
            }
            Ok((user, already))
        }
        .await;
        self.record_attempt(attempt, ctx, &result).await;
        result
    }

    /// The user with this email, if the text is an email and such a user exists.
    async fn user_by_email(&self, tenant: &Tenant, email: &str) -> CoreResult<Option<User>> {
        let Ok(email) = Email::parse(email) else { return Ok(None) };
        Ok(self.store.user_by_identifier(tenant.id, &Identifier::Email(email)).await?)
    }

    async fn send_reset_email(&self, tenant: &Tenant, email: &str, ctx: &ClientContext) -> CoreResult<()> {
        let Some(user) = self.user_by_email(tenant, email).await? else {
            self.audit(Some(tenant.id), None, AuditAction::PasswordForgot, "unknown_email", ctx, json!({})).await;
            return Ok(());
        };
        if !user.active {
            return Ok(());
        }
        let token = self.create_link_challenge(tenant, &user, ChallengeKind::PasswordReset, RESET_TTL).await?;
        let (subject, body) = templates::reset_password(&tenant.display_name, &self.link(tenant, "reset-password", &token));
        let to = user.email.as_deref().unwrap_or(email);
        self.enqueue(Some(tenant.id), Channel::Email, to, &subject, &body).await?;
        self.audit(Some(tenant.id), Some(user.id), AuditAction::PasswordForgot, "sent", ctx, json!({})).await;
        Ok(())
    }

    /// Sets a new password with a mailed token: policy first (a weak password does not burn the
    /// token), then the token is consumed atomically, then every session ends. One
    /// `password.reset` event, whatever the outcome.
    pub async fn reset_password(&self, tenant: &Tenant, token: &str, new_password: &str, ctx: &ClientContext) -> CoreResult<()> {
        let mut attempt = Attempt::new(Some(tenant.id), AuditAction::PasswordReset);
        let result = async {
            let c = self.find_link_challenge(tenant, ChallengeKind::PasswordReset, token, &mut attempt).await?;
            self.users().check_password_policy(tenant, new_password)?;
            let hash = self.hasher.hash(new_password).await?;
            if !self.store.consume_challenge(tenant.id, c.id, self.now()).await? {
                return Err(attempt.refuse("failure", "token used by another attempt", CoreError::InvalidToken));
            }
            let Some(mut user) = self.users().get_user(tenant, c.user_id).await.ok().filter(|u| u.active) else {
                return Err(attempt.refuse("failure", "user gone or inactive", CoreError::InvalidToken));
            };
            user.password_hash = Some(hash);
            user.updated_at = self.now();
            self.store.update_user(&user).await?;
            self.end_user_sessions(tenant.id, user.id).await?;
            // Not a success of a password check: the owner of the mailbox set a new password, so
            // the wrong guesses at the old one no longer matter (as after an admin's reset).
            self.store.clear_attempts(tenant.id, &super::users::lockout_subject(user.id)).await?;
            Ok(())
        }
        .await;
        self.record_attempt(attempt, ctx, &result).await;
        result
    }

    /// Whether a reset token is still usable (for the reset page, before it shows the form). A
    /// look, not an attempt: nothing is recorded.
    pub async fn reset_token_is_valid(&self, tenant: &Tenant, token: &str) -> CoreResult<bool> {
        let mut look = Attempt::new(Some(tenant.id), AuditAction::PasswordReset);
        match self.find_link_challenge(tenant, ChallengeKind::PasswordReset, token, &mut look).await {
            Ok(_) => Ok(true),
            Err(CoreError::InvalidToken) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// The requests answered at once, their work spawned (they need the core beyond the request).
impl Core {
    /// Mails a new verification link to an active, unverified account with this email. Always
    /// answers the same way, at once: the lookup and the email happen in the background.
    pub fn request_verification(self: &std::sync::Arc<Self>, tenant: &Tenant, email: &str) {
        let core = self.clone();
        let tenant = tenant.clone();
        let email = email.to_string();
        tokio::spawn(async move {
            let sent = match core.registrations().user_by_email(&tenant, &email).await {
                Ok(Some(user)) if user.active && !user.email_verified => {
                    core.registrations().send_verification_email(&tenant, &user).await
                }
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                tracing::error!(error = %crate::error::Chain(&e), "verification email not queued");
            }
        });
    }

    /// Always succeeds and always takes the same path from the caller's point of view: the lookup
    /// and the email happen in the background, so neither the answer nor its timing tells whether
    /// the address has an account.
    pub fn forgot_password(self: &std::sync::Arc<Self>, tenant: &Tenant, email: &str, ctx: &ClientContext) {
        let core = self.clone();
        let tenant = tenant.clone();
        let email = email.to_string();
        let ctx = ctx.clone();
        tokio::spawn(async move {
            if let Err(e) = core.registrations().send_reset_email(&tenant, &email, &ctx).await {
                tracing::error!(error = %crate::error::Chain(&e), "password reset email not queued");
            }
        });
    }
}
