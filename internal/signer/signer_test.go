package signer

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/wire"
)

type testPKI struct {
	ca    *x509.Certificate
	caKey crypto.Signer
	roots *x509.CertPool
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &testPKI{ca: ca, caKey: k, roots: x509.NewCertPool()}
	p.roots.AddCert(ca)
	return p
}

func (p *testPKI) issue(t *testing.T, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, pub, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// signAndVerify signs a one-record batch with k and checks it against the test PKI.
func signAndVerify(t *testing.T, k *Key, p *testPKI) {
	t.Helper()
	now := core.Stamp(time.Now())
	rec, err := wire.EncodeRecord(1, wire.ZeroHash, &core.Record{Kind: core.KindEvent, Time: now,
		Device: "BGNCA00005001001", Event: &core.Event{Kind: core.EventAgentStarted}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := wire.NewBatch("BGNCA00005001001", wire.ZeroHash, now, [][]byte{rec})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Sign(k.Signer, k.Chain); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := wire.WriteBatch(&buf, h, [][]byte{rec}); err != nil {
		t.Fatal(err)
	}
	if _, err := wire.DecodeBatch(&buf, wire.DecodeOptions{Verify: &wire.VerifyOptions{Roots: p.roots}}, nil); err != nil {
		t.Fatalf("verify: %v", err)
	}
}

func TestPEMAndPKCS12(t *testing.T) {
	p := newTestPKI(t)
	dir := t.TempDir()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for _, kt := range []struct {
		name   string
		key    crypto.Signer
		legacy func() []byte // the key in its algorithm's own PEM form
	}{
		{"rsa", rsaKey, func() []byte { return pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)) }},
		{"ecdsa", ecKey, func() []byte { b, _ := x509.MarshalECPrivateKey(ecKey); return pemOf("EC PRIVATE KEY", b) }},
	} {
		t.Run(kt.name, func(t *testing.T) {
			cert := p.issue(t, kt.key.Public())
			pk8, _ := x509.MarshalPKCS8PrivateKey(kt.key)

			// Key and chain in one PEM file, the CA first: Open must put the leaf first.
			bundle := filepath.Join(dir, kt.name+"-bundle.pem")
			os.WriteFile(bundle, bytes.Join([][]byte{pemOf("CERTIFICATE", p.ca.Raw), pemOf("PRIVATE KEY", pk8), pemOf("CERTIFICATE", cert.Raw)}, nil), 0o600)
			k, err := Open(bundle, "", "")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(k.Chain[0].Raw, cert.Raw) || len(k.Chain) != 2 {
				t.Errorf("chain not leaf first: %d certs", len(k.Chain))
			}
			signAndVerify(t, k, p)

			// Key alone, certificate beside it.
			keyFile, certFile := filepath.Join(dir, kt.name+".key"), filepath.Join(dir, kt.name+".crt")
			os.WriteFile(keyFile, kt.legacy(), 0o600)
			os.WriteFile(certFile, pemOf("CERTIFICATE", cert.Raw), 0o644)
			k, err = Open(keyFile, certFile, "")
			if err != nil {
				t.Fatal(err)
			}
			signAndVerify(t, k, p)
			if _, err := Open(keyFile, "", ""); err == nil || !strings.Contains(err.Error(), "no certificate") {
				t.Errorf("a key without certificate opened: %v", err)
			}

			// PKCS#12 with a password.
			pfx, err := pkcs12.Modern.Encode(kt.key, cert, []*x509.Certificate{p.ca}, "s3cret")
			if err != nil {
				t.Fatal(err)
			}
			p12 := filepath.Join(dir, kt.name+".p12")
			os.WriteFile(p12, pfx, 0o600)
			k, err = Open(p12, "", "s3cret")
			if err != nil {
				t.Fatal(err)
			}
			signAndVerify(t, k, p)
			if _, err := Open(p12, "", "wrong"); err == nil {
				t.Error("PKCS#12 opened with a wrong password")
			}
		})
	}

	// A certificate of another key.
	other := p.issue(t, ecKey.Public())
	keyFile := filepath.Join(dir, "mismatch.pem")
	pk8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	os.WriteFile(keyFile, append(pemOf("PRIVATE KEY", pk8), pemOf("CERTIFICATE", other.Raw)...), 0o600)
	if _, err := Open(keyFile, "", ""); err == nil {
		t.Error("a key with another key's certificate opened")
	}
	enc := filepath.Join(dir, "enc.pem")
	os.WriteFile(enc, pemOf("ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}), 0o600)
	if _, err := Open(enc, "", ""); err == nil || !strings.Contains(err.Error(), "PKCS#12") {
		t.Errorf("encrypted PEM: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing.pem"), "", ""); err == nil {
		t.Error("a missing file opened")
	}
}

func TestParseURI(t *testing.T) {
	u, err := ParseURI("pkcs11:token=akciz%20card;object=signer;id=%01%02;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234")
	if err != nil {
		t.Fatal(err)
	}
	if u.Token != "akciz card" || u.Object != "signer" || !bytes.Equal(u.ID, []byte{1, 2}) || u.Pin != "1234" || u.Module != "/usr/lib/softhsm/libsofthsm2.so" {
		t.Errorf("%+v", u)
	}
	if s := u.String(); strings.Contains(s, "1234") || !strings.Contains(s, "id=%01%02") {
		t.Errorf("String() = %q", s)
	}
	for _, bad := range []string{
		"pkcs12:token=a", "pkcs11:token=a;object=b", "pkcs11:object=b?module-path=/m",
		"pkcs11:token=a?module-path=/m", "pkcs11:token=a;serial=1;object=b?module-path=/m",
		"pkcs11:token=a;object=b;type=public?module-path=/m", "pkcs11:token=a;object=b;color=red?module-path=/m",
		"pkcs11:token=a;object=%zz?module-path=/m", "pkcs11:token;object=b?module-path=/m",
	} {
		if _, err := ParseURI(bad); err == nil {
			t.Errorf("ParseURI(%q) accepted", bad)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
