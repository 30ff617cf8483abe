package conformance

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/modbus"
)

// The pattern every server peer holds (testdata/libmodbus_server.c, testdata/pymodbus_server.py) and
// patternMemory gives akciz's server, so that any client can check any server: patternSize objects in
// each table, nothing above (a request beyond answers IllegalDataAddress).
const patternSize = 10000

func patternHolding(i int) uint16 { return uint16(i) }
func patternInput(i int) uint16   { return uint16(patternSize + i) }
func patternCoil(i int) bool      { return i%3 == 0 }
func patternDiscrete(i int) bool  { return i%2 == 0 }

// patternMemory is a modbus.Memory holding the pattern for every unit id.
func patternMemory(t testing.TB) *modbus.Memory {
	t.Helper()
	m := modbus.NewMemory(modbus.MemoryLayout{Coils: patternSize, DiscreteInputs: patternSize, HoldingRegisters: patternSize, InputRegisters: patternSize})
	err := m.Update(1, func(b *modbus.Bank) {
		for i := range patternSize {
			b.HoldingRegisters[i] = patternHolding(i)
			b.InputRegisters[i] = patternInput(i)
			b.Coils[i] = patternCoil(i)
			b.DiscreteInputs[i] = patternDiscrete(i)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// serveTCP serves h with akciz's server on a loopback port until the test ends and returns the address:
// Modbus TCP, or RTU frames over TCP when rtuOverTCP is set; units are the unit ids served (all if none).
func serveTCP(t *testing.T, h modbus.Handler, rtuOverTCP bool, units ...byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &modbus.Server{Handler: h, Units: units}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		if rtuOverTCP {
			done <- srv.ServeRTUOverTCP(ctx, ln)
		} else {
			done <- srv.ServeTCP(ctx, ln)
		}
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return ln.Addr().String()
}

// serialLine is the line the RTU tests run: pseudo-terminals ignore the baud rate and have no parity
// bit, so 9600 8N1 is what every peer can be told.
var serialLine = modbus.SerialConfig{Baud: 9600, DataBits: 8, Parity: "N", StopBits: 1}

// serveSerial serves h as unit 1 with akciz's RTU server on the serial device path until the test ends.
func serveSerial(t *testing.T, h modbus.Handler, path string) {
	t.Helper()
	srv := &modbus.Server{Handler: h, Units: []byte{1}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeSerial(ctx, path, serialLine) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serial server: %v", err)
		}
	})
}

// newClient makes an akciz client; the test closes it.
func newClient(t *testing.T, cfg modbus.ClientConfig) *modbus.Client {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Transport == modbus.RTU && cfg.Serial == (modbus.SerialConfig{}) {
		cfg.Serial = serialLine
	}
	c, err := modbus.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitReady polls the server behind c until it answers, for peers that give no other sign of
// readiness (a serial server has no port to poll), or fails the test when ctx ends.
func waitReady(ctx context.Context, t *testing.T, c *modbus.Client, p *peer) {
	t.Helper()
	for {
		rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, err := c.ReadHoldingRegisters(rctx, 1, 0, 1)
		cancel()
		if err == nil {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited: %v\n%s", p.name, p.err, p.out.String())
		case <-ctx.Done():
			t.Fatalf("%s never answered: %v (last error %v)", p.name, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// exerciseClient runs every function code akciz's client speaks against a server holding the pattern,
// checking each answer, then one exception. The writes change the server: run it once per server.
func exerciseClient(ctx context.Context, t *testing.T, c *modbus.Client, unit byte) {
	t.Helper()
	bits := func(n, from int, f func(int) bool) []bool {
		out := make([]bool, n)
		for i := range out {
			out[i] = f(from + i)
		}
		return out
	}
	regs := func(n, from int, f func(int) uint16) []uint16 {
		out := make([]uint16, n)
		for i := range out {
			out[i] = f(from + i)
		}
		return out
	}
	check := func(what string, got, want any, err error) {
		t.Helper()
		switch {
		case err != nil:
			t.Errorf("%s: %v", what, err)
		case !equal(got, want):
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}

	got1, err := c.ReadCoils(ctx, unit, 0, 20)
	check("fc1 read coils 0..19", got1, bits(20, 0, patternCoil), err)
	got1, err = c.ReadCoils(ctx, unit, 7, 2000)
	check("fc1 read 2000 coils 7..2006", got1, bits(2000, 7, patternCoil), err)
	got2, err := c.ReadDiscreteInputs(ctx, unit, 5, 11)
	check("fc2 read discrete inputs 5..15", got2, bits(11, 5, patternDiscrete), err)
	got3, err := c.ReadHoldingRegisters(ctx, unit, 100, 125)
	check("fc3 read 125 holding registers 100..224", got3, regs(125, 100, patternHolding), err)
	got3, err = c.ReadHoldingRegisters(ctx, unit, patternSize-125, 125)
	check("fc3 read the last 125 holding registers", got3, regs(125, patternSize-125, patternHolding), err)
	got4, err := c.ReadInputRegisters(ctx, unit, patternSize-10, 10)
	check("fc4 read input registers 9990..9999", got4, regs(10, patternSize-10, patternInput), err)

	err = c.WriteSingleCoil(ctx, unit, 1, true)
	got1, err2 := c.ReadCoils(ctx, unit, 0, 3)
	check("fc5 write coil 1, read back 0..2", got1, []bool{true, true, false}, errors.Join(err, err2))
	err = c.WriteSingleRegister(ctx, unit, 200, 0xBEEF)
	got3, err2 = c.ReadHoldingRegisters(ctx, unit, 199, 3)
	check("fc6 write register 200, read back 199..201", got3, []uint16{199, 0xBEEF, 201}, errors.Join(err, err2))
	coils := []bool{true, false, true, true, false, false, true, true, true, false, true}
	err = c.WriteMultipleCoils(ctx, unit, 30, coils)
	got1, err2 = c.ReadCoils(ctx, unit, 30, uint16(len(coils)))
	check("fc15 write coils 30..40, read back", got1, coils, errors.Join(err, err2))
	err = c.WriteMultipleRegisters(ctx, unit, 300, []uint16{1, 2, 3, 0xFFFF})
	got3, err2 = c.ReadHoldingRegisters(ctx, unit, 300, 4)
	check("fc16 write registers 300..303, read back", got3, []uint16{1, 2, 3, 0xFFFF}, errors.Join(err, err2))
	// FC 23 writes before it reads (Modbus Application Protocol v1.1b3, §6.17).
	got3, err = c.ReadWriteMultipleRegisters(ctx, unit, 300, 4, 302, []uint16{7, 8})
	check("fc23 write 302..303, read 300..303", got3, []uint16{1, 2, 7, 8}, err)

	// A typed value through the peer: a float32 in word-swapped order (CDAB), as many PLCs keep them.
	f := make([]uint16, 2)
	modbus.CDAB.PutFloat32(f, 845.25)
	err = c.WriteMultipleRegisters(ctx, unit, 400, f)
	got3, err2 = c.ReadHoldingRegisters(ctx, unit, 400, 2)
	if err := errors.Join(err, err2); err != nil {
		t.Errorf("float32 CDAB at 400: %v", err)
	} else if v := modbus.CDAB.Float32(got3); v != 845.25 {
		t.Errorf("float32 CDAB at 400 = %v (registers %04x), want 845.25", v, got3)
	}

	_, err = c.ReadHoldingRegisters(ctx, unit, patternSize-1, 2)
	var ex *modbus.Exception
	if !errors.As(err, &ex) || ex.Code != modbus.IllegalDataAddress || ex.Function != 3 {
		t.Errorf("fc3 read 9999..10000 (beyond the table): err = %v, want exception 2 (illegal data address) of function 3", err)
	}
	// The connection must still serve after an exception.
	got3, err = c.ReadHoldingRegisters(ctx, unit, 0, 2)
	check("fc3 read 0..1 after the exception", got3, []uint16{0, 1}, err)
}

// pipeline sends many reads at once through c (MaxInFlight > 1) and checks every answer: the answers
// must match their requests by transaction id whatever order the server keeps.
func pipeline(ctx context.Context, t *testing.T, c *modbus.Client, requests int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, requests)
	for i := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := uint16(i * 61 % (patternSize - 125))
			got, err := c.ReadHoldingRegisters(ctx, 1, addr, 125)
			if err != nil {
				errs <- err
				return
			}
			for k, v := range got {
				if v != patternHolding(int(addr)+k) {
					errs <- errors.New("a pipelined answer does not belong to its request")
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
}

func equal(a, b any) bool {
	switch a := a.(type) {
	case []bool:
		return slices.Equal(a, b.([]bool))
	case []uint16:
		return slices.Equal(a, b.([]uint16))
	}
	return false
}
