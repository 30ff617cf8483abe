package journal

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Test records are self-contained evidence the way the wire protocol's are: seq (8 bytes), the
// predecessor's hash (32 bytes), then a payload.
func record(seq uint64, prev [32]byte, payload []byte) []byte {
	b := make([]byte, 40+len(payload))
	binary.BigEndian.PutUint64(b, seq)
	copy(b[8:40], prev[:])
	copy(b[40:], payload)
	return b
}

func builder(payload []byte) func(uint64, [32]byte) ([]byte, error) {
	return func(seq uint64, prev [32]byte) ([]byte, error) { return record(seq, prev, payload), nil }
}

type rec struct {
	seq  uint64
	data []byte
}

func readAll(t testing.TB, j *Journal, from uint64) []rec {
	t.Helper()
	var out []rec
	if err := j.ReadFrom(from, func(seq uint64, data []byte) error {
		out = append(out, rec{seq, bytes.Clone(data)})
		return nil
	}); err != nil {
		t.Fatalf("ReadFrom(%d): %v", from, err)
	}
	return out
}

// verifyChain checks that rs are contiguous, carry their own seq, and that each names its predecessor's
// hash; prev is the hash the first must name.
func verifyChain(rs []rec, prev [32]byte) error {
	for i, r := range rs {
		if len(r.data) < 40 {
			return fmt.Errorf("record %d: %d bytes", r.seq, len(r.data))
		}
		if got := binary.BigEndian.Uint64(r.data); got != r.seq {
			return fmt.Errorf("record %d says it is %d", r.seq, got)
		}
		if i > 0 && r.seq != rs[i-1].seq+1 {
			return fmt.Errorf("record %d follows %d", r.seq, rs[i-1].seq)
		}
		if [32]byte(r.data[8:40]) != prev {
			return fmt.Errorf("record %d: chain broken", r.seq)
		}
		prev = sha256.Sum256(r.data)
	}
	return nil
}

func mustOpen(t testing.TB, dir string, opt Options) (*Journal, *Recovery) {
	t.Helper()
	j, r, err := Open(dir, opt)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return j, r
}

func payload(i int, n int) []byte {
	b := bytes.Repeat([]byte{byte(i)}, n)
	binary.BigEndian.PutUint32(b, uint32(i))
	return b
}

