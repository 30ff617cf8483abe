package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/modbus"
	"github.com/akciz/akciz/internal/sim"
)

// simRun is the simulator of a sample site served over Modbus TCP on loopback, and a Poller reading it
// with the site's automation_config.xml. The test steps the simulator and the agent's clock together, so
// that no test waits on wall time.
type simRun struct {
	t     *testing.T
	s     *sim.Sim
	srv   *modbus.Server
	cfg   *config.Config
	clk   *fakeClock
	sink  *memSink
	p     *Poller
	truth bytes.Buffer
	addr  string
}

func startSim(t *testing.T, site string, o Options) *simRun {
	t.Helper()
	sc, err := sim.LoadFile("../../examples/" + site + "/scenario.xml")
	if err != nil {
		t.Fatal(err)
	}
	r := &simRun{t: t, cfg: loadSample(t, site)}
	r.s, err = sim.New(sc, sim.Options{Seed: 42, Truth: &r.truth})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	r.srv = &modbus.Server{Handler: r.s.Handler()}
	done := make(chan struct{})
	go func() { defer close(done); _ = r.srv.ServeTCP(ctx, ln) }()
	t.Cleanup(func() { cancel(); ln.Close(); <-done })
	r.clk = newFakeClock(r.s.Now())
	r.sink = &memSink{t: t}
	o.Clock = r.clk
	if o.Dial == nil {
		// The quirks' pauses are real sleeps in modbus.Client: the test keeps the coalescing quirks (they
		// are in the plan) but not the pauses, so that an hour of the plant runs in seconds.
		o.Dial = func(c *config.Controller) (Conn, error) {
			return modbus.NewClient(modbus.ClientConfig{Transport: modbus.TCP, Address: r.addr, Timeout: time.Second})
		}
	}
	r.p, err = New(r.cfg, r.sink, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.p.Close() })
	return r
}

