package store

import (
	"context"
	"time"
)

// Watch is the storage of watching (alarms and their history), site lifecycle moves, configuration versions,
// commissioning and the comparisons of чл. 20 and 27 (docs/watching.md). The rules (who may do what, when
// an alarm opens) live in package watch; the store keeps the facts, checks their shape and keeps the few
// invariants that must hold under concurrency: one open alarm per key, a state change only from the state
// the caller saw, a version number per site without gaps.
type Watch interface {
	// OpenAlarm opens an alarm of a.Key() unless one is open already (state open or acknowledged). It
	// gives the alarm and whether it was opened now. When opened now, its State is AlarmStateOpen, its ID
	// is assigned, Opened is a.Opened (now when zero), Updated is e.Time, and the history gets e with
	// action AlarmOpened (e.Time defaults to a.Opened; e.Action is set by the store). When one was open
	// already, nothing changes and the stored alarm is returned. a.Site must be a registered site (else
	// ErrNotFound); a.Kind valid; a.Incident set only (and always) for AlarmIncident; a.Point only with
	// a.Device (else ErrInvalid). The operator and customs office of the result are filled from the site.
	OpenAlarm(ctx context.Context, a Alarm, e AlarmEntry) (Alarm, bool, error)
	// ChangeAlarm records e on alarm id and moves its state as e.Action says: AlarmAcknowledged moves open
	// → acknowledged (acknowledged again: the comment is only added), AlarmClosed moves open or
	// acknowledged → closed (Closed = e.Time), AlarmNoted changes nothing but the history, AlarmRestored
	// sets the alarm's Restored to e.Time and AlarmRecurred sets it back to zero (neither changes the
	// state). Every entry sets Updated to e.Time (now when zero). A closed alarm takes no entry
	// (ErrInvalid), nor does an AlarmOpened one, nor one without Who; ErrNotFound if there is no such
	// alarm. Who may do it (only an officer closes an incident) is package watch's rule, not the store's.
	// It gives the alarm as it is afterwards.
	ChangeAlarm(ctx context.Context, id int64, e AlarmEntry) (Alarm, error)
	// Alarm gives the alarm with this id, or ErrNotFound.
	Alarm(ctx context.Context, id int64) (Alarm, error)
	// FindOpenAlarm gives the alarm of key k that is open or acknowledged, or ErrNotFound.
	FindOpenAlarm(ctx context.Context, k AlarmKey) (Alarm, error)
	// Alarms lists the alarms f selects, newest opened first (then by id, descending).
	Alarms(ctx context.Context, f AlarmFilter) ([]Alarm, error)
	// AlarmHistory gives the entries of alarm id, oldest first (ErrNotFound if there is no such alarm).
	AlarmHistory(ctx context.Context, id int64) ([]AlarmEntry, error)

	// WatchCursor gives where the watch engine is in a stream (0: at its start): for a device id, the
	// last seq of its records examined; for "incidents", the greatest incident id examined.
	WatchCursor(ctx context.Context, name string) (int64, error)
	// SetWatchCursor records where the engine is in the stream name (see WatchCursor).
	SetWatchCursor(ctx context.Context, name string, at int64) error

	// AcquireWatchLease gives the lease name to holder until now+ttl, in one statement, when no one holds
	// it (never held, released, or its expiry is at or before now: a holder that stopped renewing is taken
	// over) or holder holds it already (a renewal: its Acquired is kept while it has not expired). It
	// gives the lease as it is afterwards and whether holder holds it; when another holder does, nothing
	// changes. Two holders trying at once never both get it. now is the caller's clock (the nodes' clocks
	// must agree to well within ttl). ErrInvalid for an empty name or holder or a ttl that is not positive.
	AcquireWatchLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (WatchLease, bool, error)
	// ReleaseWatchLease ends holder's lease name at once, so that another holder need not wait for it to
	// expire; it does nothing when holder does not hold it.
	ReleaseWatchLease(ctx context.Context, name, holder string) error
	// WatchLease gives the lease name as it is (Expires zero when released), or ErrNotFound if it was
	// never held.
	WatchLease(ctx context.Context, name string) (WatchLease, error)

	// MoveSite moves site m.Site from m.From to m.To and logs the move, in one transaction. If the site is
	// not in m.From (someone moved it meanwhile) it returns ErrConflict and changes nothing; ErrNotFound
	// for an unknown site; ErrInvalid for an unknown state or m.From = m.To. Whether the move is allowed
	// for m.Role is package watch's rule. It gives the move with its ID and Time (now when zero).
	MoveSite(ctx context.Context, m SiteMove) (SiteMove, error)
	// SiteMoves lists the moves of a site, oldest first (all sites when site is empty).
	SiteMoves(ctx context.Context, site string) ([]SiteMove, error)

	// AddConfigVersion stores an uploaded automation_config.xml of v.Site, accepted or refused, with the
	// next version number of the site (from 1, refused ones counted too) and its product-code notices. It
	// gives v with Version, SHA256 (of v.File) and UploadedAt (now when zero) set, and the notices' IDs.
	AddConfigVersion(ctx context.Context, v ConfigVersion) (ConfigVersion, error)
	// ConfigVersion gives version n of a site's configuration, with its file and notices, or ErrNotFound.
	ConfigVersion(ctx context.Context, site string, n int) (ConfigVersion, error)
	// ConfigVersions lists a site's versions, oldest first, with their reasons and notices but without
	// their files (File is nil): the history a new version is checked against is the accepted ones.
	ConfigVersions(ctx context.Context, site string) ([]ConfigVersion, error)
	// ProductNotice gives the product-code notice with this id, or ErrNotFound.
	ProductNotice(ctx context.Context, id int64) (ProductNotice, error)
	// ProductNotices lists the product-code notices f selects, by due date then id.
	ProductNotices(ctx context.Context, f ProductNoticeFilter) ([]ProductNotice, error)
	// GiveProductNotice records that the notice id was given at, by who; ErrNotFound if there is none,
	// ErrInvalid if it was given already. It gives the notice afterwards.
	GiveProductNotice(ctx context.Context, id int64, who string, at time.Time) (ProductNotice, error)

	// AddCommissioning stores a commissioning record (чл. 21(3)–(6)) and gives its id and time.
	AddCommissioning(ctx context.Context, c Commissioning) (Commissioning, error)
	// Commissioning gives the commissioning record with this id, or ErrNotFound.
	Commissioning(ctx context.Context, id int64) (Commissioning, error)
	// Commissionings lists a site's commissioning records, oldest first.
	Commissionings(ctx context.Context, site string) ([]Commissioning, error)

	// AddComparison stores a comparison (чл. 20 or 27) with its lines and gives its id and time.
	AddComparison(ctx context.Context, c Comparison) (Comparison, error)
	// Comparison gives the comparison with this id, with its lines, or ErrNotFound.
	Comparison(ctx context.Context, id int64) (Comparison, error)
	// Comparisons lists a site's comparisons, newest first, without their lines (Lines is nil).
	Comparisons(ctx context.Context, site string) ([]Comparison, error)
}

