//! The shapes of MOSIP's requests, for the OpenAPI document. Requests are read field by field
//! (names match case-insensitively, see `envelope::Fields`), so these types describe, not parse.
#![allow(dead_code, non_snake_case)]

use utoipa::ToSchema;

/// `{id, version, requesttime, metadata, request}`; `request` is one of the `*Request` shapes.
#[derive(ToSchema)]
pub struct RequestEnvelope {
    #[schema(example = "mosip.authentication.sendotp")]
    id: Option<String>,
    #[schema(example = "1.0")]
    version: Option<String>,
    #[schema(example = "2019-04-29T07:01:24.692Z")]
    requesttime: Option<String>,
    metadata: Option<serde_json::Value>,
    request: serde_json::Value,
}

/// `{id, version, ver, responsetime, metadata, response, errors}`: errors answer HTTP 200 with
/// `response: null` and `errors: [{errorCode, message}]`.
#[derive(ToSchema)]
pub struct ResponseEnvelope {
    id: Option<String>,
    version: String,
    ver: String,
    #[schema(example = "2021-01-06T05:52:26.667Z")]
    responsetime: String,
    metadata: Option<serde_json::Value>,
    response: Option<serde_json::Value>,
    errors: Option<Vec<ServiceError>>,
}

#[derive(ToSchema)]
#[schema(as = MosipServiceError)]
pub struct ServiceError {
    #[schema(example = "KER-ATH-026")]
    errorCode: String,
    #[schema(example = "Realm not found:: admin11")]
    message: String,
}

#[derive(ToSchema)]
pub struct SendOtpRequest {
    #[schema(example = "2530192395")]
    userId: String,
    /// `email` and/or `phone`.
    #[schema(example = json!(["email"]))]
    otpChannel: Vec<String>,
    /// `UIN` (the user's `uin` attribute) or `USERID` (username).
    #[schema(example = "UIN")]
    useridtype: String,
    #[schema(example = "ida")]
    appId: String,
    #[schema(example = "auth-otp")]
    context: Option<String>,
    /// Extra `{name}` placeholders for the message template.
    #[schema(example = json!({"UIN": "2530192395"}))]
    templateVariables: Option<serde_json::Value>,
}

#[derive(ToSchema)]
pub struct UserIdOtpRequest {
    userId: String,
    #[schema(example = "849004")]
    otp: String,
    /// Without it, the most recent pending code for `userId` in any realm.
    appId: Option<String>,
}

#[derive(ToSchema)]
pub struct UserIdPwdRequest {
    #[schema(example = "admin")]
    appId: String,
    #[schema(example = "mosip-admin-client")]
    clientId: String,
    clientSecret: String,
    #[schema(example = "110006")]
    userName: String,
    password: String,
}

#[derive(ToSchema)]
pub struct ClientIdSecretKeyRequest {
    #[schema(example = "admin")]
    appId: String,
    #[schema(example = "mosip-abis-client")]
    clientId: String,
    secretKey: String,
}

#[derive(ToSchema)]
pub struct RefreshTokenRequest {
    /// Else the `refresh_token` cookie.
    refreshToken: Option<String>,
}

#[derive(ToSchema)]
pub struct GenerateOtpRequest {
    #[schema(example = "9820173642")]
    key: String,
}
