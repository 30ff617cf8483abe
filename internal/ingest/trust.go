package ingest

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"sort"
	"sync"
	"sync/atomic"
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
// A certificate revoked in the store, or any certificate of its chain (the leaf or a CA above it) listed
// in a loaded CRL, is refused, whatever the time of the batch (a stolen key can sign with any created
// time). A chain that a CRL past its nextUpdate covers is refused too (fail closed: the server cannot
// tell whether it is revoked). Results for known certificates are cached per certificate fingerprint, so
// that a chain is built once and each batch costs one signature verification; refusals of unknown
// certificates are not (see resolve).
//
// The anchors and CRLs form one trust state, replaced as a whole by Reload (SIGHUP, or a changed file:
// Watch); the cache never outlives the state it was computed under.
type Trust struct {
	store store.Store
	now   func() time.Time

	state    atomic.Pointer[trustState]
	reloadMu sync.Mutex // one reload at a time

	mu      sync.Mutex
	cache   map[store.Hash]*identity
	cas     map[store.Hash]*x509.Certificate // intermediate CAs seen in chains verified to an anchor
	logger  *log.Logger
	stale   map[string]uint64 // CRL issuers whose staleness was logged, with the state generation
	metrics trustMetrics

	// afterRefresh, when set (tests), is called after each event Watch handled.
	afterRefresh func(changed bool, err error)
}

type trustMetrics struct {
	reloads, reloadFailures, staleRefusals, revokedRefusals atomic.Int64
}

// trustState is what the anchors and CRLs say, as one immutable value.
type trustState struct {
	gen     uint64
	roots   *x509.CertPool // nil when there is no anchor
	anchors []*x509.Certificate
	revoked map[revKey]time.Time
	crls    map[string]*crlInfo // by the issuer's raw subject: the newest CRL of each issuer
}

// crlInfo is what the server keeps of a loaded CRL besides its entries.
type crlInfo struct {
	issuer     string // the issuer's name, for people
	thisUpdate time.Time
	nextUpdate time.Time // zero: the CRL names none (it is never stale)
	entries    int
}

// staleAt reports whether the CRL is past its nextUpdate at now.
func (c *crlInfo) staleAt(now time.Time) bool {
	return !c.nextUpdate.IsZero() && now.After(c.nextUpdate)
}

var generations atomic.Uint64

// sweepAt is the size of the certificate cache at which expired entries are dropped.
const sweepAt = 1024

type revKey struct {
	issuer string // the issuer's raw subject
	serial string // decimal serial number
}

// identity is what Trust learnt of a certificate under one trust state.
type identity struct {
	gen        uint64 // the trust state it was computed under
	operator   string
	registered bool      // found in the store (or registered since)
	notBefore  time.Time // the window in which the certificate and its chain are valid
	notAfter   time.Time
	revoked    bool
	revokedAt  time.Time
	revokedCA  *x509.Certificate // the CA of the chain that a CRL revokes (nil: the leaf itself)
	issuers    []string          // the raw issuers of the chain's certificates: the CRLs that cover it
	err        *wire.Error
	expires    time.Time // when to look again
}

// NewTrust makes a Trust from the store's registry and trust anchors, the anchors given (the --ca file)
// and certificate revocation lists (the --crl file), each of which must be signed by one of the anchors.
func NewTrust(ctx context.Context, s store.Store, anchors []*x509.Certificate, crls []*x509.RevocationList) (*Trust, error) {
	t := &Trust{store: s, now: time.Now, cache: map[store.Hash]*identity{}, stale: map[string]uint64{},
		cas: map[store.Hash]*x509.Certificate{}}
	st, err := t.build(ctx, anchors, crls, nil)
	if err != nil {
		return nil, err
	}
	t.state.Store(st)
	t.checkStale(t.now())
	return t, nil
}

// setLogger sends the trust's operator messages (reloads, stale CRLs) to l, unless one was set before
// (ingest.New gives the server's logger to a Trust that has none).
func (t *Trust) setLogger(l *log.Logger) {
	t.mu.Lock()
	if t.logger == nil {
		t.logger = l
	}
	t.mu.Unlock()
}

