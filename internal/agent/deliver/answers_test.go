package deliver

import (
	"context"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/wire"
)

// A server whose batch answers keep saying gap/replay/reorder while its tip agrees with the agent: the
// sender backs off like after any failure instead of knocking in a tight loop.
func TestResyncAnswersBackOff(t *testing.T) {
	for _, code := range []wire.Code{wire.CodeGap, wire.CodeReplay, wire.CodeReorder} {
		t.Run(string(code), func(t *testing.T) {
			f := newFixture(t)
			f.append(5)
			f.srv.set(func(l *standIn) { l.refuse = code })
			s := f.sender(f.opts)
			for i := range 4 {
				w, err := s.Step(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if w < f.opts.Backoff {
					t.Fatalf("step %d: wait %v, want at least the back-off %v", i, w, f.opts.Backoff)
				}
			}
			if st := s.Status(); st.Failures < 4 {
				t.Fatalf("failures %d, want 4", st.Failures)
			}
			f.srv.set(func(l *standIn) { l.refuse = "" })
			f.drain(s, 4)
			f.check()
		})
	}
}

// A batch of one record answered too-large cannot be made smaller: alarm and SlowRetry, not a resend at once.
func TestTooLargeSingleRecord(t *testing.T) {
	f := newFixture(t)
	f.append(2)
	f.srv.set(func(l *standIn) { l.refuse = wire.CodeTooLarge })
	o := f.opts
	o.MaxRecords = 1
	s := f.sender(o)
	w, err := s.Step(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st := s.Status()
	if w != f.opts.SlowRetry || len(st.Alarms) != 1 || st.Alarms[0].Code != string(wire.CodeTooLarge) || st.Failures != 1 {
		t.Fatalf("wait %v, status %+v", w, st)
	}
	f.srv.set(func(l *standIn) { l.refuse = "" })
	f.drain(s, 4)
	f.check()
}

// A record in the journal that does not decode: what comes before it is delivered, then the sender raises
// journal-damaged and waits SlowRetry; it does not return an error (which would stop the agent, and make
// it crash-loop on the same record at every start).
func TestUndecodableRecord(t *testing.T) {
	f := newFixture(t)
	f.append(3)
	if _, _, err := f.j.AppendSync(func(seq uint64, prev [32]byte) ([]byte, error) {
		return []byte(`{"seq":4, "broken":true}`), nil
	}); err != nil {
		t.Fatal(err)
	}
	s := f.sender(f.opts)
	var w time.Duration
	for i := range 3 {
		var err error
		if w, err = s.Step(context.Background()); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	st := s.Status()
	if _, recs, _ := f.srv.snapshot(); len(recs) != 3 || w != f.opts.SlowRetry || len(st.Alarms) != 1 || st.Alarms[0].Code != alarmJournalDamaged {
		t.Fatalf("server holds %d, wait %v, status %+v", len(recs), w, st)
	}
}
