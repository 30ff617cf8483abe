package watch_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/report"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/watch"
)

func vol(v core.Decimal) core.Value {
	return core.Value{Tag: "p1_total_volume", Role: core.RoleTotalVolume, Value: v, Unit: "L"}
}

// Чл. 27: the operator's test data against what arrived, point by point: equal decimals match, a
// different value and a value that never arrived do not.
func TestTestDataComparison_Art27(t *testing.T) {
	f := newFixture(t, store.SiteTesting)
	at := f.clock.Now()
	f.send(
		reading(point1, at, vol("1000.50")),
		reading(point1, at.Add(time.Minute), vol("1010")),
		transaction(point1, at.Add(2*time.Minute), "DB6", core.DirectionOut, "9.5", "8"),
	)
	csv := "point;time;tag;value\n" +
		point1 + ";" + at.Format(time.RFC3339) + ";p1_total_volume;1000.5\n" + // same decimal
		point1 + ";" + at.Add(time.Minute).Format(time.RFC3339) + ";p1_total_volume;1011\n" + // differs
		point1 + ";" + at.Add(2*time.Minute).Format(time.RFC3339) + ";transaction.volume.quantity;9.50\n" +
		point1 + ";" + at.Add(3*time.Minute).Format(time.RFC3339) + ";p1_total_volume;1020\n" // never arrived
	values, err := watch.ParseTestValues(strings.NewReader(csv))
	f.must(err)
	c := watch.NewComparisons(f.st, decode, f.clock)
	cmp, err := c.TestData(f.ctx, operator, site, values)
	f.must(err)
	if cmp.Matches != 2 || cmp.Misses != 2 || len(cmp.Lines) != 4 || cmp.ID == 0 {
		t.Fatalf("comparison %+v", cmp)
	}
	if !cmp.Lines[0].Match || cmp.Lines[1].Note != "watch.compare.differs" || cmp.Lines[1].Values[1] != "1010" ||
		!cmp.Lines[2].Match || cmp.Lines[3].Note != "watch.compare.missing_server" {
		t.Errorf("lines %+v", cmp.Lines)
	}
	stored, err := c.Get(f.ctx, officer, cmp.ID)
	f.must(err)
	if len(stored.Lines) != 4 || stored.Kind != store.ComparisonTestData {
		t.Errorf("stored %+v", stored)
	}
	if _, err := c.Get(f.ctx, stranger, cmp.ID); !errors.Is(err, watch.ErrNotFound) {
		t.Errorf("another operator reads the comparison: %v", err)
	}
	// As CSV, with the notes in words.
	s, err := f.st.Site(f.ctx, site)
	f.must(err)
	var buf bytes.Buffer
	f.must(report.CSV(&buf, watch.ComparisonDocument(stored, s, i18n.BG, false), report.CSVOptions{}))
	if out := buf.String(); !strings.Contains(out, "НЕ СЪВПАДА") || !strings.Contains(out, "чл. 27") {
		t.Errorf("csv:\n%s", out)
	}
}

// Чл. 20: the officer's meter readings, the agent's exported journal and the server's data. The
// officer's value is compared within the tolerance (a display's digits) with the server's nearest
// reading; the agent and the server must agree exactly.
func TestThreeWayComparison_Art20(t *testing.T) {
	f := newFixture(t, store.SiteTesting)
	at := f.clock.Now()
	server := []core.Record{
		reading(point1, at, vol("1000.42")),
		reading(point1, at.Add(time.Minute), vol("1010.00")),
		reading(point5, at, core.Value{Tag: "p5_total_mass", Value: "500", Unit: "kg"}),
	}
	f.send(server...)
	agent := []core.Record{server[0], server[1], server[2]}
	agent[1].Reading = &core.Reading{Values: []core.Value{vol("1010.01")}} // the box says otherwise
	in := watch.ThreeWay{
		Officer: []watch.TestValue{
			{Point: point1, Time: at.Add(10 * time.Second), Tag: "p1_total_volume", Value: "1000.4"}, // display: one digit
			{Point: point1, Time: at.Add(time.Minute), Tag: "p1_total_volume", Value: "1010.0"},
			{Point: point5, Time: at, Tag: "p5_total_mass", Value: "510"},
		},
		Agent: agent, Tolerance: "0.05",
	}
	c := watch.NewComparisons(f.st, decode, f.clock)
	if _, err := c.ThreeWay(f.ctx, operator, site, in); !errors.Is(err, watch.ErrForbidden) {
		t.Errorf("operator makes the three-way comparison: %v", err)
	}
	cmp, err := c.ThreeWay(f.ctx, officer, site, in)
	f.must(err)
	if len(cmp.Sources) != 3 || cmp.Kind != store.ComparisonThreeWay {
		t.Fatalf("comparison %+v", cmp)
	}
	notes := []string{}
	for _, l := range cmp.Lines[:3] {
		notes = append(notes, l.Note)
	}
	want := []string{"", "watch.compare.agent_server_differ", "watch.compare.officer_differs"}
	for i := range want {
		if notes[i] != want[i] {
			t.Errorf("officer line %d: note %q, want %q (%+v)", i, notes[i], want[i], cmp.Lines[i])
		}
	}
	if v := cmp.Lines[0].Values; v[0] != "1000.4" || v[1] != "1000.42" || v[2] != "1000.42" || !cmp.Lines[0].Time.Equal(at) {
		t.Errorf("first line %+v", cmp.Lines[0])
	}
	// Then the agent's records against the server's: three values, one differs.
	rest := cmp.Lines[3:]
	misses := 0
	for _, l := range rest {
		if !l.Match {
			misses++
		}
	}
	if len(rest) != 3 || misses != 1 {
		t.Errorf("agent lines %+v", rest)
	}
	if cmp.Matches != 3 || cmp.Misses != 3 {
		t.Errorf("matches %d misses %d", cmp.Matches, cmp.Misses)
	}
	// The protocol in two copies (чл. 20(5)).
	s, _ := f.st.Site(f.ctx, site)
	d := watch.ComparisonDocument(cmp, s, i18n.BG, true)
	var headings []string
	for _, sec := range d.Sections {
		headings = append(headings, sec.Heading)
	}
	joined := strings.Join(headings, "\n")
	if !strings.Contains(joined, "Екземпляр 1 от 2") || !strings.Contains(joined, "Екземпляр 2 от 2") {
		t.Errorf("headings %q", headings)
	}
	var pdf bytes.Buffer
	f.must(report.PDF(&pdf, d))
	if !bytes.HasPrefix(pdf.Bytes(), []byte("%PDF-")) {
		t.Error("not a PDF")
	}
}

