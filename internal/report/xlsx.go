package report

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// xlsxMaxRows is the most rows a worksheet holds (Excel's limit).
const xlsxMaxRows = 1 << 20

// XLSX writes the document as an Excel workbook: a first sheet with the title and the metadata, then one
// sheet per section. On a section's sheet the heading comes first, then its paragraphs, then its tables;
// the first table's header row is frozen and carries the autofilter (Excel allows one per sheet). Header
// rows are bold, number cells are numbers, columns have widths from the hints or the first rows, and
// long texts wrap. Rows are streamed to the workbook (excelize keeps big sheets in temporary files), so
// memory does not grow with the number of rows.
func XLSX(w io.Writer, d *Document) error {
	f := excelize.NewFile()
	defer f.Close()
	x := &xlsxWriter{f: f, d: d}
	if err := x.styles(); err != nil {
		return err
	}
	if err := x.cover(); err != nil {
		return err
	}
	for i, s := range d.Sections {
		if err := x.section(i, s); err != nil {
			return err
		}
	}
	if err := f.SetDocProps(&excelize.DocProperties{
		Title:    d.Title,
		Subject:  d.Subtitle,
		Creator:  "akciz",
		Created:  d.created().UTC().Format(time.RFC3339),
		Modified: d.created().UTC().Format(time.RFC3339),
		Language: d.lang(),
	}); err != nil {
		return err
	}
	_, err := f.WriteTo(w)
	return err
}

type xlsxWriter struct {
	f     *excelize.File
	d     *Document
	names map[string]bool // sheet names taken, case-folded

	// style ids
	title, heading, label, header, caption int
	body                                   [4]int // by Align: wrapped text, aligned to the top
}

func (x *xlsxWriter) styles() error {
	var err error
	style := func(s *excelize.Style) int {
		if err != nil {
			return 0
		}
		var id int
		id, err = x.f.NewStyle(s)
		return id
	}
	x.title = style(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}})
	x.heading = style(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 12}})
	x.label = style(&excelize.Style{Font: &excelize.Font{Bold: true}, Alignment: &excelize.Alignment{Vertical: "top"}})
	x.caption = style(&excelize.Style{Font: &excelize.Font{Italic: true}})
	x.header = style(&excelize.Style{
		Font:      &excelize.Font{Bold: true},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"E7E6E6"}},
		Alignment: &excelize.Alignment{Vertical: "center", Horizontal: "center", WrapText: true},
		Border: []excelize.Border{
			{Type: "bottom", Color: "808080", Style: 1},
			{Type: "left", Color: "BFBFBF", Style: 1},
			{Type: "right", Color: "BFBFBF", Style: 1},
			{Type: "top", Color: "BFBFBF", Style: 1},
		},
	})
	for a, h := range map[Align]string{AlignAuto: "", AlignLeft: "left", AlignCenter: "center", AlignRight: "right"} {
		x.body[a] = style(&excelize.Style{Alignment: &excelize.Alignment{Horizontal: h, Vertical: "top", WrapText: true}})
	}
	return err
}

// cover is the first sheet: title, subtitle, metadata.
func (x *xlsxWriter) cover() error {
	name := x.sheetName(x.d.printer().T("report.sheet_document"), 0)
	if err := x.f.SetSheetName("Sheet1", name); err != nil {
		return err
	}
	sw, err := x.f.NewStreamWriter(name)
	if err != nil {
		return err
	}
	label := 12.0
	for _, m := range x.d.Meta {
		label = max(label, float64(utf8.RuneCountInString(m.Label))+2)
	}
	if err := sw.SetColWidth(2, 2, 90); err != nil { // see section on the order
		return err
	}
	if err := sw.SetColWidth(1, 1, min(label, 40)); err != nil {
		return err
	}
	row := 1
	put := func(vals ...any) error {
		err := sw.SetRow(cellName(1, row), vals)
		row++
		return err
	}
	if err := put(excelize.Cell{StyleID: x.title, Value: x.d.Title}); err != nil {
		return err
	}
	if x.d.Subtitle != "" {
		if err := put(x.d.Subtitle); err != nil {
			return err
		}
	}
	row++
	for _, m := range x.d.Meta {
		if err := put(excelize.Cell{StyleID: x.label, Value: m.Label}, excelize.Cell{StyleID: x.body[AlignLeft], Value: m.Value}); err != nil {
			return err
		}
	}
	return sw.Flush()
}

