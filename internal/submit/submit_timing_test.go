package submit

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/akciz/akciz/internal/energy"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/postgres"
	"github.com/akciz/akciz/internal/store/sqlite"
)

// writeList writes a valid production-to-warehouse list of n barcodes from first on (SSCC-18 with
// their check digits), in products of 100,000.
func writeList(w io.Writer, number string, first uint64, n int) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	fmt.Fprintf(bw, `<?xml version="1.0" encoding="UTF-8"?>
<sepiList xmlns="urn:akciz:sepi:1" version="1.0" number="%s" goods="cigarettes" currency="EUR" packages="%d">
  <person name="Пирин Табако АД" eik="101003527" exciseNumber="BGNBL0000300A"/>
  <controlPoint id="BGNBL00003004001010" type="production-to-warehouse"/>
  <period start="2026-11-20T06:00:00+02:00" end="2026-11-21T05:59:59+02:00"/>
`, number, n)
	const perProduct = 100_000
	line := []byte("    <barcode>000000000000000000</barcode>\n")
	for i := 0; i < n; i += perProduct {
		fmt.Fprintf(bw, `  <product document="ПП-2026-004512" cn="2402 20 90" brand="Рила" assortment="King Size, партида %d" piecesPerPack="20" cigaretteLength="62" retailPrice="3.90" destination="release-for-consumption" origin="BG" manufacturer="Пирин Табако АД" packsPerPackage="500" productionDate="2026-11-20" brandPackages="%d">
`, i/perProduct+1, n)
		for j := i; j < n && j < i+perProduct; j++ {
			copy(line[13:31], sscc(first+uint64(j)))
			bw.Write(line)
		}
		bw.WriteString("  </product>\n")
	}
	bw.WriteString("</sepiList>\n")
	return bw.Flush()
}

// sscc gives the 18 digits of an SSCC whose first 17 digits are body, with its GS1 check digit.
func sscc(body uint64) []byte {
	b := []byte(fmt.Sprintf("%017d", body))
	sum := 0
	for i, c := range b {
		if i%2 == 0 {
			sum += 3 * int(c-'0')
		} else {
			sum += int(c - '0')
		}
	}
	return append(b, byte('0'+(10-sum%10)%10))
}

// writeTable writes an electricity table of about size bytes: household rows of 1 kWh each, with the
// totals they add up to.
func writeTable(w io.Writer, size int64) (rows int64, err error) {
	const row = "32Z14%011d;household;;1;kWh;гр. София, ж.к. Люлин, бл. 12, вх. А, ап. 5;дневна\n"
	n := (size - 400) / int64(len(fmt.Sprintf(row, 0))) // 400: room for the declared block
	total := energy.Quantity(n*1000).Format(energy.Electricity, '.')
	bw := bufio.NewWriterSize(w, 1<<20)
	fmt.Fprintf(bw, "format;akciz-energy/1\ndeclarant_name;Бенчмарк Енерджи ЕАД\ndeclarant_eik;201123456\n"+
		"excise_number;BGNCA00001E01\nproduct;electricity\nquarter;2026-Q3\ntotal;%s\ntotal_household;%s\n"+
		"total_business;0\ntotal_self_consumption;0\nmeter_id;consumer_type;consumer_eik;quantity;unit;address;tariff\n", total, total)
	for i := int64(0); i < n; i++ {
		fmt.Fprintf(bw, row, i)
	}
	return n, bw.Flush()
}

const benchEnv = "AKCIZ_BENCH_IMPORTS"

