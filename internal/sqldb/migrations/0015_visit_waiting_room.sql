-- Who a clinician has admitted from a visit's waiting room: they enter
-- the call directly when they rejoin (a dropped connection, Leave and
-- Rejoin), for the rest of the visit.
CREATE TABLE visit_admissions (
	visit       TEXT NOT NULL,
	subject     TEXT NOT NULL,
	admitted_by TEXT NOT NULL,
	at          INTEGER NOT NULL,
	PRIMARY KEY (visit, subject)
);
