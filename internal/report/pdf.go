package report

import (
	_ "embed"
	"io"
	"math"
	"strings"
	"unicode"

	"github.com/go-pdf/fpdf"
)

// DejaVu Sans covers Cyrillic, Latin and the symbols of the ordinance (≤, °, ³); its licence is in
// fonts/LICENSE.
var (
	//go:embed fonts/DejaVuSans.ttf
	fontRegular []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	fontBold []byte
)

// Page geometry and type sizes, in millimetres and points.
const (
	pdfMarginX      = 10.0
	pdfMarginTop    = 12.0
	pdfMarginBottom = 14.0 // the footer lives in it
	pdfPad          = 1.0  // inside a table cell
	pdfBodySize     = 8.0  // of table cells, unless the table is too wide for it
	pdfMinBodySize  = 7.0
	pdfLineH        = 3.6 // one line of body text at pdfBodySize
	pdfNbAlias      = "{nb}"
	// a table wider than this many characters goes on landscape pages
	pdfPortraitChars = 110
)

// PDF writes the document as a PDF on A4 pages — landscape when a table is wide (or as
// Document.Orientation says) — in DejaVu Sans, embedded. Tables fill the page width, their cells wrap,
// and their header row is repeated at the top of every page they run onto. Every page is numbered
// "Страница N от M". The output depends on the document only: the creation date is Document.Created.
//
// fpdf keeps the pages of the document in memory until the end, so a PDF is for documents that are
// printed: thousands of rows, not millions.
func PDF(w io.Writer, d *Document) error {
	p := &pdfWriter{d: d}
	// Open every table first: the orientation of the pages depends on the widest one.
	var curs []*cursor
	defer func() {
		for _, c := range curs {
			c.Close()
		}
	}()
	wide := false
	for _, t := range d.tables() {
		c := open(t, layoutSample)
		curs = append(curs, c)
		total := 0.0
		for _, x := range widths(t.Columns, c.sample(layoutSample)) {
			total += x
		}
		wide = wide || total > pdfPortraitChars
	}
	orient := "P"
	if d.Orientation == Landscape || d.Orientation == OrientationAuto && wide {
		orient = "L"
	}
	f := fpdf.New(orient, "mm", "A4", "")
	p.f = f
	f.SetCatalogSort(true)
	f.SetCompression(true)
	f.SetCreationDate(d.created())
	f.SetModificationDate(d.created())
	f.SetTitle(pdfText(d.Title), true)
	f.SetSubject(pdfText(d.Subtitle), true)
	f.SetCreator("akciz", true)
	f.SetProducer("akciz", true)
	f.SetLang(d.lang())
	f.AddUTF8FontFromBytes("dejavu", "", fontRegular)
	f.AddUTF8FontFromBytes("dejavu", "B", fontBold)
	f.SetMargins(pdfMarginX, pdfMarginTop, pdfMarginX)
	f.SetAutoPageBreak(false, pdfMarginBottom) // rows are placed by hand, to repeat table headers
	f.SetCellMargin(pdfPad)
	f.AliasNbPages(pdfNbAlias)
	f.SetHeaderFunc(p.pageHeader)
	f.SetFooterFunc(p.pageFooter)
	p.pageW, p.pageH = f.GetPageSize()
	p.bottom = p.pageH - pdfMarginBottom
	pts := make([]*pdfTable, len(curs))
	for i, c := range curs {
		pts[i] = p.prepare(c.t, c)
	}
	f.AddPage()
	p.titleBlock()
	ti := 0
	for _, s := range d.Sections {
		p.section = s
		if s.NewPage && p.f.GetY() > pdfMarginTop {
			p.newPage()
		}
		p.sectionHeading(s, p.sectionLead(s, pts[ti:]))
		for _, b := range s.Blocks {
			switch b := b.(type) {
			case Paragraph:
				p.paragraph(string(b))
			case *Table:
				if err := p.table(pts[ti], curs[ti]); err != nil {
					return err
				}
				ti++
			}
		}
	}
	return f.Output(w)
}

