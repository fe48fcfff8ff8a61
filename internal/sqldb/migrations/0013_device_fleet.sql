-- Fleets arrive from shipping lists: a device's serial number and model, as
-- its maker labels it, are kept for finding it again.
ALTER TABLE devices ADD COLUMN serial TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN model TEXT NOT NULL DEFAULT '';
