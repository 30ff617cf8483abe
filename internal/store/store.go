// Package store is the storage layer of akciz server (the Customs Agency's side): the registry of
// operators, sites, devices, control points and certificates; the evidence (batches and the exact bytes of
// every record, chained per device); incidents; and the transparency log's hashes and checkpoints.
//
// One interface, Store, has two implementations that pass the same conformance suite
// (package storetest): package sqlite (pure Go, the embedded default) and package postgres (pgx, COPY for
// bulk). See docs/storage.md for the schema, the durability settings and the idempotency rules.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/akciz/akciz/internal/core"
)

// Hash is a SHA-256 value: a record's chain hash, a batch digest, a certificate fingerprint. Its
// underlying type is that of wire.Hash, so the ingest layer converts with store.Hash(h).
type Hash [sha256.Size]byte

// String gives h in lower-case hex, as the protocol writes hashes.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zeros: the "nothing before" value of prevChain and prevBatch.
func (h Hash) IsZero() bool { return h == Hash{} }

// Fingerprint is the SHA-256 of a certificate's DER bytes.
func Fingerprint(der []byte) Hash { return sha256.Sum256(der) }

// Errors the store returns; test with errors.Is.
var (
	// ErrNotFound: the thing asked for is not stored.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the state the caller saw changed meanwhile (AppendBatch: the device's head is not where
	// the batch continues from — another batch was stored in between, or the batch leaves a gap; MoveSite:
	// the site left the state). The caller reads again and decides.
	ErrConflict = errors.New("changed meanwhile")
	// ErrAltered: a batch overlaps stored records and a record's bytes differ (a *SeqError names it).
	ErrAltered = errors.New("altered")
	// ErrReplay: a batch's records are stored, identically, but not as this batch (a *SeqError names the
	// first repeated seq): a partial overlap, or the same records batched in other ranges.
	ErrReplay = errors.New("replay")
	// ErrInvalid: an argument is malformed (an id, a range, a state); the message names the field.
	ErrInvalid = errors.New("invalid")
)

// SeqError refuses a batch at one record: Err is ErrAltered or ErrReplay.
type SeqError struct {
	Err    error
	Device string
	Seq    int64 // the first record that differs (altered) or repeats (replay)
}

func (e *SeqError) Error() string {
	return fmt.Sprintf("store: device %s seq %d: %v", e.Device, e.Seq, e.Err)
}

// Unwrap gives ErrAltered or ErrReplay.
func (e *SeqError) Unwrap() error { return e.Err }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Operator is an excise warehouse keeper (лицензиран складодържател), known by its EIK.
type Operator struct {
	EIK          string // ЕИК (BULSTAT), 9 or 13 digits: the key
	Name         string
	ExciseNumber string // the operator's excise number (акцизен номер), when it has one
}

// Validate checks the fields the store relies on.
func (o *Operator) Validate() error {
	if !core.ValidEIK(o.EIK) {
		return invalid("operator.eik: %q is not a valid EIK", o.EIK)
	}
	if o.Name == "" {
		return invalid("operator.name: empty")
	}
	return nil
}

// SiteState is where a site is in its lifecycle. A site is registered (draft), approved by the customs
// office, tested (чл. 17–20), then live; it may be suspended and finally closed.
type SiteState string

// The lifecycle states of a site.
const (
	SiteDraft     SiteState = "draft"
	SiteApproved  SiteState = "approved"
	SiteTesting   SiteState = "testing"
	SiteLive      SiteState = "live"
	SiteSuspended SiteState = "suspended"
	SiteClosed    SiteState = "closed"
)

// Valid reports whether s is a known state.
func (s SiteState) Valid() bool {
	switch s {
	case SiteDraft, SiteApproved, SiteTesting, SiteLive, SiteSuspended, SiteClosed:
		return true
	}
	return false
}

// Site is a tax warehouse (данъчен склад), known by its warehouse number (ИДНС).
type Site struct {
	Warehouse     string // 13 characters, e.g. BGNCA00005001: the key
	Operator      string // the operator's EIK
	Name          string
	CustomsOffice string // the supervising customs office's code
	State         SiteState
}

