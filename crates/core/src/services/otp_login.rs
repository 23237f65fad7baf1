//! One-time-code login: the password first, then a code sent to the user's email or phone (or
//! the code of their authenticator app), then a session. No token exists before the code is
//! verified.
//!
//! A challenge allows `otp.max_attempts` wrong codes; the last one still answers "invalid" with
//! nothing remaining, later tries find it exhausted. A resend replaces the code (the old one stops
//! working), keeps the attempt count, waits `otp.resend_cooldown_seconds` between sends and stops
//! after `otp.max_sends`. A new login voids the user's earlier pending challenges.

use serde_json::{Value, json};
use uuid::Uuid;

use super::ClientContext;
use super::audit::Attempt;
use super::sessions::Authenticated;
use super::users::lockout_subject;
use crate::core::Core;
use crate::delivery::templates::{self, OtpVars};
use crate::error::{CoreError, CoreResult};
use crate::model::AuditAction;
use crate::model::Dialect;
use crate::model::{AppId, UserId};
use crate::model::{Application, Challenge, ChallengeKind, Channel, Session, Tenant, User, new_id};

/// HMAC domain of one-time codes; the challenge id is part of the MAC input, so a code only ever
/// matches its own challenge.
const OTP_DOMAIN: &str = "otp-code";

/// Where the code of a challenge comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpChannel {
    Email,
    Sms,
    /// The user's authenticator app; nothing is sent.
    Totp,
}

impl OtpChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Totp => "totp",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(Self::Email),
            "sms" => Some(Self::Sms),
            "totp" => Some(Self::Totp),
            _ => None,
        }
    }
}

/// A pending one-time-code login, as the dialect reports it.
#[derive(Debug, Clone)]
pub struct OtpChallenge {
    pub user: User,
    pub challenge_id: Uuid,
    pub channel: OtpChannel,
    /// The destination, masked (`j***@example.com`, `+256*****001`); empty for TOTP.
    pub destination: String,
    pub expires_in: i64,
}

/// A password login that continues with a one-time code.
#[derive(Debug, Clone)]
pub struct OtpLoginStart<'a> {
    pub identifier: &'a str,
    pub password: &'a str,
    pub application: &'a Application,
    pub device: Value,
    pub dialect: Dialect,
}

/// `j***@example.com`: the first character of the local part and the domain.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}

/// `+256*****001`: the country prefix and the last three digits.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// The channel and unmasked recipient of a user's codes: TOTP if enrolled, else a verified
/// email, else the phone, else an unverified email.
fn channel_of(user: &User) -> Option<(OtpChannel, String)> {
    if user.mfa_enabled {
        return Some((OtpChannel::Totp, String::new()));
    }
    match (&user.email, &user.phone) {
        (Some(e), _) if user.email_verified => Some((OtpChannel::Email, e.clone())),
        (_, Some(p)) => Some((OtpChannel::Sms, p.clone())),
        (Some(e), None) => Some((OtpChannel::Email, e.clone())),
        (None, None) => None,
    }
}

/// The channel a challenge's codes go through (set when it was opened).
fn channel_of_challenge(c: &Challenge) -> OtpChannel {
    data_str(c, "channel").and_then(OtpChannel::parse).unwrap_or(OtpChannel::Email)
}

fn data_str<'a>(c: &'a Challenge, key: &str) -> Option<&'a str> {
    c.data.get(key).and_then(Value::as_str)
}

fn data_i64(c: &Challenge, key: &str) -> i64 {
    c.data.get(key).and_then(Value::as_i64).unwrap_or(0)
}

/// Password, then a one-time code: `core.otp_login()`.
pub struct OtpLogin<'a>(&'a Core);

impl Core {
    pub fn otp_login(&self) -> OtpLogin<'_> {
        OtpLogin(self)
    }
}

impl std::ops::Deref for OtpLogin<'_> {
    type Target = Core;
    fn deref(&self) -> &Core {
        self.0
    }
}

