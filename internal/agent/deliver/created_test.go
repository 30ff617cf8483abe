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

	// Without the kept floor (a state directory lost), the same step back is refused: what the floor
	// prevents.
	g := newFixture(t)
	g.append(5)
	o = g.opts
	o.Now = func() time.Time { return ahead }
	g.drain(g.sender(o), 3)
	g.append(5)
	o.Now = func() time.Time { return back }
	o.StateDir = t.TempDir()
	s = g.sender(o)
	s.Step(context.Background())
	if st := s.Status(); st.Failures == 0 {
		t.Errorf("a batch dated before the accepted one was not refused by the stand-in: %+v", st)
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
