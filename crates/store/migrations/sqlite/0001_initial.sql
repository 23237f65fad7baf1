-- The initial schema (the PostgreSQL twin differs only in BYTEA for BLOB).
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    profile TEXT NOT NULL,
    dialects TEXT NOT NULL,
    issuer TEXT NOT NULL,
    audience TEXT NOT NULL,
    policy TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    secret_hash BLOB,
    kumusoft_tag TEXT UNIQUE,
    mosip_app_id TEXT UNIQUE,
    roles TEXT NOT NULL,
    allowed_ips TEXT NOT NULL,
    callback_url TEXT,
    redirect_uris TEXT NOT NULL,
    single_otp_channel TEXT,
    active BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    prefix TEXT NOT NULL,
    key_hash BLOB NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email TEXT,
    username TEXT,
    phone TEXT,
    uin TEXT,
    password_hash TEXT,
    first_name TEXT,
    last_name TEXT,
    role TEXT NOT NULL,
    roles TEXT NOT NULL,
    permissions TEXT NOT NULL,
    attributes TEXT NOT NULL,
    email_verified BOOLEAN NOT NULL,
    phone_verified BOOLEAN NOT NULL,
    active BOOLEAN NOT NULL,
    mfa_enabled BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant_id, email),
    UNIQUE (tenant_id, username),
    UNIQUE (tenant_id, phone),
    UNIQUE (tenant_id, uin)
);

CREATE TABLE lockouts (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    failures BIGINT NOT NULL,
    locked_until BIGINT,
    PRIMARY KEY (tenant_id, subject)
);

CREATE TABLE totp_factors (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    secret_sealed BLOB NOT NULL,
    algorithm TEXT NOT NULL,
    digits BIGINT NOT NULL,
    period BIGINT NOT NULL,
    enabled BOOLEAN NOT NULL,
    last_step BIGINT,
    created_at BIGINT NOT NULL
);

CREATE TABLE challenges (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    attempts BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX challenges_by_secret ON challenges (tenant_id, kind, secret_hash);
CREATE INDEX challenges_by_user ON challenges (user_id, kind);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    application_id TEXT,
    dialect TEXT NOT NULL,
    device TEXT NOT NULL,
    ip TEXT,
    user_agent TEXT,
    created_at BIGINT NOT NULL,
    last_active BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_by_user ON sessions (user_id, revoked_at);

CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL UNIQUE,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    alg TEXT NOT NULL,
    state TEXT NOT NULL,
    private_sealed BLOB NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);
CREATE INDEX signing_keys_by_tenant ON signing_keys (tenant_id);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    tenant_id TEXT,
    application_id TEXT,
    user_id TEXT,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    ip TEXT,
    user_agent TEXT,
    detail TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_by_tenant ON audit_events (tenant_id, created_at);

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    tenant_id TEXT,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    transport TEXT,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE admin_tokens (
    id TEXT PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
