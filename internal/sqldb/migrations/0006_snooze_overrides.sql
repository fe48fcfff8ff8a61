-- Snoozed rules per patient, and per-patient overrides of rule levels.
CREATE TABLE alert_snoozes (
	id      INTEGER PRIMARY KEY,
	patient TEXT NOT NULL,
	rule    TEXT NOT NULL,
	until   INTEGER NOT NULL,
	reason  TEXT NOT NULL,
	by      TEXT NOT NULL,
	at      INTEGER NOT NULL
);
CREATE INDEX alert_snoozes_patient ON alert_snoozes(patient, rule, until);

CREATE TABLE rule_overrides (
	patient TEXT NOT NULL,
	rule    TEXT NOT NULL,
	level   REAL NOT NULL,
	clear   REAL,
	by      TEXT NOT NULL,
	at      INTEGER NOT NULL,
	PRIMARY KEY (patient, rule)
);
