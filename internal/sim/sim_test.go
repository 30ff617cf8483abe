package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/modbus"
)

var t0 = time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)

func newSim(t testing.TB, name string, seed uint64) (*Sim, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	s, err := New(loadSample(t, name), Options{Seed: seed, Start: t0, Truth: &buf})
	if err != nil {
		t.Fatal(err)
	}
	return s, &buf
}

// reg reads one register value the way the agent will: through the Modbus handler, decoded by type.
func reg(t testing.TB, s *Sim, unit byte, r *Register) float64 {
	t.Helper()
	h := s.Handler()
	ctx := context.Background()
	if r.Table.Bits() {
		dst := make([]bool, 1)
		var err error
		if r.Table == Coils {
			err = h.ReadCoils(ctx, unit, r.Address, dst)
		} else {
			err = h.ReadDiscreteInputs(ctx, unit, r.Address, dst)
		}
		if err != nil {
			t.Fatal(err)
		}
		if dst[0] {
			return 1
		}
		return 0
	}
	dst := make([]uint16, r.Size())
	var err error
	if r.Table == HoldingRegisters {
		err = h.ReadHoldingRegisters(ctx, unit, r.Address, dst)
	} else {
		err = h.ReadInputRegisters(ctx, unit, r.Address, dst)
	}
	if err != nil {
		t.Fatal(err)
	}
	v, err := modbus.Format{Type: r.Type, Order: r.Order, Bit: uint(r.Bit)}.Decode(dst)
	if err != nil {
		t.Fatal(err)
	}
	return v.Float64() * r.Scale
}

func pointOf(t testing.TB, s *Sim, number int) *pointState {
	t.Helper()
	for _, ps := range s.points {
		if ps.p.Number == number {
			return ps
		}
	}
	t.Fatalf("no point %d", number)
	return nil
}

func roleReg(t testing.TB, ps *pointState, role core.Role) *Register {
	t.Helper()
	r := ps.role[role]
	if r == nil {
		t.Fatalf("point %d has no %s register", ps.p.Number, role)
	}
	return r
}

// records parses the truth log.
func records(t testing.TB, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatalf("truth line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func num(t testing.TB, v any) float64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%v is not a number", v)
	}
	f, err := n.Float64()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestRoadLoadingTransaction follows one loading at road bay 1 through its registers: the indicator
