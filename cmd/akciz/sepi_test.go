package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/i18n"
)

func runSepiArgs(t *testing.T, lang i18n.Lang, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	env := &environment{stdout: &o, stderr: &e, stdin: strings.NewReader(""), p: i18n.For(lang)}
	code = run(context.Background(), env, append([]string{"sepi"}, args...))
	return code, o.String(), e.String()
}

func TestSepiHelp(t *testing.T) {
	code, _, stderr := runSepiArgs(t, i18n.BG)
	if code != 2 || !strings.Contains(stderr, "check") {
		t.Errorf("akciz sepi: code %d\n%s", code, stderr)
	}
	code, stdout, _ := runSepiArgs(t, i18n.BG, "check", "--help")
	if code != 0 || !strings.Contains(stdout, "--history ПАПКА") || !strings.Contains(stdout, "Пример") {
		t.Errorf("check --help: code %d\n%s", code, stdout)
	}
	code, stdout, _ = runSepiArgs(t, i18n.BG, "check", "--lang", "en", "--help")
	if code != 0 || !strings.Contains(stdout, "Example") {
		t.Errorf("--lang en --help: code %d\n%s", code, stdout)
	}
	if code, _, stderr := runSepiArgs(t, i18n.EN, "check", "--format", "xml", "x.xml"); code != 2 || !strings.Contains(stderr, "unknown format") {
		t.Errorf("bad format: code %d\n%s", code, stderr)
	}
}

func TestSepiCheckSamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/sepi/*.xml")
	if len(files) < 4 {
		t.Fatalf("samples: %v", files)
	}
	code, stdout, stderr := runSepiArgs(t, i18n.BG, append([]string{"check"}, files...)...)
	if code != 0 || strings.Count(stdout, ": без грешки — списък №") != len(files) || stderr != "" {
		t.Errorf("code %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestSepiCheckErrors(t *testing.T) {
	f := "../../internal/sepi/testdata/cases/duplicate-barcode/list.xml"
	code, stdout, _ := runSepiArgs(t, i18n.EN, "check", f)
	if code != 1 || !strings.Contains(stdout, f+":23:5: error: barcode 038005710000412014 appears again") ||
		!strings.Contains(stdout, "the list is refused") {
		t.Errorf("code %d\n%s", code, stdout)
	}
	code, stdout, _ = runSepiArgs(t, i18n.EN, "check", "--format", "json", f)
	var out []sepiJSON
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || code != 1 {
		t.Fatalf("code %d, %v\n%s", code, err, stdout)
	}
	if len(out) != 1 || out[0].Valid || len(out[0].Errors) == 0 || out[0].Errors[0].Rule != "duplicate-barcode" ||
		out[0].Number != "2026112000017" || len(out[0].SHA256) != 64 {
		t.Errorf("json: %+v", out)
	}
	if code, _, stderr := runSepiArgs(t, i18n.EN, "check", "no-such-file.xml"); code != 2 || !strings.Contains(stderr, "cannot read") {
		t.Errorf("missing file: code %d\n%s", code, stderr)
	}
}

func TestSepiCheckHistory(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../../examples/sepi/cigarettes-production.xml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sent.xml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runSepiArgs(t, i18n.EN, "check", "--history", dir, "../../examples/sepi/cigarettes-production.xml")
	if code != 1 || !strings.Contains(stdout, "has been sent already") || !strings.Contains(stderr, "history: 1 lists") {
		t.Errorf("code %d\n%s\n%s", code, stdout, stderr)
	}
	// The exit list takes barcodes out: no history error.
	code, stdout, _ = runSepiArgs(t, i18n.EN, "check", "--history", dir, "../../examples/sepi/cigarettes-exit.xml")
	if code != 0 {
		t.Errorf("exit after production: code %d\n%s", code, stdout)
	}
}

func TestSepiProgress(t *testing.T) {
	var w bytes.Buffer
	p := &sepiProgress{r: strings.NewReader(strings.Repeat("x", 1000)), w: &w, total: 1000, label: "checking"}
	if _, err := bytes.NewBuffer(nil).ReadFrom(p); err != nil {
		t.Fatal(err)
	}
	p.clear()
	if s := w.String(); !strings.Contains(s, "100%") || !strings.Contains(s, "[==============================]") || !strings.HasSuffix(s, "\r\033[K") {
		t.Errorf("bar: %q", s)
	}
}

// sepiClientCert writes a self-signed client certificate and its key as PEM files.
func sepiClientCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Пирин Табако АД"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestSepiImport(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := sepiClientCert(t, dir)
	seen := map[string]bool{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/sepi/lists" || len(r.TLS.PeerCertificates) != 1 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		body, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(body)
		if r.Header.Get("Content-Digest") != "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":" {
			http.Error(w, "digest", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if seen[string(sum[:])] {
			fmt.Fprint(w, `{"duplicate": true}`)
			return
		}
		seen[string(sum[:])] = true
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{}`)
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	list := "../../examples/sepi/cigarettes-exit.xml"
	args := []string{"import", "--lang", "en", "--server", srv.URL, "--cert", certFile, "--key", keyFile, "--ca", caFile, list}
	code, stdout, stderr := runSepiArgs(t, i18n.BG, args...)
	if code != 0 || !strings.Contains(stdout, "accepted — list no. 2026112100003, barcodes: 6") {
		t.Fatalf("first import: code %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = runSepiArgs(t, i18n.BG, args...)
	if code != 0 || !strings.Contains(stdout, "was accepted before") {
		t.Errorf("second import: code %d\n%s", code, stdout)
	}
	// An invalid list is not sent.
	args[len(args)-1] = "../../internal/sepi/testdata/cases/count-total/list.xml"
	code, stdout, _ = runSepiArgs(t, i18n.BG, args...)
	if code != 1 || !strings.Contains(stdout, "[count-total]") || !strings.Contains(stdout, "was not sent") || len(seen) != 1 {
		t.Errorf("invalid list: code %d, sent %d\n%s", code, len(seen), stdout)
	}
	// Without the client certificate the server refuses the handshake.
	code, _, stderr = runSepiArgs(t, i18n.EN, "import", "--server", srv.URL, "--ca", caFile, list)
	if code != 2 || !strings.Contains(stderr, "sending failed") {
		t.Errorf("no client certificate: code %d\n%s", code, stderr)
	}
	if code, _, stderr := runSepiArgs(t, i18n.EN, "import", "--server", "http://x", list); code != 2 || !strings.Contains(stderr, "https") {
		t.Errorf("http server: code %d\n%s", code, stderr)
	}
}