// Test data that is not what it should be is refused at its line and field, and nothing is compared.
func TestParseTestValuesErrors(t *testing.T) {
	for name, tc := range map[string]struct{ in, key string }{
		"header":     {"a;b\n", "watch.testdata.header"},
		"fields":     {"point;time;tag;value\nBGNCA00005001001001;2026-11-23T08:00:00Z;t\n", "watch.testdata.fields"},
		"point":      {"point;time;tag;value\nBG1;2026-11-23T08:00:00Z;t;1\n", "watch.testdata.point"},
		"time":       {"point;time;tag;value\nBGNCA00005001001001;23.11.2026;t;1\n", "watch.testdata.time"},
		"value":      {"point,time,tag,value\nBGNCA00005001001001,2026-11-23T08:00:00Z,t,1e3\n", "watch.testdata.value"},
		"empty file": {"", "watch.testdata.header"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := watch.ParseTestValues(strings.NewReader(tc.in))
			m, ok := watch.Message(err)
			if !errors.Is(err, watch.ErrInvalid) || !ok || m.Key != tc.key {
				t.Errorf("got %v (%+v), want %s", err, m, tc.key)
			}
		})
	}
	vs, err := watch.ParseTestValues(strings.NewReader("\ufeffpoint;time;tag;value\r\n\r\nBGNCA00005001001001;2026-11-23T08:00:00.5Z;t;-1.5\r\n"))
	if err != nil || len(vs) != 1 || vs[0].Line != 3 || vs[0].Value != "-1.5" || vs[0].Time.Nanosecond() != 500e6 {
		t.Errorf("values %+v, %v", vs, err)
	}
}

