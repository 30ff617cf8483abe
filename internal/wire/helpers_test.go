package wire

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
)

const testDevice = "BGNCA00005001001"

var t0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

// sampleRecord gives record i (from 0) of a made-up fuel depot: readings, transactions and events in turn.
func sampleRecord(i int) *core.Record {
	at := t0.Add(time.Duration(i) * 10 * time.Second)
	r := &core.Record{Time: at, Device: testDevice, Point: testDevice + "001",
		Config: "5f0c6b8a0d9d8e7c6b5a49382716f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4"}
	switch i % 3 {
	case 0:
		r.Kind = core.KindReading
		r.Reading = &core.Reading{Values: []core.Value{
			{Tag: "FT101.TotalVolume", Role: core.RoleTotalVolume, Value: core.Decimal(fmt.Sprintf("1234567.%03d", i)), Unit: "L"},
			{Tag: "FT101.Flow", Role: core.RoleFlow, Value: "42.5", Unit: "m3/h"},
			{Tag: "TT101", Role: core.RoleTemperature, Value: "-3.25", Unit: "degC", Quality: []core.Quality{core.QualityLow}},
			{Tag: "DT101.D15", Role: core.RoleDensity15, Value: "835.1", Unit: "kg/m3", Time: at.Add(-120 * time.Millisecond)},
		}}
	case 1:
		r.Kind = core.KindTransaction
		r.Transaction = &core.Transaction{
			Begin: at.Add(-15 * time.Minute), End: at, Product: "E44", ProductName: "Дизелово гориво <B7> & \"Euro 5\"",
			Direction: core.DirectionOut, StartFromPrevious: i%2 == 0,
			Forward: core.Flow{
				Volume:    &core.Totals{Begin: "1234000", End: "1264000.125", Quantity: "30000.125", Unit: "L"},
				StdVolume: &core.Totals{Begin: "1230000", End: "1259870", Quantity: "29870", Unit: "L15"},
				Mass:      &core.Totals{Begin: "1027000.5", End: "1052000.5", Quantity: "25000", Unit: "kg"},
			},
			Reverse:     &core.Flow{Volume: &core.Totals{Begin: "12", End: "12", Quantity: "0", Unit: "L"}},
			Density:     &core.Measure{Value: "833.4", Unit: "kg/m3"},
			Density15:   &core.Measure{Value: "835.1", Unit: "kg/m3"},
			Temperature: &core.Measure{Value: "12.3", Unit: "degC"},
		}
	default:
		r.Kind = core.KindEvent
		r.Point = ""
		r.Event = &core.Event{Kind: core.EventErrorBitsSet, Tag: "FT101.Status", Bits: []int{3, 7}, Detail: "sensor fault"}
	}
	return r
}

// chain encodes n sample records from seq first after prev.
func chain(t testing.TB, first uint64, prev Hash, n int) ([][]byte, Hash) {
	t.Helper()
	out := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		b, err := EncodeRecord(first+uint64(i), prev, sampleRecord(int(first)+i-1))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
		prev = ChainHash(b)
	}
	return out, prev
}

type pki struct {
	caCert *x509.Certificate
	caKey  crypto.Signer
	roots  *x509.CertPool
}

var oidOrgID = asn1.ObjectIdentifier{2, 5, 4, 97}

func newPKI(t testing.TB, name string) *pki {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name, Organization: []string{"Test CA"}},
		NotBefore: t0.AddDate(-5, 0, 0), NotAfter: t0.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	p := &pki{caCert: c, caKey: k, roots: x509.NewCertPool()}
	p.roots.AddCert(c)
	return p
}

// issue makes a signer certificate for key with the operator's EIK in organizationIdentifier.
func (p *pki) issue(t testing.TB, key crypto.Signer, eik string, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	subj := pkix.Name{CommonName: "ИКУНК BGNCA00005001001", Organization: []string{"Нефтена база ЕООД"},
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidOrgID, Value: "NTRBG-" + eik}}}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: subj, NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, key.Public(), p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const testEIK = "175074752"

func ecKey(t testing.TB) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func rsaKey(t testing.TB) crypto.Signer {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signedBatch makes a signed batch file of records.
func signedBatch(t testing.TB, key crypto.Signer, cert *x509.Certificate, prevBatch Hash, records [][]byte) ([]byte, *Header) {
	t.Helper()
	h, err := NewBatch(testDevice, prevBatch, t0.Add(time.Hour), records)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Sign(key, []*x509.Certificate{cert}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteBatch(&buf, h, records); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), h
}
