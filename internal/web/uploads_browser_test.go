package web

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestUploadsBrowser files a barcode list and a broken energy table through the upload page in headless
// Chromium, as an operator logged in with its client certificate (browser_helpers_test.go says how):
// the list is accepted with its summary, the table refused with its errors and their lines. Screenshots
// go to $AKCIZ_SCREENSHOTS when set.
func TestUploadsBrowser(t *testing.T) {
	x := newUploadServer(t)
	b := newBrowser(t, x, "operator", "uploads", 1400)

	dir := t.TempDir()
	list := filepath.Join(dir, "list.xml")
	must(t, os.WriteFile(list, sample(t, "../../examples/sepi/cigarettes-production.xml", "101003527"), 0o644))
	table := filepath.Join(dir, "totals.csv")
	must(t, os.WriteFile(table, sample(t, "../energy/testdata/cases/totals-mismatch/input.csv", "201123456"), 0o644))

	b.step("open the upload page", chromedp.Navigate(x.ts.URL+"/uploads"), chromedp.WaitVisible(chromedp.CSS("#upload-sepi")))
	b.step("send the list", chromedp.SetUploadFiles(chromedp.CSS("#sepi-file"), []string{list}),
		chromedp.Click(chromedp.CSS("#send-sepi")), chromedp.WaitVisible(chromedp.CSS("#summary")))
	if got := b.text("#outcome"); !strings.Contains(got, "2026112000017") || !strings.Contains(got, "приет") {
		t.Errorf("outcome of the list: %q", got)
	}
	b.shot("list")
	b.step("back", chromedp.Click(chromedp.CSS("#back")), chromedp.WaitVisible(chromedp.CSS("#list-2026112000017")))
	b.step("send the table", chromedp.SetUploadFiles(chromedp.CSS("#energy-file"), []string{table}),
		chromedp.Click(chromedp.CSS("#send-energy")), chromedp.WaitVisible(chromedp.CSS("#findings")))
	b.shot("table")
	if got := b.text("#findings"); !strings.Contains(got, "ред ") {
		t.Errorf("errors of the table: %q", got)
	}
	if got := b.text("#outcome"); !strings.Contains(got, "отхвърлена") {
		t.Errorf("outcome of the table: %q", got)
	}
}
