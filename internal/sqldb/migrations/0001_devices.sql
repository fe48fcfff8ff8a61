-- Devices and their credentials. secret_hash is an argon2id PHC string;
-- mqtt_hash is the same secret hashed in Mosquitto's PBKDF2-SHA512 format so
-- that `vitalwire mosquitto-config` can write a password file without ever
-- holding the secret.
CREATE TABLE devices (
	id          TEXT PRIMARY KEY,
	kind        TEXT NOT NULL DEFAULT '',
	secret_hash TEXT NOT NULL,
	mqtt_hash   TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	revoked_at  INTEGER,
	last_seen   INTEGER,
	online      INTEGER NOT NULL DEFAULT 0,
	battery     REAL,
	firmware    TEXT NOT NULL DEFAULT ''
);

-- Which patient a device measured, over time. [from_ns, to_ns); to_ns NULL
-- means still bound. Readings are attributed by their own time.
CREATE TABLE device_bindings (
	device_id TEXT NOT NULL REFERENCES devices(id),
	patient   TEXT NOT NULL,
	from_ns   INTEGER NOT NULL,
	to_ns     INTEGER,
	PRIMARY KEY (device_id, from_ns)
);
CREATE INDEX device_bindings_patient ON device_bindings(patient);
