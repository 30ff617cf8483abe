package agent

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/core"
)

// stateVersion is the version of the persisted detector state.
const stateVersion = 1

// detector turns samples into records. It runs on one goroutine; decode alone is called concurrently and
// only reads.
type detector struct {
	cfg     *config.Config
	device  string
	o       Options
	exact   map[*config.Tag]*affine
	points  []*pointRun
	byPoint map[*config.Point]*pointRun
	refs    []config.TagRef // every tag, box first, in file order
	st      *persisted
}

// pointRun is what the detector knows of one control point's tags.
type pointRun struct {
	p           *config.Point
	interval    time.Duration
	nextReading time.Time
	lastReading time.Time
	latest      map[*config.Tag]sample
	indicator   *config.Tag
	totals      []*config.Tag
	start, qty  map[core.Role]*config.Tag
	product     *config.Tag
	direction   *config.Tag
}

// persisted is the state that must survive a restart (State, Restore).
type persisted struct {
	Version int                    `json:"version"`
	Points  map[string]*pointState `json:"points"`
	Tags    map[string]*tagState   `json:"tags"`
	Comm    map[string]bool        `json:"comm,omitempty"` // controller/unit → communication-lost raised
}

type pointState struct {
	Indicator *bool                      `json:"indicator,omitempty"`
	Open      *openTx                    `json:"open,omitempty"`
	LastEnd   map[core.Role]core.Decimal `json:"lastEnd,omitempty"` // end totals of the previous transaction
}

type openTx struct {
	Begin       time.Time                  `json:"begin"`
	BeginTotals map[core.Role]core.Decimal `json:"beginTotals,omitempty"`
	Product     string                     `json:"product,omitempty"`
	ProductName string                     `json:"productName,omitempty"`
	Direction   core.Direction             `json:"direction,omitempty"`
	Ending      bool                       `json:"ending,omitempty"`
	End         time.Time                  `json:"end,omitzero"`
	Sums        map[core.Role]*average     `json:"sums,omitempty"`
}

type average struct {
	Sum  float64 `json:"sum"`
	N    int     `json:"n"`
	Unit string  `json:"unit,omitempty"`
	Res  float64 `json:"res,omitempty"`
}

type tagState struct {
	Last  core.Decimal `json:"last,omitempty"`  // a totalizer's last value
	Flag  *bool        `json:"flag,omitempty"`  // door, UPS
	Bits  *uint64      `json:"bits,omitempty"`  // error bits
	Limit core.Quality `json:"limit,omitempty"` // out of limits since the event was raised
}

func newDetector(cfg *config.Config, device string, o Options) *detector {
	d := &detector{cfg: cfg, device: device, o: o, exact: map[*config.Tag]*affine{},
		byPoint: map[*config.Point]*pointRun{}, refs: cfg.Tags()}
	d.st = &persisted{Version: stateVersion, Points: map[string]*pointState{}, Tags: map[string]*tagState{}, Comm: map[string]bool{}}
	for _, r := range d.refs {
		d.exact[r.Tag] = exactFormula(r.Tag)
	}
	for _, p := range cfg.Points {
		pr := &pointRun{p: p, interval: PointInterval(p), latest: map[*config.Tag]sample{},
			start: map[core.Role]*config.Tag{}, qty: map[core.Role]*config.Tag{}}
		for _, t := range p.Tags {
			switch {
			case t.Role.Totalizer():
				pr.totals = append(pr.totals, t)
			case t.Role == core.RoleTransactionFlag:
				pr.indicator = t
			case t.Role == core.RoleProductCode:
				pr.product = t
			case t.Role == core.RoleDirection:
				pr.direction = t
			}
		}
		for _, t := range p.Tags {
			if t.Role != core.RoleStartTotal && t.Role != core.RoleTransactionQuantity {
				continue
			}
			tot := t.Totalizer(p)
			if tot == nil {
				continue
			}
			if t.Role == core.RoleStartTotal {
				pr.start[tot.Role] = t
			} else {
				pr.qty[tot.Role] = t
			}
		}
		d.points = append(d.points, pr)
		d.byPoint[p] = pr
	}
	return d
}

