-- Each outbox row is claimed by the node delivering it, until a time:
-- nodes sharing one records database deliver each row once, and a row
-- claimed by a node that died is taken over when its claim expires.
ALTER TABLE webhook_outbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_outbox ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0;
