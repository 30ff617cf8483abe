package ingest_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/ingest"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/wire"
)

// signAt makes a's next batch of n records, signed by signer with the created time given.
func signAt(t *testing.T, a *agent, n int, signer identity, created time.Time) []byte {
	t.Helper()
	recs := a.records(t, n)
	h, err := wire.NewBatch(a.device, a.prevBatch, core.Stamp(created), recs)
	must(t, err)
	must(t, h.Sign(signer.key, []*x509.Certificate{signer.cert}))
	a.prevBatch = h.Digest()
	return encode(t, h, recs)
}

// TestBackdatedCreated: a certificate that expired cannot sign new evidence by backdating the header's
// created into its validity: created may be neither before the device's previous batch nor before a
// record of the batch.
func TestBackdatedCreated(t *testing.T) {
	ctx := context.Background()
	s := sqliteOpener(t)(t)
	defer s.Close()
	eikA := validEIK(t, 0)
	registry(t, s, eikA, wh1, dev1, wh1+"002")
	now := time.Now()
	opCA := newCA(t, "Operators' CA")
	idA := identity{key: ecKey(t)}
	idA.cert = opCA.issue(t, idA.key, "A", eikA, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	// A card that expired five hours ago, registered for the same operator.
	idOld := identity{key: ecKey(t)}
	idOld.cert = opCA.issue(t, idOld.key, "old", eikA, now.AddDate(-2, 0, 0), now.Add(-5*time.Hour))
	registerCert(t, s, eikA, idA.cert)
	registerCert(t, s, eikA, idOld.cert)
	sv := startServer(t, s, t.TempDir(), ingest.Config{})
	cA := sv.client(idA)

	// Previous batch: records from ten hours ago, signed (by the valid card) four hours ago.
	ag := newAgent(dev1, idA)
	ag.at = core.Stamp(now.Add(-10 * time.Hour))
	if a := post(t, cA, sv.srv.URL, signAt(t, ag, 5, idA, now.Add(-4*time.Hour)), 0); a.status != 201 {
		t.Fatalf("first batch: %d %s", a.status, a.raw)
	}
	if h, err := s.DeviceHead(ctx, dev1); err != nil || h.Created.UnixMilli() != core.Stamp(now.Add(-4*time.Hour)).UnixMilli() {
		t.Fatalf("head %+v %v: want created of the first batch", h, err)
	}

	// The expired card, dated before it expired: before the previous batch (its records are older still).
	a := post(t, cA, sv.srv.URL, signAt(t, ag.clone(), 5, idOld, now.Add(-6*time.Hour)), 0)
	if a.status != 422 || a.problem.Code != wire.CodeMalformed {
		t.Fatalf("batch dated before the previous one: %d %s", a.status, a.raw)
	}

	// A new device: no previous batch, but records read after the claimed created.
	ag2 := newAgent(wh1+"002", idA)
	ag2.at = core.Stamp(now.Add(-time.Hour))
	a = post(t, cA, sv.srv.URL, signAt(t, ag2.clone(), 5, idOld, now.Add(-6*time.Hour)), 0)
	if a.status != 422 || a.problem.Code != wire.CodeMalformed || a.problem.Seq != 1 {
		t.Fatalf("batch dated before its records: %d %s", a.status, a.raw)
	}
	if n, _ := s.TreeSize(ctx); n != 1 {
		t.Fatalf("tree size %d after the refusals, want 1", n)
	}

	// The honest agent goes on: a batch dated as its predecessor (the clock's resolution) is fine, and a
	// retry of it is a duplicate.
	body := signAt(t, ag, 5, idA, now.Add(-4*time.Hour))
	if a := post(t, cA, sv.srv.URL, body, 0); a.status != 201 {
		t.Fatalf("batch dated as its predecessor: %d %s", a.status, a.raw)
	}
	if a := post(t, cA, sv.srv.URL, signAt(t, ag, 5, idA, now), 0); a.status != 201 {
		t.Fatalf("next batch: %d %s", a.status, a.raw)
	}
	if a := post(t, cA, sv.srv.URL, body, 0); a.status != 200 {
		t.Fatalf("retry of an earlier batch: %d %s", a.status, a.raw)
	}
}

// TestReceiptCoversFrom: a receipt's checkpoint covers the tree size the agent saw (Akciz-Tree-Size),
// even when the answering server's latest checkpoint is older (two servers on one store).
func TestReceiptCoversFrom(t *testing.T) {
	s := sqliteOpener(t)(t)
	defer s.Close()
	eikA := validEIK(t, 0)
	registry(t, s, eikA, wh1, dev1)
	now := time.Now()
	idA := identity{key: ecKey(t)}
	idA.cert = newCA(t, "CA").issue(t, idA.key, "A", eikA, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	registerCert(t, s, eikA, idA.cert)
	dir := t.TempDir()
	one, two := startServer(t, s, dir, ingest.Config{}), startServer(t, s, dir, ingest.Config{})
	ag := newAgent(dev1, idA)
	body, _ := ag.batch(t, 3)
	if a := post(t, one.client(idA), one.srv.URL, body, 0); a.status != 201 {
		t.Fatalf("first batch: %d %s", a.status, a.raw)
	}
	body, _ = ag.batch(t, 3)
	a := post(t, two.client(idA), two.srv.URL, body, 0)
	if a.status != 201 || checkpointSize(t, a.receipt.Checkpoint) != 2 {
		t.Fatalf("second batch: %d %s", a.status, a.raw)
	}
	// The agent saw a tree of 2; the first server's latest checkpoint is of 1.
	req, _ := http.NewRequest(http.MethodGet, one.srv.URL+"/api/v1/receipts/"+dev1+"/1", nil)
	req.Header.Set(wire.TreeSizeHeader, "2")
	a = do(t, one.client(idA), req)
	if a.status != 200 {
		t.Fatalf("receipt: %d %s", a.status, a.raw)
	}
	if n := checkpointSize(t, a.receipt.Checkpoint); n != 2 {
		t.Errorf("receipt's checkpoint has %d leaves, want the 2 the agent saw", n)
	}
	// A size beyond the tree is the agent's claim, not the server's: answered with the tree as it is.
	req.Header.Set(wire.TreeSizeHeader, "9")
	if a = do(t, one.client(idA), req); a.status != 200 || checkpointSize(t, a.receipt.Checkpoint) != 2 {
		t.Errorf("receipt from beyond the tree: %d %s", a.status, a.raw)
	}
}

func checkpointSize(t *testing.T, note string) int64 {
	t.Helper()
	lines := strings.SplitN(note, "\n", 3)
	if len(lines) < 3 {
		t.Fatalf("checkpoint %q", note)
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	must(t, err)
	return n
}

// failingCheckpoints is a store whose PutCheckpoint fails.
type failingCheckpoints struct {
	store.Store
}

func (failingCheckpoints) PutCheckpoint(context.Context, store.Checkpoint) error {
	return errors.New("disk full")
}

// TestCheckpointNotStored: a checkpoint that cannot be stored after the batch committed is logged, and
// the agent still gets its receipt (the checkpoint is made again from the same tree).
func TestCheckpointNotStored(t *testing.T) {
	base := sqliteOpener(t)(t)
	defer base.Close()
	s := failingCheckpoints{base}
	eikA := validEIK(t, 0)
	registry(t, s, eikA, wh1, dev1)
	now := time.Now()
	idA := identity{key: ecKey(t)}
	idA.cert = newCA(t, "CA").issue(t, idA.key, "A", eikA, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	registerCert(t, s, eikA, idA.cert)
	var logged bytes.Buffer
	var mu sync.Mutex
	sv := startServer(t, s, t.TempDir(), ingest.Config{Logger: log.New(lockedWriter{&mu, &logged}, "", 0)})
	body, _ := newAgent(dev1, idA).batch(t, 3)
	a := post(t, sv.client(idA), sv.srv.URL, body, 0)
	if a.status != 201 || a.receipt == nil || checkpointSize(t, a.receipt.Checkpoint) != 1 {
		t.Fatalf("batch: %d %s", a.status, a.raw)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logged.String(), "disk full") {
		t.Errorf("the failure is not logged: %q", logged.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
