package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/journal"
)

// akciz verify DIR reads an ИКУНК's journal as it is, while the agent holds it open, changing nothing: the
// chain of its records, the receipt kept for the acknowledged ones; and names the record where bit rot broke
// it.
func TestVerifyJournal(t *testing.T) {
	f := newVerifyFixture(t)
	dir := filepath.Join(t.TempDir(), "journal")
	j, _, err := journal.Open(dir, journal.Options{Device: verifyDevice})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var all [][]byte
	for _, recs := range f.records {
		for _, r := range recs {
			if _, _, err := j.Append(func(uint64, [32]byte) ([]byte, error) { return r, nil }); err != nil {
				t.Fatal(err)
			}
			all = append(all, r)
		}
	}
	b, _ := os.ReadFile(f.receipts)
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := j.Trim(8, lines[1]); err != nil { // batch 2 (records 5-8) acknowledged
		t.Fatal(err)
	}
	seg := filepath.Join(dir, "00000000000000000001.seg")
	before, _ := os.ReadFile(seg)

	code, out, errs := runVerifyArgs(t, i18n.EN, "--checkpoint-key", f.key, dir)
	if code != 0 || !strings.Contains(out, "records 1–12 (12 records, chained), acknowledged by the server up to 8") ||
		!strings.Contains(out, "receipt 1: device "+verifyDevice+", records 5–8") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if after, _ := os.ReadFile(seg); !bytes.Equal(before, after) {
		t.Fatal("verify changed the journal")
	}
	// Without the server's key the kept receipt cannot be checked: said, and counted.
	if code, out, _ := runVerifyArgs(t, i18n.EN, dir); code != 1 || !strings.Contains(out, "--checkpoint-key") {
		t.Fatalf("no key: exit %d\n%s", code, out)
	}

	// Bit rot in record 10: it is lost, the gap is named and the damaged bytes.
	j.Close()
	i := bytes.Index(before, all[9])
	damaged := bytes.Clone(before)
	damaged[i+20] ^= 1
	os.WriteFile(seg, damaged, 0o640)
	code, out, _ = runVerifyArgs(t, i18n.BG, "--checkpoint-key", f.key, dir)
	if code != 1 || !strings.Contains(out, "[запис 10, код gap]") || !strings.Contains(out, "повредени байтове") {
		t.Fatalf("bit rot: exit %d\n%s", code, out)
	}
}
