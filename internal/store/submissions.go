package store

import (
	"context"
	"time"
)

// Submissions is the storage of file submissions: tobacco barcode lists (СЕПИ, чл. 40–42) and quarterly
// electricity and gas tables (чл. 22–24) (docs/sepi.md, docs/energy.md). Every query takes the
// submitting operator's EIK: an operator sees only its own submissions ("" selects all, for officers).
type Submissions interface {
	// AddSepiList stores a validated barcode list with its products, barcodes and flags in one
	// transaction and gives it with its ID. Lists are added one at a time (a lock serialises them), so
	// that a list checked while another was stored is checked again against it: when l.Recheck is set,
	// each barcode of l that a list stored after l.HistoryMark also holds is given to it with its latest
	// movement before l, and its flag in l.Flags is replaced by what Recheck says (none when false).
	// A list of the same operator and number stored before is not
	// stored again: with the same SHA-256 AddSepiList gives the stored one and duplicate true; with
	// another it returns an error wrapping ErrConflict (the number is unique, чл. 42, т. 4).
	AddSepiList(ctx context.Context, l *SepiList) (stored SepiList, duplicate bool, err error)
	// SepiHistoryMark gives the mark of the lists stored so far (the highest list ID; 0 when none), to
	// be taken before a list's history is checked and given to AddSepiList in SepiList.HistoryMark.
	SepiHistoryMark(ctx context.Context) (int64, error)
	// SepiList gives an operator's list by number, or ErrNotFound.
	SepiList(ctx context.Context, operator, number string) (SepiList, error)
	// SepiLists lists the lists f selects, by the end of their period, then ID.
	SepiLists(ctx context.Context, f SepiFilter) ([]SepiList, error)
	// SepiProducts gives the products of a list (without their barcodes), in the order of the file.
	SepiProducts(ctx context.Context, listID int64) ([]SepiProduct, error)
	// SepiBarcodes calls fn for each barcode of a list with the index of its product, by product and
	// barcode, streaming.
	SepiBarcodes(ctx context.Context, listID int64, fn func(product int, barcode int64) error) error
	// LastSepiMovements calls fn with the latest movement (by the end of the list's period, then by the
	// order of storing) of each barcode of bs that any stored list holds, whoever the operator, with its
	// index in bs: the cross-list history of чл. 41 that finds a barcode entering twice.
	LastSepiMovements(ctx context.Context, bs []int64, fn func(i int, m SepiMovement) error) error
	// SepiFlags calls fn for each flagged barcode of the lists f selects, by list and line.
	SepiFlags(ctx context.Context, f SepiFilter, fn func(SepiFlag) error) error

	// BeginEnergyFile opens a staging area for the rows of an operator's file being checked and gives
	// its id; the rows staged are invisible until CommitEnergyFile.
	BeginEnergyFile(ctx context.Context, operator string) (stage int64, err error)
	// StageEnergyRows adds rows to a staging area (each call its own short transaction, so that a file of
	// millions of rows never holds the database's write lock for long).
	StageEnergyRows(ctx context.Context, stage int64, rows []EnergyRow) error
	// CommitEnergyFile turns a staging area into the accepted file f, atomically: its rows become
	// visible at once. If the operator has a file with the same SHA-256 already, the staged rows are
	// dropped and the stored file is given with duplicate true. An earlier file of the same declarant,
	// product and quarter is marked replaced by this one.
	CommitEnergyFile(ctx context.Context, stage int64, f EnergyFile) (stored EnergyFile, duplicate bool, err error)
	// AbortEnergyFile drops a staging area and its rows.
	AbortEnergyFile(ctx context.Context, stage int64) error
	// AbortStaleEnergyFiles drops staging areas begun before t (left by a crash) and says how many.
	AbortStaleEnergyFiles(ctx context.Context, before time.Time) (int, error)
	// EnergyFileByDigest gives an operator's accepted file with this SHA-256, or ErrNotFound.
	EnergyFileByDigest(ctx context.Context, operator string, sha256 Hash) (EnergyFile, error)
	// EnergyFiles lists the accepted files f selects, by quarter, then ID.
	EnergyFiles(ctx context.Context, f EnergyFilter) ([]EnergyFile, error)
	// EnergyRows calls fn for each row of accepted files q selects, by file and line, streaming: the
	// data of one commercial meter on request (чл. 22 т. 3, чл. 23 т. 3).
	EnergyRows(ctx context.Context, q EnergyRowQuery, fn func(EnergyRow) error) error
}

