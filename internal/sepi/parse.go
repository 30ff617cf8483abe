package sepi

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
)

// Options bound and extend Parse. The zero value is usable.
type Options struct {
	// MaxErrors caps the errors kept in the result (default 1000); the rest are counted.
	MaxErrors int
	// MaxBytes refuses a longer file (default 512 MiB).
	MaxBytes int64
	// MaxBarcodes refuses a list with more barcodes (default 5,000,000).
	MaxBarcodes int
	// History, when set, has the lists checked before: it finds barcodes that enter twice without
	// leaving and a list sent again.
	History History
}

// Defaults of Options.
const (
	DefaultMaxErrors   = 1000
	DefaultMaxBytes    = 512 << 20
	DefaultMaxBarcodes = 5_000_000
)

const xsiNamespace = "http://www.w3.org/2001/XMLSchema-instance"

// Parse reads and checks a list from r. It returns an error only when r cannot be read, ctx ends or the
// history fails; everything wrong with the list itself is in Result.Errors, and Result.List is set only
// when there is none.
func Parse(ctx context.Context, r io.Reader, opt Options) (*Result, error) {
	if opt.MaxErrors <= 0 {
		opt.MaxErrors = DefaultMaxErrors
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	if opt.MaxBarcodes <= 0 {
		opt.MaxBarcodes = DefaultMaxBarcodes
	}
	in := &input{r: r, h: sha256.New(), max: opt.MaxBytes}
	d := xml.NewDecoder(bufio.NewReaderSize(in, 64<<10))
	d.Strict = true
	p := &parser{ctx: ctx, d: d, opt: opt, errs: errorList{max: opt.MaxErrors}, line: 1, col: 1,
		brands: map[string]*brand{}}
	p.document()
	res := &Result{Number: p.l.Number, RootAt: Pos{p.rootAt.line, p.rootAt.col},
		PersonAt: Pos{p.personAt.line, p.personAt.col}}
	if p.ioErr != nil {
		return nil, p.ioErr
	}
	if !p.tooLarge {
		// The digest is of the whole file, also when reading stopped at a fatal error.
		if _, err := io.Copy(io.Discard, in); err != nil && !errors.Is(err, errTooLarge) {
			return nil, err
		}
	}
	copy(res.SHA256[:], in.h.Sum(nil))
	res.Bytes = in.n
	if !p.fatal {
		p.finish()
		if opt.History != nil && p.l.Kind != "" {
			if err := p.history(ctx, opt.History, res.SHA256); err != nil {
				return nil, err
			}
		}
	}
	res.Errors, res.Omitted = p.errs.sorted(), p.errs.omitted
	res.Flags = p.flags
	if len(res.Errors) == 0 {
		l := p.l
		res.List = &l
		res.places = p.seen // sorted by barcode in finish
	}
	return res, nil
}

var errTooLarge = errors.New("sepi: file too large")

// input counts and hashes what the decoder reads, and stops it at the size limit.
type input struct {
	r   io.Reader
	h   hash.Hash
	n   int64
	max int64
}

func (in *input) Read(b []byte) (int, error) {
	if in.n >= in.max {
		// One byte more tells a file of exactly max bytes from a longer one.
		var one [1]byte
		n, err := io.ReadFull(in.r, one[:])
		if n > 0 {
			return 0, errTooLarge
		}
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		return 0, err
	}
	if rest := in.max - in.n; int64(len(b)) > rest {
		b = b[:rest]
	}
	n, err := in.r.Read(b)
	in.n += int64(n)
	in.h.Write(b[:n])
	return n, err
}

type pos struct{ line, col int }

// entry is a barcode seen and where: 16 bytes, so that a list of a million barcodes needs 16 MB.
type entry struct {
	code      Barcode
	line, col uint32
}

type brand struct {
	declared int
	at       pos
	count    int
}

type parser struct {
	ctx       context.Context
	d         *xml.Decoder
	opt       Options
	errs      errorList
	line, col int // where the next token starts
	fatal     bool
	tooLarge  bool
	ioErr     error
	tokens    int

	l        List
	rootAt   pos
	personAt pos
	periodAt pos
	packages pos // where the declared total is
	seen     []entry
	elems    int // <barcode> elements, valid or not
	brands   map[string]*brand
	goodsOK  bool
	flags    []Flag
}

func (p *parser) add(at pos, rule, key string, args ...any) {
	p.errs.add(at.line, at.col, rule, key, args...)
}

// next returns the next token and where it starts; false at the end of input or a fatal error.
func (p *parser) next() (xml.Token, pos, bool) {
	at := pos{p.line, p.col}
	if p.tokens++; p.tokens&0xffff == 0 && p.ctx.Err() != nil {
		p.ioErr = p.ctx.Err()
		p.fatal = true
		return nil, at, false
	}
	tok, err := p.d.Token()
	p.line, p.col = p.d.InputPos()
	if err != nil {
		if err != io.EOF {
			p.fail(at, err)
		}
		return nil, at, false
	}
	return tok, at, true
}

func (p *parser) fail(at pos, err error) {
	p.fatal = true
	var se *xml.SyntaxError
	switch {
	case errors.Is(err, errTooLarge):
		p.tooLarge = true
		p.add(pos{}, "limit-size", "sepi.input.too_large", p.opt.MaxBytes>>20)
	case errors.As(err, &se):
		p.add(pos{se.Line, p.col}, "input-malformed", "sepi.input.malformed", se.Msg)
	case strings.HasPrefix(err.Error(), "xml: "):
		// Errors of the decoder that are not syntax errors, such as an unsupported encoding.
		p.add(at, "input-malformed", "sepi.input.malformed", strings.TrimPrefix(err.Error(), "xml: "))
	default:
		p.ioErr = err
	}
}

// document reads the prolog, the root and what follows it.
func (p *parser) document() {
	root := false
	for {
		tok, at, ok := p.next()
		if !ok {
			if !root && !p.fatal {
				p.add(at, "input-malformed", "sepi.input.empty")
				p.fatal = true
			}
			return
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root {
				p.add(at, "input-malformed", "sepi.input.second_root", t.Name.Local)
				p.fatal = true
				return
			}
			root = true
			if t.Name.Space != Namespace || t.Name.Local != "sepiList" {
				p.add(at, "schema-element", "sepi.schema.root", qname(t.Name), Namespace)
				p.fatal = true
				return
			}
			p.root(t, at)
			if p.fatal {
				return
			}
		case xml.Directive:
			p.add(at, "input-malformed", "sepi.input.doctype")
			p.fatal = true
			return
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				p.add(at, "input-malformed", "sepi.input.text_outside")
				p.fatal = true
				return
			}
		}
	}
}

