package ingest

import (
	"bytes"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/wire"
)

// TestHeaderLine: the header line is taken byte for byte from the body, however long (a certificate
// chain of several CAs runs past any read buffer), and a body whose header is not the one decoded is
// refused.
func TestHeaderLine(t *testing.T) {
	for _, size := range []int{100, 5000, 40000} {
		h := &wire.Header{Format: wire.BatchFormat, Version: wire.Version, Device: "BGNCA00005001001", First: 1, Last: 1,
			Count: 1, Created: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC), Alg: "ecdsa-p256-sha256",
			Certs: [][]byte{bytes.Repeat([]byte{0xA5}, size)}, Sig: []byte{1, 2, 3}}
		var body bytes.Buffer
		if err := wire.WriteBatch(&body, h, [][]byte{[]byte(`{"seq":1}`)}); err != nil {
			t.Fatal(err)
		}
		line, err := headerLine(body.Bytes(), 0, h)
		if err != nil {
			t.Fatalf("%d: %v", size, err)
		}
		got, err := wire.ParseHeader(line)
		if err != nil || got.Digest() != h.Digest() || !bytes.Equal(got.Certs[0], h.Certs[0]) || bytes.ContainsRune(line, '\n') {
			t.Fatalf("%d: the line is not the header: %v", size, err)
		}
		other := *h
		other.Sig = []byte{9}
		if _, err := headerLine(body.Bytes(), 0, &other); err == nil {
			t.Errorf("%d: another header's line accepted", size)
		}
	}
}
