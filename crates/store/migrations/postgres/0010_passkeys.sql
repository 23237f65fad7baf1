-- WebAuthn credentials: passkeys (discoverable) and security keys, many per user. `data` is the
-- relying party library's record (public key, counter, flags); the columns beside it are what
-- queries and the console read.
CREATE TABLE webauthn_credentials (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    aaguid TEXT,
    sign_count BIGINT NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    UNIQUE (tenant_id, credential_id)
);
CREATE INDEX webauthn_credentials_by_user ON webauthn_credentials (tenant_id, user_id);

-- Registrations and sign-ins begun: the library's state (its challenge), found by the HMAC of
-- the token the browser holds, spent once, by whichever node finishes it.
CREATE TABLE webauthn_ceremonies (
    token_hash BYTEA PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_by_expiry ON webauthn_ceremonies (expires_at);

-- Recovery codes: ten per user, single use, only their HMACs kept.
CREATE TABLE recovery_codes (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash BYTEA NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);
