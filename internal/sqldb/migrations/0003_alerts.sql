-- Alerts and their history. At most one open (firing or acknowledged)
-- alert per rule and patient: the partial unique index enforces it.
CREATE TABLE alerts (
	id             INTEGER PRIMARY KEY,
	rule           TEXT NOT NULL,
	patient        TEXT NOT NULL,
	severity       TEXT NOT NULL,
	state          TEXT NOT NULL CHECK (state IN ('firing', 'acknowledged', 'resolved')),
	fired_at       INTEGER NOT NULL,
	value          REAL NOT NULL,
	partial        INTEGER NOT NULL DEFAULT 0,
	acked_by       TEXT NOT NULL DEFAULT '',
	acked_at       INTEGER,
	resolved_by    TEXT NOT NULL DEFAULT '',
	resolved_at    INTEGER,
	resolve_reason TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX alerts_one_open ON alerts(rule, patient) WHERE state != 'resolved';
CREATE INDEX alerts_patient ON alerts(patient, fired_at);

CREATE TABLE alert_events (
	alert_id INTEGER NOT NULL REFERENCES alerts(id),
	at       INTEGER NOT NULL,
	kind     TEXT NOT NULL,
	actor    TEXT NOT NULL,
	detail   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alert_events_alert ON alert_events(alert_id);