// AlarmKind names what an alarm is about. The console translates it with the catalogue key
// "watch.kind.<kind>".
type AlarmKind string

// The kinds of alarm (чл. 28 and the events of чл. 30, 36).
const (
	AlarmLatePoint          AlarmKind = "late-point"          // a control point's readings are late for its interval class (чл. 30(13))
	AlarmLateSite           AlarmKind = "late-site"           // nothing at all arrived from a site (чл. 28)
	AlarmPowerLoss          AlarmKind = "power-loss"          // a box runs on its UPS (чл. 30(1), 34)
	AlarmDoorOpened         AlarmKind = "door-opened"         // a box was opened (чл. 36)
	AlarmTotalizerDecreased AlarmKind = "totalizer-decreased" // a totalizer went down (чл. 30(6))
	AlarmErrorBits          AlarmKind = "error-bits"          // a device set error bits (чл. 35(5))
	AlarmCommunicationLoss  AlarmKind = "communication-loss"  // the PLC stopped answering the agent
	AlarmOutOfLimits        AlarmKind = "out-of-limits"       // a value left its plausibility limits
	AlarmUnsentTooLong      AlarmKind = "unsent-too-long"     // the agent holds records it could not send
	AlarmIncident           AlarmKind = "incident"            // an ingest incident (gap, replay, …); only an officer closes it
	AlarmRecordsLost        AlarmKind = "records-lost"        // the agent's journal lost records to disk damage; only an officer closes it
)

// AlarmKinds lists every kind of alarm.
var AlarmKinds = []AlarmKind{
	AlarmLatePoint, AlarmLateSite, AlarmPowerLoss, AlarmDoorOpened, AlarmTotalizerDecreased, AlarmErrorBits,
	AlarmCommunicationLoss, AlarmOutOfLimits, AlarmUnsentTooLong, AlarmIncident, AlarmRecordsLost,
}

// Valid reports whether k is a known kind.
func (k AlarmKind) Valid() bool {
	for _, x := range AlarmKinds {
		if k == x {
			return true
		}
	}
	return false
}

// AlarmState is where an alarm is in its lifecycle: open → acknowledged → closed (or open → closed).
type AlarmState string

// The states of an alarm.
const (
	AlarmStateOpen         AlarmState = "open"
	AlarmStateAcknowledged AlarmState = "acknowledged"
	AlarmStateClosed       AlarmState = "closed"
)

