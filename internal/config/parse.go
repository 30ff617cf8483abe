package config

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/modbus"
)

const xsiNamespace = "http://www.w3.org/2001/XMLSchema-instance"

// Parse parses and validates the content of an automation_config.xml; name is the file's name used in the
// findings. It returns every finding in the order of the file; the configuration is nil whenever they
// include an error, so that nothing acts on a half-read file.
func Parse(name string, data []byte) (*Config, Diagnostics) {
	p := &parser{file: name}
	root, e := buildTree(data)
	if e != nil {
		return nil, Diagnostics{{File: name, Pos: e.pos, Severity: SeverityError, Rule: e.rule, Msg: e.msg}}
	}
	c := p.config(root)
	if c != nil {
		p.ds = append(p.ds, validate(name, c)...)
	}
	p.ds.sort()
	if p.ds.HasErrors() {
		return nil, p.ds
	}
	return c, p.ds
}

// parser reads the model out of the node tree, collecting every schema error instead of stopping at the
// first.
type parser struct {
	file string
	ds   Diagnostics
}

func (p *parser) errorf(pos Pos, rule string, m i18n.Message) {
	p.ds = append(p.ds, Diagnostic{File: p.file, Pos: pos, Severity: SeverityError, Rule: rule, Msg: m})
}

// elem reads the attributes of one element, reporting unknown, missing and malformed ones.
type elem struct {
	p *parser
	n *node
}

// el starts reading n, whose allowed attributes are attrs; any other attribute without a namespace, or in
// a namespace other than xmlns and xsi, is an error.
func (p *parser) el(n *node, attrs ...string) *elem {
	for _, a := range n.attrs {
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns", a.Name.Space == "xmlns", a.Name.Space == xsiNamespace:
			continue
		case a.Name.Space == "":
			known := false
			for _, k := range attrs {
				if k == a.Name.Local {
					known = true
					break
				}
			}
			if known {
				continue
			}
		}
		p.errorf(n.pos, "schema-unknown-attribute", i18n.M("config.schema.unknown_attribute", qname(a.Name.Space, a.Name.Local), n.name.Local))
	}
	return &elem{p: p, n: n}
}

func qname(space, local string) string {
	if space == "" || space == Namespace {
		return local
	}
	return space + ":" + local
}

// raw returns the trimmed value of attribute name; a required one that is missing or blank is reported.
func (e *elem) raw(name string, required bool) (string, bool) {
	v, ok := e.n.attr(name)
	v = strings.TrimSpace(v)
	if !ok {
		if required {
			e.p.errorf(e.n.pos, "schema-missing-attribute", i18n.M("config.schema.missing_attribute", name, e.n.name.Local))
		}
		return "", false
	}
	if v == "" {
		e.bad(name, v)
		return "", false
	}
	return v, true
}

func (e *elem) bad(name, v string) {
	e.p.errorf(e.n.pos, "schema-value", i18n.M("config.schema.bad_value", v, name, e.n.name.Local))
}

func (e *elem) str(name string, required bool) string {
	v, _ := e.raw(name, required)
	return v
}

// match reads a string that must match re.
func (e *elem) match(name string, required bool, re *regexp.Regexp) string {
	v, ok := e.raw(name, required)
	if ok && !re.MatchString(v) {
		e.bad(name, v)
		return ""
	}
	return v
}

var intRE = regexp.MustCompile(`^[-+]?[0-9]{1,18}$`)

func (e *elem) int(name string, required bool, lo, hi int64) (int, bool) {
	v, ok := e.raw(name, required)
	if !ok {
		return 0, false
	}
	if !intRE.MatchString(v) {
		e.bad(name, v)
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		e.bad(name, v)
		return 0, false
	}
	return int(n), true
}

// numRE is the syntax of decimal numbers in the file: no hexadecimal, infinities or NaN, which Go's
// ParseFloat would take and the XSD does not.
var numRE = regexp.MustCompile(`^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]{1,3})?$`)

