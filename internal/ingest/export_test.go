package ingest

import (
	"context"
	"crypto/x509"
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
