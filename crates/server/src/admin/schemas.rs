//! The admin API's answers, for the OpenAPI document: the core's records as `serde` writes them
//! (castellan_core::model) and the few objects the handlers build. These types only describe;
//! a test holds them to the records' serialized fields.
#![allow(dead_code)]

use serde_json::Value;
use utoipa::ToSchema;

use crate::openapi::schemas::ErrorEnvelope;

#[derive(ToSchema)]
pub struct AdminTenant {
    #[schema(format = "uuid")]
    id: String,
    slug: String,
    display_name: String,
    /// `default`, `korastratum`, `kumusoft`, `mosip`, `eauthenticator`, `fastapi-users` or `oidc`.
    profile: String,
    /// The dialects that serve the tenant.
    dialects: Vec<String>,
    issuer: String,
    audience: String,
    policy: AdminPolicy,
    /// Seconds since the epoch.
    created_at: i64,
}

/// A tenant's policy. As a request body (PUT): the fields without a default are required and
/// unknown fields are refused.
#[derive(ToSchema)]
#[schema(as = Policy)]
pub struct AdminPolicy {
    password: PasswordPolicy,
    lockout: LockoutPolicy,
    sessions: SessionPolicy,
    otp: OtpPolicy,
    tokens: TokenPolicy,
    #[schema(default = false)]
    require_verified_email: Option<bool>,
    #[schema(default = false)]
    self_registration: Option<bool>,
    /// Left out while every template is the default.
    messages: Option<MessageTemplates>,
    /// OpenID Connect dynamic client registration: `off`, `protected` (an initial access token
    /// from `POST /admin/v1/tenants/{t}/registration-tokens`) or `open`.
    #[schema(default = "off", pattern = "^(off|protected|open)$")]
    client_registration: Option<String>,
    /// Passkeys and security keys.
    webauthn: Option<WebauthnPolicy>,
}

/// The tenant's WebAuthn relying party and its rules.
#[derive(ToSchema)]
pub struct WebauthnPolicy {
    /// The relying party id: a domain name, the origins' host or a suffix of it. Unset: the
    /// public URL's host (a public URL on an IP address has none: passkeys are off).
    #[schema(example = "example.com")]
    rp_id: Option<String>,
    /// The origins browsers may report. Unset: the public URL's.
    #[schema(example = json!(["https://login.example.com"]))]
    origins: Option<Vec<String>>,
    /// AAGUIDs of the authenticator models allowed to register; empty allows any. With
    /// attestation `none` an AAGUID is the authenticator's own statement.
    allowed_aaguids: Option<Vec<String>>,
    /// Users who sign in on the hosted pages without a passkey add one before going on
    /// (`prompt=none`: `interaction_required`).
    #[schema(default = false)]
    require_passkey: Option<bool>,
}

#[derive(ToSchema)]
pub struct PasswordPolicy {
    min_length: u32,
    require_upper: Option<bool>,
    require_lower: Option<bool>,
    require_digit: Option<bool>,
    require_special: Option<bool>,
    #[schema(example = "@$!%*?&")]
    special_chars: Option<String>,
}

#[derive(ToSchema)]
pub struct LockoutPolicy {
    threshold: u32,
    duration_seconds: i64,
}

#[derive(ToSchema)]
pub struct SessionPolicy {
    max_concurrent: u32,
    idle_timeout_seconds: i64,
    absolute_lifetime_seconds: i64,
}

#[derive(ToSchema)]
pub struct OtpPolicy {
    length: u32,
    ttl_seconds: i64,
    max_attempts: u32,
    resend_cooldown_seconds: i64,
    max_sends: Option<u32>,
    freeze_seconds: Option<i64>,
}

#[derive(ToSchema)]
pub struct TokenPolicy {
    access_ttl_seconds: i64,
    refresh_ttl_seconds: i64,
}

/// Placeholders: `{code}`, `{minutes}`, `{app}`, `{tenant}`.
#[derive(ToSchema)]
pub struct MessageTemplates {
    otp_email_subject: Option<String>,
    otp_email_body: Option<String>,
    otp_sms: Option<String>,
}

