package store

import (
	"crypto/sha256"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
)

func validBatch() *Batch {
	b := &Batch{Device: "BGNCA00005001001", First: 4, Last: 5}
	for seq := int64(4); seq <= 5; seq++ {
		bs := []byte(`{"seq":` + string(rune('0'+seq)) + `}`)
		b.Records = append(b.Records, Row{Device: b.Device, Seq: seq, Hash: sha256.Sum256(bs), Kind: core.KindReading,
			Time: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC), Bytes: bs})
	}
	b.LastChain = b.Records[1].Hash
	return b
}

func TestBatchValidate(t *testing.T) {
	if err := validBatch().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Batch)
		want   string
	}{
		{"device", func(b *Batch) { b.Device = "BGNCA0000500100" }, "batch.device"},
		{"range", func(b *Batch) { b.Last = 3 }, "range 4..3"},
		{"first", func(b *Batch) { b.First, b.Last = 0, 1 }, "range 0..1"},
		{"count", func(b *Batch) { b.Records = b.Records[:1] }, "1 records for range 4..5"},
		{"record device", func(b *Batch) { b.Records[1].Device = "BGNCA00005001002" }, "records[1].device"},
		{"seq", func(b *Batch) { b.Records[0].Seq = 3 }, "records[0].seq: 3, want 4"},
		{"hash", func(b *Batch) { b.Records[0].Bytes = []byte("x") }, "BGNCA00005001001/4: hash"},
		{"kind", func(b *Batch) { b.Records[0].Kind = "note" }, `kind "note"`},
		{"lastChain", func(b *Batch) { b.LastChain = Hash{} }, "lastChain"},
	} {
		b := validBatch()
		tc.change(b)
		err := b.Validate()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrInvalid naming %q", tc.name, err, tc.want)
		}
	}
}

func TestSeqError(t *testing.T) {
	err := error(&SeqError{Err: ErrAltered, Device: "BGNCA00005001001", Seq: 7})
	if !errors.Is(err, ErrAltered) || errors.Is(err, ErrReplay) {
		t.Fatal("errors.Is")
	}
	if got, want := err.Error(), "store: device BGNCA00005001001 seq 7: altered"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}

func TestHash(t *testing.T) {
	h := Fingerprint([]byte("abc"))
	if h.String() != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" || h.IsZero() || !(Hash{}).IsZero() {
		t.Fatal(h)
	}
}

// validEIK finds a valid EIK, so that each case below fails for its own reason only.
func validEIK(t *testing.T) string {
	for v := 121000000; v < 122000000; v++ {
		if s := strconv.Itoa(v); core.ValidEIK(s) {
			return s
		}
	}
	t.Fatal("no valid EIK")
	return ""
}

func TestRegistryValidate(t *testing.T) {
	op := validEIK(t)
	for name, ok := range map[string]error{
		"operator": (&Operator{EIK: op, Name: "x"}).Validate(),
		"site":     (&Site{Warehouse: "BGNCA00005001", Operator: op, State: SiteLive}).Validate(),
		"device":   (&Device{ID: "BGNCA00005001001"}).Validate(),
		"point":    (&Point{ID: "BGNCA00005001001001"}).Validate(),
		"cert":     (&Certificate{DER: []byte("x"), Fingerprint: Fingerprint([]byte("x")), Operator: op}).Validate(),
	} {
		if ok != nil {
			t.Errorf("valid %s: %v", name, ok)
		}
	}
	for name, err := range map[string]error{
		"operator eik":   (&Operator{EIK: "1", Name: "x"}).Validate(),
		"operator name":  (&Operator{EIK: op}).Validate(),
		"site id":        (&Site{Warehouse: "XX", Operator: op, State: SiteLive}).Validate(),
		"site state":     (&Site{Warehouse: "BGNCA00005001", Operator: op, State: "x"}).Validate(),
		"device id":      (&Device{ID: "BGNCA00005001"}).Validate(),
		"point id":       (&Point{ID: "BGNCA00005001001"}).Validate(),
		"certificate":    (&Certificate{DER: []byte("x"), Operator: op}).Validate(),
		"certificate op": (&Certificate{DER: []byte("x"), Fingerprint: Fingerprint([]byte("x"))}).Validate(),
	} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if d := (&Device{ID: "BGNCA00005001001"}); d.Site() != "BGNCA00005001" {
		t.Error(d.Site())
	}
	if p := (&Point{ID: "BGNCA00005001001002"}); p.Device() != "BGNCA00005001001" {
		t.Error(p.Device())
	}
}