type pdfWriter struct {
	d              *Document
	f              *fpdf.Fpdf
	pageW, pageH   float64
	bottom         float64
	section        *Section
	continuedTable *pdfTable // the table whose header a new page repeats, if any
}

func (p *pdfWriter) usable() float64 { return p.pageW - 2*pdfMarginX }

func (p *pdfWriter) font(bold bool, size float64) {
	style := ""
	if bold {
		style = "B"
	}
	p.f.SetFont("dejavu", style, size)
}

// pageHeader runs at the top of every page: after the first, the document's title in small grey.
func (p *pdfWriter) pageHeader() {
	if p.f.PageNo() == 1 {
		return
	}
	p.font(false, 7)
	p.f.SetTextColor(100, 100, 100)
	p.f.SetXY(pdfMarginX, 6)
	p.f.CellFormat(p.usable(), 4, fitLine(p.f, pdfText(p.d.Title), p.usable()), "", 0, "L", false, 0, "")
	p.f.SetTextColor(0, 0, 0)
	p.f.SetXY(pdfMarginX, pdfMarginTop)
}

// pageFooter numbers the page, "Страница N от M", with the title on the left.
func (p *pdfWriter) pageFooter() {
	y := p.pageH - pdfMarginBottom + 5
	p.f.SetDrawColor(190, 190, 190)
	p.f.SetLineWidth(0.2)
	p.f.Line(pdfMarginX, y-1, p.pageW-pdfMarginX, y-1)
	p.font(false, 7)
	p.f.SetTextColor(100, 100, 100)
	num := p.d.printer().T("report.page_of", p.f.PageNo(), pdfNbAlias)
	nw := p.f.GetStringWidth(num) + 2*pdfPad + 6
	p.f.SetXY(pdfMarginX, y)
	p.f.CellFormat(p.usable()-nw, 4, fitLine(p.f, pdfText(p.d.Title), p.usable()-nw), "", 0, "L", false, 0, "")
	p.f.SetXY(p.pageW-pdfMarginX-nw, y)
	p.f.CellFormat(nw, 4, num, "", 0, "R", false, 0, "")
	p.f.SetTextColor(0, 0, 0)
}

func (p *pdfWriter) newPage() {
	p.f.AddPage()
	p.f.SetY(pdfMarginTop)
}

// need starts a new page unless h millimetres are left on this one.
func (p *pdfWriter) need(h float64) bool {
	if p.f.GetY()+h <= p.bottom {
		return false
	}
	p.newPage()
	return true
}

// lines writes wrapped text across the usable width, breaking pages between lines.
func (p *pdfWriter) lines(s string, lineH float64) {
	for _, l := range wrap(p.f, pdfText(s), p.usable()) {
		p.need(lineH)
		p.f.SetX(pdfMarginX)
		p.f.CellFormat(p.usable(), lineH, l, "", 1, "L", false, 0, "")
	}
}

func (p *pdfWriter) titleBlock() {
	d := p.d
	p.font(true, 15)
	p.lines(d.Title, 7)
	if d.Subtitle != "" {
		p.font(false, 10.5)
		p.lines(d.Subtitle, 5.2)
	}
	if len(d.Meta) == 0 {
		return
	}
	p.f.Ln(2)
	p.font(true, 8.5)
	lw := 0.0
	for _, m := range d.Meta {
		lw = max(lw, p.f.GetStringWidth(pdfText(m.Label)))
	}
	lw = min(lw+2*pdfPad+2, p.usable()/3)
	vw := p.usable() - lw
	for _, m := range d.Meta {
		p.font(true, 8.5)
		ls := wrap(p.f, pdfText(m.Label), lw)
		p.font(false, 8.5)
		vs := wrap(p.f, pdfText(m.Value), vw)
		n := max(len(ls), len(vs), 1)
		p.need(float64(n) * 4)
		y := p.f.GetY()
		p.font(true, 8.5)
		for i, l := range ls {
			p.f.SetXY(pdfMarginX, y+float64(i)*4)
			p.f.CellFormat(lw, 4, l, "", 0, "L", false, 0, "")
		}
		p.font(false, 8.5)
		for i, l := range vs {
			p.f.SetXY(pdfMarginX+lw, y+float64(i)*4)
			p.f.CellFormat(vw, 4, l, "", 0, "L", false, 0, "")
		}
		p.f.SetY(y + float64(n)*4)
	}
}

