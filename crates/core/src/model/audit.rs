//! Audit events: who tried what, from where, and how it ended.

use super::ids::{AppId, TenantId, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Declares [`AuditAction`]: each variant with the name events are stored and listed under.
macro_rules! audit_actions {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal,)*) => {
        /// What an audit event records. The names are stored in the events and filtered on
        /// (`?action=`), so they never change; docs/audit.md lists them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum AuditAction {
            $($(#[doc = $doc])* #[serde(rename = $name)] $variant,)*
        }

        impl AuditAction {
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant),*];

            /// The name the event is stored under.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $name,)*
                }
            }
        }
    };
}

audit_actions! {
    /// A password sign-in, and a console sign-in's password step.
    LoginPassword = "login.password",
    /// A TOTP code: the second step of a sign-in, or one sent with the password.
    LoginTotp = "login.totp",
    /// A one-time code that ends a sign-in.
    OtpVerify = "otp.verify",
    /// A one-time code sent, or a resend refused.
    OtpSent = "otp.sent",
    /// A request for a one-time code by key, refused before any was sent.
    OtpSend = "otp.send",
    /// A one-time code checked by key.
    OtpValidate = "otp.validate",
    /// A one-time code made by key.
    OtpGenerate = "otp.generate",
    Refresh = "refresh",
    /// A spent refresh token presented again.
    RefreshReuse = "refresh.reuse",
    /// A sign-out by refresh token.
    Logout = "logout",
    /// A sign-in with a passkey (or a security key as the second factor), whatever its outcome.
    LoginPasskey = "login.passkey",
    /// A sign-in's second step with a recovery code.
    LoginRecoveryCode = "login.recovery_code",
    PasskeyRegister = "passkey.register",
    PasskeyRename = "passkey.rename",
    PasskeyDelete = "passkey.delete",
    RecoveryCodesGenerate = "recovery_codes.generate",
    TotpSetup = "totp.setup",
    TotpEnable = "totp.enable",
    TotpDisable = "totp.disable",
    EmailVerify = "email.verify",
    PasswordForgot = "password.forgot",
    PasswordReset = "password.reset",
    /// A password set by an administrator.
    PasswordSet = "password.set",
    /// A client id and secret.
    ClientAuthenticate = "client.authenticate",
    ApiKeyAuthenticate = "api_key.authenticate",
    /// An authorization request (the code flow) answered with a code or an error.
    Authorize = "authorize",
    /// A token endpoint request, its client authentication included.
    TokenRequest = "token.request",
    /// A consent given or refused on the consent page.
    Consent = "consent",
    /// A sign-out of a browser's sign-in (asked by a client, confirmed on the page, or by refresh token).
    SignOut = "sign_out",
    /// An authorization code presented again: the session it was issued in ends.
    CodeReuse = "code.reuse",
    /// An introspection request, its client authentication included.
    TokenIntrospect = "token.introspect",
    /// A revocation request, its client authentication included.
    TokenRevocation = "token.revocation",
    /// A consent withdrawn through the admin API.
    ConsentRevoke = "consent.revoke",
    /// A device authorization request (RFC 8628), its client authentication included.
    DeviceAuthorize = "device.authorize",
    /// A user code entered on the device page.
    DeviceVerify = "device.verify",
    /// A device authorization approved or denied by its user.
    DeviceDecide = "device.decide",
    /// A pushed authorization request (RFC 9126), its client authentication included.
    PushedAuthorize = "par.request",
    /// A logout token sent to a client's back-channel logout URI, delivered or not.
    BackchannelLogout = "logout.backchannel",
    /// A dynamic client registration request (RFC 7591).
    ClientRegister = "client.register",
    /// A registered client read through its registration access token (RFC 7592).
    ClientRegistrationRead = "client.registration_read",
    /// An initial access token for client registration issued through the admin API.
    RegistrationTokenIssue = "registration_token.issue",
    /// A registered client's metadata replaced through its registration access token (RFC 7592).
    ClientRegistrationUpdate = "client.registration_update",
    /// A registered client deleted through its registration access token (RFC 7592).
    ClientRegistrationDelete = "client.registration_delete",
    HostedSessionToken = "hosted.session_token",
    HostedToggle = "hosted.toggle",
    /// A code or a rejection sent to the hosted page, or its session token found expired.
    HostedVerify = "hosted.verify",
    /// A server callback about a verification, delivered or not.
    HostedCallback = "hosted.callback",
    HostedAppCreate = "hosted_app.create",
    HostedAppUpdate = "hosted_app.update",
    HostedAppRotateKey = "hosted_app.rotate_key",
    HostedAppActivate = "hosted_app.activate",
    HostedAppDeactivate = "hosted_app.deactivate",
    ConsoleSignIn = "console.sign_in",
    ConsoleSignOut = "console.sign_out",
    /// Tokens issued by a step that is not itself an attempt's success.
    TokenIssued = "token.issued",
    TokenRevoke = "token.revoke",
    /// A session ended to stay within the session limit.
    SessionEvicted = "session.evicted",
    SessionRevoke = "session.revoke",
    SessionRevokeAll = "session.revoke_all",
    UserRegister = "user.register",
    UserUpdate = "user.update",
    UserDelete = "user.delete",
    UserUnlock = "user.unlock",
    /// Changes made through the admin API (the `castellan` CLI records none).
    TenantCreate = "tenant.create",
    UserCreate = "user.create",
    TenantUpdate = "tenant.update",
    TenantDelete = "tenant.delete",
    PolicyUpdate = "policy.update",
    ApplicationCreate = "application.create",
    ApplicationUpdate = "application.update",
    ApplicationDelete = "application.delete",
    ApplicationApiKey = "application.api_key",
    ApplicationSecretRotate = "application.rotate_secret",
    ApplicationCallbackSecretRotate = "application.rotate_callback_secret",
    KeyRotate = "key.rotate",
    /// The tenant's HS256 secret read through the admin API.
    KeyExport = "key.export",
    /// A message delivery that failed (and will be retried, or was given up).
    MessageFailed = "message.failed",
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored event. Its action stays text: rows are read back as they were written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: Uuid,
    pub tenant_id: Option<TenantId>,
    pub application_id: Option<AppId>,
    pub user_id: Option<UserId>,
    pub action: String,
    pub outcome: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: serde_json::Value,
    pub created_at: i64,
}

/// Filter of an audit listing.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user_id: Option<UserId>,
    pub action: Option<String>,
    pub since: Option<i64>,
    pub limit: u32,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_action_serialises_as_its_stored_name() {
        for action in AuditAction::ALL {
            assert_eq!(serde_json::to_value(action).unwrap(), serde_json::json!(action.as_str()));
            assert_eq!(serde_json::from_value::<AuditAction>(serde_json::json!(action.as_str())).unwrap(), *action);
        }
        let names: std::collections::HashSet<_> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), AuditAction::ALL.len(), "names are distinct");
    }

    #[test]
    fn every_action_is_documented() {
        let doc = include_str!("../../../../docs/audit.md");
        for action in AuditAction::ALL {
            assert!(doc.contains(&format!("`{action}`")), "docs/audit.md does not name `{action}`");
        }
    }
}
