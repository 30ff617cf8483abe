package sim

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/modbus"
)

// MaxScenarioSize bounds a scenario file: the samples are a few kilobytes, so a megabyte leaves room for a
// site with hundreds of points and refuses anything that is not a scenario.
const MaxScenarioSize = 1 << 20

// Limits of the XML tree, so that a hostile file cannot make the loader build an enormous one.
const (
	maxDepth    = 8
	maxElements = 20000
)

// Scenario is a simulated site: the Modbus register map of its PLCs and how its meters behave. It is read
// from a scenario file (see docs/simulator.md) and is not changed after loading.
type Scenario struct {
	Name        string        // short name, e.g. fuel-depot
	Title       string        // a line for people, in Bulgarian
	Warehouse   string        // tax warehouse number (ИДНС), e.g. BGNCA00005001
	Box         int           // ИКУНК number, 1–999
	Tick        time.Duration // simulated time step
	Start       time.Time     // simulated start; zero means "now" at run time
	Seed        uint64        // default seed; the command line may override it
	TruthPeriod time.Duration // how often the totals of every point are logged; 0 never

	Products []*Product
	Devices  []*Device
	Faults   []*Fault // scheduled faults, in file order
}

// Product is one kind of excise goods a point can carry, with its physical properties.
type Product struct {
	ID          string  // the name points refer to it by
	Code        string  // product code of the nomenclature (чл. 11, ал. 3; чл. 30, ал. 10)
	Raw         uint16  // the value the PLC writes to a product-code register for it
	CN          string  // combined nomenclature code, e.g. "2710 19 43"
	Excise      string  // excise product code, e.g. E430; may be empty
	Name        string  // trade name, in Bulgarian
	Density15   Range   // kg/m³ at 15 °C; zero for goods counted in pieces
	Temperature Range   // °C
	Expansion   float64 // volume expansion coefficient, 1/°C, for the correction to 15 °C
	Alcohol     Range   // % vol, for spirits
	Line        int
}

// Range is a closed interval of numbers; Min == Max is a constant.
type Range struct{ Min, Max float64 }

// Set reports whether the range was given.
func (r Range) Set() bool { return r.Min != 0 || r.Max != 0 }

// Mid is the middle of the range.
func (r Range) Mid() float64 { return (r.Min + r.Max) / 2 }

// DurationRange is a closed interval of durations.
type DurationRange struct{ Min, Max time.Duration }

// Set reports whether the range was given.
func (r DurationRange) Set() bool { return r.Max > 0 }

// Device is one Modbus unit: a PLC or a flow computer behind a gateway.
type Device struct {
	Unit      byte
	Name      string
	Registers []*Register // of the box: door, UPS
	Points    []*Point
	// Size is the number of addresses of each table that answer reads (the rest answer an
	// illegal-data-address exception), indexed by Table.
	Size [4]int
	Line int
}

// Kind is what measuring instrument a point has.
type Kind string

// Kinds of points.
const (
	KindMeter   Kind = "meter"   // flow meter: volume at line temperature, at 15 °C, mass
	KindCounter Kind = "counter" // piece counter (чл. 30, ал. 13, т. 7)
	KindScale   Kind = "scale"   // filling scale: mass
	KindCNG     Kind = "cng"     // CNG dispenser: mass (чл. 30, ал. 13, т. 8)
)

var kinds = []Kind{KindMeter, KindCounter, KindScale, KindCNG}

// Primary is the totalizer role that defines the point's transactions.
func (k Kind) Primary() core.Role {
	switch k {
	case KindCounter:
		return core.RoleTotalCount
	case KindScale, KindCNG:
		return core.RoleTotalMass
	}
	return core.RoleTotalVolume
}

// roles lists the roles a point of the kind may map.
func (k Kind) roles() []core.Role {
	common := []core.Role{core.RoleFlow, core.RoleProductCode, core.RoleDirection, core.RoleTransactionFlag,
		core.RoleStartTotal, core.RoleTransactionQuantity, core.RoleErrorBits}
	switch k {
	case KindMeter:
		return append(common, core.RoleTotalVolume, core.RoleTotalStdVolume, core.RoleTotalMass,
			core.RoleTemperature, core.RoleDensity, core.RoleDensity15, core.RoleAlcohol, core.RolePressure)
	case KindCounter:
		return append(common, core.RoleTotalCount)
	case KindScale:
		return append(common, core.RoleTotalMass, core.RoleWeight)
	case KindCNG:
		return append(common, core.RoleTotalMass, core.RoleTemperature, core.RolePressure)
	}
	return nil
}

