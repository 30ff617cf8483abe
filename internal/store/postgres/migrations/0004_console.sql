-- The console: people, the certificates they log in with, sessions and the audit log (docs/console.md).
CREATE TABLE people (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name text NOT NULL,
	email text NOT NULL DEFAULT '',
	role text NOT NULL CHECK (role IN ('operator', 'officer', 'admin')),
	operator text NOT NULL DEFAULT '',
	office text NOT NULL DEFAULT '',
	disabled boolean NOT NULL DEFAULT false,
	created bigint NOT NULL
);
CREATE TABLE person_certificates (
	fingerprint bytea PRIMARY KEY,
	person bigint NOT NULL REFERENCES people (id),
	der bytea NOT NULL,
	subject text NOT NULL DEFAULT '',
	not_after bigint NOT NULL
);
CREATE INDEX person_certificates_person ON person_certificates (person);
CREATE TABLE sessions (
	id text PRIMARY KEY,
	person bigint NOT NULL REFERENCES people (id),
	certificate bytea NOT NULL,
	csrf text NOT NULL,
	created bigint NOT NULL,
	seen bigint NOT NULL,
	expires bigint NOT NULL,
	ends bigint NOT NULL,
	remote text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_expires ON sessions (expires);
CREATE TABLE audit (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time bigint NOT NULL,
	person bigint NOT NULL,
	name text NOT NULL,
	action text NOT NULL,
	site text NOT NULL DEFAULT '',
	object text NOT NULL DEFAULT '',
	detail text NOT NULL DEFAULT '',
	remote text NOT NULL DEFAULT ''
);
CREATE INDEX audit_time ON audit (time);
CREATE INDEX audit_site ON audit (site, time);
CREATE INDEX audit_person ON audit (person, time);
