package conformance

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/modbus"
)

// The two tests below are the Go side of `make bench-modbus` (tools/bench-modbus.sh), which runs them
// pinned to a core beside libmodbus peers. They are not benchmarks of the testing package because the
// figure must come from the same kind of run as libmodbus's: a fixed duration against a server in
// another process. Without their environment variables they skip.

func benchEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Skipf("driver of make bench-modbus (tools/bench-modbus.sh); set %s to run it", name)
	}
	return v
}

func benchInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// TestBenchClient reads AKCIZ_BENCH_MODBUS_COUNT (125) holding registers from address 0 of the Modbus
// TCP server at AKCIZ_BENCH_MODBUS_ADDR for AKCIZ_BENCH_MODBUS_SECONDS (5), with
// AKCIZ_BENCH_MODBUS_INFLIGHT (1) requests in flight, and prints reads_per_s. Like the C client it
// reads the clock every 64 requests, checks the first answer against the pattern, and prints the
// processor time its reading loop took (cpu_us).
func TestBenchClient(t *testing.T) {
	addr := benchEnv(t, "AKCIZ_BENCH_MODBUS_ADDR")
	count := benchInt(t, "AKCIZ_BENCH_MODBUS_COUNT", 125)
	inflight := benchInt(t, "AKCIZ_BENCH_MODBUS_INFLIGHT", 1)
	seconds, err := strconv.ParseFloat(os.Getenv("AKCIZ_BENCH_MODBUS_SECONDS"), 64)
	if err != nil || seconds <= 0 {
		seconds = 5
	}
	c, err := modbus.NewClient(modbus.ClientConfig{Transport: modbus.TCP, Address: addr, Timeout: 10 * time.Second, MaxInFlight: inflight})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	first, err := c.ReadHoldingRegisters(ctx, 1, 0, uint16(count))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range first {
		if v != patternHolding(i) {
			t.Fatalf("holding register %d = %d, want %d: the server does not hold the pattern", i, v, patternHolding(i))
		}
	}

	var total atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	cpu0 := cpuTime()
	begin := time.Now()
	end := begin.Add(time.Duration(seconds * float64(time.Second)))
	for range inflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]uint16, count)
			var n int64
			for time.Now().Before(end) {
				for range 64 {
					if err := c.ReadHoldingRegistersInto(ctx, 1, 0, buf); err != nil {
						failed.Store(&err)
						total.Add(n)
						return
					}
					n++
				}
			}
			total.Add(n)
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin).Seconds()
	cpu := cpuTime() - cpu0
	if p := failed.Load(); p != nil {
		t.Fatalf("read %d registers: %v", count, *p)
	}
	fmt.Printf("requests=%d seconds=%.3f reads_per_s=%.0f cpu_us=%d inflight=%d\n", total.Load(), elapsed, float64(total.Load())/elapsed, cpu.Microseconds(), inflight)
}

// cpuTime is the processor time, user and system, the process has used: with the rate, it tells how
// much of the machine a request costs, a figure that other load on the machine moves less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestBenchServer serves the pattern (over modbus.Memory) with akciz's Modbus TCP server on
// AKCIZ_BENCH_MODBUS_LISTEN until it receives SIGINT or SIGTERM.
func TestBenchServer(t *testing.T) {
	addr := benchEnv(t, "AKCIZ_BENCH_MODBUS_LISTEN")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &modbus.Server{Handler: patternMemory(t)}
	if err := srv.ServeTCP(ctx, ln); err != nil {
		t.Fatal(err)
	}
}
