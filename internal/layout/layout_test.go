package layout

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/akciz/akciz/"

// allowed lists, for each package (a prefix ending in "/" covers the packages beneath it), the packages
// of this module it may import outside its tests. Anything not listed may not be imported; a new
// package must be placed here deliberately, which is the point.
var allowed = map[string][]string{
	"internal/core":               {},
	"internal/i18n":               {},
	"internal/modbus":             {},
	"internal/journal":            {},
	"internal/formula":            {"internal/i18n"},
	"internal/workday":            {"internal/i18n"},
	"internal/report":             {"internal/i18n"},
	"internal/wire":               {"internal/core", "internal/i18n"},
	"internal/signer":             {},
	"internal/config":             {"internal/core", "internal/formula", "internal/i18n", "internal/modbus"},
	"internal/config/change":      {"internal/config", "internal/i18n", "internal/workday"},
	"internal/modbusmap":          {"internal/config", "internal/i18n", "internal/modbus", "internal/report"},
	"internal/sim":                {"internal/core", "internal/i18n", "internal/modbus"},
	"internal/agent":              {"internal/config", "internal/core", "internal/formula", "internal/i18n", "internal/modbus", "internal/journal", "internal/wire", "internal/signer"},
	"internal/store":              {"internal/core"},
	"internal/store/":             {"internal/core", "internal/store", "internal/store/internal/sqlstore"},
	"internal/ingest":             {"internal/core", "internal/i18n", "internal/store", "internal/wire"},
	"internal/agent/deliver":      {"internal/core", "internal/i18n", "internal/journal", "internal/wire", "internal/signer"},
	"internal/sepi":               {"internal/core", "internal/i18n"},
	"internal/energy":             {"internal/core", "internal/i18n"},
	"internal/watch":              {"internal/config", "internal/config/change", "internal/core", "internal/i18n", "internal/report", "internal/store", "internal/workday"},
	"internal/notify":             {"internal/core", "internal/i18n", "internal/report", "internal/store", "internal/workday"},
	"internal/submit":             {"internal/core", "internal/energy", "internal/i18n", "internal/report", "internal/sepi", "internal/store"},
	"internal/web":                {"internal/config", "internal/config/change", "internal/core", "internal/energy", "internal/i18n", "internal/modbusmap", "internal/notify", "internal/report", "internal/sepi", "internal/store", "internal/submit", "internal/watch", "internal/workday"},
	"internal/layout":             {},
	"examples":                    {},
	"cmd/akciz":                   {"*"},
	"internal/modbus/conformance": {"internal/modbus"},
}

func rule(pkg string) ([]string, bool) {
	if r, ok := allowed[pkg]; ok {
		return r, true
	}
	best := ""
	for k := range allowed {
		if strings.HasSuffix(k, "/") && strings.HasPrefix(pkg, k) && len(k) > len(best) {
			best = k
		}
	}
	if best == "" {
		return nil, false
	}
	return allowed[best], true
}

func TestDependenciesPointInwards(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		pkg := strings.TrimPrefix(f[0], module)
		n++
		ok, known := rule(pkg)
		if !known {
			t.Errorf("package %s has no place in the layout: add it to allowed in %s with the imports it may have", pkg, "internal/layout/layout_test.go")
			continue
		}
		for _, imp := range f[1:] {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			imp = strings.TrimPrefix(imp, module)
			if !contains(ok, imp) {
				t.Errorf("%s imports %s, which the layout does not allow (docs/architecture.md)", pkg, imp)
			}
		}
	}
	if n < 10 {
		t.Fatalf("go list found only %d packages", n)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == "*" || x == s {
			return true
		}
	}
	return false
}
