package ingest

import (
	"context"
	"crypto/x509"
	"log"
	"time"
)

// CacheLen is the number of certificates the trust cache keeps (for tests).
func (t *Trust) CacheLen() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.cache)
}

// Learn is learn (for tests).
func (t *Trust) Learn(ctx context.Context, leaf *x509.Certificate, operator string) error {
	return t.learn(ctx, leaf, operator)
}

// SetNow sets the trust's clock (for tests).
func (t *Trust) SetNow(now func() time.Time) { t.now = now }

// SetLogger is setLogger (for tests).
func (t *Trust) SetLogger(l *log.Logger) { t.setLogger(l) }

// AfterRefresh sets a function Watch calls after each event it handled (for tests).
func (t *Trust) AfterRefresh(fn func(changed bool, err error)) { t.afterRefresh = fn }

// OnGate sets a function called with the client's operator when a batch passes the gate (in) and when it
// is about to leave it (for tests).
func (s *Server) OnGate(fn func(client string, in bool)) { s.gateHook = fn }
