//! Korastratum request bodies and response shapes, field for field.

use castellan_core::clock::rfc3339;
use castellan_core::model::{Session, Tenant, User};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    pub device_id: Option<String>,
    pub platform: Option<String>,
    pub os_version: Option<String>,
    pub app_version: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = KoraLoginRequest)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    #[schema(example = "user@example.com")]
    pub email: String,
    #[schema(example = "SecurePass123!")]
    pub password: String,
    pub device_info: Option<DeviceInfo>,
    pub totp_code: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = KoraRefreshRequest)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyLoginRequest {
    pub mfa_token: String,
    pub token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TotpCodeRequest {
    pub token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    pub token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ForgotPasswordRequest {
    #[schema(example = "user@example.com")]
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResetPasswordRequest {
    pub token: String,
    pub new_password: String,
}

/// The device fields a session remembers.
pub fn device_json(d: Option<&DeviceInfo>) -> Value {
    match d {
        Some(d) => json!({
            "deviceId": d.device_id.as_deref().map(clip),
            "platform": d.platform.as_deref().map(clip),
            "osVersion": d.os_version.as_deref().map(clip),
            "appVersion": d.app_version.as_deref().map(clip),
        }),
        None => json!({}),
    }
}

fn clip(s: &str) -> String {
    s.chars().take(100).collect()
}

pub fn kyc_status(u: &User) -> Value {
    u.attributes.get("kycStatus").cloned().unwrap_or_else(|| json!("pending"))
}

pub fn kyc_level(u: &User) -> Value {
    u.attributes.get("kycLevel").cloned().unwrap_or_else(|| json!(0))
}

pub fn user_json(u: &User) -> Value {
    json!({
        "id": u.id,
        "email": u.email,
        "firstName": u.first_name,
        "lastName": u.last_name,
        "role": u.role,
        "kycStatus": kyc_status(u),
        "kycLevel": kyc_level(u),
        "mfaEnabled": u.mfa_enabled,
        "emailVerified": u.email_verified,
    })
}

pub fn tenant_json(t: &Tenant) -> Value {
    json!({ "id": t.id, "name": t.slug, "displayName": t.display_name })
}

/// An address with its host part hidden: IPv4 keeps two octets, IPv6 its first 32 bits.
pub fn mask_ip(ip: Option<&str>) -> Value {
    match ip.and_then(|s| s.parse::<std::net::IpAddr>().ok()) {
        Some(std::net::IpAddr::V4(v4)) => {
            let o = v4.octets();
            json!(format!("{}.{}.xx.xx", o[0], o[1]))
        }
        Some(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            json!(format!("{:x}:{:x}:xxxx:xxxx:xxxx:xxxx:xxxx:xxxx", s[0], s[1]))
        }
        None => Value::Null,
    }
}

pub fn session_json(s: &Session, current: &str) -> Value {
    json!({
        "id": s.id,
        "deviceInfo": {
            "platform": s.device.get("platform").cloned().unwrap_or(Value::Null),
            "appVersion": s.device.get("appVersion").cloned().unwrap_or(Value::Null),
        },
        "ipAddress": mask_ip(s.ip.as_deref()),
        "lastActive": rfc3339(s.last_active),
        "current": s.id == current,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked() {
        assert_eq!(mask_ip(Some("102.89.3.4")), json!("102.89.xx.xx"));
        assert_eq!(mask_ip(Some("2001:db8::1")), json!("2001:db8:xxxx:xxxx:xxxx:xxxx:xxxx:xxxx"));
        assert_eq!(mask_ip(None), Value::Null);
    }
}

/// Options for adding a WebAuthn credential.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebauthnRegisterOptionsRequest {
    /// `security_key` (the default) or `passkey` (discoverable).
    #[serde(default)]
    pub kind: Option<String>,
}

/// The credential the client's authenticator made.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebauthnRegisterRequest {
    /// As in the options request.
    #[serde(default)]
    pub kind: Option<String>,
    /// The `ceremony` of the options.
    pub ceremony: String,
    /// The PublicKeyCredential as WebAuthn JSON (`credential.toJSON()`).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    #[serde(default)]
    pub name: Option<String>,
}

/// The second step's options, for the login's `mfaToken`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebauthnLoginOptionsRequest {
    pub mfa_token: String,
}

/// The second step with a WebAuthn assertion.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebauthnVerifyLoginRequest {
    pub mfa_token: String,
    pub ceremony: String,
    /// The assertion (PublicKeyCredential as WebAuthn JSON).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}
