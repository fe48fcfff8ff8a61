-- As ../migrations/0028_webhook_claims.sql.
ALTER TABLE webhook_outbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_outbox ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;
