-- File submissions (internal/store/submissions.go, docs/sepi.md, docs/energy.md).

-- СЕПИ barcode lists (чл. 40–42): the list, its products, every barcode, and the barcodes flagged as
-- entering twice. A list's number is unique per operator (чл. 42, т. 4).
CREATE TABLE sepi_lists (
	id INTEGER PRIMARY KEY,
	operator TEXT NOT NULL REFERENCES operators (eik),
	number TEXT NOT NULL,
	sha256 BLOB NOT NULL,
	bytes INTEGER NOT NULL,
	received INTEGER NOT NULL,
	person_name TEXT NOT NULL,
	person_eik TEXT NOT NULL,
	excise_number TEXT NOT NULL,
	point TEXT NOT NULL,
	kind TEXT NOT NULL,
	goods TEXT NOT NULL,
	period_start INTEGER NOT NULL,
	period_end INTEGER NOT NULL,
	arc TEXT NOT NULL,
	recipient_name TEXT NOT NULL,
	recipient_eik TEXT NOT NULL,
	recipient_country TEXT NOT NULL,
	vehicle TEXT NOT NULL,
	packages INTEGER NOT NULL,
	barcodes INTEGER NOT NULL,
	flagged INTEGER NOT NULL,
	UNIQUE (operator, number)
) STRICT;
CREATE INDEX sepi_lists_period ON sepi_lists (operator, period_end);
CREATE INDEX sepi_lists_point ON sepi_lists (point, period_end);

CREATE TABLE sepi_products (
	list_id INTEGER NOT NULL REFERENCES sepi_lists (id),
	idx INTEGER NOT NULL,
	document TEXT NOT NULL,
	cn TEXT NOT NULL,
	brand TEXT NOT NULL,
	assortment TEXT NOT NULL,
	pieces_per_pack INTEGER NOT NULL,
	kilograms TEXT NOT NULL,
	cigarette_length INTEGER NOT NULL,
	retail_price TEXT NOT NULL,
	destination TEXT NOT NULL,
	origin TEXT NOT NULL,
	manufacturer TEXT NOT NULL,
	packs_per_package INTEGER NOT NULL,
	production_date INTEGER NOT NULL,
	brand_packages INTEGER NOT NULL,
	barcodes INTEGER NOT NULL,
	PRIMARY KEY (list_id, idx)
) STRICT;

-- Keyed by barcode first: the cross-list history looks barcodes up; a list's barcodes are found by the
-- second index. No foreign key: a million checks a list would cost, for a list_id the same transaction
-- has just made.
CREATE TABLE sepi_barcodes (
	barcode INTEGER NOT NULL,
	list_id INTEGER NOT NULL,
	product INTEGER NOT NULL,
	PRIMARY KEY (barcode, list_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX sepi_barcodes_list ON sepi_barcodes (list_id, product);

CREATE TABLE sepi_flags (
	list_id INTEGER NOT NULL REFERENCES sepi_lists (id),
	barcode INTEGER NOT NULL,
	line INTEGER NOT NULL,
	prior_list TEXT NOT NULL,
	prior_operator TEXT NOT NULL,
	prior_kind TEXT NOT NULL,
	prior_when INTEGER NOT NULL,
	PRIMARY KEY (list_id, barcode)
) STRICT;

-- Quarterly electricity and gas tables (чл. 22–24). A file is staged (its rows inserted in short
-- transactions while it is checked) and becomes visible when its state turns 'accepted'.
CREATE TABLE energy_files (
	id INTEGER PRIMARY KEY,
	operator TEXT NOT NULL REFERENCES operators (eik),
	state TEXT NOT NULL CHECK (state IN ('staging', 'accepted')),
	begun INTEGER NOT NULL,
	name TEXT NOT NULL DEFAULT '',
	kind TEXT NOT NULL DEFAULT '',
	size INTEGER NOT NULL DEFAULT 0,
	sha256 BLOB,
	received INTEGER NOT NULL DEFAULT 0,
	declarant_name TEXT NOT NULL DEFAULT '',
	declarant_eik TEXT NOT NULL DEFAULT '',
	excise_number TEXT NOT NULL DEFAULT '',
	product TEXT NOT NULL DEFAULT '',
	quarter TEXT NOT NULL DEFAULT '',
	declared_all INTEGER NOT NULL DEFAULT 0,
	declared_household INTEGER NOT NULL DEFAULT 0,
	declared_business INTEGER NOT NULL DEFAULT 0,
	declared_self INTEGER NOT NULL DEFAULT 0,
	computed_all INTEGER NOT NULL DEFAULT 0,
	computed_household INTEGER NOT NULL DEFAULT 0,
	computed_business INTEGER NOT NULL DEFAULT 0,
	computed_self INTEGER NOT NULL DEFAULT 0,
	row_count INTEGER NOT NULL DEFAULT 0,
	replaced_by INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE UNIQUE INDEX energy_files_digest ON energy_files (operator, sha256) WHERE state = 'accepted';
CREATE INDEX energy_files_quarter ON energy_files (operator, quarter, product);

CREATE TABLE energy_rows (
	file_id INTEGER NOT NULL,
	line INTEGER NOT NULL,
	meter_id TEXT NOT NULL,
	consumer_type TEXT NOT NULL,
	consumer_eik TEXT NOT NULL,
	quantity INTEGER NOT NULL,
	address TEXT NOT NULL,
	tariff TEXT NOT NULL,
	PRIMARY KEY (file_id, line)
) STRICT, WITHOUT ROWID;
CREATE INDEX energy_rows_meter ON energy_rows (meter_id, file_id);
