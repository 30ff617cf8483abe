package modbus

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// Requests sent back to back on one connection are all answered, in order.
func TestServerPipelining(t *testing.T) {
	mem := NewMemory(MemoryLayout{HoldingRegisters: 100})
	for i := range 100 {
		_ = mem.SetHoldingRegisters(1, uint16(i), []uint16{uint16(1000 + i)})
	}
	nc, err := net.Dial("tcp", serveLoopback(t, &Server{Handler: mem}, TCP))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var out []byte
	const n = 20
	for i := range n {
		out = append(out, tcpFrame(uint16(i), 1, 3, 0, byte(i), 0, 1)...)
	}
	if _, err := nc.Write(out); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	ans := make([]byte, n*11)
	if _, err := io.ReadFull(nc, ans); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		a := ans[i*11 : (i+1)*11]
		if be16(a) != uint16(i) || be16(a[9:]) != uint16(1000+i) {
			t.Errorf("answer %d: % x", i, a)
		}
	}
}

func TestServerIdleTimeoutAndMaxConns(t *testing.T) {
	mem := NewMemory(MemoryLayout{HoldingRegisters: 10})
	srv := &Server{Handler: mem, IdleTimeout: 100 * time.Millisecond, MaxConns: 1}
	addr := serveLoopback(t, srv, TCP)
	nc1, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc1.Close()
	waitFor(t, func() bool { return srv.Connections() == 1 })
	// A second connection is refused (closed at once) while the first is open.
	nc2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	_ = nc2.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := nc2.Read(make([]byte, 1)); err == nil {
		t.Error("second connection was served")
	}
	// The idle first connection is closed by the server.
	_ = nc1.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := nc1.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("idle connection: %v, want EOF", err)
	}
}

