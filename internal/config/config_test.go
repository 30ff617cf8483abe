package config

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/akciz/akciz/internal/i18n"
)

var update = flag.Bool("update", false, "rewrite the expected output of testdata/cases")

// samples lists the sample configurations of examples/.
func samples(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("../../examples/*/automation_config.xml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no samples in examples/*/automation_config.xml")
	}
	return files
}

func TestSamplesAreValid(t *testing.T) {
	for _, f := range samples(t) {
		t.Run(filepath.Base(filepath.Dir(f)), func(t *testing.T) {
			c, ds := LoadFile(f)
			for _, d := range ds {
				t.Errorf("%s", d.Format(i18n.For(i18n.EN)))
			}
			if c == nil {
				t.Fatal("no configuration")
			}
			if len(c.Points) == 0 || len(c.Tags()) == 0 {
				t.Errorf("sample has %d points and %d tags", len(c.Points), len(c.Tags()))
			}
			for _, r := range c.Tags() {
				if (r.Tag.Formula != "") != (r.Tag.Compiled != nil) {
					t.Errorf("tag %s: formula %q compiled %v", r.Tag.Name, r.Tag.Formula, r.Tag.Compiled != nil)
				}
			}
		})
	}
}

// strip clears what is not part of a configuration's meaning: places in the file and compiled formulas.
func strip(c *Config) *Config {
	v := reflect.ValueOf(c).Elem()
	clearPos(v)
	return c
}

var posType = reflect.TypeOf(Pos{})

func clearPos(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			clearPos(v.Elem())
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			clearPos(v.Index(i))
		}
	case reflect.Struct:
		if v.Type() == posType {
			v.Set(reflect.Zero(posType))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			if v.Type().Field(i).Name == "Compiled" {
				f.Set(reflect.Zero(f.Type()))
				continue
			}
			if f.CanSet() {
				clearPos(f)
			}
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, f := range samples(t) {
		t.Run(filepath.Base(filepath.Dir(f)), func(t *testing.T) {
			c1, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			out1 := Marshal(c1)
			c2, ds := Parse("written.xml", out1)
			if ds.HasErrors() {
				t.Fatalf("the written file does not load:\n%v\n%s", ds, out1)
			}
			if !reflect.DeepEqual(strip(c1), strip(c2)) {
				t.Errorf("load → write → load changed the model")
			}
			out2 := Marshal(c2)
			if !bytes.Equal(out1, out2) {
				t.Errorf("writing is not stable:\n%s\n----\n%s", out1, out2)
			}
		})
	}
}

// TestCases runs every directory of testdata/cases: the file automation_config.xml and the exact output
// expected of it in English and Bulgarian. The directory is named after the rule it shows, and that rule
// must be among the findings. go test -update rewrites the expected files.
func TestCases(t *testing.T) {
	dirs, err := filepath.Glob("testdata/cases/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no cases")
	}
	for _, dir := range dirs {
		rule := filepath.Base(dir)
		t.Run(rule, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, "automation_config.xml"))
			if err != nil {
				t.Fatal(err)
			}
			c, ds := Parse("automation_config.xml", data)
			found := false
			for _, d := range ds {
				if d.Rule == rule {
					found = true
				}
			}
			if !found {
				t.Errorf("no finding of rule %s among:\n%s", rule, caseOutput(ds))
			}
			if ds.HasErrors() != (c == nil) {
				t.Errorf("errors %v but configuration %v", ds.HasErrors(), c != nil)
			}
			got := caseOutput(ds)
			exp := filepath.Join(dir, "expected")
			if *update {
				if err := os.WriteFile(exp, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(exp)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s:\n--- got\n%s--- want\n%s", exp, got, want)
			}
		})
	}
}

// caseOutput is what `akciz config check` prints for ds, in English and then in Bulgarian.
func caseOutput(ds Diagnostics) string {
	var b strings.Builder
	for _, l := range []i18n.Lang{i18n.EN, i18n.BG} {
		b.WriteString("# " + string(l) + "\n")
		for _, d := range ds {
			b.WriteString(d.Format(i18n.For(l)) + "\n")
		}
	}
	return b.String()
}

// TestSchemaAgrees runs xmllint with the XSD over the samples (both accept), the schema-* cases (both
// refuse) and the other rule cases that are valid XML of the schema (xmllint accepts, we refuse).
func TestSchemaAgrees(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not found: install the Debian package libxml2-utils")
	}
	xsd := "../../schemas/automation_config-1.0.xsd"
	lint := func(f string) (bool, string) {
		out, err := exec.Command(xmllint, "--noout", "--nonet", "--schema", xsd, f).CombinedOutput()
		return err == nil, string(out)
	}
	for _, f := range samples(t) {
		if ok, out := lint(f); !ok {
			t.Errorf("xmllint refuses sample %s:\n%s", f, out)
		}
	}
	dirs, _ := filepath.Glob("testdata/cases/*")
	for _, dir := range dirs {
		rule := filepath.Base(dir)
		f := filepath.Join(dir, "automation_config.xml")
		ok, out := lint(f)
		switch {
		case strings.HasPrefix(rule, "schema-") && ok:
			t.Errorf("case %s: xmllint accepts what we refuse as a schema error", rule)
		case strings.HasPrefix(rule, "input-"):
			// Hostile or malformed input: xmllint's answer varies; ours is tested in TestCases.
		case !strings.HasPrefix(rule, "schema-") && !ok:
			t.Errorf("case %s: xmllint refuses a file that only breaks a rule beyond the schema:\n%s", rule, out)
		}
	}
}
