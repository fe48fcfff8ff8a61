-- Where the audit chain's keyed part begins: from keyed_from on, each
-- event's hash is an HMAC-SHA256 under a key kept outside this database
-- (auth.audit.chain_key_file); the events before it keep their SHA-256
-- links, and event keyed_from chains to the last of them (prev_hash),
-- so the key also seals the unkeyed part as it was. mac is the anchor's
-- own HMAC under the key: the row cannot be moved or forged without it.
CREATE TABLE audit_chain (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	keyed_from INTEGER NOT NULL,
	prev_hash  TEXT NOT NULL,
	mac        TEXT NOT NULL
);
