package watch_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/report"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/watch"
)

// Чл. 21(3)–(6): the files handed over with MD5 and SHA-256, the serial numbers of controller, computer
// and UPS, the seals; the protocol in two copies as PDF.
func TestCommissioningProtocol_Art21(t *testing.T) {
	f := newFixture(t, store.SiteTesting)
	cfg, err := watch.HashFile("config", "automation_config.xml", bytes.NewReader([]byte("abc")))
	f.must(err)
	if cfg.MD5 != "900150983cd24fb0d6963f7d28e17f72" ||
		cfg.SHA256 != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" || cfg.Size != 3 {
		t.Fatalf("hashes %+v", cfg)
	}
	img, _ := watch.HashFile("image", "ikunk.img", strings.NewReader("image"))
	mm, _ := watch.HashFile("modbus-map", "modbus-map.xlsx", strings.NewReader("map"))
	c := watch.NewCommissionings(f.st, f.clock)
	rec := store.Commissioning{Site: site, Representative: "Иван Петров", Protocol: "21-7/23.11.2026",
		Controller: "PLC-S7-88120431", Computer: "IPC-2026-000173", UPS: "UPS-APC-3S1846X01234",
		Seals: []string{"BG 000123", "BG 000124"}, Files: []store.CommissionFile{cfg, img, mm}}
	if _, err := c.Record(f.ctx, operator, rec); !errors.Is(err, watch.ErrForbidden) {
		t.Errorf("operator records commissioning: %v", err)
	}
	missing := rec
	missing.Files = []store.CommissionFile{cfg, img}
	if _, err := c.Record(f.ctx, officer, missing); !errors.Is(err, watch.ErrInvalid) {
		t.Errorf("without the Modbus map: %v", err)
	}
	noUPS := rec
	noUPS.UPS = ""
	if _, err := c.Record(f.ctx, officer, noUPS); !errors.Is(err, watch.ErrInvalid) {
		t.Errorf("without the UPS's serial: %v", err)
	}
	// Bad input is refused naming the file or the seal, and nothing is stored.
	badHash := rec
	badHash.Files = []store.CommissionFile{cfg, img, mm}
	badHash.Files[2].MD5 = strings.Repeat("z", 32)
	blankSeal := rec
	blankSeal.Seals = []string{"BG 000123", " "}
	tooMany := rec
	tooMany.Seals = make([]string, 201)
	for name, tc := range map[string]struct {
		c   store.Commissioning
		key string
	}{
		"hash not hex": {badHash, "watch.commission.file_hash"},
		"blank seal":   {blankSeal, "watch.commission.seal_empty"},
		"201 seals":    {tooMany, "watch.commission.too_many"},
	} {
		_, err := c.Record(f.ctx, officer, tc.c)
		if m, ok := watch.Message(err); !errors.Is(err, watch.ErrInvalid) || !ok || m.Key != tc.key {
			t.Errorf("%s: %v, want %s", name, err, tc.key)
		}
	}
	if cs, _ := f.st.Commissionings(f.ctx, site); len(cs) != 0 {
		t.Fatalf("refused records stored: %+v", cs)
	}
	got, err := c.Record(f.ctx, officer, rec)
	f.must(err)
	if got.ID == 0 || got.Officer != officer.Who || !got.Time.Equal(t0) {
		t.Errorf("recorded %+v", got)
	}
	back, s, err := c.Get(f.ctx, operator, got.ID)
	f.must(err)
	d := watch.CommissioningDocument(back, s, i18n.BG)
	var text strings.Builder
	for _, sec := range d.Sections {
		text.WriteString(sec.Heading + "\n")
		for _, b := range sec.Blocks {
			if tb, ok := b.(*report.Table); ok {
				for _, r := range tb.Rows {
					for _, cell := range r {
						text.WriteString(cell.String() + " ")
					}
				}
			}
		}
	}
	for _, want := range []string{"Екземпляр 1 от 2", "Екземпляр 2 от 2", cfg.MD5, cfg.SHA256, "UPS-APC-3S1846X01234", "BG 000124"} {
		if strings.Count(text.String(), want) < 1 {
			t.Errorf("protocol lacks %q", want)
		}
	}
	if strings.Count(text.String(), cfg.SHA256) != 2 {
		t.Errorf("the files are not in both copies")
	}
	var pdf bytes.Buffer
	f.must(report.PDF(&pdf, d))
	path, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext not installed (Debian package poppler-utils): the PDF's text is not checked")
	}
	in := filepath.Join(t.TempDir(), "p.pdf")
	f.must(os.WriteFile(in, pdf.Bytes(), 0o600))
	out, err := exec.Command(path, "-layout", in, "-").Output()
	f.must(err)
	if !bytes.Contains(out, []byte("Екземпляр 2 от 2")) || !bytes.Contains(out, []byte(cfg.MD5)) {
		t.Errorf("pdf text:\n%s", out)
	}
}
