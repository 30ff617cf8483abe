package energy

import (
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// writeXLSX writes records as the first worksheet of a workbook. With numbers, every cell that reads as a
// decimal (with a point or a comma) is stored as a number, as a person typing into a spreadsheet would
// get, except the EIK columns, which are text (a number would lose leading zeros).
func writeXLSX(t testing.TB, path string, records [][]string, numbers bool) {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	const sheet = "Sheet1"
	for i, rec := range records {
		row := make([]any, len(rec))
		for j, s := range rec {
			row[j] = s
			eik := j == 2 || (j == 1 && strings.Contains(rec[0], "eik"))
			if v, err := strconv.ParseFloat(strings.Replace(s, ",", ".", 1), 64); numbers && err == nil && !eik {
				row[j] = v
			}
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow(sheet, cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readCSVRecords(t testing.TB, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimPrefix(string(b), "\ufeff")
	r := csv.NewReader(strings.NewReader(s))
	r.Comma = ';'
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestXLSXSample keeps examples/energy/electricity-2026-Q3.xlsx the XLSX twin of the CSV sample;
// -update writes it (the binary file is never edited by hand).
func TestXLSXSample(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "energy")
	src := filepath.Join(dir, "electricity-2026-Q3.csv")
	dst := filepath.Join(dir, "electricity-2026-Q3.xlsx")
	if *update {
		writeXLSX(t, dst, readCSVRecords(t, src), true)
	}
	a, err := CheckFile(context.Background(), src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var rows []Row
	b, err := CheckFile(context.Background(), dst, Options{Row: func(r Row) error { rows = append(rows, r); return nil }})
	if err != nil {
		t.Fatalf("%s (go test -run TestXLSXSample ./internal/energy -args -update writes it)", render(b, err))
	}
	if a.Declaration != b.Declaration || a.Computed != b.Computed || a.Rows != b.Rows || b.Kind != XLSX {
		t.Errorf("the XLSX sample differs from the CSV one:\n%s\n%s", render(a, nil), render(b, nil))
	}
	if len(rows) != 5 || rows[0].Line != 12 || rows[0].Tariff != "дневна" || rows[3].Quantity != 2_500_000 {
		t.Errorf("rows: %+v", rows)
	}
}

func TestXLSXRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"valid", "valid-no-rows-zero-totals", "totals-mismatch", "business-bad-eik", "household-egn", "too-precise", "field-count", "line-break-in-address"} {
		t.Run(name, func(t *testing.T) {
			in := filepath.Join("testdata", "cases", name, "input.csv")
			recs := readCSVRecords(t, in)
			want, werr := CheckFile(context.Background(), in, Options{})
			for _, numbers := range []bool{false, true} {
				path := filepath.Join(dir, name+strconv.FormatBool(numbers)+".xlsx")
				writeXLSX(t, path, recs, numbers)
				got, gerr := CheckFile(context.Background(), path, Options{})
				if (werr == nil) != (gerr == nil) {
					// A short row is whole in XLSX (missing cells are empty), so field-count becomes other errors.
					if name != "field-count" {
						t.Fatalf("numbers %v: csv %v, xlsx %v", numbers, werr, gerr)
					}
				}
				if werr == nil {
					if got.Declaration != want.Declaration || got.Computed != want.Computed || got.Rows != want.Rows {
						t.Errorf("numbers %v:\n%s\n%s", numbers, render(want, nil), render(got, nil))
					}
					continue
				}
				var we, ge *Errors
				if !errors.As(werr, &we) || !errors.As(gerr, &ge) {
					t.Fatalf("csv %v, xlsx %v", werr, gerr)
				}
				if name != "field-count" && (ge.List[0].Line != we.List[0].Line || ge.List[0].Column != we.List[0].Column) {
					t.Errorf("numbers %v: csv error %s, xlsx error %s", numbers, we.List[0], ge.List[0].Text(enPrinter(), XLSX))
				}
			}
		})
	}
}

func TestXLSXCellNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.xlsx")
	writeXLSX(t, path, readCSVRecords(t, filepath.Join("testdata", "cases", "business-bad-eik", "input.csv")), true)
	_, err := CheckFile(context.Background(), path, Options{})
	var e *Errors
	if !errors.As(err, &e) {
		t.Fatal(err)
	}
	if got := e.List[0].Text(enPrinter(), XLSX); !strings.HasPrefix(got, "cell C13 (consumer_eik): ") {
		t.Errorf("%s", got)
	}
}

func TestXLSXNotAWorkbook(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fake.xlsx")
	if err := os.WriteFile(path, []byte("format;akciz-energy/1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := CheckFile(context.Background(), path, Options{})
	var e *Errors
	if !errors.As(err, &e) || e.List[0].Msg.Key != "energy.xlsx_open" {
		t.Errorf("%v", err)
	}
}

// TestXLSXRowGaps: rows a worksheet does not store (left empty) still count, so cells are named right.
func TestXLSXRowGaps(t *testing.T) {
	recs := readCSVRecords(t, filepath.Join("testdata", "cases", "business-bad-eik", "input.csv"))
	f := excelize.NewFile()
	defer f.Close()
	for i, rec := range recs {
		r := i + 1
		if i >= 10 {
			r += 2 // two rows never written, between the declared block and the header
		}
		row := make([]any, len(rec))
		for j, s := range rec {
			row[j] = s
		}
		cell, _ := excelize.CoordinatesToCellName(1, r)
		if err := f.SetSheetRow("Sheet1", cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "gaps.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	_, err := CheckFile(context.Background(), path, Options{})
	var e *Errors
	if !errors.As(err, &e) || len(e.List) != 1 {
		t.Fatal(err)
	}
	if got := e.List[0].Text(enPrinter(), XLSX); !strings.HasPrefix(got, "cell C15 (consumer_eik): ") {
		t.Errorf("%s", got)
	}
}