// Validate checks the fields the store relies on.
func (s *Site) Validate() error {
	if !core.ValidWarehouseID(s.Warehouse) {
		return invalid("site.warehouse: %q is not a warehouse number", s.Warehouse)
	}
	if !core.ValidEIK(s.Operator) {
		return invalid("site.operator: %q is not a valid EIK", s.Operator)
	}
	if !s.State.Valid() {
		return invalid("site.state: unknown %q", s.State)
	}
	return nil
}

// Device is an ИКУНК: a box at a site, known by the warehouse number and its 3-digit number.
type Device struct {
	ID   string // e.g. BGNCA00005001001: the key; its first 13 characters are the site
	Name string
}

// Site gives the warehouse number the device belongs to.
func (d *Device) Site() string {
	if len(d.ID) < 13 {
		return ""
	}
	return d.ID[:13]
}

// Validate checks the fields the store relies on.
func (d *Device) Validate() error {
	if !core.ValidDeviceID(d.ID) {
		return invalid("device.id: %q is not a warehouse number and a 3-digit box number", d.ID)
	}
	return nil
}

// Point is a control point (точка за контрол) of a device.
type Point struct {
	ID   string // e.g. BGNCA00005001001001: the key; its first 16 characters are the device
	Name string
}

// Device gives the device the point belongs to.
func (p *Point) Device() string {
	if len(p.ID) < 16 {
		return ""
	}
	return p.ID[:16]
}

// Validate checks the fields the store relies on.
func (p *Point) Validate() error {
	if _, err := core.ParsePointID(p.ID); err != nil {
		return invalid("point.id: %v", err)
	}
	return nil
}

// Certificate is a signing certificate registered for an operator. Ingest maps a batch's leaf certificate
// to it by fingerprint, then to the operator and its devices.
type Certificate struct {
	Fingerprint Hash // SHA-256 of DER: the key
	DER         []byte
	Operator    string // the operator's EIK
	Subject     string // for people: the subject's distinguished name
	NotBefore   time.Time
	NotAfter    time.Time
	Revoked     time.Time // zero while not revoked
}

// Validate checks the fields the store relies on.
func (c *Certificate) Validate() error {
	if len(c.DER) == 0 {
		return invalid("certificate.der: empty")
	}
	if Fingerprint(c.DER) != c.Fingerprint {
		return invalid("certificate.fingerprint: not the SHA-256 of its DER")
	}
	if !core.ValidEIK(c.Operator) {
		return invalid("certificate.operator: %q is not a valid EIK", c.Operator)
	}
	return nil
}

// TrustAnchor is a root certificate that operators' certificates must chain to.
type TrustAnchor struct {
	Fingerprint Hash
	DER         []byte
	Name        string
}

// Head is where a device's evidence ends: the last stored seq, its chain hash and the digest of the last
// stored batch, and the created time its signer claimed for that batch. The zero Head is that of a
// device that has sent nothing (the protocol's zero tip).
type Head struct {
	Seq   int64
	Chain Hash
	Batch Hash
	// Created is the last stored batch's header time (zero when there is none): a later batch may not
	// claim an earlier one, so that a signer cannot backdate a batch into its certificate's validity
	// (docs/server.md, "Batch time").
	Created time.Time
}

// Row is one record as stored: its exact bytes (the evidence) and the columns that index it.
type Row struct {
	Device string
	Seq    int64
	Hash   Hash // SHA-256 of Bytes: the record's chain hash
	Kind   core.RecordKind
	Time   time.Time // when read; stored to the millisecond
	Point  string    // empty for events of the box itself
	Test   bool      // made while the site was in testing (чл. 17–20)
	Bytes  []byte    // the record exactly as received
}

