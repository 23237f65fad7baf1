//! Per-tenant policy: password rules, lockout, sessions, OTP and token lifetimes.

use serde::{Deserialize, Serialize};

use super::Dialect;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub password: PasswordPolicy,
    pub lockout: LockoutPolicy,
    pub sessions: SessionPolicy,
    pub otp: OtpPolicy,
    pub tokens: TokenPolicy,
    #[serde(default)]
    pub require_verified_email: bool,
    #[serde(default)]
    pub self_registration: bool,
    /// The tenant's own wording of one-time-code messages; unset parts keep the defaults.
    #[serde(default, skip_serializing_if = "MessageTemplates::is_empty")]
    pub messages: MessageTemplates,
    /// OpenID Connect dynamic client registration (RFC 7591).
    #[serde(default)]
    pub client_registration: ClientRegistration,
    /// Passkeys and security keys.
    #[serde(default)]
    pub webauthn: WebauthnPolicy,
}

/// The tenant's WebAuthn relying party and its rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebauthnPolicy {
    /// The relying party id: a domain name, the public URL's host or a suffix of it. Unset: the
    /// public URL's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rp_id: Option<String>,
    /// The origins the browser may report (`https://login.example.com`); unset: the public URL's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub origins: Vec<String>,
    /// Authenticator models (AAGUIDs) allowed to register; empty allows any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_aaguids: Vec<String>,
    /// Whether a user who signs in on the hosted pages without a passkey is asked to add one
    /// before going on.
    #[serde(default)]
    pub require_passkey: bool,
}

/// Who may register OpenID Connect clients at the tenant's registration endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientRegistration {
    /// No one: the endpoint refuses every request.
    #[default]
    Off,
    /// Holders of an initial access token issued through the admin API.
    Protected,
    /// Anyone (rate-limited per address); the clients it makes are never first-party.
    Open,
}

impl ClientRegistration {
    pub fn is_off(&self) -> bool {
        *self == ClientRegistration::Off
    }
}

/// Per-tenant message texts. Placeholders: `{code}`, `{minutes}`, `{app}`, `{tenant}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageTemplates {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otp_email_subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otp_email_body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otp_sms: Option<String>,
}

