package wire

import (
	"bytes"
	"testing"
)

// BenchmarkDecodeBatch measures the server's hot path: decompress, decode every record (with the
// canonical-form check) and verify the chain of a 1000-record batch, plus its one signature and
// certificate check. Bytes are those of the decompressed batch.
func BenchmarkDecodeBatch(b *testing.B) {
	p := newPKI(b, "Test CA")
	key := ecKey(b)
	cert := p.issue(b, key, testEIK, t0.AddDate(-1, 0, 0), t0.AddDate(1, 0, 0))
	records, _ := chain(b, 1, ZeroHash, 1000)
	file, _ := signedBatch(b, key, cert, ZeroHash, records)
	size := 0
	for _, r := range records {
		size += len(r) + 1
	}
	opts := DecodeOptions{Verify: &VerifyOptions{Roots: p.roots, Operator: testEIK}}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := DecodeBatch(bytes.NewReader(file), opts, func(*Entry) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(records))/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkVerifySignature is the one signature and certificate check per batch, alone.
func BenchmarkVerifySignature(b *testing.B) {
	p := newPKI(b, "Test CA")
	for _, kt := range []struct {
		name string
		rsa  bool
	}{{"ecdsa-p256", false}, {"rsa-2048", true}} {
		b.Run(kt.name, func(b *testing.B) {
			key := ecKey(b)
			if kt.rsa {
				key = rsaKey(b)
			}
			cert := p.issue(b, key, testEIK, t0.AddDate(-1, 0, 0), t0.AddDate(1, 0, 0))
			records, _ := chain(b, 1, ZeroHash, 1)
			_, h := signedBatch(b, key, cert, ZeroHash, records)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := h.Verify(VerifyOptions{Roots: p.roots}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodeRecord is the agent's cost of one record.
func BenchmarkEncodeRecord(b *testing.B) {
	r := sampleRecord(0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := EncodeRecord(2, Hash{1}, r); err != nil {
			b.Fatal(err)
		}
	}
}