func qname(n xml.Name) string {
	if n.Space == "" || n.Space == Namespace {
		return n.Local
	}
	return "{" + n.Space + "}" + n.Local
}

// The children of <sepiList>, in their order.
var rootChildren = []string{"person", "controlPoint", "period", "document", "recipient", "vehicle", "product"}

func (p *parser) root(se xml.StartElement, at pos) {
	p.rootAt = at
	v := p.attrs(se, at, "!version", "!number", "!goods", "!currency", "!packages")
	if v[0] != nil && *v[0] != "1.0" {
		p.badValue(at, *v[0], "version", se, i18n.M("sepi.want.fixed", "1.0"))
	}
	if v[1] != nil {
		if p.pattern(at, *v[1], "number", se, numberRE, "sepi.want.number") {
			p.l.Number = *v[1]
		}
	}
	if v[2] != nil {
		if g, ok := enum(p, at, *v[2], "goods", se, goodsKinds); ok {
			p.l.Goods, p.goodsOK = g, true
		}
	}
	if v[3] != nil && *v[3] != "EUR" {
		p.badValue(at, *v[3], "currency", se, i18n.M("sepi.want.fixed", "EUR"))
	}
	if v[4] != nil {
		p.l.Packages, _ = p.count(at, *v[4], "packages", se)
		p.packages = at
		if n := min(p.l.Packages, p.opt.MaxBarcodes, 1<<20); n > 0 {
			p.seen = make([]entry, 0, n)
		}
	}
	last := -1
	var have [7]int
	for {
		tok, tat, ok := p.next()
		if !ok {
			return
		}
		switch t := tok.(type) {
		case xml.EndElement:
			for i, name := range rootChildren {
				if have[i] == 0 && name != "document" && name != "recipient" && name != "vehicle" {
					p.add(tat, "schema-element", "sepi.schema.missing_element", name, "sepiList")
				}
			}
			return
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				p.add(tat, "schema-element", "sepi.schema.text", "sepiList")
			}
		case xml.StartElement:
			i := -1
			if t.Name.Space == Namespace {
				i = slices.Index(rootChildren, t.Name.Local)
			}
			switch {
			case i < 0:
				p.add(tat, "schema-element", "sepi.schema.unknown_element", qname(t.Name), "sepiList")
				p.skip()
				continue
			case i < last:
				p.add(tat, "schema-element", "sepi.schema.order", t.Name.Local, rootChildren[last])
			case have[i] > 0 && t.Name.Local != "product":
				p.add(tat, "schema-element", "sepi.schema.too_many", t.Name.Local, "sepiList")
			}
			last = max(last, i)
			have[i]++
			p.child(t, tat)
			if p.fatal {
				return
			}
		}
	}
}

