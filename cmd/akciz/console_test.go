package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/i18n"
)

// personCert writes a self-signed client certificate and its key as PEM files in dir.
func personCert(t *testing.T, dir, cn string) (certPath string, pair tls.Certificate) {
	t.Helper()
	certPath = filepath.Join(dir, cn+".pem")
	key, cert := selfSigned(t, &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, certPath)
	return certPath, tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key}
}

// TestConsoleCommands: people are added with their certificates, listed, disabled; bad input is refused
// with a message and nothing stored; every change is in the audit log.
func TestConsoleCommands(t *testing.T) {
	data := t.TempDir()
	certPath, _ := personCert(t, t.TempDir(), "officer")
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"console", "person", "add", "--dir", data, "--name", "X", "--role", "boss", "--cert", certPath}, 2, "unknown role"},
		{[]string{"console", "person", "add", "--dir", data, "--name", "X", "--role", "operator", "--operator", "123", "--cert", certPath}, 2, "EIK"},
		{[]string{"console", "person", "add", "--dir", data, "--name", "X", "--role", "admin"}, 2, "--cert"},
		{[]string{"console", "person", "add", "--dir", data, "--name", "X", "--role", "admin", "--cert", filepath.Join(data, "none.pem")}, 2, "cannot be read"},
		{[]string{"console", "cert", "remove", "--dir", data, "abc"}, 2, "not a SHA-256"},
	} {
		code, _, errs := runCmd(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.err) {
			t.Errorf("%v: %d %q, want %d with %q", c.args, code, errs, c.code, c.err)
		}
	}
	if code, out, _ := runCmd(t, "console", "person", "list", "--dir", data); code != 0 || out != "" {
		t.Fatalf("after refusals: %d %q, want nobody", code, out)
	}
	code, out, errs := runCmd(t, "console", "person", "add", "--dir", data, "--name", "Иван Петров", "--role", "officer", "--office", "BG001000", "--cert", certPath)
	if code != 0 || !strings.Contains(out, "added person no. 1") {
		t.Fatalf("add: %d %q %q", code, out, errs)
	}
	code, out, _ = runCmd(t, "console", "person", "list", "--dir", data)
	if code != 0 || !strings.Contains(out, "1\tofficer\tBG001000\tИван Петров") || !regexp.MustCompile(`\t[0-9a-f]{64}\t`).MatchString(out) {
		t.Errorf("list: %d %q", code, out)
	}
	if code, out, errs := runCmd(t, "console", "person", "disable", "--dir", data, "--id", "1"); code != 0 || !strings.Contains(out, "disabled") {
		t.Errorf("disable: %d %q %q", code, out, errs)
	}
	code, out, _ = runCmd(t, "console", "audit", "--dir", data)
	if code != 0 || !strings.Contains(out, "person.add") || !strings.Contains(out, "person.disable") {
		t.Errorf("audit: %d %q", code, out)
	}
}

// TestServerConsole: akciz server --http serves the console with its TLS certificate; a registered
// person's client certificate logs in and sees the sites page; one without a certificate is told how
// to log in.
func TestServerConsole(t *testing.T) {
	data := t.TempDir()
	certPath, pair := personCert(t, t.TempDir(), "admin")
	if code, out, errs := runCmd(t, "console", "person", "add", "--dir", data, "--name", "Админ", "--role", "admin", "--cert", certPath); code != 0 {
		t.Fatalf("add: %d %q %q", code, out, errs)
	}
	out := &lineWriter{lines: make(chan string, 64)}
	errw := &lineWriter{lines: make(chan string, 8)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := &environment{stdout: out, stderr: errw, stdin: strings.NewReader(""), p: i18n.For(i18n.EN)}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, env, []string{"server", "--dir", data, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--trusted-proxy", "10.0.0.0/8"})
	}()
	consoleRE := regexp.MustCompile(`web console is on (https://\S+)`)
	var url string
	timeout := time.After(20 * time.Second)
	for url == "" {
		select {
		case l := <-out.lines:
			if m := consoleRE.FindStringSubmatch(l); m != nil {
				url = m[1]
			}
		case code := <-done:
			t.Fatalf("server exited %d\n%s%s", code, out, errw)
		case <-timeout:
			t.Fatalf("no console\n%s%s", out, errw)
		}
	}
	caPEM, err := os.ReadFile(filepath.Join(data, devCAFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	get := func(certs []tls.Certificate, path string) (int, string) {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}}
		defer c.CloseIdleConnections()
		resp, err := c.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get([]tls.Certificate{pair}, "/sites"); code != http.StatusOK || !strings.Contains(body, "Админ") {
		t.Errorf("/sites with the admin's certificate: %d\n%.500s", code, body)
	}
	if code, _ := get(nil, "/sites"); code != http.StatusUnauthorized {
		t.Errorf("/sites without a certificate: %d, want 401 (the login page)", code)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("server exited %d\n%s%s", code, out, errw)
	}
}
