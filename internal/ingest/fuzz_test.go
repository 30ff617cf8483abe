package ingest_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/akciz/akciz/internal/ingest"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/wire"
)

// FuzzPostBatch: whatever the body, the intake answers a receipt or a problem document with a protocol
// code (never a 500, never a panic), and a receipt only for a batch that verifies.
func FuzzPostBatch(f *testing.F) {
	eik := validEIK(f, 0)
	opCA := newCA(f, "fuzz CA")
	id := identity{key: ecKey(f)}
	id.cert = opCA.issue(f, id.key, "fuzz", eik, time.Now().AddDate(-1, 0, 0), time.Now().AddDate(1, 0, 0))
	// An in-memory store: the SQLite one, built with the fuzzer's coverage instrumentation, runs a few
	// inputs a second; this one keeps the fuzzer on the intake's own code.
	s := &memStore{device: dev1, operator: eik, cert: store.Fingerprint(id.cert.Raw), heads: map[string]store.Head{},
		batches: map[int64]store.StoredBatch{}}
	l, _, err := ingest.OpenLog(f.TempDir(), ingest.DefaultOrigin)
	must(f, err)
	tr, err := ingest.NewTrust(context.Background(), s, nil, nil)
	must(f, err)
	srv, err := ingest.New(ingest.Config{Store: s, Trust: tr, Log: l, Limits: wire.Limits{MaxCompressed: 64 << 10, MaxRecords: 50}})
	must(f, err)
	h := srv.Handler()

	ag := newAgent(dev1, id)
	first, _ := ag.batch(f, 3)
	second, _ := ag.batch(f, 2)
	f.Add(first)
	f.Add(second)
	f.Add(first[:len(first)/2])
	f.Add([]byte{})
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"))

	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, wire.BatchesPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", wire.BatchType)
		req.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, PeerCertificates: []*x509.Certificate{id.cert}}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusCreated:
			r, err := wire.ParseReceipt(rec.Body.Bytes())
			if err != nil {
				t.Fatalf("receipt: %v", err)
			}
			hd, err := wire.DecodeBatch(bytes.NewReader(body), wire.DecodeOptions{Verify: &wire.VerifyOptions{}}, nil)
			if err != nil {
				t.Fatalf("accepted a batch that does not verify: %v", err)
			}
			if _, err := r.Verify(l.Verifiers(), hd, nil); err != nil {
				t.Fatalf("receipt does not verify: %v", err)
			}
		default:
			var p wire.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code == "" || p.Status != rec.Code {
				t.Fatalf("answer %d %s", rec.Code, rec.Body.Bytes())
			}
			if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("server failure: %s", rec.Body.Bytes())
			}
		}
	})
}

// memStore is the part of store.Store the intake uses, in memory, for one device; other methods panic
// (through the nil embedded interface).
type memStore struct {
	store.Store
	mu       sync.Mutex
	device   string
	operator string
	cert     store.Hash
	heads    map[string]store.Head
	hashes   []tlog.Hash
	leaves   int64
	batches  map[int64]store.StoredBatch // by first seq
}

func (m *memStore) Device(_ context.Context, id string) (store.Device, error) {
	if id != m.device {
		return store.Device{}, store.ErrNotFound
	}
	return store.Device{ID: id}, nil
}

func (m *memStore) Site(_ context.Context, w string) (store.Site, error) {
	return store.Site{Warehouse: w, Operator: m.operator, State: store.SiteLive}, nil
}

func (m *memStore) Certificate(_ context.Context, fp store.Hash) (store.Certificate, error) {
	if fp != m.cert {
		return store.Certificate{}, store.ErrNotFound
	}
	return store.Certificate{Fingerprint: fp, Operator: m.operator}, nil
}

func (m *memStore) TrustAnchors(context.Context) ([]store.TrustAnchor, error)  { return nil, nil }
func (m *memStore) PutCertificate(context.Context, store.Certificate) error    { return nil }
func (m *memStore) PutCheckpoint(context.Context, store.Checkpoint) error      { return nil }
func (m *memStore) AddIncident(context.Context, store.Incident) (int64, error) { return 1, nil }
func (m *memStore) LatestCheckpoint(context.Context) (store.Checkpoint, error) {
	return store.Checkpoint{}, store.ErrNotFound
}
func (m *memStore) Close() error { return nil }

func (m *memStore) DeviceHead(_ context.Context, d string) (store.Head, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.heads[d], nil
}

func (m *memStore) TreeSize(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leaves, nil
}

func (m *memStore) ReadHashes(_ context.Context, idx []int64) ([]tlog.Hash, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("no hash %d", x)
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}

func (m *memStore) AppendBatch(_ context.Context, b *store.Batch) (store.Result, error) {
	if err := b.Validate(); err != nil {
		return store.Result{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.heads[b.Device]
	if b.First <= h.Seq {
		if sb, ok := m.batches[b.First]; ok && sb.Last == b.Last && sb.LastChain == b.LastChain {
			return store.Result{Duplicate: true, Index: sb.Index, TreeSize: m.leaves, Digest: sb.Digest, Received: sb.ReceivedAt}, nil
		}
		return store.Result{}, &store.SeqError{Err: store.ErrReplay, Device: b.Device, Seq: b.First}
	}
	if b.First != h.Seq+1 || b.PrevChain != h.Chain || b.PrevBatch != h.Batch {
		return store.Result{}, store.ErrConflict
	}
	hs, err := tlog.StoredHashes(m.leaves, wire.LeafData(wire.Hash(b.Digest)), tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = m.hashes[x]
		}
		return out, nil
	}))
	if err != nil {
		return store.Result{}, err
	}
	m.hashes = append(m.hashes, hs...)
	sb := store.StoredBatch{Device: b.Device, First: b.First, Last: b.Last, Digest: b.Digest, LastChain: b.LastChain,
		ReceivedAt: b.ReceivedAt, Index: m.leaves}
	m.batches[b.First] = sb
	m.leaves++
	m.heads[b.Device] = store.Head{Seq: b.Last, Chain: b.LastChain, Batch: b.Digest}
	return store.Result{Index: sb.Index, TreeSize: m.leaves, Digest: b.Digest, Received: b.ReceivedAt}, nil
}

func (m *memStore) BatchAt(_ context.Context, _ string, first int64) (store.StoredBatch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sb, ok := m.batches[first]; ok {
		return sb, nil
	}
	return store.StoredBatch{}, store.ErrNotFound
}
