-- One-time codes addressed by a caller-chosen key (MOSIP sendotp/useridOTP, otpmanager). The key
-- itself is stored only as an HMAC; one live code per key.
CREATE TABLE key_otps (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    key_hash BLOB NOT NULL,
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    -- The application the code was sent for (a login code's appId).
    application_id TEXT,
    secret_hash BLOB NOT NULL,
    attempts BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    frozen_until BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, key_hash)
);
CREATE INDEX key_otps_by_key ON key_otps (key_hash, created_at);
CREATE INDEX key_otps_by_expiry ON key_otps (expires_at);

-- Access tokens ended before their expiry (by `jti`), kept until they would have expired.
CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at);
