//! Per-tenant policy: password rules, lockout, sessions, OTP and token lifetimes.

use serde::{Deserialize, Serialize};

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
            otp: OtpPolicy { length: 6, ttl_seconds: 300, max_attempts: 5, resend_cooldown_seconds: 60 },
            tokens: TokenPolicy { access_ttl_seconds: 900, refresh_ttl_seconds: 30 * 86400 },
            require_verified_email: false,
            self_registration: false,
        }
    }

    /// The korastratum contract's defaults.
    pub fn korastratum() -> Self {
        Policy {
            password: PasswordPolicy {
                min_length: 8,
                require_upper: true,
                require_lower: true,
                require_digit: true,
                require_special: true,
                special_chars: default_special(),
            },
            lockout: LockoutPolicy { threshold: 5, duration_seconds: 900 },
            sessions: SessionPolicy { max_concurrent: 5, idle_timeout_seconds: 1800, absolute_lifetime_seconds: 7 * 86400 },
            otp: OtpPolicy { length: 6, ttl_seconds: 300, max_attempts: 5, resend_cooldown_seconds: 60 },
            tokens: TokenPolicy { access_ttl_seconds: 86400, refresh_ttl_seconds: 7 * 86400 },
            require_verified_email: false,
            self_registration: true,
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
        if self.tokens.access_ttl_seconds < 30 || self.tokens.refresh_ttl_seconds < 60 {
            return Err("tokens: access ttl ≥ 30 s, refresh ttl ≥ 60 s".into());
        }
        Ok(())
    }
}
