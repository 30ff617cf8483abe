package modbus

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// seqHandler answers every read of holding registers with the request's sequence number (1, 2, …),
// delaying the requests listed in slow until ctx ends or the delay passes.
type seqHandler struct {
	*Memory
	n    atomic.Int32
	slow map[int32]time.Duration
}

func (h *seqHandler) ReadHoldingRegisters(ctx context.Context, unit byte, addr uint16, dst []uint16) error {
	k := h.n.Add(1)
	if d := h.slow[k]; d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ErrNoResponse
		}
	}
	for i := range dst {
		dst[i] = uint16(k)
	}
	return nil
}

// A late answer must never be taken for the answer to the next request, on either transport: the
// request that timed out is answered after the next one was sent.
func TestStaleAnswerServer(t *testing.T) {
	for _, tr := range loopbackTransports {
		t.Run(string(tr), func(t *testing.T) {
			h := &seqHandler{Memory: NewMemory(MemoryLayout{}), slow: map[int32]time.Duration{1: 400 * time.Millisecond}}
			c := newTestClient(t, ClientConfig{Transport: tr, Address: serveLoopback(t, &Server{Handler: h}, tr), Timeout: 3 * time.Second, DrainSilence: 50 * time.Millisecond})
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if _, err := c.ReadHoldingRegisters(ctx, 1, 0, 2); !errors.Is(err, ErrTimeout) {
				t.Fatalf("first request: %v, want ErrTimeout", err)
			}
			for want := uint16(2); want <= 4; want++ {
				got, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 2)
				if err != nil {
					t.Fatalf("request %d: %v", want, err)
				}
				if tr == TCP && got[0] != want {
					// Over TCP the server also served request 1 (late); its answer was dropped.
					t.Fatalf("request %d got the answer %d", want, got[0])
				}
				if tr == RTUOverTCP && got[0] == 1 {
					t.Fatalf("request %d got the stale answer %d", want, got[0])
				}
			}
		})
	}
}

// rawServer accepts connections on a loopback listener and runs serve on each, in turn.
func rawServer(t *testing.T, serve func(nc net.Conn, k int)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; ; k++ {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				serve(nc, k)
			}()
		}
	}()
	return ln.Addr().String()
}

func tcpAnswer(req []byte, values ...uint16) []byte {
	out := append([]byte{}, req[:2]...)
	out = append(out, 0, 0, 0, byte(3+2*len(values)), req[6], req[7], byte(2*len(values)))
	for _, v := range values {
		out = append(out, byte(v>>8), byte(v))
	}
	return out
}

func TestStaleAnswerTCPRaw(t *testing.T) {
	addr := rawServer(t, func(nc net.Conn, _ int) {
		req1 := make([]byte, 12)
		if _, err := io.ReadFull(nc, req1); err != nil {
			return
		}
		req2 := make([]byte, 12)
		if _, err := io.ReadFull(nc, req2); err != nil {
			return
		}
		// The stale answer first, then an answer with an id never used, then the right one; all in
		// one write, as a slow device would flush them.
		stray := tcpAnswer(req2, 333)
		stray[0] ^= 0x80
		out := append(tcpAnswer(req1, 111), stray...)
		out = append(out, tcpAnswer(req2, 222)...)
		nc.Write(out)
		io.Copy(io.Discard, nc)
	})
	for _, inFlight := range []int{1, 4} {
		c := newTestClient(t, ClientConfig{Transport: TCP, Address: addr, MaxInFlight: inFlight, Timeout: 100 * time.Millisecond})
		if _, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1); !errors.Is(err, ErrTimeout) {
			t.Fatalf("MaxInFlight %d: first: %v", inFlight, err)
		}
		got, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1)
		if err != nil || got[0] != 222 {
			t.Fatalf("MaxInFlight %d: second request got %v, %v; want 222", inFlight, got, err)
		}
	}
}

// Pipelined requests answered out of order are each matched to their own answer.
func TestPipelinedOutOfOrder(t *testing.T) {
	const n = 8
	addr := rawServer(t, func(nc net.Conn, _ int) {
		reqs := make([][]byte, n)
		for i := range reqs {
			reqs[i] = make([]byte, 12)
			if _, err := io.ReadFull(nc, reqs[i]); err != nil {
				return
			}
		}
		// All n requests were in flight at once; answer them last first, each with its address.
		for i := n - 1; i >= 0; i-- {
			nc.Write(tcpAnswer(reqs[i], be16(reqs[i][8:])))
		}
		io.Copy(io.Discard, nc)
	})
	c := newTestClient(t, ClientConfig{Transport: TCP, Address: addr, MaxInFlight: n})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := c.ReadHoldingRegisters(context.Background(), 1, uint16(100+i), 1)
			if err != nil || got[0] != uint16(100+i) {
				t.Errorf("request %d got %v, %v", i, got, err)
			}
		}()
	}
	wg.Wait()
}

