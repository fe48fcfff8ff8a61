-- Wrong passwords per account, shared by every node of the records
-- database (and kept across restarts): failures in a row and when the
-- lock they caused ends; pending, the attempts reserved and being
-- checked right now, and pending_until, after which a reservation is a
-- crashed check's and counts no more. Times are Unix nanoseconds.
CREATE TABLE login_attempts (
	username      TEXT PRIMARY KEY,
	failures      INTEGER NOT NULL DEFAULT 0,
	locked_until  INTEGER NOT NULL DEFAULT 0,
	pending       INTEGER NOT NULL DEFAULT 0,
	pending_until INTEGER NOT NULL DEFAULT 0
);
