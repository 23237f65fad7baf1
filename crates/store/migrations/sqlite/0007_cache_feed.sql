-- The change feed of the nodes' hot state (sessions, users, the deny list held in memory): every
-- change to those rows, whoever makes it, is written here and read by every process on this file
-- within 50 ms. Rows are kept a few minutes. PostgreSQL sends the same topics as notifications.
CREATE TABLE cache_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX cache_changes_by_age ON cache_changes (at);

CREATE TRIGGER sessions_changed AFTER UPDATE ON sessions BEGIN
    INSERT INTO cache_changes (topic, at)
    VALUES ('s:' || NEW.tenant_id || ':' || NEW.user_id || ':' || NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions BEGIN
    INSERT INTO cache_changes (topic, at)
    VALUES ('s:' || OLD.tenant_id || ':' || OLD.user_id || ':' || OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER users_changed AFTER UPDATE ON users BEGIN
    INSERT INTO cache_changes (topic, at) VALUES ('u:' || NEW.tenant_id || ':' || NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER users_deleted AFTER DELETE ON users BEGIN
    INSERT INTO cache_changes (topic, at) VALUES ('u:' || OLD.tenant_id || ':' || OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER revoked_tokens_added AFTER INSERT ON revoked_tokens BEGIN
    INSERT INTO cache_changes (topic, at) VALUES ('j:' || NEW.expires_at || ':' || NEW.jti, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER revoked_tokens_deleted AFTER DELETE ON revoked_tokens BEGIN
    INSERT INTO cache_changes (topic, at) VALUES ('jd:' || OLD.jti, CAST(strftime('%s', 'now') AS INTEGER));
END;