// SepiList is a stored barcode list (чл. 42).
type SepiList struct {
	ID       int64     // assigned by AddSepiList
	Operator string    // the submitting operator's EIK (its client certificate's)
	Number   string    // т. 4: digits only; unique per operator
	SHA256   Hash      // of the file as received: the same list sent twice has the same number and digest
	Bytes    int64     // the file's size
	Received time.Time // when it was stored

	PersonName, PersonEIK, ExciseNumber string // т. 1
	Point                               string // т. 2: the control point's id
	Kind                                string // т. 2 а)–г): production-to-warehouse, warehouse-to-production, entry, exit
	Goods                               string // чл. 41, ал. 5: cigarettes, cigars, smoking-tobacco
	Start, End                          time.Time
	ARC                                 string // the e-AD of an entry list
	RecipientName, RecipientEIK         string // the one recipient of an exit list
	RecipientCountry                    string
	Vehicle                             string // the one vehicle of an exit list

	Packages int64 // т. 3 п): transport packages, declared and counted
	Barcodes int64 // barcodes stored (equal to Packages)
	Flagged  int64 // barcodes flagged as entering twice

	// Products and Flags are given to AddSepiList; queries leave them empty (SepiProducts, SepiFlags).
	Products []SepiProduct
	Flags    []SepiFlag
	// HistoryMark and Recheck are given to AddSepiList: SepiHistoryMark's answer taken before the list's
	// history was checked, and the rule that decides a barcode's flag again from its latest movement.
	HistoryMark int64
	Recheck     func(barcode int64, latest SepiMovement) (SepiFlag, bool)
}

// SepiProduct is one product of a list (чл. 42, т. 3).
type SepiProduct struct {
	Index           int // its place in the list, from 0
	Document        string
	CN              string
	Brand           string
	Assortment      string
	PiecesPerPack   int
	Kilograms       string
	CigaretteLength int
	RetailPrice     string
	Destination     string
	Origin          string
	Manufacturer    string
	PacksPerPackage int
	ProductionDate  time.Time
	BrandPackages   int
	Count           int64   // its barcodes (set by queries)
	Barcodes        []int64 // given to AddSepiList: the SSCC-18 barcodes as numbers
}

// SepiMovement is a barcode's passing through a control point, as a stored list recorded it.
type SepiMovement struct {
	Kind     string
	List     string // the list's number
	Operator string
	When     time.Time // the end of the list's period
}

// SepiFlag is a barcode of a list that entered while its last movement entered too.
type SepiFlag struct {
	ListID     int64 // set by queries
	ListNumber string
	Barcode    int64
	Line       int // where the list has it
	Prior      SepiMovement
}

// SepiFilter selects lists; zero fields select all. The period is [From, To) on the end of the list's
// period.
type SepiFilter struct {
	Operator string
	// Warehouses, when not nil, keeps the lists counted at control points of these tax warehouses only
	// (an officer's sites); an empty, non-nil slice selects none.
	Warehouses []string
	Point      string
	Kind       string
	From, To   time.Time
	Limit      int
}

// EnergyFile is an accepted quarterly electricity or gas table (чл. 22–24).
type EnergyFile struct {
	ID       int64 // the staging id it was committed from
	Operator string
	Name     string // the file's name as uploaded
	Kind     string // csv, tsv, xlsx
	Size     int64
	SHA256   Hash
	Received time.Time

	DeclarantName, DeclarantEIK, ExciseNumber string
	Product                                   string // electricity or natural-gas
	Quarter                                   string // 2026-Q3
	// Declared and Computed are the totals in base units (Wh or dm³): all, household, business,
	// self-consumption. A stored file has them equal: a file whose totals differ is refused.
	Declared, Computed EnergyTotals
	Rows               int64
	// ReplacedBy is the ID of a later file of the same declarant, product and quarter (0: none).
	ReplacedBy int64
}

// EnergyTotals are quantities in base units (Wh or dm³).
type EnergyTotals struct {
	All, Household, Business, SelfConsumption int64
}

// EnergyRow is one meter row of a file.
type EnergyRow struct {
	File         int64 // set by queries
	Line         int
	MeterID      string
	ConsumerType string
	ConsumerEIK  string
	Quantity     int64 // base units
	Address      string
	Tariff       string
}

// EnergyFilter selects accepted files; zero fields select all.
type EnergyFilter struct {
	Operator string
	Product  string
	Quarter  string
	// Current leaves out files replaced by a later one.
	Current bool
	Limit   int
}

// EnergyRowQuery selects rows of accepted files: of one file, or of an operator's files, of one meter or
// one consumer; zero fields select all.
type EnergyRowQuery struct {
	Operator    string
	File        int64
	Quarter     string
	MeterID     string
	ConsumerEIK string
	Limit       int
}
