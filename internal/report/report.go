// Package report renders documents that people print, sign and hand over — the Modbus map of чл. 35(4)–(5),
// commissioning and comparison protocols, exports of the console — in four formats from one model:
// CSV (for Excel and for machines), XLSX, a self-contained printable HTML page, and PDF.
//
// A Document is a title, metadata lines (operator, site, file hashes, …) and sections; a section holds
// paragraphs and tables in order. A table's rows come from a slice, from an iterator, or both (the slice
// first), so that a renderer can stream a table of millions of rows without holding it: CSV and XLSX
// write row by row, and so do HTML and PDF, which keep only their own output. Renderers read at most the
// first layoutSample rows ahead of writing, to size the columns.
//
// Every text a person reads that the package adds itself (page numbers, the cover sheet's name) comes from
// the i18n catalogue, area "report", in the document's language.
package report

import (
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/akciz/akciz/internal/i18n"
)

// Document is what a renderer renders.
type Document struct {
	Title    string
	Subtitle string
	// Meta are the "label: value" lines under the title: operator, site, generated at, file hashes.
	Meta     []Field
	Sections []*Section
	// Lang is the language of the texts the renderers add (page numbers, sheet names) and of number
	// formatting in HTML and PDF (Bulgarian writes a decimal comma). Empty means Bulgarian.
	Lang i18n.Lang
	// Created is when the document was made. It is stamped into the PDF and XLSX metadata instead of
	// the wall clock, so that the same document renders to the same bytes; the zero time means now.
	Created time.Time
	// Orientation of PDF pages; by default landscape when a table is too wide for a portrait A4.
	Orientation Orientation
}

// Field is one metadata line.
type Field struct {
	Label string
	Value string
}

// Section is a heading and its blocks (paragraphs and tables) in order. In XLSX a section is one sheet.
type Section struct {
	Heading string
	// SheetName is the XLSX sheet name; empty means the heading. Either is cleaned to what Excel accepts
	// (at most 31 characters, none of []:*?/\) and made unique.
	SheetName string
	// NewPage starts the section on a new page in PDF (a protocol's second copy, which is cut off and
	// handed over on its own); the other formats ignore it.
	NewPage bool
	Blocks  []Block
}

// Block is a Paragraph or a *Table.
type Block interface{ block() }

// Paragraph is a block of text. Line breaks in it are kept.
type Paragraph string

func (Paragraph) block() {}

// Table is a block of rows under a header.
type Table struct {
	// Caption is an optional line printed above the table.
	Caption string
	Columns []Column
	// Rows are rows held in memory; they come first.
	Rows [][]Cell
	// Source, if not nil, yields more rows after Rows; an error it yields stops the rendering and is
	// returned by the renderer. A renderer ranges over Source once per rendering.
	Source iter.Seq2[[]Cell, error]
	// Empty is the text shown in HTML and PDF when the table has no rows; empty means "no rows" in the
	// document's language.
	Empty string
}

func (*Table) block() {}

// All yields the table's rows: Rows, then Source.
func (t *Table) All() iter.Seq2[[]Cell, error] {
	return func(yield func([]Cell, error) bool) {
		for _, r := range t.Rows {
			if !yield(r, nil) {
				return
			}
		}
		if t.Source == nil {
			return
		}
		for r, err := range t.Source {
			if !yield(r, err) || err != nil {
				return
			}
		}
	}
}

// Column describes one column of a table.
type Column struct {
	Header string
	Align  Align
	// Width is a hint in characters (the width of a digit in the body font); zero means "fit the header
	// and the first rows". PDF scales the widths to the page; XLSX uses them as column widths.
	Width float64
}

// Align is the horizontal alignment of a column's cells.
type Align uint8

// Alignments. AlignAuto puts numbers right and text left.
const (
	AlignAuto Align = iota
	AlignLeft
	AlignCenter
	AlignRight
)

// Orientation of PDF pages.
type Orientation uint8

// Orientations.
const (
	OrientationAuto Orientation = iota
	Portrait
	Landscape
)

type cellKind uint8

const (
	kindText cellKind = iota
	kindInt
	kindFloat
)

// Cell is one value of a table: a text, or a number that XLSX stores as a number and CSV, HTML and PDF
// write in the document's decimal convention. The zero Cell is an empty text.
type Cell struct {
	text string // for numbers, the canonical form with a decimal point
	num  float64
	i    int64
	kind cellKind
}

// Text makes a text cell. Invalid UTF-8 and control characters other than tab and line feed, which no
// format below can carry faithfully, become U+FFFD.
func Text(s string) Cell { return Cell{text: cleanText(s)} }

// Int makes an integer cell.
func Int(v int64) Cell {
	return Cell{text: strconv.FormatInt(v, 10), i: v, num: float64(v), kind: kindInt}
}

// Float makes a number cell written with prec digits after the decimal point; prec < 0 means the fewest
// digits that represent v exactly.
func Float(v float64, prec int) Cell {
	return Cell{text: strconv.FormatFloat(v, 'f', prec, 64), num: v, kind: kindFloat}
}

// String is the cell's text; numbers use a decimal point.
func (c Cell) String() string { return c.text }

// Number reports the cell's value if it is a number.
func (c Cell) Number() (float64, bool) { return c.num, c.kind != kindText }

// IsNumber reports whether the cell is a number.
func (c Cell) IsNumber() bool { return c.kind != kindText }

