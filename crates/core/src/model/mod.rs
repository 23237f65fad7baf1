//! Domain types. Constructors parse; nothing past the edge carries a raw, unchecked string.

pub mod application;
pub mod audit;
pub mod challenge;
pub mod dialect;
pub mod hosted;
pub mod identifier;
pub mod ids;
pub mod key;
pub mod key_otp;
pub mod message;
pub mod oauth;
pub mod passkey;
pub mod policy;
pub mod session;
pub mod tenant;
pub mod text;
pub mod user;

pub use application::{Application, ApplicationKind};
pub use audit::{AuditAction, AuditEvent};
pub use challenge::{Challenge, ChallengeKind};
pub use dialect::Dialect;
pub use hosted::{AppTotpFactor, Callback, CallbackKind, CallbackStatus, Verification, VerificationStatus};
pub use identifier::{Email, Identifier, Phone};
pub use ids::{AppId, SessionId, TenantId, UserId};
pub use key::{KeyAlg, KeyState, SigningKey};
pub use key_otp::KeyOtp;
pub use message::{Channel, OutboundMessage};
pub use oauth::{
    AuthMethod, AuthorizationCode, ConsentGrant, DeviceGrant, DeviceStatus, GrantType, OAuthClient, PushedRequest,
    RegistrationToken, SessionClient,
};
pub use passkey::{CredentialKind, CredentialUse, WebauthnCeremony, WebauthnCredential};
pub use policy::{ClientRegistration, MessageTemplates, Policy, WebauthnPolicy};
pub use session::{ClientGrant, RefreshToken, Session};
pub use tenant::{Profile, Tenant};
pub use user::{NewUser, TotpFactor, User};

/// A fresh row id: UUIDv7, so ids sort by creation time.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}
