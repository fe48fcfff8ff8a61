-- An Encounter follows its visit: each change (a note, the end) is a new
-- version; every version is kept and readable (FHIR _history).
ALTER TABLE encounters ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
CREATE TABLE encounter_versions (
	visit      TEXT NOT NULL,
	version    INTEGER NOT NULL,
	body       TEXT NOT NULL, -- JSON, as encounters.body
	created_at INTEGER NOT NULL,
	PRIMARY KEY (visit, version)
);
INSERT INTO encounter_versions (visit, version, body, created_at) SELECT visit, 1, body, created_at FROM encounters;