// skip passes over an element the format does not have.
func (p *parser) skip() {
	if err := p.d.Skip(); err != nil {
		p.fail(pos{p.line, p.col}, err)
	}
	p.line, p.col = p.d.InputPos()
}

// child reads one child of the root.
func (p *parser) child(se xml.StartElement, at pos) {
	switch se.Name.Local {
	case "person":
		p.personAt = at
		v := p.attrs(se, at, "!name", "!eik", "!exciseNumber")
		p.l.Person.Name = p.text(at, v[0], "name", se, 200)
		p.l.Person.EIK = p.eik(at, v[1], "eik", se)
		if v[2] != nil && p.pattern(at, *v[2], "exciseNumber", se, exciseRE, "sepi.want.excise") {
			p.l.Person.ExciseNumber = *v[2]
		}
	case "controlPoint":
		v := p.attrs(se, at, "!id", "!type")
		if v[0] != nil && p.pattern(at, *v[0], "id", se, pointRE, "sepi.want.point") {
			id, err := core.ParsePointID(*v[0])
			if err != nil {
				p.add(at, "control-point", "sepi.rule.control_point", *v[0])
			}
			p.l.Point = id
		}
		if v[1] != nil {
			p.l.Kind, _ = enum(p, at, *v[1], "type", se, pointKinds)
		}
	case "period":
		p.periodAt = at
		v := p.attrs(se, at, "!start", "!end")
		p.l.Start = p.dateTime(at, v[0], "start", se)
		p.l.End = p.dateTime(at, v[1], "end", se)
		if !p.l.Start.IsZero() && !p.l.End.IsZero() && p.l.End.Before(p.l.Start) {
			p.add(at, "period-order", "sepi.rule.period_order", *v[1], *v[0])
		}
	case "document":
		v := p.attrs(se, at, "!arc")
		if v[0] != nil && p.pattern(at, *v[0], "arc", se, arcRE, "sepi.want.arc") {
			p.l.ARC = *v[0]
		}
	case "recipient":
		v := p.attrs(se, at, "!name", "eik", "exciseNumber", "country")
		r := &Recipient{Name: p.text(at, v[0], "name", se, 200)}
		if v[1] != nil {
			r.EIK = p.eik(at, v[1], "eik", se)
		}
		if v[2] != nil && p.pattern(at, *v[2], "exciseNumber", se, exciseRE, "sepi.want.excise") {
			r.ExciseNumber = *v[2]
		}
		if v[3] != nil && p.pattern(at, *v[3], "country", se, countryRE, "sepi.want.country") {
			r.Country = *v[3]
		}
		p.l.Recipient = r
	case "vehicle":
		v := p.attrs(se, at, "!registration")
		p.l.Vehicle = p.text(at, v[0], "registration", se, 20)
	case "product":
		p.product(se, at)
		return
	}
	p.empty(se)
}

