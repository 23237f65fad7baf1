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
    device_authorization_endpoint: String,
    pushed_authorization_request_endpoint: String,
    require_pushed_authorization_requests: bool,
    /// Only while the realm's policy turns registration on.
    registration_endpoint: Option<String>,
    backchannel_logout_supported: bool,
    backchannel_logout_session_supported: bool,
}

/// Client metadata of a registration or update (RFC 7591 §2); other members are ignored.
#[derive(ToSchema)]
pub struct OidcClientMetadata {
    /// RFC 7592 updates only: the client's id.
    client_id: Option<String>,
    #[schema(example = json!(["http://127.0.0.1/callback"]))]
    redirect_uris: Vec<String>,
    #[schema(example = "My MCP client")]
    client_name: Option<String>,
    /// Default `["authorization_code"]`.
    #[schema(example = json!(["authorization_code", "refresh_token"]))]
    grant_types: Option<Vec<String>>,
    /// `["code"]` only.
    response_types: Option<Vec<String>>,
    /// `client_secret_basic` (default), `client_secret_post`, `private_key_jwt` (with jwks or
    /// jwks_uri) or `none` (a public client).
    #[schema(example = "none")]
    token_endpoint_auth_method: Option<String>,
    /// Space-separated; default every scope.
    #[schema(example = "openid profile offline_access")]
    scope: Option<String>,
    jwks: Option<serde_json::Value>,
    jwks_uri: Option<String>,
    post_logout_redirect_uris: Option<Vec<String>>,
    backchannel_logout_uri: Option<String>,
    dpop_bound_access_tokens: Option<bool>,
    require_pushed_authorization_requests: Option<bool>,
}

/// A registered client (RFC 7591 §3.2.1, RFC 7592 §3).
#[derive(ToSchema)]
pub struct OidcRegisteredClient {
    #[schema(example = "dyn-3q2X9bV0cLkN1mR8tY4wZa")]
    client_id: String,
    /// Registration only, unless the client is public.
    client_secret: Option<String>,
    /// 0: never.
    client_secret_expires_at: Option<i64>,
    client_id_issued_at: i64,
    /// Registration only: the token for `registration_client_uri`.
    registration_access_token: Option<String>,
    registration_client_uri: String,
    client_name: String,
    redirect_uris: Vec<String>,
    grant_types: Vec<String>,
    response_types: Vec<String>,
    token_endpoint_auth_method: String,
    scope: String,
    post_logout_redirect_uris: Vec<String>,
    require_pushed_authorization_requests: bool,
    dpop_bound_access_tokens: bool,
    backchannel_logout_uri: Option<String>,
    backchannel_logout_session_required: Option<bool>,
    jwks: Option<serde_json::Value>,
    jwks_uri: Option<String>,
}

/// The device authorization request (RFC 8628 §3.1), with client authentication.
#[derive(ToSchema)]
pub struct OidcDeviceForm {
    /// Public clients: the client id alone; confidential ones as at the token endpoint.
    client_id: Option<String>,
    client_secret: Option<String>,
    #[schema(example = "openid profile offline_access")]
    scope: Option<String>,
}

/// The device authorization response (RFC 8628 §3.2).
#[derive(ToSchema)]
pub struct OidcDeviceAuthorization {
    device_code: String,
    #[schema(example = "BCDF-GHJK")]
    user_code: String,
    #[schema(example = "https://auth.example.com/realms/acme/device")]
    verification_uri: String,
    #[schema(example = "https://auth.example.com/realms/acme/device?user_code=BCDF-GHJK")]
    verification_uri_complete: String,
    #[schema(example = 600)]
    expires_in: i64,
    #[schema(example = 5)]
    interval: i64,
}

/// The PAR endpoint's answer (RFC 9126 §2.2).
#[derive(ToSchema)]
pub struct OidcPushedRequest {
    #[schema(example = "urn:ietf:params:oauth:request_uri:Q2FzdGVsbGFu")]
    request_uri: String,
    #[schema(example = 60)]
    expires_in: i64,
}

