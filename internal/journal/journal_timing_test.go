package journal

import (
	"testing"
)

// benchAppend appends 256-byte records to a journal in b.TempDir() (the real filesystem), with an fsync
// every syncEvery records.
func benchAppend(b *testing.B, syncEvery int) {
	j, _, err := Open(b.TempDir(), Options{Device: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	p := make([]byte, 256-40)
	build := func(seq uint64, prev [32]byte) ([]byte, error) { return record(seq, prev, p), nil }
	b.SetBytes(256)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, _, err := j.Append(build); err != nil {
			b.Fatal(err)
		}
		if (i+1)%syncEvery == 0 {
			if err := j.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := j.Sync(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkAppendSyncEach(b *testing.B) { benchAppend(b, 1) }
func BenchmarkAppendSync100(b *testing.B)  { benchAppend(b, 100) }
func BenchmarkAppendNoSync(b *testing.B)   { benchAppend(b, 1<<62) }

// BenchmarkReadFrom reads 10,000 records of 256 bytes from disk (the page cache, after the first run).
func BenchmarkReadFrom(b *testing.B) {
	j, _, err := Open(b.TempDir(), Options{Device: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	p := make([]byte, 256-40)
	for range 10000 {
		j.Append(func(seq uint64, prev [32]byte) ([]byte, error) { return record(seq, prev, p), nil })
	}
	j.Sync()
	b.SetBytes(256 * 10000)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		j.ReadFrom(1, func(uint64, []byte) error { n++; return nil })
		if n != 10000 {
			b.Fatal(n)
		}
	}
}
