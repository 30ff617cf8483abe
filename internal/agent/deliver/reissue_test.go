package deliver

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/journal"
	"github.com/akciz/akciz/internal/wire"
)

// Bit rot in the middle of the journal, in records not yet sent: the journal is reissued with a
// records-lost event in their place, and the server (the stand-in, which checks every link like ingest)
// accepts everything: records 1-9 as they were, the event, then every intact record after the loss with
// its content unchanged, chained. Without the reissue delivery stops at the hole (TestJournalDamaged).
func TestRecordsLostDeclared(t *testing.T) {
	f := newFixture(t)
	f.append(10)
	o := f.opts
	o.MaxRecords = 5
	s := f.sender(o)
	f.drain(s, 3) // 1-10 on the server
	f.append(20)  // 11-30, unsent
	f.j.Close()
	seg := filepath.Join(f.dir, "00000000000000000001.seg")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []string{`{"seq":15,`, `{"seq":16,`} {
		i := bytes.Index(b, []byte(seq))
		if i < 0 {
			t.Fatalf("%s not found in the segment", seq)
		}
		b[i+30] ^= 0x01
	}
	os.WriteFile(seg, b, 0o600)

	at := t0.Add(time.Hour)
	j, rec, done, err := journal.Reissue(f.dir, journal.Options{Device: testDevice},
		Reissuer{Device: testDevice, Config: "", Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	f.j = j
	t.Cleanup(func() { j.Close() })
	if len(rec.Lost) != 1 || rec.Lost[0] != (journal.SeqRange{First: 15, Last: 16}) || done == nil || done.Renumbered != 14 {
		t.Fatalf("recovery %+v, reissued %+v", rec, done)
	}
	s = f.sender(o)
	f.drain(s, 10)
	if st := s.Status(); len(st.Alarms) != 0 {
		t.Fatalf("alarms: %+v", st.Alarms)
	}
	_, recs, _ := f.srv.snapshot()
	if len(recs) != 29 {
		t.Fatalf("server holds %d records, want 29 (30 less 2 lost plus the declaration)", len(recs))
	}
	var prev wire.Hash
	for i, raw := range recs {
		e, err := wire.DecodeRecord(raw)
		if err != nil || e.Seq != uint64(i+1) || e.Prev != prev {
			t.Fatalf("server record %d: %v, chain ok %v", i+1, err, e.Prev == prev)
		}
		prev = e.Hash
		switch n := i + 1; {
		case n == 15:
			ev := e.Record.Event
			if ev == nil || ev.Kind != core.EventRecordsLost || ev.Previous != "15" || ev.Value != "16" || !e.Record.Time.Equal(at) {
				t.Fatalf("record 15: %s", raw)
			}
		default:
			orig := n
			if n > 15 {
				orig = n + 1 // 17… renumbered to 16…
			}
			if want := record(orig).Reading.Values[0].Value; e.Record.Reading == nil || e.Record.Reading.Values[0].Value != want {
				t.Fatalf("record %d: %s, want the content of original record %d", n, raw, orig)
			}
		}
	}
}

// Bit rot in records of the batch in flight, which reached the server without its receipt reaching the
// agent (a crash between the answer and the trim): the reissue puts them back from the batch kept in the
// state directory instead of declaring them lost and renumbering what follows. Renumbered, the resent
// batch would be trimmed from a journal whose next record links to another content than the server's,
// and delivery would stop for good. Loss past the batch (record 22) is still declared.
func TestRecordsLostInflight(t *testing.T) {
	f := newFixture(t)
	o := f.opts
	o.MaxRecords = 5
	f.append(10)
	f.drain(f.sender(o), 3) // 1-10 on the server
	f.append(20)            // 11-30
	o.Journal = &failingTrim{Journal: f.j, fail: true}
	if _, err := f.sender(o).Step(context.Background()); err == nil {
		t.Fatal("trim failure not reported")
	}
	if tip, _, _ := f.srv.snapshot(); tip.Seq != 15 {
		t.Fatalf("server tip %d, want 15", tip.Seq)
	}
	f.j.Close()
	seg := filepath.Join(f.dir, "00000000000000000001.seg")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []string{`{"seq":12,`, `{"seq":13,`, `{"seq":22,`} {
		i := bytes.Index(b, []byte(seq))
		if i < 0 {
			t.Fatalf("%s not found in the segment", seq)
		}
		b[i+30] ^= 0x01
	}
	os.WriteFile(seg, b, 0o600)

	r := Reissuer{Device: testDevice, Inflight: InflightRecords(o.StateDir)}
	if len(r.Inflight) != 5 {
		t.Fatalf("batch in flight holds %d records, want 5", len(r.Inflight))
	}
	j, rec, done, err := journal.Reissue(f.dir, journal.Options{Device: testDevice}, r)
	if err != nil {
		t.Fatal(err)
	}
	f.j = j
	t.Cleanup(func() { j.Close() })
	if len(rec.Lost) != 2 || done == nil || done.Err != nil ||
		!slices.Equal(done.Restored, []journal.SeqRange{{First: 12, Last: 13}}) ||
		!slices.Equal(done.Declared, []journal.SeqRange{{First: 22, Last: 22}}) || done.Renumbered != 8 {
		t.Fatalf("recovery %+v, reissued %+v", rec, done)
	}
	o.Journal = j
	s := f.sender(o)
	f.drain(s, 10)
	if st := s.Status(); len(st.Alarms) != 0 {
		t.Fatalf("alarms: %+v", st.Alarms)
	}
	_, recs, _ := f.srv.snapshot()
	if len(recs) != 30 {
		t.Fatalf("server holds %d records, want 30 (30 less 1 lost plus the declaration)", len(recs))
	}
	var prev wire.Hash
	for i, raw := range recs {
		e, err := wire.DecodeRecord(raw)
		if err != nil || e.Seq != uint64(i+1) || e.Prev != prev {
			t.Fatalf("server record %d: %v, chain ok %v", i+1, err, e.Prev == prev)
		}
		prev = e.Hash
		if n := i + 1; n == 22 {
			if ev := e.Record.Event; ev == nil || ev.Kind != core.EventRecordsLost || ev.Previous != "22" {
				t.Fatalf("record 22: %s", raw)
			}
		} else if want := record(n).Reading.Values[0].Value; e.Record.Reading == nil || e.Record.Reading.Values[0].Value != want {
			t.Fatalf("record %d: %s", n, raw)
		}
	}
}