// totalizers lists the totalizer roles of the kind, in the order the truth log gives them.
func (k Kind) totalizers() []core.Role {
	switch k {
	case KindMeter:
		return []core.Role{core.RoleTotalVolume, core.RoleTotalStdVolume, core.RoleTotalMass}
	case KindCounter:
		return []core.Role{core.RoleTotalCount}
	}
	return []core.Role{core.RoleTotalMass}
}

// Point is a control point: one measuring instrument and its registers.
type Point struct {
	Number     int // 1–999: the last three digits of the control point id
	Name       string
	Kind       Kind
	Class      core.IntervalClass
	Mode       core.Mode
	Direction  core.Direction
	Products   []*Product
	Run        Run
	VolumeUnit string  // L or m3 (meters)
	Initial    float64 // the primary totalizer at the start of the run
	Registers  []*Register
	Errors     []ErrorBit
	Line       int

	unit byte
}

// Run is how a point's flow behaves.
type Run struct {
	Rate     Range         // flow while running, in the point's unit per Per
	Per      time.Duration // time.Minute or time.Hour
	Duration DurationRange // length of a transaction (or of a production run); unset: flow never stops
	Gap      DurationRange // idle time between two
	Lead     time.Duration // indicator up, no flow yet (valves opening)
	Lag      time.Duration // flow stopped, indicator still up (valves closing)
	Batch    DurationRange // continuous points: time between product changes
	Pressure Range         // bar
}

// ErrorBit is one row of the error table of a point's error-bits register (чл. 35, ал. 5).
type ErrorBit struct {
	Bit  int
	Code string
	Text string
}

// Table is one of the four Modbus data tables.
type Table int

// Tables. The values index per-table arrays; they are not the digits of Modicon logical addresses.
const (
	Coils            Table = iota // 0xxxx, read with function 1
	DiscreteInputs                // 1xxxx, function 2
	InputRegisters                // 3xxxx, function 4
	HoldingRegisters              // 4xxxx, function 3
)

var tableNames = map[string]Table{
	"coil": Coils, "discrete-input": DiscreteInputs, "input-register": InputRegisters, "holding-register": HoldingRegisters,
}

// String names the table as scenario files and automation_config.xml do.
func (t Table) String() string {
	switch t {
	case Coils:
		return "coil"
	case DiscreteInputs:
		return "discrete-input"
	case InputRegisters:
		return "input-register"
	case HoldingRegisters:
		return "holding-register"
	}
	return "unknown"
}

// Bits reports whether the table holds single bits.
func (t Table) Bits() bool { return t == Coils || t == DiscreteInputs }

// Register is one mapped value.
type Register struct {
	Table   Table
	Address uint16
	Type    modbus.DataType // for bit tables: modbus.Bit
	Order   modbus.ByteOrder
	Scale   float64   // engineering value = raw × Scale
	Bit     int       // for Type bit in a register table
	Role    core.Role // what it holds
	Of      core.Role // for start-total and transaction-quantity: which totalizer
	Line    int
}

// Size is the number of addresses the register takes.
func (r *Register) Size() int {
	if r.Table.Bits() {
		return 1
	}
	return r.Type.Registers()
}

// Error is a fault in a scenario file, naming the place.
type Error struct {
	File  string
	Line  int
	Field string // element@attribute, or element
	Msg   i18n.Message
}

func (e *Error) Error() string { return e.Localize(i18n.For(i18n.EN)) }

// Localize formats the error in the printer's language.
func (e *Error) Localize(p *i18n.Printer) string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg(e.Msg))
	return b.String()
}

// LoadFile reads a scenario file.
func LoadFile(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxScenarioSize+1))
	if err != nil {
		return nil, fmt.Errorf("sim: %s: %w", path, err)
	}
	return Parse(filepath.Base(path), b)
}