// Answers that carry the right transaction id but the wrong unit or function are rejected.
func TestTCPResponseValidation(t *testing.T) {
	tests := []struct {
		name   string
		mangle func(ans []byte)
	}{
		{"wrong unit", func(a []byte) { a[6]++ }},
		{"wrong function", func(a []byte) { a[7] = 4 }},
		{"wrong byte count", func(a []byte) { a[8] = 4 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawServer(t, func(nc net.Conn, _ int) {
				for first := true; ; first = false {
					req := make([]byte, 12)
					if _, err := io.ReadFull(nc, req); err != nil {
						return
					}
					ans := tcpAnswer(req, 7)
					if first {
						tc.mangle(ans)
					}
					nc.Write(ans)
				}
			})
			c := newTestClient(t, ClientConfig{Transport: TCP, Address: addr})
			if _, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1); !errors.Is(err, ErrInvalidResponse) {
				t.Fatalf("got %v, want ErrInvalidResponse", err)
			}
			if got, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1); err != nil || got[0] != 7 {
				t.Fatalf("next: %v %v", got, err)
			}
		})
	}
}

func rtuAnswer(req []byte, values ...uint16) []byte {
	out := []byte{req[0], req[1], byte(2 * len(values))}
	for _, v := range values {
		out = append(out, byte(v>>8), byte(v))
	}
	return appendCRC(out)
}

// On RTU over TCP the late answer comes on the new connection (as through a serial gateway) while the
// client drains; it must be discarded.
func TestStaleAnswerRTUOverTCPRaw(t *testing.T) {
	late := make(chan []byte, 1)
	addr := rawServer(t, func(nc net.Conn, k int) {
		req := make([]byte, 8)
		if k == 0 {
			if _, err := io.ReadFull(nc, req); err == nil {
				late <- req
			}
			io.Copy(io.Discard, nc)
			return
		}
		// The device answers the first request now, on whatever connection the gateway has.
		time.Sleep(30 * time.Millisecond)
		nc.Write(rtuAnswer(<-late, 111))
		for {
			if _, err := io.ReadFull(nc, req); err != nil {
				return
			}
			nc.Write(rtuAnswer(req, 222))
		}
	})
	c := newTestClient(t, ClientConfig{Transport: RTUOverTCP, Address: addr, DrainSilence: 150 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.ReadHoldingRegisters(ctx, 1, 0, 1); !errors.Is(err, ErrTimeout) {
		t.Fatalf("first: %v", err)
	}
	got, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1)
	if err != nil || got[0] != 222 {
		t.Fatalf("second request got %v, %v; want 222", got, err)
	}
}

func TestRTUResponseValidation(t *testing.T) {
	tests := []struct {
		name   string
		mangle func(ans []byte) []byte
		want   error
	}{
		{"bad crc", func(a []byte) []byte { a[len(a)-1] ^= 1; return a }, ErrBadCRC},
		{"wrong unit", func(a []byte) []byte { a[0] = 9; return appendCRC(a[:len(a)-2]) }, ErrInvalidResponse},
		{"wrong function", func(a []byte) []byte { a[1] = 4; return appendCRC(a[:len(a)-2]) }, ErrInvalidResponse},
		{"wrong byte count", func(a []byte) []byte { a[2] = 4; return appendCRC(a[:len(a)-2]) }, ErrInvalidResponse},
		{"exception", func(a []byte) []byte { return appendCRC([]byte{a[0], 0x83, 2}) }, &Exception{Code: IllegalDataAddress}},
		{"short then silent", func(a []byte) []byte { return a[:4] }, ErrTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var answered atomic.Int32 // across connections: the client reconnects after a bad frame
			addr := rawServer(t, func(nc net.Conn, _ int) {
				for {
					req := make([]byte, 8)
					if _, err := io.ReadFull(nc, req); err != nil {
						return
					}
					ans := rtuAnswer(req, 7)
					if answered.Add(1) == 1 {
						ans = tc.mangle(ans)
					}
					nc.Write(ans)
				}
			})
			c := newTestClient(t, ClientConfig{Transport: RTUOverTCP, Address: addr, Timeout: 300 * time.Millisecond, DrainSilence: 20 * time.Millisecond})
			if _, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if got, err := c.ReadHoldingRegisters(context.Background(), 1, 0, 1); err != nil || got[0] != 7 {
				t.Fatalf("next: %v %v", got, err)
			}
		})
	}
}
