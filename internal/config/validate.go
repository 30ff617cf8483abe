package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/formula"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/modbus"
)

// Validate checks the meaning of a configuration built in code or read from a file: every rule of
// docs/automation-config.md that the syntax cannot express. It compiles the normalisation formulas and
// stores them on their tags. file names the findings.
func Validate(file string, c *Config) Diagnostics {
	ds := validate(file, c)
	ds.sort()
	return ds
}

type checker struct {
	file    string
	c       *Config
	ds      Diagnostics
	badAddr map[*Tag]bool // tags whose address is wrong in itself, left out of the overlap check
}

func (k *checker) errorf(pos Pos, rule string, m i18n.Message) {
	k.ds = append(k.ds, Diagnostic{File: k.file, Pos: pos, Severity: SeverityError, Rule: rule, Msg: m})
}

func (k *checker) warnf(pos Pos, rule string, m i18n.Message) {
	k.ds = append(k.ds, Diagnostic{File: k.file, Pos: pos, Severity: SeverityWarning, Rule: rule, Msg: m})
}

func validate(file string, c *Config) Diagnostics {
	k := &checker{file: file, c: c, badAddr: map[*Tag]bool{}}
	k.person()
	k.site()
	k.controllers()
	k.uniqueness()
	for _, r := range c.Tags() {
		k.tag(r.Tag, r.Point)
	}
	k.addresses()
	for _, t := range c.Box.Tags {
		k.boxTag(t)
	}
	for _, p := range c.Points {
		k.point(p)
	}
	return k.ds
}

func (k *checker) person() {
	if e := k.c.Person.EIK; e != "" && !core.ValidEIK(e) {
		k.errorf(k.c.Person.Pos, "invalid-eik", i18n.M("config.rule.invalid_eik", e))
	}
}

func (k *checker) site() {
	s := &k.c.Site
	switch {
	case s.Warehouse == "" && s.RegisteredPerson == "":
		k.errorf(s.Pos, "site-id", i18n.M("config.rule.site_id_missing"))
	case s.Warehouse != "" && s.RegisteredPerson != "":
		k.errorf(s.Pos, "site-id", i18n.M("config.rule.site_id_both"))
	case !core.ValidWarehouseID(s.ID()):
		k.errorf(s.Pos, "site-id", i18n.M("config.rule.site_id_shape", s.ID()))
	}
}

func (k *checker) controllers() {
	for _, c := range k.c.Controllers {
		switch c.Transport {
		case TCP, RTUOverTCP:
			if c.Serial != nil {
				k.errorf(c.Pos, "controller-connection", i18n.M("config.rule.connection_serial_on_tcp", c.ID, string(c.Transport)))
			}
			host, port, err := net.SplitHostPort(c.Address)
			n, perr := strconv.Atoi(port)
			if c.Address == "" {
				k.errorf(c.Pos, "controller-connection", i18n.M("config.rule.connection_no_address", c.ID, string(c.Transport)))
			} else if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
				k.errorf(c.Pos, "controller-connection", i18n.M("config.rule.connection_bad_address", c.ID, c.Address))
			}
		case RTU:
			if c.Serial == nil {
				k.errorf(c.Pos, "controller-connection", i18n.M("config.rule.connection_no_serial", c.ID))
			}
			if c.Address != "" {
				k.errorf(c.Pos, "controller-connection", i18n.M("config.rule.connection_address_on_rtu", c.ID))
			}
		}
		if c.Unit > 247 {
			k.errorf(c.Pos, "unit-id", i18n.M("config.rule.unit_id", c.Unit, c.ID))
		}
	}
}