// Bulgarian users type a decimal comma (1234,5), and Bulgarian Excel writes CSV separated by semicolons
// with it, a byte-order mark and CRLF; in a comma-separated file such a value is quoted (RFC 4180). The
// separator is the header's. Both decimal marks, and a space between thousands, give the same value.
func TestParseTestValuesDecimalComma(t *testing.T) {
	const p, at = "BGNCA00005001001001", "2026-11-23T08:00:00Z"
	for name, tc := range map[string]struct {
		in   string
		want []core.Decimal
	}{
		"semicolons, as Bulgarian Excel writes": {"\ufeffpoint;time;tag;value\r\n" + p + ";" + at + ";t;1234,5\r\n" +
			p + ";" + at + ";t;-0,25\r\n" + p + ";" + at + ";t;12 345,5\r\n" + p + ";" + at + ";t;1\u00a0234\r\n" +
			p + ";" + at + ";t;\"7,5\"\r\n", []core.Decimal{"1234.5", "-0.25", "12345.5", "1234", "7.5"}},
		// Excel ends lines with separators for columns another line of the sheet used.
		"trailing separators": {"point;time;tag;value;;\r\n" + p + ";" + at + ";t;2,5;;\r\n" + p + ";" + at + ";t;3;\r\n",
			[]core.Decimal{"2.5", "3"}},
		"commas, quoted": {"point,time,tag,value\n" + p + "," + at + ",t,\"1234,5\"\n" + p + ", " + at + ", t, \"12 345,5\"\n" +
			p + "," + at + ",t,10.5\n", []core.Decimal{"1234.5", "12345.5", "10.5"}},
		"quoted header": {`"point";"time";"tag";"value"` + "\n\"" + p + "\";\"" + at + "\";\"t\";\"3,0\"\n", []core.Decimal{"3.0"}},
	} {
		t.Run(name, func(t *testing.T) {
			vs, err := watch.ParseTestValues(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			var got []core.Decimal
			for _, v := range vs {
				got = append(got, v.Value)
				if v.Point != p || v.Tag != "t" || !v.Time.Equal(t0) {
					t.Errorf("value %+v", v)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("values %v, want %v", got, tc.want)
			}
		})
	}
	for name, tc := range map[string]struct {
		in, key string
		args    []any
	}{
		// 1234,5 unquoted in a comma-separated file is five fields: the message says how to write it.
		"unquoted decimal comma": {"point,time,tag,value\n" + p + "," + at + ",t,1\n" + p + "," + at + ",t,1234,5\n",
			"watch.testdata.decimal_comma", []any{3, 5}},
		"both marks":        {"point;time;tag;value\n" + p + ";" + at + ";t;1.234,5\n", "watch.testdata.value", []any{2, "1.234,5"}},
		"two commas":        {"point;time;tag;value\n" + p + ";" + at + ";t;1,234,5\n", "watch.testdata.value", []any{2, "1,234,5"}},
		"bad grouping":      {"point;time;tag;value\n" + p + ";" + at + ";t;12 34,5\n", "watch.testdata.value", []any{2, "12 34,5"}},
		"unclosed quote":    {"point;time;tag;value\n\n" + p + ";" + at + ";t;\"1,5\n", "watch.testdata.quote", nil},
		"quote in a field":  {"point;time;tag;value\n" + p + ";" + at + ";t\"x;1\n", "watch.testdata.quote", []any{2, 43}},
		"header mixes seps": {"point;time,tag;value\n", "watch.testdata.header", nil},
	} {
		t.Run(name, func(t *testing.T) {
			vs, err := watch.ParseTestValues(strings.NewReader(tc.in))
			m, ok := watch.Message(err)
			if !errors.Is(err, watch.ErrInvalid) || !ok || m.Key != tc.key || vs != nil {
				t.Fatalf("got %v, %v (%+v), want %s", vs, err, m, tc.key)
			}
			if tc.args != nil && !slices.Equal(m.Args, tc.args) {
				t.Errorf("%s args %v, want %v", m.Key, m.Args, tc.args)
			}
		})
	}
}

func FuzzParseTestValues(f *testing.F) {
	f.Add([]byte("point;time;tag;value\nBGNCA00005001001001;2026-11-23T08:00:00Z;t;1\n"))
	f.Add([]byte("point,time,tag,value\r\nx,y,z,w\r\n"))
	f.Add([]byte("\ufeffpoint;time;tag;value\r\nBGNCA00005001001001;2026-11-23T08:00:00Z;t;12 345,5\r\n"))
	f.Add([]byte("point,time,tag,value\nBGNCA00005001001001,2026-11-23T08:00:00Z,\"t\",\"1234,5\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		vs, err := watch.ParseTestValues(bytes.NewReader(b))
		if err != nil {
			if _, ok := watch.Message(err); !ok {
				t.Fatalf("an error without a message: %v", err)
			}
			return
		}
		for _, v := range vs {
			if !v.Value.Valid() || v.Line < 2 || v.Tag == "" {
				t.Fatalf("accepted %+v", v)
			}
		}
	})
}

// The inputs of the comparisons are bounded: a test-data file over MaxTestData is refused without being
// read whole, and an agent's export spanning more than a year is refused before the server's data are read.
func TestComparisonInputsBounded(t *testing.T) {
	big := "point;time;tag;value\n" + point1 + ";2026-11-23T08:00:00Z;" + strings.Repeat("t", watch.MaxTestData) + ";1\n"
	_, err := watch.ParseTestValues(strings.NewReader(big))
	if m, ok := watch.Message(err); !errors.Is(err, watch.ErrInvalid) || !ok || m.Key != "watch.testdata.too_large" {
		t.Errorf("a file over the bound: %v", err)
	}
	f := newFixture(t, store.SiteTesting)
	at := f.clock.Now()
	old := reading(point1, at.Add(-400*24*time.Hour), vol("1"))
	old.Time = core.Stamp(old.Time)
	_, err = watch.NewComparisons(f.st, decode, f.clock).ThreeWay(f.ctx, officer, site, watch.ThreeWay{
		Officer: []watch.TestValue{{Point: point1, Time: at, Tag: "p1_total_volume", Value: "1"}},
		Agent:   []core.Record{old},
	})
	if m, ok := watch.Message(err); !errors.Is(err, watch.ErrInvalid) || !ok || m.Key != "watch.query.period_too_long" {
		t.Errorf("an export over 400 days: %v", err)
	}
	if cs, _ := f.st.Comparisons(f.ctx, site); len(cs) != 0 {
		t.Errorf("a refused comparison was stored: %+v", cs)
	}
}
