//! One-time codes addressed by a key the caller chooses (a user id string, a phone number) rather
//! than by a challenge id: MOSIP's sendotp/useridOTP and its otpmanager address codes this way.

use super::ids::{AppId, TenantId, UserId};

/// The live code of one key. The key and the code are stored only as HMACs.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyOtp {
    pub tenant_id: TenantId,
    pub key_hash: Vec<u8>,
    /// The user the code signs in, for login codes; none for codes handed to a service.
    pub user_id: Option<UserId>,
    /// The application the code was sent for, if any.
    pub application_id: Option<AppId>,
    pub secret_hash: Vec<u8>,
    pub attempts: u32,
    pub max_attempts: u32,
    pub expires_at: i64,
    /// Wrong tries past the limit freeze the key (no new code, no verification) until then.
    pub frozen_until: Option<i64>,
    pub created_at: i64,
}
