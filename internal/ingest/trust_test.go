package ingest_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/akciz/akciz/internal/ingest"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/wire"
)

// countingStore counts the registry look-ups Trust makes.
type countingStore struct {
	store.Store
	certs, ops atomic.Int64
}

func (c *countingStore) Certificate(ctx context.Context, fp store.Hash) (store.Certificate, error) {
	c.certs.Add(1)
	return c.Store.Certificate(ctx, fp)
}

func (c *countingStore) Operator(ctx context.Context, eik string) (store.Operator, error) {
	c.ops.Add(1)
	return c.Store.Operator(ctx, eik)
}

// TestTrustCache: a certificate's chain and registry look-up are made once, then each batch is judged by
// the cached result at its own time.
func TestTrustCache(t *testing.T) {
	ctx := context.Background()
	base := sqliteOpener(t)(t)
	defer base.Close()
	s := &countingStore{Store: base}
	eik := validEIK(t, 0)
	registry(t, s, eik, wh1, dev1)
	ca := newCA(t, "CA")
	now := time.Now()
	id := identity{key: ecKey(t)}
	id.cert = ca.issue(t, id.key, "A", eik, now.Add(-time.Hour), now.Add(time.Hour))
	tr, err := ingest.NewTrust(ctx, s, []*x509.Certificate{ca.cert}, nil)
	must(t, err)
	for i := range 5 {
		op, err := tr.Identify(ctx, id.cert, nil, now.Add(time.Duration(i)*time.Minute))
		if err != nil || op != eik {
			t.Fatalf("identify %d: %q %v", i, op, err)
		}
	}
	if c, o := s.certs.Load(), s.ops.Load(); c != 1 || o != 1 {
		t.Errorf("registry look-ups: %d certificate, %d operator; want 1 each", c, o)
	}
	// The cached chain still judges the time: outside its window the answer is expired-certificate.
	_, err = tr.Identify(ctx, id.cert, nil, now.Add(2*time.Hour))
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeExpiredCertificate {
		t.Errorf("identify after expiry: %v", err)
	}
}

