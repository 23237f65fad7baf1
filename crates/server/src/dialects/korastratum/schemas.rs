//! The korastratum answers, for the OpenAPI document: `{"success": true, "data": …}` and the
//! error envelope. The handlers build them with `json!` (dto.rs); these types only describe.
#![allow(dead_code, non_snake_case)]

use serde_json::Value;
use utoipa::ToSchema;

use crate::openapi::schemas::null;

/// `{"success": false, "error": {"code", "message", "details"?}}`.
#[derive(ToSchema)]
#[schema(as = KoraError)]
pub struct KoraErrorBody {
    /// Always `false`.
    success: bool,
    error: KoraErrorDetail,
}

#[derive(ToSchema)]
pub struct KoraErrorDetail {
    #[schema(example = "INVALID_CREDENTIALS")]
    code: String,
    message: String,
    /// VALIDATION_ERROR: `{field: reason}`; WEAK_PASSWORD: `{unmetRules}`; ACCOUNT_LOCKED:
    /// `{retryAfterSeconds}`.
    details: Option<Value>,
}

#[derive(ToSchema)]
pub struct KoraUser {
    #[schema(format = "uuid")]
    id: String,
    #[schema(required)]
    email: Option<String>,
    #[schema(required)]
    firstName: Option<String>,
    #[schema(required)]
    lastName: Option<String>,
    role: String,
    /// The user's `kycStatus` attribute, else `pending`.
    kycStatus: Value,
    /// The user's `kycLevel` attribute, else 0.
    kycLevel: Value,
    mfaEnabled: bool,
    emailVerified: bool,
}

#[derive(ToSchema)]
pub struct KoraTokens {
    /// HS256 JWT.
    accessToken: String,
    refreshToken: String,
    /// Seconds.
    expiresIn: i64,
    /// `Bearer`.
    tokenType: String,
}

#[derive(ToSchema)]
pub struct KoraTenant {
    #[schema(format = "uuid")]
    id: String,
    /// The slug.
    name: String,
    displayName: String,
}

/// A signed-in user: profile, a fresh token pair and the tenant.
#[derive(ToSchema)]
pub struct KoraTokenData {
    user: KoraUser,
    tokens: KoraTokens,
    tenant: KoraTenant,
}

/// The password was right; a TOTP code must follow (`2fa/verify-login`).
#[derive(ToSchema)]
pub struct KoraMfaRequired {
    /// Always `true`.
    mfaRequired: bool,
    mfaToken: String,
    #[schema(example = json!(["totp"]))]
    methods: Vec<String>,
}

#[derive(ToSchema)]
#[serde(untagged)]
pub enum KoraLoginData {
    Tokens(Box<KoraTokenData>),
    MfaRequired(KoraMfaRequired),
}

#[derive(ToSchema)]
pub struct KoraLoginResponse {
    success: bool,
    data: KoraLoginData,
}

#[derive(ToSchema)]
pub struct KoraTokenResponse {
    success: bool,
    data: KoraTokenData,
}

#[derive(ToSchema)]
pub struct KoraTotpStatus {
    enabled: bool,
    /// Enrolment started, first code not yet given.
    pending: bool,
}

#[derive(ToSchema)]
pub struct KoraTotpStatusResponse {
    success: bool,
    data: KoraTotpStatus,
}

#[derive(ToSchema)]
pub struct KoraTotpSetup {
    /// Base32.
    secret: String,
    otpauthUrl: String,
    /// A PNG data URL.
    qrCodeUrl: String,
}

#[derive(ToSchema)]
pub struct KoraTotpSetupResponse {
    success: bool,
    data: KoraTotpSetup,
}

#[derive(ToSchema)]
pub struct KoraEnabled {
    enabled: bool,
}

#[derive(ToSchema)]
pub struct KoraEnabledResponse {
    success: bool,
    data: KoraEnabled,
}

#[derive(ToSchema)]
pub struct KoraDeviceInfo {
    platform: Value,
    appVersion: Value,
}

#[derive(ToSchema)]
pub struct KoraSession {
    /// `sess_…`.
    id: String,
    deviceInfo: KoraDeviceInfo,
    /// Masked: `102.89.xx.xx`.
    #[schema(required)]
    ipAddress: Option<String>,
    /// RFC 3339.
    lastActive: String,
    /// The session of the token that asked.
    current: bool,
}

#[derive(ToSchema)]
pub struct KoraSessionsResponse {
    success: bool,
    data: Vec<KoraSession>,
}

/// `{"success": true, "data": null}`.
#[derive(ToSchema)]
pub struct KoraDone {
    success: bool,
    #[schema(schema_with = null)]
    data: (),
}

#[derive(ToSchema)]
pub struct KoraRevoked {
    /// How many sessions ended.
    revoked: u64,
}

#[derive(ToSchema)]
pub struct KoraRevokedResponse {
    success: bool,
    data: KoraRevoked,
}

#[derive(ToSchema)]
pub struct KoraRegistered {
    user: KoraUser,
}

#[derive(ToSchema)]
pub struct KoraRegisterResponse {
    success: bool,
    data: KoraRegistered,
}

#[derive(ToSchema)]
pub struct KoraEmailVerified {
    emailVerified: bool,
}

#[derive(ToSchema)]
pub struct KoraEmailVerifiedResponse {
    success: bool,
    data: KoraEmailVerified,
}

/// WebAuthn options: `publicKey` as WebAuthn JSON, and the ceremony to send back.
#[derive(ToSchema)]
pub struct KoraWebauthnOptionsData {
    /// PublicKeyCredentialCreationOptions or …RequestOptions, binary fields base64url.
    #[schema(value_type = Object)]
    #[allow(non_snake_case)]
    publicKey: (),
    /// Sent back with the authenticator's answer; 5 minutes, once.
    ceremony: String,
}

#[derive(ToSchema)]
pub struct KoraWebauthnOptions {
    success: bool,
    data: KoraWebauthnOptionsData,
}

/// A WebAuthn credential of the caller.
#[derive(ToSchema)]
#[allow(non_snake_case)]
pub struct KoraWebauthnCredentialData {
    id: String,
    /// `security_key` or `passkey`.
    kind: String,
    name: String,
    createdAt: i64,
    lastUsedAt: Option<i64>,
}

#[derive(ToSchema)]
pub struct KoraWebauthnCredential {
    success: bool,
    data: KoraWebauthnCredentialData,
}

#[derive(ToSchema)]
pub struct KoraWebauthnCredentials {
    success: bool,
    data: Vec<KoraWebauthnCredentialData>,
}

#[derive(ToSchema)]
pub struct KoraRecoveryCodesData {
    codes: Vec<String>,
}

#[derive(ToSchema)]
pub struct KoraRecoveryCodes {
    success: bool,
    data: KoraRecoveryCodesData,
}
