package ingest

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/wire"
)

// Trust maps certificates to operators (docs/server.md, "Certificate → operator"):
//
//  1. a certificate registered in the store (by its SHA-256 fingerprint) belongs to the operator it is
//     registered for; the registration is the agency's decision, so no CA is needed;
//  2. otherwise a certificate that chains to a trust anchor (the --ca bundle and the store's trust
//     anchors) belongs to the operator whose EIK its subject names (wire.OperatorEIK), which must be
//     registered;
//  3. anything else is unknown.
//
// A certificate revoked in the store or listed in a configured CRL is refused, whatever the time of the
// batch (a stolen key can sign with any created time). Results for known certificates are cached per
// certificate fingerprint, so that a chain is built once and each batch costs one signature verification;
// refusals of unknown certificates are not (see resolve).
type Trust struct {
	store   store.Store
	roots   *x509.CertPool
	revoked map[revKey]time.Time
	anchors int
	now     func() time.Time

	mu    sync.Mutex
	cache map[store.Hash]*identity
}

// sweepAt is the size of the certificate cache at which expired entries are dropped.
const sweepAt = 1024

type revKey struct {
	issuer string // the issuer's raw subject
	serial string // decimal serial number
}

// identity is what Trust learnt of a certificate.
type identity struct {
	operator   string
	registered bool      // found in the store (or registered since)
	notBefore  time.Time // the window in which the certificate and its chain are valid
	notAfter   time.Time
	revoked    bool
	revokedAt  time.Time
	err        *wire.Error
	expires    time.Time // when to look again
}

// NewTrust makes a Trust from the store's registry and trust anchors, the anchors given (the --ca file)
// and certificate revocation lists (the --crl file), each of which must be signed by one of the anchors.
func NewTrust(ctx context.Context, s store.Store, anchors []*x509.Certificate, crls []*x509.RevocationList) (*Trust, error) {
	t := &Trust{store: s, revoked: map[revKey]time.Time{}, now: time.Now, cache: map[store.Hash]*identity{}}
	stored, err := s.TrustAnchors(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest: trust anchors: %w", err)
	}
	for _, a := range stored {
		c, err := x509.ParseCertificate(a.DER)
		if err != nil {
			return nil, fmt.Errorf("ingest: stored trust anchor %s: %w", a.Fingerprint, err)
		}
		anchors = append(anchors, c)
	}
	t.anchors = len(anchors)
	if len(anchors) > 0 {
		t.roots = x509.NewCertPool()
		for _, a := range anchors {
			t.roots.AddCert(a)
		}
	}
	for i, l := range crls {
		var signer *x509.Certificate
		for _, a := range anchors {
			if string(a.RawSubject) == string(l.RawIssuer) && l.CheckSignatureFrom(a) == nil {
				signer = a
				break
			}
		}
		if signer == nil {
			return nil, fmt.Errorf("ingest: CRL %d (issuer %s): not signed by a trust anchor", i+1, l.Issuer)
		}
		for _, e := range l.RevokedCertificateEntries {
			t.revoked[revKey{string(l.RawIssuer), e.SerialNumber.String()}] = e.RevocationTime
		}
	}
	return t, nil
}

// Anchors is the number of trust anchors in use.
func (t *Trust) Anchors() int {
	return t.anchors
}

// Identify gives the operator of the certificate leaf (with intermediates, DER, as a batch header or a
// TLS handshake carries them) for something it signed or presented at time at.
func (t *Trust) Identify(ctx context.Context, leaf *x509.Certificate, intermediates [][]byte, at time.Time) (string, error) {
	id, err := t.lookup(ctx, leaf, intermediates, at)
	if err != nil {
		return "", err
	}
	if id.err != nil {
		return "", id.err
	}
	if id.revoked {
		return "", &wire.Error{Code: wire.CodeUnknownCertificate, Msg: i18n.M("ingest.cert.revoked",
			leaf.Subject.CommonName, leaf.SerialNumber.String(), id.revokedAt.UTC().Format(time.RFC3339))}
	}
	if at.Before(id.notBefore) || at.After(id.notAfter) {
		return "", &wire.Error{Code: wire.CodeExpiredCertificate, Msg: i18n.M("ingest.cert.expired",
			at.UTC().Format(time.RFC3339), id.notBefore.UTC().Format(time.RFC3339), id.notAfter.UTC().Format(time.RFC3339))}
	}
	return id.operator, nil
}

// registered reports whether the certificate is registered in the store (as far as the cache knows).
func (t *Trust) registered(fp store.Hash) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	id, ok := t.cache[fp]
	return ok && id.registered
}

// learn registers a certificate that a trust anchor vouched for in the store, so that the evidence keeps
// the certificate that verifies its signatures even when the batch files are gone.
func (t *Trust) learn(ctx context.Context, leaf *x509.Certificate, operator string) error {
	fp := store.Fingerprint(leaf.Raw)
	if t.registered(fp) {
		return nil
	}
	// Insert only if absent: a registration already there (perhaps made or revoked by the agency since
	// the cache looked) is the agency's, not the intake's, to change.
	if _, err := t.store.Certificate(ctx, fp); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	err := t.store.PutCertificate(ctx, store.Certificate{Fingerprint: fp, DER: leaf.Raw, Operator: operator,
		Subject: leaf.Subject.String(), NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter})
	if err != nil {
		return err
	}
	t.mu.Lock()
	if id, ok := t.cache[fp]; ok {
		id.registered = true
	}
	t.mu.Unlock()
	return nil
}

