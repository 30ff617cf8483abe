package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/formula"
	"github.com/akciz/akciz/internal/modbus"
)

// memConn is a Conn straight onto a modbus.Handler, counting requests; refuse, when set, answers a
// holding-register read with illegal data address.
type memConn struct {
	h      modbus.Handler
	mu     sync.Mutex
	n      int
	refuse func(addr, qty int) bool
}

func (c *memConn) count() {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
}

func (c *memConn) requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *memConn) ReadCoilsInto(ctx context.Context, unit byte, addr uint16, dst []bool) error {
	c.count()
	return c.h.ReadCoils(ctx, unit, addr, dst)
}

func (c *memConn) ReadDiscreteInputsInto(ctx context.Context, unit byte, addr uint16, dst []bool) error {
	c.count()
	return c.h.ReadDiscreteInputs(ctx, unit, addr, dst)
}

func (c *memConn) ReadHoldingRegistersInto(ctx context.Context, unit byte, addr uint16, dst []uint16) error {
	c.count()
	if c.refuse != nil && c.refuse(int(addr), len(dst)) {
		return &modbus.Exception{Function: 3, Code: modbus.IllegalDataAddress}
	}
	return c.h.ReadHoldingRegisters(ctx, unit, addr, dst)
}

func (c *memConn) ReadInputRegistersInto(ctx context.Context, unit byte, addr uint16, dst []uint16) error {
	c.count()
	return c.h.ReadInputRegisters(ctx, unit, addr, dst)
}

func (c *memConn) Close() error { return nil }

// memRig is a Poller on a small configuration over a modbus.Memory.
type memRig struct {
	mem  *modbus.Memory
	conn *memConn
	clk  *fakeClock
	sink *memSink
	p    *Poller
	cfg  *config.Config
}

var t0 = time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)