// Batch is a verified batch as ingest hands it to AppendBatch: the header's values, who signed it, when it
// arrived, and its records in seq order.
type Batch struct {
	Device     string
	First      int64
	Last       int64
	Digest     Hash // the batch hash (the digest the operator signed); the transparency log's leaf data
	PrevChain  Hash // the chain hash before First: the device head's Chain it continues
	LastChain  Hash // the chain hash of record Last
	PrevBatch  Hash // the digest of the device's previous batch: the head's Batch it continues
	Created    time.Time
	Signature  []byte
	Signer     Hash   // fingerprint of the signing (leaf) certificate
	Config     string // hex SHA-256 of the automation_config.xml the records were made under, if one
	ReceivedAt time.Time
	// Header is the batch's header line exactly as received (the JSON with the header's values, the
	// signer's certificate chain and the signature), without its line feed. With the records' exact bytes
	// it gives back the batch file, line for line, so that an officer can verify the stored evidence
	// offline (docs/storage.md, "The batch file kept"). May be nil (nothing to rebuild the file from).
	Header  []byte
	Records []Row
}

// Validate checks the batch's shape: a contiguous seq range First..Last of records of its device, each
// with the hash of its bytes, chained to one another through LastChain.
func (b *Batch) Validate() error {
	if !core.ValidDeviceID(b.Device) {
		return invalid("batch.device: %q", b.Device)
	}
	if b.First < 1 || b.Last < b.First {
		return invalid("batch: range %d..%d", b.First, b.Last)
	}
	if int64(len(b.Records)) != b.Last-b.First+1 {
		return invalid("batch: %d records for range %d..%d", len(b.Records), b.First, b.Last)
	}
	for i := range b.Records {
		r := &b.Records[i]
		if r.Device != b.Device {
			return invalid("batch.records[%d].device: %q, batch is of %s", i, r.Device, b.Device)
		}
		if r.Seq != b.First+int64(i) {
			return invalid("batch.records[%d].seq: %d, want %d", i, r.Seq, b.First+int64(i))
		}
		if err := r.Validate(); err != nil {
			return err
		}
	}
	if b.Records[len(b.Records)-1].Hash != b.LastChain {
		return invalid("batch.lastChain: not the hash of record %d", b.Last)
	}
	return nil
}

// Validate checks a row's own consistency.
func (r *Row) Validate() error {
	if r.Seq < 1 {
		return invalid("record %s/%d: seq", r.Device, r.Seq)
	}
	if sha256.Sum256(r.Bytes) != r.Hash {
		return invalid("record %s/%d: hash is not the SHA-256 of its bytes", r.Device, r.Seq)
	}
	if !r.Kind.Valid() {
		return invalid("record %s/%d: kind %q", r.Device, r.Seq, r.Kind)
	}
	return nil
}

// Result says what AppendBatch did.
type Result struct {
	// Duplicate is true when the batch's records were all stored before, identically, as a batch of the same
	// range: nothing was stored now. Digest then is the stored batch's digest (which differs from the
	// offered one only when the same records were signed again, e.g. at another time).
	Duplicate bool
	Index     int64 // the batch's leaf index in the transparency log
	TreeSize  int64 // the log's size right after the batch was appended (for a duplicate: now)
	Digest    Hash
	Received  time.Time // when the stored batch was received
}

// StoredBatch is a stored batch header with its place in the log (for receipts and exports).
type StoredBatch struct {
	Device     string
	First      int64
	Last       int64
	Digest     Hash
	PrevChain  Hash
	LastChain  Hash
	PrevBatch  Hash
	Created    time.Time
	Signature  []byte
	Signer     Hash
	Config     string
	ReceivedAt time.Time
	Index      int64  // leaf index in the transparency log
	Header     []byte // the header line as received (Batch.Header); empty for batches stored without one
}

// IncidentKind names what went wrong. The codes are the protocol's problem codes (docs/protocol.md).
type IncidentKind string

