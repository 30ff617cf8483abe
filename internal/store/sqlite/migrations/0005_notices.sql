-- The notices area („Обратна връзка с ИО“; internal/store/notices.go, docs/notices.md): the catalogue of
-- information systems and who may follow which, subscriptions, notices with their revisions, the outbox.
CREATE TABLE info_systems (
	code TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	name_en TEXT NOT NULL DEFAULT ''
) STRICT;
-- A grant names an EIK or a certificate (the other is '' / empty).
CREATE TABLE system_grants (
	system TEXT NOT NULL REFERENCES info_systems (code),
	eik TEXT NOT NULL,
	certificate BLOB NOT NULL,
	PRIMARY KEY (system, eik, certificate)
) STRICT;
CREATE INDEX system_grants_eik ON system_grants (eik);
CREATE INDEX system_grants_certificate ON system_grants (certificate);
CREATE TABLE subscriptions (
	id INTEGER PRIMARY KEY,
	usr TEXT NOT NULL,
	eik TEXT NOT NULL,
	system TEXT NOT NULL REFERENCES info_systems (code),
	first_name TEXT NOT NULL,
	last_name TEXT NOT NULL,
	email TEXT NOT NULL,
	lang TEXT NOT NULL,
	events TEXT NOT NULL,
	delivery TEXT NOT NULL CHECK (delivery IN ('email', 'email-attachment')),
	active INTEGER NOT NULL,
	confirmed INTEGER NOT NULL,
	token TEXT NOT NULL,
	unsubscribe TEXT NOT NULL UNIQUE,
	quarantined INTEGER NOT NULL DEFAULT 0,
	bounce TEXT NOT NULL DEFAULT '',
	created INTEGER NOT NULL,
	updated INTEGER NOT NULL,
	UNIQUE (usr, system)
) STRICT;
CREATE INDEX subscriptions_system ON subscriptions (system);
CREATE INDEX subscriptions_email ON subscriptions (email);
CREATE INDEX subscriptions_token ON subscriptions (token);
CREATE TABLE notices (
	id INTEGER PRIMARY KEY,
	system TEXT NOT NULL REFERENCES info_systems (code),
	kind TEXT NOT NULL CHECK (kind IN ('document', 'operability', 'nomenclature')),
	revs INTEGER NOT NULL,
	updated INTEGER NOT NULL
) STRICT;
CREATE INDEX notices_system ON notices (system, updated);
CREATE TABLE notice_revisions (
	notice INTEGER NOT NULL REFERENCES notices (id),
	rev INTEGER NOT NULL,
	action TEXT NOT NULL,
	title TEXT NOT NULL,
	text TEXT NOT NULL,
	title_en TEXT NOT NULL,
	text_en TEXT NOT NULL,
	link TEXT NOT NULL,
	planned INTEGER NOT NULL,
	starts INTEGER NOT NULL,
	ends INTEGER NOT NULL,
	code_list TEXT NOT NULL,
	version TEXT NOT NULL,
	eu_common INTEGER NOT NULL,
	file_name TEXT NOT NULL,
	file_type TEXT NOT NULL,
	file BLOB NOT NULL,
	author TEXT NOT NULL,
	published INTEGER NOT NULL,
	PRIMARY KEY (notice, rev)
) STRICT;
-- Signed webhooks: an operator's endpoint that receives the notices of one system as JSON.
CREATE TABLE webhooks (
	id INTEGER PRIMARY KEY,
	usr TEXT NOT NULL,
	eik TEXT NOT NULL,
	system TEXT NOT NULL REFERENCES info_systems (code),
	url TEXT NOT NULL,
	secret TEXT NOT NULL,
	events TEXT NOT NULL,
	active INTEGER NOT NULL,
	created INTEGER NOT NULL
) STRICT;
CREATE INDEX webhooks_system ON webhooks (system);
-- One row per message: (revision, subscription) for notices, plus reminders and confirmations, and
-- (revision, webhook) for webhooks (subscription 0), and (alarm entry, person) for alarms told by e-mail
-- to the people of the console (kind 'alarm': alarm, entry and person set, notice, subscription and webhook
-- 0; docs/watching.md). key is the deterministic Message-ID's local part (the webhook-id of a webhook), so
-- a message is never queued twice.
CREATE TABLE outbox (
	id INTEGER PRIMARY KEY,
	key TEXT NOT NULL UNIQUE,
	kind TEXT NOT NULL CHECK (kind IN ('notice', 'reminder', 'confirm', 'webhook', 'alarm')),
	notice INTEGER NOT NULL,
	rev INTEGER NOT NULL,
	subscription INTEGER NOT NULL,
	webhook INTEGER NOT NULL,
	alarm INTEGER NOT NULL DEFAULT 0,
	entry INTEGER NOT NULL DEFAULT 0,
	person INTEGER NOT NULL DEFAULT 0,
	state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'unsure', 'sent', 'failed', 'cancelled')),
	attempts INTEGER NOT NULL,
	next_attempt INTEGER NOT NULL,
	claimed_at INTEGER NOT NULL,
	error TEXT NOT NULL,
	sent_at INTEGER NOT NULL,
	created INTEGER NOT NULL
) STRICT;
CREATE INDEX outbox_due ON outbox (state, next_attempt);
CREATE INDEX outbox_notice ON outbox (notice, rev);
CREATE INDEX outbox_subscription ON outbox (subscription);
CREATE INDEX outbox_alarm ON outbox (alarm);