// run steps the plant by step and polls, until the plant has run for d; at(elapsed) is called before each
// step for injecting faults.
func (r *simRun) run(d, step time.Duration, at func(elapsed time.Duration)) {
	r.t.Helper()
	ctx := context.Background()
	for r.s.Elapsed() < d {
		if at != nil {
			at(r.s.Elapsed())
		}
		if err := r.s.Advance(step); err != nil {
			r.t.Fatal(err)
		}
		r.clk.Set(r.s.Now())
		if err := r.p.Poll(ctx); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *simRun) inject(f sim.Fault) {
	r.t.Helper()
	if _, err := r.s.Inject(f); err != nil {
		r.t.Fatal(err)
	}
}

type truthTotal struct {
	Start    json.Number `json:"start"`
	End      json.Number `json:"end"`
	Quantity json.Number `json:"quantity"`
}

type truthRec struct {
	Type      string                `json:"type"`
	Time      string                `json:"time"`
	Point     string                `json:"point"`
	Product   string                `json:"product"`
	Direction string                `json:"direction"`
	Start     string                `json:"start"`
	End       string                `json:"end"`
	RawTotals json.RawMessage       `json:"totals"`
	Totals    map[string]truthTotal `json:"-"`
	Event     string                `json:"event"`
	Bits      string                `json:"bits"`
}

func (r *simRun) truthRecords() []truthRec {
	r.t.Helper()
	if err := r.s.Close(); err != nil {
		r.t.Fatal(err)
	}
	var out []truthRec
	sc := bufio.NewScanner(bytes.NewReader(r.truth.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var tr truthRec
		if err := json.Unmarshal(sc.Bytes(), &tr); err != nil {
			r.t.Fatal(err)
		}
		if tr.Type == "transaction" {
			if err := json.Unmarshal(tr.RawTotals, &tr.Totals); err != nil {
				r.t.Fatal(err)
			}
		}
		out = append(out, tr)
	}
	return out
}

func sameNumber(a string, b core.Decimal) bool {
	x, ok1 := new(big.Rat).SetString(a)
	y, ok2 := new(big.Rat).SetString(string(b))
	return ok1 && ok2 && x.Cmp(y) == 0
}

func totalsOf(tx *core.Transaction) map[string]*core.Totals {
	m := map[string]*core.Totals{}
	add := func(role core.Role, t *core.Totals) {
		if t != nil {
			m[string(role)] = t
		}
	}
	add(core.RoleTotalVolume, tx.Forward.Volume)
	add(core.RoleTotalStdVolume, tx.Forward.StdVolume)
	add(core.RoleTotalMass, tx.Forward.Mass)
	add(core.RoleTotalCount, tx.Forward.Count)
	if tx.Reverse != nil {
		add(core.RoleReverseVolume, tx.Reverse.Volume)
	}
	return m
}

// checkTransactions compares every finished transaction of the ground truth with the agent's, point by
// point in order: the same begin, end and quantity of each totalizer, product and direction.
func checkTransactions(t *testing.T, truth []truthRec, recs []*core.Record) int {
	t.Helper()
	want := map[string][]truthRec{}
	for _, tr := range truth {
		if tr.Type == "transaction" {
			want[tr.Point] = append(want[tr.Point], tr)
		}
	}
	got := map[string][]*core.Record{}
	for _, r := range recs {
		got[r.Point] = append(got[r.Point], r)
	}
	n := 0
	for point, ws := range want {
		gs := got[point]
		if len(gs) != len(ws) {
			t.Errorf("point %s: %d transactions, the truth has %d", point, len(gs), len(ws))
			continue
		}
		for i, w := range ws {
			g := gs[i].Transaction
			where := fmt.Sprintf("point %s transaction %d (truth %s..%s)", point, i+1, w.Start, w.End)
			if g.Product != w.Product || string(g.Direction) != w.Direction {
				t.Errorf("%s: product %s direction %s, want %s %s", where, g.Product, g.Direction, w.Product, w.Direction)
			}
			start, _ := time.Parse(time.RFC3339Nano, w.Start)
			end, _ := time.Parse(time.RFC3339Nano, w.End)
			if g.Begin.Before(start) || g.Begin.Sub(start) > 2*time.Second || g.End.Before(end) || g.End.Sub(end) > 2*time.Second {
				t.Errorf("%s: agent %s..%s", where, g.Begin, g.End)
			}
			gt := totalsOf(g)
			for role, wt := range w.Totals {
				x := gt[role]
				if x == nil {
					t.Errorf("%s: no %s totals", where, role)
					continue
				}
				if !sameNumber(wt.Start.String(), x.Begin) || !sameNumber(wt.End.String(), x.End) || !sameNumber(wt.Quantity.String(), x.Quantity) {
					t.Errorf("%s %s: agent %s→%s (%s), truth %s→%s (%s)", where, role, x.Begin, x.End, x.Quantity, wt.Start, wt.End, wt.Quantity)
				}
			}
			n++
		}
	}
	for point, gs := range got {
		if len(want[point]) == 0 && len(gs) > 0 {
			t.Errorf("point %s: %d transactions the truth does not have", point, len(gs))
		}
	}
	return n
}

// checkReadings checks that each point has readings no further apart than its class maximum (чл. 30,
// ал. 13), allowing for one step of the test.
func checkReadings(t *testing.T, cfg *config.Config, recs []*core.Record, step time.Duration) {
	t.Helper()
	last := map[string]time.Time{}
	count := map[string]int{}
	for _, r := range recs {
		if prev, ok := last[r.Point]; ok {
			p := cfg.Point(r.Point)
			if gap := r.Time.Sub(prev); gap > p.Class.MaxInterval()+step {
				t.Errorf("point %s: %s between readings at %s, class %s allows %s", r.Point, gap, r.Time, p.Class, p.Class.MaxInterval())
			}
		}
		last[r.Point] = r.Time
		count[r.Point]++
	}
	for _, p := range cfg.Points {
		if count[p.ID] == 0 {
			t.Errorf("point %s: no readings", p.ID)
		}
	}
}

func TestSimSamples(t *testing.T) {
	for _, site := range []string{"fuel-depot", "distillery", "tobacco-factory", "cng-station"} {
		t.Run(site, func(t *testing.T) {
			r := startSim(t, site, Options{})
			var firstPoint *config.Point
			for _, p := range r.cfg.Points {
				if len(p.TagsWithRole(core.RoleErrorBits)) > 0 {
					firstPoint = p
					break
				}
			}
			pointNumber := 0
			if firstPoint != nil {
				id, _ := core.ParsePointID(firstPoint.ID)
				pointNumber = id.Point
			}
			dur, step := time.Hour, time.Second
			if site == "distillery" {
				// Its loading bay idles 40 min to 3 h between transactions; its indicator leads and lags
				// the flow by 5 s, so a 2 s step still sees every edge with the flow stopped.
				dur, step = 4*time.Hour, 2*time.Second
			}
			r.run(dur, step, func(el time.Duration) {
				switch el {
				case 3 * time.Minute:
					r.inject(sim.Fault{Kind: sim.FaultDoor, For: sim.Duration(time.Minute)})
				case 6 * time.Minute:
					r.inject(sim.Fault{Kind: sim.FaultPower, For: sim.Duration(2 * time.Minute)})
				case 10 * time.Minute:
					if pointNumber > 0 {
						r.inject(sim.Fault{Kind: sim.FaultErrorBits, Point: pointNumber, Bits: 5, For: sim.Duration(time.Minute)})
					}
				}
			})
			truth := r.truthRecords()
			n := checkTransactions(t, truth, r.sink.kind(core.KindTransaction))
			t.Logf("%s: %d transactions matched, %d records", site, n, len(r.sink.recs))
			if n == 0 {
				t.Error("no transaction in the run")
			}
			checkReadings(t, r.cfg, r.sink.kind(core.KindReading), step)
			want := map[core.EventKind]int{}
			names := map[string]core.EventKind{"door-open": core.EventDoorOpened, "door-closed": core.EventDoorClosed,
				"power-lost": core.EventPowerLost, "power-restored": core.EventPowerRestored,
				"error-set": core.EventErrorBitsSet, "error-cleared": core.EventErrorBitsCleared}
			for _, tr := range truth {
				if k, ok := names[tr.Event]; ok && tr.Type == "event" {
					want[k]++
				}
			}
			for _, k := range names {
				if got := len(r.sink.events(k)); got != want[k] || (got == 0 && k != core.EventErrorBitsSet && k != core.EventErrorBitsCleared) {
					t.Errorf("%d %s events, the truth has %d", got, k, want[k])
				}
			}
			if pointNumber > 0 {
				set, cleared := r.sink.events(core.EventErrorBitsSet), r.sink.events(core.EventErrorBitsCleared)
				if len(set) == 0 || len(cleared) == 0 {
					t.Fatalf("error bits: %d set, %d cleared events", len(set), len(cleared))
				}
				if e := set[0].Event; fmt.Sprint(e.Bits) != "[0 2]" || set[0].Point != firstPoint.ID || !strings.Contains(e.Detail, ",") {
					t.Errorf("error-bits-set: %+v at %s", e, set[0].Point)
				}
			}
			for _, k := range []core.EventKind{core.EventCommunicationLost, core.EventTotalizerDecreased, core.EventClockStepped, core.EventTransactionAborted} {
				if got := r.sink.events(k); len(got) != 0 {
					t.Errorf("unexpected %s: %+v", k, got[0].Event)
				}
			}
		})
	}
}

// TestSimFaults breaks the fuel depot's communication: unit 2 drops its connection for a minute, unit 3
// answers every request with an exception for seven minutes and later with illegal data address, and the
// pipeline's totalizer goes backwards. Unit 1 must lose nothing; each outage is one communication-lost and
// one communication-restored.
func TestSimFaults(t *testing.T) {
	r := startSim(t, "fuel-depot", Options{})
	r.run(40*time.Minute, time.Second, func(el time.Duration) {
		switch el {
		case 5 * time.Minute:
			r.inject(sim.Fault{Kind: sim.FaultDrop, Unit: 2, For: sim.Duration(time.Minute)})
		case 12 * time.Minute:
			r.inject(sim.Fault{Kind: sim.FaultException, Unit: 3, Code: int(modbus.ServerDeviceFailure), For: sim.Duration(7 * time.Minute)})
		case 20 * time.Minute:
			r.inject(sim.Fault{Kind: sim.FaultTotalizerBackwards, Point: 5, Amount: 1000})
		case 25 * time.Minute:
			r.inject(sim.Fault{Kind: sim.FaultException, Unit: 3, Code: int(modbus.IllegalDataAddress), For: sim.Duration(6 * time.Minute)})
		}
	})
	truth := r.truthRecords()
	if n := checkTransactions(t, truth, r.sink.kind(core.KindTransaction)); n == 0 {
		t.Error("no transaction in the run")
	}
	lost, restored := r.sink.events(core.EventCommunicationLost), r.sink.events(core.EventCommunicationRestored)
	count := func(recs []*core.Record, prefix string) int {
		n := 0
		for _, e := range recs {
			if strings.HasPrefix(e.Event.Detail, prefix) {
				n++
			}
		}
		return n
	}
	for _, u := range []string{"controller rail_fc unit 2", "controller pipe_fc unit 3"} {
		if l, r := count(lost, u), count(restored, u); l != 1 || r != 1 {
			t.Errorf("%s: %d communication-lost, %d restored; want 1 and 1", u, l, r)
		}
	}
	if len(lost) != 2 || len(restored) != 2 {
		t.Errorf("%d communication-lost, %d restored in all, want 2 and 2", len(lost), len(restored))
	}
	// Unit 1's points (bays 1–3) kept their readings through the other units' outages.
	var unit1 []*core.Record
	for _, rec := range r.sink.kind(core.KindReading) {
		if p := r.cfg.Point(rec.Point); p.Tags[0].Controller == "plc" {
			unit1 = append(unit1, rec)
		}
	}
	checkReadingsOf(t, unit1, []string{"BGNCA00005001001001", "BGNCA00005001001002", "BGNCA00005001001003"}, time.Minute+time.Second)
	// Unit 3 came back after refusing every address: the split requests read the pipeline's totals again.
	var after []core.Value
	for _, rec := range r.sink.kind(core.KindReading) {
		if rec.Point == "BGNCA00005001001005" && rec.Time.Sub(r.clk.Now()) > -5*time.Minute {
			after = rec.Reading.Values
		}
	}
	if len(after) == 0 || after[0].Tag != "p5_total_volume" {
		t.Errorf("pipeline reading after the illegal-address fault: %+v", after)
	}
	dec := r.sink.events(core.EventTotalizerDecreased)
	if len(dec) == 0 {
		t.Fatal("no totalizer-decreased event")
	}
	for _, e := range dec {
		if e.Point != "BGNCA00005001001005" {
			t.Errorf("totalizer-decreased at %s: %+v", e.Point, e.Event)
		}
		if c, ok := cmpDecimal(core.Decimal(e.Event.Value), core.Decimal(e.Event.Previous)); !ok || c >= 0 {
			t.Errorf("totalizer-decreased from %s to %s", e.Event.Previous, e.Event.Value)
		}
	}
}

// checkReadingsOf checks that each of points has readings at most every interval.
func checkReadingsOf(t *testing.T, recs []*core.Record, points []string, every time.Duration) {
	t.Helper()
	last := map[string]time.Time{}
	for _, r := range recs {
		if prev, ok := last[r.Point]; ok && r.Time.Sub(prev) > every {
			t.Errorf("point %s: no reading between %s and %s", r.Point, prev, r.Time)
		}
		last[r.Point] = r.Time
	}
	for _, p := range points {
		if last[p].IsZero() {
			t.Errorf("point %s: no readings", p)
		}
	}
}

// TestSimRestart restarts the agent in the middle of transactions: the state saved by State and given to
// a new Poller by Restore keeps every start total, and every transaction of the truth is still reported
// right.
func TestSimRestart(t *testing.T) {
	r := startSim(t, "fuel-depot", Options{})
	restarts := 0
	r.run(44*time.Minute, time.Second, func(el time.Duration) {
		if el < 5*time.Minute || el%(7*time.Minute) != 0 {
			return
		}
		open := false
		for _, ps := range r.p.det.st.Points {
			open = open || ps.Open != nil
		}
		st, err := r.p.State()
		if err != nil {
			t.Fatal(err)
		}
		r.p.Close()
		r.p, err = New(r.cfg, r.sink, Options{Clock: r.clk, Dial: func(c *config.Controller) (Conn, error) {
			return modbus.NewClient(modbus.ClientConfig{Transport: modbus.TCP, Address: r.addr, Timeout: time.Second})
		}})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.p.Restore(st); err != nil {
			t.Fatal(err)
		}
		if open {
			restarts++
		}
	})
	if restarts == 0 {
		t.Error("no restart fell inside a transaction")
	}
	if n := checkTransactions(t, r.truthRecords(), r.sink.kind(core.KindTransaction)); n == 0 {
		t.Error("no transaction in the run")
	}
	for _, k := range []core.EventKind{core.EventDoorOpened, core.EventPowerLost, core.EventTransactionAborted} {
		if got := r.sink.events(k); len(got) != 0 {
			t.Errorf("restart raised %s", k)
		}
	}
}