func (x *xlsxWriter) section(i int, s *Section) error {
	want := s.SheetName
	if want == "" {
		want = s.Heading
	}
	name := x.sheetName(want, i+2)
	if _, err := x.f.NewSheet(name); err != nil {
		return err
	}
	sw, err := x.f.NewStreamWriter(name)
	if err != nil {
		return err
	}
	// Open every table first: the column widths of a sheet must be set before its first row.
	var curs []*cursor
	defer func() {
		for _, c := range curs {
			c.Close()
		}
	}()
	var w []float64
	for _, b := range s.Blocks {
		if t, ok := b.(*Table); ok {
			if len(t.Columns) > excelize.MaxColumns {
				return fmt.Errorf("report: sheet %q: %d columns, more than XLSX can hold", name, len(t.Columns))
			}
			c := open(t, layoutSample)
			curs = append(curs, c)
			for j, v := range widths(t.Columns, c.sample(layoutSample)) {
				if j == len(w) {
					w = append(w, 0)
				}
				w[j] = max(w[j], v)
			}
		}
	}
	// excelize's stream writer puts each column's width before the ones set earlier, and Excel wants them
	// in ascending order: set them from the last column to the first.
	for j := len(w) - 1; j >= 0; j-- {
		w[j] = xlsxWidth(w[j])
		if err := sw.SetColWidth(j+1, j+1, w[j]); err != nil {
			return err
		}
	}
	if hr := firstHeaderRow(s); hr > 0 {
		// Freeze everything above the first table's body, so that its header stays in view.
		if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: hr, TopLeftCell: cellName(1, hr+1), ActivePane: "bottomLeft"}); err != nil {
			return err
		}
	}
	row := 1
	if err := sw.SetRow("A1", []any{excelize.Cell{StyleID: x.heading, Value: s.Heading}}); err != nil {
		return err
	}
	row++
	first := true
	ti := 0
	for _, b := range s.Blocks {
		switch b := b.(type) {
		case Paragraph:
			if err := sw.SetRow(cellName(1, row), []any{string(b)}); err != nil {
				return err
			}
			row++
		case *Table:
			c := curs[ti]
			ti++
			row++ // an empty row before every table
			if b.Caption != "" {
				if err := sw.SetRow(cellName(1, row), []any{excelize.Cell{StyleID: x.caption, Value: b.Caption}}); err != nil {
					return err
				}
				row++
			}
			hdr := make([]any, len(b.Columns))
			for j, col := range b.Columns {
				hdr[j] = excelize.Cell{StyleID: x.header, Value: col.Header}
			}
			headerRow := row
			if err := sw.SetRow(cellName(1, row), hdr, excelize.RowOpts{Height: rowHeight(b.Columns, nil, w)}); err != nil {
				return err
			}
			row++
			vals := make([]any, len(b.Columns))
			for r, ok := c.Next(); ok; r, ok = c.Next() {
				if row > xlsxMaxRows {
					return fmt.Errorf("report: sheet %q: more than %d rows, which is what XLSX can hold", name, xlsxMaxRows)
				}
				for j, v := range r {
					st := x.body[b.Columns[j].Align]
					switch {
					case v.kind == kindInt:
						vals[j] = excelize.Cell{StyleID: st, Value: v.i}
					case v.kind == kindFloat:
						vals[j] = excelize.Cell{StyleID: st, Value: v.num}
					case v.text == "":
						vals[j] = nil
					default:
						vals[j] = excelize.Cell{StyleID: st, Value: v.text}
					}
				}
				if err := sw.SetRow(cellName(1, row), vals, excelize.RowOpts{Height: rowHeight(b.Columns, r, w)}); err != nil {
					return err
				}
				row++
			}
			if err := c.Err(); err != nil {
				return err
			}
			if first {
				first = false
				if err := x.f.AutoFilter(name, cellName(1, headerRow)+":"+cellName(len(b.Columns), max(row-1, headerRow)), nil); err != nil {
					return err
				}
			}
		}
	}
	return sw.Flush()
}