/// The device page's form.
#[derive(ToSchema)]
pub struct OidcDeviceCodeForm {
    csrf: String,
    #[schema(example = "BCDF-GHJK")]
    user_code: String,
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
    /// Token exchange: what was issued.
    issued_token_type: Option<String>,
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

/// The authorization request as a form (POST to the authorization endpoint).
#[derive(ToSchema)]
pub struct OidcAuthorizeForm {
    #[schema(example = "code")]
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    #[schema(example = "openid profile email")]
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    #[schema(example = "S256")]
    code_challenge_method: Option<String>,
    /// `query` or `form_post`.
    response_mode: Option<String>,
    prompt: Option<String>,
    max_age: Option<String>,
    login_hint: Option<String>,
    id_token_hint: Option<String>,
    ui_locales: Option<String>,
    acr_values: Option<String>,
    claims: Option<String>,
    /// A pushed request's (RFC 9126), with `client_id`: the other parameters are the pushed ones.
    request_uri: Option<String>,
}

/// The sign-in page's form.
#[derive(ToSchema)]
pub struct OidcLoginForm {
    csrf: Option<String>,
    /// The sealed authorization request the page carries.
    request: Option<String>,
    identifier: Option<String>,
    password: Option<String>,
}

/// The second-factor page's form.
#[derive(ToSchema)]
pub struct OidcTotpForm {
    csrf: Option<String>,
    request: Option<String>,
    mfa_token: Option<String>,
    code: Option<String>,
}

/// The second-factor page's forms.
#[derive(ToSchema)]
pub struct OidcSecondFactorForm {
    csrf: Option<String>,
    request: Option<String>,
    mfa_token: Option<String>,
    /// `totp`, `webauthn` or `recovery_code`.
    method: Option<String>,
    /// The TOTP code or the recovery code.
    code: Option<String>,
    /// The ceremony token of the options (`webauthn`).
    ceremony: Option<String>,
    /// The assertion, WebAuthn JSON (`webauthn`).
    credential: Option<String>,
    /// The methods the page offered, comma-separated (which forms it shows again).
    methods: Option<String>,
}

/// The form that asks for a second step's WebAuthn options.
#[derive(ToSchema)]
pub struct OidcSecondFactorOptionsForm {
    csrf: Option<String>,
    request: Option<String>,
    mfa_token: Option<String>,
}

/// The form that asks for a passkey sign-in's options.
#[derive(ToSchema)]
pub struct OidcPasskeyOptionsForm {
    csrf: Option<String>,
    request: Option<String>,
}

/// The sign-in page's passkey answer.
#[derive(ToSchema)]
pub struct OidcPasskeyForm {
    csrf: Option<String>,
    request: Option<String>,
    /// The ceremony token of the options.
    ceremony: Option<String>,
    /// The assertion (PublicKeyCredential as WebAuthn JSON).
    credential: Option<String>,
}

/// The account page's password form.
#[derive(ToSchema)]
pub struct OidcPasswordForm {
    csrf: Option<String>,
    current_password: Option<String>,
    new_password: Option<String>,
}

/// The account page's forms: `csrf` is the signed-in session's form token.
#[derive(ToSchema)]
pub struct OidcAccountForm {
    csrf: Option<String>,
    /// `passkey` or `security_key` (options, registration).
    kind: Option<String>,
    /// The ceremony token of the options (registration).
    ceremony: Option<String>,
    /// The registration (PublicKeyCredential as WebAuthn JSON).
    credential: Option<String>,
    /// The credential's name (registration, rename).
    name: Option<String>,
    /// The sealed authorization request a registration during sign-in continues (the page that
    /// asks for a passkey when the tenant requires one).
    request: Option<String>,
}

/// The account page's form that confirms an authenticator app.
#[derive(ToSchema)]
pub struct OidcAccountTotpForm {
    csrf: Option<String>,
    /// The app's current six-digit code.
    code: Option<String>,
}

/// The consent page's form.
#[derive(ToSchema)]
pub struct OidcConsentForm {
    csrf: Option<String>,
    request: Option<String>,
    /// `allow` or `deny`.
    decision: Option<String>,
}

/// A token request (client credentials in the form for `client_secret_post` and public clients).
#[derive(ToSchema)]
pub struct OidcTokenForm {
    #[schema(example = "authorization_code")]
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    /// The device code grant's.
    device_code: Option<String>,
    /// Token exchange's (RFC 8693): the token to exchange and its type.
    subject_token: Option<String>,
    #[schema(example = "urn:ietf:params:oauth:token-type:access_token")]
    subject_token_type: Option<String>,
    /// Token exchange: the audience wanted (one the client may exchange for).
    audience: Option<String>,
    /// Token exchange with delegation: the actor's token and its type.
    actor_token: Option<String>,
    actor_token_type: Option<String>,
    requested_token_type: Option<String>,
    /// private_key_jwt (RFC 7523).
    client_assertion: Option<String>,
    #[schema(example = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")]
    client_assertion_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// An introspection or revocation request.
#[derive(ToSchema)]
pub struct OidcTokenQueryForm {
    token: Option<String>,
    /// `access_token` or `refresh_token` (a hint; both kinds are looked at).
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// UserInfo by form.
#[derive(ToSchema)]
pub struct OidcUserinfoForm {
    access_token: Option<String>,
}

/// Logout by form: RP-initiated, its confirmation, or Keycloak's back-end logout.
#[derive(ToSchema)]
pub struct OidcLogoutForm {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    csrf: Option<String>,
    /// `yes` on the confirmation page's form.
    confirm: Option<String>,
    /// Back-end logout: the refresh token whose sign-in ends.
    refresh_token: Option<String>,
    client_secret: Option<String>,
}

/// The forgot-password form.
#[derive(ToSchema)]
pub struct OidcForgotPasswordForm {
    csrf: Option<String>,
    email: Option<String>,
}
