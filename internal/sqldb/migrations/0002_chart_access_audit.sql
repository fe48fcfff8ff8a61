-- Patients and care teams (chart), token revocation, break-glass grants,
-- and the hash-chained audit log.
CREATE TABLE patients (
	id          TEXT PRIMARY KEY,
	mrn         TEXT NOT NULL UNIQUE,
	name        TEXT NOT NULL,
	birth_date  TEXT NOT NULL,
	spo2_scale  INTEGER NOT NULL DEFAULT 1 CHECK (spo2_scale IN (1, 2)),
	on_oxygen   INTEGER NOT NULL DEFAULT 0,
	notes       TEXT NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL
);

CREATE TABLE care_teams (
	id   TEXT PRIMARY KEY,
	name TEXT NOT NULL
);

-- kind is 'clinician' or 'patient'; a clinician may be in several teams.
CREATE TABLE care_team_members (
	team_id TEXT NOT NULL REFERENCES care_teams(id),
	member  TEXT NOT NULL,
	kind    TEXT NOT NULL CHECK (kind IN ('clinician', 'patient')),
	PRIMARY KEY (team_id, kind, member)
);
CREATE INDEX care_team_members_member ON care_team_members(member, kind);

CREATE TABLE revoked_tokens (
	jti        TEXT PRIMARY KEY,
	expires    INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL
);

CREATE TABLE break_glass (
	id         INTEGER PRIMARY KEY,
	subject    TEXT NOT NULL,
	role       TEXT NOT NULL,
	patient    TEXT NOT NULL,
	reason     TEXT NOT NULL,
	granted_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX break_glass_subject ON break_glass(subject, patient);

-- Each event carries the hash of the one before it: editing or deleting a
-- row breaks the chain at that row.
CREATE TABLE audit_events (
	seq         INTEGER PRIMARY KEY,
	at          INTEGER NOT NULL,
	actor       TEXT NOT NULL,
	role        TEXT NOT NULL,
	action      TEXT NOT NULL,
	patient     TEXT NOT NULL,
	resource    TEXT NOT NULL,
	outcome     TEXT NOT NULL,
	source      TEXT NOT NULL,
	break_glass INTEGER NOT NULL DEFAULT 0,
	prev_hash   TEXT NOT NULL,
	hash        TEXT NOT NULL
);
CREATE INDEX audit_events_patient ON audit_events(patient, at);
CREATE INDEX audit_events_at ON audit_events(at);