func (t *Trust) logf(format string, args ...any) {
	t.mu.Lock()
	l := t.logger
	t.mu.Unlock()
	if l == nil {
		l = log.New(os.Stderr, "akciz server: ", log.LstdFlags|log.LUTC)
	}
	l.Printf(format, args...)
}

// build makes a trust state from the anchors given, the store's anchors and the CRLs. With prev (a
// reload), a CRL older than the one of the same issuer in prev is refused: replacing the file with an old
// list must not bring a revoked certificate back.
func (t *Trust) build(ctx context.Context, anchors []*x509.Certificate, crls []*x509.RevocationList, prev *trustState) (*trustState, error) {
	st := &trustState{gen: generations.Add(1), revoked: map[revKey]time.Time{}, crls: map[string]*crlInfo{}}
	stored, err := t.store.TrustAnchors(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest: trust anchors: %w", err)
	}
	all := append([]*x509.Certificate(nil), anchors...)
	for _, a := range stored {
		c, err := x509.ParseCertificate(a.DER)
		if err != nil {
			return nil, fmt.Errorf("ingest: stored trust anchor %s: %w", a.Fingerprint, err)
		}
		all = append(all, c)
	}
	st.anchors = all
	if len(all) > 0 {
		st.roots = x509.NewCertPool()
		for _, a := range all {
			st.roots.AddCert(a)
		}
	}
	for i, l := range crls {
		var signer *x509.Certificate
		for _, a := range all {
			if bytes.Equal(a.RawSubject, l.RawIssuer) && l.CheckSignatureFrom(a) == nil {
				signer = a
				break
			}
		}
		if signer == nil {
			return nil, fmt.Errorf("ingest: CRL %d (issuer %s): not signed by a trust anchor", i+1, l.Issuer)
		}
		key := string(l.RawIssuer)
		if prev != nil {
			if old, ok := prev.crls[key]; ok && l.ThisUpdate.Before(old.thisUpdate) {
				return nil, fmt.Errorf("ingest: CRL %d (issuer %s): issued %s, older than the one in use (%s)", i+1, l.Issuer,
					l.ThisUpdate.UTC().Format(time.RFC3339), old.thisUpdate.UTC().Format(time.RFC3339))
			}
		}
		if old, ok := st.crls[key]; !ok || l.ThisUpdate.After(old.thisUpdate) {
			st.crls[key] = &crlInfo{issuer: l.Issuer.String(), thisUpdate: l.ThisUpdate, nextUpdate: l.NextUpdate,
				entries: len(l.RevokedCertificateEntries)}
		}
		// Revocation is for good: every list's entries count, whichever list of the issuer is newest.
		for _, e := range l.RevokedCertificateEntries {
			k := revKey{key, e.SerialNumber.String()}
			if when, ok := st.revoked[k]; !ok || e.RevocationTime.Before(when) {
				st.revoked[k] = e.RevocationTime
			}
		}
	}
	return st, nil
}

// Reload replaces the trust state with one made of anchors, the store's anchors (so that `akciz server
// anchor add` takes effect) and crls, and forgets every cached certificate result. On error the state
// in use stays as it was.
func (t *Trust) Reload(ctx context.Context, anchors []*x509.Certificate, crls []*x509.RevocationList) error {
	t.reloadMu.Lock()
	defer t.reloadMu.Unlock()
	st, err := t.build(ctx, anchors, crls, t.state.Load())
	if err != nil {
		t.metrics.reloadFailures.Add(1)
		return err
	}
	t.mu.Lock()
	t.state.Store(st)
	clear(t.cache)
	t.mu.Unlock()
	t.metrics.reloads.Add(1)
	t.checkStale(t.now())
	return nil
}

// Anchors is the number of trust anchors in use.
func (t *Trust) Anchors() int {
	return len(t.state.Load().anchors)
}