// node is an element of the parsed tree, with the line it starts on.
type node struct {
	name     string
	attrs    []xml.Attr
	used     []bool
	children []*node
	text     strings.Builder
	line     int
}

// Parse reads a scenario from data; file names it in errors.
func Parse(file string, data []byte) (*Scenario, error) {
	if len(data) > MaxScenarioSize {
		return nil, &Error{File: file, Msg: i18n.M("sim.scenario.too_large", MaxScenarioSize)}
	}
	root, err := parseTree(file, data)
	if err != nil {
		return nil, err
	}
	l := &loader{file: file}
	sc := l.scenario(root)
	if l.err != nil {
		return nil, l.err
	}
	return sc, nil
}

func parseTree(file string, data []byte) (*node, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var stack []*node
	var root *node
	count := 0
	// Offsets only grow, so lines are counted incrementally: counting from the start for every element
	// would be quadratic in the file's size.
	lastOff, lastLine := 0, 1
	line := func(off int64) int {
		o := min(int(off), len(data))
		if o > lastOff {
			lastLine += bytes.Count(data[lastOff:o], []byte{'\n'})
			lastOff = o
		}
		return lastLine
	}
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, &Error{File: file, Line: se.Line, Msg: i18n.M("sim.scenario.xml", se.Msg)}
			}
			return nil, &Error{File: file, Line: line(dec.InputOffset()), Msg: i18n.M("sim.scenario.xml", err.Error())}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			count++
			if count > maxElements || len(stack) >= maxDepth {
				return nil, &Error{File: file, Line: line(off), Field: t.Name.Local, Msg: i18n.M("sim.scenario.too_deep", maxDepth, maxElements)}
			}
			n := &node{name: t.Name.Local, attrs: t.Attr, used: make([]bool, len(t.Attr)), line: line(off)}
			if t.Name.Space != "" && t.Name.Space != Namespace {
				return nil, &Error{File: file, Line: n.line, Field: n.name, Msg: i18n.M("sim.scenario.namespace", t.Name.Space, Namespace)}
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, &Error{File: file, Line: n.line, Msg: i18n.M("sim.scenario.xml", "more than one root element")}
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, &Error{File: file, Line: line(off), Msg: i18n.M("sim.scenario.xml", "text outside the root element")}
			}
		}
	}
	if root == nil {
		return nil, &Error{File: file, Msg: i18n.M("sim.scenario.empty")}
	}
	return root, nil
}

// Namespace is the optional XML namespace of scenario files.
const Namespace = "urn:akciz:sim-scenario:1"

// loader interprets the tree; it keeps the first error and turns later calls into no-ops.
type loader struct {
	file string
	err  error
}

func (l *loader) fail(n *node, field string, m i18n.Message) {
	if l.err == nil {
		l.err = &Error{File: l.file, Line: n.line, Field: field, Msg: m}
	}
}

// attr returns the attribute name of n and marks it used.
func (l *loader) attr(n *node, name string) (string, bool) {
	for i, a := range n.attrs {
		if a.Name.Local == name && (a.Name.Space == "" || a.Name.Space == Namespace) {
			n.used[i] = true
			return strings.TrimSpace(a.Value), true
		}
	}
	return "", false
}

func (l *loader) required(n *node, name string) string {
	v, ok := l.attr(n, name)
	if !ok || v == "" {
		l.fail(n, n.name+"@"+name, i18n.M("sim.scenario.missing", name))
	}
	return v
}

// done reports attributes nobody asked for: a misspelt attribute must not be silently ignored.
func (l *loader) done(n *node) {
	for i, a := range n.attrs {
		if !n.used[i] && a.Name.Space != "xmlns" && a.Name.Local != "xmlns" && a.Name.Space != "http://www.w3.org/XML/1998/namespace" {
			l.fail(n, n.name+"@"+a.Name.Local, i18n.M("sim.scenario.unknown_attr", a.Name.Local))
			return
		}
	}
}

