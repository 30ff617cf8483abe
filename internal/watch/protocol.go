package watch

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/report"
	"github.com/akciz/akciz/internal/store"
)

// Copies of a protocol: the ordinance hands one to the operator and keeps one (чл. 20(5), 21(5)–(6)).
const protocolCopies = 2

// copyHeadings are the catalogue keys of the copies, in order.
var copyHeadings = [protocolCopies]string{"watch.protocol.copy_office", "watch.protocol.copy_operator"}

// twoCopies repeats the sections once per copy, each copy's first heading saying whose it is, and ends
// each copy with the signature lines.
func twoCopies(p *i18n.Printer, sections []*report.Section, signatures []string) []*report.Section {
	var out []*report.Section
	for i, key := range copyHeadings {
		for j, s := range sections {
			c := *s
			c.NewPage = i > 0 && j == 0
			if j == 0 {
				c.Heading = p.T(key, i+1, protocolCopies) + " — " + s.Heading
			}
			c.SheetName = fmt.Sprintf("%d %s", i+1, s.Heading)
			out = append(out, &c)
		}
		var sig []string
		for _, who := range signatures {
			sig = append(sig, who+": ............................................")
		}
		out = append(out, &report.Section{Heading: p.T("watch.protocol.signatures"),
			SheetName: fmt.Sprintf("%d %s", i+1, p.T("watch.protocol.signatures")),
			Blocks:    []report.Block{report.Paragraph(strings.Join(sig, "\n\n"))}})
	}
	return out
}

// ComparisonDocument is a comparison as a document: its frame, its summary and every line. With
// protocol set it is the printable protocol in two copies (чл. 20(5)); without, one copy for CSV and XLSX.
func ComparisonDocument(c store.Comparison, s store.Site, lang i18n.Lang, protocol bool) *report.Document {
	p := i18n.For(lang)
	title := name(p, "watch.compare.title_", string(c.Kind))
	d := &report.Document{Title: title, Subtitle: s.Name, Lang: lang, Created: c.Time, Meta: []report.Field{
		{Label: p.T("watch.meta.site"), Value: s.Warehouse + " — " + s.Name},
		{Label: p.T("watch.meta.operator"), Value: s.Operator},
		{Label: p.T("watch.meta.customs_office"), Value: s.CustomsOffice},
		{Label: p.T("watch.meta.period"), Value: localTime(c.From) + " — " + localTime(c.To)},
		{Label: p.T("watch.meta.made_by"), Value: c.By + ", " + localTime(c.Time)},
		{Label: p.T("watch.meta.number"), Value: strconv.FormatInt(c.ID, 10)},
	}}
	cols := []report.Column{{Header: p.T("watch.col.point")}, {Header: p.T("watch.col.time")}, {Header: p.T("watch.col.item")}}
	for _, src := range c.Sources {
		cols = append(cols, report.Column{Header: name(p, "watch.source.", src)})
	}
	cols = append(cols, report.Column{Header: p.T("watch.col.result")}, report.Column{Header: p.T("watch.col.note")})
	t := &report.Table{Columns: cols}
	for _, l := range c.Lines {
		row := []report.Cell{report.Text(l.Point), timeCell(l.Time), report.Text(l.Item)}
		for _, v := range l.Values {
			row = append(row, report.Text(v))
		}
		result, note := p.T("watch.compare.match"), ""
		if !l.Match {
			result = p.T("watch.compare.miss")
		}
		if l.Note != "" {
			note = p.T(l.Note)
		}
		row = append(row, report.Text(result), report.Text(note))
		t.Rows = append(t.Rows, row)
	}
	summary := report.Paragraph(p.T("watch.compare.summary", c.Matches+c.Misses, c.Matches, c.Misses))
	sections := []*report.Section{{Heading: title, SheetName: p.T("watch.compare.sheet"), Blocks: []report.Block{summary, t}}}
	if protocol {
		sections = twoCopies(p, sections, []string{p.T("watch.protocol.sign_officer"), p.T("watch.protocol.sign_operator")})
	}
	d.Sections = sections
	return d
}

