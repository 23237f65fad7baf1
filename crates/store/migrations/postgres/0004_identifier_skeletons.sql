-- The Unicode TR39 confusable skeletons of each user's email and username, unique per tenant, so
-- that an identifier that merely looks like an existing one (Cyrillic for Latin letters,
-- fullwidth forms) is refused as taken, race-free. The store computes them on every write;
-- rows written before this migration get theirs at the start that applies it (SqlStore::migrate). A
-- NULL skeleton never clashes, so rows that already look alike keep working.
ALTER TABLE users ADD COLUMN email_skeleton TEXT;
ALTER TABLE users ADD COLUMN username_skeleton TEXT;
CREATE UNIQUE INDEX users_email_skeleton ON users (tenant_id, email_skeleton);
CREATE UNIQUE INDEX users_username_skeleton ON users (tenant_id, username_skeleton);
