//! Domain services: plain async functions (as `impl Core` blocks), one module per concern.

pub mod access_tokens;
pub mod admin_tokens;
pub mod applications;
pub mod audit;
pub mod console;
pub mod hosted_2fa;
pub mod hosted_apps;
pub mod hosted_page;
pub mod key_otp;
pub mod keys;
pub mod login;
pub mod otp_login;
pub mod passkeys;
pub mod password_policy;
pub mod provider;
pub mod registration;
pub mod sessions;
pub mod tenants;
pub mod totp;
pub mod users;

use serde::{Deserialize, Serialize};

use crate::model::AppId;

/// HMAC domain of challenge secrets (mfa tokens, emailed link tokens): one domain, so a token
/// is looked up the same way whatever made it.
pub(crate) const CHALLENGE_DOMAIN: &str = "challenge";

/// Who is calling, as far as the transport knows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClientContext {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub application_id: Option<AppId>,
}
