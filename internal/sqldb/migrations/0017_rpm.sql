-- Remote patient monitoring: each patient's time zone (the day a reading
-- counts for; '' is the clinic's default), monitoring episodes with their
-- diagnoses and device set-up, and care-management time entries, where a
-- correction is a new row that supersedes an older one (nothing is
-- overwritten).
ALTER TABLE patients ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';

CREATE TABLE monitoring_episodes (
	id                 TEXT PRIMARY KEY,
	patient            TEXT NOT NULL,
	start_date         TEXT NOT NULL, -- YYYY-MM-DD, the patient's calendar
	end_date           TEXT NOT NULL DEFAULT '', -- '' while it runs
	ordering_clinician TEXT NOT NULL,
	diagnoses          TEXT NOT NULL, -- ICD-10-CM codes, comma-separated
	management         TEXT NOT NULL DEFAULT '99457', -- 99457 or 99091
	setup_date         TEXT NOT NULL DEFAULT '', -- device set-up and education (99453)
	setup_by           TEXT NOT NULL DEFAULT '',
	created_by         TEXT NOT NULL,
	created_at         INTEGER NOT NULL
);
CREATE INDEX monitoring_episodes_patient ON monitoring_episodes (patient, start_date);
CREATE INDEX monitoring_episodes_start ON monitoring_episodes (start_date);

CREATE TABLE time_entries (
	id          INTEGER PRIMARY KEY,
	patient     TEXT NOT NULL,
	started_at  INTEGER NOT NULL, -- Unix ms
	seconds     INTEGER NOT NULL,
	clinician   TEXT NOT NULL, -- who spent the time
	kind        TEXT NOT NULL, -- phone_call, data_review, plan_adjustment
	interactive INTEGER NOT NULL,
	note        TEXT NOT NULL DEFAULT '',
	supersedes  INTEGER REFERENCES time_entries (id),
	void        INTEGER NOT NULL DEFAULT 0, -- a correction that withdraws the entry
	recorded_by TEXT NOT NULL,
	recorded_at INTEGER NOT NULL -- Unix ms
);
CREATE INDEX time_entries_patient ON time_entries (patient, started_at);
CREATE INDEX time_entries_started ON time_entries (started_at);
-- An entry is corrected at most once; a correction of a correction goes
-- on the chain.
CREATE UNIQUE INDEX time_entries_supersedes ON time_entries (supersedes) WHERE supersedes IS NOT NULL;
