package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/i18n"
)

const diffData = "../../internal/config/change/testdata"

func runDiff(t *testing.T, lang i18n.Lang, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &environment{stdout: &out, stderr: &errb, stdin: strings.NewReader(""), p: i18n.For(lang)}
	code = run(context.Background(), env, append([]string{"config", "diff"}, args...))
	return code, out.String(), errb.String()
}

func TestConfigDiffExitCodes(t *testing.T) {
	d := func(p string) string { return filepath.Join(diffData, p) }
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"allowed", []string{d("kept/old.xml"), d("kept/new.xml")}, 0, "Допустимо"},
		{"moved", []string{"--lang", "en", d("moved/old.xml"), d("moved/new.xml")}, 1, "REFUSED: tag \"flow\""},
		{"reuse without history", []string{d("reuse/old.xml"), d("reuse/new.xml")}, 0, "нов таг \"volume2\""},
		{"reuse with history", []string{"--history", d("reuse/history"), d("reuse/old.xml"), d("reuse/new.xml")}, 1, "history/v1.xml:31"},
		{"overlap", []string{"--history", d("overlap/history"), d("overlap/old.xml"), d("overlap/new.xml")}, 1, "40019–40022 (0x0012–0x0015)"},
		{"products", []string{"--date", "2026-12-23", d("products/old.xml"), d("products/new.xml")}, 0, "07.01.2027"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runDiff(t, i18n.BG, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s%s", code, tc.code, tc.want, out, errs)
			}
		})
	}
}

func TestConfigDiffCalendarAndFirstUse(t *testing.T) {
	dir := t.TempDir()
	cal := filepath.Join(dir, "calendar.txt")
	// A decree makes 29 December 2026 a day off: the whole working day after a notice on 23 December is
	// then 30 December, and the earliest first use 31 December.
	if err := os.WriteFile(cal, []byte("# РМС\n2026-12-29 off\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runDiff(t, i18n.EN, "--format", "json", "--calendar", cal, "--date", "2026-12-23",
		"--first-use", "2027-01-04", filepath.Join(diffData, "products/old.xml"), filepath.Join(diffData, "products/new.xml"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		Refused  bool
		Findings []struct {
			Kind, EarliestUse, NoticeBy, Deadline, Message string
		}
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := map[string][3]string{}
	for _, f := range r.Findings {
		got[f.Kind] = [3]string{f.EarliestUse, f.NoticeBy, f.Deadline}
	}
	// First use on 4 January 2027: 31 December is the whole working day between, notice by 30 December.
	if g := got["product-added"]; g != [3]string{"2026-12-31", "2026-12-30", ""} {
		t.Errorf("added: %v", g)
	}
	// 30, 31 December, 4, 5, 6, 7, 8 January.
	if g := got["product-removed"]; g != [3]string{"", "", "2027-01-08"} {
		t.Errorf("removed: %v", g)
	}
}

func TestConfigDiffDefaultDateIsTodayInSofia(t *testing.T) {
	defer func(f func() time.Time) { diffNow = f }(diffNow)
	diffNow = func() time.Time { return time.Date(2026, 12, 22, 23, 30, 0, 0, time.UTC) } // 23 December in Sofia
	_, out, _ := runDiff(t, i18n.EN, filepath.Join(diffData, "products/old.xml"), filepath.Join(diffData, "products/new.xml"))
	if !strings.Contains(out, "date of the change: 23.12.2026") {
		t.Errorf("output:\n%s", out)
	}
}

func TestConfigDiffUsageErrors(t *testing.T) {
	old, next := filepath.Join(diffData, "kept/old.xml"), filepath.Join(diffData, "kept/new.xml")
	bad := filepath.Join(t.TempDir(), "cal.txt")
	if err := os.WriteFile(bad, []byte("2026-12-29 holiday\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{old},
		{"--format", "xml", old, next},
		{"--date", "23.12.2026", old, next},
		{"--first-use", "2026-02-30", old, next},
		{"--no-such-flag", old, next},
		{"--calendar", bad, old, next},
		{"--history", "no-such-dir", old, next},
		{old, "no-such.xml"},
	} {
		code, _, errs := runDiff(t, i18n.EN, args...)
		if code != 2 || errs == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
	code, out, _ := runDiff(t, i18n.BG, "--help")
	if code != 0 || !strings.Contains(out, "--history ДИР") || !strings.Contains(out, "Пример") {
		t.Errorf("help: %d %q", code, out)
	}
}
