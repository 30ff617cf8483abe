package modbus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// serve starts srv on a loopback listener for transport (TCP or RTUOverTCP) and returns its address;
// the server stops when the test ends.
func serveLoopback(t testing.TB, srv *Server, tr Transport) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		if tr == TCP {
			done <- srv.ServeTCP(ctx, ln)
		} else {
			done <- srv.ServeRTUOverTCP(ctx, ln)
		}
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func newTestClient(t testing.TB, cfg ClientConfig) *Client {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var loopbackTransports = []Transport{TCP, RTUOverTCP}

func TestFunctionCodes(t *testing.T) {
	for _, tr := range loopbackTransports {
		t.Run(string(tr), func(t *testing.T) {
			mem := NewMemory(MemoryLayout{})
			c := newTestClient(t, ClientConfig{Transport: tr, Address: serveLoopback(t, &Server{Handler: mem}, tr)})
			testFunctionCodes(t, c, mem, 1)
		})
	}
}

func testFunctionCodes(t *testing.T, c *Client, mem *Memory, unit byte) {
	t.Helper()
	ctx := context.Background()
	// FC 3, 4 at the limits of quantity and address space.
	regs := make([]uint16, 125)
	for i := range regs {
		regs[i] = uint16(i*257 + 1)
	}
	if err := mem.SetHoldingRegisters(unit, 65536-125, regs); err != nil {
		t.Fatal(err)
	}
	if err := mem.SetInputRegisters(unit, 100, regs); err != nil {
		t.Fatal(err)
	}
	got, err := c.ReadHoldingRegisters(ctx, unit, 65536-125, 125)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(regs) {
		t.Fatalf("FC3: %v, %v", got, err)
	}
	got, err = c.ReadInputRegisters(ctx, unit, 100, 125)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(regs) {
		t.Fatalf("FC4: %v, %v", got, err)
	}
	// FC 1, 2 with a bit count that is not a multiple of 8.
	bits := make([]bool, 2000)
	for i := range bits {
		bits[i] = i%3 == 0
	}
	if err := mem.SetDiscreteInputs(unit, 7, bits); err != nil {
		t.Fatal(err)
	}
	gotBits, err := c.ReadDiscreteInputs(ctx, unit, 7, 2000)
	if err != nil || fmt.Sprint(gotBits) != fmt.Sprint(bits) {
		t.Fatalf("FC2: %v", err)
	}
	gotBits, err = c.ReadDiscreteInputs(ctx, unit, 8, 13)
	if err != nil || fmt.Sprint(gotBits) != fmt.Sprint(bits[1:14]) {
		t.Fatalf("FC2 13 bits: %v %v", gotBits, err)
	}
	// FC 15 then FC 1.
	if err := c.WriteMultipleCoils(ctx, unit, 65536-1968, bits[:1968]); err != nil {
		t.Fatalf("FC15: %v", err)
	}
	gotBits, err = c.ReadCoils(ctx, unit, 65536-1968, 1968)
	if err != nil || fmt.Sprint(gotBits) != fmt.Sprint(bits[:1968]) {
		t.Fatalf("FC1: %v", err)
	}
	// FC 5.
	if err := c.WriteSingleCoil(ctx, unit, 65535, true); err != nil {
		t.Fatalf("FC5: %v", err)
	}
	if v, _ := mem.Coils(unit, 65535, 1); !v[0] {
		t.Fatal("FC5 did not set the coil")
	}
	if err := c.WriteSingleCoil(ctx, unit, 65535, false); err != nil {
		t.Fatalf("FC5: %v", err)
	}
	if v, _ := mem.Coils(unit, 65535, 1); v[0] {
		t.Fatal("FC5 did not clear the coil")
	}
	// FC 6, 16.
	if err := c.WriteSingleRegister(ctx, unit, 10, 0xBEEF); err != nil {
		t.Fatalf("FC6: %v", err)
	}
	if err := c.WriteMultipleRegisters(ctx, unit, 11, regs[:123]); err != nil {
		t.Fatalf("FC16: %v", err)
	}
	got, _ = mem.HoldingRegisters(unit, 10, 124)
	if got[0] != 0xBEEF || fmt.Sprint(got[1:]) != fmt.Sprint(regs[:123]) {
		t.Fatalf("FC6/16 stored %v", got)
	}
	// FC 23: the write happens before the read, so reading what was written returns it.
	got, err = c.ReadWriteMultipleRegisters(ctx, unit, 1000, 125, 1002, regs[:121])
	if err != nil {
		t.Fatalf("FC23: %v", err)
	}
	if got[0] != 0 || got[1] != 0 || fmt.Sprint(got[2:123]) != fmt.Sprint(regs[:121]) {
		t.Fatalf("FC23 read %v", got)
	}
	// Allocation-free reads.
	dst := make([]uint16, 3)
	if err := c.ReadHoldingRegistersInto(ctx, unit, 11, dst); err != nil || dst[2] != regs[2] {
		t.Fatalf("ReadHoldingRegistersInto: %v %v", dst, err)
	}
	if err := c.ReadInputRegistersInto(ctx, unit, 100, dst); err != nil || dst[0] != regs[0] {
		t.Fatalf("ReadInputRegistersInto: %v %v", dst, err)
	}
	bdst := make([]bool, 3)
	if err := c.ReadCoilsInto(ctx, unit, 65535-2, bdst); err != nil {
		t.Fatalf("ReadCoilsInto: %v", err)
	}
	if err := c.ReadDiscreteInputsInto(ctx, unit, 7, bdst); err != nil || !bdst[0] || bdst[1] {
		t.Fatalf("ReadDiscreteInputsInto: %v %v", bdst, err)
	}
}

// The client refuses requests outside the limits, and sends nothing.
func TestClientLimits(t *testing.T) {
	c := newTestClient(t, ClientConfig{Transport: TCP, Address: "127.0.0.1:1"}) // nothing listens
	ctx := context.Background()
	calls := map[string]error{}
	_, calls["FC1 qty 0"] = c.ReadCoils(ctx, 1, 0, 0)
	_, calls["FC1 qty 2001"] = c.ReadCoils(ctx, 1, 0, 2001)
	_, calls["FC2 overflow"] = c.ReadDiscreteInputs(ctx, 1, 65535, 2)
	_, calls["FC3 qty 126"] = c.ReadHoldingRegisters(ctx, 1, 0, 126)
	_, calls["FC3 overflow"] = c.ReadHoldingRegisters(ctx, 1, 65500, 37)
	_, calls["FC4 qty 0"] = c.ReadInputRegisters(ctx, 1, 0, 0)
	calls["FC15 1969"] = c.WriteMultipleCoils(ctx, 1, 0, make([]bool, 1969))
	calls["FC15 none"] = c.WriteMultipleCoils(ctx, 1, 0, nil)
	calls["FC16 124"] = c.WriteMultipleRegisters(ctx, 1, 0, make([]uint16, 124))
	calls["FC16 overflow"] = c.WriteMultipleRegisters(ctx, 1, 65535, make([]uint16, 2))
	_, calls["FC23 write 122"] = c.ReadWriteMultipleRegisters(ctx, 1, 0, 1, 0, make([]uint16, 122))
	_, calls["FC23 read 126"] = c.ReadWriteMultipleRegisters(ctx, 1, 0, 126, 0, make([]uint16, 1))
	calls["Into empty"] = c.ReadHoldingRegistersInto(ctx, 1, 0, nil)
	for name, err := range calls {
		if !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: %v, want ErrInvalidRequest", name, err)
		}
	}
}

