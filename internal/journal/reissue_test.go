package journal

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// testReissuer writes a declaration as the payload "lost F-L" and renumbers test records by building
// them again around their payload; a payload starting "bad" does not renumber.
type testReissuer struct{}

func (testReissuer) Declare(seq uint64, prev [32]byte, lost SeqRange, why string) ([]byte, error) {
	return record(seq, prev, fmt.Appendf(nil, "lost %d-%d", lost.First, lost.Last)), nil
}

func (testReissuer) Renumber(seq uint64, prev [32]byte, data []byte) ([]byte, error) {
	if bytes.HasPrefix(data[40:], []byte("bad")) {
		return nil, errors.New("bad record")
	}
	return record(seq, prev, data[40:]), nil
}

func (testReissuer) Restore(uint64, [32]byte) ([]byte, bool) { return nil, false }

// copyReissuer is a testReissuer that keeps exact copies of some records (as the agent keeps its batch in
// flight) and restores them when their predecessor is the one asked for.
type copyReissuer struct {
	testReissuer
	copies map[uint64][]byte
}

func (r copyReissuer) Restore(seq uint64, prev [32]byte) ([]byte, bool) {
	b, ok := r.copies[seq]
	if !ok || [32]byte(b[8:40]) != prev {
		return nil, false
	}
	return b, true
}

// Records lost on disk that may already be on the server (the batch in flight, 4-9, sent but without a
// receipt yet) are put back from the copy and keep their numbers and bytes: renumbering them would give
// seqs the server may hold another content. A loss past the copy (15) is declared as before, and a copy
// that does not link (a stale batch for 8) is not used.
func TestReissueRestoresInflight(t *testing.T) {
	dir, opt, all := damagedJournal(t, []uint64{8, 9, 15}, nil)
	copies := map[uint64][]byte{}
	for seq := uint64(4); seq <= 9; seq++ {
		copies[seq] = all[seq-1]
	}
	j, rec, done, err := Reissue(dir, opt, copyReissuer{copies: copies})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if !slices.Equal(rec.Lost, []SeqRange{{8, 9}, {15, 15}}) || done == nil || done.Err != nil ||
		!slices.Equal(done.Restored, []SeqRange{{8, 9}}) || !slices.Equal(done.Declared, []SeqRange{{15, 15}}) ||
		done.From != 15 || done.Renumbered != 5 {
		t.Fatalf("recovery %+v, reissued %+v", rec, done)
	}
	rs := readAll(t, j, 4)
	if err := verifyChain(rs, sha256.Sum256(all[2])); err != nil {
		t.Fatal(err)
	}
	if len(rs) != 17 {
		t.Fatalf("%d records, want 17", len(rs))
	}
	for i := range 11 { // 4..14 exactly as written
		if !bytes.Equal(rs[i].data, all[3+i]) {
			t.Fatalf("record %d changed", rs[i].seq)
		}
	}
	if string(rs[11].data[40:]) != "lost 15-15" {
		t.Fatalf("record 15 is %q", rs[11].data[40:])
	}

	// A copy that does not link to its predecessor is not used.
	dir, opt, _ = damagedJournal(t, []uint64{8}, nil)
	stale := record(8, [32]byte{1}, payload(8, 300))
	j2, _, done, err := Reissue(dir, opt, copyReissuer{copies: map[uint64][]byte{8: stale}})
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if len(done.Restored) != 0 || !slices.Equal(done.Declared, []SeqRange{{8, 8}}) {
		t.Fatalf("stale copy: reissued %+v", done)
	}
}