func (d *detector) pointState(p *config.Point) *pointState {
	ps := d.st.Points[p.ID]
	if ps == nil {
		ps = &pointState{}
		d.st.Points[p.ID] = ps
	}
	return ps
}

func (d *detector) tagState(t *config.Tag) *tagState {
	ts := d.st.Tags[t.Name]
	if ts == nil {
		ts = &tagState{}
		d.st.Tags[t.Name] = ts
	}
	return ts
}

func (d *detector) marshal() ([]byte, error) { return json.Marshal(d.st) }

func (d *detector) unmarshal(b []byte) error {
	var st persisted
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("agent: state: %w", err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("agent: state: version %d, want %d", st.Version, stateVersion)
	}
	if st.Points == nil {
		st.Points = map[string]*pointState{}
	}
	if st.Tags == nil {
		st.Tags = map[string]*tagState{}
	}
	if st.Comm == nil {
		st.Comm = map[string]bool{}
	}
	d.st = &st
	return nil
}

// decode decodes one slot of a request's response.
func (d *detector) decode(s Slot, r *liveRequest, c *config.Controller, at time.Time) sample {
	t := s.Ref.Tag
	_, n := span(t)
	if r.Table.Bits() {
		if s.Offset < 0 || s.Offset >= len(r.bits) {
			return invalidSample(sample{at: at})
		}
		return decodeTag(t, c.Quirks, d.exact[t], nil, r.bits[s.Offset:s.Offset+1], at)
	}
	if s.Offset < 0 || s.Offset+n > len(r.regs) {
		return invalidSample(sample{at: at})
	}
	return decodeTag(t, c.Quirks, d.exact[t], r.regs[s.Offset:s.Offset+n], nil, at)
}

// event makes an event record of the box (point "") or of a point.
func (d *detector) event(at time.Time, point string, e *core.Event) *core.Record {
	return &core.Record{Kind: core.KindEvent, Time: core.Stamp(at), Device: d.device, Point: point,
		Config: d.o.ConfigHash, Test: d.o.Test, Event: e}
}

// edges lists the transaction points whose indicator, in got, differs from what was last seen, or is
// seen for the first time set: their totals are to be read at once.
func (d *detector) edges(got map[*config.Tag]sample) map[*config.Point]bool {
	var out map[*config.Point]bool
	for _, pr := range d.points {
		if pr.indicator == nil || pr.p.Mode != core.ModeTransaction {
			continue
		}
		s, ok := got[pr.indicator]
		if !ok || s.invalid || !s.rawOK {
			continue
		}
		on := s.raw != 0
		prev := d.pointState(pr.p).Indicator
		if (prev == nil && on) || (prev != nil && *prev != on) {
			if out == nil {
				out = map[*config.Point]bool{}
			}
			out[pr.p] = true
		}
	}
	return out
}

// scan turns the samples of one scan into records.
func (d *detector) scan(now time.Time, got map[*config.Tag]sample) []*core.Record {
	var recs []*core.Record
	for _, r := range d.refs {
		s, ok := got[r.Tag]
		if !ok {
			continue
		}
		if r.Point != nil {
			d.byPoint[r.Point].latest[r.Tag] = s
		}
		if !s.invalid {
			recs = append(recs, d.tagEvents(r.Tag, r.Point, s)...)
		}
	}
	for _, pr := range d.points {
		if pr.p.Mode == core.ModeTransaction && pr.indicator != nil {
			recs = append(recs, d.transaction(pr, got)...)
		}
		if r := d.reading(pr, now); r != nil {
			recs = append(recs, r)
		}
	}
	return recs
}

func pointID(p *config.Point) string {
	if p == nil {
		return ""
	}
	return p.ID
}