// TestLogCheck: a server refuses to go on signing a log whose stored tree is not the one its last stored
// checkpoint signed, or whose checkpoint another key signed.
func TestLogCheck(t *testing.T) {
	ctx := context.Background()
	s := sqliteOpener(t)(t)
	defer s.Close()
	dir := t.TempDir()
	l, created, err := ingest.OpenLog(dir, ingest.DefaultOrigin)
	if err != nil || !created {
		t.Fatalf("OpenLog: %v %v", created, err)
	}
	must(t, l.Check(ctx, s)) // an empty store has no checkpoint
	again, created, err := ingest.OpenLog(dir, "other/origin")
	if err != nil || created || again.VerifierKey() != l.VerifierKey() {
		t.Fatalf("reopened log: created %v key %s, want %s (%v)", created, again.VerifierKey(), l.VerifierKey(), err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, ingest.VerifierKeyFile)); err != nil || strings.TrimSpace(string(b)) != l.VerifierKey() {
		t.Errorf("%s: %q %v", ingest.VerifierKeyFile, b, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, ingest.KeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v %v", ingest.KeyFile, fi.Mode(), err)
	}

	// A stored checkpoint that the log's key did not sign.
	skey, _, err := note.GenerateKey(rand.Reader, ingest.DefaultOrigin)
	must(t, err)
	sg, err := note.NewSigner(skey)
	must(t, err)
	own, err := ingest.NewLog(mustRead(t, filepath.Join(dir, ingest.KeyFile)))
	must(t, err)
	signedBy := func(origin string, size int64, signer note.Signer) []byte {
		b, err := wire.SignCheckpoint(wire.Checkpoint{Origin: origin, Size: size}, signer)
		must(t, err)
		return b
	}
	must(t, s.PutCheckpoint(ctx, store.Checkpoint{Size: 0, Note: signedBy(ingest.DefaultOrigin, 0, sg)}))
	if err := own.Check(ctx, s); err == nil {
		t.Error("a checkpoint signed by another key passed")
	}
}

func mustRead(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	must(t, err)
	return string(b)
}

// TestTrustCacheStrangers: certificates nobody registered or vouched for, which anyone can present before
// logging in, leave nothing in the cache, with or without trust anchors.
func TestTrustCacheStrangers(t *testing.T) {
	ctx := context.Background()
	s := sqliteOpener(t)(t)
	defer s.Close()
	eik := validEIK(t, 0)
	registry(t, s, eik, wh1, dev1)
	anchor, stranger := newCA(t, "CA"), newCA(t, "Stranger CA")
	now := time.Now()
	noAnchors, err := ingest.NewTrust(ctx, s, nil, nil)
	must(t, err)
	withAnchor, err := ingest.NewTrust(ctx, s, []*x509.Certificate{anchor.cert}, nil)
	must(t, err)
	key := ecKey(t)
	for i := range 20 {
		cn := strings.Repeat("x", 1000) + string(rune('a'+i))
		certs := []*x509.Certificate{
			stranger.issue(t, key, cn, eik, now.Add(-time.Hour), now.Add(time.Hour)),          // untrusted
			anchor.issue(t, key, cn, "", now.Add(-time.Hour), now.Add(time.Hour)),             // no EIK
			anchor.issue(t, key, cn, validEIK(t, 5), now.Add(-time.Hour), now.Add(time.Hour)), // unknown operator
		}
		for _, c := range certs {
			for _, tr := range []*ingest.Trust{noAnchors, withAnchor} {
				if _, err := tr.Identify(ctx, c, nil, now); err == nil {
					t.Fatalf("stranger %s accepted", c.Subject)
				}
			}
		}
	}
	if n, m := noAnchors.CacheLen(), withAnchor.CacheLen(); n != 0 || m != 0 {
		t.Errorf("cache keeps %d and %d refused strangers, want none", n, m)
	}
	// A known certificate is still cached.
	id := anchor.issue(t, key, "A", eik, now.Add(-time.Hour), now.Add(time.Hour))
	if _, err := withAnchor.Identify(ctx, id, nil, now); err != nil {
		t.Fatal(err)
	}
	if n := withAnchor.CacheLen(); n != 1 {
		t.Errorf("cache keeps %d certificates, want 1", n)
	}
}

// TestLearnKeepsRegistration: the intake registering an anchor-vouched certificate does not overwrite a
// registration the agency made meanwhile (its operator, its revocation).
func TestLearnKeepsRegistration(t *testing.T) {
	ctx := context.Background()
	s := sqliteOpener(t)(t)
	defer s.Close()
	eikA, eikB := validEIK(t, 0), validEIK(t, 1)
	registry(t, s, eikA, wh1, dev1)
	registry(t, s, eikB, wh2, dev2)
	ca := newCA(t, "CA")
	now := time.Now()
	c := ca.issue(t, ecKey(t), "A", eikA, now.Add(-time.Hour), now.Add(time.Hour))
	tr, err := ingest.NewTrust(ctx, s, []*x509.Certificate{ca.cert}, nil)
	must(t, err)
	if op, err := tr.Identify(ctx, c, nil, now); err != nil || op != eikA {
		t.Fatalf("identify: %q %v", op, err)
	}
	// The agency registers it for B and revokes it, while the cache still says "not registered".
	registerCert(t, s, eikB, c)
	revoked := now.Truncate(time.Millisecond)
	must(t, s.RevokeCertificate(ctx, store.Fingerprint(c.Raw), revoked))
	must(t, tr.Learn(ctx, c, eikA))
	got, err := s.Certificate(ctx, store.Fingerprint(c.Raw))
	if err != nil || got.Operator != eikB || !got.Revoked.Equal(revoked) {
		t.Errorf("registration after learn: %+v %v; want operator %s, revoked %v", got, err, eikB, revoked)
	}
}
