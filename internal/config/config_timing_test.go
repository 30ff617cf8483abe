package config

import (
	"os"
	"strings"
	"testing"
)

// BenchmarkParse measures reading and validating the fuel depot's sample (53 tags, 5 points).
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("../../examples/fuel-depot/automation_config.xml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if c, ds := Parse("x.xml", data); c == nil {
			b.Fatal(ds)
		}
	}
}

// BenchmarkParseLarge measures a site with 1,000 tags on one controller, the size DESIGN.md sets for an
// agent.
func BenchmarkParseLarge(b *testing.B) {
	data := large(b, 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if c, ds := Parse("x.xml", data); c == nil {
			b.Fatal(ds)
		}
	}
}

// large builds the minimal configuration with n more uint32 value tags.
func large(b *testing.B, n int) []byte {
	base, err := os.ReadFile("testdata/minimal.xml")
	if err != nil {
		b.Fatal(err)
	}
	var t strings.Builder
	for i := 0; i < n; i++ {
		phys := 100 + 2*i
		t.WriteString(`    <tag name="v` + itoa(i) + `" controller="plc" logical="4` + pad5(phys+1) + `" physical="` + itoa(phys) +
			`" size="2" type="float32" order="CDAB" unit="°C" low="-40" high="80"><parameter>Стойност</parameter><formula>x * 0.1 + 2</formula></tag>` + "\n")
	}
	return []byte(strings.Replace(string(base), "  </point>", t.String()+"  </point>", 1))
}

func itoa(i int) string {
	const d = "0123456789"
	if i < 10 {
		return d[i : i+1]
	}
	return itoa(i/10) + d[i%10:i%10+1]
}

func pad5(i int) string {
	s := itoa(i)
	return strings.Repeat("0", 5-len(s)) + s
}