func (l *loader) number(n *node, name string, def, lo, hi float64) float64 {
	s, ok := l.attr(n, name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		l.fail(n, n.name+"@"+name, i18n.M("sim.scenario.bad_number", s))
		return def
	}
	if f < lo || f > hi {
		l.fail(n, n.name+"@"+name, i18n.M("sim.scenario.out_of_range", s, fmt.Sprintf("%g..%g", lo, hi)))
		return def
	}
	return f
}

func (l *loader) integer(n *node, name string, def, lo, hi int) int {
	s, ok := l.attr(n, name)
	if !ok {
		return def
	}
	i, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		l.fail(n, n.name+"@"+name, i18n.M("sim.scenario.bad_integer", s))
		return def
	}
	if i < int64(lo) || i > int64(hi) {
		l.fail(n, n.name+"@"+name, i18n.M("sim.scenario.out_of_range", s, fmt.Sprintf("%d..%d", lo, hi)))
		return def
	}
	return int(i)
}

// maxSimDuration bounds every duration of a scenario; nothing on a site takes longer than a year.
const maxSimDuration = 366 * 24 * time.Hour

func (l *loader) duration(n *node, name string, def time.Duration) time.Duration {
	s, ok := l.attr(n, name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > maxSimDuration {
		l.fail(n, n.name+"@"+name, i18n.M("sim.scenario.bad_duration", s))
		return def
	}
	return d
}

// rangeOf reads "a..b" or a single number.
func (l *loader) rangeOf(n *node, name string, lo, hi float64) Range {
	s, ok := l.attr(n, name)
	if !ok {
		return Range{}
	}
	a, b, found := strings.Cut(s, "..")
	if !found {
		b = a
	}
	x, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	y, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if err1 != nil || err2 != nil || x > y || math.IsNaN(x) || math.IsNaN(y) {
		l.fail(n, n.name+"@"+name, i18n.M("sim.scenario.bad_range", s))
		return Range{}
	}
	if x < lo || y > hi {
		l.fail(n, n.name+"@"+name, i18n.M("sim.scenario.out_of_range", s, fmt.Sprintf("%g..%g", lo, hi)))
		return Range{}
	}
	return Range{x, y}
}

func (l *loader) durationRange(n *node, name string) DurationRange {
	s, ok := l.attr(n, name)
	if !ok {
		return DurationRange{}
	}
	a, b, found := strings.Cut(s, "..")
	if !found {
		b = a
	}
	x, err1 := time.ParseDuration(strings.TrimSpace(a))
	y, err2 := time.ParseDuration(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || x > y || x < 0 || y > maxSimDuration {
		l.fail(n, n.name+"@"+name, i18n.M("sim.scenario.bad_duration_range", s))
		return DurationRange{}
	}
	return DurationRange{x, y}
}

func (l *loader) enum(n *node, name, def string, allowed []string) string {
	s, ok := l.attr(n, name)
	if !ok {
		return def
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	l.fail(n, n.name+"@"+name, i18n.M("sim.scenario.bad_enum", s, strings.Join(allowed, ", ")))
	return def
}

func (l *loader) scenario(n *node) *Scenario {
	if n.name != "scenario" {
		l.fail(n, n.name, i18n.M("sim.scenario.root", n.name))
		return nil
	}
	sc := &Scenario{}
	sc.Name = l.required(n, "name")
	sc.Tick = l.duration(n, "tick", 100*time.Millisecond)
	if sc.Tick < time.Millisecond || sc.Tick > time.Minute {
		l.fail(n, "scenario@tick", i18n.M("sim.scenario.out_of_range", sc.Tick.String(), "1ms..1m"))
	}
	if s, ok := l.attr(n, "start"); ok {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			l.fail(n, "scenario@start", i18n.M("sim.scenario.bad_time", s))
		}
		sc.Start = t.UTC()
	}
	if s, ok := l.attr(n, "seed"); ok {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			l.fail(n, "scenario@seed", i18n.M("sim.scenario.bad_integer", s))
		}
		sc.Seed = v
	}
	sc.TruthPeriod = l.duration(n, "truth-period", time.Minute)
	if sc.TruthPeriod != 0 && sc.TruthPeriod < sc.Tick {
		l.fail(n, "scenario@truth-period", i18n.M("sim.scenario.out_of_range", sc.TruthPeriod.String(), "0, tick.."))
	}
	l.done(n)

	var devices, faults []*node
	sawWarehouse := false
	for _, c := range n.children {
		switch c.name {
		case "title":
			sc.Title = strings.TrimSpace(c.text.String())
			l.done(c)
		case "warehouse":
			sawWarehouse = true
			sc.Warehouse = l.required(c, "id")
			if sc.Warehouse != "" && !core.ValidWarehouseID(sc.Warehouse) {
				l.fail(c, "warehouse@id", i18n.M("sim.scenario.bad_warehouse", sc.Warehouse))
			}
			sc.Box = l.integer(c, "box", 1, 1, 999)
			l.done(c)
		case "product":
			p := l.product(c)
			for _, q := range sc.Products {
				if q.ID == p.ID {
					l.fail(c, "product@id", i18n.M("sim.scenario.duplicate", "product", p.ID))
				}
				if q.Raw == p.Raw {
					l.fail(c, "product@raw", i18n.M("sim.scenario.duplicate", "product raw", strconv.Itoa(int(p.Raw))))
				}
			}
			sc.Products = append(sc.Products, p)
		case "device":
			devices = append(devices, c)
		case "fault":
			faults = append(faults, c)
		default:
			l.fail(c, c.name, i18n.M("sim.scenario.unknown_element", c.name, n.name))
		}
	}
	if !sawWarehouse {
		l.fail(n, "scenario", i18n.M("sim.scenario.missing_element", "warehouse"))
	}
	for _, c := range devices {
		d := l.device(sc, c)
		for _, e := range sc.Devices {
			if e.Unit == d.Unit {
				l.fail(c, "device@unit", i18n.M("sim.scenario.duplicate", "device unit", strconv.Itoa(int(d.Unit))))
			}
		}
		sc.Devices = append(sc.Devices, d)
	}
	if len(sc.Devices) == 0 {
		l.fail(n, "scenario", i18n.M("sim.scenario.missing_element", "device"))
	}
	seen := map[int]bool{}
	for _, d := range sc.Devices {
		for _, p := range d.Points {
			if seen[p.Number] {
				l.fail(n, "point@number", i18n.M("sim.scenario.duplicate", "point", strconv.Itoa(p.Number)))
			}
			seen[p.Number] = true
		}
	}
	for _, c := range faults {
		f := &Fault{}
		if m := f.fromXML(l, c); m != nil {
			l.fail(c, c.name, *m)
		} else if m := f.check(sc); m != nil {
			l.fail(c, c.name, *m)
		}
		sc.Faults = append(sc.Faults, f)
	}
	return sc
}

func (l *loader) product(n *node) *Product {
	p := &Product{Line: n.line}
	p.ID = l.required(n, "id")
	p.Code = l.required(n, "code")
	p.Raw = uint16(l.integer(n, "raw", 0, 0, 65535))
	if _, ok := l.attr(n, "raw"); !ok {
		l.fail(n, "product@raw", i18n.M("sim.scenario.missing", "raw"))
	}
	p.CN = l.required(n, "cn")
	p.Excise, _ = l.attr(n, "excise")
	p.Name = l.required(n, "name")
	p.Density15 = l.rangeOf(n, "density15", 1, 2000)
	p.Temperature = l.rangeOf(n, "temperature", -60, 150)
	p.Expansion = l.number(n, "expansion", 0, 0, 0.01)
	p.Alcohol = l.rangeOf(n, "alcohol", 0, 100)
	l.done(n)
	for _, c := range n.children {
		l.fail(c, c.name, i18n.M("sim.scenario.unknown_element", c.name, n.name))
	}
	return p
}

func (l *loader) device(sc *Scenario, n *node) *Device {
	d := &Device{Line: n.line}
	d.Unit = byte(l.integer(n, "unit", 0, 1, 247))
	if _, ok := l.attr(n, "unit"); !ok {
		l.fail(n, "device@unit", i18n.M("sim.scenario.missing", "unit"))
	}
	d.Name, _ = l.attr(n, "name")
	sizes := [4]int{}
	for name, t := range tableNames {
		sizes[t] = l.integer(n, name+"s", -1, 0, 65536)
	}
	l.done(n)
	for _, c := range n.children {
		switch c.name {
		case "register":
			r := l.register(c)
			if r != nil && r.Role != core.RoleDoor && r.Role != core.RoleUPS && r.Role != core.RoleValue {
				l.fail(c, "register@role", i18n.M("sim.scenario.role_device", string(r.Role)))
			}
			if r != nil {
				d.Registers = append(d.Registers, r)
			}
		case "point":
			p := l.point(sc, c)
			p.unit = d.Unit
			d.Points = append(d.Points, p)
		default:
			l.fail(c, c.name, i18n.M("sim.scenario.unknown_element", c.name, n.name))
		}
	}
	// Check overlaps and compute the answered size of each table.
	type owner struct {
		r    *Register
		bits uint16 // for bit registers: bits taken
	}
	used := [4]map[int]*owner{{}, {}, {}, {}}
	all := append([]*Register(nil), d.Registers...)
	for _, p := range d.Points {
		all = append(all, p.Registers...)
	}
	var highest [4]int
	for _, r := range all {
		for a := int(r.Address); a < int(r.Address)+r.Size(); a++ {
			if a > 65535 {
				l.fail(n, "register@address", i18n.M("sim.scenario.out_of_range", strconv.Itoa(int(r.Address)), "0..65535"))
				break
			}
			o := used[r.Table][a]
			if o != nil {
				if r.Type == modbus.Bit && o.r.Type == modbus.Bit && o.bits&(1<<r.Bit) == 0 {
					o.bits |= 1 << r.Bit
					continue
				}
				l.fail(&node{line: r.Line}, "register@address", i18n.M("sim.scenario.overlap", r.Table.String(), a, o.r.Line))
				break
			}
			o = &owner{r: r}
			if r.Type == modbus.Bit {
				o.bits = 1 << r.Bit
			}
			used[r.Table][a] = o
			highest[r.Table] = max(highest[r.Table], a+1)
		}
	}
	for t := range sizes {
		d.Size[t] = highest[t]
		if sizes[t] >= 0 {
			if sizes[t] < highest[t] {
				l.fail(n, "device@"+Table(t).String()+"s", i18n.M("sim.scenario.size_small", sizes[t], highest[t]))
			}
			d.Size[t] = sizes[t]
		}
	}
	return d
}

var directionNames = []string{string(core.DirectionOut), string(core.DirectionIn), string(core.DirectionBoth)}

func (l *loader) point(sc *Scenario, n *node) *Point {
	p := &Point{Line: n.line}
	p.Number = l.integer(n, "number", 0, 1, 999)
	if _, ok := l.attr(n, "number"); !ok {
		l.fail(n, "point@number", i18n.M("sim.scenario.missing", "number"))
	}
	p.Name = l.required(n, "name")
	ks := make([]string, len(kinds))
	for i, k := range kinds {
		ks[i] = string(k)
	}
	p.Kind = Kind(l.enum(n, "kind", "", ks))
	if p.Kind == "" {
		l.fail(n, "point@kind", i18n.M("sim.scenario.missing", "kind"))
	}
	cs := make([]string, len(core.IntervalClasses))
	for i, c := range core.IntervalClasses {
		cs[i] = string(c)
	}
	p.Class = core.IntervalClass(l.enum(n, "class", "", cs))
	if p.Class == "" {
		l.fail(n, "point@class", i18n.M("sim.scenario.missing", "class"))
	}
	p.Mode = core.Mode(l.enum(n, "mode", string(core.ModeTransaction), []string{string(core.ModeTransaction), string(core.ModeContinuous)}))
	p.Direction = core.Direction(l.enum(n, "direction", string(core.DirectionOut), directionNames))
	p.VolumeUnit = l.enum(n, "volume-unit", "L", []string{"L", "m3"})
	p.Initial = l.number(n, "initial", 0, 0, 1e15)
	if s := l.required(n, "products"); s != "" {
		for _, id := range strings.Fields(s) {
			var found *Product
			for _, q := range sc.Products {
				if q.ID == id {
					found = q
				}
			}
			if found == nil {
				l.fail(n, "point@products", i18n.M("sim.scenario.unknown_product", id))
				continue
			}
			p.Products = append(p.Products, found)
		}
	}
	l.done(n)
	sawRun := false
	for _, c := range n.children {
		switch c.name {
		case "run":
			sawRun = true
			p.Run = l.run(c)
		case "register":
			if r := l.register(c); r != nil {
				p.Registers = append(p.Registers, r)
			}
		case "error":
			e := ErrorBit{Bit: l.integer(c, "bit", 0, 0, 15), Text: strings.TrimSpace(c.text.String())}
			if _, ok := l.attr(c, "bit"); !ok {
				l.fail(c, "error@bit", i18n.M("sim.scenario.missing", "bit"))
			}
			e.Code, _ = l.attr(c, "code")
			l.done(c)
			p.Errors = append(p.Errors, e)
		default:
			l.fail(c, c.name, i18n.M("sim.scenario.unknown_element", c.name, n.name))
		}
	}
	if !sawRun {
		l.fail(n, "point", i18n.M("sim.scenario.missing_element", "run"))
	}
	if l.err != nil {
		return p
	}
	// What the point needs to be simulated and read.
	allowed := p.Kind.roles()
	roles := map[core.Role]int{}
	for _, r := range p.Registers {
		ok := false
		for _, a := range allowed {
			ok = ok || a == r.Role
		}
		if !ok {
			l.fail(&node{line: r.Line}, "register@role", i18n.M("sim.scenario.role_kind", string(r.Role), string(p.Kind)))
		}
		roles[r.Role]++
		if r.Role == core.RoleStartTotal || r.Role == core.RoleTransactionQuantity {
			if r.Of == "" {
				r.Of = p.Kind.Primary()
			}
			ok := false
			for _, t := range p.Kind.totalizers() {
				ok = ok || t == r.Of
			}
			if !ok {
				l.fail(&node{line: r.Line}, "register@of", i18n.M("sim.scenario.role_kind", string(r.Of), string(p.Kind)))
			}
		} else if r.Of != "" {
			l.fail(&node{line: r.Line}, "register@of", i18n.M("sim.scenario.unknown_attr", "of"))
		}
	}
	for r, c := range roles {
		if c > 1 && r != core.RoleStartTotal && r != core.RoleTransactionQuantity {
			l.fail(n, "point", i18n.M("sim.scenario.duplicate", "role", string(r)))
		}
	}
	if roles[p.Kind.Primary()] == 0 {
		l.fail(n, "point", i18n.M("sim.scenario.need_role", string(p.Kind.Primary())))
	}
	if p.Mode == core.ModeTransaction {
		if roles[core.RoleTransactionFlag] == 0 {
			l.fail(n, "point", i18n.M("sim.scenario.need_role", string(core.RoleTransactionFlag)))
		}
		if !p.Run.Duration.Set() || !p.Run.Gap.Set() {
			l.fail(n, "run", i18n.M("sim.scenario.transaction_run"))
		}
	} else if roles[core.RoleTransactionFlag] > 0 || roles[core.RoleStartTotal] > 0 {
		l.fail(n, "point", i18n.M("sim.scenario.continuous_flag"))
	}
	if p.Direction == core.DirectionBoth && roles[core.RoleDirection] == 0 {
		l.fail(n, "point", i18n.M("sim.scenario.need_role", string(core.RoleDirection)))
	}
	if len(p.Products) > 1 && roles[core.RoleProductCode] == 0 {
		l.fail(n, "point", i18n.M("sim.scenario.need_role", string(core.RoleProductCode)))
	}
	if p.Kind == KindMeter {
		for _, q := range p.Products {
			if !q.Density15.Set() {
				l.fail(n, "point@products", i18n.M("sim.scenario.need_density", q.ID))
			}
		}
	}
	return p
}

func (l *loader) run(n *node) Run {
	r := Run{}
	r.Rate = l.rangeOf(n, "rate", 0, 1e9)
	if !r.Rate.Set() {
		l.fail(n, "run@rate", i18n.M("sim.scenario.missing", "rate"))
	}
	switch l.enum(n, "per", "min", []string{"s", "min", "h"}) {
	case "s":
		r.Per = time.Second
	case "h":
		r.Per = time.Hour
	default:
		r.Per = time.Minute
	}
	r.Duration = l.durationRange(n, "duration")
	r.Gap = l.durationRange(n, "gap")
	r.Lead = l.duration(n, "lead", 3*time.Second)
	r.Lag = l.duration(n, "lag", 3*time.Second)
	r.Batch = l.durationRange(n, "batch")
	r.Pressure = l.rangeOf(n, "pressure", 0, 1000)
	if r.Duration.Set() != r.Gap.Set() {
		l.fail(n, "run", i18n.M("sim.scenario.transaction_run"))
	}
	if r.Duration.Set() && r.Duration.Min <= 0 {
		l.fail(n, "run@duration", i18n.M("sim.scenario.bad_duration_range", "0"))
	}
	l.done(n)
	for _, c := range n.children {
		l.fail(c, c.name, i18n.M("sim.scenario.unknown_element", c.name, n.name))
	}
	return r
}

var scalarTypes = []string{"int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "bit"}

func (l *loader) register(n *node) *Register {
	r := &Register{Line: n.line}
	names := make([]string, 0, len(tableNames))
	for _, t := range []Table{Coils, DiscreteInputs, InputRegisters, HoldingRegisters} {
		names = append(names, t.String())
	}
	t := l.enum(n, "table", "", names)
	if t == "" {
		l.fail(n, "register@table", i18n.M("sim.scenario.missing", "table"))
	}
	r.Table = tableNames[t]
	r.Address = uint16(l.integer(n, "address", 0, 0, 65535))
	if _, ok := l.attr(n, "address"); !ok {
		l.fail(n, "register@address", i18n.M("sim.scenario.missing", "address"))
	}
	role := l.required(n, "role")
	r.Role = core.Role(role)
	if role != "" && !r.Role.Valid() {
		rs := make([]string, len(core.Roles))
		for i, x := range core.Roles {
			rs[i] = string(x)
		}
		l.fail(n, "register@role", i18n.M("sim.scenario.bad_enum", role, strings.Join(rs, ", ")))
	}
	if of, ok := l.attr(n, "of"); ok {
		r.Of = core.Role(of)
		if !r.Of.Totalizer() {
			l.fail(n, "register@of", i18n.M("sim.scenario.bad_enum", of, "total-volume, total-std-volume, total-mass, total-count"))
		}
	}
	if r.Table.Bits() {
		r.Type = modbus.Bit
		if s, ok := l.attr(n, "type"); ok && s != "bit" {
			l.fail(n, "register@type", i18n.M("sim.scenario.type_table", s, t))
		}
		switch r.Role {
		case core.RoleDoor, core.RoleUPS, core.RoleTransactionFlag, core.RoleDirection:
		default:
			l.fail(n, "register@role", i18n.M("sim.scenario.type_table", string(r.Role), t))
		}
	} else {
		r.Type = modbus.DataType(l.enum(n, "type", "", scalarTypes))
		if r.Type == "" {
			l.fail(n, "register@type", i18n.M("sim.scenario.missing", "type"))
		}
		o := l.enum(n, "order", "ABCD", []string{"ABCD", "DCBA", "BADC", "CDAB"})
		r.Order = modbus.ByteOrder(o)
		if r.Type == modbus.Bit {
			r.Bit = l.integer(n, "bit", 0, 0, 15)
			if _, ok := l.attr(n, "bit"); !ok {
				l.fail(n, "register@bit", i18n.M("sim.scenario.missing", "bit"))
			}
		}
	}
	r.Scale = l.number(n, "scale", 1, -1e12, 1e12)
	if r.Scale == 0 {
		l.fail(n, "register@scale", i18n.M("sim.scenario.out_of_range", "0", "≠ 0"))
	}
	l.done(n)
	for _, c := range n.children {
		l.fail(c, c.name, i18n.M("sim.scenario.unknown_element", c.name, n.name))
	}
	if l.err != nil {
		return nil
	}
	return r
}
