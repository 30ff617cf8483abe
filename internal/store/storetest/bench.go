package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/store"
)

// BatchSize is the number of records in a benchmark batch.
const BatchSize = 1000

// Bench runs the store's benchmarks: AppendBatch of BatchSize-record batches (with everything ingest
// stores: header, records, head, log leaf) and BulkInsertRecords of the same rows (the store's raw rate),
// each reporting records/s. open gives a new, empty store.
func Bench(b *testing.B, open func(b *testing.B) store.Store) {
	b.Run("AppendBatch", func(b *testing.B) {
		s := open(b)
		defer s.Close()
		reg := registerTB(b, s)
		c := newChain(reg.devices[0], reg.points[0])
		bench(b, func(batch *store.Batch) error {
			_, err := s.AppendBatch(context.Background(), batch)
			return err
		}, c)
	})
	b.Run("BulkInsertRecords", func(b *testing.B) {
		s := open(b)
		defer s.Close()
		reg := registerTB(b, s)
		c := newChain(reg.devices[0], reg.points[0])
		bench(b, func(batch *store.Batch) error {
			return s.BulkInsertRecords(context.Background(), batch.Records)
		}, c)
	})
}

// padding makes the benchmark's records about as long as a real reading of a few tags (~500 bytes).
var padding = strings.Repeat("v", 380)

// header is as long as a real batch's header line with an RSA-2048 certificate and one intermediate
// (the values, two certificates in base64 and the signature: ~3 KiB), which AppendBatch stores.
var header = []byte(`{"format":"akciz-batch","certs":"` + strings.Repeat("A", 3000) + `"}`)

func bench(b *testing.B, insert func(*store.Batch) error, c *chain) {
	b.ReportAllocs()
	start := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	next := func() *store.Batch {
		c.salt = padding
		batch := c.batch(BatchSize, start)
		batch.Header = header
		start = start.Add(BatchSize * time.Second)
		return batch
	}
	batch := next()
	size := 0
	for _, r := range batch.Records {
		size += len(r.Bytes)
	}
	b.SetBytes(int64(size))
	records := 0
	for b.Loop() {
		if err := insert(batch); err != nil {
			b.Fatal(err)
		}
		records += len(batch.Records)
		b.StopTimer() // making the next batch (hashing, formatting) is the agent's work, not the store's
		batch = next()
		b.StartTimer()
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
