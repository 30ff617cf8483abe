package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/modbus"
)

// runAkciz runs akciz in-process with the given language and returns its output and exit status.
func runAkciz(ctx context.Context, lang i18n.Lang, args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	env := &environment{stdout: &out, stderr: &errOut, stdin: strings.NewReader(""), p: i18n.For(lang)}
	code = run(ctx, env, args)
	return out.String(), errOut.String(), code
}

// testServer serves a Memory of 10000 objects a table with akciz's server until the test ends.
func testServer(t *testing.T, rtuOverTCP bool) (*modbus.Memory, string) {
	t.Helper()
	mem := modbus.NewMemory(modbus.MemoryLayout{Coils: 10000, DiscreteInputs: 10000, HoldingRegisters: 10000, InputRegisters: 10000})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &modbus.Server{Handler: mem}
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
			t.Error(err)
		}
	})
	return mem, ln.Addr().String()
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestParseAddress(t *testing.T) {
	for _, c := range []struct {
		in      string
		addr    uint16
		table   mbTable
		logical bool
	}{
		{"0", 0, 0, false},
		{"17", 17, 0, false},
		{"9999", 9999, 0, false},
		{"0000", 0, 0, false},
		{"0x0000", 0, 0, false},
		{"0X2710", 10000, 0, false},
		{"0xffff", 65535, 0, false},
		{"00001", 0, tableCoil, true},
		{"10001", 0, tableDiscrete, true},
		{"30001", 0, tableInput, true},
		{"40001", 0, tableHolding, true},
		{"40101", 100, tableHolding, true},
		{"49999", 9998, tableHolding, true},
		{"000001", 0, tableCoil, true},
		{"300010", 9, tableInput, true},
		{"400001", 0, tableHolding, true},
		{"410000", 9999, tableHolding, true},
		{"465536", 65535, tableHolding, true},
		{" 40001 ", 0, tableHolding, true},
	} {
		addr, table, logical, ok := parseAddress(c.in)
		if !ok || addr != c.addr || logical != c.logical || (logical && table != c.table) {
			t.Errorf("parseAddress(%q) = %d, %v, logical %v, ok %v; want %d, %v, logical %v", c.in, addr, table, logical, ok, c.addr, c.table, c.logical)
		}
	}
	for _, bad := range []string{"", "abc", "-1", "+5", "40000", "400000", "20001", "50001", "99999", "465537", "0x", "0x10000", "0x0000001", "4000001", "1e3", "٤٠٠٠١"} {
		if addr, table, logical, ok := parseAddress(bad); ok {
			t.Errorf("parseAddress(%q) = %d, %v, logical %v; want an error", bad, addr, table, logical)
		}
	}
}

func TestLogicalAddress(t *testing.T) {
	for _, c := range []struct {
		table mbTable
		addr  uint16
		want  string
	}{
		{tableCoil, 0, "00001"},
		{tableDiscrete, 0, "10001"},
		{tableInput, 9, "30010"},
		{tableHolding, 0, "40001"},
		{tableHolding, 9998, "49999"},
		{tableHolding, 9999, "410000"},
		{tableHolding, 65535, "465536"},
	} {
		if got := logicalAddress(c.table, c.addr); got != c.want {
			t.Errorf("logicalAddress(%v, %d) = %q, want %q", c.table, c.addr, got, c.want)
		}
	}
}

// FuzzParseAddress checks that no input crashes the parser and that every logical address it accepts
// prints back as an address that parses to the same place.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"0", "0x0000", "40001", "400001", "465536", "00001", "0xFFFF", "", "4x0001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addr, table, logical, ok := parseAddress(s)
		if !ok || !logical {
			return
		}
		back := logicalAddress(table, addr)
		a2, t2, l2, ok2 := parseAddress(back)
		if !ok2 || !l2 || a2 != addr || t2 != table {
			t.Errorf("parseAddress(%q) = %v %d, printed %q, which parses to %v %d (ok %v)", s, table, addr, back, t2, a2, ok2)
		}
	})
}

