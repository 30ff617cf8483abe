package watch

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/workday"
)

// MaxPeriod bounds the period of one query: a year of a site's readings is already more than a person
// reads, and a bound keeps one request from walking the whole store.
const MaxPeriod = 366 * 24 * time.Hour

// Query selects the records of a site (and optionally one device or control point) in a period
// [From, To).
type Query struct {
	Site   string
	Device string // optional: one ИКУНК
	Point  string // optional: one control point (its device is implied)
	From   time.Time
	To     time.Time
	// Test includes records made while the site was in testing (чл. 17); by default only live data.
	Test bool
}

// Queries reads stored records for people: readings, transactions, events and the totals per product
// code an officer sets beside the excise declaration.
type Queries struct {
	st     store.Store
	decode Decoder
}

// NewQueries gives the queries over st; decode reads a stored record (see Decoder).
func NewQueries(st store.Store, decode Decoder) *Queries { return &Queries{st: st, decode: decode} }

// ReadingRow is one value of a reading.
type ReadingRow struct {
	Point   string       `json:"point"`
	Time    time.Time    `json:"time"`
	Tag     string       `json:"tag"`
	Role    core.Role    `json:"role,omitempty"`
	Value   core.Decimal `json:"value"`
	Unit    string       `json:"unit,omitempty"`
	Quality string       `json:"quality,omitempty"` // the quality flags, comma-separated
	Test    bool         `json:"test,omitempty"`
}

// TransactionRow is one transaction with the quantities of its own direction.
type TransactionRow struct {
	Point       string         `json:"point"`
	Begin       time.Time      `json:"begin"`
	End         time.Time      `json:"end"`
	Product     string         `json:"product"`
	ProductName string         `json:"productName,omitempty"`
	Direction   core.Direction `json:"direction"`
	// Quantities by name (volume, stdVolume, mass, count): the quantity moved and its unit.
	Quantities []Quantity `json:"quantities"`
	Test       bool       `json:"test,omitempty"`
}

// Quantity is an amount of one kind, exact as the record gave it.
type Quantity struct {
	Name  string       `json:"name"` // volume, stdVolume, mass, count
	Value core.Decimal `json:"value"`
	Unit  string       `json:"unit"`
}

// EventRow is one event.
type EventRow struct {
	Device   string         `json:"device"`
	Point    string         `json:"point,omitempty"`
	Time     time.Time      `json:"time"`
	Kind     core.EventKind `json:"kind"`
	Tag      string         `json:"tag,omitempty"`
	Value    string         `json:"value,omitempty"`
	Previous string         `json:"previous,omitempty"`
	Unit     string         `json:"unit,omitempty"`
	Bits     []int          `json:"bits,omitempty"`
	Test     bool           `json:"test,omitempty"`
}

// check validates q for the actor and gives the places to read: device → its points ("" for the box).
func (x *Queries) check(ctx context.Context, a Actor, q Query) ([][2]string, error) {
	if _, err := site(ctx, x.st, a, q.Site); err != nil {
		return nil, err
	}
	if q.From.IsZero() || q.To.IsZero() || !q.To.After(q.From) {
		return nil, refuse(ErrInvalid, "watch.query.period")
	}
	if q.To.Sub(q.From) > MaxPeriod {
		return nil, refuse(ErrInvalid, "watch.query.period_too_long", 366)
	}
	if q.Point != "" {
		if len(q.Point) != 19 || !strings.HasPrefix(q.Point, q.Site) {
			return nil, refuse(ErrInvalid, "watch.query.point_of_other_site", q.Point, q.Site)
		}
		return [][2]string{{q.Point[:16], q.Point}}, nil
	}
	if q.Device != "" && (len(q.Device) != 16 || !strings.HasPrefix(q.Device, q.Site)) {
		return nil, refuse(ErrInvalid, "watch.query.point_of_other_site", q.Device, q.Site)
	}
	devices, err := x.st.Devices(ctx, store.DeviceFilter{Site: q.Site})
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	var out [][2]string
	for _, d := range devices {
		if q.Device != "" && d.ID != q.Device {
			continue
		}
		out = append(out, [2]string{d.ID, ""})
		ps, err := x.st.Points(ctx, d.ID)
		if err != nil {
			return nil, fmt.Errorf("watch: %w", err)
		}
		for _, p := range ps {
			out = append(out, [2]string{d.ID, p.ID})
		}
	}
	return out, nil
}

