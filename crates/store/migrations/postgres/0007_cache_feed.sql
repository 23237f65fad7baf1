-- The change feed of the nodes' hot state (sessions, users, the deny list held in memory): every
-- change to those rows, whoever makes it, is sent to the nodes as a notification when it commits.
-- Notifications reach every session of the database, so the channel is named after the schema
-- ('castellan_' and 16 hex digits of its MD5): deployments in other schemas do not hear them.
-- SQLite writes the same topics to a table instead.
CREATE FUNCTION castellan_cache_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r RECORD;
    channel TEXT := 'castellan_' || substr(md5(TG_TABLE_SCHEMA), 1, 16);
BEGIN
    IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    IF TG_TABLE_NAME = 'sessions' THEN
        PERFORM pg_notify(channel, 's:' || r.tenant_id || ':' || r.user_id || ':' || r.id);
    ELSIF TG_TABLE_NAME = 'users' THEN
        PERFORM pg_notify(channel, 'u:' || r.tenant_id || ':' || r.id);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify(channel, 'jd:' || r.jti);
    ELSE
        PERFORM pg_notify(channel, 'j:' || r.expires_at || ':' || r.jti);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_changed AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION castellan_cache_changed();
CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION castellan_cache_changed();
CREATE TRIGGER revoked_tokens_changed AFTER INSERT OR DELETE ON revoked_tokens
    FOR EACH ROW EXECUTE FUNCTION castellan_cache_changed();