// uniqueness checks the identity constraints that the XSD states with xs:key, xs:keyref and xs:unique.
func (k *checker) uniqueness() {
	ctl := map[string]bool{}
	for _, c := range k.c.Controllers {
		if c.ID == "" {
			continue
		}
		if ctl[c.ID] {
			k.errorf(c.Pos, "schema-duplicate-controller", i18n.M("config.rule.duplicate_controller", c.ID))
		}
		ctl[c.ID] = true
	}
	tags := map[string]*Tag{}
	for _, r := range k.c.Tags() {
		t := r.Tag
		if t.Name != "" {
			if first, dup := tags[t.Name]; dup {
				k.errorf(t.Pos, "schema-duplicate-tag-name", i18n.M("config.rule.duplicate_tag", t.Name, first.Pos.Line))
			} else {
				tags[t.Name] = t
			}
		}
		if t.Controller != "" && !ctl[t.Controller] {
			k.errorf(t.Pos, "schema-unknown-controller", i18n.M("config.rule.unknown_controller", t.Name, t.Controller))
		}
		bits := map[int]bool{}
		for _, b := range t.ErrorBits {
			if bits[b.Bit] {
				k.errorf(b.Pos, "schema-duplicate-error-bit", i18n.M("config.rule.duplicate_error_bit", b.Bit, t.Name))
			}
			bits[b.Bit] = true
		}
	}
	points := map[string]bool{}
	for _, p := range k.c.Points {
		if p.ID != "" {
			if points[p.ID] {
				k.errorf(p.Pos, "schema-duplicate-point", i18n.M("config.rule.duplicate_point", p.ID))
			}
			points[p.ID] = true
		}
		codes := map[string]bool{}
		for _, x := range p.Products {
			if x.Code == "" {
				continue
			}
			if codes[x.Code] {
				k.errorf(x.Pos, "schema-duplicate-product", i18n.M("config.rule.duplicate_product", x.Code, p.ID))
			}
			codes[x.Code] = true
		}
		raws := map[int64]bool{}
		for _, m := range p.ProductMap {
			if raws[m.Raw] {
				k.errorf(m.Pos, "schema-duplicate-mapping", i18n.M("config.rule.duplicate_mapping", m.Raw, p.ID))
			}
			raws[m.Raw] = true
			if m.Product != "" && !codes[m.Product] {
				k.errorf(m.Pos, "schema-unknown-product", i18n.M("config.rule.unknown_product", m.Product, p.ID))
			}
		}
	}
}

// knownUnits are the units of measure the agency's reports know; another unit is allowed with a
// warning, as the ordinance lists none.
var knownUnits = map[string]bool{
	"L": true, "m3": true, "kg": true, "t": true, "°C": true, "kg/m3": true, "%vol": true, "pcs": true,
	"L/h": true, "L/min": true, "m3/h": true, "kg/h": true, "t/h": true, "bar": true, "kPa": true, "MPa": true,
	"pcs/min": true, "pcs/h": true, "kg/min": true, "%": true, "s": true, "g": true, "Nm3": true, "A": true, "V": true,
}

