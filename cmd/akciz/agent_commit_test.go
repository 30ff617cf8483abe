package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/journal"
	"github.com/akciz/akciz/internal/wire"
)

// syncFailFS is the operating system's filesystem whose file fsyncs fail once fail is set (an I/O error
// of the disk).
type syncFailFS struct {
	journal.OSFS
	fail *atomic.Bool
}

func (f syncFailFS) OpenFile(name string, flag int, perm fs.FileMode) (journal.File, error) {
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return syncFailFile{file, f.fail}, nil
}

type syncFailFile struct {
	journal.File
	fail *atomic.Bool
}

func (f syncFailFile) Sync() error {
	if f.fail.Load() {
		return errors.New("input/output error")
	}
	return f.File.Sync()
}

func commitFixture(t *testing.T, o journal.Options) (*agentProc, *journal.Journal) {
	t.Helper()
	dir := t.TempDir()
	o.Device = "BGNCA00005001001"
	j, _, err := journal.Open(filepath.Join(dir, "journal"), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return &agentProc{set: &agentSettings{State: dir}, j: j, device: o.Device, readings: map[string]pointReading{},
		log: slog.New(slog.DiscardHandler)}, j
}

func doorEvent(a *agentProc, i int) *core.Record {
	return &core.Record{Kind: core.KindEvent, Time: time.Date(2026, 11, 22, 8, 0, 0, i*int(time.Millisecond), time.UTC),
		Device: a.device, Event: &core.Event{Kind: core.EventDoorOpened, Tag: fmt.Sprint("DOOR", i), Detail: strings.Repeat("x", 100)}}
}

func readState(t *testing.T, a *agentProc) savedState {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(a.set.State, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	var st savedState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// A journal that fills up in the middle of a commit: the state file must still hold every record a power
// cut could take (Next no higher than the durable records + 1), so that recoverPending puts them back.
func TestCommitFullKeepsUnsyncedInState(t *testing.T) {
	a, j := commitFixture(t, journal.Options{SegmentSize: 4096, MaxSize: 4096})
	var recs []*core.Record
	for i := range 100 {
		recs = append(recs, doorEvent(a, i))
	}
	err := a.commit(recs, []byte(`{"v":1}`))
	if !errors.Is(err, journal.ErrFull) {
		t.Fatalf("commit: %v, want journal full", err)
	}
	for round := range 2 {
		st := readState(t, a)
		js := j.Stats()
		if st.Next > js.Durable+1 {
			t.Fatalf("round %d: state says next %d but only %d records are durable: records %d-%d would be lost by a power cut",
				round, st.Next, js.Durable, js.Durable+1, st.Next-1)
		}
		if got := st.Next - 1 + uint64(len(st.Pending)); got != 100 {
			t.Fatalf("round %d: state covers %d records, want 100", round, got)
		}
		// Retrying while still full syncs what the last attempt appended before saying so.
		if err := a.commit(nil, nil); !errors.Is(err, journal.ErrFull) {
			t.Fatalf("retry: %v, want journal full", err)
		}
	}
}

// A record that cannot be encoded is replaced by record-not-kept, and the records after it are kept.
func TestCommitReplacesUnencodableRecord(t *testing.T) {
	a, j := commitFixture(t, journal.Options{})
	bad := &core.Record{Kind: core.KindReading, Time: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC), Device: a.device,
		Point: a.device + "001", Reading: &core.Reading{}} // no values: fails Validate
	huge := doorEvent(a, 1)
	huge.Event.Detail = strings.Repeat("д", wire.MaxRecordSize)
	if err := a.commit([]*core.Record{bad, doorEvent(a, 0), huge, doorEvent(a, 2)}, nil); err != nil {
		t.Fatalf("commit: %v", err)
	}
	var got []string
	j.ReadFrom(1, func(seq uint64, b []byte) error {
		e, err := wire.DecodeRecord(b)
		if err != nil {
			t.Fatalf("record %d: %v", seq, err)
		}
		got = append(got, string(e.Record.Event.Kind)+":"+e.Record.Event.Tag)
		if e.Record.Event.Kind == core.EventRecordNotKept && (e.Record.Event.Detail == "" || len(e.Record.Event.Detail) > maxNotKeptDetail) {
			t.Errorf("record %d: detail %q", seq, e.Record.Event.Detail)
		}
		return nil
	})
	want := "record-not-kept:reading,door-opened:DOOR0,record-not-kept:event,door-opened:DOOR2"
	if strings.Join(got, ",") != want {
		t.Fatalf("journal holds %s, want %s", strings.Join(got, ","), want)
	}
	if len(a.pending) != 0 {
		t.Fatalf("%d records still pending", len(a.pending))
	}
}

// A failed fsync is not a full journal: pollLoop returns it (the agent exits and a restart recovers the
// journal) instead of retrying for ever.
func TestPollLoopStopsOnSyncFailure(t *testing.T) {
	var fail atomic.Bool
	a, _ := commitFixture(t, journal.Options{FS: syncFailFS{fail: &fail}})
	a.pending = []*core.Record{doorEvent(a, 0)}
	fail.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- a.pollLoop(ctx) }()
	select {
	case err := <-errc:
		if err == nil || errors.Is(err, journal.ErrFull) {
			t.Fatalf("pollLoop: %v, want the fsync error", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("pollLoop goes on after a failed fsync")
	}
	// The state file still holds the record: the restart appends it.
	if st := readState(t, a); len(st.Pending) != 1 {
		t.Fatalf("state holds %d records, want 1", len(st.Pending))
	}
}

// Export while the agent is stopped must not repair the journal: the agent's next start reports what
// recovery found (journal-recovered). A journal that needs recovery is refused; a clean one is exported.
func TestExportLeavesRecoveryToAgent(t *testing.T) {
	a := newAgentSite(t)
	dir := filepath.Join(a.dir, "journal")
	j, _, err := journal.Open(dir, journal.Options{Device: "BGNCA00005001001"})
	if err != nil {
		t.Fatal(err)
	}
	ap := &agentProc{device: "BGNCA00005001001"}
	for i := range 3 {
		r := doorEvent(ap, i)
		r.Time = core.Stamp(time.Now().Add(-time.Hour))
		if _, _, err := j.AppendSync(func(seq uint64, prev [32]byte) ([]byte, error) { return wire.EncodeRecord(seq, prev, r) }); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("segments %v", segs)
	}
	clean, _ := os.ReadFile(segs[0])
	os.WriteFile(segs[0], append(bytes.Clone(clean), "torn tail of a write"...), 0o600)
	out := filepath.Join(a.dir, "export.akb")
	c, _, stderr := agentCmd("agent", "export", "--lang", "en", "--config", a.cfg, "--settings", a.settings, "--from", "2000-01-01T00:00:00Z", "--out", out)
	if c != 1 || !strings.Contains(stderr, "start the agent first") {
		t.Fatalf("export of a journal that needs recovery: %d %s", c, stderr)
	}
	if b, _ := os.ReadFile(segs[0]); len(b) != len(clean)+len("torn tail of a write") {
		t.Fatalf("export repaired the journal: %d bytes, had %d", len(b), len(clean)+len("torn tail of a write"))
	}
	os.WriteFile(segs[0], clean, 0o600)
	if c, _, stderr := agentCmd("agent", "export", "--lang", "en", "--config", a.cfg, "--settings", a.settings, "--from", "2000-01-01T00:00:00Z", "--out", out); c != 0 {
		t.Fatalf("export of a clean journal: %d %s", c, stderr)
	}
}

// The sender's unsent-too-long event (deliver.Options.Event is called once, at the crossing, and only logs
// its error) must not be lost when it comes while the journal is full, which a long outage makes likely:
// a.event leaves it waiting in the state file, and the next commit with room appends it, once.
func TestUnsentEventJournalFull(t *testing.T) {
	a, j := commitFixture(t, journal.Options{SegmentSize: 4096, MaxSize: 4096})
	for i := 0; ; i++ {
		if err := a.commit([]*core.Record{doorEvent(a, i)}, nil); errors.Is(err, journal.ErrFull) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	full := j.Stats().Last
	if err := a.event(context.Background(), core.Event{Kind: core.EventUnsentTooLong, Value: "1"}); !errors.Is(err, journal.ErrFull) {
		t.Fatalf("event into a full journal: %v", err)
	}
	st := readState(t, a)
	if n := len(st.Pending); n != 2 || st.Pending[1].Event.Kind != core.EventUnsentTooLong {
		t.Fatalf("state file holds %d records waiting, want the door event and unsent-too-long", n)
	}
	// Delivery makes room; the next commit appends what waited, the event once.
	if err := j.Trim(full, []byte("receipt")); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j, _, err := journal.Open(filepath.Join(a.set.State, "journal"), journal.Options{Device: a.device, SegmentSize: 4096, MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	a.j = j
	if err := a.commit(nil, nil); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := j.ReadFrom(full+1, func(seq uint64, data []byte) error {
		if bytes.Contains(data, []byte(core.EventUnsentTooLong)) {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("unsent-too-long kept %d times, want 1", n)
	}
}
