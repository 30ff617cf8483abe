-- The watch area (internal/store/watch.go, docs/watching.md): alarms and their history, the engine's
-- cursor per device, site lifecycle moves, configuration versions with product-code notices,
-- commissioning records and comparisons. Times are ms since the Unix epoch (0: none); maps and lists
-- that are only ever read whole are JSON text.
CREATE TABLE alarms (
	id INTEGER PRIMARY KEY,
	kind TEXT NOT NULL,
	site TEXT NOT NULL REFERENCES sites (warehouse),
	device TEXT NOT NULL,
	point TEXT NOT NULL,
	incident INTEGER NOT NULL,
	state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'closed')),
	opened INTEGER NOT NULL,
	updated INTEGER NOT NULL,
	closed INTEGER NOT NULL,
	restored INTEGER NOT NULL,
	detail TEXT NOT NULL
) STRICT;
-- One open (or acknowledged) alarm per key: the engine's "open unless open" is this index.
CREATE UNIQUE INDEX alarms_open_key ON alarms (kind, site, device, point, incident) WHERE state <> 'closed';
CREATE INDEX alarms_site ON alarms (site, opened);
CREATE INDEX alarms_opened ON alarms (opened);
CREATE TABLE alarm_entries (
	alarm INTEGER NOT NULL REFERENCES alarms (id),
	seq INTEGER NOT NULL,
	time INTEGER NOT NULL,
	who TEXT NOT NULL,
	role TEXT NOT NULL,
	action TEXT NOT NULL,
	comment TEXT NOT NULL,
	detail TEXT NOT NULL,
	PRIMARY KEY (alarm, seq)
) STRICT;
CREATE TABLE watch_cursors (
	name TEXT PRIMARY KEY,
	at INTEGER NOT NULL
) STRICT;
-- Leases: who may do the work only one may do over the database at a time (the watch engine's checks
-- when several servers share it). Taken and renewed by one upsert; expires 0: released.
CREATE TABLE watch_leases (
	name TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	acquired INTEGER NOT NULL,
	expires INTEGER NOT NULL
) STRICT;
CREATE TABLE site_moves (
	id INTEGER PRIMARY KEY,
	site TEXT NOT NULL REFERENCES sites (warehouse),
	from_state TEXT NOT NULL,
	to_state TEXT NOT NULL,
	who TEXT NOT NULL,
	role TEXT NOT NULL,
	time INTEGER NOT NULL,
	reason TEXT NOT NULL
) STRICT;
CREATE INDEX site_moves_site ON site_moves (site, id);
CREATE TABLE config_versions (
	site TEXT NOT NULL REFERENCES sites (warehouse),
	version INTEGER NOT NULL,
	file BLOB NOT NULL,
	sha256 BLOB NOT NULL,
	uploaded_by TEXT NOT NULL,
	uploaded_at INTEGER NOT NULL,
	verdict TEXT NOT NULL CHECK (verdict IN ('accepted', 'refused')),
	reasons TEXT NOT NULL,
	PRIMARY KEY (site, version)
) STRICT;
CREATE TABLE product_notices (
	id INTEGER PRIMARY KEY,
	site TEXT NOT NULL,
	version INTEGER NOT NULL,
	point TEXT NOT NULL,
	product TEXT NOT NULL,
	change TEXT NOT NULL CHECK (change IN ('added', 'removed')),
	due TEXT NOT NULL,
	given INTEGER NOT NULL,
	given_by TEXT NOT NULL,
	FOREIGN KEY (site, version) REFERENCES config_versions (site, version)
) STRICT;
CREATE INDEX product_notices_due ON product_notices (due, id);
CREATE TABLE commissionings (
	id INTEGER PRIMARY KEY,
	site TEXT NOT NULL REFERENCES sites (warehouse),
	time INTEGER NOT NULL,
	officer TEXT NOT NULL,
	representative TEXT NOT NULL,
	protocol TEXT NOT NULL,
	controller TEXT NOT NULL,
	computer TEXT NOT NULL,
	ups TEXT NOT NULL,
	seals TEXT NOT NULL,
	files TEXT NOT NULL,
	notes TEXT NOT NULL
) STRICT;
CREATE INDEX commissionings_site ON commissionings (site, id);
CREATE TABLE comparisons (
	id INTEGER PRIMARY KEY,
	kind TEXT NOT NULL CHECK (kind IN ('test-data', 'three-way')),
	site TEXT NOT NULL REFERENCES sites (warehouse),
	time INTEGER NOT NULL,
	made_by TEXT NOT NULL,
	period_from INTEGER NOT NULL,
	period_to INTEGER NOT NULL,
	sources TEXT NOT NULL,
	matches INTEGER NOT NULL,
	misses INTEGER NOT NULL,
	lines TEXT NOT NULL
) STRICT;
CREATE INDEX comparisons_site ON comparisons (site, time);
