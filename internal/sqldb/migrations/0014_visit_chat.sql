-- The text chat of a visit, kept with the visit and attached to its
-- Encounter.
CREATE TABLE visit_messages (
	id      INTEGER PRIMARY KEY,
	visit   TEXT NOT NULL,
	subject TEXT NOT NULL,
	role    TEXT NOT NULL,
	text    TEXT NOT NULL,
	at      INTEGER NOT NULL
);
CREATE INDEX visit_messages_visit ON visit_messages (visit, id);