// format is the cell's text with the given decimal separator.
func (c Cell) format(decimal rune) string {
	if c.kind == kindFloat && decimal != '.' && decimal != 0 {
		return strings.Replace(c.text, ".", string(decimal), 1)
	}
	return c.text
}

func cleanText(s string) string {
	ok := utf8.ValidString(s)
	if ok {
		for _, r := range s {
			if unicode.IsControl(r) && r != '\n' && r != '\t' {
				ok = false
				break
			}
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if r == '\r' {
			continue // CR LF and lone CR alike read as one line break
		}
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			r = '\uFFFD'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (d *Document) printer() *i18n.Printer { return i18n.For(d.Lang) }

// decimal is the decimal separator of the document's language.
func (d *Document) decimal() rune {
	if d.Lang == i18n.EN {
		return '.'
	}
	return ','
}

func (d *Document) created() time.Time {
	if d.Created.IsZero() {
		return time.Now()
	}
	return d.Created
}

// tables yields every table of the document with its section.
func (d *Document) tables() iter.Seq2[*Section, *Table] {
	return func(yield func(*Section, *Table) bool) {
		for _, s := range d.Sections {
			for _, b := range s.Blocks {
				if t, ok := b.(*Table); ok && !yield(s, t) {
					return
				}
			}
		}
	}
}

// layoutSample is how many rows a renderer reads ahead of writing to size the columns.
const layoutSample = 200

// cursor reads a table's rows once: Rows by index, then Source, of which it may have read the first few
// ahead to size the columns.
type cursor struct {
	t      *Table
	ri     int      // index into t.Rows of the next row
	buf    [][]Cell // rows of Source read ahead
	bi     int      // index into buf of the next row
	next   func() ([]Cell, error, bool)
	stop   func()
	n      int // rows returned so far
	err    error
	closed bool
}

// open starts reading t and reads ahead from its Source until sample rows are known.
func open(t *Table, sample int) *cursor {
	c := &cursor{t: t, stop: func() {}}
	if t.Source == nil {
		return c
	}
	c.next, c.stop = iter.Pull2(t.Source)
	for len(t.Rows)+len(c.buf) < sample {
		r, err, ok := c.next()
		if !ok {
			c.closed = true
			break
		}
		if err != nil {
			c.err = err
			break
		}
		c.buf = append(c.buf, r)
	}
	return c
}

// sample is up to n of the first rows, for sizing columns.
func (c *cursor) sample(n int) [][]Cell {
	if len(c.t.Rows) >= n {
		return c.t.Rows[:n]
	}
	s := make([][]Cell, 0, min(n, len(c.t.Rows)+len(c.buf)))
	s = append(s, c.t.Rows...)
	return append(s, c.buf[:min(len(c.buf), n-len(s))]...)
}

// Next returns the next row, padded to the number of columns; false at the end or on an error (Err).
func (c *cursor) Next() ([]Cell, bool) {
	var r []Cell
	switch {
	case c.ri < len(c.t.Rows):
		r = c.t.Rows[c.ri]
		c.ri++
	case c.bi < len(c.buf):
		r = c.buf[c.bi]
		c.buf[c.bi] = nil // let a long stream's first rows go
		c.bi++
	case c.err != nil || c.closed || c.next == nil:
		return nil, false
	default:
		var err error
		var ok bool
		r, err, ok = c.next()
		if !ok {
			c.closed = true
			return nil, false
		}
		if err != nil {
			c.err = err
			return nil, false
		}
	}
	c.n++
	if len(r) > len(c.t.Columns) {
		c.err = fmt.Errorf("report: table %q: row %d has %d cells for %d columns", c.t.name(), c.n, len(r), len(c.t.Columns))
		c.ri, c.bi, c.closed = len(c.t.Rows), len(c.buf), true
		return nil, false
	}
	if len(r) < len(c.t.Columns) {
		p := make([]Cell, len(c.t.Columns))
		copy(p, r)
		r = p
	}
	return r, true
}

// Err is the error that stopped the rows, if any.
func (c *cursor) Err() error { return c.err }

// Close releases the row source.
func (c *cursor) Close() { c.stop() }

func (t *Table) name() string {
	if t.Caption != "" {
		return t.Caption
	}
	if len(t.Columns) > 0 {
		return t.Columns[0].Header
	}
	return ""
}

// widths returns each column's width in characters: the hint, or the longest word of the header and
// the longest line of the sampled cells, within [minWidth, maxAutoWidth].
func widths(cols []Column, sample [][]Cell) []float64 {
	const minWidth, maxAutoWidth = 4, 48
	w := make([]float64, len(cols))
	for i, c := range cols {
		if c.Width > 0 {
			w[i] = c.Width
			continue
		}
		n := longestWord(c.Header)
		for _, r := range sample {
			if i < len(r) {
				n = max(n, longestLine(r[i].text))
			}
		}
		w[i] = float64(min(max(n, minWidth), maxAutoWidth))
	}
	return w
}

func longestWord(s string) int {
	n := 0
	for _, f := range strings.Fields(s) {
		n = max(n, utf8.RuneCountInString(f))
	}
	return n
}

func longestLine(s string) int {
	n := 0
	for l := range strings.SplitSeq(s, "\n") {
		n = max(n, utf8.RuneCountInString(l))
	}
	return n
}

// align resolves AlignAuto for a cell.
func (a Align) of(c Cell) Align {
	if a != AlignAuto {
		return a
	}
	if c.IsNumber() {
		return AlignRight
	}
	return AlignLeft
}