// rawTCP sends raw request PDUs to a server, bypassing the client's checks.
func rawTCP(t *testing.T, addr string, unit byte, pdu []byte) []byte {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	frame := append([]byte{0x12, 0x34, 0, 0, 0, byte(len(pdu) + 1), unit}, pdu...)
	if _, err := nc.Write(frame); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, MaxTCPADU)
	n, err := nc.Read(buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if n < 8 || buf[0] != 0x12 || buf[1] != 0x34 || int(be16(buf[4:])) != n-6 {
		t.Fatalf("bad answer % x", buf[:n])
	}
	return buf[7:n]
}

// The server answers requests the client would refuse with the exceptions of the specification.
func TestServerLimits(t *testing.T) {
	mem := NewMemory(MemoryLayout{HoldingRegisters: 100})
	addr := serveLoopback(t, &Server{Handler: mem}, TCP)
	tests := []struct {
		name string
		pdu  []byte
		want []byte
	}{
		{"FC3 qty 0", []byte{3, 0, 0, 0, 0}, []byte{0x83, 3}},
		{"FC3 qty 126", []byte{3, 0, 0, 0, 126}, []byte{0x83, 3}},
		{"FC3 overflow", []byte{3, 0xFF, 0xFF, 0, 2}, []byte{0x83, 2}},
		{"FC3 beyond memory", []byte{3, 0, 99, 0, 2}, []byte{0x83, 2}},
		{"FC3 short", []byte{3, 0, 0, 0}, []byte{0x83, 3}},
		{"FC1 qty 2001", []byte{1, 0, 0, 0x07, 0xD1}, []byte{0x81, 3}},
		{"FC1 qty 2000", []byte{1, 0, 0, 0x07, 0xD0}, append([]byte{1, 250}, make([]byte, 250)...)},
		{"FC5 bad value", []byte{5, 0, 0, 0x12, 0x34}, []byte{0x85, 3}},
		{"FC15 byte count", []byte{15, 0, 0, 0, 9, 1, 0xFF}, []byte{0x8F, 3}},
		{"FC16 byte count", []byte{16, 0, 0, 0, 1, 4, 0, 1, 0, 2}, []byte{0x90, 3}},
		{"FC16 overflow", []byte{16, 0xFF, 0xFF, 0, 2, 4, 0, 1, 0, 2}, []byte{0x90, 2}},
		{"FC23 write 122", append([]byte{23, 0, 0, 0, 1, 0, 0, 0, 122, 244}, make([]byte, 244)...)[:253], []byte{0x97, 3}},
		{"FC23 overflow", []byte{23, 0xFF, 0xFF, 0, 2, 0, 0, 0, 1, 2, 0, 0}, []byte{0x97, 2}},
		{"unknown function", []byte{0x2B, 0x0E, 1, 0}, []byte{0xAB, 1}},
		{"FC8 diagnostics", []byte{8, 0, 0, 0x12, 0x34}, []byte{0x88, 1}},
	}
	for _, tc := range tests {
		if got := rawTCP(t, addr, 1, tc.pdu); string(got) != string(tc.want) {
			t.Errorf("%s: answer % x, want % x", tc.name, got, tc.want)
		}
	}
}

