//! The kumusoft answers, for the OpenAPI document: `{"status": {"returnCode", "returnMessage"},
//! "data"}`. The handlers build them with `json!`; these types only describe.
#![allow(dead_code, non_snake_case)]

use serde_json::Value;
use utoipa::ToSchema;

use crate::openapi::schemas::null;

#[derive(ToSchema)]
pub struct KumuStatus {
    /// `00` success; `01` credentials, `02` locked, `03` wrong code, `04` expired or unknown
    /// challenge, `05` too many, `06` unknown application, `07` refresh token, `08` access token,
    /// `90` validation, `99` internal.
    #[schema(example = "00")]
    returnCode: String,
    returnMessage: String,
}

/// A failure: `data` is null, or `{retryAfterSeconds}` (02, 05), or `{attemptsRemaining}` (03).
#[derive(ToSchema)]
#[schema(as = KumuError)]
pub struct KumuErrorBody {
    status: KumuStatus,
    #[schema(required)]
    data: Option<Value>,
}

#[derive(ToSchema)]
pub struct KumuChallenge {
    /// The user's display name.
    name: String,
    #[schema(format = "uuid")]
    userId: String,
    #[schema(format = "uuid")]
    challengeId: String,
    requires2FA: bool,
    /// `email`, `sms` or `totp`.
    channel: String,
    /// Masked (`j***@example.com`, `+256*****001`); empty for `totp`.
    destination: String,
    /// Seconds.
    expiresIn: i64,
}

#[derive(ToSchema)]
pub struct KumuChallengeResponse {
    status: KumuStatus,
    data: KumuChallenge,
}

#[derive(ToSchema)]
pub struct KumuUserRef {
    #[schema(format = "uuid")]
    id: String,
}

#[derive(ToSchema)]
pub struct KumuTokens {
    /// RS256 JWT (or the tenant's asymmetric algorithm), verifiable through the JWKS.
    accessToken: String,
    refreshToken: String,
    expiresIn: i64,
    /// `Bearer`.
    tokenType: String,
    user: KumuUserRef,
}

#[derive(ToSchema)]
pub struct KumuTokensResponse {
    status: KumuStatus,
    data: KumuTokens,
}

#[derive(ToSchema)]
pub struct KumuResent {
    #[schema(format = "uuid")]
    challengeId: String,
    channel: String,
    destination: String,
    expiresIn: i64,
}

#[derive(ToSchema)]
pub struct KumuResentResponse {
    status: KumuStatus,
    data: KumuResent,
}

/// `data: null`.
#[derive(ToSchema)]
pub struct KumuDone {
    status: KumuStatus,
    #[schema(schema_with = null)]
    data: (),
}

#[derive(ToSchema)]
pub struct KumuProfile {
    #[schema(format = "uuid")]
    id: String,
    name: String,
    #[schema(required)]
    firstName: Option<String>,
    #[schema(required)]
    lastName: Option<String>,
    #[schema(required)]
    email: Option<String>,
    #[schema(required)]
    username: Option<String>,
    #[schema(required)]
    phone: Option<String>,
    emailVerified: bool,
    phoneVerified: bool,
    twoFactorEnabled: bool,
    tagId: String,
}

#[derive(ToSchema)]
pub struct KumuProfileResponse {
    status: KumuStatus,
    data: KumuProfile,
}