#[derive(ToSchema)]
pub struct AdminApplication {
    #[schema(format = "uuid")]
    id: String,
    #[schema(format = "uuid")]
    tenant_id: String,
    client_id: String,
    name: String,
    /// `public`, `confidential` or `service`.
    kind: String,
    #[schema(required)]
    kumusoft_tag: Option<String>,
    #[schema(required)]
    mosip_app_id: Option<String>,
    roles: Vec<String>,
    allowed_ips: Vec<String>,
    #[schema(required)]
    callback_url: Option<String>,
    redirect_uris: Vec<String>,
    single_otp_channel: bool,
    /// eauthenticator: the hosted page offers the user's passkeys and security keys beside the code.
    hosted_webauthn: bool,
    active: bool,
    created_at: i64,
    /// OpenID Connect: where a logout may send the browser back to (exact match).
    post_logout_redirect_uris: Vec<String>,
    /// OpenID Connect grant types; empty: the kind's defaults (`authorization_code` and
    /// `refresh_token`; `client_credentials` for a service).
    grant_types: Vec<AdminGrantType>,
    /// The scopes the client may be granted; empty: every known scope.
    scopes: Vec<AdminScope>,
    /// `null`: `client_secret_basic` with a secret, `none` for a public client.
    #[schema(required)]
    token_endpoint_auth_method: Option<AdminAuthMethod>,
    /// Its users are never asked for consent.
    first_party: bool,
    /// PKCE even though the client has a secret (public clients always need it).
    require_pkce: bool,
    /// The `aud` of its access tokens; `null`: the client id.
    #[schema(required)]
    access_token_audience: Option<String>,
    /// May introspect tokens issued to the tenant's other clients.
    introspect_any: bool,
    /// Where logout tokens are POSTed when a sign-in session this client was given tokens in
    /// ends (OpenID Connect Back-Channel Logout 1.0); https to a public address.
    #[schema(required)]
    backchannel_logout_uri: Option<String>,
    /// Pushed authorization requests only (RFC 9126).
    require_par: bool,
    /// DPoP-bound tokens only (RFC 9449).
    dpop_bound: bool,
    /// `private_key_jwt`: the client's public keys (a JWK set), or `null`.
    #[schema(required, value_type = Option<Object>)]
    jwks: Option<Value>,
    /// `private_key_jwt`: where its keys are fetched from, or `null`.
    #[schema(required)]
    jwks_uri: Option<String>,
    /// Token exchange: audiences besides its own it may get tokens for.
    exchange_audiences: Vec<String>,
    /// Token exchange: it may act for others (an `act` claim).
    exchange_delegation: bool,
    /// On creation of a confidential or service application only: shown once.
    client_secret: Option<String>,
    /// On creation with a callback URL, or a PATCH giving the first one: the key of the
    /// callbacks' HMAC-SHA256 signature (its UTF-8 bytes), shown once.
    callback_secret: Option<String>,
}

/// An OAuth grant type a client may be given (RFC 7591 names).
#[derive(ToSchema)]
pub enum AdminGrantType {
    #[schema(rename = "authorization_code")]
    AuthorizationCode,
    #[schema(rename = "refresh_token")]
    RefreshToken,
    /// Confidential and service clients only.
    #[schema(rename = "client_credentials")]
    ClientCredentials,
    /// The device authorization grant (RFC 8628).
    #[schema(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
    /// Token exchange (RFC 8693); confidential and service clients only.
    #[schema(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
}

/// How a client authenticates at the token endpoint (RFC 7591 names): a public client `none`,
/// a client with a secret `client_secret_basic`, `client_secret_post` or `client_secret_jwt` (an
/// assertion signed with the secret, which is then kept sealed), a client with keys (`jwks` or
/// `jwks_uri`) `private_key_jwt`.
#[derive(ToSchema)]
pub enum AdminAuthMethod {
    #[schema(rename = "client_secret_basic")]
    ClientSecretBasic,
    #[schema(rename = "client_secret_post")]
    ClientSecretPost,
    #[schema(rename = "client_secret_jwt")]
    ClientSecretJwt,
    #[schema(rename = "private_key_jwt")]
    PrivateKeyJwt,
    #[schema(rename = "none")]
    None,
}

/// A scope this server knows.
#[derive(ToSchema)]
pub enum AdminScope {
    #[schema(rename = "openid")]
    Openid,
    #[schema(rename = "profile")]
    Profile,
    #[schema(rename = "email")]
    Email,
    #[schema(rename = "phone")]
    Phone,
    #[schema(rename = "offline_access")]
    OfflineAccess,
}

