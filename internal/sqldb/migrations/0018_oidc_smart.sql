-- SMART Backend Services: the systems registered to read the FHIR API
-- (their public keys, the scopes they may be granted, the care teams
-- whose patients they may read), the assertion ids they used (refused a
-- second time until the assertion would have expired), and the access
-- tokens issued to them, kept as SHA-256 only.
CREATE TABLE fhir_clients (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	jwks        TEXT NOT NULL DEFAULT '',
	jwks_url    TEXT NOT NULL DEFAULT '',
	scopes      TEXT NOT NULL,
	care_teams  TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	created_by  TEXT NOT NULL,
	revoked_at  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE fhir_client_assertions (
	client_id  TEXT NOT NULL,
	jti        TEXT NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (client_id, jti)
);

CREATE TABLE fhir_access_tokens (
	hash       TEXT PRIMARY KEY,
	client_id  TEXT NOT NULL,
	scopes     TEXT NOT NULL,
	issued_at  INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX fhir_access_tokens_client ON fhir_access_tokens(client_id);

-- sessions.via: how the person signed in when not with a password or a
-- link ('oidc': single sign-on, whose sign-out also ends the provider's
-- session).
ALTER TABLE sessions ADD COLUMN via TEXT NOT NULL DEFAULT '';

-- sessions.scopes: the scopes the provider granted a single sign-on
-- session when Vitalwire asked for SMART user/ scopes (space-separated);
-- its FHIR reads are narrowed to them. Empty: not narrowed.
ALTER TABLE sessions ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
