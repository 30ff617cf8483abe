package conformance

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/akciz/akciz/internal/modbus"
)

// mbpollValueRE matches a value line of mbpoll's output: "[100]: \t845.25".
var mbpollValueRE = regexp.MustCompile(`^\[(\d+)\]:\s+(\S+)\s*$`)

// mbpoll runs mbpoll once (-1) with PDU addressing (-0, so that -r is the physical address) and
// returns its output and the values it printed, by address.
func mbpoll(ctx context.Context, t *testing.T, args ...string) (string, map[int]string, error) {
	t.Helper()
	bin := need(t, "mbpoll", "mbpoll")
	out, err := run(ctx, bin, append([]string{"-1", "-0", "-o", "2"}, args...)...)
	values := map[int]string{}
	for _, m := range lines(out, mbpollValueRE) {
		a, _ := strconv.Atoi(m[1])
		values[a] = m[2]
	}
	return out, values, err
}

// mbpollCase is one mbpoll read and the values it must print.
type mbpollCase struct {
	name string
	args []string // table, type, start, count
	want map[int]string
}

func seq(from, n int, f func(i int) string) map[int]string {
	m := map[int]string{}
	for i := from; i < from+n; i++ {
		m[i] = f(i)
	}
	return m
}

func u16(f func(int) uint16) func(int) string {
	return func(i int) string { return strconv.Itoa(int(f(i))) }
}

func bit(f func(int) bool) func(int) string {
	return func(i int) string {
		if f(i) {
			return "1"
		}
		return "0"
	}
}

