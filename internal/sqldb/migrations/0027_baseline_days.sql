-- The personal baselines' daily values, kept as each day closes, so that
-- a restart rebuilds the four weeks of every patient from these rows and
-- reads only the days since from the time-series store (docs/ALERTS.md).
-- spec is the rule's vital, hours and minimum slots: a rule changed under
-- the same id starts again from the store.
CREATE TABLE baseline_days (
	patient TEXT NOT NULL,
	rule    TEXT NOT NULL,
	spec    TEXT NOT NULL,
	day     INTEGER NOT NULL, -- days since the epoch of the window's local start date
	value   REAL NOT NULL,
	PRIMARY KEY (patient, rule, day)
) WITHOUT ROWID;
