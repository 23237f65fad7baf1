-- The eauthenticator hosted page may offer the user's passkeys and security keys beside the
-- authenticator app's code: an option per application, off until its owner turns it on.
ALTER TABLE applications ADD COLUMN hosted_webauthn BOOLEAN NOT NULL DEFAULT FALSE;
