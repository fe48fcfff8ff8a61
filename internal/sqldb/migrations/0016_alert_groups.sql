-- One notification per problem. A patient's open alerts of one problem
-- (alerts.Rule.Problem: a septic patient's NEWS2 and single-vital alerts
-- are one deterioration) belong to one group; the group names the alert
-- its notification leads with (the first of the highest severity) and the
-- highest severity reached, so that webhooks go out once per problem and
-- again only when its severity rises. A group closes when its last alert
-- is resolved; a later alert opens a new one.
CREATE TABLE alert_groups (
	id        INTEGER PRIMARY KEY, -- the id of the problem's first alert
	patient   TEXT NOT NULL,
	problem   TEXT NOT NULL,
	lead      INTEGER NOT NULL,
	severity  TEXT NOT NULL,
	opened_at INTEGER NOT NULL,
	closed_at INTEGER
);
CREATE UNIQUE INDEX alert_groups_one_open ON alert_groups(patient, problem) WHERE closed_at IS NULL;

ALTER TABLE alerts ADD COLUMN group_id INTEGER;
-- The NEWS2 parameters a partial score lacked at firing, comma-separated.
ALTER TABLE alerts ADD COLUMN missing TEXT NOT NULL DEFAULT '';
-- Why a baseline rule fired (JSON alerts.Explanation): the patient's
-- baseline, the recent value, the deviation and the days judged.
ALTER TABLE alerts ADD COLUMN explanation TEXT NOT NULL DEFAULT '';
CREATE INDEX alerts_group ON alerts(group_id);

-- Alerts from before: each its own problem.
INSERT INTO alert_groups (id, patient, problem, lead, severity, opened_at, closed_at)
	SELECT id, patient, 'rule:' || rule, id, severity, fired_at, resolved_at FROM alerts;
UPDATE alerts SET group_id = id;
