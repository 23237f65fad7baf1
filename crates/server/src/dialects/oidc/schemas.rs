//! Schemas of the JSON the OpenID Connect endpoints answer, for the OpenAPI document.
#![allow(dead_code)]

use utoipa::ToSchema;

/// Discovery metadata (OpenID Connect Discovery 1.0 §3, RFC 8414 §2).
#[derive(ToSchema)]
pub struct OidcConfiguration {
    #[schema(example = "https://auth.example.com/realms/acme")]
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    jwks_uri: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    end_session_endpoint: String,
    response_types_supported: Vec<String>,
    response_modes_supported: Vec<String>,
    grant_types_supported: Vec<String>,
    subject_types_supported: Vec<String>,
    id_token_signing_alg_values_supported: Vec<String>,
    token_endpoint_auth_methods_supported: Vec<String>,
    scopes_supported: Vec<String>,
    claims_supported: Vec<String>,
    code_challenge_methods_supported: Vec<String>,
    authorization_response_iss_parameter_supported: bool,
    request_parameter_supported: bool,
    request_uri_parameter_supported: bool,
}

/// A token response (RFC 6749 §5.1).
#[derive(ToSchema)]
pub struct OidcTokenResponse {
    access_token: String,
    #[schema(example = "Bearer")]
    token_type: String,
    #[schema(example = 300)]
    expires_in: i64,
    #[schema(example = "openid profile email")]
    scope: String,
    /// When `openid` was granted.
    id_token: Option<String>,
    /// When the client may refresh.
    refresh_token: Option<String>,
    refresh_expires_in: Option<i64>,
}

/// An introspection answer (RFC 7662 §2.2): `active` alone when the token is not.
#[derive(ToSchema)]
pub struct OidcIntrospection {
    active: bool,
    scope: Option<String>,
    client_id: Option<String>,
    username: Option<String>,
    /// `Bearer` for access tokens, `refresh_token` for refresh tokens.
    token_type: Option<String>,
    exp: Option<i64>,
    iat: Option<i64>,
    nbf: Option<i64>,
    sub: Option<String>,
    aud: Option<String>,
    iss: Option<String>,
    jti: Option<String>,
    sid: Option<String>,
}

/// UserInfo claims (OpenID Connect Core §5.3.2): `sub` and the claims of the granted scopes.
#[derive(ToSchema)]
pub struct OidcUserInfo {
    sub: String,
    name: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    preferred_username: Option<String>,
    updated_at: Option<i64>,
    email: Option<String>,
    email_verified: Option<bool>,
    phone_number: Option<String>,
    phone_number_verified: Option<bool>,
}
