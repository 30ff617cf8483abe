package watch_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/sqlite"
	"github.com/akciz/akciz/internal/watch"
	"github.com/akciz/akciz/internal/wire"
)

// fakeClock is moved by the test; After's channels fire when Advance passes their time.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	set     chan struct{} // if not nil, told of every After
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	if c.set != nil {
		c.set <- struct{}{}
	}
	return ch
}

// Advance moves the clock and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
			continue
		}
		kept = append(kept, w)
	}
	c.waiters = kept
}

// recorder collects what the engine tells the notifier.
type recorder struct {
	mu      sync.Mutex
	changes []store.AlarmEntry
	alarms  []store.Alarm
}

func (r *recorder) AlarmChanged(_ context.Context, a store.Alarm, e store.AlarmEntry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, e)
	r.alarms = append(r.alarms, a)
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.changes)
}

func decode(b []byte) (core.Record, error) {
	e, err := wire.DecodeRecord(b)
	return e.Record, err
}

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC) // a Monday

const (
	site    = "BGNCA00005001" // examples/fuel-depot
	device  = site + "001"
	point1  = device + "001" // road: 10 min
	point5  = device + "005" // pipeline: 1 h
	opEIK   = "175074752"
	office  = "BG002000"
	otherOp = "121084508"
)

var (
	operator = watch.Actor{Who: "CN=Иван Петров", Role: store.RoleOperator, Operator: opEIK}
	officer  = watch.Actor{Who: "CN=Мария Георгиева", Role: store.RoleOfficer, Office: office}
	admin    = watch.Actor{Who: "CN=ЦМУ", Role: store.RoleAdmin}
	stranger = watch.Actor{Who: "CN=Друг", Role: store.RoleOperator, Operator: otherOp}
)

// fixture is a store with the fuel depot registered in state, and its devices' record chains.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	st    store.Store
	clock *fakeClock
	seq   map[string]int64
	prev  map[string]store.Hash
	batch map[string]store.Hash
}

func newFixture(t *testing.T, state store.SiteState) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "akciz.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, ctx: ctx, st: st, clock: newClock(t0), seq: map[string]int64{}, prev: map[string]store.Hash{},
		batch: map[string]store.Hash{}}
	f.must(st.PutOperator(ctx, store.Operator{EIK: opEIK, Name: "Нефтобаза АД"}))
	f.must(st.PutOperator(ctx, store.Operator{EIK: otherOp, Name: "Друг ЕООД"}))
	f.must(st.PutSite(ctx, store.Site{Warehouse: site, Operator: opEIK, Name: "Нефтобаза „Девня“", CustomsOffice: office, State: state}))
	f.must(st.PutDevice(ctx, store.Device{ID: device}))
	for i := 1; i <= 5; i++ {
		f.must(st.PutPoint(ctx, store.Point{ID: fmt.Sprintf("%s%03d", device, i)}))
	}
	return f
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// exampleConfig is the fuel depot's automation_config.xml.
func exampleConfig(t *testing.T) []byte { return exampleConfigTB(t) }

func exampleConfigTB(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../../examples/fuel-depot/automation_config.xml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func replaceAll(b []byte, old, new string) []byte {
	return []byte(strings.ReplaceAll(string(b), old, new))
}

// accept stores the example configuration as the site's accepted version at the clock's time.
func (f *fixture) accept() {
	f.t.Helper()
	_, err := f.st.AddConfigVersion(f.ctx, store.ConfigVersion{Site: site, File: exampleConfig(f.t), UploadedBy: "test",
		UploadedAt: f.clock.Now(), Verdict: store.ConfigAccepted})
	f.must(err)
}

// send stores records as one verified batch, as the intake would.
func (f *fixture) send(recs ...core.Record) {
	f.t.Helper()
	dev := recs[0].Device
	b := &store.Batch{Device: dev, First: f.seq[dev] + 1, PrevChain: f.prev[dev], PrevBatch: f.batch[dev],
		Created: f.clock.Now(), ReceivedAt: f.clock.Now(), Signature: []byte("sig")}
	for i := range recs {
		r := &recs[i]
		r.Time = core.Stamp(r.Time)
		f.seq[dev]++
		bs, err := wire.EncodeRecord(uint64(f.seq[dev]), f.prev[dev], r)
		f.must(err)
		h := store.Hash(sha256.Sum256(bs))
		b.Records = append(b.Records, store.Row{Device: dev, Seq: f.seq[dev], Hash: h, Kind: r.Kind, Time: r.Time,
			Point: r.Point, Test: r.Test, Bytes: bs})
		f.prev[dev] = h
	}
	b.Last = f.seq[dev]
	b.LastChain = f.prev[dev]
	b.Digest = sha256.Sum256(fmt.Appendf(nil, "%s %d", dev, b.Last))
	_, err := f.st.AppendBatch(f.ctx, b)
	f.must(err)
	f.batch[dev] = b.Digest
}

func reading(point string, at time.Time, values ...core.Value) core.Record {
	if len(values) == 0 {
		values = []core.Value{{Tag: "T", Role: core.RoleTotalVolume, Value: "1000.0", Unit: "L"}}
	}
	return core.Record{Kind: core.KindReading, Time: at, Device: device, Point: point, Reading: &core.Reading{Values: values}}
}

func event(point string, at time.Time, ev core.Event) core.Record {
	return core.Record{Kind: core.KindEvent, Time: at, Device: device, Point: point, Event: &ev}
}

// readAll sends a reading of every point of the example at the clock's time.
func (f *fixture) readAll() {
	var recs []core.Record
	for i := 1; i <= 5; i++ {
		recs = append(recs, reading(fmt.Sprintf("%s%03d", device, i), f.clock.Now()))
	}
	f.send(recs...)
}

func (f *fixture) engine(n watch.Notifier) *watch.Engine {
	f.t.Helper()
	e, err := watch.New(f.st, watch.Options{Clock: f.clock, Notifier: n, Decode: decode, Grace: time.Minute})
	f.must(err)
	return e
}

func (f *fixture) tick(e *watch.Engine) {
	f.t.Helper()
	f.must(e.Tick(f.ctx))
}

// open gives the open alarms of a kind, by point.
func (f *fixture) open(kind store.AlarmKind) map[string]store.Alarm {
	f.t.Helper()
	as, err := f.st.Alarms(f.ctx, store.AlarmFilter{Kinds: []store.AlarmKind{kind},
		States: []store.AlarmState{store.AlarmStateOpen, store.AlarmStateAcknowledged}})
	f.must(err)
	m := map[string]store.Alarm{}
	for _, a := range as {
		m[a.Point] = a
	}
	return m
}

func (f *fixture) history(id int64) []store.AlarmAction {
	f.t.Helper()
	h, err := f.st.AlarmHistory(f.ctx, id)
	f.must(err)
	var out []store.AlarmAction
	for _, e := range h {
		out = append(out, e.Action)
	}
	return out
}
