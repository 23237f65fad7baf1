//! One-time codes addressed by a key the caller names (a user id string, a phone number), not by
//! a challenge id: a login code sent to a user's email or phone and verified by the same key, and
//! codes handed to a trusted service that delivers them itself.
//!
//! One live code per key: a new code replaces the old one and resets its tries. A code dies after
//! `otp.max_attempts` wrong tries; a service key is then frozen for `otp.freeze_seconds` (no new
//! code, no verification). A right code is deleted as it is accepted, so it works once even under
//! concurrency.

use serde_json::json;

use super::ClientContext;
use super::audit::Attempt;
use super::otp_login::OtpChannel;
use super::sessions::Authenticated;
use crate::core::Core;
use crate::error::{CoreError, CoreResult};
use crate::model::Dialect;
use crate::model::{AppId, TenantId, UserId};
use crate::model::{Application, KeyOtp, Tenant, User};

/// HMAC domain of the keys: the key is never stored in clear.
const KEY_DOMAIN: &str = "otp-key";
/// HMAC domain of the codes; the tenant and key are part of the input, so a code only matches
/// its own key.
const CODE_DOMAIN: &str = "otp-key-code";

/// Whose codes a key holds: the two never share a key, even when the strings are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// Codes that sign a user in.
    Login,
    /// Codes generated for, and validated by, a trusted service.
    Service,
}

impl KeyPurpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Service => "service",
        }
    }
}

/// How the user asking for a login code is named.
#[derive(Debug, Clone, Copy)]
pub enum UserLookup<'a> {
    /// The `uin` attribute.
    Uin(&'a str),
    Username(&'a str),
}

/// A request for a login code.
#[derive(Debug, Clone)]
pub struct LoginCodeRequest<'a> {
    /// The key the code will be verified by (the user id string as the caller sent it).
    pub key: &'a str,
    pub lookup: UserLookup<'a>,
    /// Email and/or SMS; each must have an address on the user. An application that takes one
    /// channel at a time (`single_otp_channel`) refuses more with `TooManyChannels`.
    pub channels: &'a [OtpChannel],
    pub application: &'a Application,
    /// Extra placeholders for the message templates.
    pub template_vars: &'a [(String, String)],
}

/// One-time codes addressed by key: `core.key_codes()`.
pub struct KeyCodes<'a>(&'a Core);

impl Core {
    pub fn key_codes(&self) -> KeyCodes<'_> {
        KeyCodes(self)
    }
}

impl std::ops::Deref for KeyCodes<'_> {
    type Target = Core;
    fn deref(&self) -> &Core {
        self.0
    }
}

