-- A patient's administrative gender (FHIR's male, female, other, unknown;
-- '' when not recorded) and the parts of their name, for systems that
-- file by family name: given names are kept as a JSON array of strings
-- ('' when not recorded). The name column stays the name as shown.
ALTER TABLE patients ADD COLUMN gender TEXT NOT NULL DEFAULT '';
ALTER TABLE patients ADD COLUMN family TEXT NOT NULL DEFAULT '';
ALTER TABLE patients ADD COLUMN given TEXT NOT NULL DEFAULT '';
-- Who made a device, as its label says ('' when not recorded).
ALTER TABLE devices ADD COLUMN manufacturer TEXT NOT NULL DEFAULT '';