// damagedJournal writes records 1..20 on the real filesystem (small segments: 1..20 span several), has
// 1..3 acknowledged with a receipt, and flips a byte in the records of flip (bit rot in the middle).
func damagedJournal(t *testing.T, flip []uint64, payloads map[uint64][]byte) (string, Options, [][]byte) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "journal")
	opt := Options{Device: "d", SegmentSize: 4096}
	j, _ := mustOpen(t, dir, opt)
	var all [][]byte
	for i := 1; i <= 20; i++ {
		p := payloads[uint64(i)]
		if p == nil {
			p = payload(i, 300)
		}
		if _, _, err := j.Append(func(seq uint64, prev [32]byte) ([]byte, error) {
			b := record(seq, prev, p)
			all = append(all, b)
			return b, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := j.Trim(3, []byte("receipt 1-3")); err != nil {
		t.Fatal(err)
	}
	j.Close()
	for _, seq := range flip {
		names, _ := os.ReadDir(dir)
		done := false
		for _, n := range names {
			p := filepath.Join(dir, n.Name())
			data, _ := os.ReadFile(p)
			if i := bytes.Index(data, all[seq-1]); i >= 0 {
				data[i+60] ^= 0x10
				os.WriteFile(p, data, 0o640)
				done = true
			}
		}
		if !done {
			t.Fatalf("record %d not found on disk", seq)
		}
	}
	return dir, opt, all
}

// checkReissued asserts the reissued journal: records 4..7 as written, a declaration for 8-9, 10..14
// renumbered 9..13, a declaration for 15, 16..20 renumbered 15..19, one chain from the acknowledged
// record 3, the mark and its receipt kept, nothing left beside the directory, and a clean reopen.
func checkReissued(t *testing.T, dir string, opt Options, all [][]byte, j *Journal) {
	t.Helper()
	if seq, hash, rc := j.Acked(); seq != 3 || hash != sha256.Sum256(all[2]) || string(rc) != "receipt 1-3" {
		t.Fatalf("acked %d %q", seq, rc)
	}
	rs := readAll(t, j, 4)
	if err := verifyChain(rs, sha256.Sum256(all[2])); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		if bytes.HasPrefix(r.data[40:], []byte("lost")) {
			got = append(got, string(r.data[40:]))
		} else {
			got = append(got, fmt.Sprint(r.data[43])) // payload(i) is i repeated
		}
	}
	want := []string{"4", "5", "6", "7", "lost 8-9", "10", "11", "12", "13", "14", "lost 15-15", "16", "17", "18", "19", "20"}
	if !slices.Equal(got, want) {
		t.Fatalf("reissued journal holds %v, want %v", got, want)
	}
	for i := range 4 {
		if !bytes.Equal(rs[i].data, all[3+i]) {
			t.Errorf("record %d before the loss changed", rs[i].seq)
		}
	}
	for _, suffix := range []string{reissueSuffix, oldSuffix} {
		if _, err := os.Stat(dir + suffix); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind: %v", dir+suffix, err)
		}
	}
	if seq, _, err := j.AppendSync(builder(nil)); err != nil || seq != 20 {
		t.Fatalf("next append %d %v", seq, err)
	}
	j.Close()
	j2, r2 := mustOpen(t, dir, opt)
	defer j2.Close()
	if r2.Damaged() || j2.Stats().Last != 20 {
		t.Fatalf("reopened: %+v, last %d", r2, j2.Stats().Last)
	}
}

