package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/ingest"
	"github.com/akciz/akciz/internal/wire"
)

// lineWriter collects output and tells, through lines, each line written.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		select {
		case w.lines <- l:
		default:
		}
	}
	return len(p), nil
}

func (w *lineWriter) String() string { w.mu.Lock(); defer w.mu.Unlock(); return w.buf.String() }

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &environment{stdout: &out, stderr: &errb, stdin: strings.NewReader(""), p: i18n.For(i18n.EN)}
	code := run(context.Background(), env, args)
	return code, out.String(), errb.String()
}

const srvEIK = "175074752"

func TestServerAdminAndRun(t *testing.T) {
	dir := t.TempDir()
	// An operator's certificate and key, self-signed: registered by fingerprint, so no CA is needed.
	certPEM := filepath.Join(dir, "operator.pem")
	key, cert := selfSigned(t, &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "ИКУНК тест"}}, certPEM)
	data := filepath.Join(dir, "data")
	runAll(t,
		[]string{"server", "operator", "add", "--dir", data, "--eik", srvEIK, "--name", "Нефтена база ЕООД"},
		[]string{"server", "site", "add", "--dir", data, "--warehouse", "BGNCA00005001", "--operator", srvEIK, "--name", "Склад"},
		[]string{"server", "device", "add", "--dir", data, "--id", "BGNCA00005001001"},
		[]string{"server", "cert", "add", "--dir", data, "--operator", srvEIK, certPEM},
	)
	if code, out, _ := runCmd(t, "server", "cert", "list", "--dir", data); code != 0 || !strings.Contains(out, srvEIK) {
		t.Errorf("cert list: %d %q", code, out)
	}
	if code, _, errs := runCmd(t, "server", "operator", "add", "--dir", data, "--eik", "123", "--name", "x"); code != 2 || !strings.Contains(errs, "EIK") {
		t.Errorf("bad EIK: %d %q", code, errs)
	}
	if code, out, _ := runCmd(t, "server", "cert", "--help"); code != 0 || !strings.Contains(out, "revoke") {
		t.Errorf("cert --help: %d %q", code, out)
	}

	// Start, accept a batch over HTTPS with the development certificate, stop cleanly.
	vkey := serve(t, data, func(url string, client *http.Client) {
		rec, err := wire.EncodeRecord(1, wire.ZeroHash, &core.Record{Kind: core.KindEvent, Time: core.Stamp(time.Now()),
			Device: "BGNCA00005001001", Event: &core.Event{Kind: core.EventAgentStarted}})
		if err != nil {
			t.Fatal(err)
		}
		h, err := wire.NewBatch("BGNCA00005001001", wire.ZeroHash, time.Now(), [][]byte{rec})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Sign(key, []*x509.Certificate{cert}); err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		if err := wire.WriteBatch(&body, h, [][]byte{rec}); err != nil {
			t.Fatal(err)
		}
		resp, err := client.Post(url+wire.BatchesPath, wire.BatchType, &body)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST: %s %s", resp.Status, b)
		}
		rc, err := wire.ParseReceipt(b)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := os.ReadFile(filepath.Join(data, ingest.VerifierKeyFile))
		v, err := note.NewVerifier(strings.TrimSpace(string(kb)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rc.Verify(note.VerifierList(v), h, nil); err != nil {
			t.Errorf("receipt: %v", err)
		}
		// The batch as the server keeps it, fetched back: an officer's (or the operator's) copy of the
		// evidence that akciz verify checks offline with the receipt.
		resp, err = client.Get(url + "/api/v1/batches/BGNCA00005001001/1")
		if err != nil {
			t.Fatal(err)
		}
		fetched, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != wire.BatchType {
			t.Fatalf("GET batch: %s %s", resp.Status, fetched)
		}
		if err := os.WriteFile(filepath.Join(dir, "fetched.akb"), fetched, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "receipts.jsonl"), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}, key, cert)
	code, out, errs := runCmd(t, "verify", "--cert", certPEM, "--checkpoint-key", vkey,
		filepath.Join(dir, "fetched.akb"), filepath.Join(dir, "receipts.jsonl"))
	if code != 0 || !strings.Contains(out, "all in order") || !strings.Contains(out, "position 0 of the log") {
		t.Errorf("akciz verify of the fetched batch: %d\n%s%s", code, out, errs)
	}
	// A restart keeps the log key and the data.
	if again := serve(t, data, func(url string, client *http.Client) {
		resp, err := client.Get(url + "/api/v1/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "\n1\n") {
			t.Errorf("checkpoint after restart: %q", b)
		}
	}, key, cert); again != vkey {
		t.Errorf("log key changed across restarts: %s, was %s", again, vkey)
	}
}