// sectionLead is the height of what must not be parted from a section's heading: the heading, the
// paragraphs before the first table, and that table's start (all of it if it is short).
func (p *pdfWriter) sectionLead(s *Section, next []*pdfTable) float64 {
	p.font(true, 11.5)
	h := 5 + float64(len(wrap(p.f, pdfText(s.Heading), p.usable())))*6 + 2
	for _, b := range s.Blocks {
		switch b := b.(type) {
		case Paragraph:
			p.font(false, 9)
			h += float64(len(wrap(p.f, pdfText(string(b)), p.usable())))*4.4 + 1.5
		case *Table:
			if len(next) > 0 {
				h += 1.5 + p.tableLead(next[0])
			}
			return h
		}
	}
	return h
}

func (p *pdfWriter) sectionHeading(s *Section, lead float64) {
	p.continuedTable = nil
	// A heading starts a page rather than end one: with its lead if that fits on a page, else with at
	// least a few lines.
	if y := p.f.GetY(); y > pdfMarginTop && (y+lead > p.bottom && lead <= p.bottom-pdfMarginTop || y+5+7+3*pdfLineH+2*pdfPad > p.bottom) {
		p.newPage()
	} else if y > pdfMarginTop {
		p.f.Ln(5)
	}
	p.font(true, 11.5)
	p.lines(s.Heading, 6)
	y := p.f.GetY()
	p.f.SetDrawColor(160, 160, 160)
	p.f.SetLineWidth(0.3)
	p.f.Line(pdfMarginX, y+0.5, p.pageW-pdfMarginX, y+0.5)
	p.f.SetY(y + 2)
}

func (p *pdfWriter) paragraph(s string) {
	p.continuedTable = nil
	p.font(false, 9)
	p.lines(s, 4.4)
	p.f.Ln(1.5)
}

// pdfTable is a table being written: its column widths and alignments on this page size.
type pdfTable struct {
	t       *Table
	w       []float64
	aligns  []Align
	size    float64 // type size of the cells, points
	lineH   float64 // height of a line of cell text, mm
	headerH float64
	whole   float64 // height of the whole table if it is kept on one page, else -1
}

// keepTogetherRows is the most rows of a table that the PDF moves whole to the next page rather than
// split.
const keepTogetherRows = 30

// captionHeight is the height of a table's caption.
func (p *pdfWriter) captionHeight(t *Table) float64 {
	if t.Caption == "" {
		return 0
	}
	p.font(false, 8.5)
	return float64(len(wrap(p.f, pdfText(t.Caption), p.usable()))) * 4.5
}

func (p *pdfWriter) caption(t *Table) {
	if t.Caption == "" {
		return
	}
	p.font(false, 8.5)
	p.f.SetTextColor(60, 60, 60)
	p.lines(t.Caption, 4.5)
	p.f.SetTextColor(0, 0, 0)
}

