-- The registry: who operates which sites, devices and control points, and with which certificates.
CREATE TABLE operators (
	eik TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	excise_number TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE TABLE sites (
	warehouse TEXT PRIMARY KEY,
	operator TEXT NOT NULL REFERENCES operators (eik),
	name TEXT NOT NULL,
	customs_office TEXT NOT NULL,
	state TEXT NOT NULL CHECK (state IN ('draft', 'approved', 'testing', 'live', 'suspended', 'closed'))
) STRICT;
CREATE INDEX sites_operator ON sites (operator);
CREATE TABLE devices (
	id TEXT PRIMARY KEY,
	site TEXT NOT NULL REFERENCES sites (warehouse),
	name TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX devices_site ON devices (site);
CREATE TABLE points (
	id TEXT PRIMARY KEY,
	device TEXT NOT NULL REFERENCES devices (id),
	name TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX points_device ON points (device);
CREATE TABLE certificates (
	fingerprint BLOB PRIMARY KEY,
	der BLOB NOT NULL,
	operator TEXT NOT NULL REFERENCES operators (eik),
	subject TEXT NOT NULL DEFAULT '',
	not_before INTEGER NOT NULL,
	not_after INTEGER NOT NULL,
	revoked INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX certificates_operator ON certificates (operator);
CREATE TABLE trust_anchors (
	fingerprint BLOB PRIMARY KEY,
	der BLOB NOT NULL,
	name TEXT NOT NULL DEFAULT ''
) STRICT;

-- The evidence: per device, its head; every batch; every record's exact bytes.
CREATE TABLE device_heads (
	device TEXT PRIMARY KEY REFERENCES devices (id),
	seq INTEGER NOT NULL,
	chain BLOB NOT NULL,
	batch BLOB NOT NULL
) STRICT;
CREATE TABLE batches (
	device TEXT NOT NULL REFERENCES devices (id),
	first INTEGER NOT NULL,
	last INTEGER NOT NULL,
	digest BLOB NOT NULL,
	prev_chain BLOB NOT NULL,
	last_chain BLOB NOT NULL,
	prev_batch BLOB NOT NULL,
	created INTEGER NOT NULL,
	signature BLOB NOT NULL,
	signer BLOB NOT NULL,
	config TEXT NOT NULL,
	received_at INTEGER NOT NULL,
	raw BLOB NOT NULL,
	leaf INTEGER NOT NULL UNIQUE,
	PRIMARY KEY (device, first)
) STRICT;
CREATE TABLE records (
	device TEXT NOT NULL,
	seq INTEGER NOT NULL,
	hash BLOB NOT NULL,
	kind TEXT NOT NULL,
	time INTEGER NOT NULL,
	point TEXT NOT NULL,
	test INTEGER NOT NULL,
	bytes BLOB NOT NULL,
	PRIMARY KEY (device, seq)
) STRICT;
CREATE INDEX records_place ON records (device, point, kind, time, seq);

CREATE TABLE incidents (
	id INTEGER PRIMARY KEY,
	kind TEXT NOT NULL,
	device TEXT NOT NULL,
	first INTEGER NOT NULL,
	last INTEGER NOT NULL,
	detail TEXT NOT NULL,
	time INTEGER NOT NULL
) STRICT;
CREATE INDEX incidents_time ON incidents (time);
CREATE INDEX incidents_device ON incidents (device, time);

-- The transparency log (RFC 6962, golang.org/x/mod/sumdb/tlog): stored hashes by index, its size, and
-- signed checkpoints.
CREATE TABLE tlog_hashes (
	id INTEGER PRIMARY KEY,
	hash BLOB NOT NULL
) STRICT;
CREATE TABLE tlog_state (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	size INTEGER NOT NULL
) STRICT;
INSERT INTO tlog_state (id, size) VALUES (1, 0);
CREATE TABLE checkpoints (
	size INTEGER PRIMARY KEY,
	note BLOB NOT NULL,
	created INTEGER NOT NULL
) STRICT;
