//! Challenges: pending one-time proofs (second factor, OTP login, reset, email verification).

use super::ids::{TenantId, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeKind {
    /// Password accepted; a TOTP code is still due (korastratum `mfaToken`).
    MfaPending,
    OtpLogin,
    PasswordReset,
    EmailVerification,
}

impl ChallengeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MfaPending => "mfa_pending",
            Self::OtpLogin => "otp_login",
            Self::PasswordReset => "password_reset",
            Self::EmailVerification => "email_verification",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "mfa_pending" => Self::MfaPending,
            "otp_login" => Self::OtpLogin,
            "password_reset" => Self::PasswordReset,
            "email_verification" => Self::EmailVerification,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Challenge {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub kind: ChallengeKind,
    /// HMAC of the code or token under the master key; never the secret itself.
    pub secret_hash: Vec<u8>,
    pub attempts: u32,
    pub max_attempts: u32,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
    /// Kind-specific context (device info of a pending login, …).
    pub data: serde_json::Value,
    pub created_at: i64,
}
