package ingest

import (
	"strings"
	"testing"
)

// FuzzTrustFiles: the --ca and --crl parsers answer any input with certificates or an error naming the
// file, never a panic.
func FuzzTrustFiles(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n"))
	f.Add([]byte{0x30, 0x82, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		if certs, err := parseCertificates("ca.pem", b); err != nil && !strings.HasPrefix(err.Error(), "ca.pem: ") {
			t.Fatalf("error without the file: %v", err)
		} else if err == nil && len(certs) == 0 {
			t.Fatal("no certificate and no error")
		}
		if crls, err := parseCRLs("ca.crl", b); err != nil && !strings.HasPrefix(err.Error(), "ca.crl: ") {
			t.Fatalf("error without the file: %v", err)
		} else if err == nil && len(crls) == 0 {
			t.Fatal("no CRL and no error")
		}
	})
}
