package deliver

import (
	"context"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/wire"
)

// A clock stepped back must not date a batch before its own records or before the previous batch: the
// server refuses both (docs/protocol.md, verification step 5).
func TestBatchTimeNeverGoesBack(t *testing.T) {
	recTime := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	r := &core.Record{Kind: core.KindEvent, Time: recTime, Device: "BGNCA00005001001",
		Event: &core.Event{Kind: core.EventDoorOpened}}
	rec, err := wire.EncodeRecord(1, [32]byte{}, r)
	if err != nil {
		t.Fatal(err)
	}
	s := &Sender{}
	stepped := recTime.Add(-time.Hour) // the clock went back an hour after the record was read
	if got := s.batchTime(stepped, [][]byte{rec}); !got.Equal(recTime) {
		t.Errorf("batch dated %v, before its record of %v", got, recTime)
	}
	s.created = recTime.Add(time.Minute)
	if got := s.batchTime(stepped, [][]byte{rec}); !got.Equal(s.created) {
		t.Errorf("batch dated %v, before the previous batch of %v", got, s.created)
	}
	later := recTime.Add(2 * time.Hour)
	if got := s.batchTime(later, [][]byte{rec}); !got.Equal(later) {
		t.Errorf("batch dated %v, want the clock %v", got, later)
	}
}