impl KeyCodes<'_> {
    fn key_hash(&self, purpose: KeyPurpose, key: &str) -> Vec<u8> {
        self.master.mac(KEY_DOMAIN, format!("{}:{key}", purpose.as_str()).as_bytes())
    }

    fn key_code_mac(&self, tenant: TenantId, key_hash: &[u8], code: &str) -> Vec<u8> {
        let mut input = Vec::with_capacity(64 + code.len());
        input.extend_from_slice(tenant.uuid().as_bytes());
        input.extend_from_slice(key_hash);
        input.extend_from_slice(code.as_bytes());
        self.master.mac(CODE_DOMAIN, &input)
    }

    /// A new code for the key, replacing any previous one; `AccountLocked` while the key is frozen.
    async fn issue_key_code(
        &self,
        tenant: &Tenant,
        purpose: KeyPurpose,
        key: &str,
        user: Option<UserId>,
        application: Option<AppId>,
    ) -> CoreResult<String> {
        let policy = &tenant.policy.otp;
        let now = self.now();
        let key_hash = self.key_hash(purpose, key);
        let code = crate::crypto::random_digits(policy.length);
        let row = KeyOtp {
            tenant_id: tenant.id,
            secret_hash: self.key_code_mac(tenant.id, &key_hash, &code),
            key_hash,
            user_id: user,
            application_id: application,
            attempts: 0,
            max_attempts: policy.max_attempts,
            expires_at: now + policy.ttl_seconds,
            frozen_until: None,
            created_at: now,
        };
        if !self.store.put_key_otp(&row, now).await? {
            let until = self.store.key_otp(tenant.id, &row.key_hash).await?.and_then(|r| r.frozen_until).unwrap_or(now + 1);
            return Err(CoreError::AccountLocked { retry_after_seconds: (until - now).max(1) });
        }
        Ok(code)
    }

    /// Checks `code` against the key's live code and spends it. `freeze`: whether the try that
    /// uses up the attempts freezes the key.
    async fn spend_key_code(
        &self,
        tenant: &Tenant,
        row: KeyOtp,
        code: &str,
        freeze: bool,
        attempt: &mut Attempt,
    ) -> CoreResult<()> {
        let now = self.now();
        if let Some(until) = row.frozen_until.filter(|t| *t > now) {
            return Err(attempt.refuse("frozen", "key frozen", CoreError::AccountLocked { retry_after_seconds: until - now }));
        }
        if row.attempts >= row.max_attempts {
            return Err(attempt.refuse("exhausted", "no attempts left", CoreError::InvalidOtp { attempts_remaining: 0 }));
        }
        if row.expires_at <= now {
            return Err(attempt.refuse("expired", "code expired", CoreError::OtpExpired));
        }
        let right = !code.is_empty()
            && code.len() <= 10
            && crate::crypto::ct_eq(&self.key_code_mac(tenant.id, &row.key_hash, code), &row.secret_hash);
        if !right {
            let freeze_until = freeze.then_some(now + tenant.policy.otp.freeze_seconds);
            let after = self.store.fail_key_otp(tenant.id, &row.key_hash, &row.secret_hash, freeze_until).await?;
            let remaining = after.map(|r| r.max_attempts.saturating_sub(r.attempts)).unwrap_or(0);
            return Err(attempt.refuse("failure", "wrong code", CoreError::InvalidOtp { attempts_remaining: remaining }));
        }
        if !self.store.consume_key_otp(tenant.id, &row.key_hash, &row.secret_hash, now).await? {
            // Spent, replaced or frozen by a concurrent caller in between.
            return Err(attempt.refuse(
                "failure",
                "code spent, replaced or frozen by another attempt",
                CoreError::InvalidOtp { attempts_remaining: 0 },
            ));
        }
        Ok(())
    }

    /// The active user named by `lookup`, else `UserNotFound`.
    async fn user_by_lookup(&self, tenant: &Tenant, lookup: UserLookup<'_>) -> CoreResult<User> {
        let (UserLookup::Uin(text) | UserLookup::Username(text)) = lookup;
        if crate::model::identifier::has_control_or_format(text.trim()) {
            return Err(CoreError::field("userId", crate::model::identifier::INVISIBLE));
        }
        let user = match lookup {
            UserLookup::Uin(uin) if !uin.trim().is_empty() && uin.len() <= 64 => {
                self.store.user_by_uin(tenant.id, uin.trim()).await?
            }
            UserLookup::Username(name) if !name.trim().is_empty() && name.len() <= 320 => {
                self.store
                    .user_by_identifier(
                        tenant.id,
                        &crate::model::Identifier::Username(crate::model::identifier::normalize_username(name)),
                    )
                    .await?
            }
            _ => None,
        };
        user.filter(|u| u.active).ok_or(CoreError::UserNotFound)
    }

    /// Sends a login code to each of the requested channels of the user. The contract this serves
    /// names unknown users and missing addresses (`UserNotFound`, `NoChannelAddress`). One event:
    /// `otp.sent` when the code went out, `otp.send` when it did not.
    pub async fn send_login_code(&self, tenant: &Tenant, req: LoginCodeRequest<'_>, ctx: &ClientContext) -> CoreResult<()> {
        let mut attempt = Attempt::new(Some(tenant.id), "otp.send");
        let result = self.try_send_login_code(tenant, req, &mut attempt).await;
        self.record_attempt(attempt, ctx, &result).await;
        result
    }

    async fn try_send_login_code(&self, tenant: &Tenant, req: LoginCodeRequest<'_>, attempt: &mut Attempt) -> CoreResult<()> {
        if req.application.single_otp_channel && req.channels.len() > 1 {
            return Err(attempt.refuse("failure", "more channels than the application takes", CoreError::TooManyChannels));
        }
        if req.key.trim().is_empty() || req.key.len() > 320 {
            return Err(attempt.refuse("failure", "malformed userId", CoreError::field("userId", "must be 1-320 characters")));
        }
        for (name, value) in req.template_vars {
            crate::model::text::check("templateVariables", name)?;
            crate::model::text::check("templateVariables", value)?;
        }
        let user = match self.user_by_lookup(tenant, req.lookup).await {
            Ok(u) => u,
            Err(e) => return Err(attempt.refuse("unknown_user", "no active user by that id", e)),
        };
        attempt.user = Some(user.id);
        let mut recipients = Vec::with_capacity(req.channels.len());
        for channel in req.channels {
            let address = match channel {
                OtpChannel::Email => user.email.clone(),
                OtpChannel::Sms => user.phone.clone(),
                OtpChannel::Totp => None,
            };
            let Some(address) = address else {
                attempt.note("channel", channel.as_str());
                return Err(attempt.refuse("no_address", "no address on that channel", CoreError::NoChannelAddress));
            };
            recipients.push((*channel, address));
        }
        let code = match self.issue_key_code(tenant, KeyPurpose::Login, req.key, Some(user.id), Some(req.application.id)).await {
            Ok(code) => code,
            Err(e @ CoreError::AccountLocked { .. }) => return Err(attempt.refuse("frozen", "key frozen", e)),
            Err(e) => return Err(e),
        };
        let ttl = tenant.policy.otp.ttl_seconds;
        for (channel, address) in &recipients {
            self.otp_login().send_otp(tenant, req.application, *channel, address, &code, ttl, req.template_vars).await?;
        }
        let channels: Vec<&str> = recipients.iter().map(|(c, _)| c.as_str()).collect();
        attempt.action = "otp.sent";
        attempt.outcome("queued");
        attempt.note("channels", channels);
        Ok(())
    }

    /// Signs in with a login code sent for `key`: in `tenant`, or, without one, in the tenant of
    /// the key's most recent pending code. `dialect` must serve that tenant. Also returns the
    /// application the code was sent for. One `otp.verify` event, whatever the outcome; a key
    /// that names no tenant makes an event without one.
    pub async fn login_with_code(
        &self,
        tenant: Option<&Tenant>,
        key: &str,
        code: &str,
        dialect: Dialect,
        ctx: &ClientContext,
    ) -> CoreResult<(Tenant, Authenticated, Option<AppId>)> {
        let mut attempt = Attempt::new(tenant.map(|t| t.id), "otp.verify");
        let result = self.try_login_with_code(tenant, key, code, dialect, ctx, &mut attempt).await;
        self.record_attempt(attempt, ctx, &result).await;
        result
    }

    async fn try_login_with_code(
        &self,
        tenant: Option<&Tenant>,
        key: &str,
        code: &str,
        dialect: Dialect,
        ctx: &ClientContext,
        attempt: &mut Attempt,
    ) -> CoreResult<(Tenant, Authenticated, Option<AppId>)> {
        let invalid = || CoreError::InvalidOtp { attempts_remaining: 0 };
        let key_hash = self.key_hash(KeyPurpose::Login, key);
        let row = match tenant {
            Some(t) => self.store.key_otp(t.id, &key_hash).await?,
            None => self.store.latest_key_otp(&key_hash, self.now()).await?,
        };
        let Some(row) = row else {
            return Err(attempt.refuse("failure", "no code for this key", invalid()));
        };
        attempt.tenant = Some(row.tenant_id);
        attempt.user = row.user_id;
        let tenant = match tenant {
            Some(t) => t.clone(),
            None => match self.tenants().find_tenant(&row.tenant_id.to_string()).await {
                Ok(t) => t,
                Err(_) => return Err(attempt.refuse("failure", "tenant gone", invalid())),
            },
        };
        if !tenant.serves(dialect) {
            return Err(attempt.refuse("failure", "tenant not served by this dialect", invalid()));
        }
        let Some(user_id) = row.user_id else {
            return Err(attempt.refuse("failure", "not a login code", invalid()));
        };
        let application = row.application_id;
        let mut ctx = ctx.clone();
        ctx.application_id = ctx.application_id.or(application);
        attempt.application = ctx.application_id;
        let ctx = &ctx;
        self.spend_key_code(&tenant, row, code, false, attempt).await?;
        let Some(user) = self.users().get_user(&tenant, user_id).await.ok().filter(|u| u.active) else {
            return Err(attempt.refuse("failure", "user gone or inactive", invalid()));
        };
        let device = json!({ "application": application });
        let auth = self.sessions().start_session(&tenant, user, dialect, device, ctx).await?;
        attempt.note("session", auth.session.id.clone());
        Ok((tenant, auth, application))
    }

    /// A code for a trusted service to deliver itself; `AccountLocked` while the key is frozen.
    pub async fn generate_service_code(&self, tenant: &Tenant, key: &str, ctx: &ClientContext) -> CoreResult<String> {
        let result = self.issue_key_code(tenant, KeyPurpose::Service, key, None, None).await;
        let outcome = match &result {
            Ok(_) => "success",
            Err(CoreError::AccountLocked { .. }) => "frozen",
            Err(_) => "error",
        };
        self.audit(Some(tenant.id), None, "otp.generate", outcome, ctx, json!({})).await;
        result
    }

    /// Validates (and spends) a service code. Wrong tries up to the limit freeze the key. One
    /// `otp.validate` event, whatever the outcome.
    pub async fn validate_service_code(&self, tenant: &Tenant, key: &str, code: &str, ctx: &ClientContext) -> CoreResult<()> {
        let mut attempt = Attempt::new(Some(tenant.id), "otp.validate");
        let result = async {
            let key_hash = self.key_hash(KeyPurpose::Service, key);
            let Some(row) = self.store.key_otp(tenant.id, &key_hash).await? else {
                return Err(attempt.refuse("failure", "no code for this key", CoreError::InvalidOtp { attempts_remaining: 0 }));
            };
            self.spend_key_code(tenant, row, code, true, &mut attempt).await
        }
        .await;
        self.record_attempt(attempt, ctx, &result).await;
        result
    }
}
