package sepi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/akciz/akciz/internal/i18n"
)

var update = flag.Bool("update", false, "rewrite the expected output of testdata/cases")

func samples(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("../../examples/sepi/*.xml")
	if err != nil || len(files) < 4 {
		t.Fatalf("samples in examples/sepi: %v, %v", files, err)
	}
	return files
}

func parseFile(t testing.TB, name string, opt Options) *Result {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Parse(context.Background(), f, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestSamplesAreValid(t *testing.T) {
	for _, f := range samples(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res := parseFile(t, f, Options{})
			for _, e := range res.Errors {
				t.Errorf("%s", e.Format(i18n.For(i18n.EN), f))
			}
			if res.List == nil {
				t.Fatal("no list")
			}
			data, _ := os.ReadFile(f)
			if res.SHA256 != sha256.Sum256(data) || res.Bytes != int64(len(data)) {
				t.Errorf("digest or size not of the whole file")
			}
			l := res.List
			if l.Number == "" || res.Number != l.Number || l.Packages != l.Barcodes() || len(l.Products) == 0 {
				t.Errorf("list %q: packages %d, barcodes %d, products %d", l.Number, l.Packages, l.Barcodes(), len(l.Products))
			}
			if l.Kind == "" || l.Goods == "" || l.Person.EIK == "" || l.Point.Warehouse == "" || l.End.IsZero() {
				t.Errorf("header not read: %+v", l)
			}
		})
	}
}

// TestCases runs every directory of testdata/cases: list.xml and the exact output expected of it in
// English and Bulgarian. The directory is named after the rule it shows, and that rule must be among the
// errors (entered-twice: among the flags of an accepted list); a history/ directory beside list.xml holds
// earlier lists. go test -update rewrites the
// expected files.
func TestCases(t *testing.T) {
	dirs, err := filepath.Glob("testdata/cases/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range dirs {
		rule := filepath.Base(dir)
		t.Run(rule, func(t *testing.T) {
			opt := Options{}
			if hist, _ := filepath.Glob(filepath.Join(dir, "history", "*.xml")); len(hist) > 0 {
				h := &Memory{}
				for _, f := range hist {
					res := parseFile(t, f, Options{})
					if res.List == nil {
						t.Fatalf("history %s is invalid:\n%s", f, res.Error())
					}
					h.Add(res.List, res.SHA256)
				}
				opt.History = h
			}
			res := parseFile(t, filepath.Join(dir, "list.xml"), opt)
			found := false
			for _, e := range res.Errors {
				found = found || e.Rule == rule
			}
			if rule == RuleEnteredTwice || rule == RuleLeftTwice {
				// A flag, not an error: the list is accepted and its barcodes marked; the batch path of
				// a database history finds the same flags.
				found = len(res.Flags) > 0 && res.List != nil
				if opt.History != nil {
					again := parseFile(t, filepath.Join(dir, "list.xml"), Options{History: batchOnly{opt.History.(*Memory)}})
					if caseOutput(again) != caseOutput(res) {
						t.Errorf("batch history:\n%s\nsingle:\n%s", caseOutput(again), caseOutput(res))
					}
				}
			} else if res.List != nil {
				t.Errorf("an invalid list gave a list")
			}
			if !found {
				t.Errorf("no error of rule %s among:\n%s", rule, caseOutput(res))
			}
			got := caseOutput(res)
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

func caseOutput(res *Result) string {
	var b strings.Builder
	for _, l := range []i18n.Lang{i18n.EN, i18n.BG} {
		p := i18n.For(l)
		b.WriteString("# " + string(l) + "\n")
		for _, e := range res.Errors {
			b.WriteString(e.Format(p, "list.xml") + "\n")
		}
		if res.Omitted > 0 {
			b.WriteString(p.T("sepi.omitted", res.Omitted) + "\n")
		}
		for _, f := range res.Flags {
			b.WriteString(f.Format(p, "list.xml") + "\n")
		}
	}
	return b.String()
}

// batchOnly is a BatchHistory over a Memory whose single lookup fails: Parse must use the batch one.
type batchOnly struct{ m *Memory }

func (b batchOnly) LastMovement(context.Context, Barcode) (Movement, bool, error) {
	return Movement{}, false, errors.New("single lookup used")
}

func (b batchOnly) ListDigest(ctx context.Context, number string) ([32]byte, bool, error) {
	return b.m.ListDigest(ctx, number)
}

func (b batchOnly) LastMovements(ctx context.Context, bs []Barcode, fn func(int, Movement)) error {
	for i, c := range bs {
		if m, ok, _ := b.m.LastMovement(ctx, c); ok {
			fn(i, m)
		}
	}
	return nil
}

// TestSchemaAgrees runs xmllint with the XSD over the samples (both accept), the schema-* cases (both
// refuse) and the other rule cases (xmllint accepts what we refuse for a rule beyond the schema).
func TestSchemaAgrees(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not found: install the Debian package libxml2-utils")
	}
	lint := func(f string) (bool, string) {
		out, err := exec.Command(xmllint, "--noout", "--nonet", "--schema", "../../schemas/sepi-1.0.xsd", f).CombinedOutput()
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
		ok, out := lint(filepath.Join(dir, "list.xml"))
		switch {
		case strings.HasPrefix(rule, "schema-") && ok:
			t.Errorf("case %s: xmllint accepts what we refuse as a schema error", rule)
		case strings.HasPrefix(rule, "input-") || strings.HasPrefix(rule, "limit-"):
			// Malformed or oversized input: ours is tested in TestCases.
		case !strings.HasPrefix(rule, "schema-") && !ok:
			t.Errorf("case %s: xmllint refuses a file that only breaks a rule beyond the schema:\n%s", rule, out)
		}
	}
}

// TestKeysExist checks the message keys the package names, which the i18n test cannot see when they
// are passed through errorList.add.
func TestKeysExist(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	re := regexp.MustCompile(`"(sepi\.[a-z0-9_.-]+)"`)
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			n++
			if k := string(m[1]); !i18n.Has(i18n.BG, k) || !i18n.Has(i18n.EN, k) {
				t.Errorf("%s names key %q, which the catalogue lacks", f, k)
			}
		}
	}
	if n < 30 {
		t.Errorf("found only %d keys", n)
	}
}

func TestSameListTwice(t *testing.T) {
	f := samples(t)[0]
	first := parseFile(t, f, Options{})
	h := &Memory{}
	h.Add(first.List, first.SHA256)
	again := parseFile(t, f, Options{History: h})
	if again.List != nil || len(again.Errors) == 0 || again.Errors[0].Rule != "list-resent" {
		t.Fatalf("a list sent again: %v", again.Error())
	}
	if again.Number != first.Number || again.SHA256 != first.SHA256 {
		t.Errorf("number or digest differ between two readings of one file")
	}
	data, _ := os.ReadFile(f)
	data = bytes.Replace(data, []byte("-->"), []byte("edited -->"), 1)
	changed, err := Parse(context.Background(), bytes.NewReader(data), Options{History: h})
	if err != nil {
		t.Fatal(err)
	}
	if len(changed.Errors) == 0 || changed.Errors[0].Rule != "list-number-reused" {
		t.Errorf("another file with the number: %v", changed.Error())
	}
}