// empty reads the rest of an element that may hold nothing.
func (p *parser) empty(se xml.StartElement) {
	for {
		tok, at, ok := p.next()
		if !ok {
			return
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				p.add(at, "schema-element", "sepi.schema.text", se.Name.Local)
			}
		case xml.StartElement:
			p.add(at, "schema-element", "sepi.schema.unknown_element", qname(t.Name), se.Name.Local)
			p.skip()
		}
	}
}

func (p *parser) product(se xml.StartElement, at pos) {
	v := p.attrs(se, at, "!document", "!cn", "!brand", "!assortment", "piecesPerPack", "kilograms",
		"cigaretteLength", "!retailPrice", "!destination", "!origin", "!manufacturer", "!packsPerPackage",
		"!productionDate", "!brandPackages")
	var pr Product
	pr.Document = p.text(at, v[0], "document", se, 64)
	if v[1] != nil && p.pattern(at, *v[1], "cn", se, cnRE, "sepi.want.cn") {
		pr.CN = strings.ReplaceAll(*v[1], " ", "")
	}
	pr.Brand = p.text(at, v[2], "brand", se, 200)
	pr.Assortment = p.text(at, v[3], "assortment", se, 200)
	if v[4] != nil {
		pr.PiecesPerPack, _ = p.count(at, *v[4], "piecesPerPack", se)
	}
	if v[5] != nil && p.pattern(at, *v[5], "kilograms", se, kgRE, "sepi.want.kg") {
		pr.Kilograms = *v[5]
		if strings.Trim(*v[5], "0.") == "" {
			p.badValue(at, *v[5], "kilograms", se, i18n.M("sepi.want.kg"))
			pr.Kilograms = ""
		}
	}
	if v[6] != nil {
		pr.CigaretteLength, _ = p.count(at, *v[6], "cigaretteLength", se)
	}
	if v[7] != nil && p.pattern(at, *v[7], "retailPrice", se, priceRE, "sepi.want.price") {
		pr.RetailPrice = *v[7]
	}
	if v[8] != nil {
		pr.Destination, _ = enum(p, at, *v[8], "destination", se, Destinations)
	}
	if v[9] != nil && p.pattern(at, *v[9], "origin", se, countryRE, "sepi.want.country") {
		pr.Origin = *v[9]
	}
	pr.Manufacturer = p.text(at, v[10], "manufacturer", se, 200)
	if v[11] != nil {
		pr.PacksPerPackage, _ = p.count(at, *v[11], "packsPerPackage", se)
	}
	if v[12] != nil {
		if p.pattern(at, *v[12], "productionDate", se, dateRE, "sepi.want.date") {
			d, err := time.Parse(time.DateOnly, *v[12])
			if err != nil {
				p.badValue(at, *v[12], "productionDate", se, i18n.M("sepi.want.date"))
			}
			pr.ProductionDate = d
		}
	}
	if v[13] != nil {
		pr.BrandPackages, _ = p.count(at, *v[13], "brandPackages", se)
	}
	p.productRules(&pr, at)

	first, firstElem := len(p.seen), p.elems
	for {
		tok, tat, ok := p.next()
		if !ok {
			return
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if p.elems == firstElem {
				p.add(tat, "schema-element", "sepi.schema.missing_element", "barcode", "product")
			}
			b := p.brands[pr.Brand]
			if b == nil {
				b = &brand{declared: pr.BrandPackages, at: at}
				p.brands[pr.Brand] = b
			} else if pr.BrandPackages != b.declared && pr.BrandPackages > 0 && b.declared > 0 {
				p.add(at, "count-brand", "sepi.rule.brand_declared", pr.Brand, pr.BrandPackages, b.declared, b.at.line)
			}
			b.count += p.elems - firstElem
			pr.Barcodes = make([]Barcode, len(p.seen)-first)
			for i, e := range p.seen[first:] {
				pr.Barcodes[i] = e.code
			}
			p.l.Products = append(p.l.Products, pr)
			return
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				p.add(tat, "schema-element", "sepi.schema.text", "product")
			}
		case xml.StartElement:
			if t.Name.Space != Namespace || t.Name.Local != "barcode" {
				p.add(tat, "schema-element", "sepi.schema.unknown_element", qname(t.Name), "product")
				p.skip()
				continue
			}
			p.barcode(t, tat)
			if p.fatal {
				return
			}
		}
	}
}