// A restart with the clock stepped back before the last accepted batch's created: the floor is kept in
// StateDir, so the next batch is dated after the accepted one and the server (which, like ingest, refuses
// a batch dated before its device's previous batch) accepts it; without the floor it would be refused
// over and over.
func TestClockBackAcrossRestart(t *testing.T) {
	f := newFixture(t)
	f.append(5) // records read at t0+1s … t0+5s
	o := f.opts
	ahead := t0.Add(time.Hour)
	o.Now = func() time.Time { return ahead }
	s := f.sender(o)
	f.drain(s, 3)
	if got := s.Status().LastCreated; !got.Equal(ahead) {
		t.Fatalf("LastCreated %v, want %v", got, ahead)
	}
	// NTP steps the clock back an hour and a half; the agent restarts and reads more records.
	back := t0.Add(-30 * time.Minute)
	o.Now = func() time.Time { return back }
	f.append(5)
	s = f.sender(o)
	if got := s.Status().LastCreated; !got.Equal(ahead) {
		t.Fatalf("after restart LastCreated %v, want %v", got, ahead)
	}
	f.drain(s, 3)
	f.check()
	if st := s.Status(); st.Failures != 0 || len(st.Alarms) != 0 {
		t.Errorf("refusals after the clock went back: %+v", st)
	}

	// Without the kept floor (a state directory lost), the same step back is refused once; the agent then
	// reads the server's tip, takes its created as the floor, and the batch, signed anew, is accepted on
	// its first retry after the back-off: no SlowRetry, no alarm. A server whose tip does not say created
	// leaves the refusal to SlowRetry and an alarm: what the tip's created prevents.
	for _, tipCreated := range []bool{true, false} {
		g := newFixture(t)
		g.srv.set(func(l *standIn) { l.noTipCreated = !tipCreated })
		g.append(5)
		o = g.opts
		o.Now = func() time.Time { return ahead }
		g.drain(g.sender(o), 3)
		g.append(5)
		o.Now = func() time.Time { return back }
		o.StateDir = t.TempDir()
		s = g.sender(o)
		w, err := s.Step(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		st := s.Status()
		if st.Failures != 1 {
			t.Fatalf("tip created %v: a batch dated before the accepted one was not refused by the stand-in: %+v", tipCreated, st)
		}
		if !tipCreated {
			if w < o.SlowRetry || len(st.Alarms) != 1 || st.Alarms[0].Code != string(wire.CodeMalformed) {
				t.Errorf("without the tip's created: wait %v, alarms %+v; want SlowRetry and malformed", w, st.Alarms)
			}
			continue
		}
		if w >= o.SlowRetry || w > o.Backoff || len(st.Alarms) != 0 || !st.LastCreated.Equal(ahead) {
			t.Fatalf("refused for its created: wait %v (back-off %v), status %+v; want the back-off, no alarm, floor %v",
				w, o.Backoff, st, ahead)
		}
		if _, err := s.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		if js := g.j.Stats(); js.Acked != js.Durable {
			t.Fatalf("first retry not accepted: acked %d of %d, status %+v", js.Acked, js.Durable, s.Status())
		}
		g.check()
		if _, _, posts := g.srv.snapshot(); posts != 3 {
			t.Errorf("%d posts, want 3 (accepted, refused for its created, accepted)", posts)
		}
	}
}

// The exact open case: the server accepted a batch, a crash lost its receipt before the agent kept the
// batch's created, and the clock then went back. The restarted agent sends the same records again
// (replay), reads the server's tip and with it the lost batch's created, and its next batch is accepted on
// the first retry after the back-off: never refused for its created, no SlowRetry, no alarm.
func TestReceiptLostClockBack(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.append(40) // records read at t0+1s … t0+40s
	o := f.opts
	ahead := t0.Add(time.Hour)
	o.Now = func() time.Time { return ahead }
	o.StateDir = ""                                    // the crash comes before last-created is kept…
	o.Journal = &failingTrim{Journal: f.j, fail: true} // …and before the receipt is
	if _, err := f.sender(o).Step(ctx); err == nil {
		t.Fatal("trim failure not reported")
	}
	if tip, _, _ := f.srv.snapshot(); tip.Seq != 40 {
		t.Fatalf("server tip %d, want 40", tip.Seq)
	}
	// NTP steps the clock back an hour and a half; the agent restarts and reads more records.
	f.append(7)
	o = f.opts
	back := t0.Add(-30 * time.Minute)
	o.Now = func() time.Time { return back }
	s := f.sender(o)
	var waits []time.Duration
	for js := f.j.Stats(); js.Acked < js.Durable; js = f.j.Stats() {
		if len(waits) == 3 {
			t.Fatalf("not delivered after 3 steps (waits %v): %+v", waits, s.Status())
		}
		w, err := s.Step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, w)
	}
	f.check()
	// Step 1: the records again, answered replay (back-off); step 2: the tip, then the rest, accepted.
	if len(waits) != 2 || waits[0] > o.Backoff || waits[0] < o.Backoff/2 || waits[1] != 0 {
		t.Errorf("waits %v, want the back-off (%v) once, then delivery", waits, o.Backoff)
	}
	if _, _, posts := f.srv.snapshot(); posts != 3 {
		t.Errorf("%d posts, want 3 (accepted, replay, the rest accepted at once)", posts)
	}
	st := s.Status()
	if st.Failures != 1 || len(st.Alarms) != 0 || !st.LastCreated.Equal(ahead) {
		t.Errorf("status %+v; want one failure (the replay), no alarm, LastCreated %v", st, ahead)
	}
	// The floor taken from the tip is kept for the next restart too.
	if got := f.sender(o).Status().LastCreated; !got.Equal(ahead) {
		t.Errorf("after another restart LastCreated %v, want %v", got, ahead)
	}
}

// A batch refused for its created (say, in the server's future) does not hold the floor up: the next
// batch is dated by the clock again.
func TestRefusedCreatedIsNoFloor(t *testing.T) {
	f := newFixture(t)
	f.append(2)
	o := f.opts
	now := t0.Add(24 * time.Hour)
	o.Now = func() time.Time { return now }
	s := f.sender(o)
	f.srv.set(func(l *standIn) { l.refuse = wire.CodeMalformed })
	s.Step(context.Background())
	now = t0.Add(time.Hour) // the clock was a day ahead; corrected
	f.srv.set(func(l *standIn) { l.refuse = "" })
	f.drain(s, 3)
	if got := s.Status().LastCreated; !got.Equal(now) {
		t.Errorf("batch dated %v after a refused batch of %v; want the clock %v", got, t0.Add(24*time.Hour), now)
	}
}
