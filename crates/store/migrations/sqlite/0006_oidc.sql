-- OpenID Connect: applications are clients with settings of their own (one JSON document, every
-- field with a default, so existing applications are clients of their kind), refresh tokens may be
-- bound to the client they were issued to (with what was granted), authorization codes, and the consents users remember.
ALTER TABLE applications ADD COLUMN oidc TEXT NOT NULL DEFAULT '{}';
ALTER TABLE refresh_tokens ADD COLUMN application_id TEXT;
ALTER TABLE refresh_tokens ADD COLUMN grant_data TEXT;

CREATE TABLE oidc_codes (
    code_hash BLOB PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id TEXT NOT NULL,
    data TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX oidc_codes_by_expiry ON oidc_codes (expires_at);

CREATE TABLE oidc_consents (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, application_id)
);