// productRules checks a product against the list's header (чл. 41, ал. 5; чл. 42, т. 3).
func (p *parser) productRules(pr *Product, at pos) {
	if pr.CN != "" && p.goodsOK {
		g, ok := GoodsOfCN(pr.CN)
		switch {
		case !ok:
			p.add(at, "one-kind", "sepi.rule.cn_not_tobacco", pr.CN)
		case g != p.l.Goods:
			p.add(at, "one-kind", "sepi.rule.one_kind", pr.CN, goodsName(g), goodsName(p.l.Goods))
		}
	}
	if p.goodsOK {
		if p.l.Goods == SmokingTobacco {
			if pr.Kilograms == "" || pr.PiecesPerPack != 0 {
				p.add(at, "pack-quantity", "sepi.rule.kilograms")
			}
		} else if pr.PiecesPerPack == 0 || pr.Kilograms != "" {
			p.add(at, "pack-quantity", "sepi.rule.pieces")
		}
		if (p.l.Goods == Cigarettes) != (pr.CigaretteLength != 0) {
			if p.l.Goods == Cigarettes {
				p.add(at, "cigarette-length", "sepi.rule.length_missing")
			} else {
				p.add(at, "cigarette-length", "sepi.rule.length_extra")
			}
		}
	}
	if p.l.Kind == Entry && p.l.ARC != "" && pr.Document != "" && pr.Document != p.l.ARC {
		p.add(at, "entry-one-arc", "sepi.rule.entry_document", pr.Document, p.l.ARC)
	}
	if !pr.ProductionDate.IsZero() && !p.l.End.IsZero() {
		// A date has no zone: it is late only if it is after the end's own calendar day.
		y, m, d := p.l.End.Date()
		if pr.ProductionDate.After(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)) {
			p.add(at, "production-date", "sepi.rule.production_date", pr.ProductionDate.Format(time.DateOnly), p.l.End.Format(time.RFC3339))
		}
	}
}

// barcode reads <barcode>: the hot path of a big list, without allocating.
func (p *parser) barcode(se xml.StartElement, at pos) {
	p.elems++
	if len(se.Attr) > 0 {
		for _, a := range se.Attr {
			if !ignorable(a.Name) {
				p.add(at, "schema-attribute", "sepi.schema.unknown_attribute", qname(a.Name), "barcode")
			}
		}
	}
	var text []byte
	var buf [64]byte
	for {
		tok, tat, ok := p.next()
		if !ok {
			return
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(text)+len(t) <= len(buf) {
				text = append(buf[:len(text)], t...)
			} else {
				text = append(text[:len(text):len(text)], t...)
			}
		case xml.StartElement:
			p.add(tat, "schema-element", "sepi.schema.unknown_element", qname(t.Name), "barcode")
			p.skip()
		case xml.EndElement:
			p.barcodeValue(at, bytes.Trim(text, " \t\r\n"))
			return
		}
	}
}

func (p *parser) barcodeValue(at pos, s []byte) {
	if len(s) != 18 {
		p.add(at, "schema-value", "sepi.schema.bad_barcode", clip(s), i18n.M("sepi.want.barcode"))
		return
	}
	var v uint64
	sum := 0
	for i, c := range s {
		if c < '0' || c > '9' {
			p.add(at, "schema-value", "sepi.schema.bad_barcode", clip(s), i18n.M("sepi.want.barcode"))
			return
		}
		v = v*10 + uint64(c-'0')
		if i < 17 {
			// GS1 weights: 3 for the first digit of an 18-digit code, then alternating 1 and 3.
			if i%2 == 0 {
				sum += 3 * int(c-'0')
			} else {
				sum += int(c - '0')
			}
		}
	}
	if want := (10 - sum%10) % 10; int(s[17]-'0') != want {
		p.add(at, "barcode-check-digit", "sepi.rule.check_digit", string(s), want)
	}
	if len(p.seen) >= p.opt.MaxBarcodes {
		p.add(at, "limit-barcodes", "sepi.input.too_many_barcodes", p.opt.MaxBarcodes)
		p.fatal = true
		return
	}
	p.seen = append(p.seen, entry{code: Barcode(v), line: uint32(at.line), col: uint32(at.col)})
}

