-- Outgoing webhook deliveries: an outbox, so that a restart or a receiver
-- outage loses none. Delivered rows are kept for a day for inspection.
CREATE TABLE webhook_outbox (
	id              INTEGER PRIMARY KEY,
	url             TEXT NOT NULL,
	idempotency_key TEXT NOT NULL,
	payload         BLOB NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_at         INTEGER NOT NULL,
	delivered_at    INTEGER,
	last_error      TEXT NOT NULL DEFAULT '',
	UNIQUE (url, idempotency_key)
);
CREATE INDEX webhook_outbox_due ON webhook_outbox(next_at) WHERE delivered_at IS NULL;

-- When an unacknowledged alert was escalated (severity raised one step).
ALTER TABLE alerts ADD COLUMN escalated_at INTEGER;
