-- Browser sign-in: people with passwords (argon2id), sessions (the SHA-256
-- of the cookie, never the cookie), and one-time sign-in links already used.
CREATE TABLE users (
	username   TEXT PRIMARY KEY,
	subject    TEXT NOT NULL,
	role       TEXT NOT NULL,
	hash       TEXT NOT NULL,
	updated_at INTEGER NOT NULL,
	disabled   INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
	id_hash    TEXT PRIMARY KEY,
	jti        TEXT NOT NULL,
	subject    TEXT NOT NULL,
	role       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);

CREATE TABLE signin_links_used (
	jti        TEXT PRIMARY KEY,
	used_at    INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
