-- The notices area („Обратна връзка с ИО“; internal/store/notices.go, docs/notices.md): the catalogue of
-- information systems and who may follow which, subscriptions, notices with their revisions, the outbox.
CREATE TABLE info_systems (
	code text PRIMARY KEY,
	name text NOT NULL,
	name_en text NOT NULL DEFAULT ''
);
-- A grant names an EIK or a certificate (the other is '' / empty).
CREATE TABLE system_grants (
	system text NOT NULL REFERENCES info_systems (code),
	eik text NOT NULL,
	certificate bytea NOT NULL,
	PRIMARY KEY (system, eik, certificate)
);
CREATE INDEX system_grants_eik ON system_grants (eik);
CREATE INDEX system_grants_certificate ON system_grants (certificate);
CREATE TABLE subscriptions (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	usr text NOT NULL,
	eik text NOT NULL,
	system text NOT NULL REFERENCES info_systems (code),
	first_name text NOT NULL,
	last_name text NOT NULL,
	email text NOT NULL,
	lang text NOT NULL,
	events text NOT NULL,
	delivery text NOT NULL CHECK (delivery IN ('email', 'email-attachment')),
	active boolean NOT NULL,
	confirmed boolean NOT NULL,
	token text NOT NULL,
	unsubscribe text NOT NULL UNIQUE,
	quarantined bigint NOT NULL DEFAULT 0,
	bounce text NOT NULL DEFAULT '',
	created bigint NOT NULL,
	updated bigint NOT NULL,
	UNIQUE (usr, system)
);
CREATE INDEX subscriptions_system ON subscriptions (system);
CREATE INDEX subscriptions_email ON subscriptions (email);
CREATE INDEX subscriptions_token ON subscriptions (token);
CREATE TABLE notices (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	system text NOT NULL REFERENCES info_systems (code),
	kind text NOT NULL CHECK (kind IN ('document', 'operability', 'nomenclature')),
	revs bigint NOT NULL,
	updated bigint NOT NULL
);
CREATE INDEX notices_system ON notices (system, updated);
CREATE TABLE notice_revisions (
	notice bigint NOT NULL REFERENCES notices (id),
	rev bigint NOT NULL,
	action text NOT NULL,
	title text NOT NULL,
	text text NOT NULL,
	title_en text NOT NULL,
	text_en text NOT NULL,
	link text NOT NULL,
	planned boolean NOT NULL,
	starts bigint NOT NULL,
	ends bigint NOT NULL,
	code_list text NOT NULL,
	version text NOT NULL,
	eu_common boolean NOT NULL,
	file_name text NOT NULL,
	file_type text NOT NULL,
	file bytea NOT NULL,
	author text NOT NULL,
	published bigint NOT NULL,
	PRIMARY KEY (notice, rev)
);
-- Signed webhooks: an operator's endpoint that receives the notices of one system as JSON.
CREATE TABLE webhooks (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	usr text NOT NULL,
	eik text NOT NULL,
	system text NOT NULL REFERENCES info_systems (code),
	url text NOT NULL,
	secret text NOT NULL,
	events text NOT NULL,
	active boolean NOT NULL,
	created bigint NOT NULL
);
CREATE INDEX webhooks_system ON webhooks (system);
-- One row per message: (revision, subscription) for notices, plus reminders and confirmations, and
-- (revision, webhook) for webhooks (subscription 0), and (alarm entry, person) for alarms told by e-mail
-- to the people of the console (kind 'alarm': alarm, entry and person set, notice, subscription and webhook
-- 0; docs/watching.md). key is the deterministic Message-ID's local part (the webhook-id of a webhook), so
-- a message is never queued twice.
CREATE TABLE outbox (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	key text NOT NULL UNIQUE,
	kind text NOT NULL CHECK (kind IN ('notice', 'reminder', 'confirm', 'webhook', 'alarm')),
	notice bigint NOT NULL,
	rev bigint NOT NULL,
	subscription bigint NOT NULL,
	webhook bigint NOT NULL,
	alarm bigint NOT NULL DEFAULT 0,
	entry bigint NOT NULL DEFAULT 0,
	person bigint NOT NULL DEFAULT 0,
	state text NOT NULL CHECK (state IN ('pending', 'sending', 'unsure', 'sent', 'failed', 'cancelled')),
	attempts bigint NOT NULL,
	next_attempt bigint NOT NULL,
	claimed_at bigint NOT NULL,
	error text NOT NULL,
	sent_at bigint NOT NULL,
	created bigint NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt);
CREATE INDEX outbox_notice ON outbox (notice, rev);
CREATE INDEX outbox_subscription ON outbox (subscription);
CREATE INDEX outbox_alarm ON outbox (alarm);
