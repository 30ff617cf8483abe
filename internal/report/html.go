package report

import (
	"bufio"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"iter"
	"strconv"
	"strings"
	"unicode"
)

//go:embed report.css
var reportCSS string

//go:embed report.html.tmpl
var reportHTML string

var htmlTemplate = template.Must(template.New("report").Parse(reportHTML))

// HTML writes the document as one self-contained page (no external files) that prints on A4 landscape
// with each table's header repeated on every page. Every text is escaped by html/template.
func HTML(w io.Writer, d *Document) error {
	bw := bufio.NewWriter(w)
	v := &htmlDoc{d: d, p: d.printer()}
	if err := htmlTemplate.Execute(bw, v); err != nil {
		return err
	}
	if v.err != nil {
		return v.err
	}
	return bw.Flush()
}

// htmlDoc is what the template sees. Rows are an iterator so that a long table streams through the
// template; the first error of a row source is kept in err.
type htmlDoc struct {
	d   *Document
	p   interface{ T(string, ...any) string }
	err error
}

type htmlBlock struct {
	Para  string
	Table *htmlTable
}

type htmlTable struct {
	Caption string
	Cols    []htmlCol
	Rows    iter.Seq[[]htmlCell]
	Empty   string
	n       int
}

type htmlCol struct {
	Header string
	Class  string
	Width  string // a share of the table's width, "12.5%"
}

type htmlCell struct {
	Text  string
	Class string
}

func (v *htmlDoc) Lang() string      { return v.d.lang() }
func (v *htmlDoc) Title() string     { return v.d.Title }
func (v *htmlDoc) Subtitle() string  { return v.d.Subtitle }
func (v *htmlDoc) Meta() []Field     { return v.d.Meta }
func (v *htmlDoc) CSS() template.CSS { return template.CSS(reportCSS) }

// PageCSS numbers printed pages ("Страница N от M") where the browser supports page margin boxes.
func (v *htmlDoc) PageCSS() template.CSS {
	const page, pages = 918273645, "\x00"
	s := v.p.T("report.page_of", page, pages)
	var content strings.Builder
	for s != "" {
		i := strings.IndexAny(s, "9\x00")
		switch {
		case i < 0:
			content.WriteString(cssString(s))
			s = ""
		case strings.HasPrefix(s[i:], strconv.Itoa(page)):
			content.WriteString(cssString(s[:i]) + " counter(page) ")
			s = s[i+len(strconv.Itoa(page)):]
		case s[i] == 0:
			content.WriteString(cssString(s[:i]) + " counter(pages) ")
			s = s[i+1:]
		default:
			content.WriteString(cssString(s[:i+1]))
			s = s[i+1:]
		}
	}
	return template.CSS("@page{@bottom-right{content:" + content.String() + ";font:8pt sans-serif;color:#555}}")
}

// cssString is s as a quoted CSS string; every character that is not a letter, a digit or a space is
// written as a CSS escape, so that nothing in a translation can end the string or the style sheet.
func cssString(s string) string {
	if s == "" {
		return ""
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == ' ' {
			b.WriteRune(r)
			continue
		}
		fmt.Fprintf(&b, "\\%x ", r)
	}
	b.WriteByte('"')
	return b.String()
}

type htmlSection struct {
	Heading string
	Blocks  iter.Seq[htmlBlock]
}

func (v *htmlDoc) Sections() iter.Seq[htmlSection] {
	return func(yield func(htmlSection) bool) {
		for _, s := range v.d.Sections {
			if v.err != nil || !yield(htmlSection{Heading: s.Heading, Blocks: v.blocks(s)}) {
				return
			}
		}
	}
}

func (v *htmlDoc) blocks(s *Section) iter.Seq[htmlBlock] {
	return func(yield func(htmlBlock) bool) {
		for _, b := range s.Blocks {
			var hb htmlBlock
			switch b := b.(type) {
			case Paragraph:
				hb.Para = string(b)
			case *Table:
				c := open(b, layoutSample)
				hb.Table = v.table(b, c)
				ok := yield(hb)
				c.Close()
				if !ok || v.err != nil {
					return
				}
				continue
			}
			if !yield(hb) {
				return
			}
		}
	}
}

func (v *htmlDoc) table(t *Table, c *cursor) *htmlTable {
	w := widths(t.Columns, c.sample(layoutSample))
	total := 0.0
	for _, x := range w {
		total += x
	}
	ht := &htmlTable{Caption: t.Caption, Empty: t.Empty}
	if ht.Empty == "" {
		ht.Empty = v.p.T("report.no_rows")
	}
	for i, col := range t.Columns {
		ht.Cols = append(ht.Cols, htmlCol{
			Header: col.Header,
			Class:  alignClass(col.Align, Cell{}),
			Width:  strconv.FormatFloat(100*w[i]/total, 'f', 1, 64) + "%",
		})
	}
	dec := v.d.decimal()
	ht.Rows = func(yield func([]htmlCell) bool) {
		cells := make([]htmlCell, len(t.Columns))
		for r, ok := c.Next(); ok; r, ok = c.Next() {
			for i, x := range r {
				cells[i] = htmlCell{Text: x.format(dec), Class: alignClass(t.Columns[i].Align, x)}
			}
			ht.n++
			if !yield(cells) {
				return
			}
		}
		if err := c.Err(); err != nil && v.err == nil {
			v.err = err
		}
	}
	return ht
}

// None reports, after Rows was ranged over, whether the table had no rows.
func (t *htmlTable) None() bool { return t.n == 0 }

func alignClass(a Align, c Cell) string {
	switch a.of(c) {
	case AlignRight:
		return "r"
	case AlignCenter:
		return "c"
	}
	return ""
}
