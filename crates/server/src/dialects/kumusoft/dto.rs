//! Kumusoft request bodies and response shapes, field for field. Fields are optional in the
//! types so that a missing one is answered `90` naming it, not a parser message.

use castellan_core::model::User;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::KumuError;

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = KumuLoginRequest)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    /// An email, a username or a phone number.
    #[schema(example = "user_8742@example.com")]
    pub identifier: Option<String>,
    #[schema(example = "P@ssw0rd!92X")]
    pub password: Option<String>,
    /// The consuming application's tag.
    #[schema(example = "ZED_INVESTA_MEMBER_PORTAL")]
    pub tag_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyRequest {
    pub user_id: Option<String>,
    #[schema(example = "728194")]
    pub otp: Option<String>,
    pub challenge_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResendRequest {
    pub user_id: Option<String>,
    pub challenge_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = KumuRefreshRequest)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    pub refresh_token: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogoutRequest {
    /// Used when no `Authorization: Bearer` header is sent.
    pub refresh_token: Option<String>,
}

/// A required, non-blank string field of at most `max` bytes.
pub fn required<'a>(value: &'a Option<String>, field: &str, max: usize) -> Result<&'a str, KumuError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Err(KumuError::validation(field, "is required")),
        Some(v) if v.len() > max => Err(KumuError::validation(field, &format!("longer than {max} characters"))),
        Some(_) => Ok(value.as_deref().unwrap_or_default()),
    }
}

/// A required UUID field.
pub fn required_uuid(value: &Option<String>, field: &str) -> Result<Uuid, KumuError> {
    let raw = required(value, field, 64)?;
    Uuid::parse_str(raw.trim()).map_err(|_| KumuError::validation(field, "must be a UUID"))
}

/// The display name: first and last name, else the username, else the email.
pub fn display_name(u: &User) -> String {
    u.full_name().or_else(|| u.username.clone()).or_else(|| u.email.clone()).unwrap_or_default()
}

/// `GET /me`: the profile.
pub fn profile(u: &User, tag_id: &str) -> Value {
    json!({
        "id": u.id,
        "name": display_name(u),
        "firstName": u.first_name,
        "lastName": u.last_name,
        "email": u.email,
        "username": u.username,
        "phone": u.phone,
        "emailVerified": u.email_verified,
        "phoneVerified": u.phone_verified,
        "twoFactorEnabled": u.mfa_enabled,
        "tagId": tag_id,
    })
}
