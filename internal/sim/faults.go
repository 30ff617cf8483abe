package sim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/i18n"
)

// FaultKind is a way the simulated field can misbehave.
type FaultKind string

// Fault kinds. The first five break communication and act on Modbus requests; the rest change the
// simulated plant and are what the agent must report as events.
const (
	FaultDelay     FaultKind = "delay"     // answer ms milliseconds late
	FaultDrop      FaultKind = "drop"      // close the connection instead of answering
	FaultException FaultKind = "exception" // answer with exception code
	FaultCorrupt   FaultKind = "corrupt"   // answer with a bad CRC (RTU) or a bad MBAP length (TCP)
	FaultSilence   FaultKind = "silence"   // answer nothing

	FaultDoor               FaultKind = "door"                // the box is opened (чл. 36)
	FaultPower              FaultKind = "power"               // mains lost, the UPS takes over (чл. 30, ал. 1; чл. 34)
	FaultErrorBits          FaultKind = "error-bits"          // a meter raises error bits (чл. 35, ал. 5)
	FaultTotalizerBackwards FaultKind = "totalizer-backwards" // a totalizer goes down by amount (чл. 30, ал. 6)
)

// FaultKinds lists every kind.
var FaultKinds = []FaultKind{FaultDelay, FaultDrop, FaultException, FaultCorrupt, FaultSilence,
	FaultDoor, FaultPower, FaultErrorBits, FaultTotalizerBackwards}

// Comm reports whether the fault acts on Modbus requests rather than on the plant.
func (k FaultKind) Comm() bool {
	switch k {
	case FaultDelay, FaultDrop, FaultException, FaultCorrupt, FaultSilence:
		return true
	}
	return false
}

// Fault is one injected fault, as the control API takes it in JSON and a scenario schedules it in XML.
type Fault struct {
	Kind   FaultKind `json:"kind"`
	Unit   int       `json:"unit,omitempty"`   // communication faults: the unit id, 0 every unit
	Point  int       `json:"point,omitempty"`  // error-bits, totalizer-backwards: the point number
	MS     int       `json:"ms,omitempty"`     // delay: milliseconds
	Code   int       `json:"code,omitempty"`   // exception: the exception code
	Bits   uint16    `json:"bits,omitempty"`   // error-bits: the bits to set
	Amount float64   `json:"amount,omitempty"` // totalizer-backwards: how much the primary totalizer drops
	Rate   float64   `json:"rate,omitempty"`   // communication faults: the share of requests hit, 0 or 1 all
	For    Duration  `json:"for,omitempty"`    // how long it lasts in simulated time; 0 until cleared
	At     Duration  `json:"at,omitempty"`     // scheduled faults: simulated time after the start
}

// Duration is a time.Duration written as Go writes durations ("30s", "1m30s") in JSON.
type Duration time.Duration

// MarshalJSON writes d as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a string such as "30s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"30s\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 || v > maxSimDuration {
		return fmt.Errorf("%q is not a duration such as \"30s\"", s)
	}
	*d = Duration(v)
	return nil
}

// check validates f against the scenario; it returns the problem, or nil.
func (f *Fault) check(sc *Scenario) *i18n.Message {
	known := false
	for _, k := range FaultKinds {
		known = known || k == f.Kind
	}
	names := make([]string, len(FaultKinds))
	for i, k := range FaultKinds {
		names[i] = string(k)
	}
	switch {
	case !known:
		return msg(i18n.M("sim.fault.kind", string(f.Kind), strings.Join(names, ", ")))
	case f.Rate < 0 || f.Rate > 1:
		return msg(i18n.M("sim.fault.rate", f.Rate))
	case f.For < 0 || f.At < 0:
		return msg(i18n.M("sim.fault.negative"))
	}
	if f.Kind.Comm() {
		if f.Unit != 0 && sc.device(f.Unit) == nil {
			return msg(i18n.M("sim.fault.unit", f.Unit))
		}
	}
	switch f.Kind {
	case FaultDelay:
		if f.MS <= 0 || f.MS > 600000 {
			return msg(i18n.M("sim.fault.ms", f.MS))
		}
	case FaultException:
		if f.Code <= 0 || f.Code > 255 {
			return msg(i18n.M("sim.fault.code", f.Code))
		}
	case FaultErrorBits, FaultTotalizerBackwards:
		if sc.point(f.Point) == nil {
			return msg(i18n.M("sim.fault.point", f.Point))
		}
		if f.Kind == FaultErrorBits && f.Bits == 0 {
			return msg(i18n.M("sim.fault.bits"))
		}
		if f.Kind == FaultTotalizerBackwards && (f.Amount <= 0 || f.Amount > 1e12) {
			return msg(i18n.M("sim.fault.amount", f.Amount))
		}
	}
	return nil
}

func msg(m i18n.Message) *i18n.Message { return &m }

// fromXML reads a <fault> element.
func (f *Fault) fromXML(l *loader, n *node) *i18n.Message {
	f.Kind = FaultKind(l.required(n, "kind"))
	f.At = Duration(l.duration(n, "at", 0))
	f.For = Duration(l.duration(n, "for", 0))
	f.Unit = l.integer(n, "unit", 0, 0, 247)
	f.Point = l.integer(n, "point", 0, 0, 999)
	f.MS = l.integer(n, "ms", 0, 0, 600000)
	f.Code = l.integer(n, "code", 0, 0, 255)
	f.Bits = uint16(l.integer(n, "bits", 0, 0, 65535))
	f.Amount = l.number(n, "amount", 0, 0, 1e12)
	f.Rate = l.number(n, "rate", 0, 0, 1)
	if _, ok := l.attr(n, "at"); !ok {
		m := i18n.M("sim.scenario.missing", "at")
		return &m
	}
	l.done(n)
	for _, c := range n.children {
		l.fail(c, c.name, i18n.M("sim.scenario.unknown_element", c.name, n.name))
	}
	return nil
}

func (f *Fault) String() string {
	var b strings.Builder
	b.WriteString(string(f.Kind))
	add := func(k, v string) { b.WriteString(" " + k + "=" + v) }
	if f.Unit != 0 {
		add("unit", strconv.Itoa(f.Unit))
	}
	if f.Point != 0 {
		add("point", strconv.Itoa(f.Point))
	}
	if f.MS != 0 {
		add("ms", strconv.Itoa(f.MS))
	}
	if f.Code != 0 {
		add("code", strconv.Itoa(f.Code))
	}
	if f.Bits != 0 {
		add("bits", fmt.Sprintf("0x%04x", f.Bits))
	}
	if f.Amount != 0 {
		add("amount", strconv.FormatFloat(f.Amount, 'g', -1, 64))
	}
	if f.Rate != 0 {
		add("rate", strconv.FormatFloat(f.Rate, 'g', -1, 64))
	}
	if f.For != 0 {
		add("for", time.Duration(f.For).String())
	}
	return b.String()
}

func (sc *Scenario) device(unit int) *Device {
	for _, d := range sc.Devices {
		if int(d.Unit) == unit {
			return d
		}
	}
	return nil
}

func (sc *Scenario) point(number int) *Point {
	for _, d := range sc.Devices {
		for _, p := range d.Points {
			if p.Number == number {
				return p
			}
		}
	}
	return nil
}
