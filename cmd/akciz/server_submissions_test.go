package main

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/akciz/akciz/internal/submit"
)

// operatorCert makes a client certificate for an operator in its own directory and reads it back.
func operatorCert(t *testing.T, dir string) (certFile, keyFile string, key *ecdsa.PrivateKey, cert *x509.Certificate) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = sepiClientCert(t, dir)
	kp, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(kp.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, kp.PrivateKey.(*ecdsa.PrivateKey), cert
}

// TestServerSubmissions runs akciz server and the real clients against it: akciz sepi import and akciz
// energy import, each with the operator's certificate over mutual TLS; then the reports, which show an
// operator its own submissions only.
func TestServerSubmissions(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	const tobacco, power = "101003527", "201123456"
	tCert, tKey, tk, tc := operatorCert(t, filepath.Join(dir, "tobacco"))
	pCert, pKey, _, _ := operatorCert(t, filepath.Join(dir, "power"))
	for _, s := range [][]string{
		{"server", "operator", "add", "--dir", data, "--eik", tobacco, "--name", "Пирин Табако АД"},
		{"server", "operator", "add", "--dir", data, "--eik", power, "--name", "Енерго Продажби ЕАД"},
		{"server", "cert", "add", "--dir", data, "--operator", tobacco, tCert},
		{"server", "cert", "add", "--dir", data, "--operator", power, pCert},
	} {
		if code, out, errs := runCmd(t, s...); code != 0 {
			t.Fatalf("%v: %d\n%s%s", s, code, out, errs)
		}
	}
	ca := filepath.Join(data, devCAFile)
	serve(t, data, func(url string, client *http.Client) {
		sepiImport := func(file string) (int, string) {
			code, out, errs := runCmd(t, "sepi", "import", "--server", url, "--cert", tCert, "--key", tKey, "--ca", ca, file)
			return code, out + errs
		}
		if code, out := sepiImport("../../examples/sepi/cigarettes-production.xml"); code != 0 || !strings.Contains(out, "accepted — list no. 2026112000017, barcodes: 20") {
			t.Errorf("sepi import: %d %s", code, out)
		}
		if code, out := sepiImport("../../examples/sepi/cigarettes-production.xml"); code != 0 || !strings.Contains(out, "was accepted before") {
			t.Errorf("sepi import again: %d %s", code, out)
		}
		if code, out := sepiImport("../../examples/sepi/cigarettes-exit.xml"); code != 0 || !strings.Contains(out, "accepted") {
			t.Errorf("sepi exit: %d %s", code, out)
		}
		// The energy company cannot file the tobacco company's list: the server refuses it.
		code, out, errs := runCmd(t, "sepi", "import", "--server", url, "--cert", pCert, "--key", pKey, "--ca", ca,
			"../../examples/sepi/cigars-entry.xml")
		if code != 1 || !strings.Contains(out, "[person-operator]") || !strings.Contains(out, "refused") {
			t.Errorf("sepi import by another operator: %d %s%s", code, out, errs)
		}

		energyImport := func(file string) (int, string) {
			code, out, errs := runCmd(t, "energy", "import", "--server", url, "--cert", pCert, "--key", pKey, "--ca", ca, file)
			return code, out + errs
		}
		if code, out := energyImport("../../examples/energy/electricity-2026-Q3.csv"); code != 0 || !strings.Contains(out, "accepted by the server") ||
			!strings.Contains(out, "141.69 MWh") {
			t.Errorf("energy import: %d %s", code, out)
		}
		if code, out := energyImport("../../examples/energy/electricity-2026-Q3.csv"); code != 0 || !strings.Contains(out, "accepted before") {
			t.Errorf("energy import again: %d %s", code, out)
		}
		if code, out := energyImport("../../examples/energy/electricity-2026-Q3.xlsx"); code != 0 || !strings.Contains(out, "accepted by the server") {
			t.Errorf("energy import xlsx: %d %s", code, out)
		}
		// In order locally, but another declarant's: the server refuses it with its reason.
		if code, out := energyImport("../../examples/energy/natural-gas-2026-Q3.tsv"); code != 1 || !strings.Contains(out, "the server refused the table") ||
			!strings.Contains(out, "certificate of 201123456") {
			t.Errorf("energy import of another declarant: %d %s", code, out)
		}
		// Bad usage.
		if code, _, errs := runCmd(t, "energy", "import", "--server", "http://x", "a.csv"); code != 2 || errs == "" {
			t.Errorf("http server: %d %s", code, errs)
		}

		// The reports: the client is the tobacco company's.
		get := func(path string) (int, []map[string]any) {
			resp, err := client.Get(url + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var rows []map[string]any
			if resp.StatusCode == 200 {
				if err := json.Unmarshal(b, &rows); err != nil {
					t.Errorf("%s: %v\n%s", path, err, b)
				}
			}
			return resp.StatusCode, rows
		}
		if code, rows := get(submit.SepiListsPath + "?lang=en"); code != 200 || len(rows) != 2 || rows[0]["kind"] != "production → storage rooms" {
			t.Errorf("lists: %d %v", code, rows)
		}
		if code, rows := get(submit.EnergyFilesPath); code != 200 || len(rows) != 0 {
			t.Errorf("the tobacco company sees energy files: %d %v", code, rows)
		}
		if code, rows := get(submit.SepiListsPath + "/2026112100003/barcodes"); code != 200 || len(rows) == 0 {
			t.Errorf("barcodes of the exit list: %d %d", code, len(rows))
		}
	}, tk, tc)
}

func TestEnergyImportUsage(t *testing.T) {
	if code, out, _ := runCmd(t, "energy", "import", "--help"); code != 0 || !strings.Contains(out, "POST /api/v1/energy/files") {
		t.Errorf("--help: %d %s", code, out)
	}
	if code, _, errs := runCmd(t, "energy", "import", "--server", "https://x"); code != 2 || !strings.Contains(errs, "exactly one file") {
		t.Errorf("no file: %d %s", code, errs)
	}
	if code, _, errs := runCmd(t, "energy", "import", "--server", "https://x", "--cert", "c.pem", "a.csv"); code != 2 || !strings.Contains(errs, "--key") {
		t.Errorf("cert without key: %d %s", code, errs)
	}
	// A refused table is not sent: the server need not exist.
	code, out, _ := runCmd(t, "energy", "import", "--server", "https://127.0.0.1:1", "../../internal/energy/testdata/cases/totals-mismatch/input.csv")
	if code != 1 || !strings.Contains(out, "was not sent") {
		t.Errorf("refused table: %d %s", code, out)
	}
}