// goes 0→1, the meter's own start total latches, the totalizers grow by the flow, the indicator goes
// 1→0, and the truth log holds the transaction with the totals read at the two edges.
func TestRoadLoadingTransaction(t *testing.T) {
	s, buf := newSim(t, "fuel-depot", 42)
	ps := pointOf(t, s, 1)
	ind, tot, flow := roleReg(t, ps, core.RoleTransactionFlag), roleReg(t, ps, core.RoleTotalVolume), roleReg(t, ps, core.RoleFlow)
	start := ps.role[core.RoleStartTotal]

	prev := reg(t, s, 1, ind)
	if prev != 0 {
		t.Fatal("indicator up before any transaction")
	}
	var startTotal, endTotal, maxFlow, sumFlow float64
	rose, fell := false, false
	first := reg(t, s, 1, tot)
	last := first
	for i := 0; i < 40*60*10 && !fell; i++ {
		if err := s.Step(); err != nil {
			t.Fatal(err)
		}
		v := reg(t, s, 1, ind)
		cur := reg(t, s, 1, tot)
		if cur < last {
			t.Fatalf("totalizer went down from %v to %v", last, cur)
		}
		last = cur
		f := reg(t, s, 1, flow)
		maxFlow = max(maxFlow, f)
		sumFlow += f * float64(s.Tick()) / float64(time.Minute)
		if f > 0 && v != 1 {
			t.Fatalf("flow %v with the indicator down", f)
		}
		switch {
		case prev == 0 && v == 1:
			rose = true
			startTotal = cur
			if got := reg(t, s, 1, start); got != cur {
				t.Errorf("meter start total %v, totalizer %v at 0→1", got, cur)
			}
		case prev == 1 && v == 0:
			fell = true
			endTotal = cur
		}
		prev = v
	}
	if !rose || !fell {
		t.Fatalf("no complete transaction in 40 minutes (rose %v, fell %v)", rose, fell)
	}
	if maxFlow < 1800*0.95 || maxFlow > 2400*1.05 {
		t.Errorf("flow peaked at %v L/min, scenario says 1800..2400", maxFlow)
	}
	q := endTotal - startTotal
	if q < 1800*3*0.9 || q > 2400*7*1.1 {
		t.Errorf("loaded %v L, scenario allows about 5400..16800", q)
	}
	// The integral of the flow we sampled matches the totalizer within a litre per minute of loading
	// plus the register's truncation.
	if d := sumFlow - q; d < -2 || d > 2+q*0.001 {
		t.Errorf("flow integral %v vs totalizer difference %v", sumFlow, q)
	}
	var tx map[string]any
	for _, r := range records(t, buf.Bytes()) {
		if r["type"] == "transaction" && r["point"] == "BGNCA00005001001001" {
			tx = r
			break
		}
	}
	if tx == nil {
		t.Fatal("the truth log has no transaction of point 001")
	}
	tv := tx["totals"].(map[string]any)["total-volume"].(map[string]any)
	if num(t, tv["start"]) != startTotal || num(t, tv["end"]) != endTotal || num(t, tv["quantity"]) != q {
		t.Errorf("truth %v, registers start %v end %v", tv, startTotal, endTotal)
	}
	if tx["meter_start_total"] != true || tx["direction"] != "out" {
		t.Errorf("transaction record %v", tx)
	}
	d15 := num(t, tx["density15"])
	code := tx["product"].(string)
	if code == "A95E10" && (d15 < 730 || d15 > 755) || code == "DB6" && (d15 < 820 || d15 > 845) {
		t.Errorf("density15 %v for %s", d15, code)
	}
	// The mass and the standard volume moved consistently with the density.
	tm := tx["totals"].(map[string]any)["total-mass"].(map[string]any)
	ts := tx["totals"].(map[string]any)["total-std-volume"].(map[string]any)
	if m, v := num(t, tm["quantity"]), num(t, ts["quantity"]); abs(m-v*d15/1000) > 3 {
		t.Errorf("mass %v kg, std volume %v L × %v kg/m³", m, v, d15)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestStartFromPreviousEnd checks чл. 30, ал. 17 on bay 2, whose meter has no start register: since
// nothing flows between loadings, each transaction starts where the previous one ended.
func TestStartFromPreviousEnd(t *testing.T) {
	s, buf := newSim(t, "fuel-depot", 7)
	if err := s.Advance(2 * time.Hour); err != nil {
		t.Fatal(err)
	}
	var prevEnd string
	n := 0
	for _, r := range records(t, buf.Bytes()) {
		if r["type"] != "transaction" || r["point"] != "BGNCA00005001001002" {
			continue
		}
		if r["meter_start_total"] != false {
			t.Errorf("bay 2 claims a meter start total")
		}
		tv := r["totals"].(map[string]any)["total-volume"].(map[string]any)
		if prevEnd != "" && string(tv["start"].(json.Number)) != prevEnd {
			t.Errorf("transaction %v starts at %v, previous ended at %v", r["seq"], tv["start"], prevEnd)
		}
		prevEnd = string(tv["end"].(json.Number))
		n++
	}
	if n < 5 {
		t.Errorf("only %d transactions of bay 2 in 2 hours", n)
	}
}

func TestContinuousPipelineNeverToggles(t *testing.T) {
	s, buf := newSim(t, "fuel-depot", 3)
	ps := pointOf(t, s, 5)
	tot := roleReg(t, ps, core.RoleTotalVolume)
	last := reg(t, s, 3, tot)
	for i := 0; i < 6; i++ {
		if err := s.Advance(10 * time.Minute); err != nil {
			t.Fatal(err)
		}
		cur := reg(t, s, 3, tot)
		// 250..400 m³/h for 10 minutes.
		if d := cur - last; d < 250.0/6*0.9 || d > 400.0/6*1.1 {
			t.Errorf("pipeline moved %v m³ in 10 minutes", d)
		}
		last = cur
	}
	for _, r := range records(t, buf.Bytes()) {
		if strings.HasPrefix(r["type"].(string), "transaction") && r["point"] == ps.id {
			t.Fatalf("a continuous point logged a transaction: %v", r)
		}
		if r["type"] == "totals" && r["point"] == ps.id {
			if _, ok := r["indicator"]; ok {
				t.Errorf("continuous totals carry an indicator: %v", r)
			}
		}
	}
}

func TestCounters(t *testing.T) {
	s, buf := newSim(t, "tobacco-factory", 11)
	ps := pointOf(t, s, 1)
	tot := roleReg(t, ps, core.RoleTotalCount)
	first := reg(t, s, 1, tot)
	if first != 48211930 {
		t.Fatalf("initial count %v", first)
	}
	last := first
	for i := 0; i < 2*60; i++ {
		if err := s.Advance(time.Minute); err != nil {
			t.Fatal(err)
		}
		cur := reg(t, s, 1, tot)
		if cur != float64(int64(cur)) || cur < last {
			t.Fatalf("count %v after %v", cur, last)
		}
		if cur-last > 420*1.05 {
			t.Fatalf("counted %v packs in a minute, the line does 350..420", cur-last)
		}
		last = cur
	}
	// Two hours at 350..420 a minute, less the stops (at most 30 minutes after a run of at least one hour).
	if d := last - first; d < 350*60 || d > 420*120 {
		t.Errorf("counted %v in 2 hours", d)
	}
	// The scale of the same factory logs weighings.
	n := 0
	for _, r := range records(t, buf.Bytes()) {
		if r["type"] == "transaction" && r["point"] == "BGNBL00003004001003" {
			n++
			q := num(t, r["totals"].(map[string]any)["total-mass"].(map[string]any)["quantity"])
			if q < 40*4*0.9 || q > 60*8*1.1 {
				t.Errorf("weighing of %v kg", q)
			}
		}
	}
	if n == 0 {
		t.Error("no weighing in 2 hours")
	}
}

func TestTotalizerBackwards(t *testing.T) {
	s, buf := newSim(t, "cng-station", 5)
	ps := pointOf(t, s, 2)
	tot := roleReg(t, ps, core.RoleTotalMass)
	if err := s.Advance(time.Minute); err != nil {
		t.Fatal(err)
	}
	before := reg(t, s, 2, tot)
	if _, err := s.Inject(Fault{Kind: FaultTotalizerBackwards, Point: 2, Amount: 12.5}); err != nil {
		t.Fatal(err)
	}
	if err := s.Step(); err != nil {
		t.Fatal(err)
	}
	after := reg(t, s, 2, tot)
	if after >= before || before-after > 12.5+0.02+9.0/600 {
		t.Fatalf("totalizer %v → %v, want about 12.5 kg down", before, after)
	}
	var ev map[string]any
	for _, r := range records(t, buf.Bytes()) {
		if r["event"] == "totalizer-decrease" {
			ev = r
		}
	}
	if ev == nil || ev["point"] != "BGNSF00009003001002" || ev["quantity"] != "total-mass" || num(t, ev["to"]) != after {
		t.Fatalf("event %v, register %v", ev, after)
	}
}

func TestDoorPowerErrorBits(t *testing.T) {
	s, buf := newSim(t, "cng-station", 1)
	var door, ups *Register
	for _, r := range s.sc.Devices[0].Registers {
		switch r.Role {
		case core.RoleDoor:
			door = r
		case core.RoleUPS:
			ups = r
		}
	}
	ps := pointOf(t, s, 1)
	ebits := roleReg(t, ps, core.RoleErrorBits)
	tot := roleReg(t, ps, core.RoleTotalMass)
	for _, f := range []Fault{{Kind: FaultDoor, For: Duration(time.Minute)}, {Kind: FaultErrorBits, Point: 1, Bits: 0b101, For: Duration(30 * time.Second)}} {
		if _, err := s.Inject(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Step(); err != nil {
		t.Fatal(err)
	}
	if reg(t, s, 1, door) != 1 || reg(t, s, 1, ebits) != 5 {
		t.Fatalf("door %v, error bits %v", reg(t, s, 1, door), reg(t, s, 1, ebits))
	}
	if err := s.Advance(time.Minute); err != nil {
		t.Fatal(err)
	}
	if reg(t, s, 1, door) != 0 || reg(t, s, 1, ebits) != 0 {
		t.Fatalf("after expiry: door %v, error bits %v", reg(t, s, 1, door), reg(t, s, 1, ebits))
	}
	// The scheduled power loss at 1h: the UPS flag rises and nothing flows for 4 minutes.
	if err := s.Advance(time.Hour - time.Minute); err != nil {
		t.Fatal(err)
	}
	if reg(t, s, 1, ups) != 1 {
		t.Fatal("UPS flag not up at 1h")
	}
	held := reg(t, s, 1, tot)
	if err := s.Advance(3 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if reg(t, s, 1, tot) != held || reg(t, s, 1, ups) != 1 {
		t.Fatal("flow during a power loss")
	}
	if err := s.Advance(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if reg(t, s, 1, ups) != 0 {
		t.Fatal("UPS flag still up after the power came back")
	}
	var events []string
	for _, r := range records(t, buf.Bytes()) {
		if r["type"] == "event" {
			e := r["event"].(string)
			if e == "error-set" || e == "error-cleared" {
				e += ":" + strings.Join(anyStrings(r["codes"]), ",")
			}
			events = append(events, e)
		}
	}
	want := "door-open error-set:C01,C03 error-cleared:C01,C03 door-closed power-lost power-restored"
	if got := strings.Join(events, " "); got != want {
		t.Errorf("events %q, want %q", got, want)
	}
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestDeterminism runs each sample twice with one seed and once with another: the same seed must give
// the same truth, byte for byte.
func TestDeterminism(t *testing.T) {
	run := func(name string, seed uint64) []byte {
		s, buf := newSim(t, name, seed)
		if _, err := s.Inject(Fault{Kind: FaultDoor, For: Duration(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if err := s.Advance(40 * time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	for _, n := range sampleNames {
		a, b, c := run(n, 99), run(n, 99), run(n, 100)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two runs with seed 99 differ", n)
		}
		if bytes.Equal(a, c) {
			t.Errorf("%s: seeds 99 and 100 give the same run", n)
		}
	}
}

// TestSamplesRun runs every sample for two simulated hours and checks the truth log's invariants:
// consecutive sequence numbers, times that never go back, totals that never go down.
func TestSamplesRun(t *testing.T) {
	for _, n := range sampleNames {
		s, buf := newSim(t, n, 1)
		if err := s.Advance(2 * time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		recs := records(t, buf.Bytes())
		if recs[0]["type"] != "start" || recs[len(recs)-1]["type"] != "stop" {
			t.Errorf("%s: log does not start and stop", n)
		}
		last := map[string]float64{}
		prevTime := ""
		txs := 0
		for i, r := range recs {
			if num(t, r["seq"]) != float64(i+1) {
				t.Fatalf("%s: record %d has seq %v", n, i+1, r["seq"])
			}
			tm := r["time"].(string)
			if _, err := time.Parse("2006-01-02T15:04:05.000Z", tm); err != nil {
				t.Fatalf("%s: time %q: %v", n, tm, err)
			}
			if tm < prevTime {
				t.Fatalf("%s: time goes back at seq %d", n, i+1)
			}
			prevTime = tm
			if r["type"] == "transaction" {
				txs++
			}
			if r["type"] == "totals" {
				for q, v := range r["totals"].(map[string]any) {
					k := r["point"].(string) + q
					if f := num(t, v); f < last[k] {
						t.Fatalf("%s: %s went down", n, k)
					} else {
						last[k] = f
					}
				}
			}
		}
		if n != "distillery" && txs == 0 || len(last) == 0 {
			t.Errorf("%s: %d transactions, %d totals in 2 hours", n, txs, len(last))
		}
	}
}

func TestHandlerFaults(t *testing.T) {
	s, _ := newSim(t, "fuel-depot", 1)
	h, serial := s.Handler(), s.SerialHandler()
	ctx := context.Background()
	dst := make([]uint16, 2)
	if err := h.ReadHoldingRegisters(ctx, 1, 0, dst); err != nil || uint32(dst[0])<<16|uint32(dst[1]) != 18250400 {
		t.Fatalf("read: %v %v", dst, err)
	}
	var ex *modbus.Exception
	if err := h.ReadHoldingRegisters(ctx, 1, 59, dst); !errors.As(err, &ex) || ex.Code != modbus.IllegalDataAddress {
		t.Errorf("beyond the map: %v", err)
	}
	if err := h.ReadHoldingRegisters(ctx, 9, 0, dst); !errors.As(err, &ex) || ex.Code != modbus.GatewayTargetDeviceFailedToRespond {
		t.Errorf("unknown unit on TCP: %v", err)
	}
	if err := serial.ReadHoldingRegisters(ctx, 9, 0, dst); !errors.Is(err, modbus.ErrNoResponse) {
		t.Errorf("unknown unit on a serial line: %v", err)
	}
	if err := h.WriteRegisters(ctx, 1, 0, []uint16{0}); !errors.As(err, &ex) || ex.Code != modbus.IllegalFunction {
		t.Errorf("write: %v", err)
	}
	bits := make([]bool, 1)
	if err := h.ReadCoils(ctx, 2, 0, bits); err != nil {
		t.Errorf("rail indicator coil: %v", err)
	}
	inj := func(f Fault) {
		t.Helper()
		if _, err := s.Inject(f); err != nil {
			t.Fatal(err)
		}
		if err := s.Step(); err != nil {
			t.Fatal(err)
		}
	}
	inj(Fault{Kind: FaultException, Unit: 2, Code: 6})
	if err := h.ReadInputRegisters(ctx, 2, 0, dst); !errors.As(err, &ex) || ex.Code != modbus.ServerDeviceBusy || ex.Function != 4 {
		t.Errorf("exception fault: %v", err)
	}
	if err := h.ReadHoldingRegisters(ctx, 1, 0, dst); err != nil {
		t.Errorf("a fault of unit 2 hit unit 1: %v", err)
	}
	s.Clear(-1)
	inj(Fault{Kind: FaultDrop})
	if err := h.ReadHoldingRegisters(ctx, 3, 0, dst); !errors.Is(err, modbus.ErrDropConnection) {
		t.Errorf("drop: %v", err)
	}
	s.Clear(-1)
	inj(Fault{Kind: FaultSilence, Unit: 1})
	if err := h.ReadHoldingRegisters(ctx, 1, 0, dst); !errors.Is(err, modbus.ErrNoResponse) {
		t.Errorf("silence: %v", err)
	}
	s.Clear(-1)
	inj(Fault{Kind: FaultCorrupt, Unit: 1})
	dst[0] = 0
	if err := h.ReadHoldingRegisters(ctx, 1, 0, dst); !errors.Is(err, modbus.ErrCorruptResponse) || dst[0] == 0 {
		t.Errorf("corrupt: %v (answer %v)", err, dst)
	}
	s.Clear(-1)
	inj(Fault{Kind: FaultDelay, Unit: 1, MS: 60000})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := h.ReadHoldingRegisters(cctx, 1, 0, dst); !errors.Is(err, context.Canceled) {
		t.Errorf("a delayed answer does not watch ctx: %v", err)
	}
	s.Clear(-1)
	inj(Fault{Kind: FaultDrop, Rate: 0.5})
	hits := 0
	for i := 0; i < 1000; i++ {
		if h.ReadHoldingRegisters(ctx, 1, 0, dst) != nil {
			hits++
		}
	}
	if hits < 400 || hits > 600 {
		t.Errorf("rate 0.5 hit %d of 1000", hits)
	}
	s.Clear(-1)
	if err := s.Step(); err != nil {
		t.Fatal(err)
	}
	if st := s.State(); len(st.Faults) != 0 {
		t.Errorf("faults left after clearing: %v", st.Faults)
	}
	if _, err := s.Inject(Fault{Kind: FaultDelay, Unit: 1}); err == nil {
		t.Error("a delay without ms was accepted")
	}
	if _, err := s.Inject(Fault{Kind: FaultException, Unit: 77, Code: 4}); err == nil {
		t.Error("a fault of a unit that does not exist was accepted")
	}
}

func TestRegisterEncoding(t *testing.T) {
	cases := []struct {
		r    Register
		v    float64
		want string
	}{
		{Register{Type: modbus.Uint32, Scale: 1, Role: core.RoleTotalVolume}, 1234.99, "1234"},
		{Register{Type: modbus.Uint32, Scale: 0.01, Role: core.RoleTotalMass}, 1520334.256, "1520334.25"},
		{Register{Type: modbus.Int32, Scale: 0.01, Role: core.RoleTemperature}, -3.456, "-3.46"},
		{Register{Type: modbus.Int16, Scale: 1, Role: core.RoleTemperature}, 1e6, "32767"},
		{Register{Type: modbus.Uint16, Scale: 1, Role: core.RoleFlow}, -5, "0"},
		{Register{Type: modbus.Float32, Scale: 1, Role: core.RoleFlow}, 2000.123456789, "2000.1234"},
		{Register{Type: modbus.Float64, Scale: 1, Role: core.RoleTotalVolume}, 1843920.5, "1843920.5"},
	}
	for _, c := range cases {
		if got := string(c.r.observe(c.v)); got != c.want {
			t.Errorf("%s ×%v of %v = %s, want %s", c.r.Type, c.r.Scale, c.v, got, c.want)
		}
	}
	// Every byte order round-trips through the codec of the agent.
	for _, o := range []modbus.ByteOrder{modbus.ABCD, modbus.DCBA, modbus.BADC, modbus.CDAB} {
		for _, typ := range []modbus.DataType{modbus.Int16, modbus.Uint16, modbus.Int32, modbus.Uint32, modbus.Int64, modbus.Uint64, modbus.Float32, modbus.Float64} {
			r := Register{Table: HoldingRegisters, Type: typ, Order: o, Scale: 0.1, Role: core.RoleValue}
			img := make([]uint16, 4)
			r.put(img, 1234.5)
			v, err := modbus.Format{Type: typ, Order: o}.Decode(img)
			if err != nil {
				t.Fatal(err)
			}
			if got := strconv.FormatFloat(v.Float64()*0.1, 'f', 1, 64); got != "1234.5" {
				t.Errorf("%s %s: %s", typ, o, got)
			}
		}
	}
}

func TestRealTimePacer(t *testing.T) {
	now := time.Unix(0, 0)
	p := &realTime{speed: 10, now: func() time.Time { return now }}
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.Pace(ctx, time.Second); err != nil { // the first call sets the origin
		t.Fatal(err)
	}
	now = now.Add(200 * time.Millisecond) // 2 s of simulated time at ×10
	if err := p.Pace(ctx, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := p.Pace(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled pace returned %v", err)
	}
}

func TestRunLimitAndClose(t *testing.T) {
	s, buf := newSim(t, "distillery", 1)
	if err := s.Run(context.Background(), Fast(), 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if s.Elapsed() != 10*time.Minute {
		t.Fatalf("ran %v", s.Elapsed())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Step(); err == nil {
		t.Error("stepped after Close")
	}
	if !bytes.HasSuffix(buf.Bytes(), []byte("\n")) || !bytes.Contains(buf.Bytes(), []byte(`"type":"stop"`)) {
		t.Error("no stop record")
	}
}

// TestBothDirections checks the bidirectional rail point: its direction register tells each
// transaction's direction (чл. 30, ал. 9), and both occur.
func TestBothDirections(t *testing.T) {
	s, buf := newSim(t, "fuel-depot", 21)
	ps := pointOf(t, s, 4)
	dir, ind := roleReg(t, ps, core.RoleDirection), roleReg(t, ps, core.RoleTransactionFlag)
	seen := map[string]int{}
	var during []float64
	for i := 0; i < 5*60; i++ {
		if err := s.Advance(time.Minute); err != nil {
			t.Fatal(err)
		}
		if reg(t, s, 2, ind) == 1 {
			during = append(during, reg(t, s, 2, dir))
		}
	}
	for _, r := range records(t, buf.Bytes()) {
		if r["type"] == "transaction" && r["point"] == ps.id {
			seen[r["direction"].(string)]++
		}
	}
	if seen["in"] == 0 || seen["out"] == 0 || len(seen) != 2 {
		t.Errorf("directions in 5 hours: %v", seen)
	}
	ones := 0
	for _, v := range during {
		if v != 0 && v != 1 {
			t.Fatalf("direction register %v", v)
		}
		ones += int(v)
	}
	if ones == 0 || ones == len(during) {
		t.Errorf("direction register during transactions: %v", during)
	}
}