// Valid reports whether s is a known state.
func (s AlarmState) Valid() bool {
	return s == AlarmStateOpen || s == AlarmStateAcknowledged || s == AlarmStateClosed
}

// AlarmKey identifies the one alarm of a kind that may be open at a place at a time. Device and Point
// are empty where the kind is about a whole site (late-site) or a box (power, door: Point empty).
// Incident is the ingest incident's id for AlarmIncident (each incident is an alarm of its own), 0 for
// the other kinds.
type AlarmKey struct {
	Kind     AlarmKind
	Site     string
	Device   string
	Point    string
	Incident int64
}

// Alarm is one alarm.
type Alarm struct {
	ID       int64 // assigned by OpenAlarm
	Kind     AlarmKind
	Site     string // warehouse number
	Device   string // the box ("" for a whole site)
	Point    string // the control point ("" for a site or a box)
	Incident int64  // the ingest incident, for AlarmIncident; else 0
	State    AlarmState
	Opened   time.Time // when the condition began (e.g. when the point's reading became due)
	Updated  time.Time // the last entry's time
	Closed   time.Time // zero unless closed
	// Restored is when the watch engine found that the condition ended (power restored, door closed,
	// readings again on time): the time of its "restored" entry, whose Detail["ended"] is when the
	// condition itself ended by the records. Zero while the condition holds. The alarm stays open until a
	// person closes it: that something happened is worth a look even when it is over.
	Restored time.Time
	// Detail holds the parameters a person needs to read the alarm, by name (e.g. "last": the time of the
	// last reading, "limit": the interval, "bits": "3,7", "value", "previous", "tag"). The console passes
	// them to the catalogue text "watch.alarm.<kind>". Values are strings; times are RFC 3339 in UTC.
	Detail map[string]string

	// Filled from the site on reads (not stored with the alarm): who is told.
	Operator      string // the site's operator EIK
	CustomsOffice string // the site's customs office
}

// Key gives the alarm's key.
func (a *Alarm) Key() AlarmKey {
	return AlarmKey{Kind: a.Kind, Site: a.Site, Device: a.Device, Point: a.Point, Incident: a.Incident}
}

// AlarmAction is what an entry of an alarm's history did.
type AlarmAction string

// The actions on an alarm.
const (
	AlarmOpened       AlarmAction = "opened"       // the engine (or an officer) opened it
	AlarmAcknowledged AlarmAction = "acknowledged" // a person took note, with a comment
	AlarmClosed       AlarmAction = "closed"       // a person or the engine closed it
	AlarmNoted        AlarmAction = "noted"        // a comment, or a fact the engine adds (the condition repeated)
	AlarmRestored     AlarmAction = "restored"     // the condition ended (power restored, door closed, …); the alarm stays until closed
	AlarmRecurred     AlarmAction = "recurred"     // the condition began again while the alarm was still open
)

// Valid reports whether a is a known action.
func (a AlarmAction) Valid() bool {
	switch a {
	case AlarmOpened, AlarmAcknowledged, AlarmClosed, AlarmNoted, AlarmRestored, AlarmRecurred:
		return true
	}
	return false
}

// AlarmEntry is one entry of an alarm's history.
type AlarmEntry struct {
	Alarm   int64 // the alarm's id (set by the store)
	Seq     int   // 1, 2, … within the alarm (set by the store)
	Time    time.Time
	Who     string // a person's identity (certificate subject or login), or "engine" for the watch engine
	Role    string // the role Who acted in: operator, officer, admin, or engine
	Action  AlarmAction
	Comment string            // what the person wrote ("" for the engine)
	Detail  map[string]string // parameters of an engine entry (e.g. the restoring record's time)
}

// AlarmFilter selects alarms; zero fields select all. The period is on the opening time: [Since, Until).
type AlarmFilter struct {
	Site          string
	Operator      string // the sites' operator EIK: an operator sees only its own
	CustomsOffice string // the sites' customs office: an officer sees his office's
	Device        string
	Point         string
	States        []AlarmState // any of them; empty: all
	Kinds         []AlarmKind  // any of them; empty: all
	Since         time.Time
	Until         time.Time
	Limit         int // 0: no limit
	Offset        int // for paging, with Limit
}

// WatchLease is who may do the work of which only one may run over a database at a time: the watch
// engine's checks, when several servers share one PostgreSQL (docs/watching.md, "One engine per
// database"). A holder keeps it by renewing it before Expires.
type WatchLease struct {
	Name     string
	Holder   string    // the holder's id (the engine's: host, process and a random part)
	Acquired time.Time // since when Holder holds it without a break
	Expires  time.Time // when another may take it over; zero when released
}

// SiteMove is one move of a site between lifecycle states (чл. 6, 17–21), as logged.
type SiteMove struct {
	ID     int64 // assigned by MoveSite
	Site   string
	From   SiteState
	To     SiteState
	Who    string // the person
	Role   string // operator, officer or admin
	Time   time.Time
	Reason string // what the person wrote (a protocol number, a reason for suspension)
}

