package watch_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/watch"
)

// node is one server's engine over the shared database.
type node struct {
	e   *watch.Engine
	rec *recorder
	log *lines
}

func (f *fixture) node(holder string, n watch.Notifier) node {
	f.t.Helper()
	rec, log := &recorder{}, &lines{}
	if n == nil {
		n = rec
	}
	e, err := watch.New(f.st, watch.Options{Clock: f.clock, Notifier: n, Decode: decode, Grace: time.Minute,
		Holder: holder, Logf: log.logf})
	f.must(err)
	return node{e, rec, log}
}

func (n node) logged(s string) bool {
	return slices.ContainsFunc(n.log.all(), func(l string) bool { return strings.Contains(l, s) })
}

// Two servers over one database (the production setup: several `akciz server` on one PostgreSQL) watch
// as one: only the engine that holds the lease checks, renewing it at every check; the other stands by,
// takes over once the holder has stopped renewing for the lease's time, and the old holder, back from a
// pause, checks nothing and steps down. Every event is acted on once (чл. 28).
func TestOneEnginePerDatabase(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	a, b := f.node("node-a", nil), f.node("node-b", nil)
	const every, ttl = 30 * time.Second, 90 * time.Second // the defaults
	f.send(event("", f.clock.Now(), core.Event{Kind: core.EventPowerLost}))
	f.tick(a.e)
	f.tick(b.e)
	if a.rec.count() != 1 || b.rec.count() != 0 || !a.e.Leading() || b.e.Leading() {
		t.Fatalf("first check: a told %d, b told %d, a leads %v, b leads %v; want only a",
			a.rec.count(), b.rec.count(), a.e.Leading(), b.e.Leading())
	}
	if !b.logged("standing by: node-a watches") {
		t.Errorf("b's log %q does not say who watches", b.log.all())
	}
	// While a renews at every check, b never takes over, however long it runs.
	for range 10 {
		f.clock.Advance(every)
		f.send(event("", f.clock.Now(), core.Event{Kind: core.EventDoorOpened}))
		f.tick(b.e)
		f.tick(a.e)
	}
	if b.rec.count() != 0 || b.e.Leading() {
		t.Fatalf("b checked %d changes while a held the lease", b.rec.count())
	}
	door := f.open(store.AlarmDoorOpened)[""]
	if h := f.history(door.ID); len(h) != 10 || h[0] != store.AlarmOpened {
		t.Errorf("10 door openings, history %v: each once", h)
	}
	// a stops (its server died: no more checks, no release). Within the lease, b waits.
	f.send(event("", f.clock.Now(), core.Event{Kind: core.EventDoorOpened}))
	f.clock.Advance(ttl - time.Millisecond)
	f.tick(b.e)
	if b.rec.count() != 0 || b.e.Leading() {
		t.Fatal("b took over before a's lease expired")
	}
	f.clock.Advance(time.Millisecond)
	f.tick(b.e)
	if b.rec.count() != 1 || !b.e.Leading() || !b.logged("node-b took the lease") {
		t.Fatalf("at a's expiry b: told %d, leads %v, log %q", b.rec.count(), b.e.Leading(), b.log.all())
	}
	if h := f.history(door.ID); len(h) != 11 {
		t.Errorf("the opening while a was gone: history %v, want 11 entries", h)
	}
	// a comes back (a paused process): it checks nothing and steps down.
	f.send(event("", f.clock.Now(), core.Event{Kind: core.EventPowerRestored}))
	told := a.rec.count()
	f.tick(a.e)
	if a.rec.count() != told || a.e.Leading() || !a.logged("stepping down: node-b holds the lease") {
		t.Fatalf("a back: told %d more, leads %v, log %q", a.rec.count()-told, a.e.Leading(), a.log.all())
	}
	f.tick(b.e)
	if p := f.open(store.AlarmPowerLoss)[""]; p.Restored.IsZero() || b.rec.count() != 2 {
		t.Errorf("b did not act on the restoring: %+v, told %d", p, b.rec.count())
	}
	l, err := f.st.WatchLease(f.ctx, watch.LeaseName)
	f.must(err)
	if l.Holder != "node-b" || !l.Expires.Equal(f.clock.Now().Add(ttl)) {
		t.Errorf("lease %+v, want node-b's renewed at its last check", l)
	}
}

// A check that runs longer than a third of the lease renews it as it goes; finding it taken over by then
// (the engine was paused past the lease), it stops at once and leaves the rest to the new holder.
func TestCheckStopsWhenLeaseTakenOver(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	const ttl = 90 * time.Second
	// The notifier is told during a's check: the check "takes" the whole lease, and b takes over meanwhile.
	a := f.node("node-a", notifyFunc(func(store.Alarm) {
		f.clock.Advance(ttl)
		if _, held, err := f.st.AcquireWatchLease(context.Background(), watch.LeaseName, "node-b", f.clock.Now(), ttl); err != nil || !held {
			t.Errorf("b takes over: %v, %v", held, err)
		}
	}))
	f.send(event("", f.clock.Now(), core.Event{Kind: core.EventPowerLost}))
	_, err := f.st.AddIncident(f.ctx, store.Incident{Kind: store.IncidentGap, Device: device, First: 10, Last: 12,
		Time: f.clock.Now()})
	f.must(err)
	if err := a.e.Tick(f.ctx); !errors.Is(err, watch.ErrLeaseLost) {
		t.Fatalf("check of an engine taken over: %v, want ErrLeaseLost", err)
	}
	if a.e.Leading() || len(f.open(store.AlarmIncident)) != 0 {
		t.Errorf("a went on after losing the lease: leads %v, incident alarms %v", a.e.Leading(), f.open(store.AlarmIncident))
	}
	// b, checking now, does the rest.
	b := f.node("node-b", nil)
	f.tick(b.e)
	if len(f.open(store.AlarmIncident)) != 1 || len(f.open(store.AlarmPowerLoss)) != 1 {
		t.Errorf("after b's check: incidents %v, power %v", f.open(store.AlarmIncident), f.open(store.AlarmPowerLoss))
	}
}

// A server that stops releases the lease: another takes over at its next check, without waiting for the
// lease to expire.
func TestRunReleasesTheLease(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	f.clock.set = make(chan struct{}, 1)
	a, b := f.node("node-a", nil), f.node("node-b", nil)
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() { a.e.Run(ctx); close(done) }()
	<-f.clock.set // a's first check is done
	f.tick(b.e)
	if b.e.Leading() {
		t.Fatal("b leads while a runs")
	}
	cancel()
	<-done
	if a.e.Leading() || !a.logged("node-a released the lease") {
		t.Errorf("a stopped: leads %v, log %q", a.e.Leading(), a.log.all())
	}
	f.tick(b.e)
	if !b.e.Leading() {
		t.Error("b did not take the released lease at once")
	}
}

// The lease must outlast the time between two checks, else the engines would take turns.
func TestLeaseLongerThanTwoChecks(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	if _, err := watch.New(f.st, watch.Options{Decode: decode, Every: time.Minute, LeaseTTL: 90 * time.Second}); err == nil {
		t.Error("a lease of 1.5 checks accepted")
	}
}
