package deliver

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/journal"
	"github.com/akciz/akciz/internal/wire"
)

const testDevice = "BGNCA00005001001"

var t0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

// fixture is a journal, a stand-in server behind TLS 1.3 with client certificates, and the options of a
// sender between them.
type fixture struct {
	t    *testing.T
	dir  string
	j    *journal.Journal
	srv  *standIn
	url  string
	pki  *testPKI
	opts Options
	n    int // records appended
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), pki: newTestPKI(t)}
	f.srv = newStandIn(t, f.pki.roots)
	hs, client := f.pki.serve(t, f.srv)
	f.url = hs.URL
	f.open()
	f.opts = Options{URL: hs.URL, Client: client, Device: testDevice, Signer: f.pki.key,
		Chain: []*x509.Certificate{f.pki.cert}, LogKeys: f.srv.keys, StateDir: t.TempDir(), MaxRecords: 100, MaxWait: -1,
		Backoff: time.Second, MaxBackoff: time.Minute, SlowRetry: 15 * time.Minute}
	return f
}

func (f *fixture) open() {
	f.t.Helper()
	j, _, err := journal.Open(f.dir, journal.Options{Device: testDevice})
	if err != nil {
		f.t.Fatal(err)
	}
	f.j = j
	f.t.Cleanup(func() { j.Close() })
}

func (f *fixture) reopen() {
	f.t.Helper()
	f.j.Close()
	f.open()
}

// record makes the i-th test record.
func record(i int) *core.Record {
	return &core.Record{Kind: core.KindReading, Time: t0.Add(time.Duration(i) * time.Second), Device: testDevice,
		Point: testDevice + "001", Reading: &core.Reading{Values: []core.Value{{Tag: "FT101.TotalVolume",
			Role: core.RoleTotalVolume, Value: core.Decimal(fmt.Sprintf("%d.000", 1000+i)), Unit: "L"}}}}
}

