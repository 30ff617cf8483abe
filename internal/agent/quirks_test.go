package agent

import (
	"context"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/modbus"
)

// stamps records when each request reached the server.
type stamps struct {
	*modbus.Memory
	mu    sync.Mutex
	times []time.Time
}

func (s *stamps) ReadHoldingRegisters(ctx context.Context, unit byte, addr uint16, dst []uint16) error {
	s.mu.Lock()
	s.times = append(s.times, time.Now())
	s.mu.Unlock()
	return s.Memory.ReadHoldingRegisters(ctx, unit, addr, dst)
}

// Device quirks are configuration, not code: a controller's requestPause and connectPause reach the
// connection DialModbus makes (lower bounds on real pauses, so no timing can make this flaky).
func TestDialModbusQuirks(t *testing.T) {
	h := &stamps{Memory: modbus.NewMemory(modbus.MemoryLayout{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); (&modbus.Server{Handler: h}).ServeTCP(ctx, ln) }()
	t.Cleanup(func() { cancel(); ln.Close(); <-done })
	const connect, gap = 80 * time.Millisecond, 60 * time.Millisecond
	c, err := DialModbus(&config.Controller{ID: "gw", Transport: config.TCP, Address: ln.Addr().String(), Unit: 1,
		Timeout: time.Second, ConnectTimeout: time.Second, Quirks: config.Quirks{ConnectPause: connect, RequestPause: gap}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	dst := make([]uint16, 1)
	for range 3 {
		if err := c.ReadHoldingRegistersInto(context.Background(), 1, 0, dst); err != nil {
			t.Fatal(err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if d := h.times[0].Sub(start); d < connect {
		t.Errorf("first request %v after dialling, want ≥ connectPause %v", d, connect)
	}
	for i := 1; i < len(h.times); i++ {
		if d := h.times[i].Sub(h.times[i-1]); d < gap {
			t.Errorf("requests %d and %d %v apart, want ≥ requestPause %v", i-1, i, d, gap)
		}
	}
}

// The agent only reads (issue #4; чл. 32): the connection it polls through has no way to write to a PLC.
func TestConnReadsOnly(t *testing.T) {
	ct := reflect.TypeOf((*Conn)(nil)).Elem()
	for i := range ct.NumMethod() {
		if m := ct.Method(i).Name; m != "Close" && !strings.HasPrefix(m, "Read") {
			t.Errorf("Conn has method %s: the agent must only read", m)
		}
	}
}