// Over RTU a function the server does not know, delimited by silence, gets IllegalFunction; a frame
// with a bad CRC gets nothing, and the next good frame is answered.
func TestServerRTUFraming(t *testing.T) {
	mem := NewMemory(MemoryLayout{HoldingRegisters: 10})
	nc, err := net.Dial("tcp", serveLoopback(t, &Server{Handler: mem}, RTUOverTCP))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	read := func(n int) []byte {
		t.Helper()
		_ = nc.SetReadDeadline(time.Now().Add(3 * time.Second))
		b := make([]byte, n)
		if _, err := io.ReadFull(nc, b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	nc.Write(rtuFrame(1, 0x2B, 0x0E, 1, 0))
	if got, want := read(5), rtuFrame(1, 0xAB, 1); string(got) != string(want) {
		t.Errorf("unknown function: % x, want % x", got, want)
	}
	bad := rtuFrame(1, 3, 0, 0, 0, 1)
	bad[7] ^= 0xFF
	nc.Write(bad)
	time.Sleep(2 * minSilence) // let the server see the silence that ends the damaged frame
	nc.Write(rtuFrame(1, 6, 0, 1, 0, 9))
	if got, want := read(8), rtuFrame(1, 6, 0, 1, 0, 9); string(got) != string(want) {
		t.Errorf("after a bad frame: % x, want % x", got, want)
	}
	// Another slave's answer run together with a request for us, in one burst: the request is found.
	nc.Write(append(rtuFrame(5, 3, 2, 0, 1), rtuFrame(1, 6, 0, 2, 0, 7)...))
	if got, want := read(8), rtuFrame(1, 6, 0, 2, 0, 7); string(got) != string(want) {
		t.Errorf("after another slave's answer: % x, want % x", got, want)
	}
	// Noise before a request.
	nc.Write(append([]byte{0x00, 0xFF, 0x01}, rtuFrame(1, 6, 0, 3, 0, 8)...))
	if got, want := read(8), rtuFrame(1, 6, 0, 3, 0, 8); string(got) != string(want) {
		t.Errorf("after noise: % x, want % x", got, want)
	}
}

func TestSilentIntervals(t *testing.T) {
	tests := []struct {
		cfg      SerialConfig
		char     time.Duration
		t15, t35 time.Duration
	}{
		// 9600 8E1: 11 bits a character.
		{SerialConfig{Baud: 9600, Parity: "E"}, 1145833, 1718749, 4010415},
		// 9600 8N1: 10 bits.
		{SerialConfig{Baud: 9600, Parity: "N"}, 1041666, 1562499, 3645831},
		// 19200 8N2: 11 bits, still computed.
		{SerialConfig{Baud: 19200, Parity: "N", StopBits: 2}, 572916, 859374, 2005206},
		// Above 19200 the intervals are fixed.
		{SerialConfig{Baud: 38400}, 286458, 750 * time.Microsecond, 1750 * time.Microsecond},
		{SerialConfig{Baud: 115200, Parity: "N"}, 86805, 750 * time.Microsecond, 1750 * time.Microsecond},
	}
	for _, tc := range tests {
		if c := tc.cfg.CharTime(); c != tc.char {
			t.Errorf("%+v: CharTime %v, want %v", tc.cfg, c, tc.char)
		}
		t15, t35 := tc.cfg.SilentIntervals()
		if t15 != tc.t15 || t35 != tc.t35 {
			t.Errorf("%+v: t1.5 %v t3.5 %v, want %v %v", tc.cfg, t15, t35, tc.t15, tc.t35)
		}
	}
	for _, bad := range []SerialConfig{{Baud: 10}, {DataBits: 6}, {Parity: "X"}, {StopBits: 3}} {
		if err := bad.setDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestParseTransport(t *testing.T) {
	for _, s := range []string{"tcp", "rtu", "rtu-over-tcp"} {
		if tr, err := ParseTransport(s); err != nil || string(tr) != s {
			t.Errorf("ParseTransport(%q) = %q, %v", s, tr, err)
		}
	}
	if _, err := ParseTransport("udp"); err == nil {
		t.Error("udp accepted")
	}
	if _, err := NewClient(ClientConfig{Transport: "udp", Address: "x"}); err == nil {
		t.Error("NewClient accepted udp")
	}
	if _, err := NewClient(ClientConfig{Transport: TCP}); err == nil {
		t.Error("NewClient accepted an empty address")
	}
}

func TestCRC(t *testing.T) {
	// The example of Modbus over Serial Line v1.02 §6.2.2 and a frame from a real exchange.
	if got := CRC([]byte{0x02, 0x07}); got != 0x1241 {
		t.Errorf("CRC(02 07) = %04x, want 1241", got)
	}
	frame := []byte{0x01, 0x03, 0x00, 0x00, 0x00, 0x0A}
	if got := appendCRC(frame); got[6] != 0xC5 || got[7] != 0xCD {
		t.Errorf("frame CRC % x, want c5 cd", got[6:])
	}
	if !crcOK([]byte{0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD}) || crcOK([]byte{1, 2}) {
		t.Error("crcOK wrong")
	}
}

// ctxHandler reports on cancelled when the ctx of a read is cancelled.
type ctxHandler struct {
	*Memory
	cancelled chan struct{}
}

func (h *ctxHandler) ReadHoldingRegisters(ctx context.Context, unit byte, addr uint16, dst []uint16) error {
	select {
	case <-ctx.Done():
		close(h.cancelled)
		return ErrNoResponse
	case <-time.After(time.Minute):
		return nil
	}
}

// A Handler taking its time learns through ctx that the client went away.
func TestServerCancelsHandlerWhenClientLeaves(t *testing.T) {
	h := &ctxHandler{Memory: NewMemory(MemoryLayout{}), cancelled: make(chan struct{})}
	nc, err := net.Dial("tcp", serveLoopback(t, &Server{Handler: h}, TCP))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write(tcpFrame(1, 1, 3, 0, 0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	nc.Close()
	select {
	case <-h.cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the Handler's ctx was not cancelled")
	}
}

// slowReadHandler answers reads like Memory, after a pause longer than the server's slowHandler, so that
// the connection is watched while it works.
type slowReadHandler struct {
	*Memory
}

func (h slowReadHandler) ReadHoldingRegisters(ctx context.Context, unit byte, addr uint16, dst []uint16) error {
	time.Sleep(3 * slowHandler)
	return h.Memory.ReadHoldingRegisters(ctx, unit, addr, dst)
}

// What the client sends while a slow Handler call is watched is served after it, in order, and a
// client that half-closes its side after its requests still gets every answer.
func TestServerSlowHandlerReadAhead(t *testing.T) {
	mem := NewMemory(MemoryLayout{HoldingRegisters: 10})
	_ = mem.SetHoldingRegisters(1, 0, []uint16{100, 101, 102})
	nc, err := net.Dial("tcp", serveLoopback(t, &Server{Handler: slowReadHandler{mem}}, TCP))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write(tcpFrame(1, 1, 3, 0, 0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	// The rest comes while the first request is being served, which the watch reads ahead.
	time.Sleep(2 * slowHandler)
	if _, err := nc.Write(append(tcpFrame(2, 1, 3, 0, 1, 0, 1), tcpFrame(3, 1, 3, 0, 2, 0, 1)...)); err != nil {
		t.Fatal(err)
	}
	if err := nc.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	ans, err := io.ReadAll(nc)
	if err != nil {
		t.Fatal(err)
	}
	if len(ans) != 3*11 {
		t.Fatalf("answers % x, want 3 of 11 bytes", ans)
	}
	for i := range 3 {
		a := ans[i*11 : (i+1)*11]
		if be16(a) != uint16(i+1) || be16(a[9:]) != uint16(100+i) {
			t.Errorf("answer %d: % x", i, a)
		}
	}
}

// A connection with requests more often than IdleTimeout stays open although the server does not
// move its read deadline on every request.
func TestServerIdleTimeoutCountsFromLastRequest(t *testing.T) {
	mem := NewMemory(MemoryLayout{HoldingRegisters: 10})
	// Generous, so that a loaded machine's scheduling cannot pass for idleness: the requests together
	// last longer than idle, each gap is a quarter of it.
	const idle = time.Second
	nc, err := net.Dial("tcp", serveLoopback(t, &Server{Handler: mem, IdleTimeout: idle}, TCP))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ans := make([]byte, 11)
	start := time.Now()
	for i := range 6 {
		if _, err := nc.Write(tcpFrame(uint16(i), 1, 3, 0, 0, 0, 1)); err != nil {
			t.Fatal(err)
		}
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(nc, ans); err != nil {
			t.Fatalf("request %d after %v: %v", i, time.Since(start), err)
		}
		time.Sleep(idle / 4)
	}
	if time.Since(start) <= idle {
		t.Fatalf("the requests took %v, not longer than the idle timeout %v: the test proves nothing", time.Since(start), idle)
	}
	// Then, idle, it is closed.
	if _, err := nc.Read(ans); err != io.EOF {
		t.Errorf("idle connection: %v, want EOF", err)
	}
}

// A malformed MBAP header ends the connection; the answers to the requests before it are sent first.
func TestServerMalformedHeaderAfterRequests(t *testing.T) {
	mem := NewMemory(MemoryLayout{HoldingRegisters: 10})
	nc, err := net.Dial("tcp", serveLoopback(t, &Server{Handler: mem}, TCP))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	out := append(tcpFrame(1, 1, 3, 0, 0, 0, 1), tcpFrame(2, 1, 3, 0, 0, 0, 1)...)
	out = append(out, 0, 3, 0, 0, 0x10, 0, 1) // length 4096
	if _, err := nc.Write(out); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	ans, err := io.ReadAll(nc)
	if err != nil {
		t.Fatal(err)
	}
	if len(ans) != 2*11 || be16(ans) != 1 || be16(ans[11:]) != 2 {
		t.Errorf("answers % x, want those to requests 1 and 2", ans)
	}
}
