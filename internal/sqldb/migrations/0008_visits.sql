-- Telehealth visits, who may join them, when each joined and left, and the
-- Encounter a visit leaves in the chart.
CREATE TABLE visits (
	id           TEXT PRIMARY KEY,
	patient      TEXT NOT NULL,
	created_by   TEXT NOT NULL,
	state        TEXT NOT NULL, -- scheduled, waiting, in_progress, ended
	scheduled_at INTEGER NOT NULL,
	started_at   INTEGER,
	ended_at     INTEGER,
	note         TEXT NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL
);
CREATE INDEX visits_patient ON visits(patient, scheduled_at);

CREATE TABLE visit_invites (
	visit      TEXT NOT NULL,
	subject    TEXT NOT NULL,
	role       TEXT NOT NULL, -- clinician or interpreter
	invited_by TEXT NOT NULL,
	at         INTEGER NOT NULL,
	PRIMARY KEY (visit, subject)
);

CREATE TABLE visit_presence (
	id        INTEGER PRIMARY KEY,
	visit     TEXT NOT NULL,
	subject   TEXT NOT NULL,
	role      TEXT NOT NULL, -- patient, clinician, interpreter
	joined_at INTEGER NOT NULL, -- Unix ms
	left_at   INTEGER
);
CREATE INDEX visit_presence_visit ON visit_presence(visit);

CREATE TABLE encounters (
	visit      TEXT PRIMARY KEY,
	patient    TEXT NOT NULL,
	body       TEXT NOT NULL, -- JSON: period, participants, summaries, alerts, note
	created_at INTEGER NOT NULL
);
CREATE INDEX encounters_patient ON encounters(patient);
