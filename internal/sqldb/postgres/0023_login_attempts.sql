-- As ../migrations/0023_login_attempts.sql.
CREATE TABLE login_attempts (
	username      TEXT PRIMARY KEY,
	failures      BIGINT NOT NULL DEFAULT 0,
	locked_until  BIGINT NOT NULL DEFAULT 0,
	pending       BIGINT NOT NULL DEFAULT 0,
	pending_until BIGINT NOT NULL DEFAULT 0
);