func (k *checker) tag(t *Tag, p *Point) {
	ctl := k.c.Controller(t.Controller)
	// Register size against data type.
	if t.Type != "" && t.Logical != "" && t.Size > 0 {
		switch {
		case t.Table.Bits():
			if t.Type != modbus.Bit || t.Size != 1 {
				k.errorf(t.Pos, "type-size", i18n.M("config.rule.type_size_bits", t.Name, string(t.Type), t.Size, t.Table.String()))
			}
		case t.Type == modbus.String:
		case t.Type.Registers() != t.Size:
			k.errorf(t.Pos, "type-size", i18n.M("config.rule.type_size", t.Name, string(t.Type), t.Type.Registers(), t.Size))
		}
	}
	// Bit numbers.
	switch {
	case t.Type == modbus.Bit && t.Logical != "" && !t.Table.Bits():
		if !t.BitSet {
			k.errorf(t.Pos, "bit-range", i18n.M("config.rule.bit_missing", t.Name))
		} else if t.Bit > 15 {
			k.errorf(t.Pos, "bit-range", i18n.M("config.rule.bit_range", t.Name, t.Bit))
		}
	case t.BitSet && t.Type != "":
		k.errorf(t.Pos, "bit-range", i18n.M("config.rule.bit_not_allowed", t.Name, string(t.Type), t.Table.String()))
	}
	width := 16 * t.Size
	if t.Type == modbus.Bit {
		width = 1
	}
	for _, b := range t.ErrorBits {
		if b.Bit >= width {
			k.errorf(b.Pos, "bit-range", i18n.M("config.rule.error_bit_range", b.Bit, t.Name, width-1))
		}
	}
	// Addresses.
	if t.Physical >= 0 && t.Logical != "" {
		k.address(t, ctl)
	}
	if ctl != nil && t.Size > 0 && t.Logical != "" {
		if t.Table.Bits() {
			if lim := ctl.Quirks.CoilLimit(); t.Size > lim {
				k.errorf(t.Pos, "request-limit", i18n.M("config.rule.request_limit", t.Name, t.Size, lim, ctl.ID))
			}
		} else if lim := ctl.Quirks.RegisterLimit(); t.Size > lim {
			k.errorf(t.Pos, "request-limit", i18n.M("config.rule.request_limit", t.Name, t.Size, lim, ctl.ID))
		}
	}
	if t.UnitID != nil && *t.UnitID > 247 {
		k.errorf(t.Pos, "unit-id", i18n.M("config.rule.unit_id_tag", *t.UnitID, t.Name))
	}
	// Limits and units.
	if t.Low != nil && t.High != nil && *t.Low > *t.High {
		k.errorf(t.Pos, "limits-order", i18n.M("config.rule.limits_order", t.Name, fnum(*t.Low), fnum(*t.High)))
	}
	if t.Unit != "" && !knownUnits[t.Unit] {
		k.warnf(t.Pos, "unknown-unit", i18n.M("config.rule.unknown_unit", t.Unit, t.Name))
	}
	// Role against type and table.
	if t.Role != "" && t.Type != "" {
		switch {
		case t.Type == modbus.String && t.Role != core.RoleProductCode && t.Role != core.RoleValue:
			k.errorf(t.Pos, "role-type", i18n.M("config.rule.role_type", t.Name, string(t.Role), string(t.Type)))
		case t.Type == modbus.Bit && (t.Role.Totalizer() || t.Role == core.RoleErrorBits):
			k.errorf(t.Pos, "role-type", i18n.M("config.rule.role_type", t.Name, string(t.Role), string(t.Type)))
		}
	}
	if (t.OutValue != nil || t.InValue != nil) && t.Role != core.RoleDirection && t.Role.Valid() {
		k.errorf(t.Pos, "direction-values", i18n.M("config.rule.direction_values_role", t.Name, string(t.Role)))
	} else if out, in := t.directionValues(); t.Role == core.RoleDirection && out == in {
		k.errorf(t.Pos, "direction-values", i18n.M("config.rule.direction_values_same", t.Name, out))
	}
	if t.Role == core.RoleErrorBits && len(t.ErrorBits) == 0 {
		k.errorf(t.Pos, "error-bit-table", i18n.M("config.rule.error_bits_missing", t.Name))
	}
	if t.Role != core.RoleErrorBits && len(t.ErrorBits) > 0 && t.Role != "" {
		k.errorf(t.Pos, "error-bit-table", i18n.M("config.rule.error_bits_role", t.Name, string(t.Role)))
	}
	// Intervals.
	if p != nil && p.Class.Valid() && t.ReadInterval > p.Class.MaxInterval() {
		k.errorf(t.Pos, "interval-class", i18n.M("config.rule.read_interval_class", t.Name, i18n.Duration(t.ReadInterval),
			i18n.Duration(p.Class.MaxInterval()), p.Class.Point(), string(p.Class)))
	} else if p != nil && p.Interval > 0 && t.ReadInterval > p.Interval {
		k.warnf(t.Pos, "read-interval", i18n.M("config.rule.read_interval_point", t.Name, i18n.Duration(t.ReadInterval), i18n.Duration(p.Interval)))
	}
	// The normalisation formula, compiled once here for the agent.
	t.Compiled = nil
	if t.Formula != "" {
		f, err := formula.Compile(t.Formula)
		var fe *formula.Error
		switch {
		case errors.As(err, &fe):
			k.errorf(t.Pos, "formula", i18n.M("config.rule.formula", t.Name, t.Formula, fe.Offset+1, fe.Msg))
		case err != nil:
			k.errorf(t.Pos, "formula", i18n.M("config.rule.formula", t.Name, t.Formula, 1, err.Error()))
		default:
			t.Compiled = f
			switch probe(f) {
			case probeIdentity:
				k.warnf(t.Pos, "formula-no-effect", i18n.M("config.rule.formula_identity", t.Name, t.Formula))
			case probeConstant:
				k.warnf(t.Pos, "formula-constant", i18n.M("config.rule.formula_constant", t.Name, t.Formula))
			}
		}
	}
}

