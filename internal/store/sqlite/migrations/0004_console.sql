-- The console: people, the certificates they log in with, sessions and the audit log (docs/console.md).
CREATE TABLE people (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	email TEXT NOT NULL DEFAULT '',
	role TEXT NOT NULL CHECK (role IN ('operator', 'officer', 'admin')),
	operator TEXT NOT NULL DEFAULT '',
	office TEXT NOT NULL DEFAULT '',
	disabled INTEGER NOT NULL DEFAULT 0,
	created INTEGER NOT NULL
) STRICT;
CREATE TABLE person_certificates (
	fingerprint BLOB PRIMARY KEY,
	person INTEGER NOT NULL REFERENCES people (id),
	der BLOB NOT NULL,
	subject TEXT NOT NULL DEFAULT '',
	not_after INTEGER NOT NULL
) STRICT;
CREATE INDEX person_certificates_person ON person_certificates (person);
CREATE TABLE sessions (
	id TEXT PRIMARY KEY,
	person INTEGER NOT NULL REFERENCES people (id),
	certificate BLOB NOT NULL,
	csrf TEXT NOT NULL,
	created INTEGER NOT NULL,
	seen INTEGER NOT NULL,
	expires INTEGER NOT NULL,
	ends INTEGER NOT NULL,
	remote TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX sessions_expires ON sessions (expires);
CREATE TABLE audit (
	id INTEGER PRIMARY KEY,
	time INTEGER NOT NULL,
	person INTEGER NOT NULL,
	name TEXT NOT NULL,
	action TEXT NOT NULL,
	site TEXT NOT NULL DEFAULT '',
	object TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT '',
	remote TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_time ON audit (time);
CREATE INDEX audit_site ON audit (site, time);
CREATE INDEX audit_person ON audit (person, time);
