package conformance

import (
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/akciz/akciz/internal/modbus"
)

var okRE = regexp.MustCompile(`^ok `)

func script(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPymodbusClientAgainstServer has pymodbus 3.0's client (testdata/pymodbus_client.py) run every
// function code akciz's server serves (1 2 3 4 5 6 15 16 23) and an exception case, over Modbus TCP, RTU
// over TCP and RTU on a pseudo-terminal pair; the script checks the answers, the test checks that the
// writes reached the server's memory.
func TestPymodbusClientAgainstServer(t *testing.T) {
	needPymodbus(t)
	client := script(t, "pymodbus_client.py")
	for _, tr := range []string{"tcp", "rtu-over-tcp", "rtu"} {
		t.Run(tr, func(t *testing.T) {
			ctx := testContext(t)
			mem := patternMemory(t)
			var target string
			switch tr {
			case "tcp":
				target = serveTCP(t, mem, false)
			case "rtu-over-tcp":
				target = serveTCP(t, mem, true)
			case "rtu":
				a, b := ptyPair(ctx, t)
				serveSerial(t, mem, a)
				target = b
			}
			out, err := run(ctx, debianPython, client, "--"+tr, target)
			if err != nil || !strings.HasSuffix(strings.TrimSpace(out), "done") {
				t.Fatalf("pymodbus_client.py --%s %s: %v\n%s", tr, target, err, out)
			}
			if n := len(lines(out, okRE)); n != 10 {
				t.Errorf("pymodbus_client.py passed %d steps, want 10:\n%s", n, out)
			}
			checkMemoryAfterPymodbus(t, mem)
		})
	}
}

// checkMemoryAfterPymodbus checks the writes pymodbus_client.py makes.
func checkMemoryAfterPymodbus(t *testing.T, mem *modbus.Memory) {
	t.Helper()
	coils, err := mem.Coils(1, 0, 40)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]bool, 40)
	for i := range want {
		want[i] = patternCoil(i)
	}
	want[1] = true
	copy(want[30:], []bool{true, false, true, true, false, false, true, true, true, false})
	if !slices.Equal(coils, want) {
		t.Errorf("coils 0..39 after pymodbus's writes = %v, want %v", coils, want)
	}
	if got, _ := mem.HoldingRegisters(1, 200, 1); got[0] != 0xBEEF {
		t.Errorf("holding register 200 = %#04x, want 0xbeef", got[0])
	}
	if got, _ := mem.HoldingRegisters(1, 299, 6); !slices.Equal(got, []uint16{299, 1, 2, 7, 8, 304}) {
		t.Errorf("holding registers 299..304 = %v, want [299 1 2 7 8 304]", got)
	}
}

// TestClientAgainstPymodbusServer runs every function code of akciz's client against pymodbus 3.0's
// server (testdata/pymodbus_server.py) over Modbus TCP, RTU over TCP and RTU on a pseudo-terminal pair.
func TestClientAgainstPymodbusServer(t *testing.T) {
	needPymodbus(t)
	server := script(t, "pymodbus_server.py")
	for _, tr := range []string{"tcp", "rtu-over-tcp", "rtu"} {
		t.Run(tr, func(t *testing.T) {
			ctx := testContext(t)
			var c *modbus.Client
			var p *peer
			switch tr {
			case "tcp", "rtu-over-tcp":
				addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
				_, port, _ := strings.Cut(addr, ":")
				p = start(t, debianPython, server, "--"+tr, port)
				waitPort(ctx, t, p, addr)
				c = newClient(t, modbus.ClientConfig{Transport: modbus.Transport(tr), Address: addr})
			case "rtu":
				a, b := ptyPair(ctx, t)
				p = start(t, debianPython, server, "--rtu", a)
				c = newClient(t, modbus.ClientConfig{Transport: modbus.RTU, Address: b})
			}
			waitReady(ctx, t, c, p)
			exerciseClient(ctx, t, c, 1)
		})
	}
}
