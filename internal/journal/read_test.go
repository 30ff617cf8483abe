package journal

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io/fs"
	stdmaps "maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// dirState is every file of a directory with its bytes, mode and modification time.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		b := []byte{}
		if !d.IsDir() {
			if b, err = os.ReadFile(p); err != nil {
				return err
			}
		}
		out[p] = fi.Mode().String() + fi.ModTime().String() + string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Read reads a journal without changing a byte of it: records in order from the first kept segment, the
// acknowledged mark with its receipt, the chain's anchor; damage and a torn tail reported as Open would
// report them, but not repaired (Open afterwards still finds and repairs them).
func TestRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	opt := Options{Device: "BGNCA00005001001", SegmentSize: 4096}
	j, _ := mustOpen(t, dir, opt)
	var all [][]byte
	for i := 1; i <= 40; i++ {
		if _, _, err := j.Append(func(seq uint64, prev [32]byte) ([]byte, error) {
			b := record(seq, prev, payload(i, 300))
			all = append(all, b)
			return b, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := j.Trim(25, []byte("receipt 1-25")); err != nil {
		t.Fatal(err)
	}
	first := j.Stats().First
	j.Close()
	if first <= 1 {
		t.Fatalf("nothing trimmed: first %d", first)
	}
	// Damage: bit rot in record 33, and a torn last write (half of record 40).
	seg := filepath.Join(dir, segName(first))
	names, _ := os.ReadDir(dir)
	var last string
	for _, n := range names {
		if _, ok := parseSegName(n.Name()); ok {
			last = filepath.Join(dir, n.Name())
		}
	}
	for _, p := range []string{seg, last} {
		b, _ := os.ReadFile(p)
		if i := bytes.Index(b, all[32]); i >= 0 {
			b[i+100] ^= 1
			os.WriteFile(p, b, 0o640)
		}
	}
	fi, _ := os.Stat(last)
	os.Truncate(last, fi.Size()-150)

	before := dirState(t, filepath.Dir(dir))
	var got []rec
	c, err := Read(dir, nil, func(seq uint64, data []byte) error {
		got = append(got, rec{seq, bytes.Clone(data)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if after := dirState(t, filepath.Dir(dir)); !stdmaps.Equal(before, after) {
		t.Fatal("Read changed the journal directory")
	}
	if c.Device != opt.Device || c.Acked != 25 || c.AckHash != sha256.Sum256(all[24]) || string(c.Receipt) != "receipt 1-25" ||
		c.First != first || c.Last != 39 || c.Records != 39-int(first) || c.Prev != sha256.Sum256(all[first-2]) {
		t.Fatalf("contents %+v", c)
	}
	if !slices.Equal(c.Lost, []SeqRange{{33, 33}}) || c.TruncatedBytes == 0 || len(c.Skipped) != 1 || !c.Damaged() || c.AckDiffers {
		t.Fatalf("damage %+v", c.Recovery)
	}
	if err := verifyChain(got[:33-first], c.Prev); err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if !bytes.Equal(r.data, all[r.seq-1]) {
			t.Fatalf("record %d differs", r.seq)
		}
	}
	// Open still finds what Read reported, and repairs it.
	j, r := mustOpen(t, dir, opt)
	if !slices.Equal(r.Lost, c.Lost) || r.TruncatedBytes != c.TruncatedBytes || len(r.Skipped) != len(c.Skipped) {
		t.Fatalf("Open found %+v, Read %+v", r, c.Recovery)
	}

	// A record changed after the server acknowledged it (an edit that keeps the frame's checksums right):
	// the mark's hash tells.
	j.Close()
	b, _ := os.ReadFile(seg)
	i := bytes.Index(b, all[24])
	b[i+60] ^= 1
	h := frameHeader{length: uint32(len(all[24])), seq: 25, dataCRC: crc32c(b[i : i+len(all[24])])}
	h.encode(b[i-frameHeaderSize:])
	os.WriteFile(seg, b, 0o640)
	if c, err := Read(dir, nil, nil); err != nil || !c.AckDiffers || c.Records != 18 {
		t.Fatalf("record 25 changed after its receipt: %v %+v", err, c)
	}

	// An error of fn is returned as is; a directory that is not there is an error and is not created.
	stop := errors.New("stop")
	if _, err := Read(dir, nil, func(uint64, []byte) error { return stop }); err != stop {
		t.Fatalf("fn's error: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "none")
	if _, err := Read(missing, nil, nil); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing directory: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Read created the directory")
	}
}

// Read works on a journal that another holder has open (locked) and is appending to and trimming: it sees
// a consistent prefix, never an error or damage, and the holder goes on unaffected.
func TestReadWhileOpen(t *testing.T) {
	dir := t.TempDir()
	opt := Options{Device: "d", SegmentSize: 4096}
	j, _ := mustOpen(t, dir, opt)
	defer j.Close()
	for round := range 20 {
		for range 7 {
			if _, _, err := j.Append(builder(payload(round, 300))); err != nil {
				t.Fatal(err)
			}
		}
		if round%2 == 0 {
			if err := j.Sync(); err != nil {
				t.Fatal(err)
			}
		}
		if round%5 == 4 {
			if err := j.Trim(j.Stats().Durable-3, []byte("r")); err != nil {
				t.Fatal(err)
			}
		}
		var got []rec
		c, err := Read(dir, nil, func(seq uint64, data []byte) error {
			got = append(got, rec{seq, bytes.Clone(data)})
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		st := j.Stats()
		if c.Damaged() || c.TruncatedBytes != 0 || c.Last != st.Last || c.First != st.First {
			t.Fatalf("round %d: contents %+v, journal %+v", round, c, st)
		}
		if err := verifyChain(got, c.Prev); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	if _, _, err := j.AppendSync(builder(nil)); err != nil {
		t.Fatal(err)
	}
}
