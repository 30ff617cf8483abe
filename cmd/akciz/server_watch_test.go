package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The watch part is wired into akciz server: its API answers on the intake's mutual-TLS listener, for
// the operator the client certificate names, with that operator's sites only.
func TestServerWatchAPI(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "Оператор"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	certPEM := filepath.Join(dir, "operator.pem")
	if err := os.WriteFile(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	for _, s := range [][]string{
		{"server", "operator", "add", "--dir", data, "--eik", srvEIK, "--name", "Нефтена база ЕООД"},
		{"server", "site", "add", "--dir", data, "--warehouse", "BGNCA00005001", "--operator", srvEIK, "--name", "Склад"},
		{"server", "cert", "add", "--dir", data, "--operator", srvEIK, certPEM},
	} {
		if code, out, errs := runCmd(t, s...); code != 0 {
			t.Fatalf("%v: %d\n%s%s", s, code, out, errs)
		}
	}
	serve(t, data, func(url string, client *http.Client) {
		get := func(path string) (int, string) {
			req, _ := http.NewRequest("GET", url+path, nil)
			req.Header.Set("Accept-Language", "en")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		if code, body := get("/api/v1/watch/sites"); code != 200 || !strings.Contains(body, `"warehouse":"BGNCA00005001"`) {
			t.Errorf("sites: %d %s", code, body)
		}
		if code, body := get("/api/v1/watch/alarms"); code != 200 || strings.TrimSpace(body) != "[]" {
			t.Errorf("alarms: %d %s", code, body)
		}
		if code, body := get("/api/v1/watch/sites/BGNCA00005009/moves"); code != 404 || !strings.Contains(body, "not-found") {
			t.Errorf("unknown site: %d %s", code, body)
		}
	}, key, cert)
}
