-- Credentials an admin issues for another person (a sign-in link, a
-- password the admin set), listed for review; the sessions they open, and
-- every access in them, name the admin. A session minted by a link keeps
-- the link's id, so that revoking the link ends the session.
CREATE TABLE issued_credentials (
	id              INTEGER PRIMARY KEY,
	kind            TEXT NOT NULL, -- signin-link | password
	issued_by       TEXT NOT NULL,
	subject         TEXT NOT NULL,
	role            TEXT NOT NULL,
	username        TEXT NOT NULL DEFAULT '',
	jti             TEXT NOT NULL DEFAULT '',
	issued_at       INTEGER NOT NULL,
	expires_at      INTEGER,
	used_at         INTEGER,
	used_from       TEXT NOT NULL DEFAULT '',
	password_set_at INTEGER
);
CREATE INDEX issued_credentials_jti ON issued_credentials(jti);
CREATE INDEX issued_credentials_at ON issued_credentials(issued_at);

-- users.issued: the issued_credentials row of a password an admin set and
-- the person has not replaced yet (0: their own).
ALTER TABLE users ADD COLUMN issued INTEGER NOT NULL DEFAULT 0;

-- sessions.issued / issued_by: the admin-issued credential the session was
-- opened with; pending: what it must do first ('set-password'); origin:
-- the id of the link that minted it.
ALTER TABLE sessions ADD COLUMN issued INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN issued_by TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN pending TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN origin TEXT NOT NULL DEFAULT '';
CREATE INDEX sessions_origin ON sessions(origin);

ALTER TABLE audit_events ADD COLUMN issued_by TEXT NOT NULL DEFAULT '';
