package energy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestBenchImport is the driver of `make bench-imports` (tools/bench-imports.sh): it writes a 0.5 GB
// table, checks it in a child process (this test binary again, running TestBenchImportChild) and prints
// the child's wall time and peak resident memory as "energy_500mb_s=T energy_peak_mb=M".
func TestBenchImport(t *testing.T) {
	if os.Getenv("AKCIZ_BENCH_IMPORTS") != "1" {
		t.Skip("a benchmark: runs only with AKCIZ_BENCH_IMPORTS=1 (make bench-imports)")
	}
	dir := t.TempDir()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if free := int64(st.Bavail) * st.Bsize; free < 2*MaxFileSize {
		t.Skipf("%s has %d MB free; the benchmark needs %d MB", dir, free>>20, (2*MaxFileSize)>>20)
	}
	path := filepath.Join(dir, "electricity-bench.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rows, err := generate(f, MaxFileSize)
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	t.Logf("generated %d rows, %d bytes in %s", rows, fi.Size(), time.Since(start).Round(time.Millisecond))

	cmd := exec.Command(os.Args[0], "-test.run", "^TestBenchImportChild$", "-test.count", "1")
	cmd.Env = append(os.Environ(), "AKCIZ_ENERGY_BENCH_FILE="+path)
	start = time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatal("no rusage for the child")
	}
	t.Logf("child: %s", out)
	// Maxrss is in KiB on Linux.
	fmt.Printf("energy_500mb_s=%.1f energy_peak_mb=%d\n", wall.Seconds(), ru.Maxrss/1024)
}

// TestBenchImportChild checks the file TestBenchImport names, in a process of its own so that its peak
// memory is its own.
func TestBenchImportChild(t *testing.T) {
	path := os.Getenv("AKCIZ_ENERGY_BENCH_FILE")
	if path == "" {
		t.Skip("the child of TestBenchImport")
	}
	res, err := CheckFile(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("rows=%d size=%d sha256=%s\n", res.Rows, res.Size, res.Digest())
}
