// Package modbusmap turns an automation_config.xml into the Modbus map the obligated person hands to the
// competent customs office (чл. 35, ал. 1): per controller, the table of registers with the columns of
// чл. 35, ал. 4 (and the change of the data, ал. 2: accumulation and reading time), and for every
// register of error bits the table of ал. 5. The result is a report.Document, which internal/report
// renders as CSV, XLSX, HTML or PDF.
//
// The head of the document names the operator, the site, the ИКУНК and the configuration file with its
// SHA-256 and MD5, the hashes the commissioning protocol asks for (чл. 21, ал. 3–5), so that the printed
// map can be matched to the very file installed.
package modbusmap

import (
	"cmp"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/modbus"
	"github.com/akciz/akciz/internal/report"
)

// Options are what Build needs besides the configuration.
type Options struct {
	// Lang is the language of the headings and of the texts the map adds; the texts of the file (parameter
	// names, descriptions) are printed as written. Empty means Bulgarian.
	Lang i18n.Lang
	// FileName is the configuration file's name as handed over, usually automation_config.xml.
	FileName string
	// File is the content of the configuration file, for its hashes; nil leaves the hashes out.
	File []byte
	// Generated is when the map is made: printed in the head and stamped into PDF and XLSX metadata.
	Generated time.Time
}

// Build makes the Modbus map of cfg, which must have loaded without errors.
func Build(cfg *config.Config, o Options) *report.Document {
	p := i18n.For(o.Lang)
	b := &builder{cfg: cfg, o: o, p: p}
	d := &report.Document{
		Title:    p.T("modbusmap.title"),
		Subtitle: p.T("modbusmap.subtitle"),
		Meta:     b.meta(),
		Lang:     p.Lang(),
		Created:  o.Generated,
	}
	for _, g := range b.groups() {
		d.Sections = append(d.Sections, b.registers(g))
	}
	for _, g := range b.groups() {
		if s := b.errorBits(g); s != nil {
			d.Sections = append(d.Sections, s)
		}
	}
	return d
}

// Hashes are the SHA-256 and MD5 of data in lower-case hex.
func Hashes(data []byte) (sha, md string) {
	s := sha256.Sum256(data)
	m := md5.Sum(data)
	return hex.EncodeToString(s[:]), hex.EncodeToString(m[:])
}

type builder struct {
	cfg *config.Config
	o   Options
	p   *i18n.Printer
}

func (b *builder) meta() []report.Field {
	c, p := b.cfg, b.p
	var m []report.Field
	add := func(key, value string) {
		if value != "" {
			m = append(m, report.Field{Label: p.T(key), Value: value})
		}
	}
	add("modbusmap.meta.person", c.Person.Name)
	add("modbusmap.meta.eik", c.Person.EIK)
	add("modbusmap.meta.excise", c.Person.ExciseNumber)
	if c.Site.Warehouse != "" {
		add("modbusmap.meta.warehouse", c.Site.Warehouse)
	} else {
		add("modbusmap.meta.registered", c.Site.RegisteredPerson)
	}
	add("modbusmap.meta.site", c.Site.Name)
	add("modbusmap.meta.address", c.Site.Address)
	add("modbusmap.meta.customs", c.Site.CustomsOffice)
	add("modbusmap.meta.box", fmt.Sprintf("%03d", c.Box.Number))
	add("modbusmap.meta.computer_serial", c.Box.ComputerSerial)
	add("modbusmap.meta.controller_serial", c.Box.ControllerSerial)
	add("modbusmap.meta.ups_serial", c.Box.UPSSerial)
	add("modbusmap.meta.file", b.o.FileName)
	if b.o.File != nil {
		sha, md := Hashes(b.o.File)
		add("modbusmap.meta.sha256", sha)
		add("modbusmap.meta.md5", md)
	}
	if !b.o.Generated.IsZero() {
		add("modbusmap.meta.generated", formatTime(b.o.Generated, p.Lang()))
	}
	return m
}

// formatTime writes t as a Bulgarian (or English) reader expects it, with its offset from UTC.
func formatTime(t time.Time, l i18n.Lang) string {
	layout := "02.01.2006 15:04:05"
	if l == i18n.EN {
		layout = "2006-01-02 15:04:05"
	}
	zone := t.Format("-07:00")
	if _, off := t.Zone(); off == 0 {
		zone = "UTC"
	}
	return t.Format(layout) + " " + zone
}

// group is a controller and the tags read from it.
type group struct {
	id   string
	c    *config.Controller // nil for a controller the file does not define (a broken file)
	tags []config.TagRef
}

