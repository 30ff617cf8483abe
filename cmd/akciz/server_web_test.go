package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/sqlite"
	"github.com/akciz/akciz/internal/wire"
)

// TestExportDecoder: the agent's export an officer brings to the three-way comparison (чл. 20) is read
// only when its signature verifies and its signer is registered, not revoked, for the device's operator.
func TestExportDecoder(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "akciz.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const eik, other = "121000008", "121000015"
	for _, e := range []string{eik, other} {
		if err := st.PutOperator(ctx, store.Operator{EIK: e, Name: "Нефт " + e}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutSite(ctx, store.Site{Warehouse: "BGNCA00005001", Operator: eik, Name: "Склад", CustomsOffice: "BG001000", State: store.SiteLive}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutDevice(ctx, store.Device{ID: "BGNCA00005001001"}); err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now().UTC().Truncate(time.Millisecond)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "agent"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	cert, _ := x509.ParseCertificate(der)
	rec := core.Record{Kind: core.KindEvent, Time: now.Add(-time.Minute), Device: "BGNCA00005001001", Event: &core.Event{Kind: core.EventDoorOpened}}
	b, err := wire.EncodeRecord(1, wire.ZeroHash, &rec)
	if err != nil {
		t.Fatal(err)
	}
	h, err := wire.NewBatch("BGNCA00005001001", wire.ZeroHash, now, [][]byte{b})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Sign(key, []*x509.Certificate{cert}); err != nil {
		t.Fatal(err)
	}
	var file bytes.Buffer
	if err := wire.WriteBatch(&file, h, [][]byte{b}); err != nil {
		t.Fatal(err)
	}
	decode := exportDecoder(st)
	if _, err := decode(ctx, bytes.NewReader(file.Bytes())); err == nil || !strings.Contains(err.Error(), "not registered") {
		t.Errorf("unregistered signer: %v", err)
	}
	put := func(op string) {
		if err := st.PutCertificate(ctx, store.Certificate{Fingerprint: store.Fingerprint(der), DER: der, Operator: op}); err != nil {
			t.Fatal(err)
		}
	}
	put(other)
	if _, err := decode(ctx, bytes.NewReader(file.Bytes())); err == nil || !strings.Contains(err.Error(), "operator") {
		t.Errorf("another operator's signer: %v", err)
	}
	put(eik)
	recs, err := decode(ctx, bytes.NewReader(file.Bytes()))
	if err != nil || len(recs) != 1 || recs[0].Event == nil || recs[0].Event.Kind != core.EventDoorOpened {
		t.Fatalf("good export: %v %+v", err, recs)
	}
	broken := bytes.Clone(file.Bytes())
	broken[len(broken)/2] ^= 0xff
	if _, err := decode(ctx, bytes.NewReader(broken)); err == nil {
		t.Error("a damaged export was read")
	}
	if err := st.RevokeCertificate(ctx, store.Fingerprint(der), now); err != nil {
		t.Fatal(err)
	}
	if _, err := decode(ctx, bytes.NewReader(file.Bytes())); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("revoked signer: %v", err)
	}
}