impl MessageTemplates {
    pub fn is_empty(&self) -> bool {
        self == &MessageTemplates::default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    pub min_length: u32,
    #[serde(default)]
    pub require_upper: bool,
    #[serde(default)]
    pub require_lower: bool,
    #[serde(default)]
    pub require_digit: bool,
    #[serde(default)]
    pub require_special: bool,
    #[serde(default = "default_special")]
    pub special_chars: String,
}

fn default_special() -> String {
    "@$!%*?&".to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutPolicy {
    pub threshold: u32,
    pub duration_seconds: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionPolicy {
    pub max_concurrent: u32,
    pub idle_timeout_seconds: i64,
    pub absolute_lifetime_seconds: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtpPolicy {
    pub length: u32,
    pub ttl_seconds: i64,
    pub max_attempts: u32,
    pub resend_cooldown_seconds: i64,
    /// Codes sent per challenge, the first included.
    #[serde(default = "default_max_sends")]
    pub max_sends: u32,
    /// How long a key stays frozen after `max_attempts` wrong codes, where a dialect's codes
    /// freeze their key (codes addressed by key, for services).
    #[serde(default = "default_freeze_seconds")]
    pub freeze_seconds: i64,
}

fn default_freeze_seconds() -> i64 {
    900
}

fn default_max_sends() -> u32 {
    5
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenPolicy {
    pub access_ttl_seconds: i64,
    pub refresh_ttl_seconds: i64,
}

impl Policy {
    /// The defaults of the `default` profile: NIST-style length rules, no composition rules.
    pub fn default_profile() -> Self {
        Policy {
            password: PasswordPolicy {
                min_length: 8,
                require_upper: false,
                require_lower: false,
                require_digit: false,
                require_special: false,
                special_chars: default_special(),
            },
            lockout: LockoutPolicy { threshold: 5, duration_seconds: 900 },
            sessions: SessionPolicy { max_concurrent: 10, idle_timeout_seconds: 1800, absolute_lifetime_seconds: 30 * 86400 },
            otp: OtpPolicy {
                length: 6,
                ttl_seconds: 300,
                max_attempts: 5,
                resend_cooldown_seconds: 60,
                max_sends: 5,
                freeze_seconds: 900,
            },
            tokens: TokenPolicy { access_ttl_seconds: 900, refresh_ttl_seconds: 30 * 86400 },
            require_verified_email: false,
            self_registration: false,
            messages: MessageTemplates::default(),
            client_registration: ClientRegistration::Off,
            webauthn: WebauthnPolicy::default(),
        }
    }

    /// The defaults a tenant of `dialect`'s profile starts with (each dialect's contract's).
    pub fn of_dialect(dialect: Dialect) -> Self {
        let base = Policy::default_profile();
        match dialect {
            // OpenID Connect's defaults: five-minute access tokens (RFC 9068 tokens are bearer tokens
            // resource servers do not call back about; short is what keeps a revocation effective).
            Dialect::Oidc => Policy { tokens: TokenPolicy { access_ttl_seconds: 300, ..base.tokens.clone() }, ..base },
            // The korastratum contract's defaults.
            Dialect::Korastratum => Policy {
                password: PasswordPolicy {
                    require_upper: true,
                    require_lower: true,
                    require_digit: true,
                    require_special: true,
                    ..base.password.clone()
                },
                sessions: SessionPolicy { max_concurrent: 5, idle_timeout_seconds: 1800, absolute_lifetime_seconds: 7 * 86400 },
                tokens: TokenPolicy { access_ttl_seconds: 86400, refresh_ttl_seconds: 7 * 86400 },
                self_registration: true,
                ..base
            },
            // The kumusoft contract's defaults: 5-minute codes, 5 tries, 30 s resend cool-down, 1 h
            // access tokens, 7-day refresh tokens.
            Dialect::Kumusoft => Policy {
                otp: OtpPolicy {
                    length: 6,
                    ttl_seconds: 300,
                    max_attempts: 5,
                    resend_cooldown_seconds: 30,
                    max_sends: 5,
                    freeze_seconds: 900,
                },
                tokens: TokenPolicy { access_ttl_seconds: 3600, refresh_ttl_seconds: 7 * 86400 },
                sessions: SessionPolicy { absolute_lifetime_seconds: 7 * 86400, ..base.sessions.clone() },
                ..base
            },
            // The MOSIP contract's defaults: 3-minute codes that die after 3 wrong tries (otpmanager keys
            // freeze for 15 minutes), and 10-hour tokens, as Keycloak issues them for MOSIP.
            Dialect::Mosip => {
                Policy {
                    otp: OtpPolicy {
                        length: 6,
                        ttl_seconds: 180,
                        max_attempts: 3,
                        resend_cooldown_seconds: 0,
                        max_sends: 5,
                        freeze_seconds: 900,
                    },
                    tokens: TokenPolicy { access_ttl_seconds: 36000, refresh_ttl_seconds: 36000 },
                    // A session must outlive the tokens it vouches for: validateToken checks it.
                    sessions: SessionPolicy { max_concurrent: 10, idle_timeout_seconds: 36000, absolute_lifetime_seconds: 36000 },
                    ..base
                }
            }
            // The fastapi-users library's defaults: one-hour tokens, self-registration, and sign-in only
            // with a verified email.
            Dialect::FastapiUsers => {
                Policy {
                    tokens: TokenPolicy { access_ttl_seconds: 3600, refresh_ttl_seconds: base.tokens.refresh_ttl_seconds },
                    // The library's tokens live their hour whatever happens; a session behind one must
                    // not end sooner by idling, nor by a few more logins (its clients log in again
                    // instead of refreshing).
                    sessions: SessionPolicy { max_concurrent: 100, idle_timeout_seconds: 3600, absolute_lifetime_seconds: 86400 },
                    self_registration: true,
                    require_verified_email: true,
                    ..base
                }
            }
            Dialect::Eauthenticator | Dialect::Console => base,
        }
    }

    /// Checks the policy's own sanity (an admin can PUT nonsense).
    pub fn validate(&self) -> Result<(), String> {
        if self.password.min_length < 1 || self.password.min_length > 128 {
            return Err("password.min_length must be 1..=128".into());
        }
        if self.lockout.threshold < 1 || self.lockout.duration_seconds < 1 {
            return Err("lockout threshold and duration must be positive".into());
        }
        if self.sessions.max_concurrent < 1
            || self.sessions.idle_timeout_seconds < 60
            || self.sessions.absolute_lifetime_seconds < 60
        {
            return Err("sessions: max_concurrent ≥ 1, timeouts ≥ 60 s".into());
        }
        if !(4..=10).contains(&self.otp.length) || self.otp.ttl_seconds < 30 || self.otp.max_attempts < 1 {
            return Err("otp: length 4..=10, ttl ≥ 30 s, max_attempts ≥ 1".into());
        }
        if self.otp.resend_cooldown_seconds < 0 || self.otp.max_sends < 1 || self.otp.freeze_seconds < 1 {
            return Err("otp: resend_cooldown_seconds ≥ 0, max_sends ≥ 1, freeze_seconds ≥ 1".into());
        }
        let texts = [&self.messages.otp_email_subject, &self.messages.otp_email_body, &self.messages.otp_sms];
        if texts.iter().any(|t| t.as_ref().is_some_and(|t| t.len() > 2000)) {
            return Err("messages: at most 2000 characters each".into());
        }
        // Line breaks and tabs belong in a message; other control characters (NUL above all,
        // which PostgreSQL cannot store in the outbox) do not.
        if texts.iter().any(|t| t.as_ref().is_some_and(|t| t.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))))
        {
            return Err("messages: no control characters other than line breaks and tabs".into());
        }
        if [&self.messages.otp_email_body, &self.messages.otp_sms]
            .iter()
            .any(|t| t.as_ref().is_some_and(|t| !t.contains("{code}")))
        {
            return Err("messages: a code message must contain {code}".into());
        }
        if self.tokens.access_ttl_seconds < 30 || self.tokens.refresh_ttl_seconds < 60 {
            return Err("tokens: access ttl ≥ 30 s, refresh ttl ≥ 60 s".into());
        }
        self.webauthn.validate()
    }
}

impl WebauthnPolicy {
    fn validate(&self) -> Result<(), String> {
        if let Some(rp) = &self.rp_id {
            let host_like = !rp.is_empty()
                && rp.len() <= 253
                && rp.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
            if !host_like || rp.parse::<std::net::Ipv4Addr>().is_ok() {
                return Err("webauthn.rp_id must be a domain name (no scheme, port or IP address)".into());
            }
        }
        if self.origins.len() > 20 {
            return Err("webauthn.origins: at most 20".into());
        }
        for o in &self.origins {
            let host = match url::Url::parse(o) {
                Ok(u) if matches!(u.scheme(), "https" | "http") && u.path() == "/" && u.query().is_none() && o.len() < 300 => {
                    u.domain().map(str::to_string)
                }
                _ => None,
            };
            let Some(host) = host else {
                return Err(format!(
                    "webauthn.origins: {o:?} must be an origin, scheme://host[:port] with a domain name and no path"
                ));
            };
            // The relying party id must be the origin's host or a suffix of it (WebAuthn §5.1.3).
            if let Some(rp) = &self.rp_id
                && host != *rp
                && !host.ends_with(&format!(".{rp}"))
            {
                return Err(format!(
                    "webauthn.origins: {o:?} is not on webauthn.rp_id {rp:?} (its host must be it or end in .{rp})"
                ));
            }
        }
        if self.allowed_aaguids.len() > 200 || self.allowed_aaguids.iter().any(|a| uuid::Uuid::parse_str(a).is_err()) {
            return Err("webauthn.allowed_aaguids: at most 200 AAGUIDs, each a UUID".into());
        }
        Ok(())
    }
}
