-- File submissions (internal/store/submissions.go, docs/sepi.md, docs/energy.md).

-- СЕПИ barcode lists (чл. 40–42): the list, its products, every barcode, and the barcodes flagged as
-- entering twice. A list's number is unique per operator (чл. 42, т. 4).
CREATE TABLE sepi_lists (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	operator text NOT NULL REFERENCES operators (eik),
	number text NOT NULL,
	sha256 bytea NOT NULL,
	bytes bigint NOT NULL,
	received bigint NOT NULL,
	person_name text NOT NULL,
	person_eik text NOT NULL,
	excise_number text NOT NULL,
	point text NOT NULL,
	kind text NOT NULL,
	goods text NOT NULL,
	period_start bigint NOT NULL,
	period_end bigint NOT NULL,
	arc text NOT NULL,
	recipient_name text NOT NULL,
	recipient_eik text NOT NULL,
	recipient_country text NOT NULL,
	vehicle text NOT NULL,
	packages bigint NOT NULL,
	barcodes bigint NOT NULL,
	flagged bigint NOT NULL,
	UNIQUE (operator, number)
);
CREATE INDEX sepi_lists_period ON sepi_lists (operator, period_end);
CREATE INDEX sepi_lists_point ON sepi_lists (point, period_end);

CREATE TABLE sepi_products (
	list_id bigint NOT NULL REFERENCES sepi_lists (id),
	idx bigint NOT NULL,
	document text NOT NULL,
	cn text NOT NULL,
	brand text NOT NULL,
	assortment text NOT NULL,
	pieces_per_pack bigint NOT NULL,
	kilograms text NOT NULL,
	cigarette_length bigint NOT NULL,
	retail_price text NOT NULL,
	destination text NOT NULL,
	origin text NOT NULL,
	manufacturer text NOT NULL,
	packs_per_package bigint NOT NULL,
	production_date bigint NOT NULL,
	brand_packages bigint NOT NULL,
	barcodes bigint NOT NULL,
	PRIMARY KEY (list_id, idx)
);

-- Keyed by barcode first: the cross-list history looks barcodes up; a list's barcodes are found by the
-- second index. No foreign key: a million checks a list would cost, for a list_id the same transaction
-- has just made.
CREATE TABLE sepi_barcodes (
	barcode bigint NOT NULL,
	list_id bigint NOT NULL,
	product bigint NOT NULL,
	PRIMARY KEY (barcode, list_id)
);
CREATE INDEX sepi_barcodes_list ON sepi_barcodes (list_id, product);

CREATE TABLE sepi_flags (
	list_id bigint NOT NULL REFERENCES sepi_lists (id),
	barcode bigint NOT NULL,
	line bigint NOT NULL,
	prior_list text NOT NULL,
	prior_operator text NOT NULL,
	prior_kind text NOT NULL,
	prior_when bigint NOT NULL,
	PRIMARY KEY (list_id, barcode)
);

-- Quarterly electricity and gas tables (чл. 22–24). A file is staged (its rows inserted in short
-- transactions while it is checked) and becomes visible when its state turns 'accepted'.
CREATE TABLE energy_files (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	operator text NOT NULL REFERENCES operators (eik),
	state text NOT NULL CHECK (state IN ('staging', 'accepted')),
	begun bigint NOT NULL,
	name text NOT NULL DEFAULT '',
	kind text NOT NULL DEFAULT '',
	size bigint NOT NULL DEFAULT 0,
	sha256 bytea,
	received bigint NOT NULL DEFAULT 0,
	declarant_name text NOT NULL DEFAULT '',
	declarant_eik text NOT NULL DEFAULT '',
	excise_number text NOT NULL DEFAULT '',
	product text NOT NULL DEFAULT '',
	quarter text NOT NULL DEFAULT '',
	declared_all bigint NOT NULL DEFAULT 0,
	declared_household bigint NOT NULL DEFAULT 0,
	declared_business bigint NOT NULL DEFAULT 0,
	declared_self bigint NOT NULL DEFAULT 0,
	computed_all bigint NOT NULL DEFAULT 0,
	computed_household bigint NOT NULL DEFAULT 0,
	computed_business bigint NOT NULL DEFAULT 0,
	computed_self bigint NOT NULL DEFAULT 0,
	row_count bigint NOT NULL DEFAULT 0,
	replaced_by bigint NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX energy_files_digest ON energy_files (operator, sha256) WHERE state = 'accepted';
CREATE INDEX energy_files_quarter ON energy_files (operator, quarter, product);

CREATE TABLE energy_rows (
	file_id bigint NOT NULL,
	line bigint NOT NULL,
	meter_id text NOT NULL,
	consumer_type text NOT NULL,
	consumer_eik text NOT NULL,
	quantity bigint NOT NULL,
	address text NOT NULL,
	tariff text NOT NULL,
	PRIMARY KEY (file_id, line)
);
CREATE INDEX energy_rows_meter ON energy_rows (meter_id, file_id);