// typedMemory is the pattern plus typed values where mbpoll's 32-bit types can read them. mbpoll reads
// 32-bit values low word first (CDAB) unless -B is given (ABCD).
func typedMemory(t *testing.T) *modbus.Memory {
	m := patternMemory(t)
	r := make([]uint16, 2)
	set := func(input bool, addr uint16) {
		var err error
		if input {
			err = m.SetInputRegisters(1, addr, r)
		} else {
			err = m.SetHoldingRegisters(1, addr, r)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	modbus.ABCD.PutInt32(r, -123456789)
	set(false, 1000)
	modbus.CDAB.PutInt32(r, -123456789)
	set(false, 1002)
	modbus.ABCD.PutFloat32(r, 845.25)
	set(false, 1010)
	modbus.CDAB.PutFloat32(r, -0.125)
	set(false, 1012)
	modbus.ABCD.PutFloat32(r, 15.5)
	set(true, 2000)
	modbus.CDAB.PutUint32(r, 0x12345678)
	set(true, 2002)
	return m
}

func mbpollReads() []mbpollCase {
	return []mbpollCase{
		{"holding", []string{"-t", "4", "-r", "100", "-c", "10"}, seq(100, 10, u16(patternHolding))},
		{"holding-end", []string{"-t", "4", "-r", "9875", "-c", "125"}, seq(9875, 125, u16(patternHolding))},
		{"holding-hex", []string{"-t", "4:hex", "-r", "1000", "-c", "2"}, map[int]string{1000: "0xF8A4", 1001: "0x32EB"}},
		{"input", []string{"-t", "3", "-r", "9995", "-c", "5"}, seq(9995, 5, u16(patternInput))},
		{"coils", []string{"-t", "0", "-r", "0", "-c", "20"}, seq(0, 20, bit(patternCoil))},
		{"discrete", []string{"-t", "1", "-r", "3", "-c", "13"}, seq(3, 13, bit(patternDiscrete))},
		{"int32-ABCD", []string{"-t", "4:int", "-B", "-r", "1000", "-c", "1"}, map[int]string{1000: "-123456789"}},
		{"int32-CDAB", []string{"-t", "4:int", "-r", "1002", "-c", "1"}, map[int]string{1002: "-123456789"}},
		{"float32-ABCD", []string{"-t", "4:float", "-B", "-r", "1010", "-c", "1"}, map[int]string{1010: "845.25"}},
		{"float32-CDAB", []string{"-t", "4:float", "-r", "1012", "-c", "1"}, map[int]string{1012: "-0.125"}},
		{"input-float32-ABCD", []string{"-t", "3:float", "-B", "-r", "2000", "-c", "1"}, map[int]string{2000: "15.5"}},
		{"input-int32-CDAB", []string{"-t", "3:int", "-r", "2002", "-c", "1"}, map[int]string{2002: "305419896"}},
	}
}

func checkMbpoll(t *testing.T, out string, got, want map[int]string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("mbpoll: %v\n%s", err, out)
	}
	for a, w := range want {
		if g, ok := got[a]; !ok || g != w {
			t.Errorf("mbpoll printed [%d] = %q, want %q", a, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("mbpoll printed %d values, want %d:\n%s", len(got), len(want), out)
	}
}

// mbpollException runs a read beyond the table and checks that mbpoll reports the exception.
func mbpollException(ctx context.Context, t *testing.T, conn []string, table string, addr int) {
	t.Helper()
	out, got, err := mbpoll(ctx, t, append(conn, "-t", table, "-r", strconv.Itoa(addr), "-c", "2")...)
	if err == nil || len(got) != 0 || !strings.Contains(out, "Illegal data address") {
		t.Errorf("mbpoll -t %s -r %d -c 2 beyond the table: err = %v, values %v; want a failure reporting \"Illegal data address\":\n%s", table, addr, err, got, out)
	}
}

// TestMbpollAgainstServerTCP has mbpoll (libmodbus) read and write akciz's Modbus TCP server: the four
// tables, 32-bit integers and floats in both word orders, writes checked in the server's memory, and
// an exception.
func TestMbpollAgainstServerTCP(t *testing.T) {
	need(t, "mbpoll", "mbpoll")
	ctx := testContext(t)
	mem := typedMemory(t)
	host, port, _ := strings.Cut(serveTCP(t, mem, false), ":")
	conn := []string{"-m", "tcp", "-p", port, "-a", "1", host}

	for _, c := range mbpollReads() {
		t.Run(c.name, func(t *testing.T) {
			out, got, err := mbpoll(ctx, t, append(conn, c.args...)...)
			checkMbpoll(t, out, got, c.want, err)
		})
	}

	t.Run("write-registers", func(t *testing.T) {
		out, _, err := mbpoll(ctx, t, append(conn, "-t", "4", "-r", "3000", "--", "1", "2", "65535")...)
		if err != nil {
			t.Fatalf("mbpoll: %v\n%s", err, out)
		}
		if got, err := mem.HoldingRegisters(1, 3000, 3); err != nil || !slices.Equal(got, []uint16{1, 2, 65535}) {
			t.Errorf("holding registers 3000..3002 = %v, %v; want [1 2 65535]", got, err)
		}
	})
	t.Run("write-register", func(t *testing.T) {
		out, _, err := mbpoll(ctx, t, append(conn, "-t", "4", "-r", "3005", "--", "4660")...)
		if err != nil {
			t.Fatalf("mbpoll: %v\n%s", err, out)
		}
		if got, err := mem.HoldingRegisters(1, 3005, 1); err != nil || got[0] != 4660 {
			t.Errorf("holding register 3005 = %v, %v; want [4660]", got, err)
		}
	})
	t.Run("write-coils", func(t *testing.T) {
		out, _, err := mbpoll(ctx, t, append(conn, "-t", "0", "-r", "50", "1", "0", "1", "1")...)
		if err != nil {
			t.Fatalf("mbpoll: %v\n%s", err, out)
		}
		if got, err := mem.Coils(1, 50, 4); err != nil || !slices.Equal(got, []bool{true, false, true, true}) {
			t.Errorf("coils 50..53 = %v, %v; want [true false true true]", got, err)
		}
	})
	t.Run("write-coil", func(t *testing.T) {
		out, _, err := mbpoll(ctx, t, append(conn, "-t", "0", "-r", "61", "1")...)
		if err != nil {
			t.Fatalf("mbpoll: %v\n%s", err, out)
		}
		if got, err := mem.Coils(1, 60, 3); err != nil || !slices.Equal(got, []bool{patternCoil(60), true, patternCoil(62)}) {
			t.Errorf("coils 60..62 = %v, %v; want only 61 set", got, err)
		}
	})
	t.Run("write-int32-ABCD", func(t *testing.T) {
		out, _, err := mbpoll(ctx, t, append(conn, "-t", "4:int", "-B", "-r", "3010", "--", "-123456789")...)
		if err != nil {
			t.Fatalf("mbpoll: %v\n%s", err, out)
		}
		got, err := mem.HoldingRegisters(1, 3010, 2)
		if err != nil || modbus.ABCD.Int32(got) != -123456789 {
			t.Errorf("holding registers 3010..3011 = %04x, %v; want -123456789 in ABCD", got, err)
		}
	})
	t.Run("write-float32-CDAB", func(t *testing.T) {
		out, _, err := mbpoll(ctx, t, append(conn, "-t", "4:float", "-r", "3020", "--", "845.25")...)
		if err != nil {
			t.Fatalf("mbpoll: %v\n%s", err, out)
		}
		got, err := mem.HoldingRegisters(1, 3020, 2)
		if err != nil || modbus.CDAB.Float32(got) != 845.25 {
			t.Errorf("holding registers 3020..3021 = %04x, %v; want 845.25 in CDAB", got, err)
		}
	})
	// A Modbus TCP server that serves only unit 1 answers another unit with exception 10 (gateway path
	// unavailable), which mbpoll must report.
	t.Run("other-unit", func(t *testing.T) {
		host, port, _ := strings.Cut(serveTCP(t, mem, false, 1), ":")
		out, got, err := mbpoll(ctx, t, "-m", "tcp", "-p", port, "-a", "2", host, "-t", "4", "-r", "0", "-c", "1")
		if err == nil || len(got) != 0 || !strings.Contains(strings.ToLower(out), "gateway path unavailable") {
			t.Errorf("mbpoll -a 2: err = %v, values %v; want a failure reporting \"Gateway path unavailable\":\n%s", err, got, out)
		}
	})
	t.Run("exception-holding", func(t *testing.T) { mbpollException(ctx, t, conn, "4", patternSize-1) })
	t.Run("exception-input", func(t *testing.T) { mbpollException(ctx, t, conn, "3", patternSize) })
	t.Run("exception-coils", func(t *testing.T) { mbpollException(ctx, t, conn, "0", patternSize-1) })
}

// TestMbpollAgainstServerRTU has mbpoll read and write akciz's RTU server over a socat pseudo-terminal
// pair, 9600 8N1, unit 1; a request to another unit must go unanswered, as on a shared RS-485 bus.
func TestMbpollAgainstServerRTU(t *testing.T) {
	need(t, "mbpoll", "mbpoll")
	ctx := testContext(t)
	a, b := ptyPair(ctx, t)
	mem := typedMemory(t)
	serveSerial(t, mem, a)
	conn := []string{"-m", "rtu", "-b", "9600", "-d", "8", "-s", "1", "-P", "none", "-a", "1", b}

	for _, c := range mbpollReads() {
		if c.name == "holding-end" {
			continue // 125 registers at a time are the TCP case's; keep the serial run short
		}
		t.Run(c.name, func(t *testing.T) {
			out, got, err := mbpoll(ctx, t, append(conn, c.args...)...)
			checkMbpoll(t, out, got, c.want, err)
		})
	}
	t.Run("write-registers", func(t *testing.T) {
		out, _, err := mbpoll(ctx, t, append(conn, "-t", "4", "-r", "3000", "--", "7", "8", "9")...)
		if err != nil {
			t.Fatalf("mbpoll: %v\n%s", err, out)
		}
		if got, err := mem.HoldingRegisters(1, 3000, 3); err != nil || !slices.Equal(got, []uint16{7, 8, 9}) {
			t.Errorf("holding registers 3000..3002 = %v, %v; want [7 8 9]", got, err)
		}
	})
	t.Run("write-coils", func(t *testing.T) {
		out, _, err := mbpoll(ctx, t, append(conn, "-t", "0", "-r", "70", "0", "1", "1")...)
		if err != nil {
			t.Fatalf("mbpoll: %v\n%s", err, out)
		}
		if got, err := mem.Coils(1, 70, 3); err != nil || !slices.Equal(got, []bool{false, true, true}) {
			t.Errorf("coils 70..72 = %v, %v; want [false true true]", got, err)
		}
	})
	t.Run("exception", func(t *testing.T) { mbpollException(ctx, t, conn, "4", patternSize-1) })
	t.Run("other-unit", func(t *testing.T) {
		other := slices.Clone(conn)
		other[len(other)-2] = "2" // -a 2
		out, got, err := mbpoll(ctx, t, append(other, "-o", "0.5", "-t", "4", "-r", "0", "-c", "1")...)
		if err == nil || len(got) != 0 || !strings.Contains(strings.ToLower(out), "timed out") {
			t.Errorf("mbpoll -a 2 (a unit the server does not serve): err = %v, values %v; want a timeout:\n%s", err, got, out)
		}
	})
}
