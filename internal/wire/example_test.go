package wire_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/wire"
)

// The agent's side: records chained as the journal builds them, one batch, one signature, the file.
// The server's side: the streaming decoder with the tip of the device.
func Example() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := core.Stamp(time.Now())
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "operator"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	cert, _ := x509.ParseCertificate(der)

	// Agent: the journal calls build(seq, prev) for each record it appends.
	var records [][]byte
	prev := wire.ZeroHash
	for seq := uint64(1); seq <= 3; seq++ {
		r := &core.Record{Kind: core.KindEvent, Time: now, Device: "BGNCA00005001001",
			Event: &core.Event{Kind: core.EventDoorOpened}}
		b, err := wire.EncodeRecord(seq, prev, r)
		if err != nil {
			panic(err)
		}
		records, prev = append(records, b), wire.ChainHash(b)
	}
	h, _ := wire.NewBatch("BGNCA00005001001", wire.ZeroHash, now, records)
	if err := h.Sign(key, []*x509.Certificate{cert}); err != nil {
		panic(err)
	}
	var body bytes.Buffer
	wire.WriteBatch(&body, h, records)

	// Server: the tip of the device, then the batch, streamed.
	var tip wire.Tip
	opts := wire.DecodeOptions{Verify: &wire.VerifyOptions{Cert: cert}, Header: tip.Check}
	got, err := wire.DecodeBatch(&body, opts, func(e *wire.Entry) error {
		fmt.Println("record", e.Seq, e.Record.Event.Kind) // store e.Raw inside a transaction
		return nil
	})
	if err != nil {
		panic(err)
	}
	tip = tip.Next(got) // commit; then append got.Digest() to the log and answer with a receipt
	fmt.Println("accepted up to", tip.Seq)
	// Output:
	// record 1 door-opened
	// record 2 door-opened
	// record 3 door-opened
	// accepted up to 3
}