// fnum writes a number in plain decimals where that stays short, as people write limits.
func fnum(f float64) string {
	if a := math.Abs(f); a == 0 || (a >= 1e-6 && a < 1e15) {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// address checks the logical address against the physical one and both against the 16-bit space.
func (k *checker) address(t *Tag, ctl *Controller) {
	off, _ := strconv.Atoi(t.Logical[1:])
	first := 1
	if t.Table.Bits() && ctl != nil && ctl.Quirks.CoilsFromZero {
		first = 0
	}
	want := off - first
	switch {
	case t.Physical > 65535:
		k.errorf(t.Pos, "address-range", i18n.M("config.rule.physical_range", t.Name, t.Physical))
	case want < 0:
		k.errorf(t.Pos, "address-range", i18n.M("config.rule.logical_zero", t.Name, t.Logical, first))
	case want > 65535:
		k.errorf(t.Pos, "address-range", i18n.M("config.rule.logical_range", t.Name, t.Logical))
	case want != t.Physical:
		k.errorf(t.Pos, "address-mismatch", i18n.M("config.rule.address_mismatch", t.Name, t.Logical,
			fmt.Sprintf("0x%04X", t.Physical), fmt.Sprintf("0x%04X", want)))
	default:
		if t.Size > 0 && t.Physical+t.Size-1 > 65535 {
			k.errorf(t.Pos, "address-range", i18n.M("config.rule.end_range", t.Name, t.Size, fmt.Sprintf("0x%04X", t.Physical)))
		}
		return
	}
	k.badAddr[t] = true
}

// span is the place a tag takes in one data table of one device.
type span struct {
	t          *Tag
	start, end int // registers [start, end)
}

type spaceKey struct {
	controller string
	unit       int
	table      Table
}

// addresses finds tags that take the same or overlapping places. Bit tags of a register table may share
// a register with each other (different bit numbers) and with a tag that reads the whole register, such
// as a status word whose bits are also named one by one.
func (k *checker) addresses() {
	spaces := map[spaceKey][]span{}
	bitsAt := map[spaceKey]map[[2]int]*Tag{}
	for _, r := range k.c.Tags() {
		t := r.Tag
		ctl := k.c.Controller(t.Controller)
		if ctl == nil || t.Logical == "" || t.Physical < 0 || t.Physical > 65535 || t.Size < 1 || k.badAddr[t] {
			continue
		}
		key := spaceKey{ctl.ID, t.EffectiveUnitID(ctl), t.Table}
		if t.Type == modbus.Bit && !t.Table.Bits() {
			m := bitsAt[key]
			if m == nil {
				m = map[[2]int]*Tag{}
				bitsAt[key] = m
			}
			at := [2]int{t.Physical, t.Bit}
			if o := m[at]; o != nil {
				k.errorf(t.Pos, "duplicate-address", i18n.M("config.rule.duplicate_bit", t.Name, o.Name, t.Logical, t.Bit))
			} else {
				m[at] = t
			}
			continue
		}
		spaces[key] = append(spaces[key], span{t, t.Physical, t.Physical + t.Size})
	}
	keys := make([]spaceKey, 0, len(spaces))
	for key := range spaces {
		keys = append(keys, key)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.controller != b.controller {
			return a.controller < b.controller
		}
		if a.unit != b.unit {
			return a.unit < b.unit
		}
		return a.table < b.table
	})
	for _, key := range keys {
		ss := spaces[key]
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].start < ss[j].start })
		var reach *span // the span reaching furthest so far
		for i := range ss {
			s := &ss[i]
			if reach != nil && s.start < reach.end {
				// Report at the tag that comes later in the file.
				a, b := reach.t, s.t
				if a.Pos.Line > b.Pos.Line || (a.Pos.Line == b.Pos.Line && a.Pos.Col > b.Pos.Col) {
					a, b = b, a
				}
				if reach.start == s.start && reach.end == s.end {
					k.errorf(b.Pos, "duplicate-address", i18n.M("config.rule.duplicate_address", b.Name, a.Name, b.Logical, key.controller, key.unit))
				} else {
					k.errorf(b.Pos, "address-overlap", i18n.M("config.rule.address_overlap", b.Name, b.Logical, b.Size, a.Name, a.Logical, a.Size, key.controller, key.unit))
				}
			}
			if reach == nil || s.end > reach.end {
				reach = s
			}
		}
	}
}

