package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/ingest"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/storetest"
	"github.com/akciz/akciz/internal/wire"
)

// TestBenchIngest is `make bench-ingest` (tools/bench-ingest.sh), enabled by AKCIZ_BENCH_INGEST=1:
// AKCIZ_BENCH_INGEST_DEVICES simulated agents (50) each POST AKCIZ_BENCH_INGEST_BATCHES signed batches
// (4) of AKCIZ_BENCH_INGEST_RECORDS realistic reading records (500) at once over loopback HTTPS with full
// verification, into SQLite and into PostgreSQL; beside it the raw BulkInsertRecords rate of the same rows
// into a fresh store of the same kind. The last line printed is the summary:
//
//	ingest sqlite=N/s sqlite_raw=M/s postgres=P/s postgres_raw=Q/s p99_ms=L
//
// p99_ms is the 99th percentile of a POST's latency (request to receipt), the worse of the two stores.
// Without a PostgreSQL server its figures are 0.
func TestBenchIngest(t *testing.T) {
	if os.Getenv("AKCIZ_BENCH_INGEST") == "" {
		t.Skip("a benchmark: run `make bench-ingest` (AKCIZ_BENCH_INGEST=1)")
	}
	cfg := benchConfig{devices: envInt("AKCIZ_BENCH_INGEST_DEVICES", 50), batches: envInt("AKCIZ_BENCH_INGEST_BATCHES", 4),
		records: envInt("AKCIZ_BENCH_INGEST_RECORDS", 500)}
	fmt.Printf("bench-ingest: %d devices × %d batches × %d records, loopback HTTPS (TLS 1.3, client certificates), GOMAXPROCS=%s\n",
		cfg.devices, cfg.batches, cfg.records, os.Getenv("GOMAXPROCS"))
	sq := runBench(t, "sqlite", cfg, func(t testing.TB) opener { return sqliteOpener(t) })
	pg := benchFigures{}
	if pgAvailable() {
		pg = runBench(t, "postgres", cfg, func(t testing.TB) opener { return postgresOpener(t) })
	} else {
		fmt.Println("bench-ingest: no PostgreSQL (set AKCIZ_TEST_POSTGRES): its figures are 0")
	}
	fmt.Printf("ingest sqlite=%.0f/s sqlite_raw=%.0f/s postgres=%.0f/s postgres_raw=%.0f/s p99_ms=%.1f\n",
		sq.rate, sq.raw, pg.rate, pg.raw, max(sq.p99, pg.p99))
}

type benchConfig struct{ devices, batches, records int }

type benchFigures struct {
	rate, raw float64 // records/s
	p99       float64 // ms
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// pgAvailable reports whether a PostgreSQL server answers at the tests' DSN.
func pgAvailable() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := storetest.PostgresDSN(ctx)
	return err == nil
}

func runBench(t *testing.T, name string, cfg benchConfig, mk func(testing.TB) opener) benchFigures {
	ctx := context.Background()
	s := mk(t)(t)
	defer s.Close()
	eik := validEIK(t, 0)
	opCA := newCA(t, "bench CA")
	id := identity{key: ecKey(t)}
	id.cert = opCA.issue(t, id.key, "bench", eik, time.Now().AddDate(-1, 0, 0), time.Now().AddDate(1, 0, 0))
	devices := make([]string, cfg.devices)
	for i := range devices {
		devices[i] = fmt.Sprintf("%s%03d", wh1, i+1)
	}
	registry(t, s, eik, wh1, devices...)
	registerCert(t, s, eik, id.cert)

	// The agents' work (records, signatures, gzip) is done before the clock starts.
	bodies := make([][][]byte, cfg.devices)
	var rows [][]store.Row
	total := 0
	for i, d := range devices {
		ag := newAgent(d, id)
		// Records are 10 s apart: start early enough that the last is not after the batches' created
		// time (now), which the intake refuses as backdating.
		ag.at = ag.at.Add(-time.Duration(cfg.batches*cfg.records) * 10 * time.Second)
		for range cfg.batches {
			recs := ag.records(t, cfg.records)
			h := ag.sign(t, recs)
			bodies[i] = append(bodies[i], encode(t, h, recs))
			batch := make([]store.Row, len(recs))
			for j, r := range recs {
				e, err := wire.DecodeRecord(r)
				must(t, err)
				batch[j] = store.Row{Device: d, Seq: int64(e.Seq), Hash: store.Hash(e.Hash), Kind: e.Record.Kind,
					Time: e.Record.Time, Point: e.Record.Point, Test: e.Record.Test, Bytes: r}
			}
			rows = append(rows, batch)
			total += len(recs)
		}
	}

	// The simulated agents are all one operator's: its share of the slots is the whole server here, as
	// the benchmark measures throughput, not fairness (TestGreedyClient does).
	sv := startServer(t, s, t.TempDir(), ingest.Config{MaxInFlight: 2 * cfg.devices, MaxClientInFlight: 2 * cfg.devices})
	client := sv.client(id)
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = cfg.devices
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	errs := make(chan error, cfg.devices)
	start := time.Now()
	for i := range devices {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for _, b := range bodies[i] {
				t0 := time.Now()
				a, err := postQuiet(client, sv.srv.URL, b)
				d := time.Since(t0)
				if err != nil || a != http.StatusCreated {
					errs <- fmt.Errorf("device %s: %d %v", devices[i], a, err)
					return
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := 0
	for _, d := range devices {
		got += countRecords(t, s, d)
	}
	if got != total {
		t.Fatalf("%s: %d records stored, want %d", name, got, total)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	f := benchFigures{rate: float64(total) / elapsed.Seconds(),
		p99: float64(lat[(len(lat)*99+99)/100-1].Microseconds()) / 1000}

	// The raw rate: the same rows, in the same chunks, into a fresh store of the same kind.
	raw := mk(t)(t)
	defer raw.Close()
	registry(t, raw, eik, wh1, devices...)
	start = time.Now()
	for _, b := range rows {
		must(t, raw.BulkInsertRecords(ctx, b))
	}
	f.raw = float64(total) / time.Since(start).Seconds()
	fmt.Printf("bench-ingest: %s: ingest %.0f records/s (%d records in %.2fs, p50 %.1f ms, p99 %.1f ms a batch); raw BulkInsertRecords %.0f records/s\n",
		name, f.rate, total, elapsed.Seconds(), float64(lat[len(lat)/2].Microseconds())/1000, f.p99, f.raw)
	return f
}

func postQuiet(c *http.Client, url string, body []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url+wire.BatchesPath, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", wire.BatchType)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}
