package modbusmap

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// generated is the time the goldens are made at.
var generated = time.Date(2026, 11, 22, 10, 30, 0, 0, time.FixedZone("EET", 2*3600))

// samples are the configurations with goldens: every example of the repository and ours in testdata,
// by golden name.
func samples(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	ex, _ := filepath.Glob("../../examples/*/automation_config.xml")
	for _, p := range ex {
		out[filepath.Base(filepath.Dir(p))] = p
	}
	own, _ := filepath.Glob("testdata/*.xml")
	for _, p := range own {
		out[strings.TrimSuffix(filepath.Base(p), ".xml")] = p
	}
	if len(out) == 0 {
		t.Fatal("no configurations to test")
	}
	return out
}

func load(t *testing.T, path string) (*config.Config, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, ds := config.Parse(path, data)
	if ds.HasErrors() {
		t.Fatalf("%s does not load:\n%v", path, ds)
	}
	return cfg, data
}

func build(t *testing.T, path string, lang i18n.Lang) *report.Document {
	cfg, data := load(t, path)
	return Build(cfg, Options{Lang: lang, FileName: "automation_config.xml", File: data, Generated: generated})
}

// golden compares got with testdata/golden/name, or rewrites it under -update. The hashes of the
// repository's examples are replaced by placeholders of the same length, so that editing a comment in an
// example does not break its goldens; those of our own testdata are kept, and checked.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	if ex, _ := filepath.Glob("../../examples/" + strings.SplitN(name, ".", 2)[0] + "/automation_config.xml"); len(ex) == 1 {
		data, err := os.ReadFile(ex[0])
		if err != nil {
			t.Fatal(err)
		}
		sha, md := Hashes(data)
		got = bytes.ReplaceAll(got, []byte(sha), bytes.Repeat([]byte("#"), len(sha)))
		got = bytes.ReplaceAll(got, []byte(md), bytes.Repeat([]byte("#"), len(md)))
	}
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/modbusmap -update to make it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./internal/modbusmap -update rewrites it):\n%s", path, firstDiff(string(want), string(got)))
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\nwant %q\ngot  %q", i+1, a, b)
		}
	}
	return "(only line endings differ)"
}

func TestGoldenCSVAndHTML(t *testing.T) {
	for name, path := range samples(t) {
		t.Run(name, func(t *testing.T) {
			for _, lang := range []i18n.Lang{i18n.BG, i18n.EN} {
				d := build(t, path, lang)
				var csv, html bytes.Buffer
				if err := report.CSV(&csv, d, report.ExcelBG); err != nil {
					t.Fatal(err)
				}
				suffix := ""
				if lang == i18n.EN {
					suffix = ".en"
				}
				golden(t, name+suffix+".csv", csv.Bytes())
				if lang == i18n.BG {
					if err := report.HTML(&html, d); err != nil {
						t.Fatal(err)
					}
					golden(t, name+".html", html.Bytes())
				}
			}
		})
	}
}

// xlsxText is a workbook as text: per sheet its frozen pane, column widths and cells, a row a line.
func xlsxText(t *testing.T, b []byte) []byte {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	for _, s := range f.GetSheetList() {
		fmt.Fprintf(&out, "=== %s\n", s)
		if p, err := f.GetPanes(s); err == nil && p.Freeze {
			fmt.Fprintf(&out, "frozen above %s\n", p.TopLeftCell)
		}
		rows, err := f.GetRows(s)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range rows {
			n = max(n, len(r))
		}
		var ws []string
		for c := 1; c <= n; c++ {
			name, _ := excelize.ColumnNumberToName(c)
			w, _ := f.GetColWidth(s, name)
			ws = append(ws, fmt.Sprint(w))
		}
		fmt.Fprintf(&out, "widths %s\n", strings.Join(ws, " "))
		for i, r := range rows {
			fmt.Fprintf(&out, "%d: %s\n", i+1, strings.ReplaceAll(strings.Join(r, " | "), "\n", "⏎"))
		}
	}
	return out.Bytes()
}

func TestGoldenXLSX(t *testing.T) {
	for name, path := range samples(t) {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := report.XLSX(&b, build(t, path, i18n.BG)); err != nil {
				t.Fatal(err)
			}
			golden(t, name+".xlsx.txt", xlsxText(t, b.Bytes()))
		})
	}
}

func TestGoldenPDF(t *testing.T) {
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext not found: install the Debian package poppler-utils")
	}
	for name, path := range samples(t) {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := report.PDF(&b, build(t, path, i18n.BG)); err != nil {
				t.Fatal(err)
			}
			in := filepath.Join(t.TempDir(), "map.pdf")
			if err := os.WriteFile(in, b.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			txt, err := exec.Command(bin, "-layout", "-enc", "UTF-8", in, "-").Output()
			if err != nil {
				t.Fatalf("pdftotext: %v", err)
			}
			pages := bytes.Count(bytes.TrimRight(txt, "\f"), []byte("\f")) + 1
			golden(t, name+".pdf.txt", append(fmt.Appendf(nil, "pages: %d\n", pages), txt...))
		})
	}
}
