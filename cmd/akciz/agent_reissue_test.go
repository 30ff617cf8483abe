package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/journal"
	"github.com/akciz/akciz/internal/wire"
)

// A start that finds records lost to bit rot in the middle of the journal, with records of the last poll
// still waiting in the state file: the waiting records are appended first, then the journal is reissued
// with a records-lost event in the hole, the state file no longer counts the renumbered records, and a
// second start adds nothing.
func TestStartReissuesDamagedJournal(t *testing.T) {
	dir := t.TempDir()
	jdir := filepath.Join(dir, "journal")
	const device = "BGNCA00005001001"
	j, _, err := journal.Open(jdir, journal.Options{Device: device})
	if err != nil {
		t.Fatal(err)
	}
	door := func(i int) *core.Record {
		return &core.Record{Kind: core.KindEvent, Time: time.Date(2026, 11, 22, 8, 0, i, 0, time.UTC), Device: device,
			Event: &core.Event{Kind: core.EventDoorOpened, Tag: fmt.Sprint("DOOR", i)}}
	}
	for i := 1; i <= 10; i++ {
		if _, _, err := j.AppendSync(func(seq uint64, prev [32]byte) ([]byte, error) { return wire.EncodeRecord(seq, prev, door(i)) }); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	// The last poll's records 11 and 12 were written to the state file, then the box lost power.
	st := savedState{Config: strings.Repeat("ab", 32), Poller: json.RawMessage(`{"v":1}`), Next: 11, Pending: []*core.Record{door(11), door(12)}}
	b, _ := json.Marshal(st)
	os.WriteFile(filepath.Join(dir, stateFile), b, 0o600)
	seg := filepath.Join(jdir, "00000000000000000001.seg")
	data, _ := os.ReadFile(seg)
	i := bytes.Index(data, []byte(`{"seq":4,`))
	data[i+40] ^= 1
	os.WriteFile(seg, data, 0o600)

	start := func() *agentProc {
		a := &agentProc{set: &agentSettings{State: dir, Journal: jdir}, device: device, hash: strings.Repeat("ab", 32), readings: map[string]pointReading{},
			log: slog.New(slog.DiscardHandler)}
		if err := a.openJournal(); err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := start()
	if a.reissued == nil || a.reissued.Err != nil || a.reissued.From != 4 || a.reissued.Renumbered != 8 {
		t.Fatalf("reissued %+v", a.reissued)
	}
	a.j.Close()
	a = start()
	defer a.j.Close()
	if a.reissued != nil || a.rec.Damaged() {
		t.Fatalf("second start: %+v %+v", a.reissued, a.rec)
	}
	var got []string
	var prev wire.Hash
	a.j.ReadFrom(1, func(seq uint64, b []byte) error {
		e, err := wire.DecodeRecord(b)
		if err != nil || e.Seq != seq || e.Prev != prev {
			t.Fatalf("record %d: %v, chain ok %v", seq, err, e.Prev == prev)
		}
		prev = e.Hash
		if e.Record.Event.Kind == core.EventRecordsLost {
			got = append(got, "lost:"+e.Record.Event.Previous+"-"+e.Record.Event.Value)
		} else {
			got = append(got, e.Record.Event.Tag)
		}
		return nil
	})
	want := "DOOR1,DOOR2,DOOR3,lost:4-4,DOOR5,DOOR6,DOOR7,DOOR8,DOOR9,DOOR10,DOOR11,DOOR12"
	if strings.Join(got, ",") != want {
		t.Fatalf("journal holds %s\nwant %s", strings.Join(got, ","), want)
	}
	if s := readState(t, a); len(s.Pending) != 0 || string(s.Poller) != `{"v":1}` {
		t.Fatalf("state after the reissue: %+v", s)
	}
}

// A start with a full journal and records of the last poll in the state file does not fail (it used to
// exit, and a restart loop never let delivery free room): the records wait, and pollLoop appends them.
func TestStartWithFullJournal(t *testing.T) {
	dir := t.TempDir()
	jdir := filepath.Join(dir, "journal")
	const device = "BGNCA00005001001"
	j, _, err := journal.Open(jdir, journal.Options{Device: device, MaxSize: journal.DefaultSegmentSize})
	if err != nil {
		t.Fatal(err)
	}
	big := func(i int) *core.Record {
		return &core.Record{Kind: core.KindEvent, Time: time.Date(2026, 11, 22, 8, 0, i, 0, time.UTC), Device: device,
			Event: &core.Event{Kind: core.EventDoorOpened, Detail: strings.Repeat("x", 60_000)}}
	}
	n := 0
	for {
		n++
		if _, _, err := j.Append(func(seq uint64, prev [32]byte) ([]byte, error) { return wire.EncodeRecord(seq, prev, big(n)) }); err != nil {
			if !errors.Is(err, journal.ErrFull) {
				t.Fatal(err)
			}
			break
		}
	}
	j.Sync()
	next := j.Stats().Next
	j.Close()
	st := savedState{Next: next, Pending: []*core.Record{big(n), big(n + 1)}}
	b, _ := json.Marshal(st)
	os.WriteFile(filepath.Join(dir, stateFile), b, 0o600)
	a := &agentProc{set: &agentSettings{State: dir, Journal: jdir, JournalMax: journal.DefaultSegmentSize}, device: device,
		readings: map[string]pointReading{}, log: slog.New(slog.DiscardHandler)}
	if err := a.openJournal(); err != nil {
		t.Fatalf("start with a full journal: %v", err)
	}
	defer a.j.Close()
	if len(a.pending) != 2 {
		t.Fatalf("%d records waiting, want 2", len(a.pending))
	}
	if s := readState(t, a); len(s.Pending) != 2 {
		t.Fatalf("the state file holds %d waiting records, want 2", len(s.Pending))
	}
}
