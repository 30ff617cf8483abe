package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/akciz/akciz/internal/i18n"
)

const (
	energyCSV   = "../../examples/energy/electricity-2026-Q3.csv"
	energyTSV   = "../../examples/energy/natural-gas-2026-Q3.tsv"
	energyXLSX  = "../../examples/energy/electricity-2026-Q3.xlsx"
	energyCases = "../../internal/energy/testdata/cases/"
)

func runEnergyCmd(t *testing.T, lang i18n.Lang, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &environment{stdout: &out, stderr: &errb, stdin: strings.NewReader(""), p: i18n.For(lang)}
	code := run(context.Background(), env, append([]string{"energy"}, args...))
	return code, out.String(), errb.String()
}

func TestEnergyHelp(t *testing.T) {
	for _, lang := range []i18n.Lang{i18n.BG, i18n.EN} {
		for _, args := range [][]string{{"--help"}, {"check", "--help"}, {"find", "-h"}} {
			code, out, _ := runEnergyCmd(t, lang, args...)
			if code != 0 {
				t.Errorf("%s %v: exit %d", lang, args, code)
			}
			for _, want := range []string{"--format text|json", "--max-errors", "--meter", "--eik", "--lang bg|en", "akciz energy check examples/energy/", "чл. 22", "import --server"} {
				if !strings.Contains(out, want) {
					t.Errorf("%s %v: help lacks %q", lang, args, want)
				}
			}
		}
	}
	if _, out, _ := runEnergyCmd(t, i18n.EN, "check", "--lang", "bg", "--help"); !strings.Contains(out, "Употреба") {
		t.Errorf("--lang bg does not switch the help")
	}
}

func TestEnergyCheck(t *testing.T) {
	code, out, errs := runEnergyCmd(t, i18n.BG, "check", energyCSV, energyTSV, energyXLSX)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	for _, want := range []string{"в ред — електрическа енергия, 2026-Q3", "общо 141,69", "общо 170957,539", "ключ: 201123456/electricity/2026-Q3/"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runEnergyCmd(t, i18n.EN, "check", energyCSV, energyCases+"totals-mismatch/input.csv")
	if code != 1 || !strings.Contains(out, "REFUSED — 2 errors") ||
		!strings.Contains(out, "line 7, field 2 (total): declared 31.5 MWh, but the rows add up to 30.5 MWh (difference 1 MWh)") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	code, out, _ = runEnergyCmd(t, i18n.BG, "check", "--max-errors", "1", energyCases+"totals-mismatch/input.csv")
	if code != 1 || !strings.Contains(out, "ред 9, поле 2 (total_business)") || !strings.Contains(out, "и още 1 грешки") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestEnergyJSON(t *testing.T) {
	code, out, _ := runEnergyCmd(t, i18n.EN, "check", "--format", "json", energyTSV, energyCases+"household-egn/input.csv")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d JSON lines:\n%s", len(lines), out)
	}
	var ok, bad energyReport
	if err := json.Unmarshal([]byte(lines[0]), &ok); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &bad); err != nil {
		t.Fatal(err)
	}
	if !ok.OK || ok.Computed["all"] != "170957.539" || ok.Unit != "m3" || len(ok.SHA256) != 64 || ok.Rows != 4 {
		t.Errorf("%+v", ok)
	}
	if bad.OK || len(bad.Errors) != 1 || bad.Errors[0].Line != 12 || bad.Errors[0].Field != "consumer_eik" || bad.Errors[0].Code != "energy.egn" {
		t.Errorf("%+v", bad)
	}
	if strings.Contains(lines[1], "7501010010") {
		t.Error("the report repeats a personal number")
	}
}

func TestEnergyFind(t *testing.T) {
	code, out, errs := runEnergyCmd(t, i18n.EN, "find", "--eik", "131074754", energyCSV)
	if code != 0 || !strings.Contains(out, "line 14: meter 32Z1400007654321, business, EIK 131074754, 125.5 MWh, гр. Пловдив, ул. Индустриална 3, tariff —") ||
		!strings.Contains(out, "rows found: 1") {
		t.Errorf("exit %d:\n%s%s", code, out, errs)
	}
	code, out, _ = runEnergyCmd(t, i18n.EN, "find", energyXLSX, "--meter", "32Z1400001234567", "--format", "json")
	var r energyReport
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || len(r.Found) != 2 || r.Found[1].Tariff != "нощна" {
		t.Errorf("exit %d: %s", code, out)
	}
}

func TestEnergyUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"load"}, {"check"}, {"check", "--format", "xml", energyCSV}, {"check", "--bogus", energyCSV},
		{"find", energyCSV}, {"find", "--meter", "x"}, {"check", "--max-errors", "0", energyCSV}, {"check", "no-such-file.csv"}} {
		code, out, errs := runEnergyCmd(t, i18n.EN, args...)
		if code != 2 || out+errs == "" {
			t.Errorf("%v: exit %d, %q %q", args, code, out, errs)
		}
	}
}

func TestEnergyProgressBar(t *testing.T) {
	var buf bytes.Buffer
	b := &progressBar{w: &buf, p: i18n.For(i18n.EN), name: "big.csv", last: -1}
	b.update(250<<20, 500<<20)
	b.update(250<<20+1, 500<<20) // the same percent: not redrawn
	b.update(500<<20, 500<<20)
	b.done()
	want := "\r[===============               ] reading big.csv: 50% (250 of 500 MiB)" +
		"\r[==============================] reading big.csv: 100% (500 of 500 MiB)\r\033[K"
	if buf.String() != want {
		t.Errorf("got %q\nwant %q", buf.String(), want)
	}
	var nilBar *progressBar
	nilBar.done() // no terminal, no bar
	if newProgressBar(&environment{stderr: &buf}, "x") != nil {
		t.Error("a bar on a stderr that is not a terminal")
	}
}
