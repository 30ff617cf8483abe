package energy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/akciz/akciz/internal/i18n"
)

var update = flag.Bool("update", false, "rewrite the golden files (testdata/cases/*/expected) and the XLSX sample")

// render is the golden form of a check: the result of a valid file, or its errors, in English.
func render(res *Result, err error) string {
	var b strings.Builder
	var e *Errors
	switch {
	case errors.As(err, &e):
		fmt.Fprintf(&b, "refused (%s): %d errors listed, %d more\n", e.Kind, len(e.List), e.Omitted)
		for _, x := range e.List {
			b.WriteString(x.Text(i18n.For(i18n.EN), e.Kind) + "\n")
		}
	case err != nil:
		fmt.Fprintf(&b, "error: %v\n", err)
	default:
		p := res.Product
		fmt.Fprintf(&b, "ok (%s): %s %s, %s, EIK %s, excise number %s\n", res.Kind, p, res.Quarter, res.DeclarantName, res.DeclarantEIK, res.ExciseNumber)
		fmt.Fprintf(&b, "rows %d\n", res.Rows)
		for _, t := range []struct {
			name string
			d, c Quantity
		}{{"household", res.Declared.Household, res.Computed.Household}, {"business", res.Declared.Business, res.Computed.Business},
			{"self-consumption", res.Declared.SelfConsumption, res.Computed.SelfConsumption}, {"all", res.Declared.All, res.Computed.All}} {
			fmt.Fprintf(&b, "%s: declared %s %s, computed %s %s\n", t.name, t.d.Format(p, '.'), p.Unit(), t.c.Format(p, '.'), p.Unit())
		}
		fmt.Fprintf(&b, "size %d sha256 %s\n", res.Size, res.Digest())
	}
	return b.String()
}

