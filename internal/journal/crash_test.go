package journal

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
)

var iterations = flag.Int("journal.iterations", 300, "random operation sequences TestCrashModel runs")

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x6a6f75726e616c)) }

// crashModel is what a sequence of operations has promised so far.
type crashModel struct {
	appended map[uint64][][]byte // every byte string Append returned success for, per seq
	durable  map[uint64][]byte   // records a successful Sync covered
	pending  []uint64            // appended since the last successful Sync
	ackMin   uint64              // the mark of the last successful Trim
	trims    map[uint64]bool     // every through passed to Trim
}

// TestCrashModel drives the journal on the crash-simulating memFS with seeded random sequences of appends,
// syncs, trims, disk-full spells, crashes (also in the middle of an operation and of recovery) and
// reopens, and after every crash checks the journal's promises. A failure names the seed; rerun it with
// -run 'TestCrashModel/seed=N'.
func TestCrashModel(t *testing.T) {
	for seed := range uint64(*iterations) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runCrashSequence(t, seed) })
	}
}

func runCrashSequence(t *testing.T, seed uint64) {
	rnd := newRand(seed)
	m := newMemFS()
	opt := Options{Device: "crash", FS: m, SegmentSize: 4096, MaxSize: 4096 * int64(3+rnd.IntN(6)), MaxRecord: 1500}
	md := &crashModel{appended: map[uint64][][]byte{}, durable: map[uint64][]byte{}, trims: map[uint64]bool{}}
	crashes := 0

	open := func(step int) *Journal {
		for try := 0; ; try++ {
			if try < 3 && rnd.IntN(3) == 0 {
				m.mu.Lock()
				m.crashAt = rnd.IntN(6) // crash during recovery too
				m.mu.Unlock()
			}
			j, r, err := Open("/j", opt)
			if err != nil {
				if isCrashed(m) {
					if rnd.IntN(3) == 0 {
						m.Kill()
					} else {
						m.Crash(rnd)
					}
					continue
				}
				t.Fatalf("step %d: Open failed: %v", step, err)
			}
			m.mu.Lock()
			m.crashAt = -1
			m.mu.Unlock()
			md.check(t, step, j, r)
			return j
		}
	}
	// crash is a power loss or, every third time, a SIGKILL (the page cache survives: a later power loss
	// may still take what the killed process wrote and never synced).
	crash := func(step int) *Journal {
		crashes++
		if rnd.IntN(3) == 0 {
			m.Kill()
		} else {
			m.Crash(rnd)
		}
		return open(step)
	}
	// failed handles an error from the journal: a simulated crash (then it crashes and reopens) or a full
	// journal or disk; anything else fails the test.
	failed := func(step int, j *Journal, err error) *Journal {
		if isCrashed(m) {
			return crash(step)
		}
		if errors.Is(err, ErrFull) {
			return j
		}
		t.Fatalf("step %d: %v", step, err)
		return nil
	}

	j := open(0)
	for step := 1; step <= 80; step++ {
		switch r := rnd.IntN(100); {
		case r < 45:
			for range 1 + rnd.IntN(4) {
				var data []byte
				p := make([]byte, rnd.IntN(600))
				for i := range p {
					p[i] = byte(rnd.Uint32())
				}
				seq, h, err := j.Append(func(seq uint64, prev [32]byte) ([]byte, error) {
					data = record(seq, prev, p)
					return data, nil
				})
				if err != nil {
					j = failed(step, j, err)
					break
				}
				if h != sha256.Sum256(data) {
					t.Fatalf("step %d: Append returned a hash not of the record", step)
				}
				md.appended[seq] = append(md.appended[seq], data)
				md.pending = append(md.pending, seq)
			}
		case r < 65:
			if err := j.Sync(); err != nil {
				j = failed(step, j, err)
				break
			}
			for _, s := range md.pending {
				md.durable[s] = md.appended[s][len(md.appended[s])-1]
			}
			md.pending = md.pending[:0]
		case r < 73:
			st := j.Stats()
			if st.Durable <= st.Acked {
				break
			}
			through := st.Acked + 1 + uint64(rnd.IntN(int(st.Durable-st.Acked)))
			md.trims[through] = true
			if err := j.Trim(through, fmt.Appendf(nil, "receipt %d", through)); err != nil {
				j = failed(step, j, err)
				break
			}
			md.ackMin = through
		case r < 83:
			m.mu.Lock()
			if m.crashAt < 0 {
				m.crashAt = rnd.IntN(8)
			}
			m.mu.Unlock()
		case r < 88:
			j = crash(step)
		case r < 93:
			if err := j.Close(); err != nil {
				j = failed(step, j, err)
				break
			}
			for _, s := range md.pending {
				md.durable[s] = md.appended[s][len(md.appended[s])-1]
			}
			md.pending = md.pending[:0]
			j = open(step)
		default:
			m.mu.Lock()
			if m.capacity == 0 {
				m.capacity = m.used() + int64(rnd.IntN(3000))
			} else {
				m.capacity = 0
			}
			m.mu.Unlock()
		}
	}
	j = crash(81)
	j.Close()
	if testing.Verbose() && seed < 3 {
		t.Logf("seed %d: %d crashes, %d records appended, acked %d", seed, crashes, len(md.appended), md.ackMin)
	}
}

func isCrashed(m *memFS) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.crashed
}

// check verifies the journal's promises after an Open and makes what it found the new truth.
func (md *crashModel) check(t *testing.T, step int, j *Journal, r *Recovery) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("step %d: "+format, append([]any{step}, args...)...)
	}
	if r.Damaged() {
		fail("a crash alone reported damage: %+v", r)
	}
	ack, ackHash, receipt := j.Acked()
	if ack < md.ackMin {
		fail("acked %d, but Trim(%d) had returned", ack, md.ackMin)
	}
	if ack > 0 {
		if !md.trims[ack] {
			fail("acked %d was never trimmed through", ack)
		}
		if string(receipt) != fmt.Sprintf("receipt %d", ack) {
			fail("receipt %q for mark %d", receipt, ack)
		}
		ok := false
		for _, d := range md.appended[ack] {
			ok = ok || sha256.Sum256(d) == ackHash
		}
		if !ok {
			fail("mark %d: hash is not of any record appended as %d", ack, ack)
		}
	}
	st := j.Stats()
	var rs []rec
	if st.First != 0 {
		rs = readAll(t, j, st.First)
	}
	var unacked []rec
	for _, x := range rs {
		found := false
		for _, d := range md.appended[x.seq] {
			found = found || bytes.Equal(d, x.data)
		}
		if !found {
			fail("record %d was never appended", x.seq)
		}
		if x.seq > ack {
			unacked = append(unacked, x)
		}
	}
	if len(unacked) > 0 {
		if unacked[0].seq != ack+1 {
			fail("first unacknowledged record is %d, mark is %d", unacked[0].seq, ack)
		}
		if st.Last != unacked[len(unacked)-1].seq {
			fail("Stats.Last %d, last record %d", st.Last, unacked[len(unacked)-1].seq)
		}
	} else if st.Last != ack {
		fail("no unacknowledged record, but Stats.Last %d and mark %d", st.Last, ack)
	}
	if err := verifyChain(unacked, ackHash); err != nil {
		fail("chain from the mark: %v", err)
	}
	have := map[uint64][]byte{}
	for _, x := range unacked {
		have[x.seq] = x.data
	}
	for s, d := range md.durable {
		if s > ack && !bytes.Equal(have[s], d) {
			fail("synced record %d lost (acked %d, last %d)", s, ack, st.Last)
		}
	}
	md.durable = have
	md.pending = md.pending[:0]
}