// each calls fn with every decoded record of kind that q selects, place by place, in time order within a place.
func (x *Queries) each(ctx context.Context, a Actor, q Query, kind core.RecordKind, fn func(r *core.Record, test bool) error) error {
	places, err := x.check(ctx, a, q)
	if err != nil {
		return err
	}
	for _, pl := range places {
		if kind != core.KindEvent && pl[1] == "" {
			continue
		}
		err := x.st.PointRecords(ctx, store.RecordQuery{Device: pl[0], Point: pl[1], Kind: kind, From: q.From, To: q.To},
			func(row *store.Row) error {
				if row.Test && !q.Test {
					return nil
				}
				rec, err := x.decode(row.Bytes)
				if err != nil {
					return fmt.Errorf("watch: %s seq %d: %w", row.Device, row.Seq, err)
				}
				return fn(&rec, row.Test)
			})
		if err != nil {
			return err
		}
	}
	return nil
}

// Readings calls fn for every value of every reading q selects.
func (x *Queries) Readings(ctx context.Context, a Actor, q Query, fn func(ReadingRow) error) error {
	return x.each(ctx, a, q, core.KindReading, func(r *core.Record, test bool) error {
		if r.Reading == nil {
			return nil
		}
		for _, v := range r.Reading.Values {
			t := r.Time
			if !v.Time.IsZero() {
				t = v.Time
			}
			qs := make([]string, len(v.Quality))
			for i, f := range v.Quality {
				qs[i] = string(f)
			}
			if err := fn(ReadingRow{Point: r.Point, Time: t, Tag: v.Tag, Role: v.Role, Value: v.Value, Unit: v.Unit,
				Quality: strings.Join(qs, ","), Test: test}); err != nil {
				return err
			}
		}
		return nil
	})
}

// Transactions calls fn for every transaction q selects (by its record's time: the end).
func (x *Queries) Transactions(ctx context.Context, a Actor, q Query, fn func(TransactionRow) error) error {
	return x.each(ctx, a, q, core.KindTransaction, func(r *core.Record, test bool) error {
		if r.Transaction == nil {
			return nil
		}
		return fn(transactionRow(r, test))
	})
}

func transactionRow(r *core.Record, test bool) TransactionRow {
	tx := r.Transaction
	row := TransactionRow{Point: r.Point, Begin: tx.Begin, End: tx.End, Product: tx.Product, ProductName: tx.ProductName,
		Direction: tx.Direction, Test: test, Quantities: []Quantity{}}
	for _, q := range flowTotals(&tx.Forward) {
		row.Quantities = append(row.Quantities, Quantity{Name: q.name, Value: q.t.Quantity, Unit: q.t.Unit})
	}
	return row
}

type namedTotals struct {
	name string
	t    *core.Totals
}

func flowTotals(f *core.Flow) []namedTotals {
	var out []namedTotals
	for _, q := range []namedTotals{{"volume", f.Volume}, {"stdVolume", f.StdVolume}, {"mass", f.Mass}, {"count", f.Count}} {
		if q.t != nil {
			out = append(out, q)
		}
	}
	return out
}