// TestCases checks every directory of testdata/cases: input.csv against expected (rewritten by -update).
// Each directory is one rule, broken in a small file; the valid-* ones are files in order.
func TestCases(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "cases", "*"))
	if err != nil || len(dirs) < 30 {
		t.Fatalf("cases: %d directories, %v", len(dirs), err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			res, err := CheckFile(context.Background(), filepath.Join(dir, "input.csv"), Options{})
			got := render(res, err)
			valid := strings.HasPrefix(filepath.Base(dir), "valid")
			if valid != (err == nil) {
				t.Errorf("valid = %v, but got:\n%s", valid, got)
			}
			if err == nil && res.Computed != res.Declared {
				t.Errorf("a valid file's computed totals %+v differ from the declared %+v", res.Computed, res.Declared)
			}
			golden := filepath.Join(dir, "expected")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestExamples(t *testing.T) {
	names, _ := filepath.Glob(filepath.Join("..", "..", "examples", "energy", "*"))
	if len(names) < 3 {
		t.Fatalf("examples/energy holds %d files, want the CSV, TSV and XLSX samples", len(names))
	}
	kinds := map[Kind]bool{}
	for _, name := range names {
		res, err := CheckFile(context.Background(), name, Options{})
		if err != nil {
			t.Errorf("%s: %s", name, render(res, err))
			continue
		}
		kinds[res.Kind] = true
		if res.Rows == 0 || res.Computed != res.Declared {
			t.Errorf("%s: %s", name, render(res, err))
		}
	}
	if len(kinds) != 3 {
		t.Errorf("the samples cover %v, want csv, tsv and xlsx", kinds)
	}
}

func TestIdentity(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "cases", "valid", "input.csv"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Check(context.Background(), bytes.NewReader(data), int64(len(data)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Check(context.Background(), bytes.NewReader(data), 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Key() != b.Key() || a.SHA256 != sha256.Sum256(data) || a.Size != int64(len(data)) {
		t.Errorf("the same bytes twice: keys %s and %s, digest %x, size %d", a.Key(), b.Key(), a.SHA256, a.Size)
	}
	if want := "201123456/electricity/2026-Q3/" + a.Digest(); a.Key() != want {
		t.Errorf("key %s, want %s", a.Key(), want)
	}
	// A changed byte (a different address) is another submission of the same declarant and quarter.
	c, err := Check(context.Background(), bytes.NewReader(bytes.Replace(data, []byte("Първа"), []byte("Пета"), 1)), 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Key() == a.Key() || c.DeclarantEIK != a.DeclarantEIK || c.Quarter != a.Quarter {
		t.Errorf("a corrected file: key %s against %s", c.Key(), a.Key())
	}
}

func TestRowsAndFind(t *testing.T) {
	path := filepath.Join("testdata", "cases", "valid", "input.csv")
	var rows []Row
	res, err := CheckFile(context.Background(), path, Options{Row: func(r Row) error { rows = append(rows, r); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[2].MeterID != "M-3" || rows[2].Quantity != 5_000_000 || rows[2].Line != 14 || rows[1].ConsumerEIK != "131074754" {
		t.Fatalf("rows: %+v", rows)
	}
	_, found, err := Find(context.Background(), path, Query{ConsumerEIK: "831055885"}, res.Digest(), Options{})
	if err != nil || len(found) != 1 || found[0].MeterID != "M-3" || found[0].Address != "гр. Варна, ул. Трета 3" {
		t.Errorf("find by EIK: %+v %v", found, err)
	}
	_, found, err = Find(context.Background(), path, Query{MeterID: "M-1"}, "", Options{})
	if err != nil || len(found) != 1 || found[0].ConsumerType != Household || found[0].ConsumerEIK != "" {
		t.Errorf("find by meter: %+v %v", found, err)
	}
	if _, _, err := Find(context.Background(), path, Query{MeterID: "M-1"}, strings.Repeat("0", 64), Options{}); err == nil {
		t.Error("find accepted a file whose digest is not the imported one")
	}
	if _, _, err := Find(context.Background(), path, Query{}, "", Options{}); err == nil {
		t.Error("find with an empty query succeeded")
	}
	stop := errors.New("stop")
	if _, err := CheckFile(context.Background(), path, Options{Row: func(Row) error { return stop }}); err != stop {
		t.Errorf("the Row callback's error came back as %v", err)
	}
}

// TestNothingHalfAccepted: a file whose last row is broken gives no result, and Row saw no row after the
// first error.
func TestNothingHalfAccepted(t *testing.T) {
	n := 0
	res, err := CheckFile(context.Background(), filepath.Join("testdata", "cases", "declared-block-broken-rows-unchecked", "input.csv"),
		Options{Row: func(Row) error { n++; return nil }})
	if res != nil || err == nil || n != 0 {
		t.Errorf("res %v, err %v, rows given %d", res, err, n)
	}
	var b strings.Builder
	b.WriteString(strings.Join(caseHead("30.5", "1.5", "25", "4"), "\n") + "\n")
	b.WriteString("M-1;household;;1.5;MWh;a;\nM-2;business;131074754;20;MWh;b;\nM-3;business;831055885;5000;kWh;c;\nM-4;self-consumption;;4;MWh;d;\nM-5;house;;0;MWh;e;\n")
	n = 0
	res, err = Check(context.Background(), strings.NewReader(b.String()), 0, Options{Row: func(Row) error { n++; return nil }})
	if res != nil || err == nil || n != 4 {
		t.Errorf("res %v, err %v, rows given %d", res, err, n)
	}
}

func caseHead(total, household, business, self string) []string {
	return []string{"format;akciz-energy/1", "declarant_name;X", "declarant_eik;201123456", "excise_number;BGNCA00001E01",
		"product;electricity", "quarter;2026-Q3", "total;" + total, "total_household;" + household,
		"total_business;" + business, "total_self_consumption;" + self,
		"meter_id;consumer_type;consumer_eik;quantity;unit;address;tariff"}
}

func TestErrorCap(t *testing.T) {
	var b strings.Builder
	b.WriteString(strings.Join(caseHead("0", "0", "0", "0"), "\n") + "\n")
	for i := 0; i < 1500; i++ {
		fmt.Fprintf(&b, "M-%d;household;;-1;MWh;a;\n", i)
	}
	_, err := Check(context.Background(), strings.NewReader(b.String()), 0, Options{})
	var e *Errors
	if !errors.As(err, &e) || len(e.List) != DefaultMaxErrors || e.Omitted != 500 {
		t.Fatalf("%v", err)
	}
	if e.List[999].Line != 1011 || e.List[999].Column != 4 || e.List[999].Field != "quantity" {
		t.Errorf("the last listed error: %+v", e.List[999])
	}
	_, err = Check(context.Background(), strings.NewReader(b.String()), 0, Options{MaxErrors: 3})
	if !errors.As(err, &e) || len(e.List) != 3 || e.Omitted != 1497 {
		t.Fatalf("%v", err)
	}
	if !strings.Contains(e.Error(), "and 1499 more errors") {
		t.Errorf("Error() = %q", e.Error())
	}
}

func TestHugeLine(t *testing.T) {
	for _, quoted := range []bool{false, true} {
		var b strings.Builder
		b.WriteString(strings.Join(caseHead("1", "1", "0", "0"), "\n") + "\n")
		addr := strings.Repeat("я", MaxLine)
		if quoted {
			addr = `"` + addr // an unclosed quote that would swallow the file
		}
		b.WriteString("M-1;household;;1;MWh;" + addr + ";\n")
		_, err := Check(context.Background(), strings.NewReader(b.String()), 0, Options{})
		var e *Errors
		if !errors.As(err, &e) || len(e.List) != 1 || e.List[0].Line != 12 || e.List[0].Msg.Key != "energy.long_line" {
			t.Errorf("quoted %v: %v", quoted, err)
		}
	}
}

func TestTooBig(t *testing.T) {
	_, err := Check(context.Background(), strings.NewReader(""), MaxFileSize+1, Options{})
	var e *Errors
	if !errors.As(err, &e) || e.List[0].Msg.Key != "energy.too_big" {
		t.Errorf("%v", err)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := CheckFile(ctx, filepath.Join("testdata", "cases", "valid", "input.csv"), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("%v", err)
	}
}

func TestProgress(t *testing.T) {
	var last, total int64
	path := filepath.Join("testdata", "cases", "valid", "input.csv")
	st, _ := os.Stat(path)
	if _, err := CheckFile(context.Background(), path, Options{Progress: func(d, n int64) { last, total = d, n }}); err != nil {
		t.Fatal(err)
	}
	if last != st.Size() || total != st.Size() {
		t.Errorf("progress ended at %d of %d, the file has %d bytes", last, total, st.Size())
	}
}

func TestParseQuantity(t *testing.T) {
	for _, c := range []struct {
		in    string
		scale int64
		exp   bool
		want  Quantity
		err   string
	}{
		{"1", 1_000_000, false, 1_000_000, ""},
		{"1,5", 1_000_000, false, 1_500_000, ""},
		{"1.5", 1_000_000, false, 1_500_000, ""},
		{"0.000001", 1_000_000, false, 1, ""},
		{",5", 1000, false, 500, ""},
		{"5.", 1000, false, 5000, ""},
		{"+2", 1000, false, 2000, ""},
		{"007.100", 1000, false, 7100, ""},
		{"1.5E-3", 1_000_000, true, 1500, ""},
		{"1E3", 1000, true, 1_000_000, ""},
		{"1E3", 1000, false, 0, "energy.bad_number"},
		{"1.0000001", 1_000_000, false, 0, "energy.too_precise"},
		{"1.2345", 1000, false, 0, "energy.too_precise"},
		{"1.234,5", 1000, false, 0, "energy.ambiguous_number"},
		{"1 234", 1000, false, 0, "energy.bad_number"},
		{"-1", 1000, false, 0, "energy.negative"},
		{".", 1000, false, 0, "energy.bad_number"},
		{"", 1000, false, 0, "energy.empty"},
		{"9999999999999999", 1000, false, 0, "energy.too_large"},
		{"999999999999999", 1000, false, 999999999999999000, ""},
	} {
		got, m := parseQuantity(c.in, c.scale, c.exp)
		key := ""
		if m != nil {
			key = m.Key
		}
		if got != c.want || key != c.err {
			t.Errorf("parseQuantity(%q, %d) = %d, %q; want %d, %q", c.in, c.scale, got, key, c.want, c.err)
		}
	}
	if s := Quantity(1_500_001).Format(Electricity, ','); s != "1,500001" {
		t.Errorf("Format = %q", s)
	}
	if s := Quantity(-2500).Format(NaturalGas, '.'); s != "-2.5" {
		t.Errorf("Format = %q", s)
	}
}

func TestQuarterAndKind(t *testing.T) {
	if q, ok := ParseQuarter("2026-q4"); !ok || q.String() != "2026-Q4" {
		t.Errorf("ParseQuarter: %v %v", q, ok)
	}
	for _, s := range []string{"2026-Q0", "2026Q3", "1999-Q1", "2026-Q31"} {
		if _, ok := ParseQuarter(s); ok {
			t.Errorf("ParseQuarter(%q) accepted", s)
		}
	}
	if KindOf("a.XLSX") != XLSX || KindOf("a.tsv") != TSV || KindOf("a.csv") != CSV {
		t.Error("KindOf")
	}
	if cellName(28, 5) != "AB5" || cellName(1, 1) != "A1" {
		t.Errorf("cellName: %s %s", cellName(28, 5), cellName(1, 1))
	}
}

func enPrinter() *i18n.Printer { return i18n.For(i18n.EN) }

// TestTooBigWhileReading: a stream that turns out longer than the limit (its size was not told) is
// refused once the limit is passed, without reading on.
func TestTooBigWhileReading(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "cases", "valid", "input.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer func(l int64) { sizeLimit = l }(sizeLimit)
	sizeLimit = int64(len(data)) - 1
	_, err = Check(context.Background(), bytes.NewReader(data), 0, Options{})
	var e *Errors
	if !errors.As(err, &e) || len(e.List) != 1 || (e.List[0].Msg.Key != "energy.too_big" && e.List[0].Msg.Key != "energy.too_big_read") {
		t.Fatalf("%v", err)
	}
	sizeLimit = 300 // in the middle of the rows
	_, err = Check(context.Background(), bytes.NewReader(data), 0, Options{})
	if !errors.As(err, &e) || len(e.List) != 1 || e.List[0].Msg.Key != "energy.too_big_read" {
		t.Fatalf("%v", err)
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n > 0 {
		return 0, errors.New("disk on fire")
	}
	f.n++
	return copy(p, "format;akciz-energy/1\n"), nil
}

func TestReadError(t *testing.T) {
	_, err := Check(context.Background(), &failingReader{}, 0, Options{})
	var e *Errors
	if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("%v", err)
	}
}