// boxRoles are the roles a tag of the box itself may have.
var boxRoles = map[core.Role]bool{core.RoleDoor: true, core.RoleUPS: true, core.RoleErrorBits: true, core.RoleValue: true, core.RoleTemperature: true}

func (k *checker) boxTag(t *Tag) {
	if t.Role != "" && t.Role.Valid() && !boxRoles[t.Role] {
		k.errorf(t.Pos, "role-placement", i18n.M("config.rule.role_in_box", t.Name, string(t.Role)))
	}
}

// singleRoles may be held by one tag of a point only: the agent could not tell which to believe.
var singleRoles = []core.Role{core.RoleProductCode, core.RoleDirection, core.RoleTransactionFlag, core.RoleStartTotal, core.RoleTransactionQuantity}

func (k *checker) point(p *Point) {
	// The id: site, box, point.
	if p.ID != "" {
		id, err := core.ParsePointID(p.ID)
		switch {
		case err != nil:
			k.errorf(p.Pos, "point-id", i18n.M("config.rule.point_id_shape", p.ID))
		case id.Warehouse != k.c.Site.ID() && k.c.Site.ID() != "":
			k.errorf(p.Pos, "point-id", i18n.M("config.rule.point_id_site", p.ID, id.Warehouse, k.c.Site.ID()))
		case k.c.Box.Number != 0 && id.Box != k.c.Box.Number:
			k.errorf(p.Pos, "point-id", i18n.M("config.rule.point_id_box", p.ID, fmt.Sprintf("%03d", id.Box), fmt.Sprintf("%03d", k.c.Box.Number)))
		}
	}
	// The interval of чл. 30, ал. 13.
	if p.Class.Valid() {
		if max := p.Class.MaxInterval(); p.Interval > max {
			k.errorf(p.Pos, "interval-class", i18n.M("config.rule.interval_class", p.ID, i18n.Duration(p.Interval), i18n.Duration(max), p.Class.Point(), string(p.Class)))
		}
	}
	if p.Interval != badDuration && p.Interval <= 0 {
		k.errorf(p.Pos, "interval-class", i18n.M("config.rule.interval_zero", p.ID))
	}
	// The tags the mode needs; a tag whose role could not be read might be the one missing, so the point
	// is not judged on them.
	rolesKnown := true
	for _, t := range p.Tags {
		if !t.Role.Valid() {
			rolesKnown = false
		}
	}
	if rolesKnown {
		k.pointTags(p)
	}
	k.nomenclature(p)
}

