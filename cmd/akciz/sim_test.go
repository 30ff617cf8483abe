package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/modbus"
)

// simBuffer is a stdout that a test may read while the command writes to it.
type simBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *simBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *simBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func simRun(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var out, errb simBuffer
	env := &environment{stdout: &out, stderr: &errb, stdin: strings.NewReader(""), p: i18n.For(i18n.BG)}
	code = run(ctx, env, append([]string{"sim"}, args...))
	return code, out.String(), errb.String()
}

// simStart runs `akciz sim args…` in the background and waits for its banner; stop cancels it and
// returns its exit code.
func simStart(t *testing.T, args ...string) (banner func() string, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb simBuffer
	env := &environment{stdout: &out, stderr: &errb, stdin: strings.NewReader(""), p: i18n.For(i18n.BG)}
	done := make(chan int, 1)
	go func() { done <- run(ctx, env, append([]string{"sim"}, args...)) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "Ctrl+C") {
		select {
		case code := <-done:
			cancel()
			t.Fatalf("akciz sim exited with %d: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("no banner in 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var once sync.Once
	code := -1
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(10 * time.Second):
				t.Error("akciz sim did not stop in 10 s")
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return out.String, stop
}

var simAddrRE = regexp.MustCompile(`(?m)^  (Modbus TCP|Modbus RTU през TCP|Управление \(повреди, състояние\)): (?:http://)?(\S+)$`)

func simAddr(t *testing.T, banner, what string) string {
	t.Helper()
	for _, m := range simAddrRE.FindAllStringSubmatch(banner, -1) {
		if m[1] == what {
			return m[2]
		}
	}
	t.Fatalf("no %q address in the banner:\n%s", what, banner)
	return ""
}

const simStartTime = "2026-03-02T06:00:00Z"

func TestSimHelp(t *testing.T) {
	for _, lang := range []string{"bg", "en"} {
		code, out, _ := simRun(context.Background(), "--help", "--lang", lang)
		if code != 0 || !strings.Contains(out, "mbpoll -m tcp") || !strings.Contains(out, "fuel-depot") || !strings.Contains(out, "--truth") {
			t.Errorf("%s: exit %d, help:\n%s", lang, code, out)
		}
	}
	code, out, _ := simRun(context.Background(), "--list")
	for _, n := range []string{"fuel-depot", "distillery", "tobacco-factory", "cng-station"} {
		if code != 0 || !strings.Contains(out, n) {
			t.Errorf("--list: exit %d, no %s in\n%s", code, n, out)
		}
	}
}

func TestSimUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.xml")
	if err := os.WriteFile(bad, []byte("<scenario name=\"x\">\n  <warehouse id=\"BG1\"/>\n</scenario>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "сценарий"},
		{[]string{"no-such-site"}, 2, "no-such-site"},
		{[]string{bad}, 1, "bad.xml:2: warehouse@id"},
		{[]string{"--speed", "0", "fuel-depot"}, 2, "--speed"},
		{[]string{"--control", "0.0.0.0:0", "fuel-depot"}, 2, "0.0.0.0:0"},
		{[]string{"--bogus", "fuel-depot"}, 2, "bogus"},
	}
	for _, c := range cases {
		code, _, errs := simRun(context.Background(), c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errs, c.code, c.want)
		}
	}
}

// TestSimTruthDeterministic runs the command twice in fast mode with one seed: the truth logs are
// byte-identical, and end with the stop record of a clean shutdown.
func TestSimTruthDeterministic(t *testing.T) {
	dir := t.TempDir()
	var logs [2][]byte
	for i := range logs {
		f := filepath.Join(dir, "truth"+strconv.Itoa(i)+".jsonl")
		code, out, errs := simRun(context.Background(), "--tcp", "127.0.0.1:0", "--fast", "--for", "30m", "--seed", "7",
			"--start", simStartTime, "--truth", f, "cng-station")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		if !strings.Contains(out, "BGNSF00009003") {
			t.Errorf("banner without the warehouse:\n%s", out)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		logs[i] = b
	}
	if !bytes.Equal(logs[0], logs[1]) {
		t.Fatal("two runs with seed 7 wrote different truth")
	}
	lines := bytes.Split(bytes.TrimSpace(logs[0]), []byte("\n"))
	if !bytes.Contains(lines[len(lines)-1], []byte(`"type":"stop"`)) || !bytes.Contains(lines[len(lines)-1], []byte(`"time":"2026-03-02T06:30:00.000Z"`)) {
		t.Errorf("last record %s", lines[len(lines)-1])
	}
	if !bytes.Contains(logs[0], []byte(`"type":"transaction"`)) {
		t.Error("no transaction in 30 minutes of a CNG station")
	}
}

var mbpollValueRE = regexp.MustCompile(`\[(\d+)\]:\s+(\S+)`)

func mbpoll(t *testing.T, args ...string) float64 {
	t.Helper()
	out, err := exec.Command("mbpoll", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("mbpoll %v: %v\n%s", args, err, out)
	}
	m := mbpollValueRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("mbpoll %v printed no value:\n%s", args, out)
	}
	v, err := strconv.ParseFloat(string(m[2]), 64)
	if err != nil {
		t.Fatalf("mbpoll value %q: %v", m[2], err)
	}
	return v
}

// TestSimMbpoll is the "done means": akciz sim serving a sample scenario that mbpoll (libmodbus)
// reads correctly: a uint32 ABCD totalizer, a float32 CDAB temperature and a scaled int32 of another unit
// all match what the simulator says its state is.
func TestSimMbpoll(t *testing.T) {
	if _, err := exec.LookPath("mbpoll"); err != nil {
		t.Skip("mbpoll not found: install the Debian package mbpoll")
	}
	truth := filepath.Join(t.TempDir(), "truth.jsonl")
	// A speed this slow freezes the plant after its first state, so the reads and /state agree.
	banner, stop := simStart(t, "--tcp", "127.0.0.1:0", "--control", "127.0.0.1:0", "--speed", "0.0001",
		"--start", simStartTime, "--truth", truth, "fuel-depot")
	host, port, _ := strings.Cut(simAddr(t, banner(), "Modbus TCP"), ":")
	ctl := simAddr(t, banner(), "Управление (повреди, състояние)")

	resp, err := http.Get("http://" + ctl + "/state")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Points []struct {
			Number int               `json:"number"`
			Values map[string]string `json:"values"`
		} `json:"points"`
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := func(point int, role string) float64 {
		for _, p := range st.Points {
			if p.Number == point {
				v, err := strconv.ParseFloat(p.Values[role], 64)
				if err != nil {
					t.Fatalf("state of point %d, %s: %q", point, role, p.Values[role])
				}
				return v
			}
		}
		t.Fatalf("no point %d in the state", point)
		return 0
	}

	// Road bay 1: total volume, uint32 ABCD at 40001 (-B: big-endian word order).
	if got, w := mbpoll(t, "-m", "tcp", "-p", port, "-a", "1", "-r", "1", "-c", "1", "-t", "4:int", "-B", "-1", host), want(1, "total-volume"); got != w || got != 18250400 {
		t.Errorf("total volume: mbpoll %v, state %v, scenario 18250400", got, w)
	}
	// Road bay 1: temperature, float32 CDAB at 40009 (mbpoll's default word order is CDAB).
	if got, w := mbpoll(t, "-m", "tcp", "-p", port, "-a", "1", "-r", "9", "-c", "1", "-t", "4:float", "-1", host), want(1, "temperature"); math.Abs(got-w) > 1e-4*math.Abs(w) || w < 4 || w > 28 {
		t.Errorf("temperature: mbpoll %v, state %v", got, w)
	}
	// Rail point (unit 2): temperature, int32 ABCD × 0.01 in input register 30009.
	if got, w := mbpoll(t, "-m", "tcp", "-p", port, "-a", "2", "-r", "9", "-c", "1", "-t", "3:int", "-B", "-1", host), want(4, "temperature"); math.Abs(got*0.01-w) > 1e-9 {
		t.Errorf("rail temperature: mbpoll %v × 0.01, state %v", got, w)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit code %d after cancellation", code)
	}
	b, err := os.ReadFile(truth)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(b, []byte("}\n")) || !bytes.Contains(b, []byte(`"type":"stop"`)) {
		t.Errorf("truth not closed cleanly:\n%s", b)
	}
}

// TestSimRTU serves RTU on one end of a socat pseudo-terminal pair and reads it with our client from
// the other, then the same over TCP (RTU over TCP).
func TestSimRTU(t *testing.T) {
	if _, err := exec.LookPath("socat"); err != nil {
		t.Skip("socat not found: install the Debian package socat")
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "sim"), filepath.Join(dir, "agent")
	socat := exec.Command("socat", "pty,raw,echo=0,link="+a, "pty,raw,echo=0,link="+b)
	if err := socat.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = socat.Process.Kill(); _ = socat.Wait() }()
	for i := 0; ; i++ {
		if _, err := os.Stat(b); err == nil {
			break
		}
		if i > 200 {
			t.Fatal("socat made no pty pair")
		}
		time.Sleep(10 * time.Millisecond)
	}
	banner, _ := simStart(t, "--rtu", a, "--baud", "38400", "--parity", "N", "--rtu-over-tcp", "127.0.0.1:0",
		"--speed", "0.0001", "--start", simStartTime, "cng-station")
	overTCP := simAddr(t, banner(), "Modbus RTU през TCP")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, cfg := range []modbus.ClientConfig{
		{Transport: modbus.RTU, Address: b, Serial: modbus.SerialConfig{Baud: 38400, Parity: "N"}, Timeout: time.Second},
		{Transport: modbus.RTUOverTCP, Address: overTCP, Timeout: time.Second},
	} {
		c, err := modbus.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		// Dispenser 1 (unit 1): total mass, uint32 CDAB × 0.01 kg.
		regs, err := c.ReadHoldingRegisters(ctx, 1, 0, 2)
		if err != nil {
			t.Fatalf("%s: %v", cfg.Transport, err)
		}
		if got := float64(modbus.CDAB.Uint32(regs)) * 0.01; math.Abs(got-1520334.25) > 0.001 {
			t.Errorf("%s: unit 1 total mass %v, scenario 1520334.25", cfg.Transport, got)
		}
		// Dispenser 2 (unit 2): total mass, uint32 ABCD × 0.01 kg.
		regs, err = c.ReadHoldingRegisters(ctx, 2, 0, 2)
		if err != nil {
			t.Fatalf("%s: unit 2: %v", cfg.Transport, err)
		}
		if got := float64(modbus.ABCD.Uint32(regs)) * 0.01; math.Abs(got-986120.50) > 0.001 {
			t.Errorf("%s: unit 2 total mass %v, scenario 986120.50", cfg.Transport, got)
		}
		// The door sensor, a discrete input of unit 1: closed.
		bits, err := c.ReadDiscreteInputs(ctx, 1, 0, 1)
		if err != nil || bits[0] {
			t.Errorf("%s: door %v %v", cfg.Transport, bits, err)
		}
		// Nobody answers for unit 9 on a serial line.
		if _, err := c.ReadHoldingRegisters(ctx, 9, 0, 1); err == nil {
			t.Errorf("%s: unit 9 answered", cfg.Transport)
		}
		c.Close()
	}
}