func TestExceptionRoundTrip(t *testing.T) {
	for _, tr := range loopbackTransports {
		t.Run(string(tr), func(t *testing.T) {
			mem := NewMemory(MemoryLayout{HoldingRegisters: 10})
			c := newTestClient(t, ClientConfig{Transport: tr, Address: serveLoopback(t, &Server{Handler: mem}, tr)})
			_, err := c.ReadHoldingRegisters(context.Background(), 1, 5, 10)
			var e *Exception
			if !errors.As(err, &e) || e.Code != IllegalDataAddress || e.Function != FuncReadHoldingRegisters {
				t.Fatalf("got %v, want IllegalDataAddress exception", err)
			}
			if !errors.Is(err, &Exception{Code: IllegalDataAddress}) {
				t.Error("errors.Is does not match the exception")
			}
			// The connection stays usable.
			if _, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 10); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// handlerFunc adapts a function to Handler for reads of holding registers; the rest is Memory.
type faultHandler struct {
	*Memory
	mu    sync.Mutex
	fault func(addr uint16) error // consulted on ReadHoldingRegisters
}

func (h *faultHandler) ReadHoldingRegisters(ctx context.Context, unit byte, addr uint16, dst []uint16) error {
	h.mu.Lock()
	f := h.fault
	h.mu.Unlock()
	if err := h.Memory.ReadHoldingRegisters(ctx, unit, addr, dst); err != nil {
		return err
	}
	if f != nil {
		return f(addr)
	}
	return nil
}

func TestUnits(t *testing.T) {
	mem := NewMemory(MemoryLayout{HoldingRegisters: 10}, 1, 2)
	_ = mem.SetHoldingRegisters(1, 0, []uint16{11})
	_ = mem.SetHoldingRegisters(2, 0, []uint16{22})
	srv := &Server{Handler: mem, Units: []byte{1, 2}}
	t.Run("tcp", func(t *testing.T) {
		c := newTestClient(t, ClientConfig{Transport: TCP, Address: serveLoopback(t, srv, TCP)})
		for unit, want := range map[byte]uint16{1: 11, 2: 22} {
			if got, err := c.ReadHoldingRegisters(context.Background(), unit, 0, 1); err != nil || got[0] != want {
				t.Errorf("unit %d: %v %v", unit, got, err)
			}
		}
		_, err := c.ReadHoldingRegisters(context.Background(), 3, 0, 1)
		if !errors.Is(err, &Exception{Code: GatewayPathUnavailable}) {
			t.Errorf("unit 3: %v, want GatewayPathUnavailable", err)
		}
		// Unit 0 is not a broadcast on TCP; with two banks Memory cannot tell which is meant.
		_, err = c.ReadHoldingRegisters(context.Background(), 0, 0, 1)
		if !errors.Is(err, &Exception{Code: GatewayPathUnavailable}) {
			t.Errorf("unit 0: %v, want GatewayPathUnavailable", err)
		}
	})
	t.Run("rtu-over-tcp", func(t *testing.T) {
		c := newTestClient(t, ClientConfig{Transport: RTUOverTCP, Address: serveLoopback(t, srv, RTUOverTCP), Timeout: 200 * time.Millisecond})
		if got, err := c.ReadHoldingRegisters(context.Background(), 2, 0, 1); err != nil || got[0] != 22 {
			t.Errorf("unit 2: %v %v", got, err)
		}
		// A slave on a bus does not answer for another unit.
		if _, err := c.ReadHoldingRegisters(context.Background(), 3, 0, 1); !errors.Is(err, ErrTimeout) {
			t.Errorf("unit 3: %v, want ErrTimeout", err)
		}
		// Broadcast: written by every unit, answered by none.
		if err := c.WriteSingleRegister(context.Background(), 0, 5, 55); err != nil {
			t.Fatalf("broadcast: %v", err)
		}
		if _, err := c.ReadHoldingRegisters(context.Background(), 0, 0, 1); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("broadcast read: %v, want ErrInvalidRequest", err)
		}
		// The next request waits for the broadcast turnaround, then sees the write.
		got, err := c.ReadHoldingRegisters(context.Background(), 1, 5, 1)
		if err != nil || got[0] != 55 {
			t.Errorf("after broadcast: %v %v", got, err)
		}
	})
}

func TestTCPSingleUnitAliases(t *testing.T) {
	mem := NewMemory(MemoryLayout{HoldingRegisters: 10}, 7)
	_ = mem.SetHoldingRegisters(7, 0, []uint16{77})
	c := newTestClient(t, ClientConfig{Transport: TCP, Address: serveLoopback(t, &Server{Handler: mem, Units: []byte{7}}, TCP)})
	for _, unit := range []byte{0, 7, 255} {
		if got, err := c.ReadHoldingRegisters(context.Background(), unit, 0, 1); err != nil || got[0] != 77 {
			t.Errorf("unit %d: %v %v", unit, got, err)
		}
	}
}

func TestConcurrent(t *testing.T) {
	for _, tr := range loopbackTransports {
		for _, inFlight := range []int{1, 8} {
			t.Run(fmt.Sprintf("%s/%d", tr, inFlight), func(t *testing.T) {
				mem := NewMemory(MemoryLayout{HoldingRegisters: 1000})
				c := newTestClient(t, ClientConfig{Transport: tr, Address: serveLoopback(t, &Server{Handler: mem}, tr), MaxInFlight: inFlight, Timeout: 5 * time.Second})
				var wg sync.WaitGroup
				errs := make(chan error, 16)
				for g := range 16 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						addr := uint16(g * 50)
						for i := range 30 {
							v := []uint16{uint16(g), uint16(i)}
							if err := c.WriteMultipleRegisters(context.Background(), 1, addr, v); err != nil {
								errs <- err
								return
							}
							got, err := c.ReadHoldingRegisters(context.Background(), 1, addr, 2)
							if err != nil {
								errs <- err
								return
							}
							if got[0] != v[0] || got[1] != v[1] {
								errs <- fmt.Errorf("goroutine %d read %v, want %v", g, got, v)
								return
							}
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Error(err)
				}
			})
		}
	}
}

func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		tr       Transport
		inFlight int
	}{{TCP, 1}, {TCP, 4}, {RTUOverTCP, 1}} {
		tr := tc.tr
		t.Run(fmt.Sprintf("%s/%d", tr, tc.inFlight), func(t *testing.T) {
			h := &faultHandler{Memory: NewMemory(MemoryLayout{HoldingRegisters: 10})}
			_ = h.SetHoldingRegisters(1, 0, []uint16{1, 2, 3})
			srv := &Server{Handler: h}
			c := newTestClient(t, ClientConfig{Transport: tr, Address: serveLoopback(t, srv, tr), Timeout: 300 * time.Millisecond, DrainSilence: 20 * time.Millisecond, MaxInFlight: tc.inFlight})
			ctx := context.Background()
			setFault := func(f func(uint16) error) {
				h.mu.Lock()
				h.fault = f
				h.mu.Unlock()
			}
			check := func(what string) {
				t.Helper()
				got, err := c.ReadHoldingRegisters(ctx, 1, 0, 3)
				if err != nil || got[2] != 3 {
					t.Fatalf("%s: next request got %v, %v", what, got, err)
				}
			}
			check("first")

			setFault(func(uint16) error { return ErrNoResponse })
			if _, err := c.ReadHoldingRegisters(ctx, 1, 0, 3); !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("ErrNoResponse: %v, want ErrTimeout", err)
			}
			setFault(nil)
			check("after no response")

			setFault(func(uint16) error { return ErrDropConnection })
			if _, err := c.ReadHoldingRegisters(ctx, 1, 0, 3); err == nil {
				t.Error("ErrDropConnection: no error")
			} else {
				t.Logf("ErrDropConnection: %v", err)
			}
			setFault(nil)
			check("after drop") // reconnects

			setFault(func(uint16) error { return ErrCorruptResponse })
			_, err := c.ReadHoldingRegisters(ctx, 1, 0, 3)
			if tr == TCP && !errors.Is(err, ErrInvalidResponse) {
				t.Errorf("ErrCorruptResponse on tcp: %v, want ErrInvalidResponse", err)
			}
			if tr == RTUOverTCP && !errors.Is(err, ErrBadCRC) {
				t.Errorf("ErrCorruptResponse on rtu: %v, want ErrBadCRC", err)
			}
			setFault(nil)
			check("after corrupt")

			// An ordinary error becomes ServerDeviceFailure.
			setFault(func(uint16) error { return errors.New("sensor broken") })
			if _, err := c.ReadHoldingRegisters(ctx, 1, 0, 3); !errors.Is(err, &Exception{Code: ServerDeviceFailure}) {
				t.Errorf("handler error: %v, want ServerDeviceFailure", err)
			}
		})
	}
}