var urlRE = regexp.MustCompile(`https://127\.0\.0\.1:[0-9]+`)

// serve runs `akciz server` on a free port, calls fn with its URL and a client presenting the operator's
// certificate, stops it and gives the log key it printed.
func serve(t *testing.T, data string, fn func(url string, c *http.Client), key crypto.Signer, cert *x509.Certificate) string {
	t.Helper()
	return serveWith(t, data, nil, func(url string, c *http.Client, _ *lineWriter) { fn(url, c) }, key, cert)
}

// serveWith is serve with more flags for akciz server, and fn sees the server's standard error.
func serveWith(t *testing.T, data string, flags []string, fn func(url string, c *http.Client, errw *lineWriter),
	key crypto.Signer, cert *x509.Certificate) string {
	t.Helper()
	out := &lineWriter{lines: make(chan string, 64)}
	errw := &lineWriter{lines: make(chan string, 64)}
	ctx, cancel := context.WithCancel(context.Background())
	env := &environment{stdout: out, stderr: errw, stdin: strings.NewReader(""), p: i18n.For(i18n.EN)}
	done := make(chan int, 1)
	args := append([]string{"server", "--dir", data, "--listen", "127.0.0.1:0"}, flags...)
	go func() { done <- run(ctx, env, args) }()
	var url string
	timeout := time.After(20 * time.Second)
	for url == "" {
		select {
		case l := <-out.lines:
			url = urlRE.FindString(l)
		case code := <-done:
			cancel()
			t.Fatalf("server exited %d\n%s%s", code, out, errw)
		case <-timeout:
			cancel()
			t.Fatalf("server did not start\n%s%s", out, errw)
		}
	}
	caPEM, err := os.ReadFile(filepath.Join(data, devCAFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, MinVersion: tls.VersionTLS13,
		Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}}}}}
	fn(url, client, errw)
	client.CloseIdleConnections()
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("server exited %d\n%s%s", code, out, errw)
	}
	if !strings.Contains(out.String(), "DEVELOPMENT ONLY") || !strings.Contains(out.String(), "stopped") {
		t.Errorf("output:\n%s", out)
	}
	m := regexp.MustCompile(`akciz verify --checkpoint-key\): (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no log key in the output:\n%s", out)
	}
	return m[1]
}

// TestMaskPassword: a postgres URL is printed without its password, wherever the URL puts it.
func TestMaskPassword(t *testing.T) {
	for _, tc := range []struct{ in, secret string }{
		{"postgres://akciz:s3cret@db.example:5432/akciz?sslmode=verify-full", "s3cret"},
		{"postgres://akciz:p@ss@db.example/akciz", "p@ss"},
		{"postgresql://akciz:s3cret@localhost/akciz", "s3cret"},
		{"postgres://db.example/akciz?user=akciz&password=s3cret", "s3cret"},
		{"postgres://akciz:s3cret@[::1/akciz", "s3cret"},
	} {
		got := maskPassword(tc.in)
		if strings.Contains(got, tc.secret) || !strings.HasPrefix(got, "postgres") {
			t.Errorf("maskPassword(%q) = %q", tc.in, got)
		}
	}
	if got := maskPassword("postgres://akciz@db.example/akciz"); got != "postgres://akciz@db.example/akciz" {
		t.Errorf("URL without a password changed: %q", got)
	}
}

// TestServerTrustReload: akciz server started with --ca and --crl accepts a batch of a certificate the CA
// issued; a new CRL revoking it, written to the same file, takes effect on SIGHUP (the log says so) and
// the next batch is refused, naming the revocation; the metrics say so too.
func TestServerTrustReload(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Operators' CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// Not registered: the CA vouches for it, and it names the operator's EIK.
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "ИКУНК картa",
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 97}, Value: "NTRBG-" + srvEIK}}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	caFile, crlFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.crl")
	writeCRL := func(number int64, revoked ...*x509.Certificate) {
		var entries []x509.RevocationListEntry
		for _, c := range revoked {
			entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: now.Add(-time.Minute)})
		}
		l, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(number),
			ThisUpdate: now.Add(time.Duration(number) * time.Second), NextUpdate: now.Add(24 * time.Hour),
			RevokedCertificateEntries: entries}, caCert, caKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(crlFile, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: l}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	writeCRL(1)
	data := filepath.Join(dir, "data")
	for _, s := range [][]string{
		{"server", "operator", "add", "--dir", data, "--eik", srvEIK, "--name", "Нефтена база ЕООД"},
		{"server", "site", "add", "--dir", data, "--warehouse", "BGNCA00005001", "--operator", srvEIK, "--name", "Склад"},
		{"server", "device", "add", "--id", "BGNCA00005001001", "--dir", data},
	} {
		if code, out, errs := runCmd(t, s...); code != 0 {
			t.Fatalf("%v: %d\n%s%s", s, code, out, errs)
		}
	}
	var prevBatch wire.Hash
	var prev wire.Hash
	send := func(url string, client *http.Client, seq uint64) (int, string) {
		rec, err := wire.EncodeRecord(seq, prev, &core.Record{Kind: core.KindEvent, Time: core.Stamp(time.Now()),
			Device: "BGNCA00005001001", Event: &core.Event{Kind: core.EventAgentStarted}})
		if err != nil {
			t.Fatal(err)
		}
		h, err := wire.NewBatch("BGNCA00005001001", prevBatch, time.Now(), [][]byte{rec})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Sign(key, []*x509.Certificate{cert}); err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		if err := wire.WriteBatch(&body, h, [][]byte{rec}); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, url+wire.BatchesPath, &body)
		req.Header.Set("Content-Type", wire.BatchType)
		req.Header.Set("Accept-Language", "en")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusCreated {
			prev, prevBatch = wire.ChainHash(rec), h.Digest()
		}
		return resp.StatusCode, string(b)
	}
	// Bad flags stop it before it listens, saying why.
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"--crl", filepath.Join(dir, "missing.crl")}, 1, "missing.crl"},
		{[]string{"--ca", crlFile}, 1, "no PEM certificate"},
		{[]string{"--metrics", "0.0.0.0:9465"}, 2, "loopback"},
	} {
		args := append([]string{"server", "--dir", data, "--listen", "127.0.0.1:0"}, tc.args...)
		if code, out, errs := runCmd(t, args...); code != tc.code || !strings.Contains(errs, tc.says) {
			t.Errorf("%v: %d %q %q, want %d saying %q", tc.args, code, out, errs, tc.code, tc.says)
		}
	}
	flags := []string{"--ca", caFile, "--crl", crlFile, "--metrics", "127.0.0.1:0"}
	serveWith(t, data, flags, func(url string, client *http.Client, errw *lineWriter) {
		if code, b := send(url, client, 1); code != http.StatusCreated {
			t.Fatalf("first batch: %d %s", code, b)
		}
		writeCRL(2, cert)
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(20 * time.Second)
		for reloaded := false; !reloaded; {
			select {
			case l := <-errw.lines:
				reloaded = strings.Contains(l, "trust anchors and CRLs reloaded")
			case <-deadline:
				t.Fatalf("no reload after SIGHUP:\n%s", errw)
			}
		}
		code, b := send(url, client, 2)
		if code != http.StatusForbidden || !strings.Contains(b, "unknown-certificate") || !strings.Contains(b, "revoked since") {
			t.Fatalf("batch after the CRL revoked its certificate: %d %s", code, b)
		}
	}, key, cert)
}