// groups are the controllers in file order, each with its tags sorted by unit id, table and address.
func (b *builder) groups() []*group {
	var gs []*group
	byID := map[string]*group{}
	for _, c := range b.cfg.Controllers {
		g := &group{id: c.ID, c: c}
		gs = append(gs, g)
		byID[c.ID] = g
	}
	for _, r := range b.cfg.Tags() {
		g := byID[r.Tag.Controller]
		if g == nil {
			g = &group{id: r.Tag.Controller}
			gs = append(gs, g)
			byID[g.id] = g
		}
		g.tags = append(g.tags, r)
	}
	for _, g := range gs {
		slices.SortStableFunc(g.tags, func(x, y config.TagRef) int {
			return cmp.Or(
				cmp.Compare(x.Tag.EffectiveUnitID(g.c), y.Tag.EffectiveUnitID(g.c)),
				cmp.Compare(tableOrder(x.Tag.Table), tableOrder(y.Tag.Table)),
				cmp.Compare(x.Tag.Physical, y.Tag.Physical),
				cmp.Compare(x.Tag.Bit, y.Tag.Bit),
			)
		})
	}
	return gs
}

// tableOrder sorts the tables as Modicon numbers them: coils, discrete inputs, input registers, holding
// registers.
func tableOrder(t config.Table) int { return int(t) }

// Columns of the register table: those of чл. 35, ал. 4 in its order, with the change of the data of
// ал. 2 before the formula, then what ties a register to the configuration and to the data the agency
// receives: the tag and the control point. (The tag's role is left out: the parameter's name says what
// the register is, and a fourteenth column does not fit an A4 page.)
func (b *builder) registerColumns() []report.Column {
	p := b.p
	return []report.Column{
		{Header: p.T("modbusmap.col.logical"), Width: 7},
		{Header: p.T("modbusmap.col.physical"), Width: 7},
		{Header: p.T("modbusmap.col.size"), Width: 6, Align: report.AlignRight},
		{Header: p.T("modbusmap.col.name"), Width: 19},
		{Header: p.T("modbusmap.col.limits"), Width: 13},
		{Header: p.T("modbusmap.col.type"), Width: 8},
		{Header: p.T("modbusmap.col.unit"), Width: 6},
		{Header: p.T("modbusmap.col.resolution"), Width: 7, Align: report.AlignRight},
		{Header: p.T("modbusmap.col.change"), Width: 12},
		{Header: p.T("modbusmap.col.formula"), Width: 10},
		{Header: p.T("modbusmap.col.description"), Width: 28},
		{Header: p.T("modbusmap.col.tag"), Width: 17},
		{Header: p.T("modbusmap.col.point"), Width: 19},
	}
}

func (b *builder) registers(g *group) *report.Section {
	p := b.p
	s := &report.Section{
		Heading:   p.T("modbusmap.section.registers", g.id),
		SheetName: p.T("modbusmap.sheet.registers", g.id),
	}
	if g.c != nil {
		s.Blocks = append(s.Blocks, report.Paragraph(p.T("modbusmap.conn.line", b.connection(g.c))))
	}
	t := &report.Table{Columns: b.registerColumns(), Empty: p.T("modbusmap.no_registers")}
	for _, r := range g.tags {
		t.Rows = append(t.Rows, b.registerRow(g, r))
	}
	s.Blocks = append(s.Blocks, t)
	return s
}

// connection is the communication settings of a controller (чл. 35, ал. 3).
func (b *builder) connection(c *config.Controller) string {
	p := b.p
	var parts []string
	switch c.Transport {
	case config.TCP:
		parts = append(parts, p.T("modbusmap.conn.tcp", c.Address))
	case config.RTUOverTCP:
		parts = append(parts, p.T("modbusmap.conn.rtu_over_tcp", c.Address))
	case config.RTU:
		if s := c.Serial; s != nil {
			parts = append(parts, p.T("modbusmap.conn.rtu", s.Device, s.Baud, fmt.Sprintf("%d%s%d", s.DataBits, s.Parity, s.StopBits)))
		}
	}
	parts = append(parts, p.T("modbusmap.conn.unit", c.Unit))
	if c.Timeout > 0 {
		parts = append(parts, p.T("modbusmap.conn.timeout", formatDuration(c.Timeout)))
	}
	return strings.Join(parts, ", ")
}