func (k *checker) pointTags(p *Point) {
	var hasTotal bool
	for _, t := range p.Tags {
		if t.Role.Totalizer() {
			hasTotal = true
		}
		if t.Role == core.RoleDoor || t.Role == core.RoleUPS {
			k.errorf(t.Pos, "role-placement", i18n.M("config.rule.role_in_point", t.Name, string(t.Role)))
		}
	}
	if !hasTotal {
		k.errorf(p.Pos, "missing-totalizer", i18n.M("config.rule.missing_totalizer", p.ID))
	}
	if p.Mode == core.ModeTransaction && len(p.TagsWithRole(core.RoleTransactionFlag)) == 0 {
		k.errorf(p.Pos, "missing-transaction-indicator", i18n.M("config.rule.missing_transaction_indicator", p.ID))
	}
	if p.Mode == core.ModeContinuous && len(p.TagsWithRole(core.RoleTransactionFlag)) > 0 {
		k.warnf(p.Pos, "continuous-indicator", i18n.M("config.rule.continuous_indicator", p.ID))
	}
	if p.Direction == core.DirectionBoth && len(p.TagsWithRole(core.RoleDirection)) == 0 {
		k.errorf(p.Pos, "missing-direction-tag", i18n.M("config.rule.missing_direction_tag", p.ID))
	}
	for _, t := range p.Tags {
		switch {
		case t.Of != "" && t.Role != core.RoleStartTotal && t.Role != core.RoleTransactionQuantity:
			k.errorf(t.Pos, "totalizer-reference", i18n.M("config.rule.of_not_allowed", t.Name, string(t.Role)))
		case (t.Role == core.RoleStartTotal || t.Role == core.RoleTransactionQuantity) && hasTotal && t.Totalizer(p) == nil:
			k.errorf(t.Pos, "totalizer-reference", i18n.M("config.rule.of_missing", t.Name, string(t.Of), p.ID))
		}
	}
	for _, r := range singleRoles {
		if ts := p.TagsWithRole(r); len(ts) > 1 {
			k.errorf(ts[1].Pos, "duplicate-role", i18n.M("config.rule.duplicate_role", p.ID, string(r), ts[0].Name, ts[1].Name))
		}
	}
}

// nomenclature checks the point's products and how the agent tells which one is measured.
func (k *checker) nomenclature(p *Point) {
	codeTags := p.TagsWithRole(core.RoleProductCode)
	switch {
	case len(p.Products) == 0:
		k.errorf(p.Pos, "missing-product", i18n.M("config.rule.no_products", p.ID))
	case len(codeTags) == 0 && len(p.Products) > 1:
		k.errorf(p.Pos, "missing-product", i18n.M("config.rule.missing_product_tag", p.ID, len(p.Products)))
	case len(codeTags) > 0 && len(p.Products) > 1 && len(p.ProductMap) == 0:
		k.errorf(p.Pos, "product-mapping", i18n.M("config.rule.missing_mapping", p.ID, codeTags[0].Name))
	case len(codeTags) == 0 && len(p.ProductMap) > 0:
		k.errorf(p.ProductMap[0].Pos, "product-mapping", i18n.M("config.rule.mapping_without_tag", p.ID))
	}
	if len(codeTags) > 0 && codeTags[0].Type == modbus.String && len(p.ProductMap) > 0 {
		k.errorf(p.ProductMap[0].Pos, "product-mapping", i18n.M("config.rule.mapping_string_tag", p.ID, codeTags[0].Name))
	}
	for _, x := range p.Products {
		if x.CN != "" && len(x.CN) != 8 {
			k.errorf(x.Pos, "cn-code", i18n.M("config.rule.cn_code", x.CN, x.Code))
		}
		if x.Direction != "" && p.Direction != core.DirectionBoth && p.Direction != "" && x.Direction != p.Direction {
			k.errorf(x.Pos, "product-direction", i18n.M("config.rule.product_direction", x.Code, string(x.Direction), p.ID, string(p.Direction)))
		}
	}
}

// fmtDur writes a duration as people write it: 10m, 1h, 15s, 1m30s.
func fmtDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

const (
	probeOther = iota
	probeIdentity
	probeConstant
)

// probePoints are raw values a formula is tried on to find one that has no effect (x * 1, x + 0) or
// ignores x: mistakes worth a warning, as the value sent would not be what the integrator meant.
var probePoints = []float64{-1e6, -273.15, -1, -0.5, 0, 0.25, 1, 2, 3, 7, 15, 100, 1234.5678, 65535, 1e6, 4294967295}

func probe(f *formula.Formula) int {
	if f.Identity() {
		return probeIdentity
	}
	same, constant := true, true
	first := f.Eval(probePoints[0])
	for _, x := range probePoints {
		y := f.Eval(x)
		if y != x {
			same = false
		}
		if y != first && !(math.IsNaN(y) && math.IsNaN(first)) {
			constant = false
		}
	}
	switch {
	case same:
		return probeIdentity
	case constant:
		return probeConstant
	}
	return probeOther
}