func TestModbusHelp(t *testing.T) {
	ctx := testCtx(t)
	out, _, code := runAkciz(ctx, i18n.BG, "modbus", "read", "--help")
	if code != 0 || !strings.Contains(out, "40001 → holding 0") || !strings.Contains(out, "Примери:") || !strings.Contains(out, "--rtu-over-tcp") {
		t.Errorf("modbus read --help: status %d, output:\n%s", code, out)
	}
	out, _, code = runAkciz(ctx, i18n.BG, "modbus", "read", "--help", "--lang", "en")
	if code != 0 || !strings.Contains(out, "Examples:") {
		t.Errorf("modbus read --help --lang en: status %d, output:\n%s", code, out)
	}
	out, _, code = runAkciz(ctx, i18n.BG, "modbus", "write", "-h")
	if code != 0 || !strings.Contains(out, "ВНИМАНИЕ") || !strings.Contains(out, "никога не пише в PLC") {
		t.Errorf("modbus write -h: status %d, output:\n%s", code, out)
	}
	out, _, code = runAkciz(ctx, i18n.EN, "help", "modbus")
	if code != 0 || !strings.Contains(out, "akciz modbus read --help") {
		t.Errorf("help modbus: status %d, output:\n%s", code, out)
	}
	if _, _, code := runAkciz(ctx, i18n.EN, "modbus"); code != 2 {
		t.Errorf("modbus without a subcommand: status %d, want 2", code)
	}
}

func TestModbusReadTable(t *testing.T) {
	ctx := testCtx(t)
	mem, addr := testServer(t, false)
	r := make([]uint16, 4)
	modbus.CDAB.PutFloat32(r, 845.25)
	modbus.CDAB.PutFloat32(r[2:], -0.5)
	if err := mem.SetHoldingRegisters(1, 100, r); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runAkciz(ctx, i18n.EN, "modbus", "read", "--tcp", addr, "--addr", "40101", "--count", "2", "--type", "float32", "--order", "CDAB")
	if code != 0 {
		t.Fatalf("status %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("want a header, a column line and 2 rows, got:\n%s", out)
	}
	for i, want := range [][]string{
		{"address", "hex", "logical", "raw", "value"},
		{"100", "0x0064", "40101", r0(r), "845.25"},
		{"102", "0x0066", "40103", r1(r), "-0.5"},
	} {
		if got := strings.Fields(lines[i+1]); !slices.Equal(got[:1], want[:1]) || !containsAll(lines[i+1], want) {
			t.Errorf("line %d = %q, want the fields %q", i+2, lines[i+1], want)
		}
	}
	if !strings.Contains(lines[0], "holding registers") || !strings.Contains(lines[0], "float32") || !strings.Contains(lines[0], "byte order CDAB") {
		t.Errorf("header = %q", lines[0])
	}

	// The same with the physical address and the table named, in Bulgarian.
	out2, errOut, code := runAkciz(ctx, i18n.BG, "modbus", "read", "--tcp", addr, "--table", "holding", "--addr", "100", "--count", "2", "--type", "float32", "--order", "3412")
	if code != 0 || !strings.Contains(out2, "845.25") || !strings.Contains(out2, "стойност") || !strings.Contains(out2, "регистри за съхранение") {
		t.Errorf("status %d, output:\n%s%s", code, out2, errOut)
	}
}

func r0(r []uint16) string { return hexRegs(r[0:2]) }
func r1(r []uint16) string { return hexRegs(r[2:4]) }

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func TestModbusReadJSON(t *testing.T) {
	ctx := testCtx(t)
	mem, addr := testServer(t, true) // RTU over TCP, for once
	if err := mem.SetInputRegisters(1, 0, []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE}); err != nil {
		t.Fatal(err)
	}
	if err := mem.SetCoils(1, 5, []bool{true, false, true}); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runAkciz(ctx, i18n.EN, "modbus", "read", "--rtu-over-tcp", addr, "--addr", "300001", "--type", "uint64", "--json")
	if code != 0 {
		t.Fatalf("status %d: %s", code, errOut)
	}
	var got jsonRead
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// 2^64-2 does not survive a float64: the JSON must carry the exact digits.
	if got.Table != "input" || got.Type != "uint64" || len(got.Values) != 1 || string(got.Values[0].Value) != "18446744073709551614" || got.Values[0].Logical != "30001" {
		t.Errorf("json = %s", out)
	}

	out, errOut, code = runAkciz(ctx, i18n.EN, "modbus", "read", "--rtu-over-tcp", addr, "--addr", "00006", "--count", "3", "--json")
	if code != 0 {
		t.Fatalf("status %d: %s", code, errOut)
	}
	got = jsonRead{}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var vals []string
	for _, v := range got.Values {
		vals = append(vals, v.Logical+"="+string(v.Value))
	}
	if want := []string{"00006=true", "00007=false", "00008=true"}; got.Table != "coil" || !slices.Equal(vals, want) {
		t.Errorf("coils = %v (table %s), want %v", vals, got.Table, want)
	}
}

