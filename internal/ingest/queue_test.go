package ingest_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/ingest"
	"github.com/akciz/akciz/internal/store"
)

// queueCommitter stands for a durable queue between API nodes and the store (docs/server.md, "The queue
// seam"): Commit publishes the verified batch and waits for the consumer's reply, which commits it.
type queueCommitter struct {
	jobs chan queueJob
}

type queueJob struct {
	b     *store.Batch
	reply chan queueReply
}

type queueReply struct {
	res store.Result
	err error
}

func (q queueCommitter) Commit(ctx context.Context, b *store.Batch) (store.Result, error) {
	j := queueJob{b: b, reply: make(chan queueReply, 1)}
	select {
	case q.jobs <- j:
	case <-ctx.Done():
		return store.Result{}, ctx.Err()
	}
	select {
	case r := <-j.reply:
		return r.res, r.err
	case <-ctx.Done():
		return store.Result{}, ctx.Err()
	}
}

// TestQueueSeam: the intake works unchanged with its commits going through a queue to a consumer that
// calls AppendBatch: receipts, the duplicate, and a refusal the consumer's store classifies.
func TestQueueSeam(t *testing.T) {
	s := sqliteOpener(t)(t)
	defer s.Close()
	eik := validEIK(t, 0)
	registry(t, s, eik, wh1, dev1)
	opCA := newCA(t, "CA")
	id := identity{key: ecKey(t)}
	id.cert = opCA.issue(t, id.key, "A", eik, time.Now().AddDate(-1, 0, 0), time.Now().AddDate(1, 0, 0))
	registerCert(t, s, eik, id.cert)
	q := queueCommitter{jobs: make(chan queueJob)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	consumed := 0
	go func() { // the consumer
		for {
			select {
			case j := <-q.jobs:
				consumed++
				res, err := s.AppendBatch(ctx, j.b)
				j.reply <- queueReply{res, err}
			case <-ctx.Done():
				return
			}
		}
	}()
	sv := startServer(t, s, t.TempDir(), ingest.Config{Committer: q})
	c := sv.client(id)
	ag := newAgent(dev1, id)
	body, h := ag.batch(t, 20)
	a := post(t, c, sv.srv.URL, body, 0)
	if a.status != http.StatusCreated || a.receipt == nil {
		t.Fatalf("through the queue: %d %s", a.status, a.raw)
	}
	if _, err := a.receipt.Verify(sv.log.Verifiers(), h, nil); err != nil {
		t.Fatal(err)
	}
	if dup := post(t, c, sv.srv.URL, body, 0); dup.status != http.StatusOK || dup.receipt.Index != a.receipt.Index {
		t.Fatalf("duplicate through the queue: %d %s", dup.status, dup.raw)
	}
	if countRecords(t, s, dev1) != 20 {
		t.Errorf("records: %d", countRecords(t, s, dev1))
	}
	cancel()
	if consumed != 2 {
		t.Errorf("the consumer committed %d batches, want 2", consumed)
	}
}