// prepare sizes a table for the page: its type size, column widths and header height.
func (p *pdfWriter) prepare(t *Table, c *cursor) *pdfTable {
	pt := &pdfTable{t: t}
	pt.size, pt.w = p.columnWidths(t, c.sample(layoutSample))
	pt.lineH = pdfLineH * pt.size / pdfBodySize
	for _, col := range t.Columns {
		pt.aligns = append(pt.aligns, col.Align)
	}
	p.font(true, pt.size)
	pt.headerH = pt.height(p.cellLines(pt, nil))
	pt.whole = -1
	// A short table that fits on a page is not split between two: know its height.
	if t.Source == nil && len(t.Rows) <= keepTogetherRows {
		h := pt.headerH + p.captionHeight(t)
		texts := make([]string, len(t.Columns))
		p.font(false, pt.size)
		for _, r := range t.Rows {
			for i := range texts {
				texts[i] = ""
				if i < len(r) {
					texts[i] = r[i].format(p.d.decimal())
				}
			}
			h += pt.height(p.cellLines(pt, texts))
		}
		if len(t.Rows) == 0 {
			h += pt.lineH + 2*pdfPad
		}
		if h <= p.bottom-pdfMarginTop-6 {
			pt.whole = h
		}
	}
	return pt
}

// tableLead is the height a table needs on the page it starts on: all of it when it is kept together,
// else its caption, header and two lines.
func (p *pdfWriter) tableLead(pt *pdfTable) float64 {
	if p.keepWhole(pt) {
		return pt.whole
	}
	return p.captionHeight(pt.t) + pt.headerH + 2*pt.lineH + 2*pdfPad
}

// keepWhole reports whether a table is kept on one page: it is short, and moving it to the next page
// leaves less than a third of this one empty (more would be a worse look than a split with the header
// repeated).
func (p *pdfWriter) keepWhole(pt *pdfTable) bool {
	return pt.whole >= 0 && p.bottom-p.f.GetY() < (p.bottom-pdfMarginTop)/3
}

func (p *pdfWriter) table(pt *pdfTable, c *cursor) error {
	t := pt.t
	p.f.Ln(1.5)
	if p.keepWhole(pt) && p.f.GetY()+pt.whole > p.bottom {
		p.newPage()
		p.continuedHeading()
	}
	// The caption, the header and the first row (or two lines of it) go on the same page.
	p.need(p.captionHeight(t) + pt.headerH + 2*pt.lineH + 2*pdfPad)
	p.caption(t)
	p.font(true, pt.size)
	p.header(pt, p.cellLines(pt, nil))
	p.continuedTable = pt
	dec := p.d.decimal()
	texts := make([]string, len(t.Columns))
	n := 0
	for r, ok := c.Next(); ok; r, ok = c.Next() {
		for i, x := range r {
			texts[i] = x.format(dec)
			pt.aligns[i] = t.Columns[i].Align.of(x)
		}
		p.font(false, pt.size)
		p.row(pt, p.cellLines(pt, texts), n%2 == 1, false)
		n++
	}
	if err := c.Err(); err != nil {
		return err
	}
	if n == 0 {
		empty := t.Empty
		if empty == "" {
			empty = p.d.printer().T("report.no_rows")
		}
		p.font(false, pt.size)
		p.f.SetTextColor(90, 90, 90)
		total := sum(pt.w)
		p.row(&pdfTable{t: t, w: []float64{total}, aligns: []Align{AlignCenter}, size: pt.size, lineH: pt.lineH, headerH: pt.headerH}, [][]string{wrap(p.f, pdfText(empty), total)}, false, false)
		p.f.SetTextColor(0, 0, 0)
	}
	p.continuedTable = nil
	p.f.Ln(2)
	return nil
}

