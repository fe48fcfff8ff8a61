-- Care teams name escalation contacts: clinicians of the team paged when an
-- alert of one of its patients is not acknowledged in time. SQLite cannot
-- change a CHECK constraint, so the table is rebuilt.
CREATE TABLE care_team_members_new (
	team_id TEXT NOT NULL REFERENCES care_teams(id),
	member  TEXT NOT NULL,
	kind    TEXT NOT NULL CHECK (kind IN ('clinician', 'patient', 'escalation')),
	PRIMARY KEY (team_id, kind, member)
);
INSERT INTO care_team_members_new (team_id, member, kind) SELECT team_id, member, kind FROM care_team_members;
DROP TABLE care_team_members;
ALTER TABLE care_team_members_new RENAME TO care_team_members;
CREATE INDEX care_team_members_member ON care_team_members(member, kind);
