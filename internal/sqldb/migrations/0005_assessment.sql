-- What a clinician last assessed: consciousness (ACVPU) for NEWS2, with
-- who and when; on_oxygen is updated by the same assessment.
ALTER TABLE patients ADD COLUMN consciousness TEXT NOT NULL DEFAULT '';
ALTER TABLE patients ADD COLUMN assessed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE patients ADD COLUMN assessed_at INTEGER;
