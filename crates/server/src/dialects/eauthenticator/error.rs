//! What a core error means to this dialect. One mapping for every surface: the REST API, the
//! console's JSON and pages, the hosted page and the development receiver each answer a
//! [`Refusal`] in their own shape.

use castellan_core::{ConflictOn, CoreError};

/// A core error as this dialect tells it apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Input the caller can correct; the message names the fields, or the password's unmet rules.
    Invalid(String),
    /// Wrong email or password.
    WrongCredentials,
    /// The right password, but the email is not confirmed yet.
    EmailNotVerified,
    /// Too many attempts: try again in this many seconds.
    Locked(i64),
    /// No valid credential: an API key, a console session.
    Unauthorized,
    /// The caller's address is not allowed.
    Forbidden,
    /// Switched off: an inactive application, closed registration.
    Disabled,
    /// A session or emailed token that opens nothing.
    InvalidToken,
    NotFound,
    /// The named value is already taken.
    Conflict(ConflictOn),
    /// A refusal of another dialect's flows, which no call here has an answer of its own for.
    Unexpected(String),
    /// The database does not answer, or has no room: try again shortly (503).
    Unavailable(String),
    /// The server failed or is overloaded.
    Internal(String),
}

impl From<CoreError> for Refusal {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Validation(fields) => {
                Refusal::Invalid(fields.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("; "))
            }
            CoreError::WeakPassword(reasons) => Refusal::Invalid(format!("Password too weak: {}", reasons.join("; "))),
            CoreError::InvalidCredentials => Refusal::WrongCredentials,
            CoreError::EmailNotVerified => Refusal::EmailNotVerified,
            CoreError::AccountLocked { retry_after_seconds } => Refusal::Locked(retry_after_seconds),
            CoreError::Unauthorized => Refusal::Unauthorized,
            CoreError::Forbidden => Refusal::Forbidden,
            CoreError::Disabled => Refusal::Disabled,
            CoreError::InvalidToken => Refusal::InvalidToken,
            CoreError::NotFound => Refusal::NotFound,
            CoreError::Conflict(field) => Refusal::Conflict(field),
            e @ (CoreError::TenantNotFound
            | CoreError::InvalidMfaCode
            | CoreError::UnknownApplication
            | CoreError::InvalidOtp { .. }
            | CoreError::OtpExpired
            | CoreError::ChallengeExhausted
            | CoreError::UserNotFound
            | CoreError::NoChannelAddress
            | CoreError::TooManyChannels
            | CoreError::InvalidRefreshToken
            | CoreError::RefreshTokenReused
            | CoreError::RateLimited { .. }) => Refusal::Unexpected(e.to_string()),
            CoreError::Storage(cause) if castellan_core::error::unavailable(cause.as_ref()) => {
                Refusal::Unavailable(castellan_core::error::Chain(cause.as_ref()).to_string())
            }
            e @ (CoreError::Overloaded | CoreError::Storage(_) | CoreError::Internal(_)) => {
                Refusal::Internal(castellan_core::error::Chain(&e).to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_unmet_rules_read_as_one_message() {
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("name".to_string(), "must be 1-200 characters".to_string());
        fields.insert("allowed_ips".to_string(), "1-50 addresses or CIDR blocks".to_string());
        assert_eq!(
            Refusal::from(CoreError::Validation(fields)),
            Refusal::Invalid("allowed_ips: 1-50 addresses or CIDR blocks; name: must be 1-200 characters".into())
        );
        assert_eq!(
            Refusal::from(CoreError::WeakPassword(vec!["min_length".into(), "digit".into()])),
            Refusal::Invalid("Password too weak: min_length; digit".into())
        );
        assert_eq!(Refusal::from(CoreError::Overloaded), Refusal::Internal("server busy".into()));
    }
}
