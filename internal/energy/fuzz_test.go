package energy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseCSV: whatever the bytes, Check gives either a result whose totals are the declared ones and
// whose digest is of those bytes, or errors that each name a place inside the file; never a crash.
func FuzzParseCSV(f *testing.F) {
	dirs, _ := filepath.Glob(filepath.Join("testdata", "cases", "*", "input.csv"))
	for _, d := range dirs {
		if b, err := os.ReadFile(d); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Check(context.Background(), bytes.NewReader(data), int64(len(data)), Options{MaxErrors: 50})
		if err == nil {
			if res.Computed != res.Declared || res.SHA256 != sha256.Sum256(data) || res.Size != int64(len(data)) {
				t.Fatalf("inconsistent result %+v", res)
			}
			return
		}
		var e *Errors
		if !errors.As(err, &e) || len(e.List) == 0 || len(e.List) > 50 {
			t.Fatalf("error %v", err)
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, x := range e.List {
			if x.Line < 0 || x.Line > lines || x.Column < 0 {
				t.Fatalf("error at line %d (the file has %d): %s", x.Line, lines, x)
			}
		}
	})
}

// FuzzCells fuzzes the cell-to-row validation that XLSX files go through (the workbook itself is read by
// excelize): rows are split at "\n", cells at "\t", and the rows may be short, as worksheet rows are.
func FuzzCells(f *testing.F) {
	for _, name := range []string{"valid", "totals-mismatch", "household-egn", "too-precise"} {
		b, err := os.ReadFile(filepath.Join("testdata", "cases", name, "input.csv"))
		if err == nil {
			f.Add(strings.ReplaceAll(string(b), ";", "\t"))
		}
	}
	f.Add("format\takciz-energy/1\ntotal\t1E-3")
	f.Fuzz(func(t *testing.T, data string) {
		c := newChecker(XLSX, 20, nil)
		line := 0
		for _, row := range strings.Split(data, "\n") {
			line++
			if !c.cells(line, strings.Split(row, "\t")) {
				break
			}
		}
		c.finish(line)
		res, e := c.result()
		if e == nil && res.Computed != res.Declared {
			t.Fatalf("inconsistent result %+v", res)
		}
		if e != nil && (len(e.List) == 0 || len(e.List) > 20) {
			t.Fatalf("errors %+v", e)
		}
	})
}

// FuzzQuantity: a quantity written by Format reads back the same, with either decimal separator.
func FuzzQuantity(f *testing.F) {
	f.Add(int64(1_500_001), true)
	f.Add(int64(0), false)
	f.Fuzz(func(t *testing.T, v int64, gas bool) {
		if v < 0 {
			v = -v
		}
		if v < 0 || v > 999_999_999_999_999_999 {
			return
		}
		p := Electricity
		if gas {
			p = NaturalGas
		}
		for _, sep := range []byte{'.', ','} {
			s := Quantity(v).Format(p, sep)
			q, m := parseQuantity(s, p.scale(), false)
			if m != nil || q != Quantity(v) {
				t.Fatalf("%d formatted %q read back %d, %v", v, s, q, m)
			}
		}
	})
}

// FuzzXLSX: whatever the bytes of a workbook (a zip, or not), CheckFile gives a result consistent with
// its totals and digest, or errors each with a place inside the sheet; never a crash. The seeds are the
// sample workbook and cut and altered copies of it.
func FuzzXLSX(f *testing.F) {
	sample, err := os.ReadFile(filepath.Join("..", "..", "examples", "energy", "electricity-2026-Q3.xlsx"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample)
	f.Add(sample[:len(sample)/2])
	f.Add([]byte("PK\x03\x04"))
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.xlsx")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		res, err := CheckFile(context.Background(), path, Options{MaxErrors: 20})
		if err == nil {
			if res.Computed != res.Declared || res.SHA256 != sha256.Sum256(data) || res.Size != int64(len(data)) {
				t.Fatalf("inconsistent result %+v", res)
			}
			return
		}
		var e *Errors
		if !errors.As(err, &e) || len(e.List) == 0 || len(e.List) > 20 {
			t.Fatalf("error %v", err)
		}
		for _, x := range e.List {
			if x.Line < 0 || x.Column < 0 {
				t.Fatalf("error at line %d column %d: %s", x.Line, x.Column, x)
			}
		}
	})
}
