//! fastapi-users' answers and request bodies, for the OpenAPI document. The handlers read bodies
//! field by field (body.rs) and build answers with `json!`; these types only describe.
#![allow(dead_code)]

use serde_json::Value;
use utoipa::ToSchema;

/// `{"detail": …}`: a code (`LOGIN_BAD_CREDENTIALS`, `Unauthorized`, `TOO_MANY_REQUESTS`, …),
/// `{code, reason}` for a refused password, or FastAPI's 422 list of `{type, loc, msg, input}`.
#[derive(ToSchema)]
#[schema(as = FastapiUsersError)]
pub struct FuErrorBody {
    detail: Detail,
}

#[derive(ToSchema)]
#[serde(untagged)]
pub enum Detail {
    Code(String),
    Reason(CodeReason),
    Validation(Vec<ValidationItem>),
}

#[derive(ToSchema)]
pub struct CodeReason {
    #[schema(example = "REGISTER_INVALID_PASSWORD")]
    code: String,
    reason: String,
}

/// One entry of FastAPI's validation list.
#[derive(ToSchema)]
pub struct ValidationItem {
    #[schema(example = "missing")]
    r#type: String,
    /// `["body", field]`.
    #[schema(example = json!(["body", "email"]))]
    loc: Vec<Value>,
    msg: String,
    input: Value,
    ctx: Option<Value>,
}

/// The library's `UserRead`.
#[derive(ToSchema)]
pub struct UserRead {
    #[schema(format = "uuid")]
    id: String,
    #[schema(required)]
    email: Option<String>,
    is_active: bool,
    is_superuser: bool,
    is_verified: bool,
}

/// The bearer token (no refresh token).
#[derive(ToSchema)]
pub struct BearerResponse {
    access_token: String,
    /// `bearer`.
    token_type: String,
}

/// `OAuth2PasswordRequestForm`.
#[derive(ToSchema)]
pub struct LoginForm {
    /// The email.
    #[schema(example = "user@example.com")]
    username: String,
    #[schema(example = "your_secret_password")]
    password: String,
    /// `password` when sent.
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// `UserCreate`; `is_superuser`, `is_verified` and `is_active` are ignored.
#[derive(ToSchema)]
pub struct UserCreate {
    #[schema(example = "jane@example.com")]
    email: String,
    password: String,
}

#[derive(ToSchema)]
pub struct EmailBody {
    #[schema(example = "jane@example.com")]
    email: String,
}

#[derive(ToSchema)]
pub struct VerifyTokenBody {
    token: String,
}

#[derive(ToSchema)]
pub struct ResetPasswordBody {
    token: String,
    password: String,
}

/// `UserUpdate`: other fields are ignored.
#[derive(ToSchema)]
pub struct UserUpdate {
    email: Option<String>,
    password: Option<String>,
}
