package wire

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// The files of testdata/sample are what a customs officer is handed: two consecutive batch files of a
// device, the operator's certificate, the authority's certificate, the server's receipts and its public
// key. They are made by `go test -run Sample -update` from test-only keys kept beside them (never real
// ones), and checked here: the batches decode and verify, and re-signing the same records with the same
// RSA key gives the same signature (PKCS#1 v1.5 is deterministic), so the signature scheme cannot drift.
//
//	akciz verify --ca internal/wire/testdata/sample/ca.pem --checkpoint-key internal/wire/testdata/sample/server.vkey \
//	    internal/wire/testdata/sample/*.akb internal/wire/testdata/sample/receipts.jsonl
func TestSample(t *testing.T) {
	dir := filepath.Join("testdata", "sample")
	if *update {
		writeSample(t, dir)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%v (run go test -run Sample -update to create it)", err)
		}
		return b
	}
	caBlock, _ := pem.Decode(read("ca.pem"))
	ca, err := x509.ParseCertificate(caBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	certBlock, _ := pem.Decode(read("operator.pem"))
	cert, _ := x509.ParseCertificate(certBlock.Bytes)
	keyBlock, _ := pem.Decode(read("operator.key"))
	k, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := note.NewVerifier(strings.TrimSpace(string(read("server.vkey"))))
	if err != nil {
		t.Fatal(err)
	}
	var tip Tip
	var prevCP *Checkpoint
	receipts := bytes.Split(bytes.TrimSpace(read("receipts.jsonl")), []byte("\n"))
	for i, name := range []string{"batch-1.akb", "batch-2.akb"} {
		file := read(name)
		var recs [][]byte
		h, err := DecodeBatch(bytes.NewReader(file), DecodeOptions{Verify: &VerifyOptions{Roots: roots, Operator: testEIK, Cert: cert}, Header: tip.Check},
			func(e *Entry) error { recs = append(recs, bytes.Clone(e.Raw)); return nil })
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tip = tip.Next(h)
		// Same records, same key: same header, same signature.
		again, err := NewBatch(h.Device, h.PrevBatch, h.Created, recs)
		if err != nil {
			t.Fatal(err)
		}
		if err := again.Sign(k.(crypto.Signer), []*x509.Certificate{cert}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.Sig, h.Sig) || again.Digest() != h.Digest() {
			t.Errorf("%s: the signature of the same records differs: the digest or signature scheme changed", name)
		}
		// The decompressed file is exactly what WriteBatch writes today.
		var now bytes.Buffer
		WriteBatch(&now, again, recs)
		if !bytes.Equal(gunzip(t, now.Bytes()), gunzip(t, file)) {
			t.Errorf("%s: the batch file format changed", name)
		}
		rc, err := ParseReceipt(receipts[i])
		if err != nil {
			t.Fatal(err)
		}
		cp, err := rc.Verify(note.VerifierList(keys), h, prevCP)
		if err != nil {
			t.Fatalf("receipt %d: %v", i+1, err)
		}
		prevCP = &cp
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func writeSample(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }

	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1),
		Subject:   pkix.Name{CommonName: "akciz TEST Qualified CA (not for real use)", Country: []string{"BG"}},
		NotBefore: t0.AddDate(-1, 0, 0), NotAfter: t0.AddDate(20, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2),
		Subject: pkix.Name{CommonName: "Нефтена база ЕООД (TEST)", Organization: []string{"Нефтена база ЕООД"}, Country: []string{"BG"},
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidOrgID, Value: "NTRBG-" + testEIK}}},
		NotBefore: t0.AddDate(-1, 0, 0), NotAfter: t0.AddDate(20, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pk8, _ := x509.MarshalPKCS8PrivateKey(key)
	write("ca.pem", pemOf("CERTIFICATE", caDER))
	write("operator.pem", pemOf("CERTIFICATE", der))
	write("operator.key", pemOf("PRIVATE KEY", pk8))

	skey, vkey, err := note.GenerateKey(rand.Reader, "customs.test/akciz")
	if err != nil {
		t.Fatal(err)
	}
	write("server.vkey", []byte(vkey+"\n"))
	ns, _ := note.NewSigner(skey)
	log := &testLog{origin: "customs.test/akciz/v1", signer: ns}

	var tip Tip
	var receipts bytes.Buffer
	var known int64
	for i := 1; i <= 2; i++ {
		recs, _ := chain(t, tip.Seq+1, tip.Chain, 3)
		h, err := NewBatch(testDevice, tip.Batch, t0.Add(time.Duration(i)*time.Hour), recs)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Sign(key, []*x509.Certificate{cert}); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		WriteBatch(&buf, h, recs)
		write("batch-"+string(rune('0'+i))+".akb", buf.Bytes())
		tip = tip.Next(h)
		log.add(t, []byte("another device's batch"))
		rc := log.receipt(t, h, known)
		known = log.n
		b, _ := marshal(rc)
		receipts.Write(b)
		receipts.WriteByte('\n')
	}
	write("receipts.jsonl", receipts.Bytes())
	write("README", []byte("Test-only keys and certificates (not for real use): made by `go test ./internal/wire -run Sample -update`.\n"+
		"Check with: akciz verify --ca ca.pem --checkpoint-key server.vkey batch-1.akb batch-2.akb receipts.jsonl\n"))
}
