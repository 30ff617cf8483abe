package report

import (
	"archive/zip"
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

func renderXLSX(t *testing.T, d *Document) *excelize.File {
	t.Helper()
	var b bytes.Buffer
	if err := XLSX(&b, d); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&b)
	if err != nil {
		t.Fatalf("excelize cannot read what it wrote: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestXLSX(t *testing.T) {
	f := renderXLSX(t, sampleDoc(300))
	sheets := f.GetSheetList()
	want := []string{"Документ", "PLC-1- регистри", "PLC-1- грешки -бит-описание-", "Празна"}
	if strings.Join(sheets, "|") != strings.Join(want, "|") {
		t.Fatalf("sheets %q, want %q", sheets, want)
	}
	cell := func(sheet, ref string) string {
		t.Helper()
		v, err := f.GetCellValue(sheet, ref)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if cell("Документ", "A1") != "Modbus карта — Склад „Бургас“" || cell("Документ", "A4") != "Задължено лице" ||
		cell("Документ", "B6") != "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" {
		t.Errorf("cover sheet: %q %q %q", cell("Документ", "A1"), cell("Документ", "A4"), cell("Документ", "B6"))
	}
	s := sheets[1]
	// Layout: heading (1), paragraph (2), empty (3), caption (4), header (5), rows from 6.
	if cell(s, "A1") != "PLC-1: регистри" || cell(s, "A2") != "Регистрите се четат с функция 03." || cell(s, "A4") != "Контролер PLC-1, Modbus ID 1" {
		t.Errorf("sheet top: %q %q %q", cell(s, "A1"), cell(s, "A2"), cell(s, "A4"))
	}
	if cell(s, "A5") != "Логически адрес" || cell(s, "J5") != "Описание" {
		t.Errorf("header: %q … %q", cell(s, "A5"), cell(s, "J5"))
	}
	if cell(s, "D7") != "<script>alert(1)</script>" || cell(s, "I7") != `=HYPERLINK("http://x")` {
		t.Errorf("texts are not kept as texts: %q %q", cell(s, "D7"), cell(s, "I7"))
	}
	if formula, _ := f.GetCellFormula(s, "I7"); formula != "" {
		t.Errorf("a text became a formula: %q", formula)
	}
	// Numbers are numbers.
	for _, ref := range []string{"C6", "H6", "H7"} {
		if typ, _ := f.GetCellType(s, ref); typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
			t.Errorf("%s has type %v, want a number", ref, typ)
		}
	}
	if cell(s, "H6") != "0.001" || cell(s, "C6") != "2" {
		t.Errorf("numbers: H6=%q C6=%q", cell(s, "H6"), cell(s, "C6"))
	}
	if typ, _ := f.GetCellType(s, "A6"); typ == excelize.CellTypeNumber {
		t.Error("the text 40001 became a number")
	}
	rows, err := f.GetRows(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5+2+300 {
		t.Fatalf("%d rows, want 5 + 302", len(rows))
	}
	if last := rows[len(rows)-1]; last[3] != "FT299_Total" {
		t.Errorf("last row %q", last)
	}
	// A bold header, frozen, with a filter; widths from the hints.
	st, _ := f.GetCellStyle(s, "A5")
	if style, err := f.GetStyle(st); err != nil || style.Font == nil || !style.Font.Bold {
		t.Errorf("the header is not bold: %+v %v", style, err)
	}
	p, err := f.GetPanes(s)
	if err != nil || !p.Freeze || p.YSplit != 5 || p.TopLeftCell != "A6" {
		t.Errorf("panes %+v, %v; want frozen above row 6", p, err)
	}
	if w, _ := f.GetColWidth(s, "J"); w != xlsxWidth(40) {
		t.Errorf("column J width %v, want %v", w, xlsxWidth(40))
	}
	if w, _ := f.GetColWidth(s, "D"); w < 12 {
		t.Errorf("column D width %v: too narrow for FT000_Total", w)
	}
	var filters []string
	for _, dn := range f.GetDefinedName() {
		if dn.Name == "_xlnm._FilterDatabase" {
			filters = append(filters, dn.RefersTo)
		}
	}
	if got := strings.Join(filters, " "); got != "'PLC-1- регистри'!$A$5:$J$307 'PLC-1- грешки -бит-описание-'!$A$3:$B$5 'Празна'!$A$3:$B$3" {
		t.Errorf("autofilters %s; want one on each section sheet, over its first table", got)
	}
	// The second section: table first, paragraph after it.
	s = sheets[2]
	if cell(s, "A3") != "Номер на бит" || cell(s, "A4") != "0" || cell(s, "B5") != "Преливане на брояча" || cell(s, "A6") != "Битовете извън таблицата са резервирани." {
		t.Errorf("error-bit sheet: %q %q %q %q", cell(s, "A3"), cell(s, "A4"), cell(s, "B5"), cell(s, "A6"))
	}
	if h, _ := f.GetRowHeight(sheets[1], 7); h < 29 {
		t.Errorf("row 7 holds two lines but is %v points high", h)
	}
	props, err := f.GetDocProps()
	if err != nil || props.Created != "2026-11-22T10:30:00Z" || props.Title != "Modbus карта — Склад „Бургас“" {
		t.Errorf("document properties %+v, %v", props, err)
	}
}

func TestXLSXAutoFilterInSheetXML(t *testing.T) {
	var b bytes.Buffer
	if err := XLSX(&b, sampleDoc(0)); err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for _, zf := range z.File {
		if zf.Name != "xl/worksheets/sheet2.xml" {
			continue
		}
		r, _ := zf.Open()
		x, _ := io.ReadAll(r)
		if !bytes.Contains(x, []byte(`<autoFilter ref="$A$5:$J$7">`)) {
			t.Errorf("sheet2.xml has no autofilter on A5:J7:\n%s", x)
		}
		if !bytes.Contains(x, []byte(`<cols><col min="1" max="1" `)) {
			t.Errorf("sheet2.xml does not list column widths in ascending order")
		}
		if !bytes.Contains(x, []byte(`state="frozen"`)) {
			t.Errorf("sheet2.xml has no frozen pane")
		}
		return
	}
	t.Fatal("no xl/worksheets/sheet2.xml")
}

func TestSheetNames(t *testing.T) {
	x := &xlsxWriter{d: &Document{}}
	for _, c := range []struct{ in, want string }{
		{"Документ", "Документ"},
		{"документ", "документ (2)"},
		{"a[b]c:d*e?f/g\\h", "a-b-c-d-e-f-g-h"},
		{"'quoted'", "quoted"},
		{"", "Лист 5"},
		{"History", "History (2)"},
		{strings.Repeat("Контролер ", 5), "Контролер Контролер Контролер К"},
		{strings.Repeat("Контролер ", 5) + "x", "Контролер Контролер Контрол (2)"},
		{"😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀", "😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀"},
	} {
		got := x.sheetName(c.in, 5)
		if got != c.want {
			t.Errorf("sheetName(%q) = %q, want %q", c.in, got, c.want)
		}
		if n := len([]rune(got)); n > 31 {
			t.Errorf("%q is %d characters", got, n)
		}
	}
}

func TestXLSXManySectionsWithTheSameHeading(t *testing.T) {
	d := &Document{Title: "t"}
	for range 3 {
		d.Sections = append(d.Sections, &Section{Heading: "PLC: регистри", Blocks: []Block{&Table{Columns: []Column{{Header: "a"}}}}})
	}
	f := renderXLSX(t, d)
	if got := strings.Join(f.GetSheetList(), "|"); got != "Документ|PLC- регистри|PLC- регистри (2)|PLC- регистри (3)" {
		t.Errorf("sheets %s", got)
	}
}