func (e *elem) num(name string) *float64 {
	v, ok := e.raw(name, false)
	if !ok {
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if !numRE.MatchString(v) || err != nil || math.IsInf(f, 0) {
		e.bad(name, v)
		return nil
	}
	return &f
}

// durRE is the syntax of durations: Go's, restricted to non-negative ms, s, m and h, e.g. "500ms",
// "1m30s".
var durRE = regexp.MustCompile(`^([0-9]{1,9}(\.[0-9]{1,9})?(ms|s|m|h))+$`)

// badDuration stands for a duration that could not be read, so that the validator does not report it
// a second time as zero.
const badDuration = time.Duration(-1)

func (e *elem) dur(name string, required bool) time.Duration {
	v, ok := e.raw(name, required)
	if !ok {
		if _, present := e.n.attr(name); present || required {
			return badDuration
		}
		return 0
	}
	d, err := time.ParseDuration(v)
	if !durRE.MatchString(v) || err != nil {
		e.bad(name, v)
		return badDuration
	}
	return d
}

func (e *elem) bool(name string) bool {
	v, ok := e.raw(name, false)
	if !ok {
		return false
	}
	switch v {
	case "true", "1":
		return true
	case "false", "0":
		return false
	}
	e.bad(name, v)
	return false
}

// enum reads a value from a closed list; rule names the finding when the value is not in it.
func (e *elem) enum(name string, required bool, rule string, values []string) string {
	v, ok := e.raw(name, required)
	if !ok {
		return ""
	}
	for _, k := range values {
		if v == k {
			return v
		}
	}
	e.p.errorf(e.n.pos, rule, i18n.M("config.schema.bad_enum", v, name, e.n.name.Local, strings.Join(values, ", ")))
	return ""
}

// child is one expected child element of a sequence.
type child struct {
	name     string
	min, max int // max 0 is unbounded
}

// seq reads the children of n as an xs:sequence of want and returns them by name. Unknown elements,
// elements out of order, too many or too few are reported; text other than whitespace is too.
func (p *parser) seq(n *node, want ...child) map[string][]*node {
	if s := strings.TrimSpace(n.text.String()); s != "" {
		p.errorf(n.pos, "schema-text", i18n.M("config.schema.text", n.name.Local))
	}
	out := make(map[string][]*node)
	at := 0
	for _, c := range n.children {
		i := -1
		if c.name.Space == Namespace {
			for j, w := range want {
				if w.name == c.name.Local {
					i = j
					break
				}
			}
		}
		switch {
		case i < 0:
			p.errorf(c.pos, "schema-unknown-element", i18n.M("config.schema.unknown_element", qname(c.name.Space, c.name.Local), n.name.Local))
			continue
		case i < at:
			// Reported, and still read, so that one misplaced element does not hide the rest.
			p.errorf(c.pos, "schema-element-order", i18n.M("config.schema.order", c.name.Local, want[at].name))
		default:
			at = i
		}
		if w := want[i]; w.max > 0 && len(out[w.name]) >= w.max {
			p.errorf(c.pos, "schema-too-many", i18n.M("config.schema.too_many", c.name.Local, n.name.Local, w.max))
			continue
		}
		out[c.name.Local] = append(out[c.name.Local], c)
	}
	for _, w := range want {
		if len(out[w.name]) < w.min {
			p.errorf(n.pos, "schema-missing-element", i18n.M("config.schema.missing_element", w.name, n.name.Local))
		}
	}
	return out
}

// text reads a leaf element's text, which must have no children.
func (p *parser) text(n *node) string {
	for _, c := range n.children {
		p.errorf(c.pos, "schema-unknown-element", i18n.M("config.schema.unknown_element", qname(c.name.Space, c.name.Local), n.name.Local))
	}
	return strings.TrimSpace(n.text.String())
}

func one(m map[string][]*node, name string) *node {
	if len(m[name]) == 0 {
		return nil
	}
	return m[name][0]
}

var (
	eikRE       = regexp.MustCompile(`^[0-9]{9}([0-9]{4})?$`)
	siteIDRE    = regexp.MustCompile(`^[A-Z]{2}[A-Z0-9]{11}$`)
	officeRE    = regexp.MustCompile(`^[A-Z]{2}[0-9]{6}$`)
	boxRE       = regexp.MustCompile(`^[0-9]{3}$`)
	pointIDRE   = regexp.MustCompile(`^[A-Z]{2}[A-Z0-9]{11}[0-9]{6}$`)
	idRE        = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,63}$`)
	logicalRE   = regexp.MustCompile(`^[0134][0-9]{4,5}$`)
	physicalRE  = regexp.MustCompile(`^(0[xX][0-9A-Fa-f]{1,8}|[0-9]{1,9})$`)
	cnRE        = regexp.MustCompile(`^[0-9 ]{1,16}$`)
	codeRE      = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)
	exciseCodeR = regexp.MustCompile(`^[A-Z][0-9]{3}$`)
)

func names[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

var (
	transports  = []string{string(TCP), string(RTU), string(RTUOverTCP)}
	modes       = []string{string(core.ModeTransaction), string(core.ModeContinuous)}
	directions  = []string{string(core.DirectionOut), string(core.DirectionIn), string(core.DirectionBoth)}
	dataTypes   = []string{"int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "string", "bit"}
	byteOrders  = []string{"ABCD", "DCBA", "BADC", "CDAB"}
	placements  = []string{string(modbus.HighFirst), string(modbus.LowFirst)}
	parities    = []string{"N", "E", "O"}
	severities  = []string{string(SeverityInfo), string(SeverityWarning), string(SeverityAlarm)}
	productDirs = []string{string(core.DirectionOut), string(core.DirectionIn)}
)

func (p *parser) config(n *node) *Config {
	if n.name.Space != Namespace || n.name.Local != "automationConfig" {
		p.errorf(n.pos, "schema-root", i18n.M("config.schema.root", qname(n.name.Space, n.name.Local), Namespace))
		return nil
	}
	e := p.el(n, "version")
	c := &Config{Pos: n.pos}
	if v, ok := e.raw("version", true); ok {
		if v != Version {
			p.errorf(n.pos, "schema-version", i18n.M("config.schema.version", v, Version))
		}
		c.Version = v
	}
	ch := p.seq(n,
		child{"person", 1, 1}, child{"site", 1, 1}, child{"controller", 1, 0},
		child{"box", 1, 1}, child{"point", 1, 0})
	if x := one(ch, "person"); x != nil {
		e := p.el(x, "name", "eik", "exciseNumber")
		p.seq(x)
		c.Person = Person{Pos: x.pos, Name: e.str("name", true), EIK: e.match("eik", true, eikRE),
			ExciseNumber: e.match("exciseNumber", false, siteIDRE)}
	}
	if x := one(ch, "site"); x != nil {
		e := p.el(x, "warehouse", "registeredPerson", "name", "address", "customsOffice")
		p.seq(x)
		c.Site = Site{Pos: x.pos, Warehouse: e.match("warehouse", false, siteIDRE),
			RegisteredPerson: e.match("registeredPerson", false, siteIDRE),
			Name:             e.str("name", true), Address: e.str("address", true),
			CustomsOffice: e.match("customsOffice", true, officeRE)}
	}
	for _, x := range ch["controller"] {
		c.Controllers = append(c.Controllers, p.controller(x))
	}
	if x := one(ch, "box"); x != nil {
		e := p.el(x, "number", "computerSerial", "controllerSerial", "upsSerial")
		c.Box = Box{Pos: x.pos, ComputerSerial: e.str("computerSerial", false),
			ControllerSerial: e.str("controllerSerial", false), UPSSerial: e.str("upsSerial", false)}
		if v := e.match("number", true, boxRE); v != "" {
			c.Box.Number, _ = strconv.Atoi(v)
		}
		for _, t := range p.seq(x, child{"tag", 0, 0})["tag"] {
			c.Box.Tags = append(c.Box.Tags, p.tag(t))
		}
	}
	for _, x := range ch["point"] {
		c.Points = append(c.Points, p.point(x))
	}
	return c
}

func (p *parser) controller(n *node) *Controller {
	e := p.el(n, "id", "transport", "address", "unitId", "timeout", "connectTimeout")
	c := &Controller{Pos: n.pos, ID: e.match("id", true, idRE),
		Transport: Transport(e.enum("transport", true, "schema-value", transports)),
		Address:   e.str("address", false),
		Timeout:   e.dur("timeout", false), ConnectTimeout: e.dur("connectTimeout", false)}
	c.Unit, _ = e.int("unitId", true, 0, 255)
	ch := p.seq(n, child{"serial", 0, 1}, child{"quirks", 0, 1})
	if x := one(ch, "serial"); x != nil {
		e := p.el(x, "device", "baud", "dataBits", "parity", "stopBits")
		p.seq(x)
		s := &Serial{Device: e.str("device", true), Parity: e.enum("parity", false, "schema-value", parities)}
		s.Baud, _ = e.int("baud", true, 50, 4_000_000)
		if v, ok := e.int("dataBits", false, 5, 8); ok {
			s.DataBits = v
		} else {
			s.DataBits = 8
		}
		if v, ok := e.int("stopBits", false, 1, 2); ok {
			s.StopBits = v
		} else {
			s.StopBits = 1
		}
		if s.Parity == "" {
			s.Parity = "N"
		}
		c.Serial = s
	}
	if x := one(ch, "quirks"); x != nil {
		e := p.el(x, "oneRequestPerTag", "maxRegisters", "maxCoils", "maxGap", "requestPause", "connectPause",
			"coilsFromZero", "stringPlacement")
		p.seq(x)
		q := Quirks{Pos: x.pos, OneRequestPerTag: e.bool("oneRequestPerTag"),
			RequestPause: e.dur("requestPause", false), ConnectPause: e.dur("connectPause", false),
			CoilsFromZero:   e.bool("coilsFromZero"),
			StringPlacement: modbus.StringPlacement(e.enum("stringPlacement", false, "schema-value", placements))}
		q.MaxRegisters, _ = e.int("maxRegisters", false, 1, ProtocolMaxRegisters)
		q.MaxCoils, _ = e.int("maxCoils", false, 1, ProtocolMaxCoils)
		q.MaxGap, _ = e.int("maxGap", false, 0, ProtocolMaxCoils)
		c.Quirks = q
	}
	return c
}

func (p *parser) point(n *node) *Point {
	e := p.el(n, "id", "name", "zone", "class", "mode", "direction", "interval")
	pt := &Point{Pos: n.pos, ID: e.match("id", true, pointIDRE), Name: e.str("name", true), Zone: e.str("zone", false),
		Class:     core.IntervalClass(e.enum("class", true, "schema-value", names(core.IntervalClasses))),
		Mode:      core.Mode(e.enum("mode", true, "schema-value", modes)),
		Direction: core.Direction(e.enum("direction", true, "schema-value", directions)),
		Interval:  e.dur("interval", true)}
	ch := p.seq(n, child{"products", 0, 1}, child{"tag", 1, 0})
	if x := one(ch, "products"); x != nil {
		p.el(x)
		pc := p.seq(x, child{"product", 1, 0}, child{"map", 0, 0})
		for _, y := range pc["product"] {
			e := p.el(y, "code", "tradeName", "cn", "exciseCode", "brand", "direction")
			p.seq(y)
			pt.Products = append(pt.Products, &Product{Pos: y.pos, Code: e.match("code", true, codeRE),
				TradeName: e.str("tradeName", true), CN: strings.ReplaceAll(e.match("cn", true, cnRE), " ", ""),
				ExciseCode: e.match("exciseCode", true, exciseCodeR), Brand: e.str("brand", false),
				Direction: core.Direction(e.enum("direction", false, "schema-value", productDirs))})
		}
		for _, y := range pc["map"] {
			e := p.el(y, "raw", "product")
			p.seq(y)
			m := &ProductMapping{Pos: y.pos, Product: e.match("product", true, codeRE)}
			if v, ok := e.raw("raw", true); ok {
				r, err := strconv.ParseInt(v, 10, 64)
				if err != nil || !intRE.MatchString(v) {
					e.bad("raw", v)
				}
				m.Raw = r
			}
			pt.ProductMap = append(pt.ProductMap, m)
		}
	}
	for _, t := range ch["tag"] {
		pt.Tags = append(pt.Tags, p.tag(t))
	}
	return pt
}

func (p *parser) tag(n *node) *Tag {
	e := p.el(n, "name", "controller", "unitId", "logical", "physical", "size", "type", "order", "bit",
		"unit", "resolution", "low", "high", "accumulation", "readInterval", "role", "of", "outValue", "inValue")
	t := &Tag{Pos: n.pos, Name: e.match("name", true, idRE), Controller: e.match("controller", true, idRE),
		Type:  modbus.DataType(e.enum("type", true, "schema-value", dataTypes)),
		Order: modbus.ByteOrder(e.enum("order", false, "schema-value", byteOrders)),
		Unit:  e.str("unit", false), Accumulation: e.dur("accumulation", false),
		ReadInterval: e.dur("readInterval", false), Low: e.num("low"), High: e.num("high")}
	if v, ok := e.int("unitId", false, 0, 255); ok {
		t.UnitID = &v
	}
	if r := e.num("resolution"); r != nil {
		if *r <= 0 {
			e.bad("resolution", strconv.FormatFloat(*r, 'g', -1, 64))
		} else {
			t.Resolution = *r
		}
	}
	t.Size, _ = e.int("size", true, 1, 65536)
	if v, ok := e.int("bit", false, 0, 1<<20); ok {
		t.Bit, t.BitSet = v, true
	}
	if v := e.match("logical", true, logicalRE); v != "" {
		t.Logical = v
		t.Table = Table(v[0] - '0')
	}
	t.Physical = -1
	if v := e.match("physical", true, physicalRE); v != "" {
		base := 10
		if strings.HasPrefix(v, "0x") || strings.HasPrefix(v, "0X") {
			v, base = v[2:], 16
		}
		x, _ := strconv.ParseInt(v, base, 64)
		t.Physical = int(x)
	}
	if r, ok := e.raw("role", false); ok {
		t.Role = core.Role(r)
		if !t.Role.Valid() {
			p.errorf(n.pos, "schema-unknown-role", i18n.M("config.schema.unknown_role", r, t.Name, strings.Join(names(core.Roles), ", ")))
		}
	} else {
		t.Role = core.RoleValue
	}
	if r, ok := e.raw("of", false); ok {
		t.Of = core.Role(r)
		if !t.Of.Totalizer() {
			p.errorf(n.pos, "schema-value", i18n.M("config.schema.bad_enum", r, "of", "tag", strings.Join(names(primaryOrder), ", ")))
		}
	}
	for _, a := range []struct {
		name string
		v    **int64
	}{{"outValue", &t.OutValue}, {"inValue", &t.InValue}} {
		if v, ok := e.raw(a.name, false); ok {
			r, err := strconv.ParseInt(v, 10, 64)
			if err != nil || !intRE.MatchString(v) {
				e.bad(a.name, v)
				continue
			}
			*a.v = &r
		}
	}
	ch := p.seq(n, child{"parameter", 1, 1}, child{"description", 0, 1}, child{"formula", 0, 1}, child{"errorBits", 0, 1})
	if x := one(ch, "parameter"); x != nil {
		p.el(x)
		if t.Parameter = p.text(x); t.Parameter == "" {
			p.errorf(x.pos, "schema-value", i18n.M("config.schema.empty", "parameter"))
		}
	}
	if x := one(ch, "description"); x != nil {
		p.el(x)
		t.Description = p.text(x)
	}
	if x := one(ch, "formula"); x != nil {
		p.el(x)
		if t.Formula = p.text(x); t.Formula == "" {
			p.errorf(x.pos, "schema-value", i18n.M("config.schema.empty", "formula"))
		}
	}
	if x := one(ch, "errorBits"); x != nil {
		p.el(x)
		for _, y := range p.seq(x, child{"errorBit", 1, 0})["errorBit"] {
			e := p.el(y, "bit", "code", "severity")
			b := &ErrorBit{Pos: y.pos, Code: e.str("code", true),
				Severity: Severity(e.enum("severity", false, "schema-value", severities))}
			if b.Severity == "" {
				b.Severity = SeverityAlarm
			}
			b.Bit, _ = e.int("bit", true, 0, 1<<20)
			b.Description = p.text(y)
			if b.Description == "" {
				p.errorf(y.pos, "schema-value", i18n.M("config.schema.empty", "errorBit"))
			}
			t.ErrorBits = append(t.ErrorBits, b)
		}
	}
	return t
}
