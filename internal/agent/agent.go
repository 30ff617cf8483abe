// Package agent is the acquisition half of `akciz agent`, the software of the industrial computer in the
// ИКУНК (чл. 2; чл. 37, т. 2 of Ordinance N-7): it reads the PLCs named by automation_config.xml over
// Modbus, normalises what it reads as the Modbus map says (чл. 16, ал. 1, т. 3; чл. 35, ал. 4), and turns
// it into domain records — readings at the intervals of чл. 30, ал. 13, transactions of чл. 30, ал.
// 14–17, and events (the door of чл. 36, the power of чл. 30, ал. 1, error bits of чл. 35, ал. 5, a
// totalizer that went down, чл. 30, ал. 6, communication and the clock) — which it hands to a Sink. It
// only reads: it never writes to a PLC (чл. 32).
//
// docs/agent.md describes the planning, normalisation and detection rules and every assumption.
package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/modbus"
)

// Sink receives the records the agent makes, in the order it makes them. An error (a full journal) stops
// the agent: Poll and Run return it, and no record is dropped silently.
type Sink interface {
	Emit(ctx context.Context, r *core.Record) error
}

// Conn is the read side of a Modbus connection to one controller. *modbus.Client implements it.
type Conn interface {
	ReadCoilsInto(ctx context.Context, unit byte, addr uint16, dst []bool) error
	ReadDiscreteInputsInto(ctx context.Context, unit byte, addr uint16, dst []bool) error
	ReadHoldingRegistersInto(ctx context.Context, unit byte, addr uint16, dst []uint16) error
	ReadInputRegistersInto(ctx context.Context, unit byte, addr uint16, dst []uint16) error
	Close() error
}

