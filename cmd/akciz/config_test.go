package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/akciz/akciz/internal/i18n"
)

func runConfigArgs(t *testing.T, lang i18n.Lang, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	env := &environment{stdout: &o, stderr: &e, stdin: strings.NewReader(""), p: i18n.For(lang)}
	code = run(context.Background(), env, append([]string{"config"}, args...))
	return code, o.String(), e.String()
}

const (
	sample = "../../examples/fuel-depot/automation_config.xml"
	broken = "../../internal/config/testdata/cases/interval-class/automation_config.xml"
)

func TestConfigListsSubcommands(t *testing.T) {
	code, _, stderr := runConfigArgs(t, i18n.BG)
	if code != 2 || !strings.Contains(stderr, "check") || !strings.Contains(stderr, "проверява automation_config.xml") {
		t.Errorf("akciz config: code %d\n%s", code, stderr)
	}
	code, stdout, _ := runConfigArgs(t, i18n.EN, "--help")
	if code != 0 || !strings.Contains(stdout, "check") || !strings.Contains(stdout, "checks automation_config.xml") {
		t.Errorf("akciz config --help: code %d\n%s", code, stdout)
	}
	code, _, stderr = runConfigArgs(t, i18n.EN, "frobnicate")
	if code != 2 || !strings.Contains(stderr, `unknown config subcommand "frobnicate"`) {
		t.Errorf("unknown subcommand: code %d\n%s", code, stderr)
	}
}

func TestConfigCheckHelp(t *testing.T) {
	code, stdout, _ := runConfigArgs(t, i18n.BG, "check", "--help")
	if code != 0 || !strings.Contains(stdout, "--format text|json") || !strings.Contains(stdout, "Пример") {
		t.Errorf("code %d\n%s", code, stdout)
	}
	code, stdout, _ = runConfigArgs(t, i18n.BG, "check", "--lang", "en", "--help")
	if code != 0 || !strings.Contains(stdout, "Example") {
		t.Errorf("--lang en --help: code %d\n%s", code, stdout)
	}
}

func TestConfigCheckSamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*/automation_config.xml")
	if len(files) < 4 {
		t.Fatalf("want the four samples, have %v", files)
	}
	for _, f := range files {
		code, stdout, stderr := runConfigArgs(t, i18n.BG, "check", f)
		if code != 0 || !strings.HasPrefix(stdout, f+": без грешки") || strings.Contains(stdout, "предупреждение") {
			t.Errorf("%s: code %d\n%s%s", f, code, stdout, stderr)
		}
	}
}

func TestConfigCheckBroken(t *testing.T) {
	code, stdout, _ := runConfigArgs(t, i18n.BG, "check", broken)
	want := broken + ":11:3: грешка: точката за контрол BGNCA00005001001001 се отчита през 15 мин, а чл. 30, ал. 13, т. 1 допуска най-много 10 мин за клас road [interval-class]\n"
	if code != 1 || stdout != want {
		t.Errorf("code %d\n got %q\nwant %q", code, stdout, want)
	}
	code, stdout, _ = runConfigArgs(t, i18n.BG, "check", broken, "--lang", "en")
	if code != 1 || !strings.Contains(stdout, "is read every 15 min, but чл. 30(13) т. 1 allows at most 10 min") {
		t.Errorf("--lang en: code %d\n%s", code, stdout)
	}
}

func TestConfigCheckJSON(t *testing.T) {
	code, stdout, _ := runConfigArgs(t, i18n.EN, "check", "--format", "json", sample, broken)
	if code != 1 {
		t.Errorf("code %d", code)
	}
	var ds []jsonDiagnostic
	if err := json.Unmarshal([]byte(stdout), &ds); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if len(ds) != 1 || ds[0].Rule != "interval-class" || ds[0].Line != 11 || ds[0].Column != 3 || ds[0].Severity != "error" {
		t.Errorf("%+v", ds)
	}
	code, stdout, _ = runConfigArgs(t, i18n.EN, "check", "--format", "json", sample)
	if code != 0 || strings.TrimSpace(stdout) != "[]" {
		t.Errorf("clean file: code %d %s", code, stdout)
	}
}

func TestConfigCheckUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"check"}, {"check", "--format", "xml", sample}, {"check", "--bogus", sample}, {"check", "--lang", "de", sample}} {
		if code, _, stderr := runConfigArgs(t, i18n.EN, args...); code != 2 || stderr == "" {
			t.Errorf("%v: code %d, stderr %q", args, code, stderr)
		}
	}
	code, stdout, _ := runConfigArgs(t, i18n.EN, "check", "no-such-file.xml")
	if code != 1 || !strings.Contains(stdout, "no-such-file.xml: error: cannot read the file") {
		t.Errorf("missing file: code %d\n%s", code, stdout)
	}
}