func TestReconnectAfterServerDrops(t *testing.T) {
	for _, tr := range loopbackTransports {
		t.Run(string(tr), func(t *testing.T) {
			mem := NewMemory(MemoryLayout{HoldingRegisters: 10})
			srv := &Server{Handler: mem}
			c := newTestClient(t, ClientConfig{Transport: tr, Address: serveLoopback(t, srv, tr)})
			ctx := context.Background()
			for i := range 3 {
				// A read after the drop is sent again on a new connection.
				if _, err := c.ReadHoldingRegisters(ctx, 1, 0, 1); err != nil {
					t.Fatalf("round %d: %v", i, err)
				}
				waitFor(t, func() bool { return srv.Connections() == 1 })
				srv.CloseConnections()
				waitFor(t, func() bool { return srv.Connections() == 0 })
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("condition not reached")
}

func TestClosedClient(t *testing.T) {
	for _, tr := range loopbackTransports {
		mem := NewMemory(MemoryLayout{HoldingRegisters: 10})
		c, err := NewClient(ClientConfig{Transport: tr, Address: serveLoopback(t, &Server{Handler: mem}, tr)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1); err != nil {
			t.Fatal(err)
		}
		c.Close()
		if _, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1); !errors.Is(err, ErrClosed) {
			t.Errorf("%s: after Close: %v", tr, err)
		}
	}
}

func TestContextCancel(t *testing.T) {
	for _, tc := range []struct {
		tr       Transport
		inFlight int
	}{{TCP, 1}, {TCP, 4}, {RTUOverTCP, 1}} {
		tr := tc.tr
		t.Run(fmt.Sprintf("%s/%d", tr, tc.inFlight), func(t *testing.T) {
			h := &faultHandler{Memory: NewMemory(MemoryLayout{HoldingRegisters: 10}), fault: func(uint16) error { return ErrNoResponse }}
			c := newTestClient(t, ClientConfig{Transport: tr, Address: serveLoopback(t, &Server{Handler: h}, tr), Timeout: time.Minute, MaxInFlight: tc.inFlight})
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := c.ReadHoldingRegisters(ctx, 1, 0, 1)
			if !errors.Is(err, ErrTimeout) {
				t.Errorf("ctx deadline: %v, want ErrTimeout", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("ctx deadline ignored: took %v", d)
			}
			ctx2, cancel2 := context.WithCancel(context.Background())
			cancel2()
			if _, err := c.ReadHoldingRegisters(ctx2, 1, 0, 1); !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled ctx: %v", err)
			}
		})
	}
}

func TestConnectFailureBackoff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := newTestClient(t, ClientConfig{Transport: TCP, Address: addr})
	_, err1 := c.ReadHoldingRegisters(context.Background(), 1, 0, 1)
	_, err2 := c.ReadHoldingRegisters(context.Background(), 1, 0, 1)
	if err1 == nil || err2 == nil {
		t.Fatalf("no error: %v %v", err1, err2)
	}
	t.Logf("%v / %v", err1, err2)
}

// Close ends a request that is waiting for its answer.
func TestCloseDuringRequest(t *testing.T) {
	for _, inFlight := range []int{1, 4} {
		h := &faultHandler{Memory: NewMemory(MemoryLayout{HoldingRegisters: 10}), fault: func(uint16) error { return ErrNoResponse }}
		c, err := NewClient(ClientConfig{Transport: TCP, Address: serveLoopback(t, &Server{Handler: h}, TCP), Timeout: time.Minute, MaxInFlight: inFlight})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1)
			done <- err
		}()
		time.Sleep(50 * time.Millisecond)
		c.Close()
		select {
		case err := <-done:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("MaxInFlight %d: %v, want ErrClosed", inFlight, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("MaxInFlight %d: Close did not end the request", inFlight)
		}
	}
}

// stampHandler records when each read of holding registers arrives.
type stampHandler struct {
	*Memory
	mu    sync.Mutex
	times []time.Time
}

func (h *stampHandler) ReadHoldingRegisters(ctx context.Context, unit byte, addr uint16, dst []uint16) error {
	h.mu.Lock()
	h.times = append(h.times, time.Now())
	h.mu.Unlock()
	return nil
}

// ConnectDelay and RequestGap are lower bounds on the pauses they name.
func TestQuirkDelays(t *testing.T) {
	for _, tr := range loopbackTransports {
		t.Run(string(tr), func(t *testing.T) {
			h := &stampHandler{Memory: NewMemory(MemoryLayout{})}
			const delay, gap = 80 * time.Millisecond, 60 * time.Millisecond
			c := newTestClient(t, ClientConfig{Transport: tr, Address: serveLoopback(t, &Server{Handler: h}, tr), ConnectDelay: delay, RequestGap: gap})
			start := time.Now()
			for range 3 {
				if _, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1); err != nil {
					t.Fatal(err)
				}
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if d := h.times[0].Sub(start); d < delay {
				t.Errorf("first request %v after the start, want ≥ %v", d, delay)
			}
			for i := 1; i < len(h.times); i++ {
				if d := h.times[i].Sub(h.times[i-1]); d < gap {
					t.Errorf("requests %d and %d %v apart, want ≥ %v", i-1, i, d, gap)
				}
			}
		})
	}
}