func TestModbusReadSplitsLongReads(t *testing.T) {
	ctx := testCtx(t)
	mem, addr := testServer(t, false)
	regs := make([]uint16, 300)
	for i := range regs {
		regs[i] = uint16(i * 7)
	}
	if err := mem.SetHoldingRegisters(1, 0, regs); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runAkciz(ctx, i18n.EN, "modbus", "read", "--tcp", addr, "--addr", "0", "--count", "150", "--type", "uint32", "--json")
	if code != 0 {
		t.Fatalf("status %d: %s", code, errOut)
	}
	var got jsonRead
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Values) != 150 {
		t.Fatalf("%d values, want 150", len(got.Values))
	}
	for i, v := range got.Values {
		want := uint64(i*14)<<16 | uint64(i*14+7)
		if v.Address != uint16(2*i) || string(v.Value) != jsonNumber(want) {
			t.Errorf("value %d at %d = %s, want %d", i, v.Address, v.Value, want)
		}
	}
}

func jsonNumber(u uint64) string { b, _ := json.Marshal(u); return string(b) }

func TestModbusReadErrors(t *testing.T) {
	ctx := testCtx(t)
	_, addr := testServer(t, false)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--addr", "0"}, 2, "--tcp, --rtu or --rtu-over-tcp"},
		{[]string{"--tcp", addr, "--rtu", "/dev/null", "--addr", "0"}, 2, "exactly one"},
		{[]string{"--tcp", addr}, 2, "--addr is missing"},
		{[]string{"--tcp", addr, "--addr", "40001", "--table", "input"}, 2, "logical address of table holding"},
		{[]string{"--tcp", addr, "--addr", "20001"}, 2, "not an address"},
		{[]string{"--tcp", addr, "--addr", "0", "--type", "float"}, 2, "--type \"float\""},
		{[]string{"--tcp", addr, "--addr", "0", "--order", "ACBD"}, 2, "--order \"ACBD\""},
		{[]string{"--tcp", addr, "--addr", "00001", "--type", "int32"}, 2, "registers only"},
		{[]string{"--tcp", addr, "--addr", "0xFFFF", "--count", "2"}, 2, "run past"},
		{[]string{"--tcp", addr, "--addr", "0", "--count", "0"}, 2, "--count 0"},
		{[]string{"--tcp", addr, "--addr", "0", "--bogus"}, 2, "unknown flag -bogus"},
		{[]string{"--tcp", addr, "--addr", "0", "--count", "x"}, 2, "invalid value \"x\" for flag -count"},
		{[]string{"--tcp", addr, "--addr", "0", "extra"}, 2, "unexpected arguments: extra"},
		{[]string{"--tcp", addr, "--addr", "0x2710"}, 1, "exception 2 (illegal data address)"},
		{[]string{"--tcp", addr, "--addr", "0", "--unit", "300"}, 2, "--unit 300"},
	} {
		_, errOut, code := runAkciz(ctx, i18n.EN, append([]string{"modbus", "read"}, c.args...)...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("modbus read %s: status %d, stderr %q; want status %d and %q", strings.Join(c.args, " "), code, errOut, c.code, c.want)
		}
	}
	// The exception in Bulgarian, by its Bulgarian name.
	_, errOut, code := runAkciz(ctx, i18n.BG, "modbus", "read", "--tcp", addr, "--addr", "0x2710")
	if code != 1 || !strings.Contains(errOut, "изключение 2 (недопустим адрес)") {
		t.Errorf("status %d, stderr %q", code, errOut)
	}
	// A device that takes the connection and never answers.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	go func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	_, errOut, code = runAkciz(ctx, i18n.BG, "modbus", "read", "--tcp", mute.Addr().String(), "--addr", "0", "--timeout", "200ms")
	if code != 1 || !strings.Contains(errOut, "устройството не отговори за 200ms") {
		t.Errorf("status %d, stderr %q", code, errOut)
	}
	// Nothing listens: a connection error, status 1.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	_, errOut, code = runAkciz(ctx, i18n.EN, "modbus", "read", "--tcp", dead, "--addr", "0", "--timeout", "500ms")
	if code != 1 || !strings.Contains(errOut, "reading holding registers from address 0") {
		t.Errorf("status %d, stderr %q", code, errOut)
	}
}

// pollWriter cancels a context after it has seen n reads printed, so that the poll test needs no clock.
type pollWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	n      int
	cancel context.CancelFunc
}

func (w *pollWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Count(w.buf.String(), "\n") >= w.n {
		w.cancel()
	}
	return len(p), nil
}