func clip(s []byte) string {
	if len(s) > 40 {
		s = s[:40]
		for !utf8.Valid(s) && len(s) > 0 {
			s = s[:len(s)-1]
		}
		return string(s) + "…"
	}
	return string(s)
}

// finish checks what needs the whole list: the header's rules, the counts and the duplicates.
func (p *parser) finish() {
	l := &p.l
	if (l.Kind == ProductionToWarehouse || l.Kind == WarehouseToProduction) && !l.Start.IsZero() && !l.End.IsZero() &&
		l.End.Sub(l.Start) > 24*time.Hour {
		d := l.End.Sub(l.Start)
		p.add(p.periodAt, "period-24h", "sepi.rule.period_24h", fmt.Sprintf("%d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60))
	}
	if l.Kind == Entry && l.ARC == "" {
		p.add(p.rootAt, "entry-one-arc", "sepi.rule.entry_arc")
	}
	if l.Kind == Exit {
		if l.Recipient == nil {
			p.add(p.rootAt, "exit-recipient-vehicle", "sepi.rule.exit_recipient")
		}
		if l.Vehicle == "" {
			p.add(p.rootAt, "exit-recipient-vehicle", "sepi.rule.exit_vehicle")
		}
	}
	if l.Packages > 0 && l.Packages != p.elems {
		p.add(p.packages, "count-total", "sepi.rule.total", l.Packages, p.elems)
	}
	for name, b := range p.brands {
		if b.declared > 0 && b.declared != b.count {
			p.add(b.at, "count-brand", "sepi.rule.brand", name, b.declared, b.count)
		}
	}
	// Duplicates: sort the 8-byte codes, then equal neighbours. The code is the barcode itself, not a
	// hash of it, so equal codes are equal barcodes.
	slices.SortFunc(p.seen, func(a, b entry) int {
		if c := cmp.Compare(a.code, b.code); c != 0 {
			return c
		}
		if c := cmp.Compare(a.line, b.line); c != 0 {
			return c
		}
		return cmp.Compare(a.col, b.col)
	})
	for i := 1; i < len(p.seen); i++ {
		if a, b := p.seen[i-1], p.seen[i]; a.code == b.code {
			first := i - 1
			for first > 0 && p.seen[first-1].code == a.code {
				first--
			}
			p.add(pos{int(b.line), int(b.col)}, "duplicate-barcode", "sepi.rule.duplicate", b.code.String(), p.seen[first].line)
		}
	}
}

// attrs reads the attributes of se named in names ("!name" for a required one), in that order; absent
// ones are nil.
func (p *parser) attrs(se xml.StartElement, at pos, names ...string) []*string {
	out := make([]*string, len(names))
	for i := range se.Attr {
		a := &se.Attr[i]
		if ignorable(a.Name) {
			continue
		}
		k := -1
		if a.Name.Space == "" {
			for j, n := range names {
				if strings.TrimPrefix(n, "!") == a.Name.Local {
					k = j
				}
			}
		}
		if k < 0 {
			p.add(at, "schema-attribute", "sepi.schema.unknown_attribute", qname(a.Name), se.Name.Local)
			continue
		}
		out[k] = &a.Value
	}
	for j, n := range names {
		if out[j] == nil && strings.HasPrefix(n, "!") {
			p.add(at, "schema-attribute", "sepi.schema.missing_attribute", n[1:], se.Name.Local)
		}
	}
	return out
}

func ignorable(n xml.Name) bool {
	return n.Space == "xmlns" || n.Space == "" && n.Local == "xmlns" || n.Space == xsiNamespace
}

func (p *parser) badValue(at pos, v, attr string, se xml.StartElement, want i18n.Message) {
	p.add(at, "schema-value", "sepi.schema.bad_value", clip([]byte(v)), attr, se.Name.Local, want)
}

// The value syntax of the schema; each pattern is the XSD's, anchored as XSD patterns are.
var (
	numberRE  = regexp.MustCompile(`^[0-9]{1,20}$`)
	eikRE     = regexp.MustCompile(`^([0-9]{9}|[0-9]{13})$`)
	exciseRE  = regexp.MustCompile(`^BG[A-Z0-9]{11}$`)
	pointRE   = regexp.MustCompile(`^BG[A-Z0-9]{11}[0-9]{6}$`)
	arcRE     = regexp.MustCompile(`^[0-9]{2}[A-Z]{2}[A-Z0-9]{16}[0-9]$`)
	countRE   = regexp.MustCompile(`^[1-9][0-9]{0,8}$`)
	cnRE      = regexp.MustCompile(`^([0-9]{8}|[0-9]{4} [0-9]{2} [0-9]{2})$`)
	kgRE      = regexp.MustCompile(`^[0-9]{1,4}(\.[0-9]{1,3})?$`)
	priceRE   = regexp.MustCompile(`^[0-9]{1,6}(\.[0-9]{1,2})?$`)
	countryRE = regexp.MustCompile(`^[A-Z]{2}$`)
	dateRE    = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	timeRE    = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$`)
)

func (p *parser) pattern(at pos, v, attr string, se xml.StartElement, re *regexp.Regexp, want string) bool {
	if !re.MatchString(v) {
		p.badValue(at, v, attr, se, i18n.M(want))
		return false
	}
	return true
}

func (p *parser) count(at pos, v, attr string, se xml.StartElement) (int, bool) {
	if !p.pattern(at, v, attr, se, countRE, "sepi.want.count") {
		return 0, false
	}
	n := 0
	for _, c := range v {
		n = n*10 + int(c-'0')
	}
	return n, true
}

func enum[T ~string](p *parser, at pos, v, attr string, se xml.StartElement, allowed []T) (T, bool) {
	if slices.Contains(allowed, T(v)) {
		return T(v), true
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	p.badValue(at, v, attr, se, i18n.M("sepi.want.enum", strings.Join(names, ", ")))
	var zero T
	return zero, false
}

// text reads a required text attribute: the schema's xs:token, whitespace collapsed, 1 to max characters.
func (p *parser) text(at pos, v *string, attr string, se xml.StartElement, max int) string {
	if v == nil {
		return ""
	}
	s := strings.Join(strings.FieldsFunc(*v, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }), " ")
	if n := utf8.RuneCountInString(s); n == 0 || n > max {
		p.badValue(at, *v, attr, se, i18n.M("sepi.want.text", max))
		return ""
	}
	return s
}

func (p *parser) eik(at pos, v *string, attr string, se xml.StartElement) string {
	if v == nil || !p.pattern(at, *v, attr, se, eikRE, "sepi.want.eik") {
		return ""
	}
	if !core.ValidEIK(*v) {
		p.add(at, "eik", "sepi.rule.eik", *v)
	}
	return *v
}

func (p *parser) dateTime(at pos, v *string, attr string, se xml.StartElement) time.Time {
	if v == nil || !p.pattern(at, *v, attr, se, timeRE, "sepi.want.datetime") {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, *v)
	if err != nil {
		p.badValue(at, *v, attr, se, i18n.M("sepi.want.datetime"))
	}
	return t
}

// String gives the error in English, for logs and developers.
func (e Error) String() string {
	return fmt.Sprintf("%d:%d: %s [%s]", e.Line, e.Col, Text(i18n.For(i18n.EN), e.Msg), e.Rule)
}

// goodsName is the name of a kind of good for a person.
func goodsName(g Goods) i18n.Message {
	switch g {
	case Cigars:
		return i18n.M("sepi.goods.cigars")
	case SmokingTobacco:
		return i18n.M("sepi.goods.smoking-tobacco")
	}
	return i18n.M("sepi.goods.cigarettes")
}