// columnWidths picks the table's type size and turns the character widths of its columns into
// millimetres that fill the page, giving every column at least the width of its header's longest word.
// A table too wide for the page at pdfBodySize is set smaller, down to pdfMinBodySize, before its
// cells are squeezed.
func (p *pdfWriter) columnWidths(t *Table, sample [][]Cell) (size float64, w []float64) {
	chars := widths(t.Columns, sample)
	n := len(chars)
	natural := func(size float64) float64 {
		p.font(false, size)
		char := p.f.GetStringWidth("0")
		sum := 0.0
		for _, c := range chars {
			sum += c*char + 2*pdfPad
		}
		return sum
	}
	size = pdfBodySize
	if nat := natural(size); nat > p.usable() {
		size = max(pdfMinBodySize, math.Floor(2*size*p.usable()/nat)/2)
	}
	minW := make([]float64, n)
	p.font(true, size)
	for i, col := range t.Columns {
		for _, word := range strings.Fields(pdfText(col.Header)) {
			minW[i] = max(minW[i], p.f.GetStringWidth(word))
		}
		minW[i] += 2*pdfPad + 0.5
	}
	// If even the headers' longest words do not fit side by side, they share the page in proportion.
	if sum := sum(minW); sum > p.usable() {
		for i := range minW {
			minW[i] *= p.usable() / sum
		}
	}
	// A table fills the page unless that would stretch it to more than twice its natural width (a narrow
	// table of two short columns reads better narrow).
	width := min(p.usable(), 2*natural(size))
	w = make([]float64, n)
	fixed := make([]bool, n)
	for {
		free, weight := width, 0.0
		for i := range w {
			if fixed[i] {
				free -= w[i]
			} else {
				weight += chars[i]
			}
		}
		changed := false
		for i := range w {
			if !fixed[i] {
				w[i] = free * chars[i] / weight
				if w[i] < minW[i] {
					w[i], fixed[i], changed = minW[i], true, true
				}
			}
		}
		if !changed || weight == 0 {
			return size, w
		}
	}
}

// cellLines wraps the texts of a row (the header if texts is nil) in the table's columns, in the
// current font.
func (p *pdfWriter) cellLines(pt *pdfTable, texts []string) [][]string {
	out := make([][]string, len(pt.w))
	for i := range pt.w {
		s := ""
		if texts == nil {
			s = pt.t.Columns[i].Header
		} else {
			s = texts[i]
		}
		out[i] = wrap(p.f, pdfText(s), pt.w[i])
	}
	return out
}

func (pt *pdfTable) height(lines [][]string) float64 {
	n := 1
	for _, l := range lines {
		n = max(n, len(l))
	}
	return float64(n)*pt.lineH + 2*pdfPad
}

func (p *pdfWriter) header(pt *pdfTable, lines [][]string) {
	p.font(true, pt.size)
	aligns := pt.aligns
	pt.aligns = make([]Align, len(lines))
	for i := range pt.aligns {
		pt.aligns[i] = AlignCenter
	}
	p.row(pt, lines, true, true)
	pt.aligns = aligns
}

// row draws one table row, moving to a new page (with the table's header repeated) where it does not
// fit. A row taller than a whole page is split between pages, line by line.
func (p *pdfWriter) row(pt *pdfTable, lines [][]string, shade, isHeader bool) {
	total := 1
	for _, l := range lines {
		total = max(total, len(l))
	}
	// A row that does not fit here goes to the next page, unless it would not fit on a whole page either:
	// then it starts here and runs on.
	if h := pt.height(lines); !isHeader && p.f.GetY()+h > p.bottom && h <= p.bottom-pdfMarginTop-pt.headerH-6 {
		p.breakTable()
	}
	from := 0
	broke := false
	for {
		fit := int((p.bottom - p.f.GetY() - 2*pdfPad) / pt.lineH)
		if fit < 1 {
			if !broke {
				p.breakTable()
				broke = true
				continue
			}
			fit = 1 // a header taller than a page leaves no room: overflow rather than loop
		}
		take := min(total-from, fit)
		p.drawRow(pt, lines, from, take, shade, isHeader)
		from += take
		if from >= total {
			return
		}
		p.breakTable()
		broke = true
	}
}

// breakTable moves to a new page and repeats the header of the table being written.
func (p *pdfWriter) breakTable() {
	p.newPage()
	pt := p.continuedTable
	if pt == nil {
		return
	}
	p.continuedHeading()
	p.continuedTable = nil // the header fits on a fresh page; do not recurse
	p.caption(pt.t)
	p.font(true, pt.size)
	p.header(pt, p.cellLines(pt, nil))
	p.continuedTable = pt
	p.font(false, pt.size)
}

