-- The registry: who operates which sites, devices and control points, and with which certificates.
CREATE TABLE operators (
	eik text PRIMARY KEY,
	name text NOT NULL,
	excise_number text NOT NULL DEFAULT ''
);
CREATE TABLE sites (
	warehouse text PRIMARY KEY,
	operator text NOT NULL REFERENCES operators (eik),
	name text NOT NULL,
	customs_office text NOT NULL,
	state text NOT NULL CHECK (state IN ('draft', 'approved', 'testing', 'live', 'suspended', 'closed'))
);
CREATE INDEX sites_operator ON sites (operator);
CREATE TABLE devices (
	id text PRIMARY KEY,
	site text NOT NULL REFERENCES sites (warehouse),
	name text NOT NULL DEFAULT ''
);
CREATE INDEX devices_site ON devices (site);
CREATE TABLE points (
	id text PRIMARY KEY,
	device text NOT NULL REFERENCES devices (id),
	name text NOT NULL DEFAULT ''
);
CREATE INDEX points_device ON points (device);
CREATE TABLE certificates (
	fingerprint bytea PRIMARY KEY,
	der bytea NOT NULL,
	operator text NOT NULL REFERENCES operators (eik),
	subject text NOT NULL DEFAULT '',
	not_before bigint NOT NULL,
	not_after bigint NOT NULL,
	revoked bigint NOT NULL DEFAULT 0
);
CREATE INDEX certificates_operator ON certificates (operator);
CREATE TABLE trust_anchors (
	fingerprint bytea PRIMARY KEY,
	der bytea NOT NULL,
	name text NOT NULL DEFAULT ''
);

-- The evidence: per device, its head; every batch; every record's exact bytes.
CREATE TABLE device_heads (
	device text PRIMARY KEY REFERENCES devices (id),
	seq bigint NOT NULL,
	chain bytea NOT NULL,
	batch bytea NOT NULL
);
CREATE TABLE batches (
	device text NOT NULL REFERENCES devices (id),
	first bigint NOT NULL,
	last bigint NOT NULL,
	digest bytea NOT NULL,
	prev_chain bytea NOT NULL,
	last_chain bytea NOT NULL,
	prev_batch bytea NOT NULL,
	created bigint NOT NULL,
	signature bytea NOT NULL,
	signer bytea NOT NULL,
	config text NOT NULL,
	received_at bigint NOT NULL,
	raw bytea NOT NULL,
	leaf bigint NOT NULL UNIQUE,
	PRIMARY KEY (device, first)
);
CREATE TABLE records (
	device text NOT NULL,
	seq bigint NOT NULL,
	hash bytea NOT NULL,
	kind text NOT NULL,
	time bigint NOT NULL,
	point text NOT NULL,
	test boolean NOT NULL,
	bytes bytea NOT NULL,
	PRIMARY KEY (device, seq)
);
CREATE INDEX records_place ON records (device, point, kind, time, seq);

CREATE TABLE incidents (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind text NOT NULL,
	device text NOT NULL,
	first bigint NOT NULL,
	last bigint NOT NULL,
	detail text NOT NULL,
	time bigint NOT NULL
);
CREATE INDEX incidents_time ON incidents (time);
CREATE INDEX incidents_device ON incidents (device, time);

-- The transparency log (RFC 6962, golang.org/x/mod/sumdb/tlog): stored hashes by index, its size, and
-- signed checkpoints.
CREATE TABLE tlog_hashes (
	id bigint PRIMARY KEY,
	hash bytea NOT NULL
);
CREATE TABLE tlog_state (
	id integer PRIMARY KEY CHECK (id = 1),
	size bigint NOT NULL
);
INSERT INTO tlog_state (id, size) VALUES (1, 0);
CREATE TABLE checkpoints (
	size bigint PRIMARY KEY,
	note bytea NOT NULL,
	created bigint NOT NULL
);