func TestModbusReadPoll(t *testing.T) {
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	_, addr := testServer(t, false)
	w := &pollWriter{n: 3, cancel: cancel}
	env := &environment{stdout: w, stderr: w, stdin: strings.NewReader(""), p: i18n.For(i18n.EN)}
	code := run(ctx, env, []string{"modbus", "read", "--tcp", addr, "--addr", "0", "--poll", "1ms", "--json"})
	if code != 0 {
		t.Fatalf("status %d: %s", code, w.buf.String())
	}
	if n := strings.Count(w.buf.String(), `"table":"holding"`); n < 3 {
		t.Errorf("%d reads before the cancel, want 3:\n%s", n, w.buf.String())
	}
}

func TestModbusWrite(t *testing.T) {
	ctx := testCtx(t)
	mem, addr := testServer(t, false)
	_, errOut, code := runAkciz(ctx, i18n.BG, "modbus", "write", "--tcp", addr, "--addr", "40201", "--type", "int32", "--order", "ABCD", "--", "-5", "0x7fffffff")
	if code != 0 || !strings.Contains(errOut, "ВНИМАНИЕ") {
		t.Fatalf("status %d, stderr %q", code, errOut)
	}
	got, _ := mem.HoldingRegisters(1, 200, 4)
	if modbus.ABCD.Int32(got) != -5 || modbus.ABCD.Int32(got[2:]) != 0x7fffffff {
		t.Errorf("registers 200..203 = %04x, want -5 and 2147483647 in ABCD", got)
	}

	out, errOut, code := runAkciz(ctx, i18n.EN, "modbus", "write", "--tcp", addr, "--addr", "0x10", "--type", "float32", "--order", "CDAB", "845.25")
	if code != 0 || !strings.Contains(out, "written: holding registers from address 16 (40017), count 2") {
		t.Fatalf("status %d, stdout %q, stderr %q", code, out, errOut)
	}
	got, _ = mem.HoldingRegisters(1, 16, 2)
	if modbus.CDAB.Float32(got) != 845.25 {
		t.Errorf("registers 16..17 = %04x, want 845.25 in CDAB", got)
	}

	if _, errOut, code = runAkciz(ctx, i18n.EN, "modbus", "write", "--tcp", addr, "--addr", "0x20", "7"); code != 0 {
		t.Fatalf("single register: status %d, %s", code, errOut)
	}
	if got, _ = mem.HoldingRegisters(1, 0x20, 1); got[0] != 7 {
		t.Errorf("register 0x20 = %d, want 7", got[0])
	}

	if _, errOut, code = runAkciz(ctx, i18n.EN, "modbus", "write", "--tcp", addr, "--addr", "0x30", "--type", "string", "--count", "3", "AB", "C"); code != 0 {
		t.Fatalf("string: status %d, %s", code, errOut)
	}
	if got, _ = mem.HoldingRegisters(1, 0x30, 3); !slices.Equal(got, []uint16{0x4142, 0x2043, 0}) {
		t.Errorf("registers 0x30.. = %04x, want \"AB C\" high byte first", got)
	}

	if _, errOut, code = runAkciz(ctx, i18n.EN, "modbus", "write", "--tcp", addr, "--addr", "00011", "1", "off", "true"); code != 0 {
		t.Fatalf("coils: status %d, %s", code, errOut)
	}
	if c, _ := mem.Coils(1, 10, 3); !slices.Equal(c, []bool{true, false, true}) {
		t.Errorf("coils 10..12 = %v", c)
	}
	if _, errOut, code = runAkciz(ctx, i18n.EN, "modbus", "write", "--tcp", addr, "--table", "coil", "--addr", "20", "on"); code != 0 {
		t.Fatalf("coil: status %d, %s", code, errOut)
	}
	if c, _ := mem.Coils(1, 20, 1); !c[0] {
		t.Errorf("coil 20 not set")
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--addr", "30001", "5"}, "only holding and coil"},
		{[]string{"--addr", "0"}, "no values"},
		{[]string{"--addr", "0", "--type", "int16", "40000"}, "value 1 (\"40000\")"},
		{[]string{"--addr", "00001", "2"}, "value 1 (\"2\")"},
		{[]string{"--addr", "0", "--type", "string", "--count", "1", "ABC"}, "3 bytes"},
	} {
		_, errOut, code := runAkciz(ctx, i18n.EN, append([]string{"modbus", "write", "--tcp", addr}, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("modbus write %s: status %d, stderr %q; want status 2 and %q", strings.Join(c.args, " "), code, errOut, c.want)
		}
	}
}
