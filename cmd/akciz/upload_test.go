package main

import (
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/akciz/akciz/internal/i18n"
)

// An answer the upload commands have no words of their own for is told as the server gave it: its JSON
// message, or else the start of its body (at most 500 bytes), with exit code 1.
func TestUploadUnexpectedAnswer(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := sepiClientCert(t, dir)
	var status int
	var body string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		status int
		body   string
		want   string
	}{
		{http.StatusConflict, `{"message": "the list's number is taken"}`, "answered 409 Conflict: the list's number is taken"},
		{http.StatusServiceUnavailable, "  down for maintenance\n", "answered 503 Service Unavailable: down for maintenance\n"},
		{http.StatusBadGateway, strings.Repeat("x", 600), "answered 502 Bad Gateway: " + strings.Repeat("x", 500) + "…\n"},
	} {
		status, body = c.status, c.body
		code, stdout, stderr := runSepiArgs(t, i18n.EN, "import", "--server", srv.URL, "--cert", certFile, "--key", keyFile,
			"--ca", caFile, "../../examples/sepi/cigarettes-exit.xml")
		if code != 1 || !strings.Contains(stdout, c.want) {
			t.Errorf("%d: code %d, want %q\n%s%s", c.status, code, c.want, stdout, stderr)
		}
	}
}
