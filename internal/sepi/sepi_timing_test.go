package sepi

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkParse checks a list of 100,000 barcodes per iteration.
func BenchmarkParse(b *testing.B) {
	var buf bytes.Buffer
	if err := writeList(&buf, "1", 100_000); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := Parse(context.Background(), bytes.NewReader(data), Options{})
		if err != nil || !res.Valid() {
			b.Fatal(err, res.Error())
		}
	}
}

const (
	benchEnv      = "AKCIZ_BENCH_IMPORTS"
	benchChildEnv = "AKCIZ_SEPI_BENCH_FILE"
)

// TestBenchImport is the driver of `make bench-imports`: it writes a list of 1,000,000 barcodes, checks it
// in a child process (this test binary again, running TestBenchChild) and prints one line with the wall
// time and the child's peak resident memory (getrusage's ru_maxrss). Run it with
//
//	AKCIZ_BENCH_IMPORTS=1 go test -run '^TestBenchImport$' -v ./internal/sepi | grep '^sepi_'
func TestBenchImport(t *testing.T) {
	if os.Getenv(benchEnv) != "1" {
		t.Skip("set AKCIZ_BENCH_IMPORTS=1 to run the import benchmark")
	}
	name := filepath.Join(t.TempDir(), "list-1m.xml")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeList(f, "2026112000001", 1_000_000); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), benchChildEnv+"="+name)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatal("no rusage of the child")
	}
	// ru_maxrss is in kilobytes on Linux.
	fmt.Printf("sepi_1m_s=%.1f sepi_peak_mb=%d\n", wall.Seconds(), ru.Maxrss/1024)
}

// TestBenchChild is the child of TestBenchImport: it checks the file it is given, as `akciz sepi check`
// does.
func TestBenchChild(t *testing.T) {
	name := os.Getenv(benchChildEnv)
	if name == "" {
		t.Skip("the child of TestBenchImport")
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Parse(context.Background(), f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.List == nil || res.List.Barcodes() != 1_000_000 {
		t.Fatalf("the list is not valid: %s", res.Error())
	}
}
