package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func minimal(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/minimal.xml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantRule(t *testing.T, ds Diagnostics, rule string) {
	t.Helper()
	for _, d := range ds {
		if d.Rule == rule {
			return
		}
	}
	t.Errorf("no finding of rule %s among:\n%v", rule, ds)
}

func TestMinimalIsValid(t *testing.T) {
	c, ds := Parse("minimal.xml", minimal(t))
	if c == nil || len(ds) != 0 {
		t.Fatalf("minimal.xml: %v", ds)
	}
}

func TestHostileInput(t *testing.T) {
	base := string(minimal(t))
	tests := []struct {
		name, rule string
		data       []byte
	}{
		{"too large", "input-too-large", append([]byte(base), bytes.Repeat([]byte("<!-- padding -->\n"), MaxFileSize/17+1)...)},
		{"too many elements", "input-too-many-elements",
			[]byte(strings.Replace(base, "    </products>\n", "    </products>\n"+strings.Repeat("<x/>", MaxElements), 1))},
		{"too many attributes", "input-too-long",
			[]byte(strings.Replace(base, `<box number="001"`, `<box number="001"`+manyAttrs(MaxAttributes+1), 1))},
		{"long text", "input-too-long",
			[]byte(strings.Replace(base, "<parameter>Общ обем</parameter>", "<parameter>"+strings.Repeat("x", MaxTextLength+1)+"</parameter>", 1))},
		{"invalid UTF-8", "input-encoding", []byte(strings.Replace(base, "Склад", "Sk\xffad", 1))},
		{"external entity", "input-doctype",
			[]byte(strings.Replace(base, "<automationConfig ", "<!DOCTYPE a [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>\n<automationConfig ", 1))},
		{"two roots", "schema-malformed", []byte(base + "<automationConfig/>")},
		{"empty", "schema-malformed", nil},
		{"repeated attribute", "schema-malformed", []byte(strings.Replace(base, `<box number="001"`, `<box number="001" number="002"`, 1))},
		{"undefined entity", "schema-malformed", []byte(strings.Replace(base, "Склад", "&undefined;", 1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ds := Parse("x.xml", tt.data)
			if c != nil {
				t.Fatal("hostile input gave a configuration")
			}
			if len(ds) != 1 && strings.HasPrefix(tt.rule, "input-") {
				t.Errorf("want one finding, have %v", ds)
			}
			wantRule(t, ds, tt.rule)
		})
	}
}

func manyAttrs(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(" a")
		b.WriteString(strings.Repeat("b", i%7))
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(string(rune('a' + i/26)))
		b.WriteString(`="1"`)
	}
	return b.String()
}

func TestEveryProblemIsReported(t *testing.T) {
	s := string(minimal(t))
	s = strings.Replace(s, `eik="131071587"`, `eik="131071588"`, 1)
	s = strings.Replace(s, `interval="1m"`, `interval="20m"`, 1)
	s = strings.Replace(s, `size="2" type="uint32"`, `size="2" colour="red" type="uint32"`, 1)
	s = strings.Replace(s, `name="indicator"`, `name="total"`, 1)
	_, ds := Parse("x.xml", []byte(s))
	for _, r := range []string{"invalid-eik", "interval-class", "schema-unknown-attribute", "schema-duplicate-tag-name"} {
		wantRule(t, ds, r)
	}
	for i := 1; i < len(ds); i++ {
		a, b := ds[i-1].Pos, ds[i].Pos
		if a.Line > b.Line || (a.Line == b.Line && a.Col > b.Col) {
			t.Errorf("findings out of order: %v before %v", a, b)
		}
	}
}

func TestPositions(t *testing.T) {
	s := string(minimal(t))
	s = strings.Replace(s, `name="indicator"`, `name="total"`, 1)
	_, ds := Parse("x.xml", []byte(s))
	if len(ds) != 1 {
		t.Fatalf("want one finding, have %v", ds)
	}
	// The duplicate is the third tag of the point: line 24, indented by 4 spaces.
	if got := ds[0].Pos; got != (Pos{24, 5}) {
		t.Errorf("position %v, want 24:5", got)
	}
}

func TestCoilsFromZero(t *testing.T) {
	s := string(minimal(t))
	s = strings.Replace(s, `unitId="1"/>`, `unitId="1"><quirks coilsFromZero="true"/></controller>`, 1)
	_, ds := Parse("x.xml", []byte(s))
	wantRule(t, ds, "address-mismatch") // 10001 is now physical 0x0001
	s = strings.Replace(s, `logical="10001"`, `logical="10000"`, 1)
	if c, ds := Parse("x.xml", []byte(s)); c == nil {
		t.Errorf("10000 with coilsFromZero: %v", ds)
	}
}

func TestBitTagsShareRegisters(t *testing.T) {
	s := strings.Replace(string(minimal(t)), "  </point>", `    <tag name="e0" controller="plc" logical="40005" physical="0x0004" size="1" type="bit" bit="0"><parameter>Бит 0</parameter></tag>
    <tag name="e1" controller="plc" logical="40005" physical="0x0004" size="1" type="bit" bit="1"><parameter>Бит 1</parameter></tag>
  </point>`, 1)
	if c, ds := Parse("x.xml", []byte(s)); c == nil {
		t.Fatalf("bit tags over a status word: %v", ds)
	}
	s = strings.Replace(s, `bit="1"`, `bit="0"`, 1)
	_, ds := Parse("x.xml", []byte(s))
	wantRule(t, ds, "duplicate-address")
}

func TestUnitOverrideSeparatesAddresses(t *testing.T) {
	s := strings.Replace(string(minimal(t)), "  </point>", `    <tag name="other" controller="plc" unitId="7" logical="40001" physical="0x0000" size="2" type="uint32"><parameter>Друго устройство</parameter></tag>
  </point>`, 1)
	c, ds := Parse("x.xml", []byte(s))
	if c == nil {
		t.Fatalf("the same address on another unit: %v", ds)
	}
	if got := c.Tag("other").EffectiveUnitID(c.Controller("plc")); got != 7 {
		t.Errorf("unit %d, want 7", got)
	}
	if got := c.Tag("total").EffectiveUnitID(c.Controller("plc")); got != 1 {
		t.Errorf("unit %d, want 1", got)
	}
}

func TestFormulaCompiledOnce(t *testing.T) {
	s := strings.Replace(string(minimal(t)), "<parameter>Общ обем</parameter>", "<parameter>Общ обем</parameter><formula>x / 10</formula>", 1)
	c, ds := Parse("x.xml", []byte(s))
	if c == nil {
		t.Fatal(ds)
	}
	tag := c.Tag("total")
	if tag.Compiled == nil || tag.Normalize(125) != 12.5 {
		t.Errorf("formula not compiled: %v", tag.Compiled)
	}
	if c.Tag("product").Normalize(3) != 3 {
		t.Error("a tag without a formula must keep its value")
	}
}

func TestModelHelpers(t *testing.T) {
	c, err := Load("testdata/minimal.xml")
	if err != nil {
		t.Fatal(err)
	}
	p := c.Point("BGNCA00005001001001")
	if p == nil || c.Point("nope") != nil {
		t.Fatal("Point lookup")
	}
	if got := p.ProductFor(2); got == nil || got.Code != "DB6" {
		t.Errorf("ProductFor(2) = %v", got)
	}
	if p.ProductFor(9) != nil {
		t.Error("ProductFor(9) must be nil")
	}
	if p.Primary() != c.Tag("total") {
		t.Error("Primary")
	}
	if c.Site.ID() != "BGNCA00005001" || len(c.Tags()) != 5 {
		t.Errorf("site %s tags %d", c.Site.ID(), len(c.Tags()))
	}
	if got := c.Tag("door").EffectiveReadInterval(nil); got != DefaultBoxReadInterval {
		t.Errorf("box tag read every %v", got)
	}
	if got := c.Tag("total").EffectiveReadInterval(p); got != p.Interval {
		t.Errorf("point tag read every %v, want %v", got, p.Interval)
	}
	if c.Tag("total").Table.ReadFunction() != 3 || c.Tag("door").Table.ReadFunction() != 2 {
		t.Error("ReadFunction")
	}
	if _, err := Load("testdata/nonexistent.xml"); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

func TestWriteIsCanonical(t *testing.T) {
	c, err := Load("testdata/minimal.xml")
	if err != nil {
		t.Fatal(err)
	}
	out := Marshal(c)
	for _, want := range []string{`physical="0x0002"`, `cn="27101245"`, "\n    <tag name=\"total\"", "</automationConfig>\n"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("written file lacks %q", want)
		}
	}
	c2, ds := Parse("w.xml", out)
	if c2 == nil {
		t.Fatal(ds)
	}
	if !reflect.DeepEqual(strip(c), strip(c2)) {
		t.Error("round trip changed the model")
	}
}

func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("../../examples/*/automation_config.xml")
	cases, _ := filepath.Glob("testdata/cases/*/automation_config.xml")
	for _, s := range append(append(seeds, cases...), "testdata/minimal.xml") {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, ds := Parse("fuzz.xml", data)
		if (c == nil) != ds.HasErrors() {
			t.Fatalf("configuration %v with errors %v", c != nil, ds.HasErrors())
		}
		for _, d := range ds {
			if d.Rule == "" || !d.Pos.IsValid() {
				t.Fatalf("finding without rule or place: %+v", d)
			}
		}
		if c == nil {
			return
		}
		out := Marshal(c)
		c2, ds2 := Parse("written.xml", out)
		if c2 == nil {
			t.Fatalf("a valid configuration was written invalid: %v\n%s", ds2, out)
		}
		if !reflect.DeepEqual(strip(c), strip(c2)) {
			t.Fatalf("round trip changed the model:\n%s", out)
		}
		if out2 := Marshal(c2); !bytes.Equal(out, out2) {
			t.Fatalf("writing is not stable")
		}
	})
}

func TestDirectionOf(t *testing.T) {
	var tag Tag
	for raw, want := range map[int64]string{0: "out", 1: "in", 2: ""} {
		if d, ok := tag.DirectionOf(raw); string(d) != want || ok != (want != "") {
			t.Errorf("default DirectionOf(%d) = %q, %v", raw, d, ok)
		}
	}
	out, in := int64(2), int64(0)
	tag.OutValue, tag.InValue = &out, &in
	if d, _ := tag.DirectionOf(2); d != "out" {
		t.Errorf("DirectionOf(2) = %q", d)
	}
	if d, _ := tag.DirectionOf(0); d != "in" {
		t.Errorf("DirectionOf(0) = %q", d)
	}
}
