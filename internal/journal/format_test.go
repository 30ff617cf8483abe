package journal

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestFormatGolden pins format version 1 byte for byte: a journal written with a fixed clock must equal
// testdata/v1, and a build must read testdata/v1 back. A change that breaks this breaks every deployed
// journal: it needs a new format version and a reader for the old one, not -update.
func TestFormatGolden(t *testing.T) {
	m := newMemFS()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	opt := Options{Device: "BGNCA00005001001", FS: m, SegmentSize: 4096, Now: func() time.Time { now = now.Add(time.Second); return now }}
	j, _ := mustOpen(t, "/j", opt)
	for i := 1; i <= 20; i++ {
		if _, _, err := j.Append(builder([]byte("reading " + string(rune('A'+i)) + " 1234.5 L"))); err != nil {
			t.Fatal(err)
		}
	}
	j.Sync()
	if err := j.Trim(3, []byte("receipt of the server for 1..3")); err != nil {
		t.Fatal(err)
	}
	j.Close()
	names, _ := m.List("/j")
	golden := filepath.Join("testdata", "v1")
	if *update {
		os.RemoveAll(golden)
		os.MkdirAll(golden, 0o755)
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(golden, n), m.file("/j/"+n), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, n := range names {
		want, err := os.ReadFile(filepath.Join(golden, n))
		if err != nil {
			t.Fatalf("%v (run with -update to create)", err)
		}
		if !bytes.Equal(m.file("/j/"+n), want) {
			t.Errorf("%s differs from the golden file: the on-disk format changed", n)
		}
	}

	// Read the committed files with this build.
	dir := t.TempDir()
	files, _ := os.ReadDir(golden)
	for _, f := range files {
		b, _ := os.ReadFile(filepath.Join(golden, f.Name()))
		os.WriteFile(filepath.Join(dir, f.Name()), b, 0o644)
	}
	j2, r, err := Open(dir, Options{Device: "BGNCA00005001001", SegmentSize: 4096})
	if err != nil || r.Damaged() || r.TruncatedBytes != 0 {
		t.Fatalf("golden journal: %v %+v", err, r)
	}
	defer j2.Close()
	ack, hash, receipt := j2.Acked()
	rs := readAll(t, j2, 4)
	if ack != 3 || string(receipt) != "receipt of the server for 1..3" || len(rs) != 17 {
		t.Fatalf("golden journal: acked %d %q, %d records", ack, receipt, len(rs))
	}
	if err := verifyChain(rs, hash); err != nil {
		t.Fatal(err)
	}
	all := readAll(t, j2, 1)
	if sha256.Sum256(all[2].data) != hash {
		t.Fatal("golden ack hash is not the hash of record 3")
	}
}
