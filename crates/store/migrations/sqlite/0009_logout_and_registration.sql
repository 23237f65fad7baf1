-- Callbacks carry more than hosted verification results: `kind` says which. A back-channel
-- logout settles no verification, so its row names itself in verification_id (unique, and never
-- a verification's id).
ALTER TABLE callbacks ADD COLUMN kind TEXT NOT NULL DEFAULT 'result';

-- The clients that were given tokens in an OpenID Connect sign-in session and registered a
-- back-channel logout URI: told when the session ends, then forgotten.
CREATE TABLE oidc_session_clients (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, application_id)
);
CREATE INDEX oidc_session_clients_by_user ON oidc_session_clients (tenant_id, user_id);

-- Dynamic client registration (RFC 7591/7592): initial access tokens (no application; spent one
-- use at a time until they run out or expire) and each registered client's registration access
-- token. Only HMACs of the tokens are kept.
CREATE TABLE oidc_registration_tokens (
    token_hash BLOB PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    application_id TEXT REFERENCES applications(id) ON DELETE CASCADE,
    uses_left BIGINT,
    expires_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX oidc_registration_tokens_by_app ON oidc_registration_tokens (application_id);

-- The client secret of a client that authenticates with client_secret_jwt, sealed under the
-- master key: the server needs the secret itself to check an HMAC-signed assertion. Other
-- clients keep only the HMAC of their secret.
ALTER TABLE applications ADD COLUMN client_secret_sealed BLOB;
