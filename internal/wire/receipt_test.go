package wire

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// testLog is a stand-in for the server's transparency log: an RFC 6962 tree kept in memory.
type testLog struct {
	origin string
	hashes []tlog.Hash // stored hashes, as tlog.StoredHashes lays them out
	n      int64
	signer note.Signer
}

func newTestLog(t testing.TB) (*testLog, note.Verifiers) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "customs.test/akciz")
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return &testLog{origin: "customs.test/akciz/v1", signer: s}, note.VerifierList(v)
}

func (l *testLog) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(l.hashes)) {
			return nil, errors.New("no such hash")
		}
		out[i] = l.hashes[x]
	}
	return out, nil
}

func (l *testLog) add(t testing.TB, leaf []byte) int64 {
	t.Helper()
	hs, err := tlog.StoredHashes(l.n, leaf, l)
	if err != nil {
		t.Fatal(err)
	}
	l.hashes = append(l.hashes, hs...)
	l.n++
	return l.n - 1
}

func (l *testLog) checkpoint(t testing.TB) (Checkpoint, string) {
	t.Helper()
	root, err := tlog.TreeHash(l.n, l)
	if err != nil {
		t.Fatal(err)
	}
	c := Checkpoint{Origin: l.origin, Size: l.n, Root: root}
	signed, err := SignCheckpoint(c, l.signer)
	if err != nil {
		t.Fatal(err)
	}
	return c, string(signed)
}

// receipt accepts a batch: appends its digest and answers with a receipt, with a consistency proof from
// the tree size the agent last saw.
func (l *testLog) receipt(t testing.TB, h *Header, known int64) *Receipt {
	t.Helper()
	idx := l.add(t, LeafData(h.Digest()))
	_, signed := l.checkpoint(t)
	incl, err := tlog.ProveRecord(l.n, idx, l)
	if err != nil {
		t.Fatal(err)
	}
	r := &Receipt{Format: ReceiptFormat, Version: Version, Device: h.Device, First: h.First, Last: h.Last,
		Batch: h.Digest(), Received: t0.Add(2 * time.Hour), Index: idx, Checkpoint: signed, Inclusion: Hashes(incl)}
	if known > 0 {
		cons, err := tlog.ProveTree(l.n, known, l)
		if err != nil {
			t.Fatal(err)
		}
		r.ConsistencyFrom, r.Consistency = known, Hashes(cons)
	}
	return r
}

func TestReceipts(t *testing.T) {
	log, keys := newTestLog(t)
	p := newPKI(t, "Test CA")
	key := ecKey(t)
	cert := p.issue(t, key, testEIK, t0.AddDate(-1, 0, 0), t0.AddDate(1, 0, 0))

	// Other devices' batches interleave in the log.
	for i := 0; i < 5; i++ {
		log.add(t, []byte{byte(i)})
	}
	var prev *Checkpoint
	var known int64
	var tip Tip
	var headers []*Header
	var receipts []*Receipt
	for b := 0; b < 4; b++ {
		recs, _ := chain(t, tip.Seq+1, tip.Chain, 3)
		_, h := signedBatch(t, key, cert, tip.Batch, recs)
		tip = tip.Next(h)
		r := log.receipt(t, h, known)
		// The receipt travels as JSON.
		b, err := marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r, err = ParseReceipt(b)
		if err != nil {
			t.Fatal(err)
		}
		c, err := r.Verify(keys, h, prev)
		if err != nil {
			t.Fatalf("receipt %d: %v", b, err)
		}
		prev, known = &c, c.Size
		headers, receipts = append(headers, h), append(receipts, r)
		log.add(t, []byte("another device"))
	}

	// The receipt of another batch.
	if _, err := receipts[1].Verify(keys, headers[0], nil); err == nil {
		t.Error("receipt of batch 2 accepted for batch 1")
	} else {
		wantCode(t, "other batch", err, CodeBadReceipt, receipts[1].First)
	}
	// A receipt whose inclusion proof was tampered with.
	bad := *receipts[2]
	bad.Inclusion = append([]Hash(nil), bad.Inclusion...)
	bad.Inclusion[0][0] ^= 1
	_, err := bad.Verify(keys, headers[2], nil)
	wantCode(t, "inclusion", err, CodeBadReceipt, bad.First)
	// A checkpoint signed by another key.
	other, _ := newTestLog(t)
	c, _ := log.checkpoint(t)
	forged, _ := SignCheckpoint(c, other.signer)
	bad = *receipts[3]
	bad.Checkpoint = string(forged)
	_, err = bad.Verify(keys, headers[3], nil)
	wantCode(t, "foreign checkpoint key", err, CodeBadReceipt, bad.First)

	// The server rewrites its history: a log with the same first batches but a changed leaf in between.
	// Its receipts prove inclusion in the rewritten tree, but not consistency with what the agent saw.
	forkLog := &testLog{origin: log.origin, signer: log.signer}
	for i := 0; i < 5; i++ {
		forkLog.add(t, []byte{byte(i)})
	}
	forkLog.add(t, LeafData(headers[0].Digest()))
	forkLog.add(t, []byte("a record the server slipped in"))
	c1, err := receipts[0].Verify(keys, headers[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	forkLog.add(t, LeafData(headers[1].Digest()))
	c2, err := receipts[1].Verify(keys, headers[1], &c1)
	if err != nil {
		t.Fatal(err)
	}
	forked := forkLog.receipt(t, headers[2], c2.Size)
	if _, err := forked.Verify(keys, headers[2], nil); err != nil {
		t.Fatalf("the forked receipt alone should verify (inclusion only): %v", err)
	}
	_, err = forked.Verify(keys, headers[2], &c2)
	wantCode(t, "rewritten history", err, CodeInconsistentLog, headers[2].First)

	// A log that shrank, and one with two roots for one size.
	_, err = receipts[0].Verify(keys, headers[0], prev)
	wantCode(t, "shrunk", err, CodeInconsistentLog, headers[0].First)
	same := Checkpoint{Origin: c1.Origin, Size: c1.Size, Root: tlog.Hash{1}}
	_, err = receipts[0].Verify(keys, headers[0], &same)
	wantCode(t, "forked root", err, CodeInconsistentLog, headers[0].First)
}

func TestParseCheckpoint(t *testing.T) {
	c := Checkpoint{Origin: "customs.test/akciz/v1", Size: 42, Root: tlog.Hash{1, 2, 3}}
	got, err := ParseCheckpoint(c.Text())
	if err != nil || got != c {
		t.Fatalf("%+v, %v", got, err)
	}
	for _, bad := range []string{"", "o\n1\n", "o\n-1\nAAAA\n", "o\n01\n" + string(c.Text()[len("customs.test/akciz/v1\n42\n"):]),
		"\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", string(c.Text()) + "extra\n"} {
		if _, err := ParseCheckpoint([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
