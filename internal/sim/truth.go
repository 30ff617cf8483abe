package sim

import (
	"bufio"
	"encoding/json"
	"io"
	"math"
	"time"

	"github.com/akciz/akciz/internal/core"
)

// TruthVersion is the version of the truth log's record schema (docs/simulator.md), written in the
// first record.
const TruthVersion = 1

// truthLog writes the ground truth: one JSON object a line, numbered from 1. A nil *truthLog writes
// nothing, so the model need not ask.
type truthLog struct {
	out io.Writer
	w   *bufio.Writer
	seq int64
	err error
}

func newTruthLog(w io.Writer) *truthLog {
	return &truthLog{out: w, w: bufio.NewWriterSize(w, 64<<10)}
}

// head starts every record.
type head struct {
	Seq  int64  `json:"seq"`
	Time string `json:"time"`
	Type string `json:"type"`
}

func (t *truthLog) write(now time.Time, typ string, rec interface{ setHead(head) }) {
	if t == nil || t.err != nil {
		return
	}
	t.seq++
	rec.setHead(head{Seq: t.seq, Time: stamp(now), Type: typ})
	b, err := json.Marshal(rec)
	if err != nil {
		t.err = err
		return
	}
	b = append(b, '\n')
	_, t.err = t.w.Write(b)
}

func (t *truthLog) flush() error {
	if t == nil {
		return nil
	}
	if t.err == nil {
		t.err = t.w.Flush()
	}
	return t.err
}

func (t *truthLog) close() error {
	if t == nil {
		return nil
	}
	err := t.flush()
	if s, ok := t.out.(interface{ Sync() error }); ok && err == nil {
		err = s.Sync()
	}
	return err
}

type startRec struct {
	head
	Version   int         `json:"version"`
	Scenario  string      `json:"scenario"`
	Seed      uint64      `json:"seed"`
	TickMS    int64       `json:"tick_ms"`
	Warehouse string      `json:"warehouse"`
	Box       int         `json:"box"`
	Points    []pointInfo `json:"points"`
}

type pointInfo struct {
	ID        string   `json:"id"`
	Number    int      `json:"number"`
	Unit      int      `json:"unit"`
	Name      string   `json:"name"`
	Kind      string   `json:"kind"`
	Class     string   `json:"class"`
	Mode      string   `json:"mode"`
	Direction string   `json:"direction"`
	Totals    []string `json:"totals"`
}

func (r *startRec) setHead(h head) { r.head = h }

type total struct {
	Start    json.Number `json:"start"`
	End      json.Number `json:"end,omitempty"`
	Quantity json.Number `json:"quantity,omitempty"`
}

type transactionRec struct {
	head
	Point       string           `json:"point"`
	Unit        int              `json:"unit"`
	Number      int              `json:"number"`
	Product     string           `json:"product"`
	ProductRaw  int              `json:"product_raw"`
	CN          string           `json:"cn"`
	Direction   string           `json:"direction"`
	Start       string           `json:"start"`
	End         string           `json:"end,omitempty"`
	MeterStart  bool             `json:"meter_start_total"`
	Totals      map[string]total `json:"totals"`
	Density15   *float64         `json:"density15,omitempty"`
	Temperature *float64         `json:"temperature,omitempty"`
	Alcohol     *float64         `json:"alcohol,omitempty"`
}

func (r *transactionRec) setHead(h head) { r.head = h }

type eventRec struct {
	head
	Event    string      `json:"event"`
	Point    string      `json:"point,omitempty"`
	Bits     string      `json:"bits,omitempty"`
	Codes    []string    `json:"codes,omitempty"`
	Quantity string      `json:"quantity,omitempty"`
	From     json.Number `json:"from,omitempty"`
	To       json.Number `json:"to,omitempty"`
	Product  string      `json:"product,omitempty"`
	Previous string      `json:"previous,omitempty"`
}

func (r *eventRec) setHead(h head) { r.head = h }

type faultRec struct {
	head
	Action string `json:"action"`
	ID     int    `json:"id"`
	Fault  Fault  `json:"fault"`
	Until  string `json:"until,omitempty"`
}

func (r *faultRec) setHead(h head) { r.head = h }

