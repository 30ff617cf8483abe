package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/akciz/akciz/internal/i18n"
)

const mapSample = "../../internal/modbusmap/testdata/distillery-rtu.xml"

func runMap(t *testing.T, lang i18n.Lang, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &environment{stdout: &out, stderr: &errb, stdin: strings.NewReader(""), p: i18n.For(lang)}
	code = run(context.Background(), env, append([]string{"config", "map"}, args...))
	return code, out.String(), errb.String()
}

func TestConfigMapHelp(t *testing.T) {
	for _, lang := range []i18n.Lang{i18n.BG, i18n.EN} {
		code, out, _ := runMap(t, lang, "--help")
		if code != 0 {
			t.Errorf("%s: --help exits %d", lang, code)
		}
		for _, want := range []string{"--format csv|xlsx|html|pdf", "-o ", "--lang bg|en", "--generated", "--sep", "akciz config map -o"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s help lacks %q", lang, want)
			}
		}
	}
	if _, out, _ := runMap(t, i18n.EN, "--lang", "bg", "-h"); !strings.Contains(out, "Модбус") && !strings.Contains(out, "Modbus картата") {
		t.Errorf("--lang bg does not switch the help:\n%s", out)
	}
}

func TestConfigMapCSVToStdout(t *testing.T) {
	code, out, errs := runMap(t, i18n.BG, "--generated", "2026-11-22T10:30:00+02:00", mapSample)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"\uFEFFModbus карта на СКИУ\r\n", "Конфигурационен файл;distillery-rtu.xml", "Изготвена на;22.11.2026 10:30:00 +02:00",
		"40001;0x0000;4;Безводен алкохол, натрупан;0 <= …;float64, DCBA;L;0,001;"} {
		if !strings.Contains(out, want) {
			t.Errorf("CSV lacks %q", want)
		}
	}
	code, out, _ = runMap(t, i18n.BG, "--lang", "en", "--sep", ",", "--generated", "2026-11-22", mapSample)
	if code != 0 || !strings.Contains(out, "40001,0x0000,4,\"Безводен алкохол, натрупан\",0 <= …,\"float64, DCBA\",L,0.001,") || !strings.Contains(out, "Logical address,Physical address") {
		t.Errorf("--sep , --lang en: exit %d\n%s", code, out)
	}
}

func TestConfigMapFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"map.pdf", "map.xlsx", "map.html", "map.csv"} {
		out := filepath.Join(dir, f)
		code, stdout, errs := runMap(t, i18n.BG, "--generated", "2026-11-22T10:30:00Z", "-o", out, mapSample)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", f, code, errs)
		}
		if !strings.Contains(stdout, out) {
			t.Errorf("%s: says %q", f, stdout)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		magic := map[string]string{"map.pdf": "%PDF-", "map.xlsx": "PK\x03\x04", "map.html": "<!DOCTYPE html>", "map.csv": "\uFEFF"}[f]
		if !bytes.HasPrefix(b, []byte(magic)) {
			t.Errorf("%s does not start with %q", f, magic)
		}
	}
	x, err := excelize.OpenFile(filepath.Join(dir, "map.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if v, _ := x.GetCellValue("gw — регистри", "L6"); v != "abs_alcohol" {
		t.Errorf("gw sheet L6 = %q", v)
	}
	// The same file at the same time is the same PDF.
	again := filepath.Join(dir, "again.pdf")
	if code, _, errs := runMap(t, i18n.BG, "--generated", "2026-11-22T10:30:00Z", "--format", "pdf", "-o", again, mapSample); code != 0 {
		t.Fatal(errs)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "map.pdf"))
	b, _ := os.ReadFile(again)
	if !bytes.Equal(a, b) {
		t.Error("two PDFs of the same file at the same time differ")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestConfigMapSourceDateEpoch(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1795344600") // 2026-11-22T10:50:00Z
	code, out, errs := runMap(t, i18n.BG, mapSample)
	if code != 0 || !strings.Contains(out, "Изготвена на;22.11.2026 10:50:00 UTC") {
		t.Errorf("exit %d %s\n%s", code, errs, out)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "вчера")
	if code, _, errs := runMap(t, i18n.BG, mapSample); code != 2 || !strings.Contains(errs, "SOURCE_DATE_EPOCH") {
		t.Errorf("a bad SOURCE_DATE_EPOCH: exit %d, %s", code, errs)
	}
}

func TestConfigMapNow(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	old := mapNow
	mapNow = func() time.Time { return time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC) }
	defer func() { mapNow = old }()
	if _, out, _ := runMap(t, i18n.BG, mapSample); !strings.Contains(out, "Изготвена на;01.03.2027 08:00:00 UTC") {
		t.Errorf("the default time is not now:\n%s", out)
	}
}

func TestConfigMapErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.xml")
	data, err := os.ReadFile(mapSample)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, bytes.Replace(data, []byte(`physical="0x0063"`), []byte(`physical="0x0064"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "map.pdf")
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no file", nil, 2, "посочете точно един файл"},
		{"two files", []string{mapSample, mapSample}, 2, "посочете точно един файл"},
		{"bad format", []string{"--format", "docx", mapSample}, 2, `непознат формат "docx"`},
		{"bad sep", []string{"--sep", "|", mapSample}, 2, `непознат разделител "|"`},
		{"bad time", []string{"--generated", "утре", mapSample}, 2, `--generated: непознат момент "утре"`},
		{"bad flag", []string{"--colour", mapSample}, 2, "colour"},
		{"missing", []string{filepath.Join(dir, "none.xml")}, 1, "none.xml"},
		{"invalid", []string{"-o", out, bad}, 1, "bad.xml:19:5: грешка: тагът box_errors"},
		{"invalid en", []string{"--lang", "en", "-o", out, bad}, 1, "has errors; no map was made"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, errs := runMap(t, i18n.BG, c.args...)
			if code != c.code || !strings.Contains(errs, c.want) {
				t.Errorf("exit %d, want %d; stderr lacks %q:\n%s", code, c.code, c.want, errs)
			}
		})
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a map was written for a file with errors")
	}
}

func TestConfigMapListed(t *testing.T) {
	var errb bytes.Buffer
	env := &environment{stdout: &bytes.Buffer{}, stderr: &errb, stdin: strings.NewReader(""), p: i18n.For(i18n.BG)}
	run(context.Background(), env, []string{"config"})
	if !strings.Contains(errb.String(), "map") || !strings.Contains(errb.String(), "Modbus картата") {
		t.Errorf("config lists no map sub-command:\n%s", errb.String())
	}
}