func (t *Trust) lookup(ctx context.Context, leaf *x509.Certificate, intermediates [][]byte, at time.Time) (*identity, error) {
	fp := store.Fingerprint(leaf.Raw)
	now := t.now()
	t.mu.Lock()
	id, ok := t.cache[fp]
	t.mu.Unlock()
	if ok && now.Before(id.expires) {
		return id, nil
	}
	id, cacheable, err := t.resolve(ctx, leaf, intermediates, at)
	if err != nil {
		return nil, err
	}
	if cacheable {
		id.expires = now.Add(registryTTL)
		t.mu.Lock()
		if len(t.cache) >= sweepAt {
			// Only registered or anchor-vouched certificates get here, so the cache is bounded by the
			// certificates in use; expired entries are dropped so that it does not keep every one ever seen.
			for k, v := range t.cache {
				if !now.Before(v.expires) {
					delete(t.cache, k)
				}
			}
		}
		t.cache[fp] = id
		t.mu.Unlock()
	}
	return id, nil
}

// resolve applies the rule of Trust. An answer that depends on the time at (a chain not valid then) is
// not cacheable, and neither is a refusal of a certificate that is neither registered nor vouched for by
// an anchor with a registered operator: anyone can present such certificates, as many as they like,
// before logging in (a TLS client certificate), so caching them would let a stranger fill the memory
// with entries that keep the stranger's own text.
func (t *Trust) resolve(ctx context.Context, leaf *x509.Certificate, intermediates [][]byte, at time.Time) (*identity, bool, error) {
	fp := store.Fingerprint(leaf.Raw)
	id := &identity{notBefore: leaf.NotBefore, notAfter: leaf.NotAfter}
	chain := []*x509.Certificate{leaf}
	reg, err := t.store.Certificate(ctx, fp)
	switch {
	case err == nil:
		id.operator, id.registered, id.revokedAt, id.revoked = reg.Operator, true, reg.Revoked, !reg.Revoked.IsZero()
	case !errors.Is(err, store.ErrNotFound):
		return nil, false, err
	case t.roots == nil:
		id.err = &wire.Error{Code: wire.CodeUnknownCertificate, Msg: i18n.M("ingest.cert.unregistered",
			leaf.Subject.CommonName, fp.String())}
		return id, false, nil
	default:
		inter := x509.NewCertPool()
		for _, der := range intermediates {
			if c, err := x509.ParseCertificate(der); err == nil {
				inter.AddCert(c)
			}
		}
		chains, err := leaf.Verify(x509.VerifyOptions{Roots: t.roots, Intermediates: inter, CurrentTime: at,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err != nil {
			var inv x509.CertificateInvalidError
			if errors.As(err, &inv) && inv.Reason == x509.Expired {
				return &identity{err: &wire.Error{Code: wire.CodeExpiredCertificate, Err: err,
					Msg: i18n.M("ingest.cert.chain_expired", leaf.Subject.CommonName, at.UTC().Format(time.RFC3339))}}, false, nil
			}
			id.err = &wire.Error{Code: wire.CodeUnknownCertificate, Err: err, Msg: i18n.M("ingest.cert.untrusted",
				leaf.Subject.CommonName, leaf.Issuer.CommonName, fp.String())}
			return id, false, nil
		}
		chain = chains[0]
		for _, c := range chain[1:] {
			if c.NotBefore.After(id.notBefore) {
				id.notBefore = c.NotBefore
			}
			if c.NotAfter.Before(id.notAfter) {
				id.notAfter = c.NotAfter
			}
		}
		eik, ok := wire.OperatorEIK(leaf)
		if !ok {
			id.err = &wire.Error{Code: wire.CodeUnknownCertificate, Msg: i18n.M("ingest.cert.no_eik", leaf.Subject.String())}
			return id, false, nil
		}
		if _, err := t.store.Operator(ctx, eik); errors.Is(err, store.ErrNotFound) {
			id.err = &wire.Error{Code: wire.CodeUnknownCertificate, Msg: i18n.M("ingest.cert.operator_unknown", eik)}
			return id, false, nil
		} else if err != nil {
			return nil, false, err
		}
		id.operator = eik
	}
	// The CRLs name certificates by issuer and serial: the leaf, and every certificate of its chain.
	for _, c := range chain {
		if when, ok := t.revoked[revKey{string(c.RawIssuer), c.SerialNumber.String()}]; ok {
			if !id.revoked || when.Before(id.revokedAt) {
				id.revokedAt = when
			}
			id.revoked = true
		}
	}
	return id, true, nil
}

// ReadCertificates reads PEM certificates (a CA bundle, an operator's certificate) from a file.
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	b, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for n := 1; ; n++ {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: PEM block %d: %w", path, n, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return out, nil
}

// ReadCRLs reads certificate revocation lists from a file: PEM ("X509 CRL" blocks) or one DER list.
func ReadCRLs(path string) ([]*x509.RevocationList, error) {
	b, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.RevocationList
	rest := b
	for n := 1; ; n++ {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "X509 CRL" {
			continue
		}
		l, err := x509.ParseRevocationList(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: PEM block %d: %w", path, n, err)
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		l, err := x509.ParseRevocationList(b)
		if err != nil {
			return nil, fmt.Errorf("%s: neither a PEM nor a DER CRL: %w", path, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// maxFile bounds the certificate and CRL files read (a national CA's CRL runs to megabytes).
const maxFile = 64 << 20

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxFile {
		return nil, fmt.Errorf("%s: over the limit of %d bytes", path, maxFile)
	}
	return b, nil
}
