package deliver

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/wire"
)

// standIn is a stand-in for akciz server's intake: it decodes and verifies batches with package wire,
// keeps every accepted record of one device in memory, appends batch digests to an RFC 6962 log and
// answers receipts, as docs/protocol.md says.
type standIn struct {
	t      testing.TB
	roots  *x509.CertPool
	signer note.Signer
	keys   note.Verifiers

	mu       sync.Mutex
	tip      wire.Tip
	records  [][]byte           // accepted records, in order; records[i] has seq i+1
	accepted map[uint64]acceptN // by first seq
	hashes   []tlog.Hash
	n        int64

	down       bool // answer every request 503
	badReceipt bool // corrupt the inclusion proof of receipts
	maxRecords int  // answer too-large above it
	refuse     wire.Code
	posts      int
	created    time.Time // of the last accepted batch: like ingest, refuse a batch dated before it
	// noTipCreated leaves created out of the tip answer, as a server before it was added did.
	noTipCreated bool
}

type acceptN struct {
	h     *wire.Header
	index int64
}

func newStandIn(t testing.TB, roots *x509.CertPool) *standIn {
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
	return &standIn{t: t, roots: roots, signer: s, keys: note.VerifierList(v), accepted: map[uint64]acceptN{}}
}

func (l *standIn) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(l.hashes)) {
			return nil, errors.New("no such hash")
		}
		out[i] = l.hashes[x]
	}
	return out, nil
}

func (l *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == wire.BatchesPath:
		l.posts++
		l.batch(w, r)
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/tip"):
		tip := map[string]any{"seq": l.tip.Seq, "chain": l.tip.Chain, "batch": l.tip.Batch}
		if !l.created.IsZero() && !l.noTipCreated {
			tip["created"] = l.created.UTC().Format(time.RFC3339Nano)
		}
		json.NewEncoder(w).Encode(tip)
	default:
		http.NotFound(w, r)
	}
}

func (l *standIn) problem(w http.ResponseWriter, err error, expected uint64) {
	p := wire.ProblemFor(err, "", i18n.For("en"))
	p.Expected = expected
	w.Header().Set("Content-Type", wire.ProblemType)
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

func (l *standIn) batch(w http.ResponseWriter, r *http.Request) {
	if l.refuse != "" {
		l.problem(w, &wire.Error{Code: l.refuse}, 0)
		return
	}
	var recs [][]byte
	var again *acceptN
	h, err := wire.DecodeBatch(r.Body, wire.DecodeOptions{Verify: &wire.VerifyOptions{Roots: l.roots},
		Header: func(h *wire.Header) error {
			if a, ok := l.accepted[h.First]; ok && a.h.Last == h.Last && a.h.Digest() == h.Digest() {
				again = &a
				return errStop
			}
			if l.maxRecords > 0 && int(h.Count) > l.maxRecords {
				return &wire.Error{Code: wire.CodeTooLarge, Seq: h.First}
			}
			if err := l.tip.Check(h); err != nil {
				return err
			}
			if h.Created.Before(l.created) {
				return &wire.Error{Code: wire.CodeMalformed, Seq: h.First}
			}
			return nil
		}}, func(e *wire.Entry) error {
		recs = append(recs, bytes.Clone(e.Raw))
		return nil
	})
	known, _ := strconv.ParseInt(r.Header.Get(wire.TreeSizeHeader), 10, 64)
	if again != nil {
		l.receipt(w, http.StatusOK, again.h, again.index, known)
		return
	}
	if err != nil {
		l.problem(w, err, l.tip.Seq+1)
		return
	}
	l.records = append(l.records, recs...)
	l.tip = l.tip.Next(h)
	l.created = h.Created
	hs, err := tlog.StoredHashes(l.n, wire.LeafData(h.Digest()), l)
	if err != nil {
		l.t.Error(err)
	}
	l.hashes = append(l.hashes, hs...)
	l.n++
	l.accepted[h.First] = acceptN{h: h, index: l.n - 1}
	l.receipt(w, http.StatusCreated, h, l.n-1, known)
}

func (l *standIn) receipt(w http.ResponseWriter, status int, h *wire.Header, idx, known int64) {
	root, err := tlog.TreeHash(l.n, l)
	if err != nil {
		l.t.Error(err)
	}
	signed, err := wire.SignCheckpoint(wire.Checkpoint{Origin: "customs.test/akciz/v1", Size: l.n, Root: root}, l.signer)
	if err != nil {
		l.t.Error(err)
	}
	incl, err := tlog.ProveRecord(l.n, idx, l)
	if err != nil {
		l.t.Error(err)
	}
	rc := &wire.Receipt{Format: wire.ReceiptFormat, Version: wire.Version, Device: h.Device, First: h.First, Last: h.Last,
		Batch: h.Digest(), Received: time.Now().UTC().Truncate(time.Millisecond), Index: idx, Checkpoint: string(signed),
		Inclusion: wire.Hashes(incl)}
	if known > 0 && known <= l.n {
		cons, err := tlog.ProveTree(l.n, known, l)
		if err != nil {
			l.t.Error(err)
		}
		rc.ConsistencyFrom, rc.Consistency = known, wire.Hashes(cons)
	}
	if l.badReceipt && len(rc.Inclusion) > 0 {
		rc.Inclusion[0][0] ^= 1
	} else if l.badReceipt {
		rc.Index = l.n // outside the tree
	}
	w.Header().Set("Content-Type", wire.ReceiptType)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(rc)
}

func (l *standIn) snapshot() (wire.Tip, [][]byte, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tip, append([][]byte(nil), l.records...), l.posts
}

func (l *standIn) set(fn func(*standIn)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fn(l)
}

// testPKI is a CA, an operator's signing key and certificate, and a TLS server certificate.
type testPKI struct {
	roots  *x509.CertPool
	caCert *x509.Certificate
	caKey  crypto.Signer
	key    crypto.Signer
	cert   *x509.Certificate
}

var oidOrgID = []int{2, 5, 4, 97}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"},
		NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &testPKI{roots: x509.NewCertPool(), caCert: ca, caKey: caKey}
	p.roots.AddCert(ca)
	p.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.cert = p.issue(t, p.key.Public(), "ИКУНК "+testDevice, nil)
	return p
}

func (p *testPKI) issue(t testing.TB, pub crypto.PublicKey, cn string, dns []string) *x509.Certificate {
	t.Helper()
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn,
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidOrgID, Value: "NTRBG-175074752"}}},
		NotBefore: now.AddDate(0, -1, 0), NotAfter: now.AddDate(1, 0, 0), DNSNames: dns,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, pub, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// serve starts h on a TLS 1.3 server that demands a client certificate of the test CA, and gives a client
// that presents the operator's certificate.
func (p *testPKI) serve(t testing.TB, h http.Handler) (*httptest.Server, *http.Client) {
	t.Helper()
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvCert := p.issue(t, srvKey.Public(), "localhost", []string{"localhost"})
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS13, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.roots,
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvCert.Raw}, PrivateKey: srvKey}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: ClientTLS(p.roots, "localhost",
		tls.Certificate{Certificate: [][]byte{p.cert.Raw}, PrivateKey: p.key})}}
	t.Cleanup(client.CloseIdleConnections)
	return srv, client
}