// Clock is the agent's source of time. Now is the wall clock that stamps records; Monotonic is a clock
// that never jumps, against which a step of the wall clock is detected; After waits.
type Clock interface {
	Now() time.Time
	Monotonic() time.Duration
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{ origin time.Time }

func (c systemClock) Now() time.Time                         { return time.Now() }
func (c systemClock) Monotonic() time.Duration               { return time.Since(c.origin) }
func (c systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// SystemClock is the machine's clock.
func SystemClock() Clock { return systemClock{origin: time.Now()} }

// Options tune a Poller. The zero value is usable.
type Options struct {
	// Clock is the time source; nil is SystemClock.
	Clock Clock
	// Dial opens the connection to a controller; nil opens a modbus.Client with the controller's
	// transport, address, timeouts and pauses.
	Dial func(c *config.Controller) (Conn, error)
	// ConfigHash is the hex SHA-256 of automation_config.xml, carried by every record.
	ConfigHash string
	// Test marks every record as made in testing (чл. 17–20).
	Test bool
	// LostAfter is how many requests to a unit must fail in a row before communication-lost is raised;
	// default 3, so that one lost frame is not an outage.
	LostAfter int
	// Backoff is the first pause before a failing unit is tried again, doubled on each failure up to
	// MaxBackoff; defaults 1 s and 30 s.
	Backoff, MaxBackoff time.Duration
	// ClockStep is how far the wall clock may drift from the monotonic clock between two scans before
	// clock-stepped is raised; default 2 s.
	ClockStep time.Duration
	// Logger receives failures of single requests (at debug level); nil discards them.
	Logger *slog.Logger
}

// DialModbus opens a modbus.Client for controller c, with its quirks' pauses.
func DialModbus(c *config.Controller) (Conn, error) {
	cc := modbus.ClientConfig{
		Transport:      modbus.Transport(c.Transport),
		Address:        c.Address,
		Timeout:        c.Timeout,
		ConnectTimeout: c.ConnectTimeout,
		ConnectDelay:   c.Quirks.ConnectPause,
		RequestGap:     c.Quirks.RequestPause,
	}
	if c.Transport == config.RTU && c.Serial != nil {
		cc.Address = c.Serial.Device
		cc.Serial = modbus.SerialConfig{Baud: c.Serial.Baud, DataBits: c.Serial.DataBits, Parity: c.Serial.Parity, StopBits: c.Serial.StopBits}
	}
	return modbus.NewClient(cc)
}

// Poller reads the controllers of one configuration and makes records. Poll and Run must not be called
// concurrently.
type Poller struct {
	cfg    *config.Config
	sink   Sink
	o      Options
	device string
	ctls   []*ctlRun
	det    *detector
	lastW  time.Time
	lastM  time.Duration
	polled bool
	got    map[*config.Tag]sample // the samples of the scan in progress, reused
}

// ctlRun is the live plan of one controller: its connection, its requests (split where the PLC refused an
// address) and the health of each unit.
type ctlRun struct {
	c     *config.Controller
	conn  Conn
	reqs  []*liveRequest
	units map[byte]*unitHealth
	log   *slog.Logger
	out   map[*config.Tag]sample // the samples of the current pass, reused
}

type liveRequest struct {
	*Request
	next time.Time // when it is due; zero is at once
	regs []uint16
	bits []bool
	read bool // read in the current scan
}

type unitHealth struct {
	failures int       // requests failed in a row
	retry    time.Time // no request before this
	err      error     // the last failure
}

// New returns a Poller for cfg that emits into sink. It opens no connection yet.
func New(cfg *config.Config, sink Sink, o Options) (*Poller, error) {
	if cfg == nil || sink == nil {
		return nil, errors.New("agent: nil configuration or sink")
	}
	if o.Clock == nil {
		o.Clock = SystemClock()
	}
	if o.Dial == nil {
		o.Dial = DialModbus
	}
	if o.LostAfter <= 0 {
		o.LostAfter = 3
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.ClockStep <= 0 {
		o.ClockStep = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Poller{cfg: cfg, sink: sink, o: o, device: fmt.Sprintf("%s%03d", cfg.Site.ID(), cfg.Box.Number)}
	for _, cp := range PlanConfig(cfg).Controllers {
		cr := &ctlRun{c: cp.Controller, units: map[byte]*unitHealth{}, log: o.Logger.With("controller", cp.Controller.ID),
			out: map[*config.Tag]sample{}}
		for _, r := range cp.Requests {
			cr.reqs = append(cr.reqs, newLive(r))
			if cr.units[r.Unit] == nil {
				cr.units[r.Unit] = &unitHealth{}
			}
		}
		p.ctls = append(p.ctls, cr)
	}
	p.det = newDetector(cfg, p.device, o)
	return p, nil
}

func newLive(r *Request) *liveRequest {
	l := &liveRequest{Request: r}
	if r.Table.Bits() {
		l.bits = make([]bool, r.Quantity)
	} else {
		l.regs = make([]uint16, r.Quantity)
	}
	return l
}

// Close closes the connections.
func (p *Poller) Close() error {
	var errs []error
	for _, c := range p.ctls {
		if c.conn != nil {
			errs = append(errs, c.conn.Close())
			c.conn = nil
		}
	}
	return errors.Join(errs...)
}

// State is the detector's state, to be persisted after every Poll that returned nil and given to Restore
// after a restart: open transactions with their start totals, the previous transaction's end totals
// (чл. 30, ал. 17), the last totalizer values, flags and limits, so that a restart loses nothing and
// repeats no event.
func (p *Poller) State() ([]byte, error) { return p.det.marshal() }

// Restore loads a state saved by State. Call it before the first Poll.
func (p *Poller) Restore(b []byte) error { return p.det.unmarshal(b) }

// Run polls until ctx ends or the sink fails; it returns nil when ctx ended.
func (p *Poller) Run(ctx context.Context) error {
	for {
		if err := p.Poll(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wait := max(p.nextDue().Sub(p.o.Clock.Now()), 10*time.Millisecond)
		select {
		case <-ctx.Done():
			return nil
		case <-p.o.Clock.After(wait):
		}
	}
}

// nextDue is the earliest time a request or a reading is due.
func (p *Poller) nextDue() time.Time {
	var t time.Time
	upd := func(x time.Time) {
		if t.IsZero() || x.Before(t) {
			t = x
		}
	}
	for _, c := range p.ctls {
		for _, r := range c.reqs {
			next := r.next
			if u := c.units[r.Unit]; u.retry.After(next) {
				next = u.retry
			}
			upd(next)
		}
	}
	for _, ps := range p.det.points {
		upd(ps.nextReading)
	}
	return t
}

// Poll runs one scan at the clock's present time: it reads every request that is due (the controllers in
// parallel), re-reads the totals of a point whose transaction indicator just changed, detects readings,
// transactions and events, and emits them. It returns the sink's error, or ctx's.
func (p *Poller) Poll(ctx context.Context) error {
	now := p.o.Clock.Now()
	var recs []*core.Record
	for _, c := range p.ctls {
		for _, r := range c.reqs {
			r.read = false
		}
	}
	if r := p.clockStep(now); r != nil {
		recs = append(recs, r)
	}
	if p.got == nil {
		p.got = map[*config.Tag]sample{}
	}
	got := p.got
	clear(got)
	p.readAll(ctx, now, got, func(c *ctlRun, r *liveRequest) bool {
		return !r.next.After(now)
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	// A transaction edge needs the totals of that moment: read the rest of the point's tags now rather
	// than at their own cadence (чл. 30, ал. 16).
	if edge := p.det.edges(got); len(edge) > 0 {
		p.readAll(ctx, now, got, func(c *ctlRun, r *liveRequest) bool {
			if r.read {
				return false
			}
			for _, s := range r.Tags {
				if s.Ref.Point != nil && edge[s.Ref.Point] {
					return true
				}
			}
			return false
		})
	}
	for _, c := range p.ctls {
		recs = append(recs, c.commEvents(p.det)...)
	}
	recs = append(recs, p.det.scan(now, got)...)
	slices.SortStableFunc(recs, func(a, b *core.Record) int { return cmp.Compare(a.Time.UnixMilli(), b.Time.UnixMilli()) })
	for _, r := range recs {
		if err := p.sink.Emit(ctx, r); err != nil {
			return fmt.Errorf("agent: emit %s: %w", r.Kind, err)
		}
	}
	return nil
}

// clockStep compares the wall clock's progress since the last scan with the monotonic clock's.
func (p *Poller) clockStep(now time.Time) *core.Record {
	mono := p.o.Clock.Monotonic()
	wall := now.Round(0)
	defer func() { p.lastW, p.lastM, p.polled = wall, mono, true }()
	if !p.polled {
		return nil
	}
	step := wall.Sub(p.lastW) - (mono - p.lastM)
	if step > p.o.ClockStep || step < -p.o.ClockStep {
		return p.det.event(now, "", &core.Event{Kind: core.EventClockStepped,
			Value: fmt.Sprint(step.Milliseconds()), Previous: core.Stamp(p.lastW).Format(time.RFC3339Nano)})
	}
	return nil
}

// readAll reads the requests that want says, each controller in its own goroutine, and adds the decoded
// samples of their tags to got.
func (p *Poller) readAll(ctx context.Context, now time.Time, got map[*config.Tag]sample, want func(*ctlRun, *liveRequest) bool) {
	var wg sync.WaitGroup
	for _, c := range p.ctls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.scan(ctx, p, now, want)
		}()
	}
	wg.Wait()
	for _, c := range p.ctls {
		for t, s := range c.out {
			got[t] = s
		}
	}
}

func (c *ctlRun) scan(ctx context.Context, p *Poller, now time.Time, want func(*ctlRun, *liveRequest) bool) {
	out := c.out
	clear(out)
	for i := 0; i < len(c.reqs); i++ {
		r := c.reqs[i]
		if !want(c, r) {
			continue
		}
		u := c.units[r.Unit]
		if u.retry.After(now) {
			continue // backed off: this slave alone waits, the others keep their cadence
		}
		r.read = true
		if !r.next.After(now) {
			r.next = nextDue(r.next, now, r.Interval) // an extra read at an edge keeps the cadence
		}
		err := c.read(ctx, p, r)
		if err == nil {
			u.failures, u.retry, u.err = 0, time.Time{}, nil
			at := p.o.Clock.Now()
			for _, s := range r.Tags {
				out[s.Ref.Tag] = p.det.decode(s, r, c.c, at)
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, &modbus.Exception{Code: modbus.IllegalDataAddress}) && distinctSpans(r.Tags) > 1 {
			// The PLC refused the range: split it and read the parts; remember the split so that the
			// next scan does not pay for it again.
			a, b := split(r)
			a.next, b.next = time.Time{}, time.Time{} // due now: the data of this scan is not given up
			c.reqs = slices.Replace(c.reqs, i, i+1, a, b)
			i-- // read the first half now; the second follows
			c.log.Debug("split request", "unit", r.Unit, "table", r.Table.String(), "address", r.Address, "quantity", r.Quantity)
			continue
		}
		c.log.Debug("read failed", "unit", r.Unit, "table", r.Table.String(), "address", r.Address, "quantity", r.Quantity, "err", err)
		if errors.Is(err, &modbus.Exception{Code: modbus.IllegalDataAddress}) || errors.Is(err, modbus.ErrInvalidRequest) {
			continue // one tag the PLC does not have, or one the client cannot ask for: the slave is fine
		}
		u.failures++
		u.err = err
		back := p.o.Backoff << min(u.failures-1, 16)
		u.retry = now.Add(min(back, p.o.MaxBackoff))
		if u.retry.Before(r.next) {
			r.next = u.retry // a failed read is retried after the back-off, not a whole interval later
		}
	}
}

// nextDue keeps a request on its cadence: the next multiple of its interval after now.
func nextDue(prev, now time.Time, every time.Duration) time.Time {
	if prev.IsZero() {
		return now.Add(every)
	}
	next := prev.Add(every)
	if !next.After(now) {
		next = now.Add(every)
	}
	return next
}

func (c *ctlRun) read(ctx context.Context, p *Poller, r *liveRequest) error {
	if c.conn == nil {
		conn, err := p.o.Dial(c.c)
		if err != nil {
			return err
		}
		c.conn = conn
	}
	addr := uint16(r.Address)
	switch r.Table {
	case config.Coils:
		return c.conn.ReadCoilsInto(ctx, r.Unit, addr, r.bits)
	case config.DiscreteInputs:
		return c.conn.ReadDiscreteInputsInto(ctx, r.Unit, addr, r.bits)
	case config.InputRegisters:
		return c.conn.ReadInputRegistersInto(ctx, r.Unit, addr, r.regs)
	default:
		return c.conn.ReadHoldingRegistersInto(ctx, r.Unit, addr, r.regs)
	}
}

func distinctSpans(ts []Slot) int {
	n := 0
	for i, s := range ts {
		if i == 0 || s.Offset != ts[i-1].Offset || s.Ref.Tag.Size != ts[i-1].Ref.Tag.Size {
			n++
		}
	}
	return n
}

// split halves a request by its tags, keeping tags that share registers together.
func split(r *liveRequest) (*liveRequest, *liveRequest) {
	cut := len(r.Tags) / 2
	for cut > 0 && r.Tags[cut].Offset == r.Tags[cut-1].Offset {
		cut--
	}
	if cut == 0 {
		cut = 1
		for cut < len(r.Tags)-1 && r.Tags[cut].Offset == r.Tags[0].Offset {
			cut++
		}
	}
	part := func(ts []Slot) *liveRequest {
		base := ts[0].Offset
		end := 0
		out := make([]Slot, len(ts))
		for i, s := range ts {
			_, n := span(s.Ref.Tag)
			end = max(end, s.Offset+n-base)
			out[i] = Slot{Ref: s.Ref, Offset: s.Offset - base}
		}
		return newLive(&Request{Unit: r.Unit, Table: r.Table, Address: r.Address + base, Quantity: end,
			Interval: r.Interval, Tags: out})
	}
	return part(r.Tags[:cut]), part(r.Tags[cut:])
}

// commEvents raises communication-lost for each unit that has failed LostAfter requests in a row, and
// communication-restored when it answers again: once per outage, not once per request.
func (c *ctlRun) commEvents(d *detector) []*core.Record {
	var out []*core.Record
	units := make([]byte, 0, len(c.units))
	for u := range c.units {
		units = append(units, u)
	}
	slices.Sort(units)
	for _, unit := range units {
		u := c.units[unit]
		key := fmt.Sprintf("%s/%d", c.c.ID, unit)
		lost := d.st.Comm[key]
		switch {
		case !lost && u.failures >= d.o.LostAfter:
			d.st.Comm[key] = true
			out = append(out, d.event(d.o.Clock.Now(), "", &core.Event{Kind: core.EventCommunicationLost,
				Detail: fmt.Sprintf("controller %s unit %d: %v", c.c.ID, unit, u.err)}))
		case lost && u.failures == 0 && u.err == nil && c.answered(unit):
			delete(d.st.Comm, key)
			out = append(out, d.event(d.o.Clock.Now(), "", &core.Event{Kind: core.EventCommunicationRestored,
				Detail: fmt.Sprintf("controller %s unit %d", c.c.ID, unit)}))
		}
	}
	return out
}

// answered reports whether a request to unit succeeded in this scan.
func (c *ctlRun) answered(unit byte) bool {
	for _, r := range c.reqs {
		if r.Unit == unit && r.read {
			return true
		}
	}
	return false
}
