-- Hosted second-factor verification (the eauthenticator dialect).

-- The secret that signs an application's callbacks, sealed under the master key (it must be read
-- back to sign, so it cannot be a one-way hash).
ALTER TABLE applications ADD COLUMN callback_secret_sealed BLOB;

-- A TOTP factor belongs to the pair (user, application): each business enables its own.
CREATE TABLE app_totp_factors (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret_sealed BLOB NOT NULL,
    algorithm TEXT NOT NULL,
    digits BIGINT NOT NULL,
    period BIGINT NOT NULL,
    last_step BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (application_id, user_id)
);

-- One row per session token: the hosted verification it opens, from issue to result.
CREATE TABLE verifications (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    status TEXT NOT NULL,
    tries BIGINT NOT NULL,
    ip TEXT,
    expires_at BIGINT NOT NULL,
    finished_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX verifications_by_app ON verifications (application_id, created_at);

-- Server-to-server result callbacks, kept until delivered or given up (times in milliseconds).
CREATE TABLE callbacks (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    verification_id TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    query TEXT NOT NULL,
    status TEXT NOT NULL,
    tries BIGINT NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    deadline_ms BIGINT NOT NULL,
    lease_until_ms BIGINT,
    last_status BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX callbacks_due ON callbacks (status, next_attempt_ms);
CREATE INDEX api_keys_by_app ON api_keys (application_id);