func TestAppendReadReopen(t *testing.T) {
	dir := t.TempDir()
	opt := Options{Device: "BGNCA00005001001"}
	j, r := mustOpen(t, dir, opt)
	if r.Damaged() || r.TruncatedBytes != 0 {
		t.Fatalf("fresh journal: recovery %+v", r)
	}
	var last [32]byte
	for i := 1; i <= 100; i++ {
		seq, h, err := j.Append(builder(payload(i, 50)))
		if err != nil {
			t.Fatal(err)
		}
		if seq != uint64(i) {
			t.Fatalf("seq %d, want %d", seq, i)
		}
		last = h
	}
	if rs := readAll(t, j, 1); len(rs) != 0 || j.Stats().Durable != 0 {
		t.Fatalf("%d records read before Sync: readers must see only durable records", len(rs))
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	rs := readAll(t, j, 1)
	if len(rs) != 100 || j.Stats().Durable != 100 {
		t.Fatalf("read %d records, want 100", len(rs))
	}
	if err := verifyChain(rs, [32]byte{}); err != nil {
		t.Fatal(err)
	}
	if got := sha256.Sum256(rs[99].data); got != last {
		t.Fatal("Append's hash is not the SHA-256 of the stored bytes")
	}
	if rs := readAll(t, j, 42); len(rs) != 59 || rs[0].seq != 42 {
		t.Fatalf("ReadFrom(42): %d records from %d", len(rs), rs[0].seq)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := j.Append(builder(nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}

	j, r = mustOpen(t, dir, opt)
	defer j.Close()
	if r.Damaged() || r.TruncatedBytes != 0 {
		t.Fatalf("clean reopen: recovery %+v", r)
	}
	seq, _, err := j.AppendSync(builder([]byte("after reopen")))
	if err != nil || seq != 101 {
		t.Fatalf("AppendSync after reopen: seq %d, %v", seq, err)
	}
	if err := verifyChain(readAll(t, j, 1), [32]byte{}); err != nil {
		t.Fatalf("chain across reopen: %v", err)
	}
	st := j.Stats()
	if st.First != 1 || st.Last != 101 || st.Next != 102 || st.Segments != 1 || st.Acked != 0 {
		t.Fatalf("Stats %+v", st)
	}
}

func TestDeviceAndOptions(t *testing.T) {
	dir := t.TempDir()
	j, _ := mustOpen(t, dir, Options{Device: "dev-a"})
	j.Close()
	if _, _, err := Open(dir, Options{Device: "dev-b"}); !errors.Is(err, ErrDevice) {
		t.Fatalf("Open with another device: %v, want ErrDevice", err)
	}
	for _, o := range []Options{{}, {Device: "x", SegmentSize: 100}, {Device: "x", MaxRecord: 16 << 20}, {Device: "x", SegmentSize: 1 << 20, MaxSize: 4096}} {
		if _, _, err := Open(t.TempDir(), o); err == nil {
			t.Errorf("Open(%+v) accepted bad options", o)
		}
	}
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	j, _ := mustOpen(t, dir, Options{Device: "d"})
	if _, ok := any(OSFS{}).(Locker); !ok {
		t.Skip("no directory lock on this OS")
	}
	if _, _, err := Open(dir, Options{Device: "d"}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	j.Close()
	j, _ = mustOpen(t, dir, Options{Device: "d"})
	j.Close()
}

func TestRollAndTrim(t *testing.T) {
	m := newMemFS()
	opt := Options{Device: "d", FS: m, SegmentSize: 4096}
	j, _ := mustOpen(t, "/j", opt)
	for i := 1; i <= 200; i++ {
		if _, _, err := j.Append(builder(payload(i, 200))); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	st := j.Stats()
	if st.Segments < 10 {
		t.Fatalf("%d segments for 200 records of 272 bytes in 4 KiB segments", st.Segments)
	}
	if err := verifyChain(readAll(t, j, 1), [32]byte{}); err != nil {
		t.Fatal(err)
	}
	if err := j.Trim(201, nil); err == nil {
		t.Fatal("Trim past the last record succeeded")
	}
	if err := j.Trim(120, []byte("receipt-120")); err != nil {
		t.Fatal(err)
	}
	seq, hash, receipt := j.Acked()
	rs := readAll(t, j, 121)
	if seq != 120 || string(receipt) != "receipt-120" {
		t.Fatalf("Acked %d %q", seq, receipt)
	}
	if err := verifyChain(rs, hash); err != nil || rs[0].seq != 121 || len(rs) != 80 {
		t.Fatalf("after trim: %d records from %d: %v", len(rs), rs[0].seq, err)
	}
	st2 := j.Stats()
	if st2.Segments >= st.Segments || st2.Bytes >= st.Bytes || st2.First > 121 || st2.First < 100 {
		t.Fatalf("trim removed nothing: before %+v after %+v", st, st2)
	}
	if err := j.ReadFrom(1, func(uint64, []byte) error { return nil }); !errors.Is(err, ErrTrimmed) {
		t.Fatalf("ReadFrom(1) after trim: %v", err)
	}
	if err := j.Trim(100, []byte("older")); err != nil {
		t.Fatal(err)
	}
	if s, _, r := j.Acked(); s != 120 || string(r) != "receipt-120" {
		t.Fatal("a Trim below the mark moved it")
	}
	names, _ := m.List("/j")
	j.Close()

	j, r := mustOpen(t, "/j", opt)
	defer j.Close()
	if r.Damaged() || len(r.Removed) != 0 {
		t.Fatalf("reopen: %+v", r)
	}
	if s, h, rc := j.Acked(); s != 120 || h != hash || string(rc) != "receipt-120" {
		t.Fatalf("ack not kept across reopen: %d %q", s, rc)
	}
	if names2, _ := m.List("/j"); len(names2) != len(names) {
		t.Fatalf("files %v, then %v", names, names2)
	}
	if err := j.Trim(200, []byte("all")); err != nil {
		t.Fatal(err)
	}
	if st := j.Stats(); st.Segments != 1 || !st.OldestUnacked.IsZero() {
		t.Fatalf("after acking everything: %+v", st)
	}
	seq, _, err := j.AppendSync(builder(nil))
	if err != nil || seq != 201 {
		t.Fatalf("append after full trim: %d %v", seq, err)
	}
	rs = readAll(t, j, 201)
	if err := verifyChain(rs, j.acked.hash); err != nil || len(rs) != 1 {
		t.Fatalf("chain after full trim: %v", err)
	}
}

// A crash between persisting the mark and removing the files: Open finishes the trim.
func TestTrimInterrupted(t *testing.T) {
	m := newMemFS()
	opt := Options{Device: "d", FS: m, SegmentSize: 4096}
	j, _ := mustOpen(t, "/j", opt)
	for i := 1; i <= 100; i++ {
		if _, _, err := j.Append(builder(payload(i, 200))); err != nil {
			t.Fatal(err)
		}
	}
	j.Sync()
	before := j.Stats().Segments
	// writeAck: create, write, sync, rename, sync dir = 5 mutating operations; then the first remove fails.
	m.mu.Lock()
	m.crashAt = 5
	m.mu.Unlock()
	if err := j.Trim(60, []byte("r")); !errors.Is(err, errCrashed) {
		t.Fatalf("Trim: %v", err)
	}
	m.Crash(newRand(1))
	j, r := mustOpen(t, "/j", opt)
	defer j.Close()
	if s, _, _ := j.Acked(); s != 60 {
		t.Fatalf("acked %d after a crash that followed the mark's sync", s)
	}
	if len(r.Removed) == 0 || j.Stats().Segments >= before {
		t.Fatalf("Open did not finish the trim: %+v", r)
	}
	if err := verifyChain(readAll(t, j, 61), j.acked.hash); err != nil {
		t.Fatal(err)
	}
}

func TestErrFull(t *testing.T) {
	m := newMemFS()
	opt := Options{Device: "d", FS: m, SegmentSize: 4096, MaxSize: 3 * 4096}
	j, _ := mustOpen(t, "/j", opt)
	defer j.Close()
	n := 0
	var err error
	for ; n < 1000; n++ {
		if _, _, err = j.Append(builder(payload(n, 300))); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrFull) || n < 20 {
		t.Fatalf("after %d appends: %v, want ErrFull", n, err)
	}
	if st := j.Stats(); st.Bytes > opt.MaxSize || st.Last != uint64(n) {
		t.Fatalf("full journal: %+v", st)
	}
	if _, _, err := j.Append(builder(payload(0, 300))); !errors.Is(err, ErrFull) {
		t.Fatalf("still full: %v", err)
	}
	if err := j.Trim(uint64(n/2), nil); err == nil {
		t.Fatal("Trim of records not yet durable succeeded")
	}
	j.Sync()
	if err := j.Trim(uint64(n/2), nil); err != nil {
		t.Fatal(err)
	}
	seq, _, err := j.AppendSync(builder(payload(0, 300)))
	if err != nil || seq != uint64(n+1) {
		t.Fatalf("append after trim: %d %v", seq, err)
	}
	if err := verifyChain(readAll(t, j, uint64(n/2+1)), j.acked.hash); err != nil {
		t.Fatal(err)
	}
	if _, _, err := j.Append(builder(make([]byte, 5000))); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized record: %v", err)
	}
}

func TestDiskFull(t *testing.T) {
	m := newMemFS()
	opt := Options{Device: "d", FS: m, SegmentSize: 4096}
	j, _ := mustOpen(t, "/j", opt)
	for i := 1; i <= 5; i++ {
		j.Append(builder(payload(i, 100)))
	}
	j.Sync()
	m.mu.Lock()
	m.capacity = m.used() + 2000 // the disk fills in the middle of a frame, then of a segment header
	m.mu.Unlock()
	var err error
	n := 5
	for range 100 {
		if _, _, err = j.Append(builder(payload(n+1, 100))); err != nil {
			break
		}
		n++
	}
	if !errors.Is(err, ErrFull) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("disk full: %v", err)
	}
	if err := j.Sync(); err != nil {
		t.Fatalf("Sync after ENOSPC: %v", err)
	}
	m.mu.Lock()
	m.capacity = 0
	m.mu.Unlock()
	if seq, _, err := j.AppendSync(builder(nil)); err != nil || seq != uint64(n+1) {
		t.Fatalf("append after space came back: %d %v", seq, err)
	}
	j.Close()
	j, r := mustOpen(t, "/j", opt)
	defer j.Close()
	if r.Damaged() || r.TruncatedBytes != 0 {
		t.Fatalf("ENOSPC left damage: %+v", r)
	}
	if err := verifyChain(readAll(t, j, 1), [32]byte{}); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrent(t *testing.T) {
	m := newMemFS()
	j, _ := mustOpen(t, "/j", Options{Device: "d", FS: m, SegmentSize: 8192})
	defer j.Close()
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, _, err := j.AppendSync(builder(payload(w*1000+i, 64))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var rs []rec
			if err := j.ReadFrom(1, func(seq uint64, d []byte) error {
				rs = append(rs, rec{seq, bytes.Clone(d)})
				return nil
			}); err != nil {
				t.Error(err)
				return
			}
			if err := verifyChain(rs, [32]byte{}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	readers.Wait()
	if rs := readAll(t, j, 1); len(rs) != writers*each {
		t.Fatalf("%d records, want %d", len(rs), writers*each)
	}
	m.mu.Lock()
	syncs := m.syncs
	m.mu.Unlock()
	t.Logf("%d AppendSync calls, %d fsyncs", writers*each, syncs)
}

// Syncs that wait while another fsync runs share the next one: three Sync calls, two fsyncs.
func TestGroupCommit(t *testing.T) {
	m := newMemFS()
	j, _ := mustOpen(t, "/j", Options{Device: "d", FS: m})
	defer j.Close()
	g := &syncGate{entered: make(chan struct{}, 3), release: make(chan struct{})}
	m.mu.Lock()
	m.gate, m.syncs = g, 0
	m.mu.Unlock()
	errs := make(chan error, 3)
	j.Append(builder([]byte("r1")))
	go func() { errs <- j.Sync() }()
	<-g.entered // A is in its fsync, covering r1 only
	j.Append(builder([]byte("r2")))
	go func() { errs <- j.Sync() }() // B and C both need r2
	go func() { errs <- j.Sync() }()
	g.release <- struct{}{} // A done
	<-g.entered             // B or C fsyncs for both
	close(g.release)        // (a third fsync would pass, and be counted)
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	m.mu.Lock()
	m.gate = nil
	syncs := m.syncs
	m.mu.Unlock()
	if syncs != 2 {
		t.Fatalf("%d fsyncs for 3 Syncs, want 2", syncs)
	}
}

func TestOldestUnacked(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	m := newMemFS()
	opt := Options{Device: "d", FS: m, Now: clock}
	j, _ := mustOpen(t, "/j", opt)
	if !j.Stats().OldestUnacked.IsZero() {
		t.Fatal("empty journal has an unacked record")
	}
	for i := range 3 {
		now = now.Add(time.Minute)
		j.Append(builder(payload(i, 10)))
	}
	j.Sync()
	want := time.Date(2026, 11, 22, 10, 1, 0, 0, time.UTC)
	if got := j.Stats().OldestUnacked; !got.Equal(want) {
		t.Fatalf("OldestUnacked %v, want %v", got, want)
	}
	j.Trim(1, nil)
	if got := j.Stats().OldestUnacked; !got.Equal(want.Add(time.Minute)) {
		t.Fatalf("after trim: OldestUnacked %v", got)
	}
	j.Close()
	j, _ = mustOpen(t, "/j", opt)
	if got := j.Stats().OldestUnacked; !got.Equal(want.Add(time.Minute)) {
		t.Fatalf("after reopen: OldestUnacked %v", got)
	}
	j.Trim(3, nil)
	if got := j.Stats().OldestUnacked; !got.IsZero() {
		t.Fatalf("all acked: OldestUnacked %v", got)
	}
	j.Close()
}

func TestOrigin(t *testing.T) {
	prev := sha256.Sum256([]byte("record 999 on the old disk"))
	j, _ := mustOpen(t, t.TempDir(), Options{Device: "d", Origin: 1000, OriginPrev: prev})
	defer j.Close()
	seq, _, err := j.AppendSync(builder(nil))
	if err != nil || seq != 1000 {
		t.Fatalf("first seq %d, %v", seq, err)
	}
	if err := verifyChain(readAll(t, j, 1000), prev); err != nil {
		t.Fatal(err)
	}
}

// frameOffsets returns the offsets of the frames of a segment file written by the journal.
func frameOffsets(t testing.TB, data []byte) []int64 {
	t.Helper()
	var offs []int64
	for p := int64(segHeaderSize); p < int64(len(data)); {
		h, ok := decodeFrameHeader(data[p:])
		if !ok {
			t.Fatalf("no frame at %d", p)
		}
		offs = append(offs, p)
		p += frameHeaderSize + int64(h.length)
	}
	return offs
}

// Cutting the last segment anywhere inside its last frame loses that record only, and says so.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	opt := Options{Device: "d", SegmentSize: 4096}
	j, _ := mustOpen(t, dir, opt)
	const n = 30
	for i := 1; i <= n; i++ {
		j.Append(builder(payload(i, 100+i)))
	}
	j.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	lastSeg := segs[len(segs)-1]
	orig, err := os.ReadFile(lastSeg)
	if err != nil {
		t.Fatal(err)
	}
	offs := frameOffsets(t, orig)
	start := offs[len(offs)-1]
	for cut := start; cut < int64(len(orig)); cut++ {
		if err := os.WriteFile(lastSeg, orig[:cut], 0o640); err != nil {
			t.Fatal(err)
		}
		j, r, err := Open(dir, opt)
		if err != nil {
			t.Fatalf("cut at %d: Open: %v", cut, err)
		}
		if r.Damaged() || r.TruncatedBytes != cut-start {
			t.Fatalf("cut at %d: recovery %+v, want %d bytes truncated", cut, r, cut-start)
		}
		rs := readAll(t, j, 1)
		if len(rs) != n-1 {
			t.Fatalf("cut at %d: %d records, want %d", cut, len(rs), n-1)
		}
		if err := verifyChain(rs, [32]byte{}); err != nil {
			t.Fatal(err)
		}
		seq, _, err := j.AppendSync(builder(payload(n, 100+n)))
		if err != nil || seq != n {
			t.Fatalf("cut at %d: append: %d %v", cut, seq, err)
		}
		if err := verifyChain(readAll(t, j, 1), [32]byte{}); err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		j.Close()
	}
	// Garbage after the last frame (a file extended before its data reached the disk) is a torn tail too.
	os.WriteFile(lastSeg, append(bytes.Clone(orig), make([]byte, 700)...), 0o640)
	j, r := mustOpen(t, dir, opt)
	if r.Damaged() || r.TruncatedBytes != 700 || len(readAll(t, j, 1)) != n {
		t.Fatalf("zero tail: %+v", r)
	}
	j.Close()
}

// Damage in the middle of a segment costs the damaged records only; Open reports them and carries on.
func TestBitRot(t *testing.T) {
	const n = 20
	build := func() (*memFS, string, []byte) {
		m := newMemFS()
		j, _ := mustOpen(t, "/j", Options{Device: "d", FS: m})
		for i := 1; i <= n; i++ {
			j.Append(builder(payload(i, 100)))
		}
		j.Close()
		name := "/j/" + segName(1)
		return m, name, m.file(name)
	}
	_, _, orig := build()
	offs := frameOffsets(t, orig)
	victim := 7 // seq 8
	at := offs[victim]
	for _, pos := range []int64{at, at + 5, at + 9, at + 20, at + 25, at + 29, at + 31, at + 32, at + 100} {
		m, name, data := build()
		data[pos] ^= 0x40
		m.setFile(name, data)
		j, r, err := Open("/j", Options{Device: "d", FS: m})
		if err != nil {
			t.Fatalf("flip at %d: Open: %v", pos, err)
		}
		if !r.Damaged() || len(r.Lost) != 1 || r.Lost[0] != (SeqRange{8, 8}) || len(r.Skipped) != 1 || r.Skipped[0].Offset != at {
			t.Fatalf("flip at %d: recovery %+v", pos, r)
		}
		rs := readAll(t, j, 1)
		if len(rs) != n-1 || rs[6].seq != 7 || rs[7].seq != 9 {
			t.Fatalf("flip at %d: %d records", pos, len(rs))
		}
		if err := verifyChain(rs[:7], [32]byte{}); err != nil {
			t.Fatal(err)
		}
		if err := verifyChain(rs[8:], sha256.Sum256(rs[7].data)); err != nil {
			t.Fatal(err)
		}
		seq, _, err := j.AppendSync(builder(nil))
		if err != nil || seq != n+1 {
			t.Fatalf("flip at %d: append %d %v", pos, seq, err)
		}
		j.Close()
	}
	// The last record whole but corrupt: cut like a torn tail, but its seq is not given again.
	m, name, data := build()
	data[len(data)-1] ^= 1
	m.setFile(name, data)
	j, r, err := Open("/j", Options{Device: "d", FS: m})
	if err != nil || len(r.Lost) != 1 || r.Lost[0] != (SeqRange{n, n}) || r.TruncatedBytes == 0 {
		t.Fatalf("damaged last record: %v %+v", err, r)
	}
	if seq, _, err := j.AppendSync(builder(nil)); err != nil || seq != n+1 {
		t.Fatalf("damaged last record: next append %d %v", seq, err)
	}
	j.Close()
	// A damaged segment header: the records are still read, the damage reported.
	m, name, data = build()
	data[30] ^= 1
	m.setFile(name, data)
	j, r, err = Open("/j", Options{Device: "d", FS: m})
	if err != nil || len(r.HeaderErrors) != 1 {
		t.Fatalf("header damage: %v %+v", err, r)
	}
	if rs := readAll(t, j, 1); len(rs) != n || verifyChain(rs, [32]byte{}) != nil {
		t.Fatalf("header damage: %d records", len(rs))
	}
	if seq, _, err := j.AppendSync(builder(nil)); err != nil || seq != n+1 {
		t.Fatalf("header damage: append %d %v", seq, err)
	}
	if rs := readAll(t, j, 1); verifyChain(rs, [32]byte{}) != nil || len(rs) != n+1 {
		t.Fatal("chain broken after appending past a damaged header")
	}
	j.Close()
	// The last record of a segment that is not the last: damage, skipped, never cut.
	m = newMemFS()
	j, _ = mustOpen(t, "/j", Options{Device: "d", FS: m, SegmentSize: 4096})
	for i := 1; i <= 40; i++ {
		j.Append(builder(payload(i, 200)))
	}
	j.Close()
	first := m.file("/j/" + segName(1))
	offs = frameOffsets(t, first)
	lastInFirst := uint64(len(offs))
	first[len(first)-1] ^= 1
	m.setFile("/j/"+segName(1), first)
	j, r, err = Open("/j", Options{Device: "d", FS: m, SegmentSize: 4096})
	if err != nil || r.TruncatedBytes != 0 || len(r.Skipped) != 1 || r.Skipped[0].File != segName(1) ||
		len(r.Lost) != 1 || r.Lost[0] != (SeqRange{lastInFirst, lastInFirst}) {
		t.Fatalf("damage at the end of the first segment: %v %+v", err, r)
	}
	if rs := readAll(t, j, 1); len(rs) != 39 || int64(len(m.file("/j/"+segName(1)))) != int64(len(first)) {
		t.Fatalf("damage at the end of the first segment: %d records", len(rs))
	}
	// Once acknowledged, the damage is no longer reported (the segment is gone).
	if err := j.Trim(lastInFirst+1, nil); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j, r, _ = Open("/j", Options{Device: "d", FS: m, SegmentSize: 4096})
	if r.Damaged() {
		t.Fatalf("after trimming the damage: %+v", r)
	}
	j.Close()
	// A damaged ack file: the mark falls back to what the segments prove.
	m, _, _ = build()
	m.setFile("/j/ack", []byte("garbage"))
	j, r, err = Open("/j", Options{Device: "d", FS: m})
	if err != nil || r.AckError == nil || len(readAll(t, j, 1)) != n {
		t.Fatalf("ack damage: %v %+v", err, r)
	}
	j.Close()
}