// tagEvents raises the events a tag's new value means: door (чл. 36), power (чл. 30, ал. 1; чл. 34), error
// bits (чл. 35, ал. 5), a totalizer that went down (чл. 30, ал. 6), and leaving or re-entering limits.
func (d *detector) tagEvents(t *config.Tag, p *config.Point, s sample) []*core.Record {
	var out []*core.Record
	ts := d.tagState(t)
	pid := pointID(p)
	ev := func(e *core.Event) {
		e.Tag = t.Name
		out = append(out, d.event(s.at, pid, e))
	}
	switch t.Role {
	case core.RoleDoor, core.RoleUPS:
		on := s.rawOK && s.raw != 0
		if ts.Flag == nil && on || ts.Flag != nil && *ts.Flag != on {
			kind := map[bool]map[core.Role]core.EventKind{
				true:  {core.RoleDoor: core.EventDoorOpened, core.RoleUPS: core.EventPowerLost},
				false: {core.RoleDoor: core.EventDoorClosed, core.RoleUPS: core.EventPowerRestored},
			}[on][t.Role]
			e := &core.Event{Kind: kind, Value: b01(on)}
			if ts.Flag != nil {
				e.Previous = b01(*ts.Flag)
			}
			ev(e)
		}
		ts.Flag = &on
	case core.RoleErrorBits:
		if !s.rawOK {
			break
		}
		now := uint64(s.raw)
		var prev uint64
		if ts.Bits != nil {
			prev = *ts.Bits
		}
		if set := now &^ prev; set != 0 {
			ev(&core.Event{Kind: core.EventErrorBitsSet, Value: strconv.FormatUint(now, 10),
				Previous: strconv.FormatUint(prev, 10), Bits: bitList(set), Detail: codes(t, set)})
		}
		if cleared := prev &^ now; cleared != 0 {
			ev(&core.Event{Kind: core.EventErrorBitsCleared, Value: strconv.FormatUint(now, 10),
				Previous: strconv.FormatUint(prev, 10), Bits: bitList(cleared), Detail: codes(t, cleared)})
		}
		ts.Bits = &now
	}
	if t.Role.Totalizer() {
		if ts.Last != "" {
			if c, ok := cmpDecimal(s.value, ts.Last); ok && c < 0 {
				ev(&core.Event{Kind: core.EventTotalizerDecreased, Value: string(s.value), Previous: string(ts.Last), Unit: t.Unit})
				if p != nil {
					// The previous end total no longer continues into the next transaction.
					delete(d.pointState(p).LastEnd, t.Role)
				}
			}
		}
		ts.Last = s.value
	}
	if t.Low != nil || t.High != nil {
		var q core.Quality
		if len(s.quality) > 0 {
			q = s.quality[0]
		}
		if q != ts.Limit {
			if q != "" {
				ev(&core.Event{Kind: core.EventOutOfLimits, Value: string(s.value), Unit: t.Unit, Detail: string(q)})
			} else {
				ev(&core.Event{Kind: core.EventBackInLimits, Value: string(s.value), Unit: t.Unit, Previous: string(ts.Limit)})
			}
			ts.Limit = q
		}
	}
	return out
}

func b01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func bitList(v uint64) []int {
	var out []int
	for v != 0 {
		b := bits.TrailingZeros64(v)
		out = append(out, b)
		v &^= 1 << b
	}
	return out
}

// codes names the error bits by the codes of the tag's error table (чл. 35, ал. 5).
func codes(t *config.Tag, v uint64) string {
	var out []string
	for _, b := range bitList(v) {
		code := fmt.Sprintf("bit %d", b)
		for _, e := range t.ErrorBits {
			if e.Bit == b {
				code = e.Code
			}
		}
		out = append(out, code)
	}
	return strings.Join(out, ",")
}