func (b *builder) registerRow(g *group, r config.TagRef) []report.Cell {
	t, p := r.Tag, b.p
	dec := b.decimal()
	typ := string(t.Type)
	switch {
	case t.Type == modbus.Bit && t.BitSet:
		typ = p.T("modbusmap.type_bit", typ, t.Bit)
	case t.Type.Registers() > 1 && t.Order != "":
		typ += ", " + string(t.Order)
	}
	var res report.Cell
	if t.Resolution != 0 {
		res = report.Float(t.Resolution, -1)
	}
	desc := t.Description
	if t.UnitID != nil && (g.c == nil || *t.UnitID != g.c.Unit) {
		desc = joinLines(desc, p.T("modbusmap.unit_override", *t.UnitID))
	}
	point := p.T("modbusmap.box", b.cfg.Box.Number)
	if r.Point != nil {
		point = r.Point.ID
	}
	return []report.Cell{
		report.Text(t.Logical),
		report.Text(fmt.Sprintf("0x%04X", t.Physical)),
		report.Int(int64(t.Size)),
		report.Text(t.Parameter),
		report.Text(limits(t.Low, t.High, dec)),
		report.Text(typ),
		report.Text(t.Unit),
		res,
		report.Text(b.change(t, r.Point)),
		report.Text(t.Formula),
		report.Text(desc),
		report.Text(t.Name),
		report.Text(point),
	}
}

func (b *builder) decimal() string {
	if b.p.Lang() == i18n.EN {
		return "."
	}
	return ","
}

// limits writes the permissible values as the ordinance's example does: "0,0001 <= … <= 10000".
func limits(low, high *float64, dec string) string {
	num := func(v float64) string { return strings.Replace(strconv.FormatFloat(v, 'f', -1, 64), ".", dec, 1) }
	switch {
	case low != nil && high != nil:
		return num(*low) + " <= … <= " + num(*high)
	case low != nil:
		return num(*low) + " <= …"
	case high != nil:
		return "… <= " + num(*high)
	}
	return ""
}

// change is the change of the data (чл. 35, ал. 2): over what time the value accumulates, and how often
// it is read.
func (b *builder) change(t *config.Tag, pt *config.Point) string {
	p := b.p
	var parts []string
	if t.Accumulation > 0 {
		parts = append(parts, p.T("modbusmap.accumulation", formatDuration(t.Accumulation)))
	}
	switch {
	case t.ReadInterval > 0:
		parts = append(parts, p.T("modbusmap.read_every", formatDuration(t.ReadInterval)))
	case pt != nil && pt.Interval > 0:
		parts = append(parts, p.T("modbusmap.read_every", formatDuration(pt.Interval)))
	}
	return strings.Join(parts, "; ")
}

func (b *builder) errorBits(g *group) *report.Section {
	p := b.p
	s := &report.Section{
		Heading:   p.T("modbusmap.section.errors", g.id),
		SheetName: p.T("modbusmap.sheet.errors", g.id),
	}
	for _, r := range g.tags {
		t := r.Tag
		if len(t.ErrorBits) == 0 {
			continue
		}
		tb := &report.Table{
			Caption: p.T("modbusmap.errors.caption", t.Logical, fmt.Sprintf("0x%04X", t.Physical), t.Parameter, t.Name),
			Columns: []report.Column{
				{Header: p.T("modbusmap.col.bit"), Width: 8, Align: report.AlignRight},
				{Header: p.T("modbusmap.col.code"), Width: 8},
				{Header: p.T("modbusmap.col.description"), Width: 60},
				{Header: p.T("modbusmap.col.severity"), Width: 16},
			},
		}
		bits := slices.Clone(t.ErrorBits)
		slices.SortStableFunc(bits, func(x, y *config.ErrorBit) int { return cmp.Compare(x.Bit, y.Bit) })
		for _, e := range bits {
			tb.Rows = append(tb.Rows, []report.Cell{report.Int(int64(e.Bit)), report.Text(e.Code), report.Text(e.Description), report.Text(b.severity(e.Severity))})
		}
		s.Blocks = append(s.Blocks, tb)
	}
	if len(s.Blocks) == 0 {
		return nil
	}
	return s
}

func (b *builder) severity(s config.Severity) string {
	switch s {
	case config.SeverityInfo:
		return b.p.T("modbusmap.severity.info")
	case config.SeverityWarning:
		return b.p.T("modbusmap.severity.warning")
	case config.SeverityAlarm:
		return b.p.T("modbusmap.severity.alarm")
	}
	return string(s)
}

// formatDuration writes d in the largest whole unit: 1 h, 10 min, 1 s, 20 ms.
func formatDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%d s", d/time.Second)
	case d%time.Millisecond == 0:
		return fmt.Sprintf("%d ms", d/time.Millisecond)
	}
	return d.String()
}

func joinLines(a, b string) string {
	if a == "" {
		return b
	}
	return a + "\n" + b
}
