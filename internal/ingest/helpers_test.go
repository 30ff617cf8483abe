package ingest_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/ingest"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/postgres"
	"github.com/akciz/akciz/internal/store/sqlite"
	"github.com/akciz/akciz/internal/store/storetest"
	"github.com/akciz/akciz/internal/wire"
)

// validEIK gives the n-th valid 9-digit EIK from a fixed start.
func validEIK(t testing.TB, n int) string {
	t.Helper()
	for v := 131000000; v < 132000000; v++ {
		if s := strconv.Itoa(v); core.ValidEIK(s) {
			if n == 0 {
				return s
			}
			n--
		}
	}
	t.Fatal("no valid EIK")
	return ""
}

// opener opens the same store again (a restart) or a new one.
type opener func(t testing.TB) store.Store

func sqliteOpener(t testing.TB) opener {
	path := t.TempDir() + "/akciz.db"
	return func(t testing.TB) store.Store {
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// postgresOpener makes a private schema on the test server (AKCIZ_TEST_POSTGRES, else the machine's own
// PostgreSQL) and opens stores in it; without a server it skips t.
func postgresOpener(t testing.TB) opener {
	dsn := pgSchema(t)
	return func(t testing.TB) store.Store {
		s, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func pgSchema(t testing.TB) string { return storetest.PostgresSchema(t, "akciz_ingest_") }

// ca is a test certificate authority.
type ca struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var oidOrgID = asn1.ObjectIdentifier{2, 5, 4, 97}

func newCA(t testing.TB, name string) *ca {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: now.AddDate(-5, 0, 0), NotAfter: now.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &ca{cert: c, key: k}
}

var serials = big.NewInt(100)

// issue makes a certificate for key naming eik (none when empty), valid in [nb, na].
func (c *ca) issue(t testing.TB, key crypto.Signer, cn, eik string, nb, na time.Time) *x509.Certificate {
	t.Helper()
	serials.Add(serials, big.NewInt(1))
	subj := pkix.Name{CommonName: cn, Organization: []string{"Нефтена база ЕООД"}}
	if eik != "" {
		subj.ExtraNames = []pkix.AttributeTypeAndValue{{Type: oidOrgID, Value: "NTRBG-" + eik}}
	}
	tmpl := &x509.Certificate{SerialNumber: new(big.Int).Set(serials), Subject: subj, NotBefore: nb, NotAfter: na,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"}, IPAddresses: nil}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), c.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func (c *ca) crl(t testing.TB, revoked ...*x509.Certificate) *x509.RevocationList {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, r := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: r.SerialNumber, RevocationTime: time.Now().Add(-time.Hour)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1),
		ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(24 * time.Hour),
		RevokedCertificateEntries: entries}, c.cert, c.key)
	if err != nil {
		t.Fatal(err)
	}
	l, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func ecKey(t testing.TB) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var rsaOnce crypto.Signer

func rsaKey(t testing.TB) crypto.Signer {
	if rsaOnce == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		rsaOnce = k
	}
	return rsaOnce
}

// identity is a key with its certificate: an operator's (signing and TLS client) credentials.
type identity struct {
	key  crypto.Signer
	cert *x509.Certificate
}

func (id identity) tls() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{id.cert.Raw}, PrivateKey: id.key, Leaf: id.cert}
}

// agent makes a device's chain of records and its signed batches, as akciz agent would.
type agent struct {
	device    string
	signer    identity
	seq       uint64
	prev      wire.Hash
	prevBatch wire.Hash
	at        time.Time
}

func newAgent(device string, signer identity) *agent {
	return &agent{device: device, signer: signer, at: core.Stamp(time.Now().Add(-time.Hour))}
}

// record gives the next record: a reading of a fuel depot's meter (a few tags), every 7th an event.
func (a *agent) record(t testing.TB) []byte {
	a.seq++
	a.at = a.at.Add(10 * time.Second)
	r := &core.Record{Kind: core.KindReading, Time: a.at, Device: a.device, Point: a.device + "001",
		Config: "5f0c6b8a0d9d8e7c6b5a49382716f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4"}
	if a.seq%7 == 0 {
		r.Kind, r.Point = core.KindEvent, ""
		r.Event = &core.Event{Kind: core.EventDoorOpened, Tag: "DOOR1"}
	} else {
		r.Reading = &core.Reading{Values: []core.Value{
			{Tag: "FT101.TotalVolume", Role: core.RoleTotalVolume, Value: core.Decimal(fmt.Sprintf("%d.%03d", 1234567+a.seq*42, a.seq%1000)), Unit: "L"},
			{Tag: "FT101.Flow", Role: core.RoleFlow, Value: core.Decimal(fmt.Sprintf("%d.5", 40+a.seq%5)), Unit: "m3/h"},
			{Tag: "TT101", Role: core.RoleTemperature, Value: "12.25", Unit: "degC"},
			{Tag: "DT101.D15", Role: core.RoleDensity15, Value: "835.1", Unit: "kg/m3"},
		}}
	}
	b, err := wire.EncodeRecord(a.seq, a.prev, r)
	if err != nil {
		t.Fatal(err)
	}
	a.prev = wire.ChainHash(b)
	return b
}

func (a *agent) records(t testing.TB, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = a.record(t)
	}
	return out
}