// TestBenchServerImport is the server side of `make bench-imports` (tools/bench-imports.sh): a list of
// 1,000,000 barcodes imported into a store that already holds another list of a million (so that every
// barcode is looked up in a history of a million), and a table of 0.5 GB (AKCIZ_BENCH_ENERGY_MB to
// change it) staged and committed, each in a child process whose wall time and peak resident memory are
// printed. It runs on SQLite, and on PostgreSQL when one is reachable (AKCIZ_TEST_POSTGRES, or the
// local server as the store's tests find it).
func TestBenchServerImport(t *testing.T) {
	if os.Getenv(benchEnv) != "1" {
		t.Skip("a benchmark: runs only with AKCIZ_BENCH_IMPORTS=1 (make bench-imports)")
	}
	dir := t.TempDir()
	mb := int64(500)
	if v, err := strconv.ParseInt(os.Getenv("AKCIZ_BENCH_ENERGY_MB"), 10, 64); err == nil && v > 0 {
		mb = v
	}
	files := map[string]string{"list-a": "", "list-b": "", "table": ""}
	for name := range files {
		p := filepath.Join(dir, name+map[string]string{"table": ".csv"}[name]+map[string]string{"list-a": ".xml", "list-b": ".xml"}[name])
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		switch name {
		case "list-a":
			err = writeList(f, "2026112000001", 380057100000000, 1_000_000)
		case "list-b":
			err = writeList(f, "2026112000002", 380057200000000, 1_000_000)
		case "table":
			_, err = writeTable(f, mb*1_000_000)
		}
		if err == nil {
			err = f.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		files[name] = p
	}
	backends := []string{"sqlite"}
	if dsn := benchPostgres(t); dsn != "" {
		backends = append(backends, "postgres")
	}
	for _, backend := range backends {
		for _, what := range []string{"sepi", "energy"} {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBenchServerChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "AKCIZ_SUBMIT_BENCH="+what, "AKCIZ_SUBMIT_BENCH_BACKEND="+backend,
				"AKCIZ_SUBMIT_BENCH_DIR="+dir, "AKCIZ_SUBMIT_BENCH_A="+files["list-a"], "AKCIZ_SUBMIT_BENCH_B="+files["list-b"],
				"AKCIZ_SUBMIT_BENCH_TABLE="+files["table"])
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child %s %s: %v\n%s", backend, what, err, out)
			}
			ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			var secs string
			for _, l := range strings.Split(string(out), "\n") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(l), "import_s="); ok {
					secs = v
				}
			}
			key := map[string]string{"sepi": "sepi_1m", "energy": fmt.Sprintf("energy_%dmb", mb)}[what]
			// Maxrss is in KiB on Linux.
			fmt.Printf("server_%s_%s_s=%s server_%s_%s_peak_mb=%d\n", backend, key, secs, backend, key, ru.Maxrss/1024)
		}
	}
}

// benchPostgres gives the DSN of a reachable PostgreSQL, or "".
func benchPostgres(t *testing.T) string {
	dsn := os.Getenv("AKCIZ_TEST_POSTGRES")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Logf("no PostgreSQL (%v): the PostgreSQL figures are left out", err)
		return ""
	}
	c.Close(ctx)
	return dsn
}

// TestBenchServerChild is a child of TestBenchServerImport: it opens a fresh store and imports, as
// akciz server does.
func TestBenchServerChild(t *testing.T) {
	what := os.Getenv("AKCIZ_SUBMIT_BENCH")
	if what == "" {
		t.Skip("a child of TestBenchServerImport")
	}
	ctx := context.Background()
	var st store.Store
	var err error
	if os.Getenv("AKCIZ_SUBMIT_BENCH_BACKEND") == "postgres" {
		st, err = benchSchema(t, ctx, benchPostgres(t))
	} else {
		st, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "akciz.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, eik := range []string{tobaccoEIK, energyEIK} {
		if err := st.PutOperator(ctx, store.Operator{EIK: eik, Name: "Лице"}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(Config{Store: st, TempDir: os.Getenv("AKCIZ_SUBMIT_BENCH_DIR")})
	if err != nil {
		t.Fatal(err)
	}
	importList := func(name string) time.Duration {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		start := time.Now()
		o, err := s.ImportSepi(ctx, tobaccoEIK, f, nil)
		if err != nil || o.Status != Accepted || o.List.Barcodes != 1_000_000 {
			t.Fatalf("import %s: %v %+v", name, err, o)
		}
		return time.Since(start)
	}
	switch what {
	case "sepi":
		first := importList(os.Getenv("AKCIZ_SUBMIT_BENCH_A"))
		d := importList(os.Getenv("AKCIZ_SUBMIT_BENCH_B"))
		fmt.Printf("first list (empty store) %.1f s\nimport_s=%.1f\n", first.Seconds(), d.Seconds())
	case "energy":
		name := os.Getenv("AKCIZ_SUBMIT_BENCH_TABLE")
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		start := time.Now()
		o, err := s.ImportEnergy(ctx, energyEIK, name, f, nil, nil)
		if err != nil || o.Status != Accepted {
			t.Fatalf("import %s: %v %+v", name, err, o)
		}
		fmt.Printf("rows %d\nimport_s=%.1f\n", o.File.Rows, time.Since(start).Seconds())
	}
}

// benchSchema opens a PostgreSQL store in a new schema, dropped when t ends.
func benchSchema(t *testing.T, ctx context.Context, dsn string) (store.Store, error) {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	name := "akciz_bench_" + hex.EncodeToString(b[:])
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE")
			c.Close(context.Background())
		}
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return postgres.Open(ctx, dsn+sep+"search_path="+name)
}
