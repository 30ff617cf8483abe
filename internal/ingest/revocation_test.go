package ingest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/ingest"
	"github.com/akciz/akciz/internal/wire"
)

// sub makes an intermediate CA that c issued.
func (c *ca) sub(t testing.TB, name string) *ca {
	t.Helper()
	k := ecKey(t)
	serials.Add(serials, big.NewInt(1))
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: new(big.Int).Set(serials), Subject: pkix.Name{CommonName: name},
		NotBefore: now.AddDate(-3, 0, 0), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, k.Public(), c.key)
	must(t, err)
	cert, err := x509.ParseCertificate(der)
	must(t, err)
	return &ca{cert: cert, key: k}
}

// crlAt makes c's CRL issued at this (number n) and due again at next, revoking the certificates.
func (c *ca) crlAt(t testing.TB, n int64, this, next time.Time, revoked ...*x509.Certificate) *x509.RevocationList {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, r := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: r.SerialNumber, RevocationTime: this.Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(n),
		ThisUpdate: this, NextUpdate: next, RevokedCertificateEntries: entries}, c.cert, c.key)
	must(t, err)
	l, err := x509.ParseRevocationList(der)
	must(t, err)
	return l
}

func wantCode(t *testing.T, err error, code wire.Code, detail string) {
	t.Helper()
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
	if msg := i18n.For(i18n.EN).Msg(we.Msg); !strings.Contains(msg, detail) {
		t.Fatalf("detail %q, want it to say %q", msg, detail)
	}
}

