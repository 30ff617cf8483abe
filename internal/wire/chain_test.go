package wire

import (
	"errors"
	"slices"
	"testing"
)

// Follower finds every break of a run of records outside a batch, once each, and goes on after it.
func TestFollower(t *testing.T) {
	recs, _ := chain(t, 5, ZeroHash, 12) // seq 5..16
	// A clean run, unanchored (starts at 5 with any link).
	var f Follower
	for _, r := range recs {
		if _, err := f.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if f.Device != testDevice || f.Next != 17 || f.Prev != ChainHash(recs[11]) {
		t.Fatalf("follower after the run: %+v", f)
	}
	// Anchored at the wrong hash: the first record's link is checked.
	g := Follower{Device: testDevice, Next: 5, Prev: Hash{1}, Anchored: true}
	if _, err := g.Add(recs[0]); !isCode(err, CodeAltered, 5) {
		t.Fatalf("anchored: %v", err)
	}

	other := sampleRecord(99)
	other.Device = "BGNCA00005002001"
	other.Point = other.Device + "001"
	foreign, _ := EncodeRecord(13, ChainHash(recs[7]), other)
	altered, _ := EncodeRecord(15, ChainHash(recs[9]), sampleRecord(50)) // 15 changed: 16's link no longer holds
	run := [][]byte{recs[0], recs[1], recs[3], recs[4], recs[3], recs[5], recs[6], recs[7], foreign, recs[9], altered, recs[11], []byte("{junk")}
	type want struct {
		code Code
		seq  uint64
	}
	var got []want
	f = Follower{}
	for _, r := range run {
		if _, err := f.Add(r); err != nil {
			var we *Error
			if !errors.As(err, &we) {
				t.Fatalf("not an *Error: %v", err)
			}
			got = append(got, want{we.Code, we.Seq})
		}
	}
	exp := []want{{CodeGap, 7}, {CodeReplay, 8}, {CodeGap, 9}, {CodeWrongDevice, 13}, {CodeAltered, 14}, {CodeAltered, 16}, {CodeMalformed, 17}}
	if !slices.Equal(got, exp) {
		t.Fatalf("breaks %v, want %v", got, exp)
	}
}

func isCode(err error, code Code, seq uint64) bool {
	var we *Error
	return errors.As(err, &we) && we.Code == code && we.Seq == seq
}