// Bit rot in the middle of the journal: the lost records are declared in their place and the records after
// them renumbered, so that the chain the server receives has no hole (docs/journal.md, Reissue).
func TestReissue(t *testing.T) {
	dir, opt, all := damagedJournal(t, []uint64{8, 9, 15}, nil)
	j, rec, done, err := Reissue(dir, opt, testReissuer{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.Lost, []SeqRange{{8, 9}, {15, 15}}) || done == nil || done.Err != nil ||
		!slices.Equal(done.Declared, rec.Lost) || done.From != 8 || done.Renumbered != 10 {
		t.Fatalf("recovery %+v, reissued %+v", rec, done)
	}
	checkReissued(t, dir, opt, all, j)

	// Nothing lost: Reissue is Open.
	j, rec, done, err = Reissue(dir, opt, testReissuer{})
	if err != nil || done != nil || rec.Damaged() {
		t.Fatalf("clean journal: %v %+v %+v", err, rec, done)
	}
	j.Close()
}

// A crash at any step of a reissue: before the new journal is complete it is thrown away and made again;
// after, the renames are finished.
func TestReissueInterrupted(t *testing.T) {
	for _, step := range []string{"incomplete", "complete", "old-renamed"} {
		t.Run(step, func(t *testing.T) {
			dir, opt, all := damagedJournal(t, []uint64{8, 9, 15}, nil)
			j, _, err := Open(dir, opt)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := j.reissue(dir+reissueSuffix, opt, testReissuer{}); err != nil {
				t.Fatal(err)
			}
			j.Close()
			switch step {
			case "incomplete":
				os.Remove(filepath.Join(dir+reissueSuffix, reissueDone))
			case "old-renamed":
				if err := os.Rename(dir, dir+oldSuffix); err != nil {
					t.Fatal(err)
				}
			}
			j, _, done, err := Reissue(dir, opt, testReissuer{})
			if err != nil {
				t.Fatal(err)
			}
			if step == "incomplete" && (done == nil || done.Renumbered != 10) {
				t.Fatalf("not done again: %+v", done)
			}
			checkReissued(t, dir, opt, all, j)
		})
	}
}

// A record after the loss that does not renumber (it does not decode) is declared lost as well; a whole
// last record with a bad checksum is declared at the end.
func TestReissueEdges(t *testing.T) {
	dir, opt, _ := damagedJournal(t, []uint64{8, 20}, map[uint64][]byte{12: []byte("bad record")})
	j, _, done, err := Reissue(dir, opt, testReissuer{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if !slices.Equal(done.Declared, []SeqRange{{8, 8}, {12, 12}, {20, 20}}) || done.Renumbered != 10 {
		t.Fatalf("reissued %+v", done)
	}
	rs := readAll(t, j, 4)
	if err := verifyChain(rs, [32]byte(rs[0].data[8:40])); err != nil {
		t.Fatal(err)
	}
	if n := len(rs); n != 17 || string(rs[n-1].data[40:]) != "lost 20-20" {
		t.Fatalf("%d records, last %q", n, rs[n-1].data[40:])
	}
}

// busyFS refuses to rename the directory dir, as Linux does for a mount point (EBUSY).
type busyFS struct {
	OSFS
	dir string
}

func (f busyFS) Rename(from, to string) error {
	if from == f.dir {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: syscall.EBUSY}
	}
	return f.OSFS.Rename(from, to)
}

// A journal directory that cannot be moved (a mount point): the reissue is given up, not fatal; the damaged
// journal stays in use with its hole reported, and nothing is left beside it.
func TestReissueGivenUp(t *testing.T) {
	dir, opt, _ := damagedJournal(t, []uint64{8}, nil)
	opt.FS = busyFS{dir: dir}
	j, rec, done, err := Reissue(dir, opt, testReissuer{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if done == nil || !errors.Is(done.Err, errGivenUp) || len(rec.Lost) != 1 {
		t.Fatalf("reissued %+v, recovery %+v", done, rec)
	}
	if _, err := os.Stat(dir + reissueSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the new journal was left beside the old one: %v", err)
	}
	if seq, _, err := j.AppendSync(builder(nil)); err != nil || seq != 21 {
		t.Fatalf("append to the damaged journal: %d %v", seq, err)
	}
	if err := FinishReissue(dir, opt.FS); err != nil {
		t.Fatal(err)
	}
}

// damagedMemJournal is damagedJournal on the crash model's filesystem: records 1..20, 1..3 acknowledged
// with a receipt, bit rot in records 8, 9 and 15, everything durable.
func damagedMemJournal(t *testing.T) (*memFS, Options) {
	t.Helper()
	m := newMemFS()
	opt := Options{Device: "d", FS: m, SegmentSize: 4096}
	j, _ := mustOpen(t, "/j", opt)
	var all [][]byte
	for i := 1; i <= 20; i++ {
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
	if err := j.Trim(3, []byte("receipt 1-3")); err != nil {
		t.Fatal(err)
	}
	j.Close()
	names, _ := m.List("/j")
	for _, seq := range []uint64{8, 9, 15} {
		for _, n := range names {
			b := m.file("/j/" + n)
			if i := bytes.Index(b, all[seq-1]); i >= 0 {
				b = bytes.Clone(b)
				b[i+60] ^= 0x10
				m.setFile("/j/"+n, b)
			}
		}
	}
	return m, opt
}

// The reissue under the crash model: a power loss or a SIGKILL after every number of filesystem operations
// of Reissue (inside the recovery, the writing of the new journal, its marker, the two renames and the
// removal of the damaged journal), then a start: it always ends with the journal a reissue without a
// crash makes — the same records, byte for byte, one chain from the acknowledged mark, the mark and its
// receipt — and nothing left beside it.
func TestReissueCrashModel(t *testing.T) {
	_, opt := damagedMemJournal(t)
	j, _, done, err := Reissue("/j", opt, testReissuer{})
	if err != nil || done == nil || done.Err != nil {
		t.Fatalf("reissue without a crash: %v %+v", err, done)
	}
	want := readAll(t, j, 4)
	j.Close()
	if len(want) != 16 {
		t.Fatalf("reissued journal of %d records, want 16", len(want))
	}
	rnd := newRand(4)
	for k := 0; ; k++ {
		for _, kind := range []string{"power loss", "SIGKILL"} {
			if !reissueCrashAt(t, k, kind, rnd, want) {
				return
			}
		}
	}
}

// reissueCrashAt runs a reissue of the damaged journal with a crash of the kind after k filesystem
// operations, then a start, and checks the result against want; false means the reissue took fewer than
// k operations.
func reissueCrashAt(t *testing.T, k int, kind string, rnd *rand.Rand, want []rec) bool {
	t.Helper()
	m, opt := damagedMemJournal(t)
	m.mu.Lock()
	m.crashAt = k
	m.mu.Unlock()
	j, _, _, err := Reissue("/j", opt, testReissuer{})
	if !isCrashed(m) {
		if err != nil {
			t.Fatalf("crash after %d operations never struck, yet: %v", k, err)
		}
		j.Close()
		if k < 20 {
			t.Fatalf("a reissue of only %d filesystem operations?", k)
		}
		return false
	}
	if j != nil {
		j.Close()
	}
	if kind == "SIGKILL" {
		m.Kill()
	} else {
		m.Crash(rnd)
	}
	j, _, _, err = Reissue("/j", opt, testReissuer{})
	if err != nil {
		t.Fatalf("start after a %s at operation %d: %v", kind, k, err)
	}
	got := readAll(t, j, 4)
	seq, hash, rc := j.Acked()
	j.Close()
	if seq != 3 || string(rc) != "receipt 1-3" || verifyChain(got, hash) != nil {
		t.Fatalf("%s at operation %d: mark %d %q, chain %v", kind, k, seq, rc, verifyChain(got, hash))
	}
	if len(got) != len(want) {
		t.Fatalf("%s at operation %d: %d records, want %d", kind, k, len(got), len(want))
	}
	for i := range got {
		if got[i].seq != want[i].seq || !bytes.Equal(got[i].data, want[i].data) {
			t.Fatalf("%s at operation %d: record %d differs from the reissue without a crash", kind, k, got[i].seq)
		}
	}
	for _, d := range []string{"/j" + reissueSuffix, "/j" + oldSuffix} {
		if _, err := m.List(d); err == nil {
			t.Fatalf("%s at operation %d: %s left behind", kind, k, d)
		}
	}
	return true
}