// TestIntermediateRevoked: a certificate learnt through a trust anchor (and so registered by its first
// batch), and one registered by hand, are both refused once a CRL revokes the intermediate CA that issued
// them — at once, not when the cached result expires — and the answer names the CA.
func TestIntermediateRevoked(t *testing.T) {
	ctx := context.Background()
	s := sqliteOpener(t)(t)
	defer s.Close()
	eik := validEIK(t, 0)
	registry(t, s, eik, wh1, dev1)
	root := newCA(t, "Root CA")
	inter := root.sub(t, "Issuing CA 1")
	now := time.Now()
	learnt := identity{key: ecKey(t)}
	learnt.cert = inter.issue(t, learnt.key, "learnt card", eik, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	byHand := identity{key: ecKey(t)}
	byHand.cert = inter.issue(t, byHand.key, "registered card", eik, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	registerCert(t, s, eik, byHand.cert)
	chain := [][]byte{inter.cert.Raw}

	tr, err := ingest.NewTrust(ctx, s, []*x509.Certificate{root.cert}, []*x509.RevocationList{root.crlAt(t, 1, now.Add(-time.Hour), now.Add(24*time.Hour))})
	must(t, err)
	for _, id := range []identity{learnt, byHand} {
		if op, err := tr.Identify(ctx, id.cert, chain, now); err != nil || op != eik {
			t.Fatalf("%s before the revocation: %q %v", id.cert.Subject.CommonName, op, err)
		}
	}
	must(t, tr.Learn(ctx, learnt.cert, eik)) // as the first accepted batch does
	if op, err := tr.Identify(ctx, learnt.cert, chain, now); err != nil || op != eik {
		t.Fatalf("learnt, cached: %q %v", op, err)
	}

	must(t, tr.Reload(ctx, []*x509.Certificate{root.cert}, []*x509.RevocationList{root.crlAt(t, 2, now, now.Add(24*time.Hour), inter.cert)}))
	for _, id := range []identity{learnt, byHand} {
		_, err := tr.Identify(ctx, id.cert, chain, now)
		wantCode(t, err, wire.CodeUnknownCertificate, `certification authority "Issuing CA 1"`)
		// Without its chain too: the intermediate was seen in a verified chain.
		_, err = tr.Identify(ctx, id.cert, nil, now)
		wantCode(t, err, wire.CodeUnknownCertificate, `certification authority "Issuing CA 1"`)
	}
	// An intermediate in the --ca bundle is an anchor itself, and its revocation by the root still counts.
	must(t, tr.Reload(ctx, []*x509.Certificate{root.cert, inter.cert}, []*x509.RevocationList{root.crlAt(t, 3, now, now.Add(24*time.Hour), inter.cert)}))
	_, err = tr.Identify(ctx, byHand.cert, nil, now)
	wantCode(t, err, wire.CodeUnknownCertificate, "Issuing CA 1")
	// An anchor presented as a leaf is a chain of one.
	_, err = tr.Identify(ctx, inter.cert, nil, now)
	wantCode(t, err, wire.CodeUnknownCertificate, "names no legal person's EIK")

	// The leaf itself revoked by the intermediate's own CRL (the intermediate is an anchor, so its CRL
	// is accepted).
	must(t, tr.Reload(ctx, []*x509.Certificate{root.cert, inter.cert}, []*x509.RevocationList{
		root.crlAt(t, 4, now, now.Add(24*time.Hour)), inter.crlAt(t, 1, now, now.Add(24*time.Hour), learnt.cert)}))
	_, err = tr.Identify(ctx, learnt.cert, chain, now)
	wantCode(t, err, wire.CodeUnknownCertificate, `"learnt card" (serial `+learnt.cert.SerialNumber.String())
	if op, err := tr.Identify(ctx, byHand.cert, chain, now); err != nil || op != eik {
		t.Fatalf("a certificate not revoked: %q %v", op, err)
	}
}

// TestStaleCRL: a CRL past its nextUpdate refuses the chains it covers (fail closed), says so in the
// answer, in the log (once) and in the metrics; a certificate it does not cover is unaffected; a current
// CRL puts things right.
func TestStaleCRL(t *testing.T) {
	ctx := context.Background()
	s := sqliteOpener(t)(t)
	defer s.Close()
	eik := validEIK(t, 0)
	registry(t, s, eik, wh1, dev1)
	root := newCA(t, "Root CA")
	now := time.Now()
	covered := identity{key: ecKey(t)}
	covered.cert = root.issue(t, covered.key, "covered", eik, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	other := newCA(t, "CA without a CRL")
	free := identity{key: ecKey(t)}
	free.cert = other.issue(t, free.key, "not covered", eik, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	registerCert(t, s, eik, free.cert)

	clock := now
	var logbuf syncBuffer
	tr, err := ingest.NewTrust(ctx, s, []*x509.Certificate{root.cert}, []*x509.RevocationList{root.crlAt(t, 1, now.Add(-time.Hour), now.Add(24*time.Hour))})
	must(t, err)
	tr.SetNow(func() time.Time { return clock })
	tr.SetLogger(log.New(&logbuf, "", 0))
	ing := startServer(t, s, t.TempDir(), ingest.Config{Trust: tr}).ing
	if op, err := tr.Identify(ctx, covered.cert, nil, now); err != nil || op != eik {
		t.Fatalf("with a current CRL: %q %v", op, err)
	}
	clock = now.Add(25 * time.Hour) // past nextUpdate; the cached result must not hide it
	for range 2 {
		_, err = tr.Identify(ctx, covered.cert, nil, now)
		wantCode(t, err, wire.CodeUnknownCertificate, `the revocation list of "CN=Root CA" is out of date`)
	}
	if n := strings.Count(logbuf.String(), "CRL of CN=Root CA is out of date"); n != 1 {
		t.Errorf("log says it %d times, want once:\n%s", n, logbuf.String())
	}
	if op, err := tr.Identify(ctx, free.cert, nil, now); err != nil || op != eik {
		t.Errorf("a certificate no CRL covers: %q %v", op, err)
	}
	var m bytes.Buffer
	ing.WriteMetrics(&m)
	for _, want := range []string{`akciz_server_crl_stale{issuer="CN=Root CA"} 1`, `akciz_server_certificate_refusals_total{reason="crl-stale"} 2`,
		`akciz_server_crl_next_update_seconds{issuer="CN=Root CA"} ` + strconv.FormatInt(now.Add(24*time.Hour).Unix(), 10)} {
		if !strings.Contains(m.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, m.String())
		}
	}
	must(t, tr.Reload(ctx, []*x509.Certificate{root.cert}, []*x509.RevocationList{root.crlAt(t, 2, clock.Add(-time.Hour), clock.Add(24*time.Hour))}))
	if op, err := tr.Identify(ctx, covered.cert, nil, now); err != nil || op != eik {
		t.Fatalf("with a current CRL again: %q %v", op, err)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func writePEM(t testing.TB, path, typ string, ders ...[]byte) {
	t.Helper()
	var b []byte
	for _, d := range ders {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: d})...)
	}
	must(t, os.WriteFile(path, b, 0o644))
}

// TestTrustFilesReload: the --ca and --crl files are re-read by Watch when they change (a tick) or on
// SIGHUP (hup), swapping the whole trust state; a file that does not read, a CRL no anchor signed or one
// older than the CRL in use keep the state in use, and the log says why.
func TestTrustFilesReload(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := sqliteOpener(t)(t)
	defer s.Close()
	eik := validEIK(t, 0)
	registry(t, s, eik, wh1, dev1)
	root := newCA(t, "Root CA")
	now := time.Now()
	card := identity{key: ecKey(t)}
	card.cert = root.issue(t, card.key, "card", eik, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))

	dir := t.TempDir()
	files := &ingest.TrustFiles{CA: filepath.Join(dir, "ca.pem"), CRL: filepath.Join(dir, "ca.crl")}
	writePEM(t, files.CA, "CERTIFICATE", root.cert.Raw)
	writePEM(t, files.CRL, "X509 CRL", root.crlAt(t, 1, now.Add(-2*time.Hour), now.Add(24*time.Hour)).Raw)
	anchors, crls, err := files.Read()
	must(t, err)
	tr, err := ingest.NewTrust(ctx, s, anchors, crls)
	must(t, err)
	var logbuf syncBuffer
	tr.SetLogger(log.New(&logbuf, "", 0))
	type event struct {
		changed bool
		err     error
	}
	events := make(chan event)
	tr.AfterRefresh(func(changed bool, err error) { events <- event{changed, err} })
	tick := make(chan time.Time)
	hup := make(chan struct{})
	go tr.Watch(ctx, files, tick, hup)
	// touch moves a file's time on, so that a rewrite of the same size is seen as a change.
	touch := func(path string, n int) {
		at := now.Add(time.Duration(n) * time.Minute)
		must(t, os.Chtimes(path, at, at))
	}
	step := func(name string, send func(), wantChanged bool, wantErr string) {
		t.Helper()
		send()
		var ev event
		select {
		case ev = <-events:
		case <-time.After(20 * time.Second): // a failure's bound, not a timing
			t.Fatalf("%s: Watch did not handle it", name)
		}
		if ev.changed != wantChanged || (ev.err == nil) != (wantErr == "") || ev.err != nil && !strings.Contains(ev.err.Error(), wantErr) {
			t.Fatalf("%s: changed %v, error %v; want %v, %q", name, ev.changed, ev.err, wantChanged, wantErr)
		}
	}
	identify := func(name string, wantOK bool) {
		t.Helper()
		op, err := tr.Identify(ctx, card.cert, nil, now)
		if wantOK != (err == nil && op == eik) {
			t.Fatalf("%s: %q %v", name, op, err)
		}
	}
	identify("start", true)
	step("tick, nothing changed", func() { tick <- now }, false, "")

	writePEM(t, files.CRL, "X509 CRL", root.crlAt(t, 2, now.Add(-time.Hour), now.Add(24*time.Hour), card.cert).Raw)
	touch(files.CRL, 1)
	step("tick, a new CRL", func() { tick <- now }, true, "")
	identify("revoked by the new CRL", false)

	must(t, os.WriteFile(files.CRL, []byte("-----BEGIN X509 CRL-----\ngarbage\n"), 0o644))
	touch(files.CRL, 2)
	step("tick, a broken file", func() { tick <- now }, false, "ca.crl")
	identify("the broken file changed nothing", false)

	stranger := newCA(t, "Stranger CA")
	writePEM(t, files.CRL, "X509 CRL", stranger.crlAt(t, 1, now.Add(-time.Hour), now.Add(24*time.Hour)).Raw)
	touch(files.CRL, 3)
	step("SIGHUP, a CRL no anchor signed", func() { hup <- struct{}{} }, false, "not signed by a trust anchor")
	identify("the stranger's CRL changed nothing", false)

	writePEM(t, files.CRL, "X509 CRL", root.crlAt(t, 1, now.Add(-2*time.Hour), now.Add(24*time.Hour)).Raw)
	touch(files.CRL, 4)
	step("SIGHUP, an older CRL", func() { hup <- struct{}{} }, false, "older than the one in use")
	identify("the old CRL brought nothing back", false)

	// A new anchor bundle without the root: the card is no longer vouched for.
	other := newCA(t, "Other CA")
	writePEM(t, files.CA, "CERTIFICATE", other.cert.Raw)
	writePEM(t, files.CRL, "X509 CRL", other.crlAt(t, 1, now.Add(-time.Hour), now.Add(24*time.Hour)).Raw)
	step("SIGHUP, another anchor", func() { hup <- struct{}{} }, true, "")
	if tr.Anchors() != 1 || tr.CRLs() != 1 {
		t.Errorf("anchors %d, CRLs %d", tr.Anchors(), tr.CRLs())
	}
	_, err = tr.Identify(ctx, card.cert, nil, now)
	wantCode(t, err, wire.CodeUnknownCertificate, "does not chain to a trust anchor")
	for _, want := range []string{"not reloaded, the previous ones stay in use", "reloaded: 1 anchors, CRLs of 1 issuers"} {
		if !strings.Contains(logbuf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logbuf.String())
		}
	}
}
