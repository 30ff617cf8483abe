package modbus

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"
)

var ptyRE = regexp.MustCompile(`PTY is (\S+)`)

// ptyPair makes two connected pseudo-terminals with socat and returns their paths.
func ptyPair(t *testing.T) (string, string) {
	t.Helper()
	socat, err := exec.LookPath("socat")
	if err != nil {
		t.Skip("socat not found: install socat (Debian package socat)")
	}
	cmd := exec.Command(socat, "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	paths := make(chan string, 2)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := ptyRE.FindStringSubmatch(sc.Text()); m != nil {
				paths <- m[1]
			}
		}
	}()
	var p [2]string
	for i := range p {
		select {
		case p[i] = <-paths:
		case <-time.After(10 * time.Second):
			t.Fatal("socat did not report its pseudo-terminals")
		}
	}
	return p[0], p[1]
}

// ptyLine is 8N1: pseudo-terminals ignore the baud rate, and some refuse parity.
var ptyLine = SerialConfig{Baud: 115200, DataBits: 8, Parity: "N", StopBits: 1}

func serveSerial(t *testing.T, srv *Server, path string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeSerial(ctx, path, ptyLine) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeSerial: %v", err)
		}
	})
}

func TestSerialPTY(t *testing.T) {
	a, b := ptyPair(t)
	h := &faultHandler{Memory: NewMemory(MemoryLayout{}, 1, 2, 3)}
	for u := byte(1); u <= 3; u++ {
		_ = h.SetHoldingRegisters(u, 0, []uint16{uint16(u) * 100})
	}
	serveSerial(t, &Server{Handler: h, Units: []byte{1, 2, 3}}, a)

	// Generous timeouts: socat relays the bytes, and it shares the machine with everything else. The
	// DrainSilence is left at its default, Timeout.
	cfg := ClientConfig{Transport: RTU, Address: b, Serial: ptyLine, Timeout: 2 * time.Second}
	c1 := newTestClient(t, cfg)
	c2 := newTestClient(t, cfg)
	if c1.tr.(*rtuTransport).bus != c2.tr.(*rtuTransport).bus {
		t.Fatal("two clients of one device path do not share the port owner")
	}
	// A symbolic link to the same device reaches the same owner.
	link := filepath.Join(t.TempDir(), "ttyLINK")
	if err := os.Symlink(b, link); err != nil {
		t.Fatal(err)
	}
	viaLink := cfg
	viaLink.Address = link
	c4 := newTestClient(t, viaLink)
	if c4.tr.(*rtuTransport).bus != c1.tr.(*rtuTransport).bus {
		t.Error("a symbolic link to the device got its own port owner")
	}
	other := cfg
	other.Serial.Baud = 9600
	if _, err := NewClient(other); err == nil {
		t.Error("a client with another line setting was allowed on the same port")
	}

	t.Run("function codes", func(t *testing.T) { testFunctionCodes(t, c1, h.Memory, 2) })

	t.Run("units share the bus", func(t *testing.T) {
		var wg sync.WaitGroup
		for u := byte(1); u <= 3; u++ {
			for _, c := range []*Client{c1, c2} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 10 {
						got, err := c.ReadHoldingRegisters(context.Background(), u, 0, 1)
						if err != nil || got[0] != uint16(u)*100 {
							t.Errorf("unit %d: %v %v", u, got, err)
							return
						}
					}
				}()
			}
		}
		wg.Wait()
	})

	t.Run("unit not on the bus", func(t *testing.T) {
		short := cfg
		short.Timeout, short.DrainSilence = 300*time.Millisecond, 50*time.Millisecond
		c := newTestClient(t, short)
		if _, err := c.ReadHoldingRegisters(context.Background(), 9, 0, 1); !errors.Is(err, ErrTimeout) {
			t.Fatalf("got %v, want ErrTimeout", err)
		}
		// The next request drains with the DrainSilence of the client that makes it.
		if got, err := c.ReadHoldingRegisters(context.Background(), 3, 0, 1); err != nil || got[0] != 300 {
			t.Fatalf("next: %v %v", got, err)
		}
	})

	t.Run("broadcast", func(t *testing.T) {
		if err := c1.WriteSingleRegister(context.Background(), 0, 9, 99); err != nil {
			t.Fatal(err)
		}
		for u := byte(1); u <= 3; u++ {
			got, err := c2.ReadHoldingRegisters(context.Background(), u, 9, 1)
			if err != nil || got[0] != 99 {
				t.Errorf("unit %d after broadcast: %v %v", u, got, err)
			}
		}
	})

	t.Run("corrupt", func(t *testing.T) {
		h.mu.Lock()
		h.fault = func(uint16) error { return ErrCorruptResponse }
		h.mu.Unlock()
		_, err := c1.ReadHoldingRegisters(context.Background(), 1, 0, 1)
		h.mu.Lock()
		h.fault = nil
		h.mu.Unlock()
		if !errors.Is(err, ErrBadCRC) {
			t.Fatalf("got %v, want ErrBadCRC", err)
		}
		if got, err := c1.ReadHoldingRegisters(context.Background(), 1, 0, 1); err != nil || got[0] != 100 {
			t.Fatalf("next: %v %v", got, err)
		}
	})

	t.Run("late answer", func(t *testing.T) {
		// The slave answers 300 ms late, after the client gave up at 150 ms; the late answer must
		// be drained, not taken for the answer to the next request.
		var calls int
		h.mu.Lock()
		h.fault = func(uint16) error {
			calls++
			if calls == 1 {
				time.Sleep(300 * time.Millisecond)
			}
			return nil
		}
		h.mu.Unlock()
		defer func() {
			h.mu.Lock()
			h.fault = nil
			h.mu.Unlock()
		}()
		_ = h.SetHoldingRegisters(1, 0, []uint16{111})
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		if _, err := c1.ReadHoldingRegisters(ctx, 1, 0, 1); !errors.Is(err, ErrTimeout) {
			t.Fatalf("first: %v", err)
		}
		_ = h.SetHoldingRegisters(1, 0, []uint16{222})
		got, err := c2.ReadHoldingRegisters(context.Background(), 1, 0, 1)
		if err != nil || got[0] != 222 {
			t.Fatalf("next request got %v, %v; want 222", got, err)
		}
	})
}
