package web

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/akciz/akciz/internal/store"
)

// TestBrowser drives the console in headless Chromium as a customs officer who logs in with a real
// client certificate (browser_helpers_test.go says how). Then it opens a site, sees the loading
// transaction, and acknowledges the door alarm with a comment. Screenshots go to $AKCIZ_SCREENSHOTS when
// set (CI keeps them as artefacts).
func TestBrowser(t *testing.T) {
	x := newTestServer(t)
	officer := x.people["officer"]
	_, err := x.st.AddCommissioning(context.Background(), store.Commissioning{Site: siteA, Time: fixedNow, Officer: officer.Name,
		Protocol: "7/2026", Controller: "PLC-1", Computer: "IPC-1", UPS: "UPS-1", Seals: []string{"П-1"},
		Files: []store.CommissionFile{{Role: "config", Name: "automation_config.xml", Size: 1, MD5: strings.Repeat("a", 32), SHA256: strings.Repeat("b", 64)}}})
	must(t, err)
	b := newBrowser(t, x, "officer", "console", 1400)

	// Log in: /sites sends to /login, which opens the session with the presented certificate and comes
	// back.
	b.step("log in", chromedp.Navigate(x.ts.URL+"/sites"), chromedp.WaitVisible(chromedp.CSS("#sites")))
	who, sites := b.text(".person"), b.text("#sites")
	b.shot("sites")
	// Open the site; its latest transactions are on its page.
	b.step("open the site", chromedp.Click(chromedp.CSS(`a[href="/sites/`+siteA+`"]`)), chromedp.WaitVisible(chromedp.CSS("table.transactions")))
	tx := b.text("table.transactions tr.transaction")
	b.shot("site")
	// Acknowledge the door alarm with a comment.
	alarm := strconv.FormatInt(x.alarmA, 10)
	b.step("open the alarm", chromedp.Click(chromedp.CSS(`a[href="/alarms/`+alarm+`"]`)), chromedp.WaitVisible(chromedp.CSS("#comment")))
	b.step("acknowledge", chromedp.SendKeys(chromedp.CSS("#comment"), "Екипът е на място"), chromedp.Click(chromedp.CSS("#ack")),
		chromedp.WaitVisible(chromedp.CSS("#done")))
	state := b.text("#alarm-state")
	b.shot("alarm")
	// The commissioning protocol: its link on the lifecycle page, fetched as the browser (with its
	// session and certificate) would download it.
	b.step("lifecycle", chromedp.Navigate(x.ts.URL+"/sites/"+siteA+"/lifecycle"), chromedp.WaitVisible(chromedp.CSS("a.protocol")))
	b.shot("lifecycle")
	pdf, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`fetch(document.querySelector("a.protocol").href)
		.then(r => r.headers.get("Content-Type") + " " + r.status + " ").then(h => h)`, chromedp.EvalAwaitPromise))
	if err != nil || !strings.HasPrefix(pdf, "application/pdf 200") {
		t.Errorf("protocol download: %q, %v", pdf, err)
	}
	magic, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`fetch(document.querySelector("a.protocol").href)
		.then(r => r.arrayBuffer()).then(b => String.fromCharCode(...new Uint8Array(b.slice(0, 5))))`, chromedp.EvalAwaitPromise))
	if err != nil || magic != "%PDF-" {
		t.Errorf("protocol bytes start %q, %v", magic, err)
	}
	if !strings.Contains(b.text("#commissionings"), "7/2026") {
		t.Error("the lifecycle page lacks the commissioning")
	}

	if !strings.Contains(who, officer.Name) {
		t.Errorf("logged in as %q, want %s", who, officer.Name)
	}
	if !strings.Contains(sites, siteA) || strings.Contains(sites, siteB) {
		t.Errorf("sites table: %q", sites)
	}
	if !strings.Contains(tx, "Дизелово гориво") || !strings.Contains(tx, "30\u00a0000,0 L") || !strings.Contains(tx, "12:40:00 EET") {
		t.Errorf("transaction row: %q", tx)
	}
	if state != "потвърдена" {
		t.Errorf("alarm state after acknowledging: %q", state)
	}
	log, err := x.st.AlarmHistory(context.Background(), x.alarmA)
	must(t, err)
	if last := log[len(log)-1]; last.Comment != "Екипът е на място" || last.Who != officer.Name {
		t.Errorf("history: %+v", last)
	}
}
