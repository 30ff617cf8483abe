package core

import (
	"errors"
	"fmt"
	"time"
)

// RecordKind says what a record reports.
type RecordKind string

// The kinds of record an agent sends.
const (
	// KindReading is one scan of a control point: the instantaneous values of its tags (чл. 30, ал. 13).
	KindReading RecordKind = "reading"
	// KindTransaction is one finished loading or unloading, from its start to its end flag (чл. 30, ал.
	// 14–17).
	KindTransaction RecordKind = "transaction"
	// KindEvent is something that happened to the box, a sensor or the agent: the door opened (чл. 36), the
	// power failed (чл. 30, ал. 1), a totalizer went down (чл. 30, ал. 6), …
	KindEvent RecordKind = "event"
)

// Valid reports whether k is a known kind.
func (k RecordKind) Valid() bool { return k == KindReading || k == KindTransaction || k == KindEvent }

// Decimal is a number written in decimal, exactly as the meter gave it after normalisation, e.g. "123456.789".
// Totalizers run to many digits; a float would round them, a string keeps every digit. The form is
// -?(0|[1-9][0-9]*)(\.[0-9]+)?, at most 40 characters: no exponent, no plus sign, no leading zeros.
type Decimal string

// Valid reports whether d has the form of a Decimal.
func (d Decimal) Valid() bool {
	s := string(d)
	if len(s) == 0 || len(s) > 40 {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || (s[0] == '0' && i > 1) {
		return false
	}
	if i == len(s) {
		return true
	}
	if s[i] != '.' || i+1 == len(s) {
		return false
	}
	for _, c := range []byte(s[i+1:]) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Quality is a flag on a value that tells how far to trust it.
type Quality string

// The quality flags of a value.
const (
	QualityLow     Quality = "below-limit" // below the configured plausibility limit
	QualityHigh    Quality = "above-limit" // above the configured plausibility limit
	QualityTest    Quality = "test"        // read while the point is in test (configuration) mode, чл. 17–20
	QualityStale   Quality = "stale"       // the PLC answered, but with the same value past the tag's freshness limit
	QualityError   Quality = "error"       // the device reported an error bit for this value
	QualityInvalid Quality = "invalid"     // the raw registers did not decode to a number (NaN, out of range)
)

// Value is one tag's value in a reading. The unit travels with the value.
type Value struct {
	Tag     string    `json:"tag"`               // the tag's name in automation_config.xml
	Role    Role      `json:"role,omitempty"`    // what the tag means
	Value   Decimal   `json:"value"`             // normalised value
	Unit    string    `json:"unit,omitempty"`    // engineering unit, e.g. "L", "kg", "kg/m3", "degC"
	Quality []Quality `json:"quality,omitempty"` // empty when the value is good
	// Time is when this value was read, when it differs from the record's time (values of one scan read
	// in several requests). Zero means the record's time.
	Time time.Time `json:"time,omitzero"`
}

// Reading is the payload of a KindReading record: the values of one control point at one scan.
type Reading struct {
	Values []Value `json:"values"`
}

// Measure is a quantity with its unit.
type Measure struct {
	Value Decimal `json:"value"`
	Unit  string  `json:"unit"`
}

// Totals are a totalizer's readings at the start and the end of a transaction and the quantity between
// them (end − start, or the meter's own transaction quantity where it has one).
type Totals struct {
	Begin    Decimal `json:"begin"`
	End      Decimal `json:"end"`
	Quantity Decimal `json:"quantity"`
	Unit     string  `json:"unit"`
}

// Flow is what one direction of a transaction moved, in each of the quantities the meter counts. A meter
// counts some of them, never necessarily all; absent ones are nil.
type Flow struct {
	Volume    *Totals `json:"volume,omitempty"`    // gross observed volume, at line temperature
	StdVolume *Totals `json:"stdVolume,omitempty"` // gross standard volume, at 15 °C
	Mass      *Totals `json:"mass,omitempty"`
	Count     *Totals `json:"count,omitempty"` // pieces, for counters (чл. 30, ал. 13, т. 7)
}

// empty reports whether no quantity is counted.
func (f *Flow) empty() bool {
	return f == nil || f.Volume == nil && f.StdVolume == nil && f.Mass == nil && f.Count == nil
}

// Transaction is the payload of a KindTransaction record: one loading or unloading at a control point
// (чл. 30, ал. 14–17), as operators' accounting systems record it.
type Transaction struct {
	Begin time.Time `json:"begin"` // the change indicator went 0→1 (чл. 30, ал. 16)
	End   time.Time `json:"end"`   // the change indicator went 1→0
	// StartFromPrevious is true when the meter gave no start value and the start totals are the end totals
	// of the previous transaction (чл. 30, ал. 17).
	StartFromPrevious bool      `json:"startFromPrevious,omitempty"`
	Product           string    `json:"product"`               // product code (чл. 30, ал. 10)
	ProductName       string    `json:"productName,omitempty"` // trade name from the nomenclature
	Direction         Direction `json:"direction"`             // out or in; never both for one transaction (чл. 30, ал. 9)
	Forward           Flow      `json:"forward"`               // the transaction's own direction
	Reverse           *Flow     `json:"reverse,omitempty"`     // reverse flow, where the meter counts it
	Density           *Measure  `json:"density,omitempty"`     // average observed density
	Density15         *Measure  `json:"density15,omitempty"`   // average density at 15 °C (чл. 30, ал. 8)
	Temperature       *Measure  `json:"temperature,omitempty"` // average temperature
	Alcohol           *Measure  `json:"alcohol,omitempty"`     // alcohol content, for spirits
}

// EventKind names an event.
type EventKind string

// The events an agent reports.
const (
	EventDoorOpened            EventKind = "door-opened"            // чл. 36
	EventDoorClosed            EventKind = "door-closed"            // чл. 36
	EventPowerLost             EventKind = "power-lost"             // чл. 30, ал. 1: running on the UPS
	EventPowerRestored         EventKind = "power-restored"         // чл. 30, ал. 1
	EventErrorBitsSet          EventKind = "error-bits-set"         // чл. 35, ал. 5; Bits says which
	EventErrorBitsCleared      EventKind = "error-bits-cleared"     // Bits says which
	EventTotalizerDecreased    EventKind = "totalizer-decreased"    // чл. 30, ал. 6; Previous → Value
	EventCommunicationLost     EventKind = "communication-lost"     // the PLC stopped answering
	EventCommunicationRestored EventKind = "communication-restored" // it answers again
	EventAgentStarted          EventKind = "agent-started"
	EventAgentStopped          EventKind = "agent-stopped"
	EventConfigChanged         EventKind = "config-changed" // Previous and Value are the configs' SHA-256
	EventClockStepped          EventKind = "clock-stepped"  // the system clock jumped; Value is the step in ms
	EventOutOfLimits           EventKind = "out-of-limits"  // a value left its plausibility limits
	EventBackInLimits          EventKind = "back-in-limits" // and came back
	EventUnsentTooLong         EventKind = "unsent-too-long"
	EventJournalRecovered      EventKind = "journal-recovered" // a torn tail of the journal was cut at start
	EventTransactionAborted    EventKind = "transaction-aborted"
	// EventRecordNotKept stands in the journal for a record the agent made but could not encode (invalid,
	// or over wire.MaxRecordSize); Detail says why, Tag the record's kind and Value its point.
	EventRecordNotKept EventKind = "record-not-kept"
	// EventRecordsLost stands in the chain where the agent's journal lost records to disk damage before
	// they were sent: Previous and Value are the first and last lost seq as they were numbered in the
	// damaged journal, Detail says why. The records after it are the journal's intact records, renumbered
	// to follow it (docs/protocol.md, "Records lost in the agent's journal").
	EventRecordsLost EventKind = "records-lost"
)

// EventKinds lists every event kind.
var EventKinds = []EventKind{
	EventDoorOpened, EventDoorClosed, EventPowerLost, EventPowerRestored, EventErrorBitsSet,
	EventErrorBitsCleared, EventTotalizerDecreased, EventCommunicationLost, EventCommunicationRestored,
	EventAgentStarted, EventAgentStopped, EventConfigChanged, EventClockStepped, EventOutOfLimits,
	EventBackInLimits, EventUnsentTooLong, EventJournalRecovered, EventTransactionAborted, EventRecordNotKept,
	EventRecordsLost,
}

// Valid reports whether k is a known event kind.
func (k EventKind) Valid() bool {
	for _, e := range EventKinds {
		if k == e {
			return true
		}
	}
	return false
}

// Event is the payload of a KindEvent record.
type Event struct {
	Kind     EventKind `json:"kind"`
	Tag      string    `json:"tag,omitempty"`      // the tag that raised it, if any
	Value    string    `json:"value,omitempty"`    // the value after (a Decimal, a hash, …: see the kind)
	Previous string    `json:"previous,omitempty"` // the value before
	Unit     string    `json:"unit,omitempty"`
	Bits     []int     `json:"bits,omitempty"`   // error bit numbers, for error-bits-set/-cleared
	Detail   string    `json:"detail,omitempty"` // a developer's note (English), never needed to act
}

// Record is one fact an agent sends: a reading, a transaction or an event, stamped with the time it was
// read (чл. 37, т. 2) and the device that read it. Exactly one of Reading, Transaction and Event is set, as
// Kind says. Its encoding on the wire (and so its evidence) is defined by package wire.
type Record struct {
	Kind   RecordKind `json:"kind"`
	Time   time.Time  `json:"time"`            // UTC, milliseconds: when the value was read
	Device string     `json:"device"`          // warehouse number + ИКУНК number, e.g. BGNCA00005001001
	Point  string     `json:"point,omitempty"` // control point id; empty for events of the box itself
	// Config is the hex SHA-256 of the automation_config.xml in force when the record was made.
	Config string `json:"config,omitempty"`
	// Test marks records made while the site is in testing (чл. 17–20): they are not live data.
	Test        bool         `json:"test,omitempty"`
	Reading     *Reading     `json:"reading,omitempty"`
	Transaction *Transaction `json:"transaction,omitempty"`
	Event       *Event       `json:"event,omitempty"`
}

// deviceIDLen is the length of a device id: 13 characters of the warehouse and 3 of the box.
const deviceIDLen = warehouseIDLen + 3

// ValidDeviceID reports whether s names an ИКУНК: a tax warehouse number and a 3-digit box number,
// e.g. BGNCA00005001001.
func ValidDeviceID(s string) bool {
	if len(s) != deviceIDLen || !ValidWarehouseID(s[:warehouseIDLen]) {
		return false
	}
	_, err := threeDigits(s[warehouseIDLen:])
	return err == nil
}

// Stamp gives t as records carry it: UTC, truncated to the millisecond.
func Stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func stamped(t time.Time) bool {
	return !t.IsZero() && t.Location() == time.UTC && t.Nanosecond()%int(time.Millisecond) == 0
}

// Validate checks that r is complete and well-formed; the error names the field.
func (r *Record) Validate() error {
	if !r.Kind.Valid() {
		return fmt.Errorf("kind: unknown %q", r.Kind)
	}
	if !stamped(r.Time) {
		return errors.New("time: must be set, in UTC, to the millisecond")
	}
	if !ValidDeviceID(r.Device) {
		return fmt.Errorf("device: %q is not a warehouse number and a 3-digit box number", r.Device)
	}
	if r.Point != "" {
		p, err := ParsePointID(r.Point)
		if err != nil {
			return fmt.Errorf("point: %w", err)
		}
		if p.String()[:deviceIDLen] != r.Device {
			return fmt.Errorf("point: %q is not a point of device %s", r.Point, r.Device)
		}
	}
	if r.Config != "" && !isHex64(r.Config) {
		return errors.New("config: must be 64 lower-case hex digits (SHA-256)")
	}
	n := 0
	if r.Reading != nil {
		n++
	}
	if r.Transaction != nil {
		n++
	}
	if r.Event != nil {
		n++
	}
	if n != 1 {
		return fmt.Errorf("%s: exactly one of reading, transaction, event must be set, have %d", r.Kind, n)
	}
	switch r.Kind {
	case KindReading:
		if r.Reading == nil {
			return errors.New("reading: missing")
		}
		if r.Point == "" {
			return errors.New("point: a reading needs its control point")
		}
		return r.Reading.validate()
	case KindTransaction:
		if r.Transaction == nil {
			return errors.New("transaction: missing")
		}
		if r.Point == "" {
			return errors.New("point: a transaction needs its control point")
		}
		return r.Transaction.validate()
	default:
		if r.Event == nil {
			return errors.New("event: missing")
		}
		return r.Event.validate()
	}
}

func (r *Reading) validate() error {
	if len(r.Values) == 0 {
		return errors.New("reading.values: empty")
	}
	for i, v := range r.Values {
		if v.Tag == "" {
			return fmt.Errorf("reading.values[%d].tag: empty", i)
		}
		if v.Role != "" && !v.Role.Valid() {
			return fmt.Errorf("reading.values[%d].role: unknown %q", i, v.Role)
		}
		if !v.Value.Valid() {
			return fmt.Errorf("reading.values[%d].value: %q is not a decimal number", i, v.Value)
		}
		if !v.Time.IsZero() && !stamped(v.Time) {
			return fmt.Errorf("reading.values[%d].time: must be UTC, to the millisecond", i)
		}
	}
	return nil
}

func (t *Transaction) validate() error {
	if !stamped(t.Begin) || !stamped(t.End) {
		return errors.New("transaction.begin/end: must be set, in UTC, to the millisecond")
	}
	if t.End.Before(t.Begin) {
		return errors.New("transaction.end: before its begin")
	}
	if t.Product == "" {
		return errors.New("transaction.product: empty (чл. 30, ал. 10)")
	}
	if t.Direction != DirectionOut && t.Direction != DirectionIn {
		return fmt.Errorf("transaction.direction: %q, want out or in", t.Direction)
	}
	if t.Forward.empty() {
		return errors.New("transaction.forward: no quantity")
	}
	if err := t.Forward.validate("transaction.forward"); err != nil {
		return err
	}
	if t.Reverse != nil {
		if err := t.Reverse.validate("transaction.reverse"); err != nil {
			return err
		}
	}
	for _, m := range []struct {
		name string
		m    *Measure
	}{{"density", t.Density}, {"density15", t.Density15}, {"temperature", t.Temperature}, {"alcohol", t.Alcohol}} {
		if m.m != nil && !m.m.Value.Valid() {
			return fmt.Errorf("transaction.%s.value: %q is not a decimal number", m.name, m.m.Value)
		}
	}
	return nil
}

func (f *Flow) validate(where string) error {
	for _, q := range []struct {
		name string
		t    *Totals
	}{{"volume", f.Volume}, {"stdVolume", f.StdVolume}, {"mass", f.Mass}, {"count", f.Count}} {
		if q.t == nil {
			continue
		}
		if !q.t.Begin.Valid() || !q.t.End.Valid() || !q.t.Quantity.Valid() {
			return fmt.Errorf("%s.%s: begin, end and quantity must be decimal numbers", where, q.name)
		}
	}
	return nil
}

func (e *Event) validate() error {
	if !e.Kind.Valid() {
		return fmt.Errorf("event.kind: unknown %q", e.Kind)
	}
	return nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