// fresh returns the sample of t read in this scan, if it is a number.
func fresh(got map[*config.Tag]sample, t *config.Tag) (sample, bool) {
	if t == nil {
		return sample{}, false
	}
	s, ok := got[t]
	return s, ok && !s.invalid
}

// transaction follows a transaction point's change indicator (чл. 30, ал. 16): 0→1 opens a transaction
// with the totals read at that moment, 1→0 closes it with the totals read then.
func (d *detector) transaction(pr *pointRun, got map[*config.Tag]sample) []*core.Record {
	ps := d.pointState(pr.p)
	var out []*core.Record
	si, ok := fresh(got, pr.indicator)
	if ok && si.rawOK {
		on := si.raw != 0
		prev := ps.Indicator
		ps.Indicator = &on
		switch {
		case on && (prev == nil || !*prev):
			if ps.Open != nil && ps.Open.Ending {
				// The next transaction began before the end totals of the last one could be read: the
				// totals of this edge, with the flow stopped in between, are its end.
				out = d.finish(pr, ps, got)
				if ps.Open != nil {
					// Not readable at this edge either: the last one's end can no longer be told from the
					// new one's flow. It is aborted (saying what was measured), and the new one begins now;
					// closing the last one later would give it the new one's totals.
					out = append(out, d.abort(pr, ps, si.at))
				}
			}
			if ps.Open == nil {
				ps.Open = d.begin(pr, si.at, got)
			}
		case ps.Open != nil && !ps.Open.Ending && !on:
			ps.Open.Ending, ps.Open.End = true, core.Stamp(si.at)
		}
	}
	tx := ps.Open
	if tx == nil {
		return out
	}
	for _, t := range pr.p.Tags {
		switch t.Role {
		case core.RoleDensity, core.RoleDensity15, core.RoleTemperature, core.RoleAlcohol:
			if s, ok := fresh(got, t); ok && len(s.quality) == 0 {
				a := tx.Sums[t.Role]
				if a == nil {
					a = &average{Unit: t.Unit, Res: t.Resolution}
					if tx.Sums == nil {
						tx.Sums = map[core.Role]*average{}
					}
					tx.Sums[t.Role] = a
				}
				a.Sum += s.float
				a.N++
			}
		}
	}
	if tx.Product == "" {
		tx.Product, tx.ProductName = d.product(pr, got)
	}
	if tx.Direction == "" {
		tx.Direction = d.direction(pr, got, tx.Product)
	}
	if !tx.Ending {
		// Begin totals not read at the 0→1 edge are taken at the first scan that reads them.
		for _, t := range pr.totals {
			if _, have := tx.BeginTotals[t.Role]; have {
				continue
			}
			if s, ok := fresh(got, t); ok {
				if tx.BeginTotals == nil {
					tx.BeginTotals = map[core.Role]core.Decimal{}
				}
				tx.BeginTotals[t.Role] = s.value
			}
		}
		return out
	}
	return append(out, d.finish(pr, ps, got)...)
}

// abort ends the open transaction whose end totals were never read, with a transaction-aborted event at
// its end saying what was measured. The previous end totals are dropped: they do not continue into the
// next transaction, whose begin totals are read instead.
func (d *detector) abort(pr *pointRun, ps *pointState, next time.Time) *core.Record {
	tx := ps.Open
	var begin []string
	for _, t := range pr.totals {
		if v, ok := tx.BeginTotals[t.Role]; ok {
			begin = append(begin, fmt.Sprintf("%s=%s %s", t.Name, v, t.Unit))
		}
	}
	ps.Open, ps.LastEnd = nil, nil
	return d.event(tx.End, pr.p.ID, &core.Event{Kind: core.EventTransactionAborted,
		Detail: fmt.Sprintf("begin %s end %s product %q direction %q begin totals [%s]: end totals not read before the next transaction began at %s",
			tx.Begin.Format(time.RFC3339Nano), tx.End.Format(time.RFC3339Nano), tx.Product, tx.Direction,
			strings.Join(begin, ", "), core.Stamp(next).Format(time.RFC3339Nano))})
}