// Events calls fn for every event q selects: the box's own and its points'.
func (x *Queries) Events(ctx context.Context, a Actor, q Query, fn func(EventRow) error) error {
	return x.each(ctx, a, q, core.KindEvent, func(r *core.Record, test bool) error {
		if r.Event == nil {
			return nil
		}
		e := r.Event
		return fn(EventRow{Device: r.Device, Point: r.Point, Time: r.Time, Kind: e.Kind, Tag: e.Tag, Value: e.Value,
			Previous: e.Previous, Unit: e.Unit, Bits: e.Bits, Test: test})
	})
}

// Period is how totals are grouped.
type Period string

// The periods of totals, reckoned in Bulgarian time (workday.Sofia) as the declarations are.
const (
	Daily   Period = "day"
	Monthly Period = "month"
)

// TotalRow is the sum of one quantity of one product code in one direction over one day or month.
type TotalRow struct {
	Period       string         `json:"period"` // YYYY-MM-DD or YYYY-MM
	Product      string         `json:"product"`
	Direction    core.Direction `json:"direction"`
	Quantity     string         `json:"quantity"` // volume, stdVolume, mass, count
	Unit         string         `json:"unit"`
	Total        core.Decimal   `json:"total"` // exact: the sum of the transactions' decimal quantities
	Transactions int            `json:"transactions"`
}

// Totals sums the quantities of the transactions q selects per day or month (of their end, in Bulgarian
// time), product code, direction, quantity and unit, exactly (decimal arithmetic), in that order.
func (x *Queries) Totals(ctx context.Context, a Actor, q Query, p Period) ([]TotalRow, error) {
	if p != Daily && p != Monthly {
		return nil, refuse(ErrInvalid, "watch.query.period_kind", string(p))
	}
	type key struct{ period, product, direction, quantity, unit string }
	type sum struct {
		total  *big.Rat
		places int
		n      int
	}
	sums := map[key]*sum{}
	err := x.Transactions(ctx, a, q, func(t TransactionRow) error {
		layout := "2006-01-02"
		if p == Monthly {
			layout = "2006-01"
		}
		period := t.End.In(workday.Sofia).Format(layout)
		for _, qu := range t.Quantities {
			v, ok := new(big.Rat).SetString(string(qu.Value))
			if !ok {
				continue // a record's decimals are validated on intake; nothing to add here
			}
			k := key{period, t.Product, string(t.Direction), qu.Name, qu.Unit}
			s := sums[k]
			if s == nil {
				s = &sum{total: new(big.Rat)}
				sums[k] = s
			}
			s.total.Add(s.total, v)
			s.places = max(s.places, decimals(string(qu.Value)))
			s.n++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]TotalRow, 0, len(sums))
	for k, s := range sums {
		out = append(out, TotalRow{Period: k.period, Product: k.product, Direction: core.Direction(k.direction),
			Quantity: k.quantity, Unit: k.unit, Total: core.Decimal(s.total.FloatString(s.places)), Transactions: s.n})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return cmpKeys(a.Period, b.Period, a.Product, b.Product, string(a.Direction), string(b.Direction), a.Quantity, b.Quantity, a.Unit, b.Unit) < 0
	})
	return out, nil
}

// cmpKeys compares pairs (a1, b1), (a2, b2), … in turn.
func cmpKeys(pairs ...string) int {
	for i := 0; i+1 < len(pairs); i += 2 {
		if c := strings.Compare(pairs[i], pairs[i+1]); c != 0 {
			return c
		}
	}
	return 0
}

func decimals(s string) int {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

// Sites gives the sites the actor sees, by warehouse number.
func (x *Queries) Sites(ctx context.Context, a Actor) ([]store.Site, error) {
	var all []store.Site
	var err error
	if a.Role == store.RoleOperator {
		if a.Operator == "" {
			return nil, refuse(ErrForbidden, "watch.actor.no_scope")
		}
		all, err = x.st.Sites(ctx, a.Operator)
	} else {
		all, err = x.st.Sites(ctx, "")
	}
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	return slices.DeleteFunc(all, func(s store.Site) bool { return !a.Sees(s) }), nil
}