// Commissionings records the commissioning of sites (чл. 21(3)–(6)).
type Commissionings struct {
	st    store.Store
	clock Clock
}

// NewCommissionings gives the commissioning records over st (clock nil: the wall clock).
func NewCommissionings(st store.Store, clock Clock) *Commissionings {
	if clock == nil {
		clock = SystemClock{}
	}
	return &Commissionings{st: st, clock: clock}
}

// HashFile reads a handed-over file and gives its size, MD5 (as чл. 21(5) asks) and SHA-256, streaming:
// an installation image may be gigabytes.
func HashFile(role, name string, r io.Reader) (store.CommissionFile, error) {
	m, s := md5.New(), sha256.New()
	n, err := io.Copy(io.MultiWriter(m, s), r)
	if err != nil {
		return store.CommissionFile{}, fmt.Errorf("watch: hash %s: %w", name, err)
	}
	return store.CommissionFile{Role: role, Name: name, Size: n, MD5: hex.EncodeToString(m.Sum(nil)),
		SHA256: hex.EncodeToString(s.Sum(nil))}, nil
}

// maxCommissionItems bounds the files and the seals of one commissioning record.
const maxCommissionItems = 200

// hexOf reports whether s is n lower-case hexadecimal digits (a hash as HashFile writes it).
func hexOf(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// The roles of the files handed over at commissioning (чл. 21(3)–(4)).
var commissionRoles = []string{"image", "config", "modbus-map", "modem-config", "other"}

// Record stores the commissioning of a site in testing by an officer: the files handed over with their
// hashes (the image, automation_config.xml and the Modbus map are all required, чл. 21(3)), the serial
// numbers of the controller, the computer and the UPS, and the seals placed (чл. 21(2) т. 2, 7).
func (x *Commissionings) Record(ctx context.Context, a Actor, c store.Commissioning) (store.Commissioning, error) {
	if a.Role != store.RoleOfficer && a.Role != store.RoleAdmin {
		return c, refuse(ErrForbidden, "watch.commission.officer_only")
	}
	s, err := site(ctx, x.st, a, c.Site)
	if err != nil {
		return c, err
	}
	if s.State != store.SiteTesting {
		return c, refuse(ErrRefused, "watch.commission.not_testing", c.Site, stateText(s.State))
	}
	have := map[string]bool{}
	for i, f := range c.Files {
		if !contains(commissionRoles, f.Role) {
			return c, refuse(ErrInvalid, "watch.commission.file_role", i+1, f.Role)
		}
		if f.Name == "" || len(f.Name) > MaxComment || !hexOf(f.MD5, 32) || !hexOf(f.SHA256, 64) || f.Size < 0 {
			return c, refuse(ErrInvalid, "watch.commission.file_hash", i+1, f.Name)
		}
		have[f.Role] = true
	}
	for _, need := range []string{"image", "config", "modbus-map"} {
		if !have[need] {
			return c, refuse(ErrInvalid, "watch.commission.file_missing", need)
		}
	}
	for field, v := range map[string]string{"controller": c.Controller, "computer": c.Computer, "ups": c.UPS} {
		if strings.TrimSpace(v) == "" {
			return c, refuse(ErrInvalid, "watch.commission.serial_missing", field)
		}
	}
	if len(c.Seals) == 0 {
		return c, refuse(ErrInvalid, "watch.commission.no_seals")
	}
	// What a person typed is bounded, as a comment is: the protocol is a page, not a store of files.
	if len(c.Files) > maxCommissionItems || len(c.Seals) > maxCommissionItems {
		return c, refuse(ErrInvalid, "watch.commission.too_many", maxCommissionItems)
	}
	texts := append([]string{c.Representative, c.Protocol, c.Controller, c.Computer, c.UPS, c.Notes}, c.Seals...)
	for _, v := range texts {
		if len(v) > MaxComment {
			return c, refuse(ErrInvalid, "watch.comment.too_long", MaxComment)
		}
	}
	for i, seal := range c.Seals {
		if strings.TrimSpace(seal) == "" {
			return c, refuse(ErrInvalid, "watch.commission.seal_empty", i+1)
		}
	}
	c.Officer = a.Who
	c.Time = x.clock.Now()
	got, err := x.st.AddCommissioning(ctx, c)
	if err != nil {
		return got, fmt.Errorf("watch: %w", err)
	}
	return got, nil
}

// Get gives a commissioning record, if the actor sees its site.
func (x *Commissionings) Get(ctx context.Context, a Actor, id int64) (store.Commissioning, store.Site, error) {
	c, err := x.st.Commissioning(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, store.Site{}, refuse(ErrNotFound, "watch.commission.not_found", id)
	}
	if err != nil {
		return c, store.Site{}, fmt.Errorf("watch: %w", err)
	}
	s, err := site(ctx, x.st, a, c.Site)
	if err != nil {
		return store.Commissioning{}, store.Site{}, refuse(ErrNotFound, "watch.commission.not_found", id)
	}
	return c, s, nil
}

// CommissioningDocument is the commissioning protocol (чл. 21(5)–(6)) in two copies: the files handed
// over with MD5 and SHA-256, the serial numbers, the seals, and the signature lines.
func CommissioningDocument(c store.Commissioning, s store.Site, lang i18n.Lang) *report.Document {
	p := i18n.For(lang)
	title := p.T("watch.commission.title")
	d := &report.Document{Title: title, Subtitle: s.Name, Lang: lang, Created: c.Time, Meta: []report.Field{
		{Label: p.T("watch.meta.site"), Value: s.Warehouse + " — " + s.Name},
		{Label: p.T("watch.meta.operator"), Value: s.Operator},
		{Label: p.T("watch.meta.customs_office"), Value: s.CustomsOffice},
		{Label: p.T("watch.meta.number"), Value: c.Protocol},
		{Label: p.T("watch.meta.date"), Value: localTime(c.Time)},
	}}
	files := &report.Table{Columns: []report.Column{{Header: p.T("watch.col.file_role")}, {Header: p.T("watch.col.file")},
		{Header: p.T("watch.col.size")}, {Header: "MD5"}, {Header: "SHA-256"}}}
	for _, f := range c.Files {
		files.Rows = append(files.Rows, []report.Cell{report.Text(name(p, "watch.file.", f.Role)), report.Text(f.Name),
			report.Int(f.Size), report.Text(f.MD5), report.Text(f.SHA256)})
	}
	equipment := &report.Table{Columns: []report.Column{{Header: p.T("watch.col.equipment")}, {Header: p.T("watch.col.serial")}}}
	for _, e := range [][2]string{{"watch.equipment.controller", c.Controller}, {"watch.equipment.computer", c.Computer},
		{"watch.equipment.ups", c.UPS}} {
		equipment.Rows = append(equipment.Rows, []report.Cell{report.Text(p.T(e[0])), report.Text(e[1])})
	}
	for _, seal := range c.Seals {
		equipment.Rows = append(equipment.Rows, []report.Cell{report.Text(p.T("watch.equipment.seal")), report.Text(seal)})
	}
	blocks := []report.Block{report.Paragraph(p.T("watch.commission.intro", s.Warehouse, c.Representative)), files, equipment}
	if c.Notes != "" {
		blocks = append(blocks, report.Paragraph(c.Notes))
	}
	sections := []*report.Section{{Heading: title, SheetName: p.T("watch.commission.sheet"), Blocks: blocks}}
	d.Sections = twoCopies(p, sections, []string{p.T("watch.protocol.sign_officer") + " (" + c.Officer + ")",
		p.T("watch.protocol.sign_operator") + " (" + c.Representative + ")"})
	return d
}
