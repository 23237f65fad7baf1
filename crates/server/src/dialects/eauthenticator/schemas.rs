//! The eauthenticator answers, for the OpenAPI document: the REST API's `{"code", "message",
//! "data"}` and the console API's objects. The handlers build them with `json!`; these types only
//! describe.
#![allow(dead_code)]

use utoipa::ToSchema;

/// A refusal of the REST API: `INVALID_REQUEST` (400, `data: ""`), `UNAUTHORIZED` (401),
/// `FORBIDDEN` or `INACTIVE` (403), `INTERNAL_SERVER_ERROR` (500), `data: null`.
#[derive(ToSchema)]
pub struct EauthError {
    #[schema(example = "UNAUTHORIZED")]
    code: String,
    message: String,
    #[schema(required)]
    data: Option<String>,
}

#[derive(ToSchema)]
pub struct SessionTokenAnswer {
    /// `SUCCESS`.
    code: String,
    /// `Success`.
    message: String,
    data: super::api::SessionTokenData,
}

/// `{"code": "SUCCESS", "message": "Success", "data": ""}`.
#[derive(ToSchema)]
pub struct ToggleAnswer {
    code: String,
    message: String,
    /// Empty.
    data: String,
}

#[derive(ToSchema)]
pub struct ProvisionAnswer {
    code: String,
    message: String,
    data: super::api::ProvisionData,
}

/// An application as the console API shows it.
#[derive(ToSchema)]
pub struct ConsoleApplication {
    #[schema(format = "uuid")]
    id: String,
    client_id: String,
    name: String,
    allowed_ips: Vec<String>,
    #[schema(required)]
    callback_url: Option<String>,
    redirect_uris: Vec<String>,
    /// The hosted page offers the user's passkeys and security keys beside the code.
    webauthn: bool,
    active: bool,
    /// The start of the API key, to recognise it.
    #[schema(required)]
    api_key_prefix: Option<String>,
    /// Seconds since the epoch.
    created_at: i64,
}

#[derive(ToSchema)]
pub struct ConsoleApplications {
    applications: Vec<ConsoleApplication>,
}

/// A new application, with its API key and callback secret (shown only here).
#[derive(ToSchema)]
pub struct ConsoleCreated {
    application: ConsoleApplication,
    api_key: String,
    callback_secret: String,
}

#[derive(ToSchema)]
pub struct ConsoleRegistered {
    /// `verification_sent`.
    status: String,
}

#[derive(ToSchema)]
pub struct ConsoleEmailVerified {
    email_verified: bool,
}

#[derive(ToSchema)]
pub struct ConsoleSignedIn {
    /// A bearer token for the other console routes.
    token: String,
    /// `Bearer`.
    token_type: String,
    #[schema(required)]
    email: Option<String>,
}

#[derive(ToSchema)]
pub struct ConsoleApiKey {
    api_key: String,
}

#[derive(ToSchema)]
pub struct ConsoleCallbackSecret {
    callback_secret: String,
}

#[derive(ToSchema)]
pub struct ConsoleVerification {
    /// Seconds since the epoch.
    time: i64,
    /// Masked: `j***@example.com`.
    email: String,
    /// `pending`, `verified`, `succeeded`, `rejected`, `timed_out` or `failed`.
    result: String,
    /// Wrong codes entered.
    tries: u32,
    #[schema(required)]
    ip: Option<String>,
}

#[derive(ToSchema)]
pub struct ConsoleVerifications {
    verifications: Vec<ConsoleVerification>,
}