// sign makes the signed header of records after a's previous batch, and moves the batch chain on.
func (a *agent) sign(t testing.TB, records [][]byte) *wire.Header {
	t.Helper()
	h, err := wire.NewBatch(a.device, a.prevBatch, core.Stamp(time.Now()), records)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Sign(a.signer.key, []*x509.Certificate{a.signer.cert}); err != nil {
		t.Fatal(err)
	}
	a.prevBatch = h.Digest()
	return h
}

func encode(t testing.TB, h *wire.Header, records [][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := wire.WriteBatch(&buf, h, records); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// batch makes the next batch of n records.
func (a *agent) batch(t testing.TB, n int) ([]byte, *wire.Header) {
	recs := a.records(t, n)
	h := a.sign(t, recs)
	return encode(t, h, recs), h
}

// clone copies the agent's state (to make a rival batch from the same point).
func (a *agent) clone() *agent { c := *a; return &c }

// server runs the ingest API over real TLS on 127.0.0.1.
type server struct {
	srv   *httptest.Server
	ing   *ingest.Server
	log   *ingest.Log
	store store.Store
	ca    *ca // issued the server's TLS certificate
}

func startServer(t testing.TB, s store.Store, dir string, cfg ingest.Config) *server {
	t.Helper()
	l, _, err := ingest.OpenLog(dir, ingest.DefaultOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Check(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Log = s, l
	if cfg.Trust == nil {
		tr, err := ingest.NewTrust(context.Background(), s, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Trust = tr
	}
	ing, err := ingest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tlsCA := newCA(t, "TLS test CA")
	k := ecKey(t)
	cert := tlsCA.issue(t, k, "localhost", "", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	srv := httptest.NewUnstartedServer(ing.Handler())
	srv.TLS = ingest.TLSConfig(tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: k})
	srv.StartTLS()
	sv := &server{srv: srv, ing: ing, log: l, store: s, ca: tlsCA}
	t.Cleanup(sv.close)
	return sv
}

func (sv *server) close() {
	sv.srv.Close()
	sv.ing.Close(context.Background())
}

// client gives an HTTPS client presenting id (none when id.cert is nil) and trusting the server's CA.
func (sv *server) client(id identity) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(sv.ca.cert)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13, ServerName: "localhost"}
	if id.cert != nil {
		cfg.Certificates = []tls.Certificate{id.tls()}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}
}

// answer is what the server said to a POST.
type answer struct {
	status  int
	receipt *wire.Receipt
	problem wire.Problem
	raw     []byte
}

func post(t testing.TB, c *http.Client, url string, body []byte, treeSize int64) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+wire.BatchesPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", wire.BatchType)
	if treeSize > 0 {
		req.Header.Set(wire.TreeSizeHeader, strconv.FormatInt(treeSize, 10))
	}
	return do(t, c, req)
}

func do(t testing.TB, c *http.Client, req *http.Request) answer {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, raw: b}
	switch resp.Header.Get("Content-Type") {
	case wire.ReceiptType:
		r, err := wire.ParseReceipt(b)
		if err != nil {
			t.Fatalf("receipt: %v\n%s", err, b)
		}
		a.receipt = r
	case wire.ProblemType:
		if err := json.Unmarshal(b, &a.problem); err != nil {
			t.Fatalf("problem: %v\n%s", err, b)
		}
	}
	return a
}

// registry fills the store with an operator, a live site and devices for it.
func registry(t testing.TB, s store.Store, eik, warehouse string, devices ...string) {
	t.Helper()
	ctx := context.Background()
	must(t, s.PutOperator(ctx, store.Operator{EIK: eik, Name: "Оператор " + eik}))
	must(t, s.PutSite(ctx, store.Site{Warehouse: warehouse, Operator: eik, Name: "Склад " + warehouse, State: store.SiteLive}))
	for _, d := range devices {
		must(t, s.PutDevice(ctx, store.Device{ID: d, Name: "ИКУНК " + d}))
	}
}

func registerCert(t testing.TB, s store.Store, eik string, c *x509.Certificate) {
	t.Helper()
	must(t, s.PutCertificate(context.Background(), store.Certificate{Fingerprint: store.Fingerprint(c.Raw), DER: c.Raw,
		Operator: eik, Subject: c.Subject.String(), NotBefore: c.NotBefore, NotAfter: c.NotAfter}))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func countRecords(t testing.TB, s store.Store, device string) int {
	t.Helper()
	n := 0
	must(t, s.Records(context.Background(), device, 1, 1<<40, func(*store.Row) error { n++; return nil }))
	return n
}