impl OtpLogin<'_> {
    fn otp_mac(&self, challenge: Uuid, code: &str) -> Vec<u8> {
        self.master.mac(OTP_DOMAIN, format!("{challenge}:{code}").as_bytes())
    }

    /// Checks identifier and password, then opens a challenge and sends its code. One
    /// `login.password` event, whatever the outcome (and `otp.sent` for the code).
    pub async fn start_otp_login(
        &self,
        tenant: &Tenant,
        start: OtpLoginStart<'_>,
        ctx: &ClientContext,
    ) -> CoreResult<OtpChallenge> {
        let mut attempt = Attempt::new(Some(tenant.id), AuditAction::LoginPassword);
        attempt.note("tagId", start.application.alias(start.dialect).map(str::to_string));
        let result = self.try_start_otp_login(tenant, start, ctx, &mut attempt).await;
        self.record_attempt(attempt, ctx, &result).await;
        result
    }

    async fn try_start_otp_login(
        &self,
        tenant: &Tenant,
        start: OtpLoginStart<'_>,
        ctx: &ClientContext,
        attempt: &mut Attempt,
    ) -> CoreResult<OtpChallenge> {
        let tag = start.application.alias(start.dialect).map(str::to_string);
        let (user, failures) = self.login().verify_password_login(tenant, start.identifier, start.password, attempt).await?;
        let Some((channel, recipient)) = channel_of(&user) else {
            // Nowhere to send a code: the login cannot go on, and saying why would tell a
            // stranger that the password was right; counted as a wrong password is, so that at
            // the threshold it answers as one does.
            let error = self.login().failed_attempt(tenant, failures, CoreError::InvalidCredentials);
            return Err(attempt.refuse("no_otp_channel", "no email, phone or authenticator", error));
        };
        self.login().settle_success(tenant, &lockout_subject(user.id), failures, attempt).await?;
        let now = self.now();
        self.store.consume_user_challenges(tenant.id, user.id, ChallengeKind::OtpLogin, now).await?;
        let id = new_id();
        // A TOTP challenge has no code of its own: its MAC is random, so no code matches it.
        let code = (channel != OtpChannel::Totp).then(|| crate::crypto::random_digits(tenant.policy.otp.length));
        let destination = match channel {
            OtpChannel::Email => mask_email(&recipient),
            OtpChannel::Sms => mask_phone(&recipient),
            OtpChannel::Totp => String::new(),
        };
        let ttl = tenant.policy.otp.ttl_seconds;
        let challenge = Challenge {
            id,
            tenant_id: tenant.id,
            user_id: user.id,
            kind: ChallengeKind::OtpLogin,
            secret_hash: match &code {
                Some(code) => self.otp_mac(id, code),
                None => crate::crypto::random_bytes::<32>().to_vec(),
            },
            attempts: 0,
            max_attempts: tenant.policy.otp.max_attempts,
            expires_at: now + ttl,
            consumed_at: None,
            data: json!({
                "channel": channel.as_str(),
                "destination": destination,
                "application": start.application.id,
                "tagId": tag,
                "sends": 1,
                "lastSentAt": now,
                "device": start.device,
                "dialect": start.dialect,
            }),
            created_at: now,
        };
        self.store.insert_challenge(&challenge).await?;
        attempt.note("challenge", id.to_string());
        if let Some(code) = &code {
            self.send_otp(tenant, start.application, channel, &recipient, code, ttl, &[]).await?;
            self.audit(
                Some(tenant.id),
                Some(user.id),
                AuditAction::OtpSent,
                "queued",
                ctx,
                json!({"tagId": tag, "challenge": id, "channel": channel.as_str()}),
            )
            .await;
        }
        Ok(OtpChallenge { user, challenge_id: id, channel, destination, expires_in: ttl })
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn send_otp(
        &self,
        tenant: &Tenant,
        app: &Application,
        channel: OtpChannel,
        to: &str,
        code: &str,
        ttl: i64,
        extra: &[(String, String)],
    ) -> CoreResult<()> {
        let vars = OtpVars { code, minutes: (ttl + 59) / 60, app: &app.name, tenant: &tenant.display_name, extra };
        let messages = &tenant.policy.messages;
        match channel {
            OtpChannel::Email => {
                let (subject, body) = templates::otp_email(messages, &vars);
                self.enqueue(Some(tenant.id), Channel::Email, to, &subject, &body).await?;
            }
            OtpChannel::Sms => {
                let body = templates::otp_sms(messages, &vars);
                self.enqueue(Some(tenant.id), Channel::Sms, to, "", &body).await?;
            }
            OtpChannel::Totp => {}
        }
        Ok(())
    }

    /// The live one-time-code challenge `id` of `user_id`, with its tenant, served by `dialect`.
    /// A challenge of another user, of another kind or already finished is `OtpExpired`, as an
    /// unknown one is; `attempt` learns the tenant and user, and why.
    async fn pending_otp_challenge(
        &self,
        id: Uuid,
        user_id: UserId,
        dialect: Dialect,
        attempt: &mut Attempt,
    ) -> CoreResult<(Tenant, Challenge)> {
        let found = self.store.locate_challenge(id).await?.filter(|c| c.kind == ChallengeKind::OtpLogin);
        let Some(challenge) = found else {
            return Err(attempt.refuse("expired", "unknown challenge", CoreError::OtpExpired));
        };
        attempt.tenant = Some(challenge.tenant_id);
        attempt.user = Some(challenge.user_id);
        attempt.application = data_str(&challenge, "application").and_then(|s| s.parse::<AppId>().ok());
        attempt.note("challenge", challenge.id.to_string());
        attempt.note("tagId", challenge.data.get("tagId").cloned().unwrap_or(Value::Null));
        if challenge.user_id != user_id {
            return Err(attempt.refuse("failure", "userId is not the challenge's", CoreError::OtpExpired));
        }
        if challenge.consumed_at.is_some() {
            return Err(attempt.refuse("expired", "challenge already used", CoreError::OtpExpired));
        }
        let Ok(tenant) = self.tenants().find_tenant(&challenge.tenant_id.to_string()).await else {
            return Err(attempt.refuse("expired", "tenant gone", CoreError::OtpExpired));
        };
        if !tenant.serves(dialect) {
            return Err(attempt.refuse("failure", "tenant not served by this dialect", CoreError::OtpExpired));
        }
        if challenge.expires_at <= self.now() {
            return Err(attempt.refuse("expired", "challenge expired", CoreError::OtpExpired));
        }
        if challenge.attempts >= challenge.max_attempts {
            return Err(attempt.refuse("exhausted", "no attempts left", CoreError::ChallengeExhausted));
        }
        Ok((tenant, challenge))
    }

    /// Verifies the code of a challenge and opens a session. The tenant comes from the challenge;
    /// `dialect` must serve it. One `otp.verify` event, whatever the outcome (and `token.issued`).
    pub async fn verify_otp_login(
        &self,
        challenge_id: Uuid,
        user_id: UserId,
        code: &str,
        dialect: Dialect,
        ctx: &ClientContext,
    ) -> CoreResult<(Tenant, Authenticated, Value)> {
        let mut attempt = Attempt::new(None, AuditAction::OtpVerify);
        let result = self.try_verify_otp_login(challenge_id, user_id, code, dialect, ctx, &mut attempt).await;
        self.record_attempt(attempt, ctx, &result).await;
        result
    }

    async fn try_verify_otp_login(
        &self,
        challenge_id: Uuid,
        user_id: UserId,
        code: &str,
        dialect: Dialect,
        ctx: &ClientContext,
        attempt: &mut Attempt,
    ) -> CoreResult<(Tenant, Authenticated, Value)> {
        let (tenant, challenge) = self.pending_otp_challenge(challenge_id, user_id, dialect, attempt).await?;
        let caller = ctx;
        let mut ctx = ctx.clone();
        ctx.application_id = attempt.application;
        let tag = challenge.data.get("tagId").cloned().unwrap_or(Value::Null);
        let Ok(user) = self.users().get_user(&tenant, user_id).await else {
            return Err(attempt.refuse("expired", "user gone", CoreError::OtpExpired));
        };
        let channel = channel_of_challenge(&challenge);
        let right = user.active
            && !code.is_empty()
            && code.len() <= 10
            && match channel {
                OtpChannel::Totp => self.totp().verify_totp_code(&tenant, &user, code).await?,
                _ => crate::crypto::ct_eq(&self.otp_mac(challenge.id, code), &challenge.secret_hash),
            };
        if !right {
            let attempts = self.store.fail_challenge(tenant.id, challenge.id).await?;
            let reason = if user.active { "wrong code" } else { "account inactive" };
            if attempts > challenge.max_attempts {
                // Concurrent wrong tries raced past the last one.
                return Err(attempt.refuse("failure", reason, CoreError::ChallengeExhausted));
            }
            let error = CoreError::InvalidOtp { attempts_remaining: challenge.max_attempts - attempts };
            return Err(attempt.refuse("failure", reason, error));
        }
        // The password phase already cleared the lockout count, and wrong codes do not add to it.
        let device = challenge.data.get("device").cloned().unwrap_or(Value::Null);
        // This attempt's event and `token.issued` are written with the session.
        let events = |session: &Session| {
            let issued = json!({"tagId": tag, "session": session.id});
            let user = Some(session.user_id);
            vec![
                self.success_event(attempt, caller),
                self.audit_event(Some(tenant.id), user, AuditAction::TokenIssued, "success", &ctx, issued),
            ]
        };
        let opened = self.sessions().start_session_spending(&tenant, user, dialect, device, &ctx, challenge.id, events).await?;
        let Some(auth) = opened else {
            return Err(attempt.refuse("failure", "challenge used by another attempt", CoreError::OtpExpired));
        };
        attempt.written();
        Ok((tenant, auth, challenge.data))
    }

    /// Sends a new code for the challenge on the same channel; the previous code stops working.
    /// One `otp.sent` event (detail `resend`), whatever the outcome.
    pub async fn resend_otp(
        &self,
        challenge_id: Uuid,
        user_id: UserId,
        dialect: Dialect,
        ctx: &ClientContext,
    ) -> CoreResult<OtpChallenge> {
        let mut attempt = Attempt::new(None, AuditAction::OtpSent);
        attempt.note("resend", true);
        let result = self.try_resend_otp(challenge_id, user_id, dialect, &mut attempt).await;
        self.record_attempt(attempt, ctx, &result).await;
        result
    }

    async fn try_resend_otp(
        &self,
        challenge_id: Uuid,
        user_id: UserId,
        dialect: Dialect,
        attempt: &mut Attempt,
    ) -> CoreResult<OtpChallenge> {
        let (tenant, challenge) = self.pending_otp_challenge(challenge_id, user_id, dialect, attempt).await?;
        let channel = channel_of_challenge(&challenge);
        attempt.note("channel", channel.as_str());
        if channel == OtpChannel::Totp {
            let error = CoreError::field("challengeId", "this challenge takes the authenticator app's code; nothing to resend");
            return Err(attempt.refuse("failure", "authenticator challenge", error));
        }
        let policy = &tenant.policy.otp;
        let now = self.now();
        let sends = data_i64(&challenge, "sends");
        if sends >= i64::from(policy.max_sends) {
            let error = CoreError::RateLimited { retry_after_seconds: (challenge.expires_at - now).max(1) };
            return Err(attempt.refuse("rate_limited", "no resends left", error));
        }
        let wait = data_i64(&challenge, "lastSentAt") + policy.resend_cooldown_seconds - now;
        if wait > 0 {
            return Err(attempt.refuse(
                "rate_limited",
                "too soon after the last code",
                CoreError::RateLimited { retry_after_seconds: wait },
            ));
        }
        let Some(user) = self.users().get_user(&tenant, user_id).await.ok().filter(|u| u.active) else {
            return Err(attempt.refuse("expired", "user gone or inactive", CoreError::OtpExpired));
        };
        let recipient = match (channel, &user.email, &user.phone) {
            (OtpChannel::Email, Some(e), _) => e.clone(),
            (OtpChannel::Sms, _, Some(p)) => p.clone(),
            _ => return Err(attempt.refuse("expired", "the user no longer has that address", CoreError::OtpExpired)),
        };
        let Some(tag) = data_str(&challenge, "tagId") else {
            return Err(attempt.refuse("expired", "challenge names no application", CoreError::OtpExpired));
        };
        let (app, _) = self.applications().application_by_alias(dialect, tag).await?;
        attempt.application = Some(app.id);
        let code = crate::crypto::random_digits(policy.length);
        let mut data = challenge.data.clone();
        data["sends"] = json!(sends + 1);
        data["lastSentAt"] = json!(now);
        let ttl = policy.ttl_seconds;
        let reissued = self
            .store
            .reissue_challenge(
                tenant.id,
                challenge.id,
                &challenge.secret_hash,
                &self.otp_mac(challenge.id, &code),
                now + ttl,
                &data,
            )
            .await?;
        if !reissued {
            // A concurrent resend (or the verification) got there first.
            let error = CoreError::RateLimited { retry_after_seconds: policy.resend_cooldown_seconds.max(1) };
            return Err(attempt.refuse("rate_limited", "another resend or the verification got there first", error));
        }
        self.send_otp(&tenant, &app, channel, &recipient, &code, ttl, &[]).await?;
        attempt.outcome("queued");
        let destination = data_str(&challenge, "destination").unwrap_or_default().to_string();
        Ok(OtpChallenge { user, challenge_id: challenge.id, channel, destination, expires_in: ttl })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_masked() {
        assert_eq!(mask_email("user_8742@example.com"), "u***@example.com");
        assert_eq!(mask_phone("+256700000001"), "+256******001");
        assert_eq!(mask_phone("12345"), "*****");
    }
}
