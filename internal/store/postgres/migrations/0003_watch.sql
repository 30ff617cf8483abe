-- The watch area (internal/store/watch.go, docs/watching.md): alarms and their history, the engine's
-- cursor per device, site lifecycle moves, configuration versions with product-code notices,
-- commissioning records and comparisons. Times are ms since the Unix epoch (0: none); maps and lists
-- that are only ever read whole are JSON text.
CREATE TABLE alarms (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind text NOT NULL,
	site text NOT NULL REFERENCES sites (warehouse),
	device text NOT NULL,
	point text NOT NULL,
	incident bigint NOT NULL,
	state text NOT NULL CHECK (state IN ('open', 'acknowledged', 'closed')),
	opened bigint NOT NULL,
	updated bigint NOT NULL,
	closed bigint NOT NULL,
	restored bigint NOT NULL,
	detail text NOT NULL
);
-- One open (or acknowledged) alarm per key: the engine's "open unless open" is this index.
CREATE UNIQUE INDEX alarms_open_key ON alarms (kind, site, device, point, incident) WHERE state <> 'closed';
CREATE INDEX alarms_site ON alarms (site, opened);
CREATE INDEX alarms_opened ON alarms (opened);
CREATE TABLE alarm_entries (
	alarm bigint NOT NULL REFERENCES alarms (id),
	seq bigint NOT NULL,
	time bigint NOT NULL,
	who text NOT NULL,
	role text NOT NULL,
	action text NOT NULL,
	comment text NOT NULL,
	detail text NOT NULL,
	PRIMARY KEY (alarm, seq)
);
CREATE TABLE watch_cursors (
	name text PRIMARY KEY,
	at bigint NOT NULL
);
-- Leases: who may do the work only one may do over the database at a time (the watch engine's checks
-- when several servers share it). Taken and renewed by one upsert; expires 0: released.
CREATE TABLE watch_leases (
	name text PRIMARY KEY,
	holder text NOT NULL,
	acquired bigint NOT NULL,
	expires bigint NOT NULL
);
CREATE TABLE site_moves (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	site text NOT NULL REFERENCES sites (warehouse),
	from_state text NOT NULL,
	to_state text NOT NULL,
	who text NOT NULL,
	role text NOT NULL,
	time bigint NOT NULL,
	reason text NOT NULL
);
CREATE INDEX site_moves_site ON site_moves (site, id);
CREATE TABLE config_versions (
	site text NOT NULL REFERENCES sites (warehouse),
	version bigint NOT NULL,
	file bytea NOT NULL,
	sha256 bytea NOT NULL,
	uploaded_by text NOT NULL,
	uploaded_at bigint NOT NULL,
	verdict text NOT NULL CHECK (verdict IN ('accepted', 'refused')),
	reasons text NOT NULL,
	PRIMARY KEY (site, version)
);
CREATE TABLE product_notices (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	site text NOT NULL,
	version bigint NOT NULL,
	point text NOT NULL,
	product text NOT NULL,
	change text NOT NULL CHECK (change IN ('added', 'removed')),
	due text NOT NULL,
	given bigint NOT NULL,
	given_by text NOT NULL,
	FOREIGN KEY (site, version) REFERENCES config_versions (site, version)
);
CREATE INDEX product_notices_due ON product_notices (due, id);
CREATE TABLE commissionings (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	site text NOT NULL REFERENCES sites (warehouse),
	time bigint NOT NULL,
	officer text NOT NULL,
	representative text NOT NULL,
	protocol text NOT NULL,
	controller text NOT NULL,
	computer text NOT NULL,
	ups text NOT NULL,
	seals text NOT NULL,
	files text NOT NULL,
	notes text NOT NULL
);
CREATE INDEX commissionings_site ON commissionings (site, id);
CREATE TABLE comparisons (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind text NOT NULL CHECK (kind IN ('test-data', 'three-way')),
	site text NOT NULL REFERENCES sites (warehouse),
	time bigint NOT NULL,
	made_by text NOT NULL,
	period_from bigint NOT NULL,
	period_to bigint NOT NULL,
	sources text NOT NULL,
	matches bigint NOT NULL,
	misses bigint NOT NULL,
	lines text NOT NULL
);
CREATE INDEX comparisons_site ON comparisons (site, time);