func (d *detector) begin(pr *pointRun, at time.Time, got map[*config.Tag]sample) *openTx {
	tx := &openTx{Begin: core.Stamp(at), BeginTotals: map[core.Role]core.Decimal{}}
	for _, t := range pr.totals {
		if s, ok := fresh(got, t); ok {
			tx.BeginTotals[t.Role] = s.value
		}
	}
	tx.Product, tx.ProductName = d.product(pr, got)
	tx.Direction = d.direction(pr, got, tx.Product)
	return tx
}

// product is the transaction's product (чл. 30, ал. 10): the product-code tag through the point's
// nomenclature, or the point's only product. A code that maps to nothing gives "" (it is read again while
// the transaction is open; finish sends the raw value if it never maps).
func (d *detector) product(pr *pointRun, got map[*config.Tag]sample) (code, name string) {
	if pr.product == nil {
		if len(pr.p.Products) > 0 {
			return pr.p.Products[0].Code, pr.p.Products[0].TradeName
		}
		return "", ""
	}
	s, ok := fresh(got, pr.product)
	if !ok || !s.rawOK {
		return "", ""
	}
	if x := pr.p.ProductFor(s.raw); x != nil {
		return x.Code, x.TradeName
	}
	return "", ""
}

// direction is the transaction's direction (чл. 30, ал. 9): the point's, or its direction tag's.
func (d *detector) direction(pr *pointRun, got map[*config.Tag]sample, product string) core.Direction {
	if pr.p.Direction == core.DirectionOut || pr.p.Direction == core.DirectionIn {
		return pr.p.Direction
	}
	if s, ok := fresh(got, pr.direction); ok && s.rawOK {
		if dir, ok := pr.direction.DirectionOf(s.raw); ok {
			return dir
		}
	}
	if x := pr.p.Product(product); x != nil && (x.Direction == core.DirectionOut || x.Direction == core.DirectionIn) {
		return x.Direction
	}
	return ""
}

