//! Row shapes (primitive columns only, decodable on both engines) and their domain conversions.

use castellan_core::model::*;
use castellan_core::store::StoreError;
use uuid::Uuid;

/// A stored UUID, as the id type the field holds.
pub(crate) fn uuid<T: From<Uuid>>(s: &str) -> Result<T, StoreError> {
    Uuid::parse_str(s).map(T::from).map_err(|e| StoreError::message(format!("bad uuid in database: {e}")))
}

fn opt_uuid<T: From<Uuid>>(s: Option<String>) -> Result<Option<T>, StoreError> {
    s.as_deref().map(uuid).transpose()
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::message(format!("bad json in database: {e}")))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn bad(what: &str, v: &str) -> StoreError {
    StoreError::message(format!("bad {what} in database: {v}"))
}

#[derive(sqlx::FromRow)]
pub(crate) struct TenantRow {
    id: String,
    slug: String,
    display_name: String,
    profile: String,
    dialects: String,
    issuer: String,
    audience: String,
    policy: String,
    created_at: i64,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = StoreError;
    fn try_from(r: TenantRow) -> Result<Self, StoreError> {
        Ok(Tenant {
            id: uuid(&r.id)?,
            profile: Profile::parse(&r.profile).ok_or_else(|| bad("profile", &r.profile))?,
            slug: r.slug,
            display_name: r.display_name,
            dialects: json(&r.dialects)?,
            issuer: r.issuer,
            audience: r.audience,
            policy: json(&r.policy)?,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApplicationRow {
    id: String,
    tenant_id: String,
    client_id: String,
    name: String,
    kind: String,
    secret_hash: Option<Vec<u8>>,
    roles: String,
    allowed_ips: String,
    callback_url: Option<String>,
    redirect_uris: String,
    /// TEXT for history: `true` when set.
    single_otp_channel: Option<String>,
    hosted_webauthn: bool,
    active: bool,
    created_at: i64,
    oidc: String,
}

impl TryFrom<ApplicationRow> for Application {
    type Error = StoreError;
    fn try_from(r: ApplicationRow) -> Result<Self, StoreError> {
        Ok(Application {
            id: uuid(&r.id)?,
            tenant_id: uuid(&r.tenant_id)?,
            kind: ApplicationKind::parse(&r.kind).ok_or_else(|| bad("kind", &r.kind))?,
            client_id: r.client_id,
            name: r.name,
            secret_hash: r.secret_hash,
            aliases: Default::default(),
            roles: json(&r.roles)?,
            allowed_ips: json(&r.allowed_ips)?,
            callback_url: r.callback_url,
            redirect_uris: json(&r.redirect_uris)?,
            single_otp_channel: matches!(r.single_otp_channel.as_deref(), Some("true" | "1")),
            hosted_webauthn: r.hosted_webauthn,
            active: r.active,
            created_at: r.created_at,
            oauth: json(&r.oidc)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: String,
    tenant_id: String,
    email: Option<String>,
    username: Option<String>,
    phone: Option<String>,
    password_hash: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    role: String,
    roles: String,
    permissions: String,
    attributes: String,
    email_verified: bool,
    phone_verified: bool,
    active: bool,
    mfa_enabled: bool,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            id: uuid(&r.id)?,
            tenant_id: uuid(&r.tenant_id)?,
            email: r.email,
            username: r.username,
            phone: r.phone,
            password_hash: r.password_hash,
            first_name: r.first_name,
            last_name: r.last_name,
            role: r.role,
            roles: json(&r.roles)?,
            permissions: json(&r.permissions)?,
            attributes: json(&r.attributes)?,
            email_verified: r.email_verified,
            phone_verified: r.phone_verified,
            active: r.active,
            mfa_enabled: r.mfa_enabled,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TotpRow {
    user_id: String,
    tenant_id: String,
    secret_sealed: Vec<u8>,
    algorithm: String,
    digits: i64,
    period: i64,
    enabled: bool,
    last_step: Option<i64>,
    created_at: i64,
}

impl TryFrom<TotpRow> for TotpFactor {
    type Error = StoreError;
    fn try_from(r: TotpRow) -> Result<Self, StoreError> {
        Ok(TotpFactor {
            user_id: uuid(&r.user_id)?,
            tenant_id: uuid(&r.tenant_id)?,
            secret_sealed: r.secret_sealed,
            algorithm: r.algorithm,
            digits: r.digits as u32,
            period: r.period as u32,
            enabled: r.enabled,
            last_step: r.last_step,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ChallengeRow {
    id: String,
    tenant_id: String,
    user_id: String,
    kind: String,
    secret_hash: Vec<u8>,
    attempts: i64,
    max_attempts: i64,
    expires_at: i64,
    consumed_at: Option<i64>,
    data: String,
    created_at: i64,
}

impl TryFrom<ChallengeRow> for Challenge {
    type Error = StoreError;
    fn try_from(r: ChallengeRow) -> Result<Self, StoreError> {
        Ok(Challenge {
            id: uuid(&r.id)?,
            tenant_id: uuid(&r.tenant_id)?,
            user_id: uuid(&r.user_id)?,
            kind: ChallengeKind::parse(&r.kind).ok_or_else(|| bad("challenge kind", &r.kind))?,
            secret_hash: r.secret_hash,
            attempts: r.attempts as u32,
            max_attempts: r.max_attempts as u32,
            expires_at: r.expires_at,
            consumed_at: r.consumed_at,
            data: json(&r.data)?,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct KeyOtpRow {
    tenant_id: String,
    key_hash: Vec<u8>,
    user_id: Option<String>,
    application_id: Option<String>,
    secret_hash: Vec<u8>,
    attempts: i64,
    max_attempts: i64,
    expires_at: i64,
    frozen_until: Option<i64>,
    created_at: i64,
}

impl TryFrom<KeyOtpRow> for KeyOtp {
    type Error = StoreError;
    fn try_from(r: KeyOtpRow) -> Result<Self, StoreError> {
        Ok(KeyOtp {
            tenant_id: uuid(&r.tenant_id)?,
            key_hash: r.key_hash,
            user_id: opt_uuid(r.user_id)?,
            application_id: opt_uuid(r.application_id)?,
            secret_hash: r.secret_hash,
            attempts: r.attempts as u32,
            max_attempts: r.max_attempts as u32,
            expires_at: r.expires_at,
            frozen_until: r.frozen_until,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    id: String,
    tenant_id: String,
    user_id: String,
    application_id: Option<String>,
    dialect: String,
    device: String,
    ip: Option<String>,
    user_agent: Option<String>,
    created_at: i64,
    last_active: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

impl SessionRow {
    pub(crate) fn of_known_dialect(&self) -> bool {
        Dialect::parse(&self.dialect).is_some()
    }
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> Result<Self, StoreError> {
        Ok(Session {
            tenant_id: uuid(&r.tenant_id)?,
            user_id: uuid(&r.user_id)?,
            application_id: opt_uuid(r.application_id)?,
            id: r.id.into(),
            dialect: Dialect::parse(&r.dialect).ok_or_else(|| bad("dialect", &r.dialect))?,
            device: json(&r.device)?,
            ip: r.ip,
            user_agent: r.user_agent,
            created_at: r.created_at,
            last_active: r.last_active,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RefreshRow {
    id: String,
    tenant_id: String,
    session_id: String,
    token_hash: Vec<u8>,
    expires_at: i64,
    used_at: Option<i64>,
    created_at: i64,
    application_id: Option<String>,
    grant_data: Option<String>,
}

/// The client a refresh token was issued to, from its two columns.
fn client_grant(application_id: Option<String>, grant_data: Option<String>) -> Result<Option<ClientGrant>, StoreError> {
    Ok(match (application_id, grant_data) {
        (Some(app), Some(grant)) => Some(ClientGrant { application_id: uuid(&app)?, grant: json(&grant)? }),
        _ => None,
    })
}

impl TryFrom<RefreshRow> for RefreshToken {
    type Error = StoreError;
    fn try_from(r: RefreshRow) -> Result<Self, StoreError> {
        Ok(RefreshToken {
            id: uuid(&r.id)?,
            tenant_id: uuid(&r.tenant_id)?,
            session_id: r.session_id.into(),
            client: client_grant(r.application_id, r.grant_data)?,
            token_hash: r.token_hash,
            expires_at: r.expires_at,
            used_at: r.used_at,
            created_at: r.created_at,
        })
    }
}

/// A session with the client of the refresh token it was found by.
#[derive(sqlx::FromRow)]
pub(crate) struct SessionOfTokenRow {
    #[sqlx(flatten)]
    session: SessionRow,
    token_application_id: Option<String>,
    token_grant_data: Option<String>,
}

impl TryFrom<SessionOfTokenRow> for (Session, Option<ClientGrant>) {
    type Error = StoreError;
    fn try_from(r: SessionOfTokenRow) -> Result<Self, StoreError> {
        let client = client_grant(r.token_application_id, r.token_grant_data)?;
        Ok((Session::try_from(r.session)?, client))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct KeyRow {
    kid: String,
    tenant_id: String,
    alg: String,
    state: String,
    private_sealed: Vec<u8>,
    public_jwk: String,
    created_at: i64,
    retired_at: Option<i64>,
}

impl TryFrom<KeyRow> for SigningKey {
    type Error = StoreError;
    fn try_from(r: KeyRow) -> Result<Self, StoreError> {
        Ok(SigningKey {
            tenant_id: uuid(&r.tenant_id)?,
            alg: KeyAlg::parse(&r.alg).ok_or_else(|| bad("alg", &r.alg))?,
            state: KeyState::parse(&r.state).ok_or_else(|| bad("key state", &r.state))?,
            kid: r.kid,
            private_sealed: r.private_sealed,
            public_jwk: json(&r.public_jwk)?,
            created_at: r.created_at,
            retired_at: r.retired_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    id: String,
    tenant_id: Option<String>,
    application_id: Option<String>,
    user_id: Option<String>,
    action: String,
    outcome: String,
    ip: Option<String>,
    user_agent: Option<String>,
    detail: String,
    created_at: i64,
}

impl TryFrom<AuditRow> for AuditEvent {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> Result<Self, StoreError> {
        Ok(AuditEvent {
            id: uuid(&r.id)?,
            tenant_id: opt_uuid(r.tenant_id)?,
            application_id: opt_uuid(r.application_id)?,
            user_id: opt_uuid(r.user_id)?,
            action: r.action,
            outcome: r.outcome,
            ip: r.ip,
            user_agent: r.user_agent,
            detail: json(&r.detail)?,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    id: String,
    tenant_id: Option<String>,
    channel: String,
    recipient: String,
    subject: String,
    body: String,
    status: String,
    transport: Option<String>,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    created_at: i64,
    sent_at: Option<i64>,
}

impl TryFrom<MessageRow> for OutboundMessage {
    type Error = StoreError;
    fn try_from(r: MessageRow) -> Result<Self, StoreError> {
        Ok(OutboundMessage {
            id: uuid(&r.id)?,
            tenant_id: opt_uuid(r.tenant_id)?,
            channel: Channel::parse(&r.channel).ok_or_else(|| bad("channel", &r.channel))?,
            recipient: r.recipient,
            subject: r.subject,
            body: r.body,
            status: r.status,
            transport: r.transport,
            attempts: r.attempts as u32,
            next_attempt_at: r.next_attempt_at,
            last_error: r.last_error,
            created_at: r.created_at,
            sent_at: r.sent_at,
        })
    }
}

/// Converts every row, failing on the first bad one.
pub(crate) fn all<R, T: TryFrom<R, Error = StoreError>>(rows: Vec<R>) -> Result<Vec<T>, StoreError> {
    rows.into_iter().map(T::try_from).collect()
}

pub(crate) fn one<R, T: TryFrom<R, Error = StoreError>>(row: Option<R>) -> Result<Option<T>, StoreError> {
    row.map(T::try_from).transpose()
}

#[derive(sqlx::FromRow)]
pub(crate) struct AppTotpRow {
    tenant_id: String,
    application_id: String,
    user_id: String,
    secret_sealed: Vec<u8>,
    algorithm: String,
    digits: i64,
    period: i64,
    last_step: Option<i64>,
    created_at: i64,
}

impl TryFrom<AppTotpRow> for AppTotpFactor {
    type Error = StoreError;
    fn try_from(r: AppTotpRow) -> Result<Self, StoreError> {
        Ok(AppTotpFactor {
            tenant_id: uuid(&r.tenant_id)?,
            application_id: uuid(&r.application_id)?,
            user_id: uuid(&r.user_id)?,
            secret_sealed: r.secret_sealed,
            algorithm: r.algorithm,
            digits: r.digits as u32,
            period: r.period as u32,
            last_step: r.last_step,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct VerificationRow {
    id: String,
    tenant_id: String,
    application_id: String,
    user_id: String,
    email: String,
    status: String,
    tries: i64,
    ip: Option<String>,
    expires_at: i64,
    finished_at: Option<i64>,
    created_at: i64,
}

impl TryFrom<VerificationRow> for Verification {
    type Error = StoreError;
    fn try_from(r: VerificationRow) -> Result<Self, StoreError> {
        Ok(Verification {
            id: uuid(&r.id)?,
            tenant_id: uuid(&r.tenant_id)?,
            application_id: uuid(&r.application_id)?,
            user_id: uuid(&r.user_id)?,
            email: r.email,
            status: VerificationStatus::parse(&r.status).ok_or_else(|| bad("status", &r.status))?,
            tries: r.tries as u32,
            ip: r.ip,
            expires_at: r.expires_at,
            finished_at: r.finished_at,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CallbackRow {
    id: String,
    tenant_id: String,
    application_id: String,
    verification_id: String,
    url: String,
    query: String,
    status: String,
    tries: i64,
    next_attempt_ms: i64,
    deadline_ms: i64,
    last_status: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    finished_at: Option<i64>,
    kind: String,
}

impl TryFrom<CallbackRow> for Callback {
    type Error = StoreError;
    fn try_from(r: CallbackRow) -> Result<Self, StoreError> {
        Ok(Callback {
            id: uuid(&r.id)?,
            tenant_id: uuid(&r.tenant_id)?,
            application_id: uuid(&r.application_id)?,
            kind: CallbackKind::parse(&r.kind).ok_or_else(|| bad("kind", &r.kind))?,
            verification_id: uuid(&r.verification_id)?,
            url: r.url,
            query: r.query,
            status: CallbackStatus::parse(&r.status).ok_or_else(|| bad("status", &r.status))?,
            tries: r.tries as u32,
            next_attempt_ms: r.next_attempt_ms,
            deadline_ms: r.deadline_ms,
            last_status: r.last_status.map(|s| s as u16),
            last_error: r.last_error,
            created_at: r.created_at,
            finished_at: r.finished_at,
        })
    }
}

/// One alias of an application.
#[derive(sqlx::FromRow)]
pub(crate) struct AliasRow {
    application_id: String,
    dialect: String,
    alias: String,
}

impl AliasRow {
    pub(crate) fn parse(self) -> Result<(uuid::Uuid, Dialect, String), StoreError> {
        let dialect = Dialect::parse(&self.dialect).ok_or_else(|| bad("dialect", &self.dialect))?;
        Ok((uuid(&self.application_id)?, dialect, self.alias))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CodeRow {
    code_hash: Vec<u8>,
    tenant_id: String,
    application_id: String,
    user_id: String,
    session_id: String,
    data: String,
    expires_at: i64,
    used_at: Option<i64>,
    created_at: i64,
}

impl TryFrom<CodeRow> for AuthorizationCode {
    type Error = StoreError;
    fn try_from(r: CodeRow) -> Result<Self, StoreError> {
        Ok(AuthorizationCode {
            code_hash: r.code_hash,
            tenant_id: uuid(&r.tenant_id)?,
            application_id: uuid(&r.application_id)?,
            user_id: uuid(&r.user_id)?,
            session_id: r.session_id.into(),
            data: json(&r.data)?,
            expires_at: r.expires_at,
            used_at: r.used_at,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ConsentRow {
    tenant_id: String,
    user_id: String,
    application_id: String,
    scopes: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<ConsentRow> for ConsentGrant {
    type Error = StoreError;
    fn try_from(r: ConsentRow) -> Result<Self, StoreError> {
        Ok(ConsentGrant {
            tenant_id: uuid(&r.tenant_id)?,
            user_id: uuid(&r.user_id)?,
            application_id: uuid(&r.application_id)?,
            scopes: json(&r.scopes)?,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeviceGrantRow {
    device_hash: Vec<u8>,
    tenant_id: String,
    application_id: String,
    user_code_hash: Vec<u8>,
    scopes: String,
    status: String,
    user_id: Option<String>,
    session_id: Option<String>,
    data: String,
    interval_seconds: i64,
    polled_at: Option<i64>,
    slowed: i64,
    expires_at: i64,
    created_at: i64,
}

impl TryFrom<DeviceGrantRow> for DeviceGrant {
    type Error = StoreError;
    fn try_from(r: DeviceGrantRow) -> Result<Self, StoreError> {
        Ok(DeviceGrant {
            device_hash: r.device_hash,
            tenant_id: uuid(&r.tenant_id)?,
            application_id: uuid(&r.application_id)?,
            user_code_hash: r.user_code_hash,
            scopes: json(&r.scopes)?,
            status: DeviceStatus::parse(&r.status)
                .ok_or_else(|| StoreError::message(format!("unknown device grant status {}", r.status)))?,
            user_id: opt_uuid(r.user_id)?,
            session_id: r.session_id.map(SessionId::from),
            data: json(&r.data)?,
            interval: r.interval_seconds,
            polled_at: r.polled_at,
            slowed: r.slowed != 0,
            expires_at: r.expires_at,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PushedRequestRow {
    request_hash: Vec<u8>,
    tenant_id: String,
    application_id: String,
    params: String,
    expires_at: i64,
    used_at: Option<i64>,
    created_at: i64,
}

impl TryFrom<PushedRequestRow> for PushedRequest {
    type Error = StoreError;
    fn try_from(r: PushedRequestRow) -> Result<Self, StoreError> {
        Ok(PushedRequest {
            request_hash: r.request_hash,
            tenant_id: uuid(&r.tenant_id)?,
            application_id: uuid(&r.application_id)?,
            params: json(&r.params)?,
            expires_at: r.expires_at,
            used_at: r.used_at,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SessionClientRow {
    session_id: String,
    application_id: String,
    user_id: String,
}

impl TryFrom<SessionClientRow> for SessionClient {
    type Error = StoreError;
    fn try_from(r: SessionClientRow) -> Result<Self, StoreError> {
        Ok(SessionClient {
            session_id: SessionId::from(r.session_id),
            application_id: uuid(&r.application_id)?,
            user_id: uuid(&r.user_id)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CredentialRow {
    id: String,
    tenant_id: String,
    user_id: String,
    credential_id: String,
    kind: String,
    name: String,
    data: String,
    aaguid: Option<String>,
    sign_count: i64,
    backup_eligible: bool,
    backup_state: bool,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl TryFrom<CredentialRow> for WebauthnCredential {
    type Error = StoreError;
    fn try_from(r: CredentialRow) -> Result<Self, StoreError> {
        Ok(WebauthnCredential {
            id: uuid(&r.id)?,
            tenant_id: uuid(&r.tenant_id)?,
            user_id: uuid(&r.user_id)?,
            credential_id: r.credential_id,
            kind: CredentialKind::parse(&r.kind).ok_or_else(|| bad("credential kind", &r.kind))?,
            name: r.name,
            data: r.data,
            aaguid: r.aaguid,
            sign_count: u32::try_from(r.sign_count).map_err(|_| bad("sign count", &r.sign_count.to_string()))?,
            backup_eligible: r.backup_eligible,
            backup_state: r.backup_state,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CeremonyRow {
    token_hash: Vec<u8>,
    tenant_id: String,
    user_id: Option<String>,
    purpose: String,
    state: String,
    expires_at: i64,
    created_at: i64,
}

impl TryFrom<CeremonyRow> for WebauthnCeremony {
    type Error = StoreError;
    fn try_from(r: CeremonyRow) -> Result<Self, StoreError> {
        Ok(WebauthnCeremony {
            token_hash: r.token_hash,
            tenant_id: uuid(&r.tenant_id)?,
            user_id: opt_uuid(r.user_id)?,
            purpose: r.purpose,
            state: r.state,
            expires_at: r.expires_at,
            created_at: r.created_at,
        })
    }
}