// CRLs is the number of issuers whose revocation lists are in use.
func (t *Trust) CRLs() int {
	return len(t.state.Load().crls)
}

// checkStale logs, once per trust state, each CRL that is past its nextUpdate at now: the operators must
// see it before the agents' alarms tell them.
func (t *Trust) checkStale(now time.Time) {
	st := t.state.Load()
	for key, c := range st.crls {
		if !c.staleAt(now) {
			continue
		}
		t.mu.Lock()
		logged := t.stale[key] == st.gen
		t.stale[key] = st.gen
		t.mu.Unlock()
		if !logged {
			t.logf("CRL of %s is out of date: its nextUpdate %s has passed; batches signed with certificates it covers are refused (unknown-certificate) until a current CRL is loaded (--crl, then SIGHUP or wait for the periodic re-read)",
				c.issuer, c.nextUpdate.UTC().Format(time.RFC3339))
		}
	}
}

// staleFor gives the out-of-date CRL (at now) that covers a chain with these issuers, or nil.
func (st *trustState) staleFor(issuers []string, now time.Time) *crlInfo {
	for _, is := range issuers {
		if c, ok := st.crls[is]; ok && c.staleAt(now) {
			return c
		}
	}
	return nil
}

// Identify gives the operator of the certificate leaf (with intermediates, DER, as a batch header or a
// TLS handshake carries them) for something it signed or presented at time at.
func (t *Trust) Identify(ctx context.Context, leaf *x509.Certificate, intermediates [][]byte, at time.Time) (string, error) {
	st := t.state.Load()
	id, err := t.lookup(ctx, st, leaf, intermediates, at)
	if err != nil {
		return "", err
	}
	if id.err != nil {
		return "", id.err
	}
	if id.revoked {
		t.metrics.revokedRefusals.Add(1)
		when := id.revokedAt.UTC().Format(time.RFC3339)
		if id.revokedCA != nil {
			return "", &wire.Error{Code: wire.CodeUnknownCertificate, Msg: i18n.M("ingest.cert.ca_revoked",
				leaf.Subject.CommonName, id.revokedCA.Subject.CommonName, id.revokedCA.SerialNumber.String(), when)}
		}
		return "", &wire.Error{Code: wire.CodeUnknownCertificate, Msg: i18n.M("ingest.cert.revoked",
			leaf.Subject.CommonName, leaf.SerialNumber.String(), when)}
	}
	now := t.now()
	if c := st.staleFor(id.issuers, now); c != nil {
		t.metrics.staleRefusals.Add(1)
		t.checkStale(now)
		return "", &wire.Error{Code: wire.CodeUnknownCertificate, Msg: i18n.M("ingest.cert.crl_stale",
			leaf.Subject.CommonName, c.issuer, c.nextUpdate.UTC().Format(time.RFC3339))}
	}
	if at.Before(id.notBefore) || at.After(id.notAfter) {
		return "", &wire.Error{Code: wire.CodeExpiredCertificate, Msg: i18n.M("ingest.cert.expired",
			leaf.Subject.CommonName, leaf.SerialNumber.String(), at.UTC().Format(time.RFC3339), id.notBefore.UTC().Format(time.RFC3339), id.notAfter.UTC().Format(time.RFC3339))}
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

func (t *Trust) lookup(ctx context.Context, st *trustState, leaf *x509.Certificate, intermediates [][]byte, at time.Time) (*identity, error) {
	fp := store.Fingerprint(leaf.Raw)
	now := t.now()
	t.mu.Lock()
	id, ok := t.cache[fp]
	t.mu.Unlock()
	if ok && id.gen == st.gen && now.Before(id.expires) {
		return id, nil
	}
	id, cacheable, err := t.resolve(ctx, st, leaf, intermediates, at)
	if err != nil {
		return nil, err
	}
	if cacheable {
		id.gen, id.expires = st.gen, now.Add(registryTTL)
		t.mu.Lock()
		// A reload that happened meanwhile cleared the cache for a newer state: do not put back a result
		// of the old one.
		if t.state.Load() == st {
			if len(t.cache) >= sweepAt {
				// Only registered or anchor-vouched certificates get here, so the cache is bounded by the
				// certificates in use; expired entries are dropped so that it does not keep every one ever seen.
				for k, v := range t.cache {
					if !now.Before(v.expires) || v.gen != st.gen {
						delete(t.cache, k)
					}
				}
			}
			t.cache[fp] = id
		}
		t.mu.Unlock()
	}
	return id, nil
}

// resolve applies the rule of Trust under the state st. An answer that depends on the time at (a chain
// not valid then) is not cacheable, and neither is a refusal of a certificate that is neither registered
// nor vouched for by an anchor with a registered operator: anyone can present such certificates, as many
// as they like, before logging in (a TLS client certificate), so caching them would let a stranger fill
// the memory with entries that keep the stranger's own text.
func (t *Trust) resolve(ctx context.Context, st *trustState, leaf *x509.Certificate, intermediates [][]byte, at time.Time) (*identity, bool, error) {
	fp := store.Fingerprint(leaf.Raw)
	id := &identity{notBefore: leaf.NotBefore, notAfter: leaf.NotAfter}
	var inter []*x509.Certificate
	for _, der := range intermediates {
		if c, err := x509.ParseCertificate(der); err == nil {
			inter = append(inter, c)
		}
	}
	var chains [][]*x509.Certificate
	reg, err := t.store.Certificate(ctx, fp)
	switch {
	case err == nil:
		id.operator, id.registered, id.revokedAt, id.revoked = reg.Operator, true, reg.Revoked, !reg.Revoked.IsZero()
		// A registration needs no CA, but where the certificate's issuers are known (the chain it came
		// with, the anchors) their revocation still counts: a CRL that revokes its CA revokes it.
		chains = [][]*x509.Certificate{issuerPath(leaf, append(append(inter, st.anchors...), t.knownCAs()...))}
	case !errors.Is(err, store.ErrNotFound):
		return nil, false, err
	case st.roots == nil:
		id.err = &wire.Error{Code: wire.CodeUnknownCertificate, Msg: i18n.M("ingest.cert.unregistered",
			leaf.Subject.CommonName, fp.String())}
		return id, false, nil
	default:
		pool := x509.NewCertPool()
		for _, c := range inter {
			pool.AddCert(c)
		}
		chains, err = leaf.Verify(x509.VerifyOptions{Roots: st.roots, Intermediates: pool, CurrentTime: at,
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
		t.rememberCAs(chains)
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
	// The CRLs name certificates by issuer and serial: the leaf and every CA of its chain. Of several
	// chains (cross-signed CAs) the first with nothing revoked is the one; if every chain has a revoked
	// certificate, the earliest revocation of the first chain is the answer.
	chain := chains[0]
	var revokedAt time.Time
	var revokedCert *x509.Certificate
	for i, c := range chains {
		when, which := st.revocation(c)
		if which == nil {
			chain, revokedCert = c, nil
			break
		}
		if i == 0 {
			revokedAt, revokedCert = when, which
		}
	}
	if revokedCert != nil {
		if !id.revoked || revokedAt.Before(id.revokedAt) {
			id.revokedAt = revokedAt
			if revokedCert != leaf {
				id.revokedCA = revokedCert
			}
		}
		id.revoked = true
	}
	for _, c := range chain {
		id.issuers = append(id.issuers, string(c.RawIssuer))
	}
	if !id.registered {
		for _, c := range chain[1:] {
			if c.NotBefore.After(id.notBefore) {
				id.notBefore = c.NotBefore
			}
			if c.NotAfter.Before(id.notAfter) {
				id.notAfter = c.NotAfter
			}
		}
	}
	return id, true, nil
}

// maxCAs bounds the intermediate CAs remembered (only CAs in chains verified to an anchor are, so the
// bound is never reached by the CAs of real anchors).
const maxCAs = 1024

// rememberCAs keeps the intermediate CAs of verified chains, so that a certificate registered through an
// anchor and later presented without its chain is still linked to its CA's revocation.
func (t *Trust) rememberCAs(chains [][]*x509.Certificate) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, chain := range chains {
		if len(chain) < 3 {
			continue // the leaf and its anchor, or the leaf is an anchor itself: no intermediate
		}
		for _, c := range chain[1 : len(chain)-1] {
			if len(t.cas) < maxCAs {
				t.cas[store.Fingerprint(c.Raw)] = c
			}
		}
	}
}

func (t *Trust) knownCAs() []*x509.Certificate {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*x509.Certificate, 0, len(t.cas))
	for _, c := range t.cas {
		out = append(out, c)
	}
	return out
}

// revocation gives the earliest revocation of a certificate of chain by the CRLs, and that certificate
// (nil when none is revoked).
func (st *trustState) revocation(chain []*x509.Certificate) (time.Time, *x509.Certificate) {
	var at time.Time
	var which *x509.Certificate
	for _, c := range chain {
		if when, ok := st.revoked[revKey{string(c.RawIssuer), c.SerialNumber.String()}]; ok && (which == nil || when.Before(at)) {
			at, which = when, c
		}
	}
	return at, which
}

// maxChain bounds the issuer path of a registered certificate.
const maxChain = 8

// issuerPath gives leaf and the CAs above it found among candidates: each the one whose subject is the
// issuer's name and whose key verifies the signature. It stops at a self-issued certificate or where no
// issuer is known; no validity or usage is judged (a registration needs no chain; this only finds the CAs
// whose revocation must count).
func issuerPath(leaf *x509.Certificate, candidates []*x509.Certificate) []*x509.Certificate {
	chain := []*x509.Certificate{leaf}
	for cur := leaf; len(chain) < maxChain && !bytes.Equal(cur.RawIssuer, cur.RawSubject); {
		var next *x509.Certificate
		for _, c := range candidates {
			if bytes.Equal(c.RawSubject, cur.RawIssuer) && !inChain(chain, c) && cur.CheckSignatureFrom(c) == nil {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		chain, cur = append(chain, next), next
	}
	return chain
}

func inChain(chain []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range chain {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

// TrustFiles are the trust anchors' and revocation lists' files (--ca, --crl; either may be empty), as
// last read.
type TrustFiles struct {
	CA, CRL string
	seen    [2]fileStamp
}

type fileStamp struct {
	size  int64
	mtime time.Time
}

func stamp(path string) fileStamp {
	if path == "" {
		return fileStamp{}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{size: -1}
	}
	return fileStamp{size: fi.Size(), mtime: fi.ModTime()}
}

// Read reads the files (and notes their size and time, for Changed).
func (f *TrustFiles) Read() ([]*x509.Certificate, []*x509.RevocationList, error) {
	seen := [2]fileStamp{stamp(f.CA), stamp(f.CRL)}
	var anchors []*x509.Certificate
	var crls []*x509.RevocationList
	var err error
	if f.CA != "" {
		if anchors, err = ReadCertificates(f.CA); err != nil {
			return nil, nil, err
		}
	}
	if f.CRL != "" {
		if crls, err = ReadCRLs(f.CRL); err != nil {
			return nil, nil, err
		}
	}
	f.seen = seen
	return anchors, crls, nil
}

// Changed reports whether a file's size or modification time differs from when it was last read.
func (f *TrustFiles) Changed() bool {
	return stamp(f.CA) != f.seen[0] || stamp(f.CRL) != f.seen[1]
}

// Refresh re-reads the files when force is set or they changed, and reloads the trust state from them.
// changed says a new state is in use; on error the state in use stays.
func (t *Trust) Refresh(ctx context.Context, f *TrustFiles, force bool) (changed bool, err error) {
	if !force && !f.Changed() {
		return false, nil
	}
	anchors, crls, err := f.Read()
	if err != nil {
		t.metrics.reloadFailures.Add(1)
		return false, err
	}
	if err := t.Reload(ctx, anchors, crls); err != nil {
		return false, err
	}
	return true, nil
}

// Watch keeps the trust state current until ctx ends: on hup (SIGHUP) it re-reads the files, on tick it
// re-reads those whose size or time changed and logs revocation lists that went out of date. A file
// that does not read, or a state that does not build (a CRL not signed by an anchor, or older than the
// one in use), is logged and the state in use is kept.
func (t *Trust) Watch(ctx context.Context, f *TrustFiles, tick <-chan time.Time, hup <-chan struct{}) {
	for {
		force := false
		select {
		case <-ctx.Done():
			return
		case <-tick:
		case <-hup:
			force = true
		}
		changed, err := t.Refresh(ctx, f, force)
		switch {
		case err != nil:
			t.logf("trust anchors and CRLs not reloaded, the previous ones stay in use: %v", err)
		case changed:
			t.logf("trust anchors and CRLs reloaded: %d anchors, CRLs of %d issuers", t.Anchors(), t.CRLs())
		}
		t.checkStale(t.now())
		if t.afterRefresh != nil {
			t.afterRefresh(changed, err)
		}
	}
}

// writeMetrics writes the trust's figures in the Prometheus text format.
func (t *Trust) writeMetrics(w io.Writer) {
	st, now := t.state.Load(), t.now()
	fmt.Fprintf(w, "# HELP akciz_server_trust_anchors Trust anchors in use.\n# TYPE akciz_server_trust_anchors gauge\nakciz_server_trust_anchors %d\n", len(st.anchors))
	fmt.Fprintf(w, "# HELP akciz_server_trust_reloads_total Reloads of the trust anchors and CRLs, by result.\n# TYPE akciz_server_trust_reloads_total counter\n")
	fmt.Fprintf(w, "akciz_server_trust_reloads_total{result=\"ok\"} %d\nakciz_server_trust_reloads_total{result=\"failed\"} %d\n",
		t.metrics.reloads.Load(), t.metrics.reloadFailures.Load())
	keys := make([]string, 0, len(st.crls))
	for k := range st.crls {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return st.crls[keys[i]].issuer < st.crls[keys[j]].issuer })
	fmt.Fprintf(w, "# HELP akciz_server_crl_next_update_seconds When each CRL in use must be replaced (Unix time; 0: never).\n# TYPE akciz_server_crl_next_update_seconds gauge\n")
	for _, k := range keys {
		c := st.crls[k]
		var nu int64
		if !c.nextUpdate.IsZero() {
			nu = c.nextUpdate.Unix()
		}
		fmt.Fprintf(w, "akciz_server_crl_next_update_seconds{issuer=%q} %d\n", c.issuer, nu)
	}
	fmt.Fprintf(w, "# HELP akciz_server_crl_stale 1 while a CRL in use is past its nextUpdate (the chains it covers are refused).\n# TYPE akciz_server_crl_stale gauge\n")
	for _, k := range keys {
		c := st.crls[k]
		v := 0
		if c.staleAt(now) {
			v = 1
		}
		fmt.Fprintf(w, "akciz_server_crl_stale{issuer=%q} %d\n", c.issuer, v)
	}
	fmt.Fprintf(w, "# HELP akciz_server_certificate_refusals_total Certificates refused for revocation or an out-of-date CRL.\n# TYPE akciz_server_certificate_refusals_total counter\n")
	fmt.Fprintf(w, "akciz_server_certificate_refusals_total{reason=\"revoked\"} %d\nakciz_server_certificate_refusals_total{reason=\"crl-stale\"} %d\n",
		t.metrics.revokedRefusals.Load(), t.metrics.staleRefusals.Load())
}

// ReadCertificates reads PEM certificates (a CA bundle, an operator's certificate) from a file.
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	b, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	return parseCertificates(path, b)
}

func parseCertificates(path string, b []byte) ([]*x509.Certificate, error) {
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
	return parseCRLs(path, b)
}

func parseCRLs(path string, b []byte) ([]*x509.RevocationList, error) {
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