// finish closes the transaction once the point's totals of the closing edge have been read.
func (d *detector) finish(pr *pointRun, ps *pointState, got map[*config.Tag]sample) []*core.Record {
	tx := ps.Open
	primary := pr.p.Primary()
	if _, ok := fresh(got, primary); !ok {
		return nil // wait for the totals: the transaction ends at the first scan that reads them
	}
	if s, ok := pr.latest[pr.product]; tx.Product == "" && ok && !s.invalid && s.rawOK {
		tx.Product = strconv.FormatInt(s.raw, 10) // a code outside the nomenclature: sent as read, never lost
	}
	t := &core.Transaction{Begin: tx.Begin, End: tx.End, Product: tx.Product, ProductName: tx.ProductName,
		Direction: tx.Direction}
	if ps.LastEnd == nil {
		ps.LastEnd = map[core.Role]core.Decimal{}
	}
	for _, tag := range pr.totals {
		s, ok := fresh(got, tag)
		if !ok {
			continue
		}
		end := s.value
		var begin core.Decimal
		if st, ok := fresh(got, pr.start[tag.Role]); ok {
			begin = st.value // the meter's own start total (чл. 30, ал. 17)
		} else if prev, ok := ps.LastEnd[tag.Role]; ok {
			begin = prev // no start value: the previous transaction's end (чл. 30, ал. 17)
			t.StartFromPrevious = true
		} else if b, ok := tx.BeginTotals[tag.Role]; ok {
			begin = b // the first transaction the agent sees: the total read at the 0→1 edge
		} else if q, ok := fresh(got, pr.qty[tag.Role]); ok {
			// Nothing else: the meter's own transaction quantity tells where it began.
			if b, ok := subDecimal(end, q.value); ok {
				begin = b
			}
		}
		if begin == "" {
			continue
		}
		// The quantity is end − begin, exactly, so that the record checks itself; the meter's own
		// transaction quantity (which it rounds on its own) stays in the readings.
		qty, ok := subDecimal(end, begin)
		if !ok {
			continue
		}
		ps.LastEnd[tag.Role] = end
		tot := &core.Totals{Begin: begin, End: end, Quantity: qty, Unit: tag.Unit}
		switch tag.Role {
		case core.RoleTotalVolume:
			t.Forward.Volume = tot
		case core.RoleTotalStdVolume:
			t.Forward.StdVolume = tot
		case core.RoleTotalMass:
			t.Forward.Mass = tot
		case core.RoleTotalCount:
			t.Forward.Count = tot
		case core.RoleReverseVolume:
			t.Reverse = &core.Flow{Volume: tot}
		}
	}
	for role, a := range tx.Sums {
		if a.N == 0 {
			continue
		}
		m := &core.Measure{Value: averageDecimal(a), Unit: a.Unit}
		switch role {
		case core.RoleDensity:
			t.Density = m
		case core.RoleDensity15:
			t.Density15 = m
		case core.RoleTemperature:
			t.Temperature = m
		case core.RoleAlcohol:
			t.Alcohol = m
		}
	}
	ps.Open = nil
	rec := &core.Record{Kind: core.KindTransaction, Time: tx.End, Device: d.device, Point: pr.p.ID,
		Config: d.o.ConfigHash, Test: d.o.Test, Transaction: t}
	if err := rec.Validate(); err != nil {
		// No product, no direction or no quantity: never drop what was measured; say what is missing.
		return []*core.Record{d.event(tx.End, pr.p.ID, &core.Event{Kind: core.EventTransactionAborted,
			Detail: fmt.Sprintf("begin %s end %s product %q direction %q: %v", tx.Begin.Format(time.RFC3339Nano),
				tx.End.Format(time.RFC3339Nano), tx.Product, tx.Direction, err)})}
	}
	return []*core.Record{rec}
}

// averageDecimal renders a sample average to the tag's resolution, or to 3 decimals.
func averageDecimal(a *average) core.Decimal {
	places := 3
	if a.Res > 0 && a.Res < 1 {
		s := strconv.FormatFloat(a.Res, 'f', -1, 64)
		if i := strings.IndexByte(s, '.'); i >= 0 {
			places = len(s) - i - 1
		}
	} else if a.Res >= 1 {
		places = 0
	}
	s := trimZeros(strconv.FormatFloat(a.Sum/float64(a.N), 'f', places, 64))
	if !core.Decimal(s).Valid() {
		return "0"
	}
	return core.Decimal(s)
}

// reading makes the point's reading when it is due (чл. 30, ал. 13): the values of its tags read since
// the previous reading, each with the time it was read.
func (d *detector) reading(pr *pointRun, now time.Time) *core.Record {
	if !pr.nextReading.IsZero() && pr.nextReading.After(now) {
		return nil
	}
	stamp := core.Stamp(now)
	var vals []core.Value
	for _, t := range pr.p.Tags {
		s, ok := pr.latest[t]
		if !ok || (!pr.lastReading.IsZero() && !s.at.After(pr.lastReading)) {
			continue
		}
		v := core.Value{Tag: t.Name, Role: t.Role, Value: s.value, Unit: t.Unit, Quality: s.quality}
		if at := core.Stamp(s.at); !at.Equal(stamp) {
			v.Time = at
		}
		vals = append(vals, v)
	}
	pr.nextReading = nextDue(pr.nextReading, now, pr.interval)
	pr.lastReading = now
	if len(vals) == 0 {
		return nil // nothing was read: communication-lost says why
	}
	return &core.Record{Kind: core.KindReading, Time: stamp, Device: d.device, Point: pr.p.ID,
		Config: d.o.ConfigHash, Test: d.o.Test, Reading: &core.Reading{Values: vals}}
}