func (f *fixture) append(n int) {
	f.t.Helper()
	for range n {
		f.n++
		r := record(f.n)
		if _, _, err := f.j.Append(func(seq uint64, prev [32]byte) ([]byte, error) {
			return wire.EncodeRecord(seq, prev, r)
		}); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := f.j.Sync(); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) sender(o Options) *Sender {
	f.t.Helper()
	if o.Journal == nil {
		o.Journal = f.j
	}
	s, err := New(o)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// drain steps s until the journal is acknowledged through its last record, failing after max steps.
func (f *fixture) drain(s *Sender, max int) {
	f.t.Helper()
	ctx := context.Background()
	for i := 0; i < max; i++ {
		if f.j.Stats().Acked == f.j.Stats().Durable {
			return
		}
		if _, err := s.Step(ctx); err != nil {
			f.t.Fatal(err)
		}
	}
	f.t.Fatalf("not delivered after %d steps: %+v", max, s.Status())
}

// check asserts that the server holds exactly the records 1..n of the journal's history, once, in order,
// chained.
func (f *fixture) check() {
	f.t.Helper()
	tip, recs, _ := f.srv.snapshot()
	if len(recs) != f.n || tip.Seq != uint64(f.n) {
		f.t.Fatalf("server holds %d records, tip %d; want %d", len(recs), tip.Seq, f.n)
	}
	var prev wire.Hash
	for i, b := range recs {
		e, err := wire.DecodeRecord(b)
		if err != nil {
			f.t.Fatal(err)
		}
		if e.Seq != uint64(i+1) || e.Prev != prev {
			f.t.Fatalf("record %d: seq %d, chain broken", i+1, e.Seq)
		}
		if want := record(i + 1); e.Record.Reading.Values[0].Value != want.Reading.Values[0].Value {
			f.t.Fatalf("record %d holds %s", i+1, e.Record.Reading.Values[0].Value)
		}
		prev = e.Hash
	}
}

func TestDeliver(t *testing.T) {
	f := newFixture(t)
	f.append(250)
	s := f.sender(f.opts)
	f.drain(s, 10)
	f.check()
	st := s.Status()
	if st.Batches != 3 || st.Records != 250 || st.Link != LinkUp || st.Backlog != 0 || st.Acked != 250 || st.TreeSize != 3 {
		t.Fatalf("status %+v", st)
	}
	// The kept receipt continues the batch chain and the checkpoint after a restart.
	f.reopen()
	f.append(5)
	s = f.sender(f.opts)
	if s.tip.Batch == wire.ZeroHash || s.cp == nil || s.cp.Size != 3 {
		t.Fatalf("restart lost the batch chain: %+v, %v", s.tip, s.cp)
	}
	f.drain(s, 3)
	f.check()
}

func TestMaxWait(t *testing.T) {
	f := newFixture(t)
	now := t0
	o := f.opts
	o.MaxWait, o.MaxRecords, o.Now = 10*time.Second, 50, func() time.Time { return now }
	s := f.sender(o)
	f.append(3)
	wait, err := s.Step(context.Background())
	if err != nil || wait != 10*time.Second {
		t.Fatalf("first step: wait %v, %v", wait, err)
	}
	now = now.Add(4 * time.Second)
	if wait, _ := s.Step(context.Background()); wait != 6*time.Second {
		t.Fatalf("second step: wait %v", wait)
	}
	if _, _, posts := f.srv.snapshot(); posts != 0 {
		t.Fatal("sent before MaxWait")
	}
	f.append(50) // a full batch goes at once
	s.Step(context.Background())
	if st := s.Status(); st.Records != 50 {
		t.Fatalf("full batch not sent at once: %+v", st)
	}
	now = now.Add(10 * time.Second)
	f.drain(s, 3)
	f.check()
}

func TestOutage(t *testing.T) {
	f := newFixture(t)
	f.append(120)
	s := f.sender(f.opts)
	s.Step(context.Background()) // the first 100
	f.srv.set(func(l *standIn) { l.down = true })
	f.append(30)
	var waits []time.Duration
	for range 8 {
		w, err := s.Step(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, w)
	}
	// Exponential back-off with jitter in [d/2, d], capped at MaxBackoff.
	for i, w := range waits {
		d := min(time.Second<<i, time.Minute)
		if w < d/2 || w > d {
			t.Fatalf("attempt %d waits %v, want within [%v, %v]", i+1, w, d/2, d)
		}
	}
	if st := s.Status(); st.Link != LinkDown || st.Failures != 8 || st.Backlog != 50 {
		t.Fatalf("status during the outage %+v", st)
	}
	f.srv.set(func(l *standIn) { l.down = false })
	f.drain(s, 5)
	f.check()
	if st := s.Status(); st.Link != LinkUp {
		t.Fatalf("status after %+v", st)
	}
}

// failingTrim is a journal whose next Trim fails, as if the agent crashed after the server answered and
// before the journal was trimmed.
type failingTrim struct {
	*journal.Journal
	fail bool
}

func (j *failingTrim) Trim(through uint64, receipt []byte) error {
	if j.fail {
		return errors.New("crash")
	}
	return j.Journal.Trim(through, receipt)
}

// A crash between the server's receipt and the trim: the restarted sender sends the same batch (from the
// state directory) and gets the receipt again, or, without it, finds the server's tip; nothing is stored
// twice and the chain goes on.
func TestRestart(t *testing.T) {
	for _, keepInflight := range []bool{true, false} {
		t.Run(fmt.Sprintf("inflight=%v", keepInflight), func(t *testing.T) {
			f := newFixture(t)
			f.append(150)
			o := f.opts
			if !keepInflight {
				o.StateDir = ""
			}
			s := f.sender(o)
			s.Step(context.Background())
			o.Journal = &failingTrim{Journal: f.j, fail: true}
			s = f.sender(o)
			if _, err := s.Step(context.Background()); err == nil {
				t.Fatal("trim failure not reported")
			}
			if _, recs, _ := f.srv.snapshot(); len(recs) != 150 {
				t.Fatalf("server holds %d", len(recs))
			}
			f.reopen()
			f.append(10)
			o.Journal = f.j
			s = f.sender(o)
			f.drain(s, 5)
			f.check()
		})
	}
}

func TestBadReceipt(t *testing.T) {
	f := newFixture(t)
	f.append(20)
	f.srv.set(func(l *standIn) { l.badReceipt = true })
	s := f.sender(f.opts)
	w, err := s.Step(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st := f.j.Stats(); st.Acked != 0 {
		t.Fatalf("journal trimmed through %d on an unverified receipt", st.Acked)
	}
	st := s.Status()
	if w != f.opts.SlowRetry || st.Link != LinkRefused || len(st.Alarms) != 1 || st.Alarms[0].Code != string(wire.CodeBadReceipt) {
		t.Fatalf("wait %v, status %+v", w, st)
	}
	// The same batch again: the server answers with its (now good) receipt, without storing it twice.
	f.srv.set(func(l *standIn) { l.badReceipt = false })
	f.drain(s, 2)
	f.check()
	if st := s.Status(); len(st.Alarms) != 0 {
		t.Fatalf("alarm not cleared: %+v", st.Alarms)
	}
}

func TestTooLarge(t *testing.T) {
	f := newFixture(t)
	f.append(95)
	f.srv.set(func(l *standIn) { l.maxRecords = 30 })
	s := f.sender(f.opts)
	f.drain(s, 12)
	f.check()
}

func TestRefusals(t *testing.T) {
	for _, code := range []wire.Code{wire.CodeExpiredCertificate, wire.CodeAltered, wire.CodeBadSignature} {
		t.Run(string(code), func(t *testing.T) {
			f := newFixture(t)
			f.append(5)
			f.srv.set(func(l *standIn) { l.refuse = code })
			s := f.sender(f.opts)
			w, _ := s.Step(context.Background())
			st := s.Status()
			if w != f.opts.SlowRetry || st.Link != LinkRefused || len(st.Alarms) != 1 || st.Alarms[0].Code != string(code) || st.Backlog != 5 {
				t.Fatalf("wait %v, status %+v", w, st)
			}
			f.srv.set(func(l *standIn) { l.refuse = "" })
			f.drain(s, 2)
			f.check()
		})
	}
}

// The server lost nothing but the agent's tip is behind it (the acked mark was lost): a replay answer,
// then the server's tip, then onward.
func TestReplayResync(t *testing.T) {
	f := newFixture(t)
	f.append(40)
	o := f.opts
	o.StateDir = ""
	o.Journal = &failingTrim{Journal: f.j, fail: true}
	s := f.sender(o)
	s.Step(context.Background())
	f.append(7)
	s = f.sender(f.opts)
	f.drain(s, 5)
	f.check()
	if _, _, posts := f.srv.snapshot(); posts != 3 {
		t.Fatalf("%d posts, want 3 (accepted, replay, the rest)", posts)
	}
}

func TestUnsentAlarm(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	var mu sync.Mutex
	var events []core.Event
	o := f.opts
	o.Now = func() time.Time { return now }
	o.UnsentAlarm = time.Hour
	o.Event = func(_ context.Context, e core.Event) error {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
		return nil
	}
	f.srv.set(func(l *standIn) { l.down = true })
	f.append(3)
	s := f.sender(o)
	for range 3 {
		s.Step(context.Background())
		now = now.Add(time.Hour)
	}
	if len(events) != 1 || events[0].Kind != core.EventUnsentTooLong || events[0].Value != "1" {
		t.Fatalf("events %+v", events)
	}
	if st := s.Status(); len(st.Alarms) != 1 || st.Alarms[0].Code != "unsent-too-long" {
		t.Fatalf("alarms %+v", st.Alarms)
	}
	f.srv.set(func(l *standIn) { l.down = false })
	f.drain(s, 3)
	s.Step(context.Background())
	if st := s.Status(); len(st.Alarms) != 0 {
		t.Fatalf("alarm not cleared: %+v", st.Alarms)
	}
}

// Run delivers what is appended while it runs, woken by Notify, and stops with its context.
func TestRun(t *testing.T) {
	f := newFixture(t)
	o := f.opts
	o.MaxWait = 10 * time.Millisecond
	s := f.sender(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	for range 5 {
		f.append(20)
		s.Notify()
	}
	deadline := time.Now().Add(20 * time.Second)
	for f.j.Stats().Acked < 100 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	f.check()
}

func TestNewErrors(t *testing.T) {
	f := newFixture(t)
	o := f.opts
	o.Journal = f.j
	o.Device = "nope"
	if _, err := New(o); err == nil {
		t.Fatal("bad device accepted")
	}
	o = f.opts
	o.Journal = f.j
	o.Signer = nil
	if _, err := New(o); err == nil {
		t.Fatal("no signer accepted")
	}
}

// Records lost to disk damage in the middle of the journal: what comes before them is delivered, then
// the sender stops with the journal-damaged alarm instead of looping on gap answers.
func TestJournalDamaged(t *testing.T) {
	f := newFixture(t)
	f.append(10)
	f.j.Close()
	seg := filepath.Join(f.dir, "00000000000000000001.seg")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte(`{"seq":5,`))
	if i < 0 {
		t.Fatal("record 5 not found in the segment")
	}
	b[i+20] ^= 0x01
	os.WriteFile(seg, b, 0o600)
	f.open()
	s := f.sender(f.opts)
	var w time.Duration
	for range 3 {
		if w, err = s.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Status()
	if _, recs, _ := f.srv.snapshot(); len(recs) != 4 || w != f.opts.SlowRetry || len(st.Alarms) != 1 || st.Alarms[0].Code != "journal-damaged" {
		t.Fatalf("server holds %d, wait %v, status %+v", len(recs), w, st)
	}
}
