//! Hosted second-factor verification: per-application TOTP factors, the verification a session
//! token opens, and the callback that tells the application's backend the result.

use super::ids::{AppId, TenantId, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A TOTP factor of one user for one application.
#[derive(Debug, Clone, PartialEq)]
pub struct AppTotpFactor {
    pub tenant_id: TenantId,
    pub application_id: AppId,
    pub user_id: UserId,
    /// The secret, sealed under the master key.
    pub secret_sealed: Vec<u8>,
    pub algorithm: String,
    pub digits: u32,
    pub period: u32,
    /// The last time step accepted (a code is good once).
    pub last_step: Option<i64>,
    pub created_at: i64,
}

/// Where a verification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    /// The session token is issued; the user has not finished.
    Pending,
    /// The right code was entered; the callback is on its way.
    Verified,
    /// The callback was delivered and the user may go on.
    Succeeded,
    /// "This wasn't me", or too many wrong codes.
    Rejected,
    /// The session token expired first.
    TimedOut,
    /// The callback could not be delivered.
    Failed,
}

impl VerificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Verified => "verified",
            Self::Succeeded => "succeeded",
            Self::Rejected => "rejected",
            Self::TimedOut => "timed_out",
            Self::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "verified" => Self::Verified,
            "succeeded" => Self::Succeeded,
            "rejected" => Self::Rejected,
            "timed_out" => Self::TimedOut,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// One session token's verification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// The session token's `jti`.
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub application_id: AppId,
    pub user_id: UserId,
    pub email: String,
    pub status: VerificationStatus,
    /// Wrong codes entered so far.
    pub tries: u32,
    /// The address the code was entered from.
    pub ip: Option<String>,
    pub expires_at: i64,
    pub finished_at: Option<i64>,
    pub created_at: i64,
}

/// Where a callback stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackStatus {
    Pending,
    Delivered,
    Failed,
}

impl CallbackStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "delivered" => Self::Delivered,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// What a callback tells its receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackKind {
    /// A hosted verification's result: a signed GET to the application's callback URL.
    Result,
    /// An OpenID Connect session's end: a logout token POSTed to the client's back-channel
    /// logout URI.
    Logout,
}

impl CallbackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Result => "result",
            Self::Logout => "logout",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "result" => Self::Result,
            "logout" => Self::Logout,
            _ => return None,
        })
    }
}

/// A call to an application's backend, stored first and delivered with retries. Its times are
/// epoch milliseconds of the core's clock: the retry schedule is measured in fractions of a
/// second.
#[derive(Debug, Clone, PartialEq)]
pub struct Callback {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub application_id: AppId,
    pub kind: CallbackKind,
    /// The verification a result settles; a logout's own `id` (the column is unique).
    pub verification_id: Uuid,
    pub url: String,
    /// A result's raw query string, sent and signed; a logout's token claims (JSON), signed
    /// into a logout token at each try.
    pub query: String,
    pub status: CallbackStatus,
    pub tries: u32,
    pub next_attempt_ms: i64,
    /// No try starts after this.
    pub deadline_ms: i64,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}
