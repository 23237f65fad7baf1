//! The one domain error. Dialects map it to their own status codes and envelopes.

use std::collections::BTreeMap;

use crate::model::Dialect;

/// Everything a core service can refuse. No HTTP or SQL types inside: storage failures arrive
/// already flattened into [`CoreError::Storage`].
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("invalid input")]
    Validation(BTreeMap<String, String>),
    #[error("tenant not found")]
    TenantNotFound,
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The password was right but the tenant requires a verified email first. Only a contract
    /// that names this case tells it apart from `InvalidCredentials`; it counts toward the
    /// lockout like a wrong password.
    #[error("email not verified")]
    EmailNotVerified,
    #[error("account locked")]
    AccountLocked { retry_after_seconds: i64 },
    #[error("invalid second-factor code")]
    InvalidMfaCode,
    #[error("unauthorized")]
    Unauthorized,
    #[error("unknown or inactive application")]
    UnknownApplication,
    #[error("invalid one-time code")]
    InvalidOtp { attempts_remaining: u32 },
    #[error("one-time code expired, or challenge unknown or used")]
    OtpExpired,
    #[error("too many attempts on this challenge")]
    ChallengeExhausted,
    #[error("no such user")]
    UserNotFound,
    #[error("the user has no address on that channel")]
    NoChannelAddress,
    /// More delivery channels at once than the application takes.
    #[error("the application takes one channel at a time")]
    TooManyChannels,
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    #[error("refresh token reused; session revoked")]
    RefreshTokenReused,
    #[error("password does not meet the policy")]
    WeakPassword(Vec<String>),
    #[error("{0} already taken")]
    Conflict(ConflictOn),
    #[error("invalid or expired token")]
    InvalidToken,
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("feature disabled for this tenant")]
    Disabled,
    #[error("too many requests")]
    RateLimited { retry_after_seconds: i64 },
    #[error("server busy")]
    Overloaded,
    /// The store failed; its error (and what it wraps) is the source.
    #[error("storage failed")]
    Storage(#[source] Cause),
    /// Anything else that should not happen; the cause is the source (a message is one too).
    #[error("internal error")]
    Internal(#[source] Cause),
}

/// The unique key a write clashed with: what a dialect answers field by field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictOn {
    Email,
    Username,
    Phone,
    /// The `uin` attribute, unique per tenant.
    Uin,
    /// A tenant's slug.
    Slug,
    /// An application's client id.
    ClientId,
    /// An application alias of this dialect, unique per dialect server-wide.
    Alias(Dialect),
    /// A key the store cannot name, or one no caller answers by name (a row id, a token hash).
    Other,
}

impl ConflictOn {
    /// The field as errors name it (`email`, `client_id`, the dialect's alias field, …).
    pub fn field(self) -> &'static str {
        match self {
            ConflictOn::Email => "email",
            ConflictOn::Username => "username",
            ConflictOn::Phone => "phone",
            ConflictOn::Uin => "uin",
            ConflictOn::Slug => "slug",
            ConflictOn::ClientId => "client_id",
            ConflictOn::Alias(dialect) => dialect.alias_field().unwrap_or("alias"),
            ConflictOn::Other => "value",
        }
    }
}

impl std::fmt::Display for ConflictOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.field())
    }
}

/// The cause of a server-side failure, kept whole so the edge can log its chain once.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Whether a storage failure is the database being unavailable for now (unreachable, out of
/// space), which dialects answer 503 with `Retry-After` rather than as a server fault.
pub fn unavailable(cause: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(cause);
    while let Some(e) = next {
        if matches!(e.downcast_ref::<crate::store::StoreError>(), Some(crate::store::StoreError::Unavailable { .. })) {
            return true;
        }
        next = e.source();
    }
    false
}

impl CoreError {
    /// [`unavailable`] for a core error: a storage failure of that kind.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, CoreError::Storage(cause) if unavailable(cause.as_ref()))
    }
}

/// An error and every source under it, `: `-separated, for the one log line at the edge.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(e) = next {
            write!(f, ": {e}")?;
            next = e.source();
        }
        Ok(())
    }
}

pub type CoreResult<T> = Result<T, CoreError>;

impl CoreError {
    /// A validation error about one field.
    pub fn field(field: &str, reason: impl Into<String>) -> Self {
        let mut map = BTreeMap::new();
        map.insert(field.to_string(), reason.into());
        CoreError::Validation(map)
    }

    /// The same error, with the validation field `from` renamed `to`: a dialect names a core
    /// field as its contract does (a contract may call the login identifier `email`).
    pub fn rename_field(self, from: &str, to: &str) -> Self {
        match self {
            CoreError::Validation(mut map) => {
                if let Some(reason) = map.remove(from) {
                    map.insert(to.to_string(), reason);
                }
                CoreError::Validation(map)
            }
            other => other,
        }
    }

    pub fn internal(e: impl Into<Cause>) -> Self {
        CoreError::Internal(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_field_moves_only_the_named_validation_field() {
        let e = CoreError::field("identifier", "bad").rename_field("identifier", "email");
        assert!(matches!(&e, CoreError::Validation(m) if m.get("email").map(String::as_str) == Some("bad") && m.len() == 1));
        let e = CoreError::field("name", "bad").rename_field("identifier", "email");
        assert!(matches!(&e, CoreError::Validation(m) if m.contains_key("name") && m.len() == 1));
        assert!(matches!(
            CoreError::Conflict(ConflictOn::Phone).rename_field("identifier", "email"),
            CoreError::Conflict(ConflictOn::Phone)
        ));
    }

    #[test]
    fn a_conflict_names_the_field_as_answers_do() {
        assert_eq!(CoreError::Conflict(ConflictOn::ClientId).to_string(), "client_id already taken");
        for dialect in Dialect::with_aliases() {
            assert_eq!(Some(ConflictOn::Alias(dialect).field()), dialect.alias_field());
        }
        assert_eq!(ConflictOn::Other.to_string(), "value");
    }

    #[test]
    fn a_chain_names_every_cause_once() {
        let io = std::io::Error::other("disk full");
        let store = crate::store::StoreError::backend("insert user", io);
        let e = CoreError::from(store);
        assert_eq!(Chain(&e).to_string(), "storage failed: insert user: disk full");
        assert_eq!(Chain(&CoreError::Internal("no key".into())).to_string(), "internal error: no key");
    }
}
