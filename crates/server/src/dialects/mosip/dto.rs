//! The shapes of MOSIP's requests, for the OpenAPI document. Requests are read field by field
//! (names match case-insensitively, see `envelope::Fields`), so these types describe, not parse.
#![allow(dead_code, non_snake_case)]

use utoipa::ToSchema;

use crate::openapi::schemas::null;

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

/// A request envelope whose `request` is `T`.
#[derive(ToSchema)]
pub struct MosipRequest<T: ToSchema> {
    #[schema(example = "mosip.authentication.sendotp")]
    id: Option<String>,
    #[schema(example = "1.0")]
    version: Option<String>,
    #[schema(example = "2019-04-29T07:01:24.692Z")]
    requesttime: Option<String>,
    metadata: Option<serde_json::Value>,
    request: T,
}

/// A failure outside HTTP 200 (a body that is not JSON: 400; a rate limit: 429; a server fault:
/// 500): `response: null` and `errors: [{errorCode, message}]`.
#[derive(ToSchema)]
#[schema(as = MosipErrorEnvelope)]
pub struct ResponseEnvelope {
    /// The service id, else the request's `id`.
    #[schema(required)]
    id: Option<String>,
    #[schema(example = "1.0")]
    version: String,
    #[schema(example = "1.0")]
    ver: String,
    #[schema(example = "2021-01-06T05:52:26.667Z")]
    responsetime: String,
    #[schema(schema_with = null)]
    metadata: (),
    #[schema(schema_with = null)]
    response: (),
    errors: Vec<ServiceError>,
}

/// `{id, version, ver, responsetime, metadata, response, errors}`, HTTP 200, one struct per
/// `response` shape (utoipa drops the nullability of a generic `Option<T>`).
macro_rules! envelope {
    ($name:ident, $response:ty) => {
        /// HTTP 200: either `response` with `errors: null`, or (MOSIP answers its errors this way)
        /// `response: null` with `errors: [{errorCode, message}]`.
        #[derive(ToSchema)]
        pub struct $name {
            /// The service id, else the request's `id`.
            #[schema(required)]
            id: Option<String>,
            #[schema(example = "1.0")]
            version: String,
            #[schema(example = "1.0")]
            ver: String,
            #[schema(example = "2021-01-06T05:52:26.667Z")]
            responsetime: String,
            #[schema(schema_with = null)]
            metadata: (),
            #[schema(required)]
            response: Option<$response>,
            #[schema(required)]
            errors: Option<Vec<ServiceError>>,
        }
    };
}

envelope!(MosipStatusEnvelope, StatusMessage);
envelope!(MosipMessageEnvelope, MessageOnly);
envelope!(MosipTokenEnvelope, TokenResponse);
envelope!(MosipValidatedTokenEnvelope, ValidatedToken);
envelope!(MosipGeneratedOtpEnvelope, GeneratedOtp);

/// `{status, message}`.
#[derive(ToSchema)]
pub struct StatusMessage {
    #[schema(example = "success")]
    status: String,
    message: String,
}

/// `{message}`.
#[derive(ToSchema)]
pub struct MessageOnly {
    message: String,
}

/// A user's tokens (the access token also comes in the `Authorization` header and cookie).
#[derive(ToSchema)]
pub struct TokenResponse {
    token: String,
    message: String,
    refreshToken: String,
    /// Seconds.
    expiryTime: i64,
    userId: String,
    #[schema(example = "success")]
    status: String,
    /// Seconds.
    refreshExpiryTime: i64,
}

/// Who a valid token stands for.
#[derive(ToSchema)]
pub struct ValidatedToken {
    #[schema(required)]
    userId: Option<String>,
    #[schema(required)]
    mobile: Option<String>,
    #[schema(required)]
    mail: Option<String>,
    #[schema(schema_with = null)]
    langCode: (),
    #[schema(schema_with = null)]
    userPassword: (),
    #[schema(required)]
    name: Option<String>,
    /// The realm roles, each followed by a comma.
    role: String,
    token: String,
    #[schema(schema_with = null)]
    rid: (),
}

/// `{otp, status}`: `GENERATION_SUCCESSFUL`, or `USER_BLOCKED` with `otp: "null"`.
#[derive(ToSchema)]
pub struct GeneratedOtp {
    otp: String,
    status: String,
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
