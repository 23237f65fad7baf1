-- OpenID Connect beyond the code flow: device authorization grants (RFC 8628), pushed
-- authorization requests (RFC 9126), and the identifiers of one-time JWTs (client assertions,
-- DPoP proofs) seen recently, which every node consults before accepting one.
CREATE TABLE oidc_device_grants (
    device_hash BYTEA PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    user_code_hash BYTEA NOT NULL,
    scopes TEXT NOT NULL,
    status TEXT NOT NULL,
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    session_id TEXT,
    data TEXT NOT NULL,
    interval_seconds BIGINT NOT NULL,
    polled_at BIGINT,
    slowed BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX oidc_device_grants_by_user_code ON oidc_device_grants (tenant_id, user_code_hash);
CREATE INDEX oidc_device_grants_by_expiry ON oidc_device_grants (expires_at);

CREATE TABLE oidc_pushed_requests (
    request_hash BYTEA PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    params TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX oidc_pushed_requests_by_expiry ON oidc_pushed_requests (expires_at);

CREATE TABLE oidc_seen_jtis (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    jti_hash BYTEA NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, jti_hash)
);
CREATE INDEX oidc_seen_jtis_by_expiry ON oidc_seen_jtis (expires_at);
