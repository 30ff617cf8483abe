package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
	"time"
)

// selfSigned makes a self-signed P-256 certificate for digital signatures from tmpl (valid from an hour
// ago for a day, unless tmpl says otherwise) and writes it as PEM to path: registered by fingerprint, a
// client certificate of this kind needs no CA.
func selfSigned(t *testing.T, tmpl *x509.Certificate, path string) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = now.Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = now.Add(24 * time.Hour)
	}
	tmpl.KeyUsage |= x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// runAll runs akciz with each set of arguments in turn (the administrator filling the registry before a
// server starts) and stops the test at the first that fails.
func runAll(t *testing.T, steps ...[]string) {
	t.Helper()
	for _, s := range steps {
		if code, out, errs := runCmd(t, s...); code != 0 {
			t.Fatalf("%v: %d\n%s%s", s, code, out, errs)
		}
	}
}