// firstHeaderRow is the row of the first table's header on a section's sheet (the layout of section
// below), or 0 if the section has no table.
func firstHeaderRow(s *Section) int {
	row := 2 // after the heading
	for _, b := range s.Blocks {
		switch b := b.(type) {
		case Paragraph:
			row++
		case *Table:
			row++ // the empty row
			if b.Caption != "" {
				row++
			}
			return row
		}
	}
	return 0
}

// cellName is the A1 name of a cell; col and row are within Excel's limits here.
func cellName(col, row int) string {
	s, err := excelize.CoordinatesToCellName(col, row)
	if err != nil {
		panic(err) // an internal invariant: callers stay within Excel's limits
	}
	return s
}

// xlsxWidth turns a width in characters into an Excel column width: a little padding, and a cap that
// keeps a column on a screen.
func xlsxWidth(chars float64) float64 { return min(math.Ceil(chars*1.1)+2, 80) }

// rowHeight estimates the height in points of a row whose texts wrap in columns of the given widths; zero
// (the default height) for a row of one line. Excel does not fit the height of a wrapped row written by a
// program until the row is edited, so the estimate is written.
func rowHeight(cols []Column, r []Cell, w []float64) float64 {
	lines := 1
	for j, col := range cols {
		s := col.Header
		if r != nil {
			s = r[j].text
		}
		if s == "" {
			continue
		}
		n := 0
		for l := range strings.SplitSeq(s, "\n") {
			n += max(1, int(math.Ceil(float64(utf8.RuneCountInString(l))/max(w[j]-2, 1))))
		}
		lines = max(lines, n)
	}
	if lines == 1 {
		return 0
	}
	return min(float64(lines)*15, 409) // 409 points is Excel's highest row
}

// sheetName cleans want into a name Excel accepts — at most 31 UTF-16 units, none of []:*?/\, not
// starting or ending with an apostrophe, not "History" — and makes it unique among the sheets (Excel
// compares names without case). n numbers the fallback name of an empty one.
func (x *xlsxWriter) sheetName(want string, n int) string {
	if x.names == nil {
		x.names = make(map[string]bool)
	}
	s := strings.Map(func(r rune) rune {
		switch r {
		case '[', ']', ':', '*', '?', '/', '\\':
			return '-'
		}
		if r < ' ' {
			return ' '
		}
		return r
	}, want)
	s = strings.Trim(strings.Join(strings.Fields(s), " "), "'")
	if s == "" {
		s = x.d.printer().T("report.sheet_n", n)
	}
	base := truncUTF16(s, 31)
	s = base
	for k := 2; x.names[strings.ToLower(s)] || strings.EqualFold(s, "History"); k++ {
		suffix := fmt.Sprintf(" (%d)", k)
		s = strings.TrimRight(truncUTF16(base, 31-len(suffix)), " ") + suffix
	}
	x.names[strings.ToLower(s)] = true
	return s
}

func truncUTF16(s string, n int) string {
	units := 0
	for i, r := range s {
		units += utf16.RuneLen(r)
		if units > n {
			return s[:i]
		}
	}
	return s
}

func (d *Document) lang() string {
	if d.Lang == "" {
		return "bg"
	}
	return string(d.Lang)
}