// The kinds of incident.
const (
	IncidentGap                IncidentKind = "gap"
	IncidentReplay             IncidentKind = "replay"
	IncidentReorder            IncidentKind = "reorder"
	IncidentAltered            IncidentKind = "altered"
	IncidentBadSignature       IncidentKind = "bad-signature"
	IncidentUnknownCertificate IncidentKind = "unknown-certificate"
	IncidentExpiredCertificate IncidentKind = "expired-certificate"
	IncidentWrongDevice        IncidentKind = "wrong-device"
	IncidentWrongOperator      IncidentKind = "wrong-operator"
	IncidentMalformed          IncidentKind = "malformed"
)

// Incident is something ingest refused or noticed, kept for officers.
type Incident struct {
	ID     int64 // assigned by AddIncident
	Kind   IncidentKind
	Device string // may be empty when the device is not known (e.g. an unknown certificate)
	First  int64  // seq range concerned; 0 when none
	Last   int64
	Detail string // for people (a developer's English; the console translates the kind)
	Time   time.Time
}

// IncidentFilter selects incidents; zero fields select all. The range is [Since, Until).
type IncidentFilter struct {
	Device string
	Kind   IncidentKind
	Since  time.Time
	Until  time.Time
	Limit  int // 0: no limit
}

// RecordQuery selects the records of one place and kind in a time range [From, To), in time order.
type RecordQuery struct {
	Device string // the device
	Point  string // the control point; empty: the box's own events
	Kind   core.RecordKind
	From   time.Time
	To     time.Time // zero: no upper bound
}

// Checkpoint is a signed checkpoint of the transparency log (the signed note's text).
type Checkpoint struct {
	Size int64
	Note []byte
}

// DeviceFilter selects devices; zero fields select all.
type DeviceFilter struct {
	Site     string // warehouse number
	Operator string // EIK of the sites' operator
}