type totalsRec struct {
	head
	Point     string                 `json:"point"`
	Product   string                 `json:"product"`
	Indicator *int                   `json:"indicator,omitempty"`
	Totals    map[string]json.Number `json:"totals"`
	Flow      json.Number            `json:"flow,omitempty"`
}

func (r *totalsRec) setHead(h head) { r.head = h }

type stopRec struct {
	head
	Ticks int64 `json:"ticks"`
}

func (r *stopRec) setHead(h head) { r.head = h }

func (s *Sim) logStart() {
	r := &startRec{Version: TruthVersion, Scenario: s.sc.Name, Seed: s.seed, TickMS: s.tick.Milliseconds(),
		Warehouse: s.sc.Warehouse, Box: s.sc.Box}
	for _, ps := range s.points {
		pi := pointInfo{ID: ps.id, Number: ps.p.Number, Unit: int(ps.p.unit), Name: ps.p.Name, Kind: string(ps.p.Kind),
			Class: string(ps.p.Class), Mode: string(ps.p.Mode), Direction: string(ps.p.Direction)}
		for _, t := range ps.p.Kind.totalizers() {
			if ps.role[t] != nil {
				pi.Totals = append(pi.Totals, string(t))
			}
		}
		r.Points = append(r.Points, pi)
	}
	s.truth.write(s.now, "start", r)
}

func (s *Sim) logStop() {
	s.truth.write(s.now, "stop", &stopRec{Ticks: s.ticks})
}

func (s *Sim) logEvent(e eventRec) {
	s.truth.write(s.now, "event", &e)
}

func (s *Sim) logFault(action string, a *ActiveFault) {
	r := &faultRec{Action: action, ID: a.ID, Fault: a.Fault}
	r.Fault.At = 0
	if action == "injected" && !a.Until.IsZero() {
		r.Until = stamp(a.Until)
	}
	s.truth.write(s.now, "fault", r)
}

func round(v float64, places int) *float64 {
	p := math.Pow(10, float64(places))
	x := math.Round(v*p) / p
	return &x
}

// logTransaction writes a finished transaction (typ "transaction") or one still open at the end of the
// run ("transaction-open", without end values).
func (s *Sim) logTransaction(ps *pointState, typ string) {
	tx := ps.tx
	r := &transactionRec{Point: ps.id, Unit: int(ps.p.unit), Number: ps.p.Number, Product: tx.product.Code,
		ProductRaw: int(tx.product.Raw), CN: tx.product.CN, Direction: string(tx.dir), Start: stamp(tx.start),
		Totals: map[string]total{}}
	for _, reg := range ps.p.Registers {
		if reg.Role == core.RoleStartTotal {
			r.MeterStart = true
		}
	}
	open := typ == "transaction-open"
	if !open {
		r.End = stamp(s.now)
	}
	for _, t := range ps.p.Kind.totalizers() {
		reg := ps.role[t]
		if reg == nil {
			continue
		}
		x := total{Start: reg.observe(tx.totals[t])}
		if !open {
			x.End = reg.observe(ps.totals[t])
			x.Quantity = reg.difference(tx.totals[t], ps.totals[t])
		}
		r.Totals[string(t)] = x
	}
	if tx.w > 0 && !open {
		if ps.p.Kind == KindMeter {
			r.Density15 = round(tx.d15/tx.w, 2)
		}
		if tx.product.Temperature.Set() {
			r.Temperature = round(tx.temp/tx.w, 2)
		}
		if tx.product.Alcohol.Set() {
			r.Alcohol = round(tx.alcohol/tx.w, 2)
		}
	}
	s.truth.write(s.now, typ, r)
}

func (s *Sim) logTotals(ps *pointState) {
	r := &totalsRec{Point: ps.id, Product: ps.product.Code, Totals: map[string]json.Number{}}
	for _, t := range ps.p.Kind.totalizers() {
		if reg := ps.role[t]; reg != nil {
			r.Totals[string(t)] = reg.observe(ps.totals[t])
		}
	}
	if ps.p.Mode == core.ModeTransaction {
		v := 0
		if ps.ind {
			v = 1
		}
		r.Indicator = &v
	}
	if reg := ps.role[core.RoleFlow]; reg != nil {
		r.Flow = reg.observe(ps.flow)
	}
	s.truth.write(s.now, "totals", r)
}
