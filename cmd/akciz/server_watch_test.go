package main

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// The watch part is wired into akciz server: its API answers on the intake's mutual-TLS listener, for
// the operator the client certificate names, with that operator's sites only.
func TestServerWatchAPI(t *testing.T) {
	dir := t.TempDir()
	certPEM := filepath.Join(dir, "operator.pem")
	key, cert := selfSigned(t, &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "Оператор"}}, certPEM)
	data := filepath.Join(dir, "data")
	runAll(t,
		[]string{"server", "operator", "add", "--dir", data, "--eik", srvEIK, "--name", "Нефтена база ЕООД"},
		[]string{"server", "site", "add", "--dir", data, "--warehouse", "BGNCA00005001", "--operator", srvEIK, "--name", "Склад"},
		[]string{"server", "cert", "add", "--dir", data, "--operator", srvEIK, certPEM},
	)
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