// Store is the storage of akciz server. Every method is safe for concurrent use. Methods that write are
// durable when they return nil.
type Store interface {
	// The areas beyond the evidence, each in a file of its own (watch.go, console.go, notices.go,
	// submissions.go) with its tables in a migration of its own.
	Watch
	Console
	Notices
	Submissions

	// PutOperator creates or updates an operator.
	PutOperator(ctx context.Context, o Operator) error
	// Operator gives the operator with this EIK, or ErrNotFound.
	Operator(ctx context.Context, eik string) (Operator, error)
	// Operators lists every operator by EIK.
	Operators(ctx context.Context) ([]Operator, error)

	// PutSite creates or updates a site (its operator must exist); a lifecycle change is a PutSite.
	PutSite(ctx context.Context, s Site) error
	// Site gives the site with this warehouse number, or ErrNotFound.
	Site(ctx context.Context, warehouse string) (Site, error)
	// Sites lists the sites of an operator (all when operator is empty), by warehouse number.
	Sites(ctx context.Context, operator string) ([]Site, error)

	// PutDevice creates or updates a device; its site must exist.
	PutDevice(ctx context.Context, d Device) error
	// Device gives the device with this id, or ErrNotFound.
	Device(ctx context.Context, id string) (Device, error)
	// Devices lists devices by id.
	Devices(ctx context.Context, f DeviceFilter) ([]Device, error)

	// PutPoint creates or updates a control point; its device must exist.
	PutPoint(ctx context.Context, p Point) error
	// Points lists the control points of a device by id.
	Points(ctx context.Context, device string) ([]Point, error)
	// DeletePoint removes a control point, or says ErrNotFound. Its records stay.
	DeletePoint(ctx context.Context, id string) error

	// PutCertificate registers a certificate for an operator (or updates it). An update keeps the stored
	// revocation whatever c.Revoked says: only RevokeCertificate revokes.
	PutCertificate(ctx context.Context, c Certificate) error
	// Certificate gives the certificate with this fingerprint, or ErrNotFound.
	Certificate(ctx context.Context, fingerprint Hash) (Certificate, error)
	// Certificates lists an operator's certificates (all when operator is empty), by fingerprint.
	Certificates(ctx context.Context, operator string) ([]Certificate, error)
	// RevokeCertificate marks a certificate revoked from at, or says ErrNotFound.
	RevokeCertificate(ctx context.Context, fingerprint Hash, at time.Time) error

	// PutTrustAnchor adds a trust anchor (or renames it).
	PutTrustAnchor(ctx context.Context, a TrustAnchor) error
	// TrustAnchors lists the trust anchors by fingerprint.
	TrustAnchors(ctx context.Context) ([]TrustAnchor, error)
	// DeleteTrustAnchor removes a trust anchor, or says ErrNotFound.
	DeleteTrustAnchor(ctx context.Context, fingerprint Hash) error

	// DeviceHead gives where the device's stored evidence ends (the zero Head if it has none). The device
	// need not be registered.
	DeviceHead(ctx context.Context, device string) (Head, error)
	// LastData gives, for each of the sites (warehouse numbers) that has stored evidence, when its latest
	// batch was made (the Created of each device's last batch, as DeviceHead gives it, latest over the
	// site's devices), in one query for up to 500 sites (so a national list costs a handful of queries, not one per device). Sites without evidence, or not
	// registered, are absent from the map.
	LastData(ctx context.Context, warehouses []string) (map[string]time.Time, error)
	// AppendBatch stores a verified batch in one transaction: its header, every record, and its leaf in
	// the transparency log, and moves the device's head. The device must be registered.
	//
	// If every record of the batch is stored already with the same bytes, as a batch of the same range,
	// nothing is stored and Result.Duplicate is true. If the batch overlaps stored records and one
	// differs, it returns a *SeqError with ErrAltered naming the first differing seq; if the overlapping
	// records are identical but the batch is not a stored one, a *SeqError with ErrReplay. Otherwise the
	// batch must continue the head exactly (First = head.Seq+1, PrevChain = head.Chain, PrevBatch =
	// head.Batch), or AppendBatch returns ErrConflict: that is how two concurrent appends for one device
	// are serialised.
	AppendBatch(ctx context.Context, b *Batch) (Result, error)
	// BatchAt gives the stored batch of a device that starts at seq first, or ErrNotFound.
	BatchAt(ctx context.Context, device string, first int64) (StoredBatch, error)
	// BulkInsertRecords is the store's fastest raw insert of rows (no head, batch or log): the rate
	// AppendBatch is compared with. Rows must not be stored already.
	BulkInsertRecords(ctx context.Context, rows []Row) error

	// Records calls fn for each stored record of device with seq in [from, to], in seq order, streaming.
	// An error from fn stops the walk and is returned.
	Records(ctx context.Context, device string, from, to int64, fn func(*Row) error) error
	// PointRecords calls fn for each record q selects, in time order (then seq), streaming.
	PointRecords(ctx context.Context, q RecordQuery, fn func(*Row) error) error
	// Latest gives the latest record (by time, then seq) of a kind at a point (device and point as in
	// RecordQuery), or ErrNotFound.
	Latest(ctx context.Context, device, point string, kind core.RecordKind) (Row, error)

	// AddIncident stores an incident and gives its id.
	AddIncident(ctx context.Context, in Incident) (int64, error)
	// Incidents lists incidents f selects, oldest first.
	Incidents(ctx context.Context, f IncidentFilter) ([]Incident, error)

	// ReadHashes gives the transparency log's stored hashes at these indexes (see tlog.HashReader).
	ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
	// TreeSize gives the number of leaves in the transparency log.
	TreeSize(ctx context.Context) (int64, error)
	// PutCheckpoint stores a signed checkpoint of the log at size (at most the tree's size).
	PutCheckpoint(ctx context.Context, c Checkpoint) error
	// LatestCheckpoint gives the checkpoint of the greatest size, or ErrNotFound.
	LatestCheckpoint(ctx context.Context) (Checkpoint, error)

	// Close releases the store.
	Close() error
}

// HashReader adapts s to tlog.HashReader, whose method takes no context.
func HashReader(ctx context.Context, s Store) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) { return s.ReadHashes(ctx, indexes) })
}
