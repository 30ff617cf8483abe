package sim

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/akciz/akciz/examples"
	"github.com/akciz/akciz/internal/i18n"
)

var sampleNames = []string{"fuel-depot", "distillery", "tobacco-factory", "cng-station"}

func loadSample(t testing.TB, name string) *Scenario {
	t.Helper()
	sc, err := LoadFile(filepath.Join("..", "..", "examples", name, "scenario.xml"))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestSamplesLoad(t *testing.T) {
	for _, n := range sampleNames {
		sc := loadSample(t, n)
		if sc.Name != n {
			t.Errorf("%s: name %q", n, sc.Name)
		}
		if len(sc.Devices) == 0 || sc.Warehouse == "" || sc.Title == "" {
			t.Errorf("%s: incomplete: %+v", n, sc)
		}
		// The embedded copy is the same file.
		b, err := fs.ReadFile(examples.Scenarios, n+"/scenario.xml")
		if err != nil {
			t.Fatalf("%s: not embedded: %v", n, err)
		}
		disk, _ := os.ReadFile(filepath.Join("..", "..", "examples", n, "scenario.xml"))
		if string(b) != string(disk) {
			t.Errorf("%s: embedded copy differs from the file", n)
		}
	}
}

// TestFuelDepotMap pins the register map the sample automation_config.xml files are written against:
// changing an address here breaks them (and чл. 26 forbids moving a kept tag).
func TestFuelDepotMap(t *testing.T) {
	sc := loadSample(t, "fuel-depot")
	want := map[string]string{
		"1/1/total-volume":          "holding-register 0 uint32 ABCD",
		"1/1/flow":                  "holding-register 6 float32 CDAB",
		"1/1/transaction-indicator": "holding-register 13 uint16 ABCD",
		"1/1/start-total":           "holding-register 16 uint32 ABCD",
		"1/2/total-volume":          "holding-register 20 uint32 ABCD",
		"2/4/total-volume":          "input-register 0 uint32 CDAB",
		"2/4/temperature":           "input-register 8 int32 ABCD",
		"2/4/transaction-indicator": "coil 0 bit ",
		"3/5/total-volume":          "holding-register 0 float64 ABCD",
		"3/5/flow":                  "holding-register 12 float32 BADC",
	}
	got := map[string]string{}
	for _, d := range sc.Devices {
		for _, p := range d.Points {
			for _, r := range p.Registers {
				key := strings.Join([]string{itoa(int(d.Unit)), itoa(p.Number), string(r.Role)}, "/")
				got[key] = strings.Join([]string{r.Table.String(), itoa(int(r.Address)), string(r.Type), string(r.Order)}, " ")
			}
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

const minimal = `<scenario name="t" tick="100ms">
  <warehouse id="BGNCA00005001" box="1"/>
  <product id="d" code="D" raw="2" cn="2710 19 43" name="Дизел" density15="830..840" temperature="10..20" expansion="0.0008"/>
  <device unit="1">
    <point number="1" name="Пост 1" kind="meter" class="road" products="d">
      <run rate="2000" duration="1m" gap="30s"/>
      <register table="holding-register" address="0" type="uint32" role="total-volume"/>
      <register table="holding-register" address="2" type="uint16" role="transaction-indicator"/>
    </point>
  </device>
</scenario>`

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, old, new string
		line           int
		field, key     string
	}{
		{"xml", `</scenario>`, ``, 0, "", "sim.scenario.xml"},
		{"root", `<scenario name="t" tick="100ms">`, `<site name="t" tick="100ms">`, 1, "site", "sim.scenario.root"},
		{"unknown attr", `box="1"`, `box="1" colour="red"`, 2, "warehouse@colour", "sim.scenario.unknown_attr"},
		{"warehouse", `BGNCA00005001`, `XX1`, 2, "warehouse@id", "sim.scenario.bad_warehouse"},
		{"range", `rate="2000"`, `rate="fast"`, 6, "run@rate", "sim.scenario.bad_range"},
		{"duration", `gap="30s"`, `gap="soon"`, 6, "run@gap", "sim.scenario.bad_duration_range"},
		{"tick", `tick="100ms"`, `tick="1h"`, 1, "scenario@tick", "sim.scenario.out_of_range"},
		{"product", `products="d"`, `products="x"`, 5, "point@products", "sim.scenario.unknown_product"},
		{"overlap", `address="2" type="uint16"`, `address="1" type="uint16"`, 8, "register@address", "sim.scenario.overlap"},
		{"no indicator", `<register table="holding-register" address="2" type="uint16" role="transaction-indicator"/>`, ``, 5, "point", "sim.scenario.need_role"},
		{"type", `type="uint32"`, `type="uint24"`, 7, "register@type", "sim.scenario.bad_enum"},
		{"role", `role="total-volume"`, `role="volume"`, 7, "register@role", "sim.scenario.bad_enum"},
		{"role kind", `role="total-volume"/>`, `role="total-volume"/><register table="holding-register" address="9" type="uint16" role="weight"/>`, 7, "register@role", "sim.scenario.role_kind"},
		{"element", `<run `, `<walk `, 6, "walk", "sim.scenario.unknown_element"},
		{"coil type", `<register table="holding-register" address="2" type="uint16"`, `<register table="coil" address="2" type="uint16"`, 8, "register@type", "sim.scenario.type_table"},
		{"continuous flag", `class="road"`, `class="road" mode="continuous"`, 5, "point", "sim.scenario.continuous_flag"},
		{"fault", `</device>`, "</device>\n<fault at=\"1m\" kind=\"flood\"/>", 11, "fault", "sim.fault.kind"},
		{"fault point", `</device>`, "</device>\n<fault at=\"1m\" kind=\"error-bits\" point=\"7\" bits=\"1\"/>", 11, "fault", "sim.fault.point"},
		{"duplicate unit", `</device>`, "</device>\n<device unit=\"1\"/>", 11, "device@unit", "sim.scenario.duplicate"},
		{"density", ` density15="830..840"`, ``, 5, "point@products", "sim.scenario.need_density"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(minimal, c.old, c.new, 1)
			if c.name == "root" {
				src = strings.ReplaceAll(minimal, "scenario", "site")
			}
			if src == minimal {
				t.Fatalf("replacement %q not found", c.old)
			}
			_, err := Parse("t.xml", []byte(src))
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if se.Msg.Key != c.key || (c.line != 0 && se.Line != c.line) || se.Field != c.field {
				t.Errorf("got %s:%d %s %s (%v), want line %d field %s key %s", se.File, se.Line, se.Field, se.Msg.Key, se, c.line, c.field, c.key)
			}
			// Both languages say something, and name the file.
			for _, l := range i18n.Langs {
				if s := se.Localize(i18n.For(l)); !strings.HasPrefix(s, "t.xml") || strings.Contains(s, "%!") {
					t.Errorf("%s: %q", l, s)
				}
			}
		})
	}
}

func TestParseMinimal(t *testing.T) {
	sc, err := Parse("t.xml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	p := sc.Devices[0].Points[0]
	if p.Run.Rate != (Range{2000, 2000}) || p.Run.Lead != 3e9 || p.VolumeUnit != "L" || sc.TruthPeriod.Minutes() != 1 {
		t.Errorf("defaults: %+v %+v", p.Run, sc)
	}
	if sc.Devices[0].Size[HoldingRegisters] != 3 {
		t.Errorf("holding size %d, want 3", sc.Devices[0].Size[HoldingRegisters])
	}
}

func TestParseTooLarge(t *testing.T) {
	big := make([]byte, MaxScenarioSize+1)
	_, err := Parse("big.xml", big)
	var se *Error
	if !errors.As(err, &se) || se.Msg.Key != "sim.scenario.too_large" {
		t.Fatalf("err = %v", err)
	}
	deep := strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100)
	if _, err := Parse("deep.xml", []byte(deep)); !errors.As(err, &se) || se.Msg.Key != "sim.scenario.too_deep" {
		t.Fatalf("deep: err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	for _, n := range sampleNames {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", n, "scenario.xml"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`<scenario name="x"><device unit="1"><point number="1"/></device></scenario>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := Parse("f.xml", b)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			_ = se.Error()
			return
		}
		// Whatever loads must run.
		s, err := New(sc, Options{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 50; i++ {
			if err := s.Step(); err != nil {
				t.Fatal(err)
			}
		}
		_ = s.Close()
	})
}
