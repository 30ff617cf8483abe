package conformance

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/akciz/akciz/internal/modbus"
)

// TestClientAgainstLibmodbusServer runs every function code of akciz's client against the C server on
// libmodbus (testdata/libmodbus_server.c): over Modbus TCP, pipelined over TCP, and over RTU on a
// pseudo-terminal pair.
func TestClientAgainstLibmodbusServer(t *testing.T) {
	server := buildC(t, "libmodbus_server")

	t.Run("tcp", func(t *testing.T) {
		ctx := testContext(t)
		port := strconv.Itoa(freePort(t))
		p := start(t, server, "--tcp", port)
		waitPort(ctx, t, p, "127.0.0.1:"+port)
		c := newClient(t, modbus.ClientConfig{Transport: modbus.TCP, Address: "127.0.0.1:" + port})
		exerciseClient(ctx, t, c, 1)
	})

	// libmodbus answers one request at a time but reads only one request's bytes at a time, so requests
	// that wait in its socket are answered in turn: pipelining works against it.
	t.Run("tcp-pipelined", func(t *testing.T) {
		ctx := testContext(t)
		port := strconv.Itoa(freePort(t))
		p := start(t, server, "--tcp", port)
		waitPort(ctx, t, p, "127.0.0.1:"+port)
		c := newClient(t, modbus.ClientConfig{Transport: modbus.TCP, Address: "127.0.0.1:" + port, MaxInFlight: 8})
		pipeline(ctx, t, c, 200)
	})

	t.Run("rtu", func(t *testing.T) {
		ctx := testContext(t)
		a, b := ptyPair(ctx, t)
		p := start(t, server, "--rtu", a, "--baud", "9600")
		c := newClient(t, modbus.ClientConfig{Transport: modbus.RTU, Address: b})
		waitReady(ctx, t, c, p)
		exerciseClient(ctx, t, c, 1)

		// A broadcast (unit 0) reaches every slave on the line, which carries it out without answering
		// (Modbus over Serial Line v1.02 §2.1): the write returns at once, and unit 1 has it.
		if err := c.WriteSingleRegister(ctx, 0, 500, 0x1234); err != nil {
			t.Fatalf("broadcast write: %v", err)
		}
		got, err := c.ReadHoldingRegisters(ctx, 1, 500, 1)
		if err != nil || got[0] != 0x1234 {
			t.Errorf("holding register 500 after the broadcast = %v, %v; want 0x1234", got, err)
		}
	})
}

var libmodbusClientRE = regexp.MustCompile(`requests=(\d+) seconds=\S+ reads_per_s=\S+`)

// TestLibmodbusClientAgainstServer has the C client on libmodbus (testdata/libmodbus_client.c, the
// client of `make bench-modbus`) read 125 registers at a time from akciz's server for a moment, checking
// every answer against the pattern, at the start and at the very end of the table.
func TestLibmodbusClientAgainstServer(t *testing.T) {
	client := buildC(t, "libmodbus_client")
	ctx := testContext(t)
	addr := serveTCP(t, patternMemory(t), false)
	host, port, _ := strings.Cut(addr, ":")
	for _, from := range []string{"0", strconv.Itoa(patternSize - 125)} {
		out, err := run(ctx, client, host, port, "125", "0.3", from, "--check")
		if err != nil {
			t.Fatalf("libmodbus_client from %s: %v\n%s", from, err, out)
		}
		m := libmodbusClientRE.FindStringSubmatch(out)
		if m == nil || m[1] == "0" {
			t.Fatalf("libmodbus_client from %s completed no request:\n%s", from, out)
		}
	}
}