// continuedHeading names, at the top of a page, the section that goes on from the page before.
func (p *pdfWriter) continuedHeading() {
	if p.section == nil || p.section.Heading == "" {
		return
	}
	p.font(true, 8.5)
	p.f.SetTextColor(90, 90, 90)
	p.lines(p.d.printer().T("report.continued", p.section.Heading), 4.5)
	p.f.SetTextColor(0, 0, 0)
	p.f.Ln(0.8)
}

func (p *pdfWriter) drawRow(pt *pdfTable, lines [][]string, from, take int, shade, isHeader bool) {
	f := p.f
	y := f.GetY()
	h := float64(take)*pt.lineH + 2*pdfPad
	x := pdfMarginX
	f.SetDrawColor(191, 191, 191)
	f.SetLineWidth(0.2)
	switch {
	case isHeader:
		f.SetFillColor(231, 230, 230)
	case shade:
		f.SetFillColor(247, 247, 247)
	}
	for i, w := range pt.w {
		style := "D"
		if isHeader || shade {
			style = "FD"
		}
		f.Rect(x, y, w, h, style)
		a := alignStr(pt.aligns[i])
		top := y + pdfPad
		if isHeader {
			top = y + pdfPad + float64(take-min(len(lines[i]), take))*pt.lineH/2 // centred vertically
		}
		for k := 0; k < take && from+k < len(lines[i]); k++ {
			f.SetXY(x, top+float64(k)*pt.lineH)
			f.CellFormat(w, pt.lineH, lines[i][from+k], "", 0, a, false, 0, "")
		}
		x += w
	}
	f.SetXY(pdfMarginX, y+h)
}

func alignStr(a Align) string {
	switch a {
	case AlignRight:
		return "R"
	case AlignCenter:
		return "C"
	}
	return "L"
}

// pdfText makes s safe for fpdf and the embedded font: fpdf indexes its width table by rune and panics
// beyond the Basic Multilingual Plane, and a tab has no glyph.
func pdfText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case r > 0xFFFF, r != '\n' && unicode.IsControl(r):
			return '\uFFFD'
		}
		return r
	}, cleanText(s))
}

// wrap breaks s into lines no wider than w (a cell's width, padding included) in the current font:
// at spaces where it can, inside a word where it must. Line breaks in s are kept.
func wrap(f *fpdf.Fpdf, s string, w float64) []string {
	avail := w - 2*pdfPad
	var out []string
	for para := range strings.SplitSeq(s, "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			try := word
			if line != "" {
				try = line + " " + word
			}
			if f.GetStringWidth(try) <= avail {
				line = try
				continue
			}
			if line != "" {
				out = append(out, line)
				line = ""
			}
			for f.GetStringWidth(word) > avail {
				cut := fitPrefix(f, word, avail)
				out = append(out, word[:cut])
				word = word[cut:]
			}
			line = word
		}
		out = append(out, line)
	}
	// A cell that ends in empty lines should not grow for them.
	for len(out) > 1 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// fitPrefix is the length in bytes of the longest prefix of word (at least one rune) that fits in avail.
func fitPrefix(f *fpdf.Fpdf, word string, avail float64) int {
	cut := 0
	for i, r := range word {
		end := i + len(string(r))
		if cut > 0 && f.GetStringWidth(word[:end]) > avail {
			break
		}
		cut = end
	}
	return cut
}

// fitLine shortens s with an ellipsis to fit in one line of width w.
func fitLine(f *fpdf.Fpdf, s string, w float64) string {
	s = strings.Join(strings.Fields(s), " ")
	avail := w - 2*pdfPad
	if f.GetStringWidth(s) <= avail {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && f.GetStringWidth(string(r)+"…") > avail {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

func sum(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s
}
