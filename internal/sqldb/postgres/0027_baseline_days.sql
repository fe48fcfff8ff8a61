-- As ../migrations/0027_baseline_days.sql.
CREATE TABLE baseline_days (
	patient TEXT NOT NULL,
	rule    TEXT NOT NULL,
	spec    TEXT NOT NULL,
	day     BIGINT NOT NULL,
	value   DOUBLE PRECISION NOT NULL,
	PRIMARY KEY (patient, rule, day)
);
