package i18n

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// verbs lists the fmt verbs of a message, so that a translation that drops or changes an argument is
// caught before a person sees "%!d(MISSING)".
var verbRE = regexp.MustCompile(`%(\[\d+\])?[-+# 0]*\d*(\.\d+)?[a-zA-Z%]`)

func verbs(s string) []string {
	v := verbRE.FindAllString(s, -1)
	out := v[:0]
	for _, x := range v {
		if x != "%%" {
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

func TestEveryKeyInEveryLanguage(t *testing.T) {
	bg, en := catalog(BG), catalog(EN)
	if len(bg) == 0 {
		t.Fatal("the Bulgarian catalogue is empty")
	}
	for k, v := range bg {
		e, ok := en[k]
		if !ok {
			t.Errorf("key %q has no English text", k)
			continue
		}
		if strings.TrimSpace(v) == "" || strings.TrimSpace(e) == "" {
			t.Errorf("key %q has an empty text", k)
		}
		if a, b := strings.Join(verbs(v), " "), strings.Join(verbs(e), " "); a != b && !explicit(v, e) {
			t.Errorf("key %q: Bulgarian verbs %q, English verbs %q", k, a, b)
		}
	}
	for k := range en {
		if _, ok := bg[k]; !ok {
			t.Errorf("key %q has no Bulgarian text", k)
		}
	}
}

// explicit accepts translations that reorder arguments with explicit indexes: both use indexes and the
// same number of arguments.
func explicit(a, b string) bool {
	return strings.Contains(a, "%[") && strings.Contains(b, "%[") && len(verbs(a)) == len(verbs(b))
}

func TestCatalogueFilesMirror(t *testing.T) {
	names := func(l Lang) []string {
		entries, err := fs.ReadDir(catalogFS, "catalog/"+string(l))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	if a, b := strings.Join(names(BG), ","), strings.Join(names(EN), ","); a != b {
		t.Errorf("catalogue files differ: bg has %s, en has %s", a, b)
	}
}

// keyUseRE finds keys the code names literally: p.T("key"…), i18n.M("key"…), M("key"…).
var keyUseRE = regexp.MustCompile(`(?:\.T|\bM|\bMsgf|\bErrorf?K)\(\s*"([a-z][a-z0-9_]*\.[a-z0-9_.-]+)"`)

func TestEveryKeyTheCodeNamesExists(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && p != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "i18n_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range keyUseRE.FindAllStringSubmatch(string(b), -1) {
			seen++
			if !Has(BG, m[1]) {
				rel, _ := filepath.Rel(root, p)
				t.Errorf("%s names key %q, which the catalogue lacks", rel, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen == 0 {
		t.Fatal("found no key uses at all: the pattern is broken")
	}
}

func TestPrinter(t *testing.T) {
	if got := For(BG).T("common.usage"); got != "Употреба" {
		t.Errorf("bg usage = %q", got)
	}
	if got := For(EN).T("common.usage"); got != "Usage" {
		t.Errorf("en usage = %q", got)
	}
	if got := For(EN).T("no.such.key", 3); got != "no.such.key3" {
		t.Errorf("missing key = %q", got)
	}
	for in, want := range map[string]Lang{"bg_BG.UTF-8": BG, "en_US.UTF-8": EN, "EN": EN, "": BG, "de": BG} {
		if got := Parse(in); got != want {
			t.Errorf("Parse(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("AKCIZ_LANG", "")
	t.Setenv("LC_ALL", "C.UTF-8")
	t.Setenv("LC_MESSAGES", "")
	t.Setenv("LANG", "en_GB.UTF-8")
	if got := FromEnv(); got != EN {
		t.Errorf("FromEnv with LANG=en_GB and LC_ALL=C = %q, want en", got)
	}
	t.Setenv("AKCIZ_LANG", "bg")
	if got := FromEnv(); got != BG {
		t.Errorf("FromEnv with AKCIZ_LANG=bg = %q", got)
	}
}

func TestDuration(t *testing.T) {
	for _, c := range []struct {
		d      time.Duration
		bg, en string
	}{
		{10 * time.Minute, "10 мин", "10 min"},
		{time.Hour + 30*time.Minute, "1 ч 30 мин", "1 h 30 min"},
		{15 * time.Second, "15 с", "15 s"},
		{0, "0 с", "0 s"},
		{1500 * time.Millisecond, "1 с 500 мс", "1 s 500 ms"},
		{-2 * time.Minute, "-2 мин", "-2 min"},
	} {
		if got := Duration(c.d).Localize(BG); got != c.bg {
			t.Errorf("bg %v = %q, want %q", c.d, got, c.bg)
		}
		if got := Duration(c.d).Localize(EN); got != c.en {
			t.Errorf("en %v = %q, want %q", c.d, got, c.en)
		}
	}
	// Through a printer, as messages use it.
	if got := For(EN).T("common.usage") + For(BG).T("main.unknown_command", Duration(time.Minute)); got != "Usageнепозната команда \"1 мин\"" {
		t.Errorf("localized argument = %q", got)
	}
}
