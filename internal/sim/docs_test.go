package sim

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the register maps in docs/simulator.md")

// TestDocsMaps keeps the register maps of docs/simulator.md, which the sample automation_config.xml
// files are written from, equal to the scenarios.
func TestDocsMaps(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "simulator.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, n := range sampleNames {
		var m strings.Builder
		if err := loadSample(t, n).WriteMap(&m); err != nil {
			t.Fatal(err)
		}
		open, end := "<!-- map:"+n+" -->\n", "<!-- /map:"+n+" -->"
		i, j := strings.Index(doc, open), strings.Index(doc, end)
		if i < 0 || j < i {
			t.Fatalf("docs/simulator.md has no %s … %s section", strings.TrimSpace(open), end)
		}
		if got := doc[i+len(open) : j]; got != m.String() {
			if !*update {
				t.Errorf("the register map of %s in docs/simulator.md is out of date; run go test ./internal/sim -run TestDocsMaps -update", n)
				continue
			}
			doc = doc[:i+len(open)] + m.String() + doc[j:]
		}
	}
	if *update {
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