#[derive(ToSchema)]
pub struct AdminUser {
    #[schema(format = "uuid")]
    id: String,
    #[schema(format = "uuid")]
    tenant_id: String,
    #[schema(required)]
    email: Option<String>,
    #[schema(required)]
    username: Option<String>,
    /// E.164.
    #[schema(required)]
    phone: Option<String>,
    #[schema(required)]
    first_name: Option<String>,
    #[schema(required)]
    last_name: Option<String>,
    role: String,
    roles: Vec<String>,
    permissions: Vec<String>,
    /// Free-form JSON (kycStatus, kycLevel, uin, …).
    attributes: Value,
    email_verified: bool,
    phone_verified: bool,
    active: bool,
    mfa_enabled: bool,
    created_at: i64,
    updated_at: i64,
}

#[derive(ToSchema)]
pub struct AdminSession {
    /// `sess_…`.
    id: String,
    #[schema(format = "uuid")]
    tenant_id: String,
    #[schema(format = "uuid")]
    user_id: String,
    #[schema(required)]
    application_id: Option<String>,
    dialect: String,
    /// What the dialect remembers of the device.
    device: Value,
    #[schema(required)]
    ip: Option<String>,
    #[schema(required)]
    user_agent: Option<String>,
    created_at: i64,
    last_active: i64,
    expires_at: i64,
    #[schema(required)]
    revoked_at: Option<i64>,
}

/// A consent a user gave an OpenID Connect client.
#[derive(ToSchema)]
pub struct AdminCredential {
    /// The credential's id here (UUID): what DELETE takes.
    id: String,
    /// `passkey` or `security_key`.
    kind: String,
    name: String,
    /// The authenticator's credential id, base64url.
    credential_id: String,
    /// The authenticator model, as the authenticator stated it (not attested).
    aaguid: Option<String>,
    sign_count: u32,
    /// Whether the credential may be synced between devices.
    backup_eligible: bool,
    backup_state: bool,
    created_at: i64,
    last_used_at: Option<i64>,
}

#[derive(ToSchema)]
pub struct AdminConsent {
    client_id: String,
    /// The scopes the client gets without asking again.
    scopes: Vec<String>,
    /// Seconds since the epoch.
    created_at: i64,
    /// When scopes were last added.
    updated_at: i64,
}

#[derive(ToSchema)]
pub struct AdminAuditEvent {
    #[schema(format = "uuid")]
    id: String,
    #[schema(required)]
    tenant_id: Option<String>,
    #[schema(required)]
    application_id: Option<String>,
    #[schema(required)]
    user_id: Option<String>,
    action: String,
    outcome: String,
    #[schema(required)]
    ip: Option<String>,
    #[schema(required)]
    user_agent: Option<String>,
    detail: Value,
    created_at: i64,
}

/// A signing key, public part only.
#[derive(ToSchema)]
pub struct AdminKey {
    kid: String,
    /// `HS256`, `RS256`, `ES256` or `EdDSA`.
    alg: String,
    /// `active`, `retiring` or `retired`.
    state: String,
    /// Absent on the answer of a rotation.
    created_at: Option<i64>,
    /// The public JWK (none for HS256).
    public_jwk: Value,
}

#[derive(ToSchema)]
pub struct AdminHs256Secret {
    kid: String,
    /// `HS256`.
    alg: String,
    /// Base64 of the key bytes.
    secret: String,
    /// The same bytes as text, when they are text.
    #[schema(required)]
    secret_text: Option<String>,
}

#[derive(ToSchema)]
pub struct AdminApiKey {
    /// Shown once.
    api_key: String,
    prefix: String,
}

#[derive(ToSchema)]
pub struct AdminRegistrationToken {
    /// Shown once: `Authorization: Bearer <token>` at the realm's registration endpoint.
    token: String,
    /// Seconds since the epoch.
    expires_at: i64,
    /// Registrations it allows.
    count: u32,
}

#[derive(ToSchema)]
pub struct AdminClientSecret {
    /// Shown once.
    client_secret: String,
}

#[derive(ToSchema)]
pub struct AdminCallbackSecret {
    /// Shown once.
    callback_secret: String,
}

#[derive(ToSchema)]
pub struct AdminRevoked {
    revoked: u64,
}

#[derive(ToSchema)]
pub struct AdminTotp {
    /// Base32.
    secret: String,
    otpauth_url: String,
}

/// The answers of every admin operation to a caller that is not an admin.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum AdminAuthErrors {
    /// unauthorized: no or an unknown admin token
    #[response(status = 401)]
    Unauthorized(ErrorEnvelope),
    /// forbidden: a user's access token, not an admin token
    #[response(status = 403)]
    Forbidden(ErrorEnvelope),
}
