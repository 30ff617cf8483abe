package report

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

func readCSV(t *testing.T, b []byte, comma rune) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte(bom))))
	r.Comma = comma
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("the output is not CSV: %v", err)
	}
	return recs
}

func TestCSVExcelBG(t *testing.T) {
	var b bytes.Buffer
	if err := CSV(&b, sampleDoc(3), CSVOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b.Bytes(), []byte("\xEF\xBB\xBF")) {
		t.Error("no UTF-8 byte order mark: Excel would show the Cyrillic as mojibake")
	}
	if !bytes.Contains(b.Bytes(), []byte("\r\n")) {
		t.Error("lines do not end in CR LF")
	}
	recs := readCSV(t, b.Bytes(), ';')
	find := func(first string) []string {
		for _, r := range recs {
			if r[0] == first {
				return r
			}
		}
		t.Fatalf("no record starts with %q", first)
		return nil
	}
	if recs[0][0] != "Modbus карта — Склад „Бургас“" {
		t.Errorf("first record %q, want the title", recs[0])
	}
	if r := find("SHA-256"); r[1] != "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" {
		t.Errorf("metadata record %q", r)
	}
	h := find("Логически адрес")
	if len(h) != 10 || h[9] != "Описание" {
		t.Errorf("header %q", h)
	}
	r := find("40001")
	if r[2] != "2" || r[7] != "0,001" || r[9] != "Общ обем при 15 °C на разходомер FT-101; натрупване, чете се на всеки 10 s." {
		t.Errorf("row 40001 = %q", r)
	}
	r = find("40003")
	if r[4] != "'-10 <= … <= 10" || r[8] != `'=HYPERLINK("http://x")` {
		t.Errorf("texts that Excel would run as formulas are not guarded: %q", r)
	}
	if r[9] != "Температура & плътност \"в кавички\"\nвтори ред" {
		t.Errorf("multi-line text = %q", r[9])
	}
	find("40009") // the third streamed row
}

func TestCSVStreamedRowsAllPresent(t *testing.T) {
	var b bytes.Buffer
	d := sampleDoc(500)
	if err := CSVTable(&b, d.Sections[0].Blocks[1].(*Table), RFC4180); err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(b.Bytes(), []byte(bom)) {
		t.Error("RFC4180 has no byte order mark")
	}
	recs := readCSV(t, b.Bytes(), ',')
	if len(recs) != 1+2+500 {
		t.Fatalf("%d records, want header + 502 rows", len(recs))
	}
	if recs[1][7] != "0.001" || recs[2][8] != `=HYPERLINK("http://x")` {
		t.Errorf("RFC4180 writes numbers with a point and texts as they are: %q", recs[1:3])
	}
	if last := recs[len(recs)-1]; last[0] != "41003" || last[3] != "FT499_Total" {
		t.Errorf("last row %q", last)
	}
}

func TestCSVGuard(t *testing.T) {
	o := ExcelBG
	for in, want := range map[string]string{
		"=1+1":     "'=1+1",
		"@SUM(A1)": "'@SUM(A1)",
		"+359 88":  "'+359 88",
		"-5":       "-5",
		"+5.5":     "+5.5",
		"-x":       "'-x",
		"\tx":      "'\tx",
		"обем":     "обем",
		"":         "",
	} {
		if got := o.text(in); got != want {
			t.Errorf("text(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCSVCommaDialectDefaultsToDecimalPoint(t *testing.T) {
	o := CSVOptions{Comma: ','}.norm()
	if o.Decimal != '.' {
		t.Errorf("with ',' between fields numbers need a decimal point, got %q", o.Decimal)
	}
	var b bytes.Buffer
	if err := CSV(&b, sampleDoc(0), CSVOptions{Comma: '\t'}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "40001\t0x0000\t2\t") {
		t.Errorf("a tab-separated file has no tab-separated row:\n%s", b.String())
	}
}
