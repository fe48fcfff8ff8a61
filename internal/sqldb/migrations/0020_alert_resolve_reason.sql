-- Why a clinician resolved an alert by hand, from a fixed list (the
-- program's alert-burden measure counts the ones not clinically
-- relevant); '' for alerts resolved before it existed, by old clients
-- without it, and for alerts that cleared by themselves.
ALTER TABLE alerts ADD COLUMN resolve_outcome TEXT NOT NULL DEFAULT '';
CREATE INDEX alerts_fired_at ON alerts(fired_at);