// ConfigVerdict says whether an uploaded configuration was accepted.
type ConfigVerdict string

// The verdicts on a configuration version.
const (
	ConfigAccepted ConfigVerdict = "accepted"
	ConfigRefused  ConfigVerdict = "refused"
)

// ConfigVersion is one uploaded automation_config.xml of a site, with the verdict of the change rules
// (чл. 26) on it.
type ConfigVersion struct {
	Site       string
	Version    int    // 1, 2, … per site, assigned by AddConfigVersion
	File       []byte // the file as uploaded (nil in lists)
	SHA256     Hash   // of File, set by AddConfigVersion
	UploadedBy string
	UploadedAt time.Time
	Verdict    ConfigVerdict
	// Reasons are the findings of the change rules: for a refused version the broken rules, for an
	// accepted one the differences worth knowing (tags added or removed, products with their notices).
	Reasons []ConfigReason
	// Notices are the product-code notices this version calls for (чл. 26(3)–(4)); accepted versions only.
	Notices []ProductNotice
}

// ConfigReason is one finding of the change rules on a version, kept as it was rendered when the
// version was checked (the rule's text in each language), with the fields a program needs.
type ConfigReason struct {
	Kind    string            // the finding's kind (change.Kind: address-changed, product-added, …)
	Refused bool              // the finding breaks a rule
	Late    bool              // an added product whose notice is late
	Tag     string            // the tag concerned, if any
	Point   string            // the control point concerned, if any
	Product string            // the product code concerned, if any
	Due     string            // YYYY-MM-DD: a notice's last day, if any
	Text    map[string]string // the finding for a person, by language ("bg", "en")
}

// ProductNotice is a notice of a product code of a control point that the operator owes the customs
// office: at least 1 working day before a code is added (чл. 26(3)), within 7 working days after one is
// removed (чл. 26(4)).
type ProductNotice struct {
	ID      int64 // assigned by AddConfigVersion
	Site    string
	Version int // the configuration version that added or removed the code
	Point   string
	Product string
	Change  string    // "added" or "removed"
	Due     string    // YYYY-MM-DD: the last day of the notice (for an added code: the last day before its first use)
	Given   time.Time // when the notice was recorded as given; zero while owed
	GivenBy string
}

// ProductNoticeFilter selects product notices; zero fields select all.
type ProductNoticeFilter struct {
	Site     string
	Operator string
	Owed     bool   // only those not given yet
	DueUntil string // YYYY-MM-DD: only those due on or before this day
}

// CommissionFile is a file handed over at commissioning (чл. 21(3)–(5)) with its hashes.
type CommissionFile struct {
	Role   string // image, config (automation_config.xml), modbus-map, or other
	Name   string
	Size   int64
	MD5    string // lower-case hex: the ordinance asks for MD5
	SHA256 string // lower-case hex: the hash that still means something
}

// Commissioning is the record of a site's commissioning (чл. 21(3)–(6)): what was handed over and sealed.
type Commissioning struct {
	ID             int64 // assigned by AddCommissioning
	Site           string
	Time           time.Time
	Officer        string // the customs officer who commissioned
	Representative string // the operator's representative present
	Protocol       string // the protocol's number
	Controller     string // serial number of the PLC
	Computer       string // serial number of the industrial computer (ИКУНК)
	UPS            string // serial number of the UPS
	Seals          []string
	Files          []CommissionFile
	Notes          string
}

// ComparisonKind says which comparison it is.
type ComparisonKind string

// The comparisons.
const (
	ComparisonTestData ComparisonKind = "test-data" // чл. 27: the operator's test data vs what arrived
	ComparisonThreeWay ComparisonKind = "three-way" // чл. 20: the officer's meter readings, the agent's journal, the server
)

// Comparison is a stored comparison and its result, line by line.
type Comparison struct {
	ID      int64 // assigned by AddComparison
	Kind    ComparisonKind
	Site    string
	Time    time.Time // when it was made
	By      string    // who made it
	From    time.Time // the period compared, [From, To)
	To      time.Time
	Sources []string // the names of the compared sources, in the order of ComparisonLine.Values: e.g. operator, server
	Matches int
	Misses  int // lines that do not match
	Lines   []ComparisonLine
}

// ComparisonLine is one compared value: a quantity of a point at a time (or of a transaction).
type ComparisonLine struct {
	Point  string
	Time   time.Time
	Item   string   // what is compared: a tag, or a transaction's quantity (e.g. "volume.end")
	Values []string // one per source, "" where the source has none
	Match  bool
	Note   string // why it does not match (a catalogue key of package watch), "" when it does
}