func newMemRig(t *testing.T, cfg *config.Config) *memRig {
	t.Helper()
	r := &memRig{mem: modbus.NewMemory(modbus.MemoryLayout{HoldingRegisters: 64, Coils: 64, InputRegisters: 64, DiscreteInputs: 64}),
		clk: newFakeClock(t0), sink: &memSink{t: t}, cfg: cfg}
	r.conn = &memConn{h: r.mem}
	var err error
	r.p, err = New(cfg, r.sink, Options{Clock: r.clk, Dial: func(*config.Controller) (Conn, error) { return r.conn, nil }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *memRig) poll(t *testing.T) {
	t.Helper()
	if err := r.p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (r *memRig) set(t *testing.T, addr int, v ...uint16) {
	t.Helper()
	if err := r.mem.SetHoldingRegisters(1, uint16(addr), v); err != nil {
		t.Fatal(err)
	}
}

func ptr(f float64) *float64 { return &f }

// TestSplitIllegalAddress: a PLC that refuses a read through an unmapped register loses none of the tags
// around it, and the next scan does not pay for the refused read again.
func TestSplitIllegalAddress(t *testing.T) {
	c := &config.Controller{ID: "plc", Unit: 1, Quirks: config.Quirks{MaxGap: 4}}
	a, b, d := tagAt("plc", config.HoldingRegisters, 0, 2), tagAt("plc", config.HoldingRegisters, 6, 2), tagAt("plc", config.HoldingRegisters, 8, 1)
	r := newMemRig(t, planConfig([]*config.Controller{c}, a, b, d))
	r.conn.refuse = func(addr, qty int) bool { return addr <= 5 && 5 < addr+qty }
	r.set(t, 0, 0, 7, 0, 0, 0, 0, 0, 9, 11)
	r.poll(t)
	if n := r.conn.requests(); n != 3 {
		t.Errorf("first scan: %d requests, want 3 (refused, then two halves)", n)
	}
	rd := r.sink.kind(core.KindReading)
	if len(rd) != 1 || len(rd[0].Reading.Values) != 3 {
		t.Fatalf("readings %+v", rd)
	}
	if got := fmt.Sprint([]core.Decimal{rd[0].Reading.Values[0].Value, rd[0].Reading.Values[1].Value, rd[0].Reading.Values[2].Value}); got != "[7 9 11]" {
		t.Errorf("values %s", got)
	}
	r.clk.Advance(time.Minute)
	r.poll(t)
	if n := r.conn.requests(); n != 5 {
		t.Errorf("second scan: %d requests in all, want 5 (the split is remembered)", n)
	}
	if ev := r.sink.kind(core.KindEvent); len(ev) != 0 {
		t.Errorf("events %+v", ev[0].Event)
	}
}

// TestLimits: out of limits flags the value and raises one event; back in limits raises one more.
func TestLimits(t *testing.T) {
	c := &config.Controller{ID: "plc", Unit: 1}
	tag := tagAt("plc", config.HoldingRegisters, 0, 1)
	tag.Low, tag.High, tag.Unit = ptr(0), ptr(100), "bar"
	r := newMemRig(t, planConfig([]*config.Controller{c}, tag))
	for i, v := range []uint16{50, 150, 160, 40, 30} {
		r.set(t, 0, v)
		if i > 0 {
			r.clk.Advance(time.Minute)
		}
		r.poll(t)
	}
	out, back := r.sink.events(core.EventOutOfLimits), r.sink.events(core.EventBackInLimits)
	if len(out) != 1 || len(back) != 1 {
		t.Fatalf("%d out-of-limits, %d back-in-limits events, want 1 and 1", len(out), len(back))
	}
	if out[0].Event.Value != "150" || out[0].Event.Detail != string(core.QualityHigh) || back[0].Event.Value != "40" {
		t.Errorf("events %+v %+v", out[0].Event, back[0].Event)
	}
	rd := r.sink.kind(core.KindReading)
	if len(rd) != 5 {
		t.Fatalf("%d readings", len(rd))
	}
	if q := rd[2].Reading.Values[0].Quality; len(q) != 1 || q[0] != core.QualityHigh || rd[2].Reading.Values[0].Value != "160" {
		t.Errorf("reading 3: %+v", rd[2].Reading.Values[0])
	}
	if q := rd[3].Reading.Values[0].Quality; len(q) != 0 {
		t.Errorf("reading 4: %+v", rd[3].Reading.Values[0])
	}
}

// TestSinkFull: a sink that fails stops the scan with its error.
func TestSinkFull(t *testing.T) {
	c := &config.Controller{ID: "plc", Unit: 1}
	r := newMemRig(t, planConfig([]*config.Controller{c}, tagAt("plc", config.HoldingRegisters, 0, 1)))
	r.sink.fail = errFull
	if err := r.p.Poll(context.Background()); !errors.Is(err, errFull) {
		t.Fatalf("Poll: %v, want the sink's error", err)
	}
	if err := r.p.Run(context.Background()); !errors.Is(err, errFull) {
		t.Fatalf("Run: %v, want the sink's error", err)
	}
}

// TestClockStep: a wall clock that jumps against the monotonic clock raises clock-stepped once.
func TestClockStep(t *testing.T) {
	c := &config.Controller{ID: "plc", Unit: 1}
	r := newMemRig(t, planConfig([]*config.Controller{c}, tagAt("plc", config.HoldingRegisters, 0, 1)))
	r.poll(t)
	r.clk.Advance(time.Second)
	r.poll(t)
	r.clk.Step(-30 * time.Second)
	r.clk.Advance(time.Second)
	r.poll(t)
	r.clk.Advance(time.Second)
	r.poll(t)
	ev := r.sink.events(core.EventClockStepped)
	if len(ev) != 1 || ev[0].Event.Value != "-30000" {
		t.Fatalf("clock-stepped events %v", ev)
	}
}

// TestBoxEvents: door and UPS of the box, read every second; error bits of a point with their codes.
func TestBoxEvents(t *testing.T) {
	c := &config.Controller{ID: "plc", Unit: 1}
	errTag := tagAt("plc", config.HoldingRegisters, 0, 1)
	errTag.Role = core.RoleErrorBits
	errTag.ErrorBits = []*config.ErrorBit{{Bit: 0, Code: "E01"}, {Bit: 3, Code: "E04"}}
	cfg := planConfig([]*config.Controller{c}, errTag)
	door := tagAt("plc", config.DiscreteInputs, 0, 1)
	door.Role = core.RoleDoor
	ups := tagAt("plc", config.DiscreteInputs, 1, 1)
	ups.Role = core.RoleUPS
	cfg.Box.Tags = []*config.Tag{door, ups}
	r := newMemRig(t, cfg)
	step := func(di []bool, bits uint16) {
		if err := r.mem.SetDiscreteInputs(1, 0, di); err != nil {
			t.Fatal(err)
		}
		r.set(t, 0, bits)
		r.clk.Advance(time.Minute)
		r.poll(t)
	}
	step([]bool{false, false}, 0)
	step([]bool{true, false}, 9)
	step([]bool{true, true}, 8)
	step([]bool{false, false}, 0)
	var got []string
	for _, rec := range r.sink.kind(core.KindEvent) {
		e := rec.Event
		got = append(got, fmt.Sprintf("%s %s %v %s", e.Kind, e.Tag, e.Bits, e.Detail))
	}
	want := []string{
		"door-opened " + door.Name + " [] ",
		"error-bits-set " + errTag.Name + " [0 3] E01,E04",
		"power-lost " + ups.Name + " [] ",
		"error-bits-cleared " + errTag.Name + " [0] E01",
		"door-closed " + door.Name + " [] ",
		"power-restored " + ups.Name + " [] ",
		"error-bits-cleared " + errTag.Name + " [3] E04",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestTransactionMemory drives a transaction point by hand: a meter without a start register whose second
// transaction starts from the first one's end (чл. 30, ал. 17), across a restart of the agent.
func TestTransactionMemory(t *testing.T) {
	c := &config.Controller{ID: "plc", Unit: 1}
	total := tagAt("plc", config.HoldingRegisters, 0, 2)
	total.Role, total.Unit = core.RoleTotalVolume, "L"
	total.Compiled = formula.MustCompile("x * 0.1")
	ind := tagAt("plc", config.HoldingRegisters, 2, 1)
	ind.Role, ind.ReadInterval = core.RoleTransactionFlag, time.Second
	temp := tagAt("plc", config.HoldingRegisters, 3, 1)
	temp.Role, temp.Unit, temp.Type, temp.Resolution = core.RoleTemperature, "°C", modbus.Int16, 0.1
	cfg := planConfig([]*config.Controller{c}, total, ind, temp)
	p := cfg.Points[0]
	p.Mode = core.ModeTransaction
	p.Products = []*config.Product{{Code: "DB6", TradeName: "Дизел"}}
	r := newMemRig(t, cfg)
	put := func(tot uint32, on uint16, temp int16) {
		r.set(t, 0, uint16(tot>>16), uint16(tot), on, uint16(temp))
		r.clk.Advance(time.Second)
		r.poll(t)
	}
	put(4294967290, 0, 10)
	put(4294967290, 1, 12)
	put(4294967294, 1, 14)
	put(4294967295, 0, 16)
	// Restart between transactions: the state carries the end total.
	st, err := r.p.State()
	if err != nil {
		t.Fatal(err)
	}
	r.p, err = New(cfg, r.sink, Options{Clock: r.clk, Dial: func(*config.Controller) (Conn, error) { return r.conn, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.p.Restore(st); err != nil {
		t.Fatal(err)
	}
	put(4294967295, 0, 10)
	put(4294967295, 1, 10)
	// Restart in the middle of the transaction: the start must not be lost.
	st, _ = r.p.State()
	r.p, _ = New(cfg, r.sink, Options{Clock: r.clk, Dial: func(*config.Controller) (Conn, error) { return r.conn, nil }})
	if err := r.p.Restore(st); err != nil {
		t.Fatal(err)
	}
	put(4294967295, 1, 10)
	put(4294967295, 0, 10)
	// The end totals of a third transaction cannot be read (the PLC refuses them) until the fourth
	// begins: the third ends with the totals of that edge.
	put(4294967295, 1, 10)
	r.conn.refuse = func(addr, qty int) bool { return addr == 0 }
	put(4294967295, 0, 10)
	put(4294967295, 0, 10)
	r.conn.refuse = nil
	put(4294967295, 1, 10)
	txs := r.sink.kind(core.KindTransaction)
	if len(txs) != 3 {
		t.Fatalf("%d transactions, want 3", len(txs))
	}
	if c := txs[2].Transaction; !c.End.Equal(r.clk.Now().Add(-2*time.Second)) || c.Forward.Volume.End != "429496729.5" {
		t.Errorf("third: end %s totals %+v", c.End, c.Forward.Volume)
	}
	if open := r.p.det.st.Points[p.ID].Open; open == nil || open.Ending {
		t.Errorf("fourth transaction not open: %+v", open)
	}
	a, b := txs[0].Transaction, txs[1].Transaction
	if v := a.Forward.Volume; v.Begin != "429496729" || v.End != "429496729.5" || v.Quantity != "0.5" || a.StartFromPrevious {
		t.Errorf("first: %+v from previous %v", v, a.StartFromPrevious)
	}
	if a.Temperature == nil || a.Temperature.Value != "14" || a.Product != "DB6" || a.Direction != core.DirectionOut {
		t.Errorf("first: %+v %+v", a, a.Temperature)
	}
	if v := b.Forward.Volume; v.Begin != "429496729.5" || v.End != "429496729.5" || v.Quantity != "0" || !b.StartFromPrevious {
		t.Errorf("second: %+v from previous %v", v, b.StartFromPrevious)
	}
	if !a.Begin.Equal(t0.Add(2*time.Second)) || !a.End.Equal(t0.Add(4*time.Second)) {
		t.Errorf("first: %s..%s", a.Begin, a.End)
	}
	if err := r.p.Restore([]byte("{")); err == nil {
		t.Error("Restore of a torn state succeeded")
	}
}

// TestCommunicationLost: a slave that does not answer is backed off and reported once per outage.
func TestCommunicationLost(t *testing.T) {
	c := &config.Controller{ID: "plc", Unit: 1}
	r := newMemRig(t, planConfig([]*config.Controller{c}, tagAt("plc", config.HoldingRegisters, 0, 1)))
	down := true
	h := r.conn.h
	r.conn.h = failing{Handler: h, down: &down}
	for range 120 {
		r.clk.Advance(time.Second)
		r.poll(t)
	}
	if n := r.conn.requests(); n > 12 {
		t.Errorf("%d requests to a dead slave in 2 minutes: no back-off", n)
	}
	down = false
	for range 90 {
		r.clk.Advance(time.Second)
		r.poll(t)
	}
	if l, s := len(r.sink.events(core.EventCommunicationLost)), len(r.sink.events(core.EventCommunicationRestored)); l != 1 || s != 1 {
		t.Errorf("%d lost, %d restored, want 1 and 1", l, s)
	}
	if rd := r.sink.kind(core.KindReading); len(rd) == 0 || rd[len(rd)-1].Time.Before(r.clk.Now().Add(-time.Minute)) {
		for _, x := range r.sink.recs {
			t.Logf("%s %s %+v", x.Time, x.Kind, x.Event)
		}
		t.Error("no reading after the slave came back")
	}
}

type failing struct {
	modbus.Handler
	down *bool
}

func (f failing) ReadHoldingRegisters(ctx context.Context, unit byte, addr uint16, dst []uint16) error {
	if *f.down {
		return modbus.ErrTimeout
	}
	return f.Handler.ReadHoldingRegisters(ctx, unit, addr, dst)
}

// TestRun runs the loop on a fake clock until the context ends.
func TestRun(t *testing.T) {
	c := &config.Controller{ID: "plc", Unit: 1}
	r := newMemRig(t, planConfig([]*config.Controller{c}, tagAt("plc", config.HoldingRegisters, 0, 1)))
	ctx, cancel := context.WithCancel(context.Background())
	r.sink.mu.Lock()
	r.sink.t = t
	r.sink.mu.Unlock()
	go func() {
		for len(r.sink.kind(core.KindReading)) < 3 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if err := r.p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	rd := r.sink.kind(core.KindReading)
	if gap := rd[1].Time.Sub(rd[0].Time); gap != time.Minute {
		t.Errorf("readings %s apart, want the point's minute", gap)
	}
}

// TestProductOutsideNomenclature: a product code the nomenclature does not map is sent as read, and a
// code that appears only after the indicator is taken when it does.
func TestProductOutsideNomenclature(t *testing.T) {
	c := &config.Controller{ID: "plc", Unit: 1}
	total := tagAt("plc", config.HoldingRegisters, 0, 1)
	total.Role, total.Unit = core.RoleTotalMass, "kg"
	ind := tagAt("plc", config.HoldingRegisters, 1, 1)
	ind.Role, ind.ReadInterval = core.RoleTransactionFlag, time.Second
	prod := tagAt("plc", config.HoldingRegisters, 2, 1)
	prod.Role = core.RoleProductCode
	cfg := planConfig([]*config.Controller{c}, total, ind, prod)
	p := cfg.Points[0]
	p.Mode = core.ModeTransaction
	p.Products = []*config.Product{{Code: "DB6"}, {Code: "A95"}}
	p.ProductMap = []*config.ProductMapping{{Raw: 1, Product: "DB6"}, {Raw: 2, Product: "A95"}}
	r := newMemRig(t, cfg)
	for _, regs := range [][3]uint16{{10, 0, 0}, {10, 1, 0}, {15, 1, 2}, {20, 0, 2}, {20, 1, 7}, {30, 0, 7}} {
		r.set(t, 0, regs[:]...)
		r.clk.Advance(time.Second)
		r.poll(t)
	}
	txs := r.sink.kind(core.KindTransaction)
	if len(txs) != 2 {
		t.Fatalf("%d transactions", len(txs))
	}
	if a, b := txs[0].Transaction, txs[1].Transaction; a.Product != "A95" || b.Product != "7" || b.Forward.Mass.Quantity != "10" {
		t.Errorf("products %q %q, second %+v", a.Product, b.Product, b.Forward.Mass)
	}
}
