package report

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-pdf/fpdf"
)

// extractPDF is the text of a PDF as `pdftotext -layout` extracts it, and its number of pages; the test is
// skipped where poppler-utils is missing.
func extractPDF(t testing.TB, pdf []byte) (string, int) {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext not found: install the Debian package poppler-utils")
	}
	in := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-layout", "-enc", "UTF-8", in, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	s := string(out)
	return s, strings.Count(strings.TrimRight(s, "\f"), "\f") + 1
}

func renderPDF(t testing.TB, d *Document) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := PDF(&b, d); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// squash joins the words of s with single spaces, so that texts wrapped in cells can be looked for.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestPDF(t *testing.T) {
	const streamed = 150
	pdf := renderPDF(t, sampleDoc(streamed))
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatal("not a PDF")
	}
	txt, pages := extractPDF(t, pdf)
	if pages < 3 {
		t.Errorf("%d pages for 152 rows; want the table to run over several", pages)
	}
	for _, want := range []string{
		"Modbus карта — Склад „Бургас“", "Таблици по чл. 35, ал. 4 и 5 от Наредба № Н-7", "Задължено лице",
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"PLC-1: регистри", "PLC-1: грешки [бит/описание]", "Празна", "Няма записи.", "Номер на бит",
		"Грешка в сензора", "Битовете извън таблицата са резервирани.", "bSafe_ref", "<script>alert(1)</script>",
		"PLC-1: регистри (продължение)",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("the PDF's text lacks %q", want)
		}
	}
	// Every row, by its logical address and its name.
	for i := range streamed {
		addr, name := fmt.Sprintf("%05d", 40005+2*i), fmt.Sprintf("FT%03d_Total", i)
		if !regexp.MustCompile(`(?m)^\s*` + addr + `\s+0x[0-9A-F]{4}\s+2 ` + name).MatchString(txt) {
			t.Errorf("row %s %s is missing", addr, name)
		}
	}
	// The header row is on every page the table runs onto.
	for p, page := range strings.Split(strings.TrimRight(txt, "\f"), "\f") {
		if p < pages-1 && !strings.Contains(page, "Логически") {
			t.Errorf("page %d has no table header", p+1)
		}
		if want := fmt.Sprintf("Страница %d от %d", p+1, pages); !strings.Contains(page, want) {
			t.Errorf("page %d lacks %q", p+1, want)
		}
	}
	for _, word := range strings.Fields("Логически Физически адрес Размер на регистъра Име параметър Ограничения (допустими стойности) Тип данните Мярка Ед. изменение Формула нормализация Описание 0,001 0,1") {
		if !strings.Contains(txt, word) {
			t.Errorf("the PDF's text lacks %q (a header word, or a number with a decimal comma)", word)
		}
	}
}

func TestPDFIsDeterministic(t *testing.T) {
	a, b := renderPDF(t, sampleDoc(20)), renderPDF(t, sampleDoc(20))
	if !bytes.Equal(a, b) {
		t.Error("the same document rendered to different bytes")
	}
	if !bytes.Contains(a, []byte("/CreationDate (D:20261122103000")) {
		t.Error("the creation date is not the document's")
	}
}

func TestPDFPortraitForNarrowTables(t *testing.T) {
	d := sampleDoc(0)
	d.Sections = d.Sections[1:]
	pdf := renderPDF(t, d)
	if !bytes.Contains(pdf, []byte("/MediaBox [0 0 595.28 841.89]")) {
		t.Error("a document of narrow tables is not on portrait pages")
	}
	d.Orientation = Landscape
	if pdf := renderPDF(t, d); !bytes.Contains(pdf, []byte("/MediaBox [0 0 841.89 595.28]")) {
		t.Error("Orientation: Landscape is not honoured")
	}
}

func TestPDFRowTallerThanAPage(t *testing.T) {
	var long strings.Builder
	for i := range 120 {
		fmt.Fprintf(&long, "ред%03d\n", i)
	}
	d := &Document{Title: "Дълъг ред", Sections: []*Section{{Heading: "Раздел", Blocks: []Block{&Table{
		Columns: []Column{{Header: "№"}, {Header: "Текст"}},
		Rows:    [][]Cell{{Int(1), Text(long.String())}, {Int(2), Text("след него")}},
	}}}}}
	txt, pages := extractPDF(t, renderPDF(t, d))
	if pages < 2 {
		t.Errorf("120 lines on %d pages", pages)
	}
	for i := range 120 {
		if !strings.Contains(txt, fmt.Sprintf("ред%03d", i)) {
			t.Errorf("line %d of the tall cell is lost", i)
		}
	}
	if !strings.Contains(txt, "след него") {
		t.Error("the row after the tall one is lost")
	}
}

func TestPDFOddText(t *testing.T) {
	// fpdf indexes its glyph widths by rune and would panic beyond U+FFFF; none of this may crash.
	d := &Document{Title: "😀 emoji\x00\tтаб", Meta: []Field{{"ключ", strings.Repeat("дълга-дума-без-интервали", 20)}}, Sections: []*Section{{
		Heading: "𝕏 " + strings.Repeat("заглавие ", 60),
		Blocks: []Block{Paragraph(""), Paragraph("\n\n"), &Table{
			Columns: []Column{{Header: strings.Repeat("Колона ", 40)}},
			Rows:    [][]Cell{{Text("😀\U0010FFFF\uFFFE")}, {Text(strings.Repeat("x", 5000))}},
		}},
	}}}
	txt, _ := extractPDF(t, renderPDF(t, d))
	if !strings.Contains(squash(txt), "емоji") && !strings.Contains(txt, "emoji") {
		t.Errorf("title lost:\n%s", txt)
	}
}

func TestWrap(t *testing.T) {
	f := fpdf.New("P", "mm", "A4", "")
	f.AddUTF8FontFromBytes("dejavu", "", fontRegular)
	f.SetFont("dejavu", "", pdfBodySize)
	const w = 25.0
	for _, in := range []string{
		"Общ обем при 15 °C на разходомер FT-101",
		"ред едно\nред две\n\n",
		strings.Repeat("дълга", 20),
		"",
	} {
		lines := wrap(f, in, w)
		if len(lines) == 0 {
			t.Errorf("wrap(%q) has no lines", in)
		}
		for _, l := range lines {
			if f.GetStringWidth(l) > w-2*pdfPad+1e-9 {
				t.Errorf("wrap(%q): %q is wider than the cell", in, l)
			}
		}
		if squash(strings.Join(lines, " ")) != squash(in) && !strings.HasPrefix(in, "дълга") {
			t.Errorf("wrap(%q) = %q: words lost", in, lines)
		}
		if strings.HasPrefix(in, "дълга") && strings.Join(lines, "") != in {
			t.Errorf("a long word broken into %q loses characters", lines)
		}
	}
	if got := wrap(f, "ред едно\nред две\n\n", 100); len(got) != 2 {
		t.Errorf("line breaks: %q, want two lines", got)
	}
}
